"""The preprocess stage on Beam's Dask runner, on a real `dask.distributed` cluster: a scheduler and two
worker processes on 127.0.0.1, started and stopped here.

A tagger and a translator with learned wordpieces run through `pipeline run --through preprocess` twice:
on the cluster, and on the DirectRunner (two worker processes). Every file the stages write must be the
same bytes.
"""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from tests.e2e.support import ROOT, make_corpus, run_cli, write_config
from tests.e2e.test_translator import write_pairs

pytestmark = pytest.mark.slow

TASKS = ("toy-pos", "toy-mt")
START_SECONDS = 60


@contextlib.contextmanager
def dask_cluster(folder: pathlib.Path, workers: int = 2) -> Iterator[str]:
    """A scheduler and `workers` worker processes; yields the scheduler's address and stops them all."""
    scheduler_file = folder / "scheduler.json"
    environment = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    log = (folder / "dask.log").open("w")
    python = [sys.executable, "-m"]
    processes = [
        subprocess.Popen(
            [*python, "distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard"]
            + ["--scheduler-file", str(scheduler_file)],
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    ]
    try:
        address = _wait_for_scheduler(scheduler_file, processes[0])
        for _ in range(workers):
            processes.append(
                subprocess.Popen(
                    [*python, "distributed.cli.dask_worker", address, "--nthreads", "1", "--no-dashboard"]
                    + ["--host", "127.0.0.1"],
                    env=environment,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
        _wait_for_workers(address, workers)
        yield address
    finally:
        for process in reversed(processes):
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        log.close()


def _wait_for_scheduler(scheduler_file: pathlib.Path, scheduler: subprocess.Popen) -> str:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        assert scheduler.poll() is None, "the Dask scheduler exited"
        if scheduler_file.exists():
            with contextlib.suppress(json.JSONDecodeError):
                return json.loads(scheduler_file.read_text())["address"]
        time.sleep(0.2)
    raise AssertionError(f"no Dask scheduler within {START_SECONDS} s")


def _wait_for_workers(address: str, workers: int) -> None:
    import distributed

    with distributed.Client(address, timeout=START_SECONDS) as client:
        client.wait_for_workers(workers, timeout=START_SECONDS)


def executed_tasks(address: str) -> dict[str, int]:
    """How many tasks each worker of the cluster has run."""
    import distributed

    with distributed.Client(address, timeout=START_SECONDS) as client:
        return client.run(lambda dask_worker: dask_worker.state.executed_count)


def files_under(folder: pathlib.Path) -> dict[str, bytes]:
    files = sorted(path for path in folder.rglob("*") if path.is_file())
    return {path.relative_to(folder).as_posix(): path.read_bytes() for path in files}


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> pathlib.Path:
    folder = tmp_path_factory.mktemp("dask")
    make_corpus(folder / "corpus.txt")
    write_pairs(folder / "pairs.tsv", 600, seed=0)
    tagger = {
        "name": TASKS[0],
        "kind": "tagger",
        "data": {"format": "brown", "train": "corpus.txt", "split": {"eval": 0.15, "test": 0.15}},
        "preprocess": {"num_shards": 3},
    }
    translator = {
        "name": TASKS[1],
        "kind": "translator",
        "data": {"format": "parallel_tsv", "train": "pairs.tsv", "split": {"eval": 0.1, "test": 0.1}},
        "preprocess": {"tokenizer": "wordpiece", "wordpiece_vocab_size": 60, "num_shards": 2},
    }
    return write_config(folder, tagger, translator)


@pytest.fixture(scope="module")
def runs(workspace) -> dict[str, subprocess.CompletedProcess | dict]:
    with dask_cluster(workspace) as address:
        on_dask = run_cli(
            workspace,
            "run",
            "--through",
            "preprocess",
            "--output-dir",
            "on-dask",
            "--set",
            "beam.runner=DaskRunner",
            "--set",
            f"beam.options={{dask_client_address: '{address}'}}",
        )
        executed = executed_tasks(address)
    direct = run_cli(workspace, "run", "--through", "preprocess", "--output-dir", "direct")
    return {"dask": on_dask, "direct": direct, "executed": executed}


def test_both_workers_of_the_cluster_ran_tasks_of_the_stage(runs):
    assert len(runs["executed"]) == 2
    assert all(count > 0 for count in runs["executed"].values()), runs["executed"]


def test_the_stage_ran_on_the_cluster_and_stopped_after_preprocess(runs):
    for task in TASKS:
        assert f"[{task}] preprocess     " in runs["dask"].stdout
        assert "Beam DaskRunner {'dask_client_address': 'tcp://127.0.0.1:" in runs["dask"].stdout
        assert f"[{task}] done: 3 stage(s) ran (ingest, statistics, preprocess), 0 cached" in runs["dask"].stdout
        assert f"[{task}] train" not in runs["dask"].stdout


@pytest.mark.parametrize("task", TASKS)
def test_the_dask_runner_writes_the_same_bytes_as_the_direct_runner(runs, workspace, task):
    on_dask = files_under(workspace / "on-dask" / task / "preprocess")
    direct = files_under(workspace / "direct" / task / "preprocess")

    assert sorted(on_dask) == sorted(direct)
    assert [name for name in direct if name.endswith(".tfrecord")], "no shards were written"
    assert [name for name in direct if name.endswith("wordpieces.tsv")] or task == "toy-pos"
    assert not [name for name in direct if name.endswith(".partial")]
    assert [name for name in direct if on_dask[name] != direct[name]] == []


@pytest.mark.parametrize("task", TASKS)
def test_every_record_of_every_split_is_in_the_shards(workspace, runs, task):
    (manifest,) = (workspace / "on-dask" / task / "preprocess").glob("*/shards/manifest.json")
    (statistics,) = (workspace / "on-dask" / task / "statistics").glob("*/statistics/statistics.json")
    written = {split: entry["records"] for split, entry in json.loads(manifest.read_text())["splits"].items()}
    assert written == {split: n for split, n in json.loads(statistics.read_text())["records"].items() if n}
