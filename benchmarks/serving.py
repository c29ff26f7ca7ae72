"""Serving latency and throughput of the exported SavedModels, each measured in a fresh client process.

For every task of the config (or of `--tasks`) with an exported model, this script starts a new Python
process (`sys.executable -I benchmarks/serving.py --child`) that imports only TensorFlow and
tensorflow-text, as a client does, loads the newest SavedModel of `runs/<task>/serving/` with
`tf.saved_model.load`, and measures the calls its kind's client names (`benchmark_calls` in
`kinds/<kind>/client.py`, which imports nothing else): a tagger's, a classifier's and a translator's
`serving_default`; a language model's `score`, and its greedy `generate` of 100 units after each text.
For each call, on raw texts:

* latency: one text a call, `--repeats` calls (cycling through the texts), p50, p99 and mean;
* throughput: batches of 64 texts, called back to back for `--seconds`, in texts per second and in the
  call's own units per second (a tagger's tokens, a classifier's input tokens, a translator's output
  tokens, a language model's units).

Both come after `--warmup` untimed calls (the first calls of a loaded function set up its graph). Each
timed call includes reading its outputs back as NumPy arrays, as a client would. The unit counts come
from an untimed first pass over the batches (the outputs are deterministic, greedy generation included).
The child checks, before reporting, that no module of the project (`pipeline`, `components`, `models`,
`kinds`) was loaded, so the numbers are those of the SavedModel alone.

    .venv/bin/python benchmarks/serving.py                          # every task of pipeline_config.yaml
    .venv/bin/python benchmarks/serving.py --tasks brown-pos --seconds 5 --threads 1

One JSON line per model on stdout:
{"task": .., "kind": .., "saved_model": .., "batch": 64, "threads": ..,
 "calls": {"serving_default": {"latency_ms": {"p50": .., "p99": .., "mean": ..},
                               "throughput": {"texts_per_second": .., "tokens_per_second": ..}}}}
where `threads` is the child's intra-op thread count: `--threads`, or by default the number of CPUs the
process may run on (what TensorFlow sizes its intra-op pool to).

Texts come from `--sentences FILE` (one raw text a line, for every model) or, by default, the task's own
test split (the first 512 examples the ingest stage kept): the kind's first sequence field, its tokens
joined by spaces when the corpus comes tokenized.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # only for annotations: nothing is imported at run time until the child needs it
    import tensorflow as tf

ROOT = pathlib.Path(__file__).resolve().parent.parent
DEFAULT_LINES = 512
BATCH = 64
PROJECT_PACKAGES = ("pipeline", "components", "models", "kinds")


# --- parent: arguments, models, texts, one child per model -------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", default=str(ROOT / "pipeline_config.yaml"), help="the pipeline config")
    p.add_argument("--tasks", metavar="NAME[,NAME]", help="only these tasks (default: every task with a model)")
    p.add_argument(
        "--sentences",
        type=pathlib.Path,
        metavar="FILE",
        help=f"one raw text a line, for every model; default: {DEFAULT_LINES} of each task's test examples",
    )
    p.add_argument("--warmup", type=int, default=20, help="untimed calls before each measurement (default 20)")
    p.add_argument("--repeats", type=int, default=200, help="latency samples, one text each (default 200)")
    p.add_argument("--seconds", type=float, default=10.0, help="duration of each throughput loop (default 10)")
    p.add_argument("--threads", type=int, default=0, help="intra-op threads in the child; 0: TensorFlow's default")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)  # internal: the measuring process
    args = p.parse_args(argv)
    if args.warmup < 0 or args.threads < 0:
        p.error("--warmup and --threads must be >= 0")
    if args.repeats < 2:
        p.error("--repeats must be >= 2 (percentiles need two samples)")
    if args.seconds <= 0:
        p.error("--seconds must be > 0")
    return args


def newest_version(serving: pathlib.Path) -> pathlib.Path | None:
    """The newest version (highest number) under a task's `serving/`, as the export stage pushes them."""
    if not serving.is_dir():
        return None
    versions = [d for d in serving.iterdir() if d.name.isdigit() and (d / "saved_model.pb").is_file()]
    return max(versions, key=lambda d: int(d.name)) if versions else None


def test_texts(config, task) -> list[str]:
    """Up to `DEFAULT_LINES` raw texts of the task's test split (eval when it has none), by its kind's fields."""
    import dag
    import kinds
    from pipeline import runner

    components = dag.build(task, config)[:1]  # ingest
    found = runner.cached_outputs(
        components, task=task.name, task_dir=config.resolve(config.output_dir) / task.name, seed=config.seed
    )
    examples = found[(None, "ingest", "examples")]
    _, field, pretokenized = kinds.get(task.kind).statistics.sequences[0]
    texts = []
    for split in ("test", "eval"):
        for record in examples.read(split):
            texts.append(" ".join(record[field]) if pretokenized else record[field])
            if len(texts) == DEFAULT_LINES:
                return texts
        if texts:
            break
    return texts


def read_sentences(path: pathlib.Path) -> list[str]:
    """One raw text a line (split on newlines only); blank lines are skipped."""
    text = path.read_text(encoding="utf-8")
    return [line.strip() for line in text.split("\n") if line.strip()]


def measure_in_child(job: dict[str, Any]) -> dict[str, Any]:
    """Runs the measurement in a fresh, isolated interpreter and returns its report.

    `-I` keeps PYTHONPATH, the user site and the script's folder off `sys.path`, so the child could not
    import the project even by accident; the job travels as JSON on stdin, the report comes back as the
    last line of stdout.
    """
    result = subprocess.run(
        [sys.executable, "-I", str(pathlib.Path(__file__).resolve()), "--child"],
        input=json.dumps(job),
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode:
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        sys.exit(f"error: measuring {job['saved_model']} failed: {last}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    if args.child:
        print(json.dumps(child(json.load(sys.stdin))))
        return
    sys.path.insert(0, str(ROOT))  # the parent reads the config and the test texts; the child imports none of it
    import kinds
    from pipeline.commands import selected_tasks

    config = kinds.load_config(args.config)
    given = None
    if args.sentences:
        try:
            given = read_sentences(args.sentences)
        except (OSError, UnicodeDecodeError) as err:
            sys.exit(f"error: cannot read sentences: {err}")
        if not given:
            sys.exit(f"error: no sentences in {args.sentences}")
    measured = 0
    for task in selected_tasks(config, args.tasks):
        saved_model = newest_version(config.resolve(config.output_dir) / task.name / "serving")
        if saved_model is None:
            print(f"{task.name}: no exported model; skipped", file=sys.stderr, flush=True)
            continue
        texts = given or test_texts(config, task)
        print(f"measuring {saved_model} on {len(texts)} texts ...", file=sys.stderr, flush=True)
        job = {
            "saved_model": str(saved_model.resolve()),
            "client": str(kinds.get(task.kind).client),
            "sentences": texts,
            "warmup": args.warmup,
            "repeats": args.repeats,
            "seconds": args.seconds,
            "threads": args.threads,
        }
        report = measure_in_child(job)
        print(json.dumps({"task": task.name, "kind": task.kind, "saved_model": str(saved_model), **report}), flush=True)
        measured += 1
    if not measured:
        sys.exit("error: no task has an exported model; run `make run` first")


# --- child: imports only tensorflow, tensorflow_text and the kind's client ---------------------------


def child(job: dict[str, Any]) -> dict[str, Any]:
    """Loads the SavedModel and measures the calls of its kind's client; refuses to report if a project
    module got loaded."""
    import importlib.util

    import tensorflow as tf
    import tensorflow_text  # noqa: F401  (registers the tokenizer ops the graph uses)

    if job["threads"]:
        tf.config.threading.set_intra_op_parallelism_threads(job["threads"])
    spec = importlib.util.spec_from_file_location("seqpipe_benchmark_client", job["client"])
    client = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(client)
    model = tf.saved_model.load(job["saved_model"])
    sentences = job["sentences"]
    calls = {}
    for name, (function, text_input, settings, count, units) in client.benchmark_calls(model).items():
        requests = [{**r, **settings} for r in text_requests(text_input, sentences, job["repeats"])]
        latencies = latency_ms(function, requests, job["warmup"], job["repeats"])
        batches = [{**b, **settings} for b in text_batches(text_input, sentences)]
        per_second, units_per_second = throughput(function, batches, count, job["warmup"], job["seconds"])
        calls[name] = {
            "latency_ms": summary(latencies),
            "throughput": {"texts_per_second": round(per_second, 1), f"{units}_per_second": round(units_per_second, 1)},
        }

    loaded = sorted(name for name in sys.modules if name.partition(".")[0] in PROJECT_PACKAGES)
    if loaded:
        raise SystemExit(f"the client process loaded project modules: {', '.join(loaded)}")
    return {"batch": BATCH, "threads": job["threads"] or available_cpus(), "calls": calls}


def text_requests(name: str, sentences: list[str], repeats: int) -> list[dict[str, tf.Tensor]]:
    """One-sentence requests (input `name`), as many distinct ones as the latency loop cycles through."""
    import tensorflow as tf

    return [{name: tf.constant([sentences[i % len(sentences)]])} for i in range(min(repeats, len(sentences)))]


def text_batches(name: str, sentences: list[str]) -> list[dict[str, tf.Tensor]]:
    """Requests of `BATCH` sentences (input `name`) covering the sentences in order, the last one wrapping
    around to the first sentences."""
    import tensorflow as tf

    return [
        {name: tf.constant([sentences[(start + j) % len(sentences)] for j in range(BATCH)])}
        for start in range(0, len(sentences), BATCH)
    ]


def call(function: Any, request: dict[str, tf.Tensor]) -> dict[str, Any]:
    """One request as a client makes it: the signature's outputs, read back as NumPy arrays."""
    return {name: tensor.numpy() for name, tensor in function(**request).items()}


def latency_ms(function: Any, requests: list[dict[str, tf.Tensor]], warmup: int, repeats: int) -> list[float]:
    """Milliseconds of `repeats` calls, cycling through the requests, after `warmup` calls."""
    for i in range(max(warmup, 1)):
        call(function, requests[i % len(requests)])
    samples = []
    for i in range(repeats):
        request = requests[i % len(requests)]
        start = time.perf_counter()
        call(function, request)
        samples.append((time.perf_counter() - start) * 1000.0)
    return samples


def summary(latencies: list[float]) -> dict[str, float]:
    """p50, p99 and mean of latency samples, in milliseconds."""
    cut = statistics.quantiles(latencies, n=100, method="inclusive")  # cut[k - 1] is the k-th percentile
    return {"p50": round(cut[49], 3), "p99": round(cut[98], 3), "mean": round(statistics.fmean(latencies), 3)}


def throughput(
    function: Any,
    batches: list[dict[str, tf.Tensor]],
    units: Callable[[dict[str, tf.Tensor], dict[str, Any]], int],
    warmup: int,
    seconds: float,
) -> tuple[float, float]:
    """Rows and units per second of back-to-back batches of `BATCH` rows for about `seconds`.

    An untimed first pass over the batches counts each one's units, `units(batch, outputs)`, and warms
    the function up (the outputs being deterministic, the counts hold for every later call).
    """
    counts = [units(batch, call(function, batch)) for batch in batches]
    for i in range(warmup):
        call(function, batches[i % len(batches)])
    done_batches = done_units = 0
    start = time.perf_counter()
    elapsed = 0.0
    while elapsed < seconds:
        call(function, batches[done_batches % len(batches)])
        done_units += counts[done_batches % len(batches)]
        done_batches += 1
        elapsed = time.perf_counter() - start
    return done_batches * BATCH / elapsed, done_units / elapsed


def available_cpus() -> int:
    """CPUs this process may run on: TensorFlow's default intra-op thread count."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


if __name__ == "__main__":
    main()
