"""Training survives SIGKILL: a rerun resumes from the last checkpoint and continues the MLflow run.

The pipeline is killed three times during training, at different points; each rerun must say it
resumes from a checkpoint (not from scratch), and the final model must score like one trained
without interruption. The killed executions' MLflow run is continued, not left as an orphan.
"""

from __future__ import annotations

import json
import pathlib
import re
import signal
import subprocess
import time

import pytest

from tests.e2e.support import TASK, cli_command, cli_env, make_corpus, make_workspace, run_cli

pytestmark = pytest.mark.slow

EPOCHS = 4
TRAIN = {"epochs": EPOCHS, "batch_size": 4, "checkpoint_every": 10, "learning_rate": 0.01}


def workspace(folder: pathlib.Path) -> pathlib.Path:
    make_workspace(folder, **TRAIN)
    make_corpus(folder / "corpus.txt", sentences=1200)  # long enough epochs to kill inside one
    return folder


def run_until(ws: pathlib.Path, trigger: re.Pattern, delay: float) -> list[str]:
    """Runs the pipeline and SIGKILLs it `delay` seconds after a stdout line matches `trigger`."""
    process = subprocess.Popen(
        cli_command(ws, "run"), cwd=ws, env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    lines = []
    for line in process.stdout:
        lines.append(line)
        if trigger.search(line):
            time.sleep(delay)
            break
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL, "".join(lines[-20:])
    return lines


def resumed_at(lines: list[str]) -> tuple[int, int] | None:
    for line in lines:
        match = re.search(r"resuming from the checkpoint at epoch (\d+), step (\d+)", line)
        if match:
            return int(match[1]), int(match[2])
    return None


def test_training_resumes_after_sigkill_at_three_points(tmp_path):
    ws = workspace(tmp_path / "killed")
    first = run_until(ws, re.compile(r"epoch 1/\d+ in"), delay=1.0)  # inside epoch 2
    assert resumed_at(first) is None
    second = run_until(ws, re.compile(r"resuming from the checkpoint"), delay=1.5)  # right after resuming
    third = run_until(ws, re.compile(r"resuming from the checkpoint"), delay=0.0)  # before any new step
    final = run_cli(ws, "run")

    positions = [resumed_at(lines) for lines in (second, third, final.stdout.splitlines())]
    assert all(positions), positions
    assert positions[0] >= (2, 0), "the first rerun must start past epoch 1, not from scratch"
    assert positions == sorted(positions), "a later rerun never resumes from an earlier point"
    assert not list((ws / "runs" / TASK / "train").glob(".work-*")), "the checkpoints go once training completes"

    reference = workspace(tmp_path / "uninterrupted")
    run_cli(reference, "run")
    killed, clean = (final_metrics(w) for w in (ws, reference))
    # Tolerance: batches and their order are the same after a resume; dropout masks are not, and
    # a resumed epoch's Adam steps run on different random draws. On this toy task both reach ~100%.
    assert killed["test.token_accuracy"] == pytest.approx(clean["test.token_accuracy"], abs=0.02)

    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{ws / 'mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name(TASK).experiment_id])
    assert len(runs) == 1, "the killed executions continue one run, no orphans"
    (run,) = runs
    assert run.info.status == "FINISHED"
    assert run.data.tags["continued_after_crash"] == "true"
    steps = {m.step for m in client.get_metric_history(run.info.run_id, "val_accuracy")}
    assert steps == set(range(1, EPOCHS + 1))
    history = json.loads(next((ws / "runs" / TASK / "train").glob("*/model/history.json")).read_text())
    assert len(history["loss"]) == EPOCHS


def test_nan_loss_stops_training_with_a_clear_message(tmp_path):
    # 1e38 overflows float32 weights on the first update (1e30 only saturates the LSTM gates).
    ws = make_workspace(tmp_path, epochs=2, learning_rate=1e38, clip_norm=None)
    result = run_cli(ws, "run", check=False)
    assert result.returncode == 1
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert re.search(r"the loss became (nan|inf) at epoch \d+, step \d+; no checkpoint was saved", line), line
    assert "Traceback" not in result.stderr
    assert not list((ws / "runs" / TASK / "train").glob("[0-9a-f]*/model")), "no model artifact from a NaN run"


def final_metrics(ws: pathlib.Path) -> dict[str, float]:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{ws / 'mlflow.db'}")
    (run,) = client.search_runs([client.get_experiment_by_name(TASK).experiment_id], max_results=1)
    return run.data.metrics
