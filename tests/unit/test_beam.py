"""How the Beam stages read their examples (blocks of bytes cut at line ends) and set up their runner."""

from __future__ import annotations

import json
import pathlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from components.beam import io, runners
from pipeline.config import BeamConfig
from pipeline.errors import SeqpipeError

RECORDS = st.lists(
    st.dictionaries(st.sampled_from(["text", "key", "tags"]), st.text(max_size=30), min_size=1), max_size=60
)


@pytest.fixture(scope="module")
def jsonl(tmp_path_factory) -> pathlib.Path:
    """One file the examples overwrite (module scope: hypothesis reruns the test body, not the fixtures)."""
    return tmp_path_factory.mktemp("blocks") / "train.jsonl"


def write(path: pathlib.Path, records: list[dict]) -> None:
    path.write_text("".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records), encoding="utf-8")


def read_in_blocks(path: pathlib.Path, bounds: list[int]) -> list[dict]:
    blocks = [(str(path), start, end) for start, end in zip(bounds, bounds[1:], strict=False)]
    return [record for block in blocks for batch in io.read_block(block) for record in batch]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(records=RECORDS, cuts=st.lists(st.floats(0, 1), max_size=8))
def test_blocks_cut_anywhere_read_every_record_once_in_order(jsonl, records, cuts):
    write(jsonl, records)
    size = jsonl.stat().st_size
    bounds = sorted({0, size, *(int(cut * size) for cut in cuts)})

    assert read_in_blocks(jsonl, bounds) == records


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(records=RECORDS)
def test_the_stage_blocks_cover_the_file_in_at_least_the_minimum_count(jsonl, records):
    write(jsonl, records)
    blocks = io.read_blocks(jsonl)
    size = jsonl.stat().st_size

    assert [start for _, start, _ in blocks] == sorted(start for _, start, _ in blocks)
    assert all(end > start for _, start, end in blocks)
    assert sum(end - start for _, start, end in blocks) == size
    assert len(blocks) == min(size, io.MIN_BLOCKS)
    assert read_in_blocks(jsonl, [0, *(end for _, _, end in blocks)]) == records


def test_a_large_file_is_read_in_blocks_of_at_most_the_block_size(tmp_path, monkeypatch):
    monkeypatch.setattr(io, "BLOCK_BYTES", 1000)
    records = [{"text": f"sentence {i}", "key": str(i)} for i in range(2000)]
    write(tmp_path / "train.jsonl", records)

    blocks = io.read_blocks(tmp_path / "train.jsonl")

    assert len(blocks) > io.MIN_BLOCKS
    assert max(end - start for _, start, end in blocks) <= 1000
    batches = [batch for block in blocks for batch in io.read_block(block)]
    assert max(len(batch) for batch in batches) <= io.BATCH_RECORDS
    assert [record for batch in batches for record in batch] == records


def test_the_direct_runner_is_pinned_to_the_in_process_engine_and_never_tries_prism():
    from apache_beam.runners.portability.fn_api_runner import fn_runner

    with runners.configured(BeamConfig(), {"default_sdk_harness_log_level": "ERROR"}) as (runner, options):
        assert isinstance(runner, fn_runner.FnApiRunner)
        assert options.get_all_options()["direct_num_workers"] == 2
        assert options.get_all_options()["default_sdk_harness_log_level"] == "ERROR"


def test_options_default_to_two_direct_workers_only_for_the_direct_runner():
    assert BeamConfig().runner_options() == {"direct_num_workers": 2, "direct_running_mode": "multi_processing"}
    assert BeamConfig(options={}).runner_options() == {}
    assert BeamConfig(runner="DaskRunner").runner_options() == {}
    assert BeamConfig(runner="FlinkRunner", options={"flink_master": "h:8081"}).runner_options() == {
        "flink_master": "h:8081"
    }


def test_a_cluster_address_reaches_the_dask_client_with_one_partition_an_element():
    from apache_beam.runners.dask.dask_runner import DaskOptions

    beam = BeamConfig(
        runner="DaskRunner", options={"dask_client_address": "tcp://127.0.0.1:1", "dask_connection_timeout": 9}
    )
    with runners.configured(beam, {"default_sdk_harness_log_level": "ERROR"}) as (runner, options):
        assert type(runner).__name__ == "DaskRunner"
        # What the runner passes to dask.distributed.Client (and to its bags).
        client = options.view_as(DaskOptions).get_all_options(drop_default=True, current_only=True)
        assert client == {"address": "tcp://127.0.0.1:1", "timeout": 9, "partition_size": 1}
        assert options.get_all_options()["default_sdk_harness_log_level"] == "ERROR"


@pytest.mark.parametrize("workers", [0, "two"])
def test_a_bad_local_worker_count_is_a_one_line_error(workers):
    beam = BeamConfig(runner="DaskRunner", options={runners.LOCAL_WORKERS: workers})
    with pytest.raises(SeqpipeError, match="dask_local_workers"):
        with runners.configured(beam, {}):
            pass


def batched_total(runner, folder: pathlib.Path) -> int:
    """1,000 numbers in 10 Dask partitions, batched by 7 (`BatchElements` emits its last batch in
    finish_bundle), their count summed on one in-process Dask worker that runs every partition."""
    import apache_beam as beam
    import distributed
    from apache_beam.options.pipeline_options import PipelineOptions

    result = folder / f"{type(runner).__module__}.txt"
    one_worker = {"n_workers": 1, "threads_per_worker": 1, "processes": False, "dashboard_address": ":0"}
    with distributed.LocalCluster(**one_worker) as cluster:
        options = PipelineOptions([f"--dask_client_address={cluster.scheduler_address}", "--dask_npartitions=10"])
        p = beam.Pipeline(runner=runner, options=options)
        _ = (
            p
            | beam.Create(range(1000))
            | beam.BatchElements(min_batch_size=7, max_batch_size=7)
            | beam.Map(len)
            | beam.CombineGlobally(sum)
            | beam.Map(lambda total: result.write_text(str(total)))
        )
        runners.wait(p.run())
    return int(result.read_text())


def test_the_fixed_dask_runner_keeps_every_element_of_every_partition(tmp_path):
    from components.beam import dask_runner as beam_dask

    assert batched_total(beam_dask.DaskRunner(), tmp_path) == 1000


def test_beams_own_dask_runner_still_needs_the_fix(tmp_path):
    """When this fails, Beam has fixed its ParDo translation: drop `beam_dask` for Beam's runner."""
    from apache_beam.runners.dask.dask_runner import DaskRunner

    assert batched_total(DaskRunner(), tmp_path) != 1000


def test_a_side_input_reaches_every_partition_and_its_producer_runs_once(tmp_path):
    """Side inputs are graph values handed to each partition. (Beam's translation also passes this small
    case; the recomputation it does on the stage's graph shows in benchmarks/preprocess.py's Dask rows.)"""
    import apache_beam as beam
    import distributed
    from apache_beam.options.pipeline_options import PipelineOptions

    from components.beam import dask_runner as beam_dask

    computed, result = tmp_path / "computed.txt", tmp_path / "result.txt"

    def offsets(key):
        with computed.open("a") as log:
            log.write(f"{key}\n")
        return key, 1000

    one_worker = {"n_workers": 1, "threads_per_worker": 1, "processes": False, "dashboard_address": ":0"}
    with distributed.LocalCluster(**one_worker) as cluster:
        options = PipelineOptions([f"--dask_client_address={cluster.scheduler_address}", "--dask_npartitions=10"])
        p = beam.Pipeline(runner=beam_dask.DaskRunner(), options=options)
        side = p | "Keys" >> beam.Create(["a", "b"]) | "Offsets" >> beam.Map(offsets)
        _ = (
            p
            | beam.Create(range(100))
            | beam.Map(lambda x, table: x + table["a"] + table["b"], beam.pvalue.AsDict(side))
            | beam.CombineGlobally(sum)
            | beam.Map(lambda total: result.write_text(str(total)))
        )
        runners.wait(p.run())

    assert int(result.read_text()) == sum(range(100)) + 100 * 2000
    assert sorted(computed.read_text().split()) == ["a", "b"]
