"""The external sort (`components.beam.sorted_runs`): shards merged from many sorted runs are the bytes of a sort in
memory."""

from __future__ import annotations

import collections
import json
import pathlib
import random

import pytest

from components.beam import runners, sorted_runs
from components.preprocess import executor
from pipeline.config import BeamConfig

NUM_SHARDS = 3


def records(count: int) -> list[tuple[str, bytes, int]]:
    """(input hash, serialized example, tokens), shuffled; some hashes repeat with other examples (the sort's
    second key), and some records repeat whole (two equal sentences)."""
    rng = random.Random(4)
    made = []
    for i in range(count):
        key = f"{rng.getrandbits(64):016x}" if i % 5 else "shared"
        length = rng.randrange(1, 40)
        made.append((key, bytes(rng.randrange(256) for _ in range(length * 3)), length))
    made += made[:20]
    rng.shuffle(made)
    return made


def in_memory(items: list[tuple[str, bytes, int]], folder: pathlib.Path) -> dict:
    """The shards as the stage wrote them before the external sort: each shard's records sorted in memory."""
    import tensorflow as tf

    by_shard = collections.defaultdict(list)
    for item in items:
        by_shard[executor.shard_of(item[0], NUM_SHARDS)].append(item)
    entries = {}
    for shard, found in by_shard.items():
        name = executor.shard_name("train", shard, NUM_SHARDS)
        with tf.io.TFRecordWriter(str(folder / name)) as writer:
            for _, serialized, _ in sorted(found):
                writer.write(serialized)
        lengths = collections.Counter(length for _, _, length in found)
        entries[name] = {"records": len(found), "tokens": sum(length for _, _, length in found), "lengths": lengths}
    return entries


def external(items, folder: pathlib.Path, runs: pathlib.Path, spill_bytes: int) -> tuple[dict, dict]:
    """The stage's steps (spill sorted runs, group their paths by shard, merge) on an in-process runner."""
    import apache_beam as beam

    result, counted = folder / "entries.json", folder / "runs.json"

    def count_runs(group):
        with counted.open("a") as log:
            log.write(json.dumps([group[0], len(list(group[1]))]) + "\n")
        return group

    with runners.pipeline(BeamConfig(options={})) as p:
        _ = (
            p
            | beam.Create(items, reshuffle=False)
            | beam.ParDo(sorted_runs.SpillRuns(str(runs), "train", NUM_SHARDS, spill_bytes))
            | beam.GroupByKey()
            | beam.Map(count_runs)
            | beam.Map(executor._write_shard, str(folder), "train", NUM_SHARDS)
            | beam.combiners.ToList()
            | beam.Map(lambda entries: result.write_text(json.dumps(entries)))
        )
    entries = {entry["file"]: entry for entry in json.loads(result.read_text())}
    run_counts = dict(json.loads(line) for line in counted.read_text().splitlines())
    return entries, run_counts


@pytest.mark.parametrize("fanin", [sorted_runs.MERGE_FANIN, 2])
def test_shards_merged_from_many_runs_are_the_bytes_of_the_sort_in_memory(tmp_path, monkeypatch, fanin):
    """A spill size of ~10 records writes each shard as dozens of runs (merged 2 at a time, in several
    passes, with `fanin` 2); the files, record and token counts must equal those of one sort in memory."""
    monkeypatch.setattr(sorted_runs, "MERGE_FANIN", fanin)
    items = records(400)
    expected, written, runs = tmp_path / "expected", tmp_path / "written", tmp_path / "written" / ".runs"
    for folder in (expected, written, runs):
        folder.mkdir(parents=True, exist_ok=True)
    want = in_memory(items, expected)
    entries, run_counts = external(items, written, runs, spill_bytes=10 * (sorted_runs.RECORD_OVERHEAD + 80))

    assert min(run_counts.values()) > 5, run_counts  # the merge had work to do
    assert sorted(entries) == sorted(want)
    for name, entry in entries.items():
        assert (written / name).read_bytes() == (expected / name).read_bytes(), name
        assert entry["records"] == want[name]["records"]
        assert entry["tokens"] == want[name]["tokens"]
        assert {int(length): count for length, count in entry["lengths"].items()} == want[name]["lengths"]
    assert not list(runs.iterdir()), "runs were left behind"
    assert not list(written.glob("*.partial"))


def test_a_run_file_gives_back_what_was_written(tmp_path):
    items = sorted(records(50)) + [("ñ-key", b"", 0), ("k", b"\x00" * 70000, 2**32 - 1)]
    sorted_runs.write_run(str(tmp_path / "a.run"), items)
    assert list(sorted_runs.read_run(str(tmp_path / "a.run"))) == items
