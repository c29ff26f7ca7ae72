"""How often each input occurs, and in which splits: counted in Beam by an external sort, not by holding every
input in memory.

Ingest splits records by the hash of their input (`components/ingest/content.py`), so two records with the
same input share a split; only held-out files given as such (`data.eval`, `data.test`) can repeat a
training input. Each record becomes (input hash, key, split), written out by the workers as sorted runs in
partitions of the hash (`components.beam.sorted_runs`); each partition is then read as one sorted stream,
in which the records of an input are neighbours, and summed: over the distinct inputs, how many occur more
than once and how many sit in two splits at once, each with the first record (by key) where it happens.
What any step holds is a worker's spill buffer and one input's records, whatever the corpus size.
"""

from __future__ import annotations

import itertools
import json
import pathlib
import shutil
from collections.abc import Iterable, Iterator
from typing import Any

import apache_beam as beam

from components.beam import io, runners, sorted_runs
from pipeline import artifacts
from pipeline.config import BeamConfig

# The pairs of splits an input can be shared between, as they are reported.
PAIRS = (("train", "eval"), ("train", "test"), ("eval", "test"))
# The partitions of the input hashes: each one is merged and summed by one worker.
PARTITIONS = 8


def count(examples: artifacts.Examples, splits: list[str], runner: BeamConfig, output: pathlib.Path) -> dict[str, Any]:
    """Counts the inputs of `splits` of `examples` with the configured Beam runner; writes and returns the summary:

    `distinct` inputs; `repeated`, those that several records share, and `repeated_records`, how many records
    they are; `shared`: for each pair of splits (`train/test`), the inputs in both and the first record's key.
    """
    size = sum(examples.split_path(split).stat().st_size for split in splits)
    runs = output.parent / sorted_runs.RUNS_FOLDER
    runs.mkdir(parents=True, exist_ok=True)
    try:
        with runners.pipeline(runner, size) as p:
            per_split = [
                p
                | f"Blocks of {split}" >> beam.Create(io.read_blocks(examples.split_path(split)))
                | f"Read {split}" >> beam.FlatMap(io.read_block)
                | f"Inputs of {split}" >> beam.FlatMap(_inputs, artifacts.SPLITS.index(split))
                for split in splits
            ]
            _ = (
                per_split
                | "All inputs" >> beam.Flatten()
                | "Sort runs" >> beam.ParDo(sorted_runs.SpillRuns(str(runs), "inputs", PARTITIONS))
                | "Group runs" >> beam.GroupByKey()
                | "Count partitions" >> beam.Map(_count_partition)
                | "Summarize" >> beam.CombineGlobally(_merge)
                | "Write" >> beam.Map(_write, str(output))
            )
    finally:
        shutil.rmtree(runs, ignore_errors=True)
    return json.loads(output.read_text())


def _inputs(batch: list[dict[str, Any]], split: int) -> Iterator[sorted_runs.Record]:
    for record in batch:
        yield record["input_hash"], record["key"].encode("utf-8"), split


def _empty() -> dict[str, Any]:
    return {"distinct": 0, "repeated": 0, "repeated_records": 0, "shared": {}}


def _count_partition(group: tuple[int, Iterable[str]]) -> dict[str, Any]:
    """The summary of one partition's inputs, from its sorted runs (deleted as they are read)."""
    summary = _empty()
    records = sorted_runs.merged(sorted(group[1]))
    for _, occurrences in itertools.groupby(records, key=lambda record: record[0]):
        count, splits, first = 0, set(), None
        for _, key, split in occurrences:  # in key order: the first is the smallest
            count += 1
            first = key.decode("utf-8") if first is None else first
            splits.add(artifacts.SPLITS[split])
        summary["distinct"] += 1
        if count > 1:
            summary["repeated"] += 1
            summary["repeated_records"] += count
        for pair in PAIRS:
            if set(pair) <= splits:
                _add_shared(summary["shared"], "/".join(pair), 1, first)
    return summary


def _merge(summaries: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """The sum of partition summaries (or of sums of them: Beam combines in any grouping)."""
    merged = _empty()
    for summary in summaries:
        for name in ("distinct", "repeated", "repeated_records"):
            merged[name] += summary[name]
        for pair, found in summary["shared"].items():
            _add_shared(merged["shared"], pair, found["inputs"], found["first"])
    return merged


def _add_shared(shared: dict[str, Any], pair: str, inputs: int, first: str) -> None:
    entry = shared.setdefault(pair, {"inputs": 0, "first": first})
    entry["inputs"] += inputs
    entry["first"] = min(entry["first"], first)


def _write(summary: dict[str, Any], path: str) -> None:
    text = json.dumps(summary, indent=2, sort_keys=True) + "\n"
    temporary = pathlib.Path(path + ".partial")
    temporary.write_text(text)
    temporary.rename(path)
