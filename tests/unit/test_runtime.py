"""Process-wide settings: thread pools, the cluster in TF_CONFIG, and the config keys behind them."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys
import textwrap

import pytest

import kinds
from pipeline import config, runtime
from pipeline.config import ThreadsConfig
from pipeline.errors import ConfigError

ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("threads", "cores", "expected"),
    [
        (ThreadsConfig(), 2, (1, 2)),  # two ops at once, half of the cores each
        (ThreadsConfig(), 16, (8, 2)),
        (ThreadsConfig(), 1, (1, 2)),
        (ThreadsConfig(intra_op=0, inter_op=0), 16, (0, 0)),  # TensorFlow's defaults
        (ThreadsConfig(intra_op=4), 16, (4, 2)),
        (ThreadsConfig(inter_op=1), 2, (1, 1)),
    ],
)
def test_thread_counts(threads, cores, expected):
    assert runtime.thread_counts(threads, cores) == expected


def set_tf_config(monkeypatch, workers: int, task_type: str, index: int, chief: bool = False) -> None:
    cluster = {"worker": [f"127.0.0.1:{2000 + i}" for i in range(workers)]}
    if chief:
        cluster["chief"] = ["127.0.0.1:1999"]
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster, "task": {"type": task_type, "index": index}}))


def test_without_tf_config_this_process_is_alone_and_the_chief(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    assert runtime.cluster() is None
    assert runtime.is_chief()


@pytest.mark.parametrize(
    ("task_type", "index", "chief", "expected"),
    [("worker", 0, False, True), ("worker", 1, False, False), ("chief", 0, True, True), ("worker", 0, True, False)],
)
def test_the_chief_is_worker_0_unless_the_cluster_names_one(monkeypatch, task_type, index, chief, expected):
    set_tf_config(monkeypatch, 2, task_type, index, chief)
    assert runtime.is_chief() is expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("{not json", "TF_CONFIG: expected a cluster with workers and this task"),
        ('{"cluster": {}}', "TF_CONFIG: expected a cluster with workers and this task"),
        ('{"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": 3}}', "TF_CONFIG: task worker 3 is not"),
        ('{"cluster": {"worker": ["a:1"]}, "task": {"type": "ps", "index": 0}}', "TF_CONFIG: task ps 0 is not"),
    ],
)
def test_a_malformed_tf_config_is_a_one_line_error(monkeypatch, raw, message):
    monkeypatch.setenv("TF_CONFIG", raw)
    with pytest.raises(ConfigError) as error:
        runtime.cluster()
    assert str(error.value).startswith(message)
    assert "\n" not in str(error.value)


def test_multi_worker_without_tf_config_is_an_error(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ConfigError, match="set TF_CONFIG"):
        runtime.start_strategy("multi_worker_mirrored")


def test_the_default_strategy_is_created_once():
    assert runtime.start_strategy("default") is runtime.start_strategy("default")
    assert runtime.start_strategy("default").num_replicas_in_sync == 1


def write_config(folder, task_keys: str, top: str = "") -> config.PipelineConfig:
    path = folder / "pipeline.yaml"
    text = textwrap.dedent(top) + "tasks:\n  - name: t1\n" + textwrap.indent(textwrap.dedent(task_keys), "    ")
    path.write_text(text, encoding="utf-8")
    return kinds.load_config(path)


def test_threads_and_strategy_are_config_keys(tmp_path):
    loaded = write_config(
        tmp_path,
        "kind: tagger\ndata: {format: brown, train: t.txt}\ntrain: {strategy: multi_worker_mirrored}\n",
        top="threads: {intra_op: 3, inter_op: 1}\n",
    )
    assert loaded.threads == ThreadsConfig(intra_op=3, inter_op=1)
    assert loaded.tasks[0].train.strategy == "multi_worker_mirrored"


def test_strategy_outside_its_choices_is_an_error(tmp_path):
    with pytest.raises(ConfigError) as error:
        write_config(
            tmp_path, "kind: tagger\ndata: {format: brown, train: t.txt}\ntrain: {strategy: parameter_server}\n"
        )
    assert str(error.value).startswith("tasks.t1.train.strategy: 'parameter_server' is not one of")


def test_a_stateful_language_model_trains_on_one_replica_only(tmp_path):
    with pytest.raises(ConfigError) as error:
        write_config(
            tmp_path, "kind: language_model\ndata: {format: text, train: t.txt}\ntrain: {strategy: mirrored}\n"
        )
    assert "a language_model trains on one replica; use default" in str(error.value)


def test_before_tensorflow_starts_the_pools_go_into_its_environment_variables():
    """A fresh process, so that TensorFlow is not imported yet; the settings must not import it either."""
    script = (
        "import os, sys\n"
        "from pipeline import runtime\n"
        "from pipeline.config import ThreadsConfig\n"
        "print(runtime.configure_threads(ThreadsConfig(intra_op=3, inter_op=5)))\n"
        "env = os.environ\n"
        "print(env['TF_NUM_INTRAOP_THREADS'], env['TF_NUM_INTEROP_THREADS'], 'tensorflow' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120, check=True
    )
    assert result.stdout.splitlines() == ["(3, 5)", "3 5 False"]
