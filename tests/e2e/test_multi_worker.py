"""Multi-worker training: a chief (`pipeline run`) and a worker (`pipeline worker`) on 127.0.0.1.

The two train one model together with `train.strategy: multi_worker_mirrored`, each taking half of
every batch; the result must match a single process training the same model on the same batches.
"""

from __future__ import annotations

import json
import pathlib
import re
import socket
import subprocess

import pytest

from tests.e2e.support import TASK, cli_command, cli_env, make_workspace, run_cli, stage_status

EPOCHS = 3


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def tf_config(workers: list[str], index: int) -> str:
    return json.dumps({"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}})


def train_history(workspace: pathlib.Path) -> dict[str, list[float]]:
    (path,) = (workspace / "runs" / TASK / "train").glob("*/model/history.json")
    return json.loads(path.read_text())


def test_accuracy(stdout: str) -> float:
    return float(re.search(r"test token accuracy: model ([\d.]+)", stdout).group(1))


test_accuracy.__test__ = False  # a helper, not a test


@pytest.fixture(scope="module")
def single(tmp_path_factory) -> tuple[pathlib.Path, str]:
    workspace = make_workspace(tmp_path_factory.mktemp("single"), epochs=EPOCHS)
    return workspace, run_cli(workspace, "run").stdout


@pytest.fixture(scope="module")
def cluster(tmp_path_factory) -> tuple[pathlib.Path, list[subprocess.CompletedProcess]]:
    workspace = make_workspace(tmp_path_factory.mktemp("cluster"), epochs=EPOCHS, strategy="multi_worker_mirrored")
    workers = [f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"]
    commands = [cli_command(workspace, "run"), cli_command(workspace, "worker", "--wait", "300")]
    processes = [
        subprocess.Popen(
            command,
            cwd=workspace,
            env={**cli_env(), "TF_CONFIG": tf_config(workers, index)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for index, command in enumerate(commands)
    ]
    results = []
    try:
        for process in processes:
            stdout, stderr = process.communicate(timeout=600)
            results.append(subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr))
    finally:
        for process in processes:
            process.kill()
    return workspace, results


def test_chief_and_worker_both_finish(cluster):
    _, (chief, worker) = cluster
    assert chief.returncode == 0, chief.stdout[-3000:] + chief.stderr[-3000:]
    assert worker.returncode == 0, worker.stdout[-3000:] + worker.stderr[-3000:]
    assert "training on 2 replicas (multi_worker_mirrored)" in chief.stdout
    assert set(stage_status(chief.stdout).values()) == {"ran"}
    assert f"[{TASK}] train" in worker.stdout and "ran in" in worker.stdout


def test_only_the_chief_writes_artifacts(cluster):
    workspace, _ = cluster
    assert len(list((workspace / "runs" / TASK / "train").glob("*/model/model.keras"))) == 1
    assert (workspace / "runs" / TASK / "serving" / "1").is_dir()


def test_two_workers_learn_what_one_process_learns(single, cluster):
    single_workspace, single_stdout = single
    cluster_workspace, (chief, _) = cluster
    alone, together = train_history(single_workspace), train_history(cluster_workspace)
    assert len(alone["loss"]) == len(together["loss"]) == EPOCHS
    # The same global batches and initial weights; only dropout's random draws and the order of
    # floating-point sums differ between one replica and two.
    for one, two in zip(alone["loss"], together["loss"], strict=True):
        assert two == pytest.approx(one, rel=0.15)
    assert together["loss"][-1] < together["loss"][0] / 3
    assert test_accuracy(chief.stdout) == pytest.approx(test_accuracy(single_stdout), abs=0.05)


def test_the_worker_skips_a_task_the_chief_has_trained(cluster):
    workspace, _ = cluster
    workers = [f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"]
    result = subprocess.run(
        cli_command(workspace, "worker", "--wait", "5"),
        cwd=workspace,
        env={**cli_env(), "TF_CONFIG": tf_config(workers, 1)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "train is cached; nothing to do" in result.stdout


def test_a_worker_started_with_run_is_told_to_use_worker(tmp_path):
    workspace = make_workspace(tmp_path, strategy="multi_worker_mirrored")
    workers = [f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"]
    result = subprocess.run(
        cli_command(workspace, "run"),
        cwd=workspace,
        env={**cli_env(), "TF_CONFIG": tf_config(workers, 1)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "error: TF_CONFIG makes this process worker 1: start it with `python -m pipeline worker`"
    )


def test_multi_worker_without_tf_config_is_a_one_line_error(tmp_path):
    workspace = make_workspace(tmp_path, strategy="multi_worker_mirrored")
    result = run_cli(workspace, "run", check=False)
    assert result.returncode == 1
    assert (
        result.stderr.strip().splitlines()[-1].startswith("error: train.strategy multi_worker_mirrored: set TF_CONFIG")
    )
