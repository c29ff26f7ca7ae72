"""How often each input occurs, and in which splits: counted in Beam, not by holding every hash in one process.

Ingest splits records by the hash of their input (`components/ingest/content.py`), so two records with the
same input share a split; only held-out files given as such (`data.eval`, `data.test`) can repeat a
training input. This pipeline groups the examples by input hash (one combine per distinct input) and
sums, over the distinct inputs, how many occur more than once and how many sit in two splits at once,
each with the first record (by key) where it happens.
"""

from __future__ import annotations

import json
import pathlib
from collections.abc import Iterable, Iterator
from typing import Any

import apache_beam as beam

from components.beam import io, runners
from pipeline import artifacts
from pipeline.config import BeamConfig

# The pairs of splits an input can be shared between, as they are reported.
PAIRS = (("train", "eval"), ("train", "test"), ("eval", "test"))


def count(examples: artifacts.Examples, splits: list[str], runner: BeamConfig, output: pathlib.Path) -> dict[str, Any]:
    """Counts the inputs of `splits` of `examples` with the configured Beam runner; writes and returns the summary:

    `distinct` inputs; `repeated`, those that several records share, and `repeated_records`, how many records
    they are; `shared`: for each pair of splits (`train/test`), the inputs in both and the first record's key.
    """
    size = sum(examples.split_path(split).stat().st_size for split in splits)
    with runners.pipeline(runner, size) as p:
        per_split = [
            p
            | f"Blocks of {split}" >> beam.Create(io.read_blocks(examples.split_path(split)))
            | f"Read {split}" >> beam.FlatMap(io.read_block)
            | f"Inputs of {split}" >> beam.FlatMap(_inputs, split)
            for split in splits
        ]
        _ = (
            per_split
            | "All inputs" >> beam.Flatten()
            | "By input" >> beam.CombinePerKey(_Occurrences())
            | "Occurrences" >> beam.Values()
            | "Summarize" >> beam.CombineGlobally(_Summary())
            | "Write" >> beam.Map(_write, str(output))
        )
    return json.loads(output.read_text())


def _inputs(batch: list[dict[str, Any]], split: str) -> Iterator[tuple[str, tuple[str, str]]]:
    for record in batch:
        yield record["input_hash"], (split, record["key"])


class _Occurrences(beam.CombineFn):
    """The records of one input: (how many, the splits they are in, the smallest key)."""

    def create_accumulator(self) -> tuple[int, frozenset[str], str]:
        return 0, frozenset(), ""

    def add_input(self, accumulator, element: tuple[str, str]):
        split, key = element
        return self.merge_accumulators([accumulator, (1, frozenset([split]), key)])

    def merge_accumulators(self, accumulators: Iterable):
        count, splits, keys = 0, frozenset(), []
        for found, in_splits, first in accumulators:
            count, splits = count + found, splits | in_splits
            keys += [first] if first else []
        return count, splits, min(keys, default="")

    def extract_output(self, accumulator):
        return accumulator


class _Summary(beam.CombineFn):
    """Sums the occurrences of every distinct input into the counts `count` returns."""

    def create_accumulator(self) -> dict[str, Any]:
        return {"distinct": 0, "repeated": 0, "repeated_records": 0, "shared": {}}

    def add_input(self, summary: dict[str, Any], occurrences: tuple[int, frozenset[str], str]) -> dict[str, Any]:
        count, splits, first = occurrences
        summary["distinct"] += 1
        if count > 1:
            summary["repeated"] += 1
            summary["repeated_records"] += count
        for pair in PAIRS:
            if set(pair) <= splits:
                _add_shared(summary["shared"], "/".join(pair), 1, first)
        return summary

    def merge_accumulators(self, summaries: Iterable[dict[str, Any]]) -> dict[str, Any]:
        merged = self.create_accumulator()
        for summary in summaries:
            for name in ("distinct", "repeated", "repeated_records"):
                merged[name] += summary[name]
            for pair, found in summary["shared"].items():
                _add_shared(merged["shared"], pair, found["inputs"], found["first"])
        return merged

    def extract_output(self, summary: dict[str, Any]) -> dict[str, Any]:
        return summary


def _add_shared(shared: dict[str, Any], pair: str, inputs: int, first: str) -> None:
    entry = shared.setdefault(pair, {"inputs": 0, "first": first})
    entry["inputs"] += inputs
    entry["first"] = min(entry["first"], first)


def _write(summary: dict[str, Any], path: str) -> None:
    text = json.dumps(summary, indent=2, sort_keys=True) + "\n"
    temporary = pathlib.Path(path + ".partial")
    temporary.write_text(text)
    temporary.rename(path)
