"""A shared tracking server: an `mlflow server` with a PostgreSQL backend store that serves artifacts itself.

Starts PostgreSQL 15 in a temporary folder (as the unprivileged user `nobody` when the suite runs as root:
postgres refuses to run as root), an `mlflow server --serve-artifacts` on it, and `pipeline run --jobs 2`
with two tasks, so that two processes track to the server at once with no shared artifact path. Reads the
runs back through the REST API and straight from PostgreSQL, and the files through the server, then stops
every process it started.
"""

from __future__ import annotations

import os
import pathlib
import pwd
import shutil
import subprocess
import sys
import tempfile
import urllib.request

import pytest
import yaml

from tests.e2e.support import TASK, make_workspace, run_cli
from tests.e2e.test_serving import background, free_port, get, post

pytestmark = pytest.mark.slow

TASKS = (TASK, f"{TASK}-rnn")  # the second with a plain RNN cell (the first: the default LSTM)
POSTGRES_USER = "nobody"  # the account postgres runs as when the tests run as root
ROLE, DATABASE = "seqpipe", "mlflow"


def postgres_tool(name: str) -> str:
    """A PostgreSQL program on PATH; skips only where it may be missing (not root: a developer's machine)."""
    found = shutil.which(name)
    if found is None:
        if os.geteuid() != 0:
            pytest.skip(f"PostgreSQL's {name} is not on PATH")
        pytest.fail(f"PostgreSQL's {name} is not on PATH: this test needs PostgreSQL 15 installed", pytrace=False)
    return found


def as_postgres(command: list[str], folder: pathlib.Path) -> None:
    """Runs a PostgreSQL program, as POSTGRES_USER when this process is root; fails with its output."""
    prefix = ["runuser", "-u", POSTGRES_USER, "--"] if os.geteuid() == 0 else []
    result = subprocess.run([*prefix, *command], cwd=folder, capture_output=True, text=True, timeout=120)
    if result.returncode:
        log = folder / "postgres.log"
        detail = log.read_text() if log.exists() else ""
        pytest.fail(f"{' '.join(command[:2])} failed:\n{result.stdout}{result.stderr}{detail}", pytrace=False)


@pytest.fixture(scope="module")
def postgres():
    """A PostgreSQL server on 127.0.0.1 with trust authentication and an empty database; yields its URI."""
    initdb, pg_ctl = postgres_tool("initdb"), postgres_tool("pg_ctl")
    # Not under pytest's temporary folders: as root they are readable by root only.
    folder = pathlib.Path(tempfile.mkdtemp(prefix="seqpipe-postgres-"))
    if os.geteuid() == 0:
        account = pwd.getpwnam(POSTGRES_USER)
        os.chown(folder, account.pw_uid, account.pw_gid)
    data, port = folder / "data", free_port()
    try:
        as_postgres([initdb, "-D", str(data), "-U", ROLE, "--auth=trust", "-E", "UTF8", "--no-locale"], folder)
        options = f"-c listen_addresses=127.0.0.1 -p {port} -k {folder}"  # its socket in the folder, too
        log = folder / "postgres.log"
        as_postgres([pg_ctl, "start", "-w", "-t", "60", "-D", str(data), "-l", str(log), "-o", options], folder)
        import psycopg

        # CREATE DATABASE cannot run in a transaction.
        with psycopg.connect(host="127.0.0.1", port=port, user=ROLE, dbname="postgres", autocommit=True) as connection:
            connection.execute(f"CREATE DATABASE {DATABASE}")
        yield f"postgresql://{ROLE}@127.0.0.1:{port}/{DATABASE}"
    finally:
        if (data / "postmaster.pid").exists():
            as_postgres([pg_ctl, "stop", "-w", "-m", "fast", "-D", str(data)], folder)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def tracking_server(tmp_path_factory, postgres):
    """`mlflow server` on the PostgreSQL store, keeping the runs' files in its own folder; yields (URL, folder)."""
    folder = tmp_path_factory.mktemp("mlflow-server")
    artifacts, port = folder / "artifacts", free_port()
    # A plain postgresql:// URI, as users write it: SQLAlchemy 2.1 reads it with psycopg 3 (requirements.txt).
    command = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", postgres]
    command += ["--serve-artifacts", "--artifacts-destination", str(artifacts)]
    command += ["--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    with background(command, folder, dict(os.environ), f"http://127.0.0.1:{port}/health"):
        yield f"http://127.0.0.1:{port}", artifacts


@pytest.fixture(scope="module")
def ran(tmp_path_factory, tracking_server):
    """Two tasks run at once, each in its own process, against the server; returns the workspace and the runs
    (REST) by task."""
    url, _ = tracking_server
    ws = make_workspace(tmp_path_factory.mktemp("workspace"))
    config = yaml.safe_load((ws / "pipeline_config.yaml").read_text())
    (task,) = config["tasks"]
    config["tasks"] = [task, {**task, "name": TASKS[1], "model": {**task["model"], "cell": "rnn"}}]
    (ws / "pipeline_config.yaml").write_text(yaml.safe_dump(config))

    result = run_cli(ws, "run", "--tracking-uri", url, "--jobs", "2")

    assert f"[pipeline] 2 tasks, up to 2 at once: {', '.join(TASKS)}" in result.stdout
    for name in TASKS:
        assert f"[{name}] done: 6 stage(s) ran" in result.stdout, result.stdout[-3000:]
    runs = {}
    for name in TASKS:
        experiment = get(f"{url}/api/2.0/mlflow/experiments/get-by-name?experiment_name={name}")["experiment"]
        runs[name] = post(f"{url}/api/2.0/mlflow/runs/search", {"experiment_ids": [experiment["experiment_id"]]})
    return ws, {name: found.get("runs", []) for name, found in runs.items()}


def test_each_task_is_one_finished_run_with_params_and_metrics(ran):
    _, runs = ran
    for name, cell in zip(TASKS, ("lstm", "rnn"), strict=True):
        (run,) = runs[name]
        assert run["info"]["status"] == "FINISHED"
        params = {p["key"]: p["value"] for p in run["data"]["params"]}
        assert params["name"] == name and params["train.epochs"] == "6"
        assert params["model.cell"] == cell
        assert "test.token_accuracy" in {m["key"] for m in run["data"]["metrics"]}


def test_the_files_are_stored_by_the_server_not_in_the_workspace(tracking_server, ran):
    url, artifacts = tracking_server
    ws, runs = ran
    for name in TASKS:
        (run,) = runs[name]
        run_id = run["info"]["run_id"]
        assert run["info"]["artifact_uri"].startswith("mlflow-artifacts:/")
        listed = get(f"{url}/api/2.0/mlflow/artifacts/list?run_id={run_id}&path=config")
        assert [f["path"] for f in listed["files"]] == ["config/task.yaml"]
        listed = get(f"{url}/api/2.0/mlflow/artifacts/list?run_id={run_id}")
        assert {"config", "datasets", "mlflow_model", "saved_model"} <= {f["path"] for f in listed["files"]}
        config = f"{url}/get-artifact?path=config/task.yaml&run_uuid={run_id}"
        with urllib.request.urlopen(config, timeout=60) as response:
            assert yaml.safe_load(response.read())["name"] == name
        assert list(artifacts.glob(f"*/{run_id}/artifacts/config/task.yaml")), "kept in the server's folder"
    alias = get(f"{url}/api/2.0/mlflow/registered-models/alias?name={TASK}&alias=champion")
    assert alias["model_version"]["run_id"] == runs[TASK][0]["info"]["run_id"]
    assert not (ws / "mlruns").exists() and not (ws / "mlflow.db").exists()


def test_the_runs_are_stored_in_postgresql(postgres, ran):
    import psycopg

    _, runs = ran
    with psycopg.connect(postgres) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT version()")
        assert cursor.fetchone()[0].startswith("PostgreSQL 15")
        cursor.execute("SELECT e.name, r.run_uuid, r.status FROM runs r JOIN experiments e USING (experiment_id)")
        assert sorted(cursor.fetchall()) == sorted(
            (name, run["info"]["run_id"], "FINISHED") for name, (run,) in runs.items()
        )
        for (run,) in runs.values():
            for table, key in (("params", "params"), ("latest_metrics", "metrics")):
                cursor.execute(f"SELECT count(*) FROM {table} WHERE run_uuid = %s", (run["info"]["run_id"],))
                assert cursor.fetchone()[0] == len(run["data"][key]), table
        cursor.execute("SELECT name FROM registered_models ORDER BY name")
        assert [row[0] for row in cursor.fetchall()] == sorted(TASKS)
