"""`pipeline run --jobs 2`: two tasks at once, each in its own process, tracked as if run one after another."""

from __future__ import annotations

import pytest

from tests.e2e.support import make_corpus, run_cli, write_config

pytestmark = pytest.mark.slow

TASKS = ("pos-a", "pos-b")


def tiny_tagger(name: str, epochs: int) -> dict:
    return {
        "name": name,
        "kind": "tagger",
        "data": {"format": "brown", "train": "corpus.txt", "split": {"eval": 0.15, "test": 0.15}},
        "model": {"embedding_dim": 8, "hidden_dim": 8, "char_embedding_dim": 4, "char_filters": 4},
        "train": {"epochs": epochs, "batch_size": 16, "learning_rate": 0.02},
        "evaluate": {"bless_margin": 0.0},
    }


def test_two_tasks_run_at_once_and_each_is_a_finished_mlflow_run(tmp_path):
    from mlflow.tracking import MlflowClient

    make_corpus(tmp_path / "corpus.txt", sentences=200)
    workspace = write_config(tmp_path, tiny_tagger(TASKS[0], 2), tiny_tagger(TASKS[1], 3))

    result = run_cli(workspace, "run", "--jobs", "2")

    assert "[pipeline] 2 tasks, up to 2 at once: pos-a, pos-b" in result.stdout
    for name in TASKS:
        assert f"[{name}] done: 6 stage(s) ran" in result.stdout
    client = MlflowClient(tracking_uri=f"sqlite:///{workspace / 'mlflow.db'}")
    for name, epochs in zip(TASKS, (2, 3), strict=True):
        (run,) = client.search_runs([client.get_experiment_by_name(name).experiment_id])
        assert run.info.status == "FINISHED"
        assert run.data.params["train.epochs"] == str(epochs)
        assert "test.token_accuracy" in run.data.metrics


def test_a_config_error_in_any_task_stops_the_run_before_any_process_starts(tmp_path):
    make_corpus(tmp_path / "corpus.txt", sentences=200)
    broken = {**tiny_tagger("broken", 1), "data": {"format": "brown", "train": "missing-*.txt"}}
    workspace = write_config(tmp_path, tiny_tagger(TASKS[0], 1), broken)

    result = run_cli(workspace, "run", "--jobs", "2", check=False)

    # A config error (a glob that matches nothing) is found before any process starts.
    assert result.returncode == 1
    assert "no file matches 'missing-*.txt'" in result.stderr
    assert "[pipeline]" not in result.stdout
