"""A sweep tracked by a real `mlflow server` over HTTP, and its champion served by `mlflow models serve`.

Starts the MLflow tracking server on 127.0.0.1 with a SQLite backend, runs a two-variant sweep of
the toy tagger against it, reads the runs back through the REST API, serves the registered champion
with `mlflow models serve --env-manager local`, asks it to tag a sentence, and stops every process
it started.
"""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
import yaml

from tests.e2e.support import TASK, make_workspace, run_cli

pytestmark = pytest.mark.slow

GRID = {"model.cell": ["rnn", "lstm"]}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_up(url: str, process: subprocess.Popen, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args[:4]} exited with {process.returncode}")
        with contextlib.suppress(urllib.error.URLError, ConnectionError):
            with urllib.request.urlopen(url, timeout=2):
                return
        time.sleep(0.5)
    raise TimeoutError(f"{url} did not answer within {seconds} s")


@contextlib.contextmanager
def background(command: list[str], cwd: pathlib.Path, env: dict[str, str], ready_url: str):
    """Runs a server until the block ends, then stops it (and its workers)."""
    log = (cwd / f"{pathlib.Path(command[2]).name}-{time.monotonic_ns()}.log").open("w")
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_until_up(ready_url, process)
        yield process
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, 15)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            process.wait(timeout=20)
        log.close()


def post(url: str, body: dict) -> dict:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=60) as response:
        return json.loads(response.read())


@pytest.fixture(scope="module")
def tracking_server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mlflow-server")
    port = free_port()
    command = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", f"sqlite:///{folder / 'mlflow.db'}"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    with background(command, folder, dict(os.environ), f"http://127.0.0.1:{port}/health"):
        yield f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def swept(tmp_path_factory, tracking_server):
    ws = make_workspace(tmp_path_factory.mktemp("sweep"))
    config = yaml.safe_load((ws / "pipeline_config.yaml").read_text())
    config["sweeps"] = [{"task": TASK, "grid": GRID}]
    (ws / "pipeline_config.yaml").write_text(yaml.safe_dump(config))
    result = run_cli(ws, "run", "--tracking-uri", tracking_server)
    return ws, result


def test_each_variant_is_one_run_with_the_same_param_and_metric_names(tracking_server, swept):
    _, result = swept
    assert result.stdout.count("stage(s) ran") == 2
    assert "preprocess cached" in result.stdout, "the second variant reuses the first one's preprocessing"

    api = f"{tracking_server}/api/2.0/mlflow"
    experiment = get(f"{api}/experiments/get-by-name?experiment_name={TASK}")["experiment"]
    runs = post(f"{api}/runs/search", {"experiment_ids": [experiment["experiment_id"]]})["runs"]
    assert len(runs) == 2
    tags = [{t["key"]: t["value"] for t in run["data"]["tags"]} for run in runs]
    assert sorted(t["variant"] for t in tags) == ["model.cell=lstm", "model.cell=rnn"]
    params = [{p["key"]: p["value"] for p in run["data"]["params"]} for run in runs]
    assert params[0].keys() == params[1].keys()
    assert sorted(p["model.cell"] for p in params) == ["lstm", "rnn"]
    metrics = [{m["key"] for m in run["data"]["metrics"]} for run in runs]
    assert metrics[0] == metrics[1] and "test.token_accuracy" in metrics[0]


def test_compare_lists_the_variants_best_first(tracking_server, swept):
    ws, _ = swept
    result = run_cli(ws, "compare", "--task", TASK, "--tracking-uri", tracking_server)
    header, _, *rows = result.stdout.strip().splitlines()
    assert header.split()[:4] == ["run", "status", "variant", "model.cell"]
    assert len(rows) == 2
    accuracy = header.split().index("test.token_accuracy")
    values = [float(row.split()[accuracy + 1]) for row in rows]  # the run name has a space in it
    assert values == sorted(values, reverse=True)


def test_the_champion_is_served_by_mlflow_models_serve(tracking_server, swept, tmp_path):
    alias = get(f"{tracking_server}/api/2.0/mlflow/registered-models/alias?name={TASK}&alias=champion")
    assert alias["model_version"]["name"] == TASK

    port = free_port()
    command = [sys.executable, "-m", "mlflow", "models", "serve", "-m", f"models:/{TASK}@champion"]
    command += ["--env-manager", "local", "--host", "127.0.0.1", "--port", str(port)]
    env = {**os.environ, "MLFLOW_TRACKING_URI": tracking_server, "TF_CPP_MIN_LOG_LEVEL": "3"}
    # The scoring server starts `uvicorn` by name: the virtual environment's bin folder must be on PATH.
    env["PATH"] = os.pathsep.join([str(pathlib.Path(sys.executable).parent), env.get("PATH", "")])
    with background(command, tmp_path, env, f"http://127.0.0.1:{port}/ping"):
        answer = post(f"http://127.0.0.1:{port}/invocations", {"inputs": ["we run the run .", "the fish sleeps ."]})
    assert answer["predictions"] == [
        {"tokens": ["we", "run", "the", "run", "."], "tags": ["PRON", "VERB", "DET", "NOUN", "."], "input_tokens": 5},
        {"tokens": ["the", "fish", "sleeps", "."], "tags": ["DET", "NOUN", "VERB", "."], "input_tokens": 4},
    ]
