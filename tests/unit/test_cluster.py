"""What `run --cluster` checks before it sends work (`pipeline.cluster`): the workers' environment, the shared
project and run folder, and where Beam runs; with a stand-in for `distributed.Client`."""

from __future__ import annotations

import pathlib

import pytest

from pipeline import cluster
from pipeline.config import BeamConfig, PipelineConfig
from pipeline.errors import SeqpipeError

PACKAGES = {package: "1.0" for package in cluster.PACKAGES}


def versions(**worker_packages) -> dict:
    """`get_versions`'s answer: this process with PACKAGES, worker tcp://w1 with its changes."""
    host = {"python": "3.11.7.final.0"}
    return {
        "client": {"host": host, "packages": dict(PACKAGES)},
        "workers": {"tcp://w1:1": {"host": host, "packages": {**PACKAGES, **worker_packages}}},
    }


class Client:
    """The calls `check_workers` makes; `run` answers each worker, or `answers[function name]` if given."""

    def __init__(self, versions: dict, answers: dict | None = None) -> None:
        self.answer = versions
        self.answers = answers or {}

    def get_versions(self, packages):
        return self.answer

    def run(self, function, argument):
        if function.__name__ in self.answers:
            return {"tcp://w1:1": self.answers[function.__name__]}
        return {"tcp://w1:1": function(argument)}


def config(tmp_path: pathlib.Path, beam: BeamConfig | None = None) -> PipelineConfig:
    return PipelineConfig(tasks=(), output_dir=str(tmp_path / "runs"), beam=beam or BeamConfig(), base_dir=tmp_path)


def test_the_same_environment_and_shared_folders_pass(tmp_path):
    cluster.check_workers(Client(versions()), config(tmp_path))
    assert not list((tmp_path / "runs").iterdir())  # the probe file is gone


def test_another_library_version_on_a_worker_is_one_line_naming_it(tmp_path):
    with pytest.raises(SeqpipeError) as raised:
        cluster.check_workers(Client(versions(tensorflow="2.20.0", keras="3.0")), config(tmp_path))
    assert str(raised.value) == (
        "--cluster: the workers need this environment; worker tcp://w1:1: tensorflow 2.20.0 there, 1.0 here "
        "(and 1 more)"
    )


def test_a_worker_without_the_project_or_the_run_folder_is_named(tmp_path):
    with pytest.raises(SeqpipeError, match=r"worker tcp://w1:1 does not have it: the project at .* must be shared"):
        cluster.check_workers(Client(versions(), {"project_digest": "missing"}), config(tmp_path))
    with pytest.raises(SeqpipeError, match=r"worker tcp://w1:1 cannot read the run folder .*runs: it must be shared"):
        cluster.check_workers(Client(versions(), {"_read": None}), config(tmp_path))


def test_beam_stays_off_the_cluster_that_runs_the_tasks(tmp_path):
    on_it = BeamConfig("DaskRunner", {"dask_client_address": "tcp://127.0.0.1:8786"})
    arguments, line = cluster.beam_override(config(tmp_path, on_it), "tcp://127.0.0.1:8786")
    assert arguments == ["--set", "beam.runner=DirectRunner", "--set", "beam.options=null"]
    assert line.startswith("Beam runs in each task's process (DirectRunner): beam.options names this cluster")
    elsewhere = BeamConfig("DaskRunner", {"dask_client_address": "tcp://10.0.0.9:8786"})
    assert cluster.beam_override(config(tmp_path, elsewhere), "tcp://127.0.0.1:8786") == (
        [],
        "Beam runs on the Dask cluster at tcp://10.0.0.9:8786",
    )
    assert cluster.beam_override(config(tmp_path), "tcp://127.0.0.1:8786") == (
        [],
        "Beam runs in each task's process (DirectRunner)",
    )


def test_no_scheduler_at_the_address_is_one_line():
    with pytest.raises(SeqpipeError, match=r"--cluster tcp://127.0.0.1:9: no Dask scheduler answers"):
        cluster.connect("tcp://127.0.0.1:9", timeout=2)


def test_a_worker_that_cannot_import_the_project_is_told_how_to_start(tmp_path):
    class Unimportable(Client):
        def run(self, function, argument):
            raise Exception("ModuleNotFoundError(\"No module named 'pipeline'\")")  # as Dask re-raises it

    with pytest.raises(SeqpipeError, match=r"cannot import this project .* start the workers with PYTHONPATH="):
        cluster.check_workers(Unimportable(versions()), config(tmp_path))
