"""The whole DAG through the CLI, on a tiny corpus in a temp folder, with a real MLflow store.

The corpus is made so that context matters: "run", "fish" and "watch" are nouns after a determiner
and verbs after a pronoun, so the most-frequent-tag baseline cannot tag them all right but a
bidirectional tagger can, and the model gets blessed and exported.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import textwrap

import pytest

from tests.e2e.support import STAGES, TASK, cli_command, cli_env, make_workspace, run_cli, stage_status

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> pathlib.Path:
    return make_workspace(tmp_path_factory.mktemp("e2e"), batch_size=None)  # the tagger fits it: 8


@pytest.fixture(scope="module")
def first_run(workspace):
    return run_cli(workspace, "run")


@pytest.fixture(scope="module")
def second_run(workspace, first_run):
    return run_cli(workspace, "run")


def test_a_run_prints_its_stage_lines_and_nothing_from_the_libraries(first_run):
    assert first_run.stderr == ""
    assert all(line.startswith("[") for line in first_run.stdout.splitlines()), first_run.stdout


def test_first_run_runs_every_stage_once(first_run):
    assert stage_status(first_run.stdout) == dict.fromkeys(STAGES, "ran")
    assert "serving: " in first_run.stdout


def test_second_run_reuses_every_stage(second_run):
    assert stage_status(second_run.stdout) == dict.fromkeys(STAGES, "cached")


def test_changing_epochs_reruns_only_train_evaluate_export(workspace, second_run):
    result = run_cli(workspace, "run", "--set", f"tasks.{TASK}.train.epochs=7")
    expected = {**dict.fromkeys(STAGES[:3], "cached"), **dict.fromkeys(STAGES[3:], "ran")}
    assert stage_status(result.stdout) == expected
    assert (workspace / "runs" / TASK / "serving" / "2").is_dir()


CLIENT = textwrap.dedent(
    """
    import json, sys
    import tensorflow as tf
    import tensorflow_text  # noqa: F401  (registers the tokenizer ops)

    model = tf.saved_model.load(sys.argv[1])
    out = model.signatures["serving_default"](text=tf.constant(["we run the run .", "the fish sleeps ."]))
    project = sorted(m for m in sys.modules if m.split(".")[0] in ("pipeline", "components", "models"))
    print(json.dumps({
        "tokens": [[t.decode() for t in row] for row in out["tokens"].numpy()],
        "tags": [[t.decode() for t in row] for row in out["tags"].numpy()],
        "project_modules": project,
    }))
    """
)


def test_saved_model_tags_in_a_fresh_process(workspace, first_run):
    serving = workspace / "runs" / TASK / "serving" / "1"
    result = subprocess.run(
        [sys.executable, "-c", CLIENT, str(serving)],
        cwd="/",
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": ""},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["project_modules"] == []
    assert out["tokens"] == [["we", "run", "the", "run", "."], ["the", "fish", "sleeps", ".", ""]]
    assert out["tags"] == [["PRON", "VERB", "DET", "NOUN", "."], ["DET", "NOUN", "VERB", ".", ""]]


def test_every_run_is_tracked_in_mlflow(workspace, second_run):
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{workspace / 'mlflow.db'}")
    experiment = client.get_experiment_by_name(TASK)
    runs = client.search_runs([experiment.experiment_id], order_by=["attributes.start_time ASC"])
    assert len(runs) >= 2 and all(r.info.status == "FINISHED" for r in runs)
    for run in runs[:2]:  # the cached run carries the same params and metrics as the one that ran
        assert run.data.params["train.epochs"] == "6"
        assert run.data.params["model.cell"] == "lstm"
        # What the recipe fitted to the corpus, beside the config's own values.
        assert (run.data.params["train.batch_size"], run.data.params["fitted.train.batch_size"]) == ("32", "8")
        assert (run.data.params["model.output"], run.data.params["fitted.model.output"]) == ("auto", "softmax")
        assert run.data.params["train.kept_epoch"] in {str(epoch) for epoch in range(1, 7)}
        assert (
            run.data.metrics["test.token_accuracy"] > run.data.metrics["baseline.most_frequent_tag.test.token_accuracy"]
        )
        assert "stage_seconds.train" in run.data.metrics
        history = client.get_metric_history(run.info.run_id, "val_accuracy")
        assert [m.step for m in history] == list(range(1, 7))
        files = {f.path for f in client.list_artifacts(run.info.run_id, "plots")}
        assert {"plots/confusion_matrix_test.png", "plots/learning_curves.png"} <= files
        assert {f.path for f in client.list_artifacts(run.info.run_id, "config")} == {"config/task.yaml"}


def test_user_errors_are_one_line_without_traceback(workspace):
    result = run_cli(workspace, "run", "--set", "tasks.nope.train.epochs=1", check=False)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == ["error: --set tasks.nope: no task named 'nope' (tasks: toy-pos)"]
    assert "Traceback" not in result.stderr


# ----------------------------------------------------------------------------------------------
# predict, as a user meets it


def test_predict_prints_its_answer_and_nothing_else(workspace, first_run):
    result = run_cli(workspace, "predict", "--task", TASK, "the dog sleeps .")
    assert result.stdout == "the/DET dog/NOUN sleeps/VERB ./.\n"
    assert result.stderr == ""


def test_predict_reads_texts_from_a_file_and_from_standard_input(workspace, first_run):
    (workspace / "texts.txt").write_text("the dog sleeps .\n\nwe run .\n", encoding="utf-8")
    from_file = run_cli(workspace, "predict", "--task", TASK, "--file", "texts.txt")
    from_stdin = run_cli(workspace, "predict", "--task", TASK, "-", stdin="the dog sleeps .\nwe run .\n")
    assert from_file.stdout == from_stdin.stdout and len(from_file.stdout.splitlines()) == 2
    assert from_file.stderr == from_stdin.stderr == ""


def test_predict_names_an_argument_that_is_not_utf8_in_one_line(workspace, first_run):
    command = [*cli_command(workspace, "predict", "--task", TASK), b"the caf\xe9 ."]
    result = subprocess.run(command, cwd=workspace, env=cli_env(), capture_output=True, timeout=300)
    assert result.returncode == 1 and result.stdout == b""
    assert result.stderr.decode() == "error: argument 1 is not UTF-8 text (byte 0xe9 at position 8): the caf\\xe9 .\n"


def test_predict_names_a_line_of_a_file_that_is_not_utf8(workspace, first_run):
    (workspace / "latin1.txt").write_bytes("the dog sleeps .\nthe café .\n".encode("latin-1"))
    result = run_cli(workspace, "predict", "--task", TASK, "--file", "latin1.txt", check=False)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == "error: latin1.txt:2: not UTF-8 text (byte 0xe9 at position 8)\n"


def test_predict_says_when_a_text_is_cut_to_export_max_length(workspace, first_run):
    long = " ".join(["the dog sleeps ."] * 70)  # 280 tokens; the model reads 256
    result = run_cli(workspace, "predict", "--task", TASK, "--json", long)
    assert len(json.loads(result.stdout)["tags"]) == 256
    assert result.stderr == (
        "note: input 1 ('the dog sleeps . the dog sleeps . the d…') has 280 tokens; the model read the first "
        "256 (export.max_length)\n"
    )


def test_predict_with_nothing_to_answer_says_how_to_give_it(workspace, first_run):
    result = run_cli(workspace, "predict", "--task", TASK, check=False)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == "error: nothing to answer: give texts as arguments, in --file, or on standard input (-)\n"
