"""Tasks and sweep variants on a Dask cluster (`run --cluster`): a real scheduler and two workers on
127.0.0.1, each running one unit at a time as its own `pipeline run` process.

A swept task (two variants, which share their first stages), a plain task, and a task whose corpus every
line of is rejected: four units on two workers. Checks the runs in MLflow (each tagged with the worker
that ran it, both workers used), that the variants built their shared stages once, the console lines of
every unit, and the failed unit's one line naming its worker and its log.
"""

from __future__ import annotations

import re

import pytest
import yaml

from tests.e2e.support import TASK, make_workspace, run_cli
from tests.e2e.test_dask_runner import dask_cluster

pytestmark = pytest.mark.slow

SWEPT, BROKEN = "toy-swept", "broken"


@pytest.fixture(scope="module")
def ran(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cluster")
    ws = make_workspace(folder / "workspace", epochs=2)
    config = yaml.safe_load((ws / "pipeline_config.yaml").read_text())
    (task,) = config["tasks"]
    (ws / "broken.txt").write_text("no tags in this line\nnor in this one\n" * 20, encoding="utf-8")
    broken = {**task, "name": BROKEN, "data": {**task["data"], "train": "broken.txt"}}
    config["tasks"] = [{**task, "name": SWEPT}, task, broken]  # the variants first: they start together
    config["sweeps"] = [{"task": SWEPT, "grid": {"model.cell": ["rnn", "gru"]}}]
    (ws / "pipeline_config.yaml").write_text(yaml.safe_dump(config))
    with dask_cluster(folder, workers=2) as address:
        result = run_cli(ws, "run", "--cluster", address, check=False)
    return ws, address, result


def runs_of(ws, experiment: str) -> list:
    import mlflow

    client = mlflow.MlflowClient(f"sqlite:///{ws / 'mlflow.db'}")
    found = client.get_experiment_by_name(experiment)
    return client.search_runs([found.experiment_id]) if found else []


def test_every_unit_ran_on_a_worker_and_its_run_says_which(ran):
    ws, address, result = ran
    assert f"[pipeline] 4 unit(s) on the Dask cluster at {address}, one at a time on each of its 2 worker(s)" in (
        result.stdout
    )
    workers = set()
    for experiment, count in ((SWEPT, 2), (TASK, 1)):
        runs = runs_of(ws, experiment)
        assert len(runs) == count and all(run.info.status == "FINISHED" for run in runs)
        workers |= {run.data.tags["seqpipe.worker"] for run in runs}
    assert len(workers) == 2 and all(worker.startswith("tcp://127.0.0.1:") for worker in workers)
    for label in (f"{SWEPT} [model.cell=rnn]", f"{SWEPT} [model.cell=gru]", TASK):
        assert f"[{label}] done:" in result.stdout  # the unit's console, printed here from its log


def test_the_variants_built_their_shared_stages_once(ran):
    ws, _, _ = ran
    for stage in ("ingest", "statistics", "preprocess"):
        folders = [p for p in (ws / "runs" / SWEPT / stage).iterdir() if not p.name.startswith(".")]
        assert len(folders) == 1, stage
    logs = [path.read_text() for path in (ws / "runs" / SWEPT / "logs").glob("cluster-*.log")]
    assert len(logs) == 2
    # One variant built ingest; the other waited for its lock and found it cached.
    assert sorted(len(re.findall(r"\] ingest +ran in", log)) for log in logs) == [0, 1]
    assert sorted(len(re.findall(r"\] ingest +cached in", log)) for log in logs) == [0, 1]


def test_a_failed_unit_names_its_worker_and_its_log(ran):
    ws, _, result = ran
    assert result.returncode == 1
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("[pipeline] failed:")]
    log = ws / "runs" / BROKEN / "logs" / "cluster-task.log"
    assert line.startswith(f"[pipeline] failed: {BROKEN} on worker tcp://127.0.0.1:")
    assert line.endswith(f"(exit 1); its log {log}")
    assert "rejected" in log.read_text()
