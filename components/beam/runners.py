"""The Beam runner that `beam:` in the config names, set up for one stage's pipeline and torn down after it.

- `DirectRunner` (the default): Beam's direct runner first tries the Prism runner, whose binary it
  downloads from GitHub at run time (Beam 2.68 and later), and falls back to its in-process FnApiRunner
  when the download fails. Offline that is a failed request on every run, and where a firewall drops
  the connection instead of refusing it, a wait. seqpipe builds the FnApiRunner the direct runner falls
  back to, with the same options handed to its workers, so nothing is fetched.
- `DaskRunner`: Beam's Dask runner (`apache-beam[dask]`, with the fix of `dask_runner.py`) on a
  `dask.distributed` cluster. With
  `dask_client_address` (or `dask_scheduler_file`) it joins that cluster; without, it starts a local
  one of `dask_local_workers` processes (seqpipe's option, default 2) and stops it afterwards. Each
  element of a `Create` becomes its own Dask partition (`dask_partition_size: 1`, unless set), so the
  stage's read blocks are read in parallel.
- Any other name (FlinkRunner, SparkRunner, DataflowRunner, ...) goes to Beam as it is.
"""

from __future__ import annotations

import contextlib
import logging
import os
import warnings
from collections.abc import Iterator, Mapping
from typing import Any

from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.runners.runner import PipelineResult, PipelineRunner

from components.beam import io
from pipeline import console
from pipeline.config import BeamConfig
from pipeline.errors import SeqpipeError

DASK = "DaskRunner"
# What a local Dask worker process takes from this one: the path to import the stage's code, TF's log level.
_WORKER_ENVIRONMENT = ("PYTHONPATH", *console.ENVIRONMENT)  # as quiet as the stage's process
LOCAL_WORKERS = "dask_local_workers"


@contextlib.contextmanager
def configured(
    beam: BeamConfig, defaults: Mapping[str, Any], input_bytes: int | None = None
) -> Iterator[tuple[PipelineRunner | str, PipelineOptions]]:
    """The runner and options for a pipeline of this stage; a cluster this starts is stopped on exit.

    `defaults` are options the config may override; `input_bytes`, the size of what the pipeline reads (the
    DirectRunner's default reads a small input in the stage's process, `BeamConfig.runner_options`).
    """
    options = {**defaults, **beam.runner_options(input_bytes)}
    if beam.runner == "DirectRunner":
        pipeline_options = PipelineOptions(flags=[], **options)
        yield _fn_api_runner(pipeline_options), pipeline_options
    elif beam.runner == DASK:
        with _dask_cluster(options) as options:
            # The Dask options go in as flags: as keywords Beam wants their argparse names (`address`
            # for dask_client_address) and drops the others with a warning.
            flags = [f"--{name}={value}" for name, value in options.items() if name.startswith("dask_")]
            others = {name: value for name, value in options.items() if not name.startswith("dask_")}
            yield _dask_runner(), PipelineOptions(flags, **others)
    else:
        yield beam.runner, PipelineOptions(flags=[], runner=beam.runner, **options)


@contextlib.contextmanager
def pipeline(beam: BeamConfig, input_bytes: int | None = None) -> Iterator[Any]:
    """A Beam pipeline on the configured runner, to build in the `with` block; it runs when the block ends.
    `input_bytes`: the size of what it reads (see `configured`).

    Beam's workers log every bundle, and warn about optional cloud libraries: the console keeps to the
    stage's progress lines (errors still show), and the workers find the project's code on their path.
    """
    import apache_beam

    defaults = {"default_sdk_harness_log_level": "ERROR"}
    with io.project_on_worker_path(), io.quiet_logging(), configured(beam, defaults, input_bytes) as (runner, options):
        built = apache_beam.Pipeline(runner=runner, options=options)
        yield built
        wait(built.run())


def wait(result: PipelineResult) -> None:
    """Waits for the pipeline; a Dask run's client (which Beam opens and never closes) is closed after it."""
    try:
        result.wait_until_finish()
    finally:
        client = getattr(result, "client", None)
        if client is not None:
            client.close()


def _fn_api_runner(options: PipelineOptions) -> PipelineRunner:
    """What Beam's SwitchingDirectRunner runs a batch pipeline on when Prism is not there."""
    from apache_beam.portability.api import beam_provision_api_pb2
    from apache_beam.runners.portability.fn_api_runner import fn_runner
    from apache_beam.runners.portability.portable_runner import JobServiceHandle

    encoded = JobServiceHandle.encode_pipeline_options(options.get_all_options())
    provision = beam_provision_api_pb2.ProvisionInfo(pipeline_options=encoded)
    return fn_runner.FnApiRunner(provision_info=fn_runner.ExtendedProvisionInfo(provision))


def _dask_runner() -> PipelineRunner:
    from components.beam import dask_runner

    return dask_runner.DaskRunner()


@contextlib.contextmanager
def _dask_cluster(options: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The options with the address of a cluster to run on: the configured one, or a local one for the run."""
    try:
        import distributed
    except ImportError:
        raise SeqpipeError("beam.runner DaskRunner needs dask.distributed: pip install 'apache-beam[dask]'") from None
    options = {"dask_partition_size": 1, **options}
    workers = options.pop(LOCAL_WORKERS, 2)
    if options.get("dask_client_address") or options.get("dask_scheduler_file"):
        yield options
        return
    if not isinstance(workers, int) or workers < 1:
        raise SeqpipeError(f"beam.options.{LOCAL_WORKERS}: {workers!r}; a number of processes, at least 1")
    # The scheduler runs in this process: keep its start and stop messages off the console (errors show).
    with _level("distributed", logging.ERROR), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "port 8787 is already in use": the dashboard takes another port
        cluster = distributed.LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            silence_logs=logging.ERROR,
            dashboard_address=":0",
            env={name: os.environ[name] for name in _WORKER_ENVIRONMENT if name in os.environ},
        )
        try:
            yield {**options, "dask_client_address": cluster.scheduler_address}
        finally:
            cluster.close()


@contextlib.contextmanager
def _level(name: str, level: int) -> Iterator[None]:
    logger = logging.getLogger(name)
    before = logger.level
    logger.setLevel(level)
    try:
        yield
    finally:
        logger.setLevel(before)
