"""Process-wide TensorFlow settings, made once when a pipeline starts, before TensorFlow runs an op.

Two things can only be set then: the sizes of TensorFlow's thread pools, and a multi-worker
distribution strategy (its collective ops are wired into the runtime when it is created).
"""

from __future__ import annotations

import json
import os
import sys

from pipeline.config import STRATEGIES, ThreadsConfig
from pipeline.errors import ConfigError

_strategies: dict[str, object] = {}


def thread_counts(threads: ThreadsConfig, cores: int | None = None) -> tuple[int, int]:
    """(intra_op, inter_op) for the config; 0 leaves a pool at TensorFlow's default (every core).

    Unset pools get seqpipe's choice: two ops at once, each with half of the cores. A recurrent
    model is a long chain of small matrix products; splitting each one over every core costs more in
    synchronisation than it gains, while the two directions of a bidirectional layer (and the
    forward and backward passes of different layers) are independent and can run side by side.
    """
    cores = cores or os.cpu_count() or 1
    intra = threads.intra_op if threads.intra_op is not None else max(1, cores // 2)
    inter = threads.inter_op if threads.inter_op is not None else 2
    return intra, inter


def configure_threads(threads: ThreadsConfig) -> tuple[int, int]:
    """Sizes TensorFlow's thread pools; returns the (intra_op, inter_op) counts in effect.

    Before TensorFlow is imported, the sizes go into the environment variables it reads when it
    starts (so a run whose stages are all cached never imports it, and Beam's worker processes get
    them too). When TensorFlow has already started in this process (a caller ran ops before the
    pipeline), its pools can no longer change: they are kept, with a warning.
    """
    intra, inter = thread_counts(threads)
    if "tensorflow" not in sys.modules:
        os.environ["TF_NUM_INTRAOP_THREADS"] = str(intra)
        os.environ["TF_NUM_INTEROP_THREADS"] = str(inter)
        return intra, inter
    import tensorflow as tf

    current = (
        tf.config.threading.get_intra_op_parallelism_threads(),
        tf.config.threading.get_inter_op_parallelism_threads(),
    )
    if current == (intra, inter):
        return intra, inter
    try:
        tf.config.threading.set_intra_op_parallelism_threads(intra)
        tf.config.threading.set_inter_op_parallelism_threads(inter)
    except RuntimeError:
        print(
            f"warning: threads: TensorFlow already started in this process; keeping its pools "
            f"(intra_op {current[0]}, inter_op {current[1]}) instead of ({intra}, {inter})",
            file=sys.stderr,
        )
        return current
    return intra, inter


def cluster() -> dict | None:
    """The cluster TF_CONFIG describes ({"cluster": ..., "task": {"type", "index"}}), or None when unset.

    Raises:
        ConfigError: TF_CONFIG is not JSON or lacks the cluster or this process's task.
    """
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        return None
    try:
        spec = json.loads(raw)
        workers = spec["cluster"]["worker"]
        task = spec["task"]
        task_type, index = task["type"], int(task["index"])
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as error:
        raise ConfigError(f"TF_CONFIG: expected a cluster with workers and this task ({error!r})") from None
    if task_type not in ("worker", "chief") or (task_type == "worker" and not 0 <= index < len(workers)):
        raise ConfigError(f"TF_CONFIG: task {task_type} {index} is not in the cluster's {len(workers)} workers")
    return spec


def is_chief() -> bool:
    """True for the process that writes artifacts: the only one, or the cluster's chief (worker 0)."""
    spec = cluster()
    if spec is None:
        return True
    task = spec["task"]
    has_chief = "chief" in spec["cluster"]
    return task["type"] == "chief" or (not has_chief and int(task["index"]) == 0)


def start_strategy(name: str):
    """Creates the strategy `name` once for this process and returns it (later calls return the same one).

    `multi_worker_mirrored` reads its cluster from TF_CONFIG and must be created before TensorFlow
    runs any op, so `pipeline run` starts it first when any task asks for it.
    """
    import tensorflow as tf

    if name not in STRATEGIES:
        raise ConfigError(f"train.strategy: unknown strategy {name!r} (choices: {', '.join(STRATEGIES)})")
    if name not in _strategies:
        if name == "multi_worker_mirrored":
            if cluster() is None:
                raise ConfigError(
                    "train.strategy multi_worker_mirrored: set TF_CONFIG to the cluster and this worker's task"
                )
            _strategies[name] = tf.distribute.MultiWorkerMirroredStrategy()
        elif name == "mirrored":
            _strategies[name] = tf.distribute.MirroredStrategy()
        else:
            _strategies[name] = tf.distribute.get_strategy()
    return _strategies[name]
