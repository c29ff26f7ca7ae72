"""Preprocess executor: an Apache Beam pipeline that counts vocabularies and writes TFRecord shards.

The runner and its options come from the config (DirectRunner in multi-processing mode by default;
`runners.py` sets each up), so the same pipeline runs on a Dask cluster, Flink, Spark or Dataflow.
What is counted and encoded is the task kind's layout (`kinds/<kind>/preprocess.py`, on the shared
helpers of `layout.py`); text becomes ids through `models.text`, the same TensorFlow code the exported
model runs.

Shards are deterministic and follow the content: a record goes to the shard picked by its input's hash,
and each shard is written sorted by (input hash, serialized example), so the same examples give the same
files whatever the runner and worker count, and the same examples in the same order whatever the corpus
files are called or the order they are read in (only the keys they hold, `file:line`, differ).
"""

from __future__ import annotations

import collections
import hashlib
import json
import pathlib
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import apache_beam as beam

import kinds
from components.beam import io, runners
from kinds.base.layout import Entries
from pipeline import artifacts
from pipeline.component import StageContext
from pipeline.config import PreprocessConfig


def run(context: StageContext) -> None:
    params: PreprocessConfig = context.parameters.preprocess
    layout = kinds.get(context.parameters.kind).load("layout")(params)
    examples: artifacts.Examples = context.input("examples")
    vocabulary: artifacts.Vocabulary = context.output("vocabulary")
    shards: artifacts.Shards = context.output("shards")
    split_sizes = context.input("statistics").read()["records"]
    splits = [split for split in artifacts.SPLITS if split_sizes.get(split)]

    size = sum(examples.split_path(split).stat().st_size for split in splits)
    context.progress(f"Beam {context.beam.runner} {context.beam.runner_options(size)}")
    with runners.pipeline(context.beam, size) as p:
        records = {
            split: p
            | f"Blocks of {split}" >> beam.Create(io.read_blocks(examples.split_path(split)))
            | f"Read {split}" >> beam.FlatMap(io.read_block)
            for split in splits
        }
        if layout.learns_wordpieces:
            wordpieces = (
                records["train"]
                | "Count words" >> beam.FlatMap(layout.pretoken_counts)
                | "Sum words" >> beam.CombinePerKey(sum)
                | "Collect words" >> beam.combiners.ToList()
                | "Learn wordpieces" >> beam.Map(_learn_wordpieces, params.wordpiece_vocab_size)
            )
        else:
            wordpieces = p | "No wordpieces" >> beam.Create([None])
        counted = (
            records["train"]
            | "Count units" >> beam.FlatMap(layout.unit_counts, beam.pvalue.AsSingleton(wordpieces))
            | "Sum counts" >> beam.CombinePerKey(sum)
            | "Collect counts" >> beam.combiners.ToList()
        )
        vocabularies = counted | "Build vocabularies" >> beam.Map(
            _build_vocabularies, layout, beam.pvalue.AsSingleton(wordpieces)
        )
        written = [vocabularies | "Write vocabularies" >> beam.Map(_write_vocabularies, str(vocabulary.uri))]
        for split in splits:
            written.append(
                records[split]
                | f"Encode {split}" >> beam.FlatMap(_encode, layout, beam.pvalue.AsSingleton(vocabularies))
                | f"Shard {split}" >> beam.Map(lambda item, n=params.num_shards: (shard_of(item[0], n), item))
                | f"Group {split}" >> beam.GroupByKey()
                | f"Write {split}" >> beam.Map(_write_shard, str(shards.uri), split, params.num_shards)
            )
        # One sink, last: the manifest is written after every file it lists (and Beam's Dask runner
        # computes only the graph of the pipeline's last transform).
        _ = (
            written
            | "All files" >> beam.Flatten()
            | "Collect files" >> beam.combiners.ToList()
            | "Write manifest" >> beam.Map(_write_manifest, str(shards.uri))
        )

    manifest = shards.manifest()
    vocab_sizes = {name: len(vocabulary.tokens(name)) for name in layout.names}
    vocabulary.properties.update({f"{name}_size": size for name, size in vocab_sizes.items()})
    shards.properties.update({"splits": {s: manifest["splits"][s]["records"] for s in manifest["splits"]}})
    context.log.metrics({f"vocabulary_size.{name}": size for name, size in vocab_sizes.items()})
    for name in layout.names:
        context.log.artifact(vocabulary.path(name), "vocabulary")
    context.progress(f"vocabularies {vocab_sizes}; shards {manifest['splits']['train']['files']}")


def _learn_wordpieces(word_counts: list[tuple[str, int]], vocab_size: int) -> list[str]:
    from models import text

    return text.learn_wordpieces(word_counts, vocab_size)


def _build_vocabularies(counted: list[tuple[tuple[str, str], int]], layout, wordpieces) -> dict[str, Entries]:
    by_name: dict[str, Entries] = {name: [] for name in layout.names}
    for (name, token), count in counted:
        by_name[name].append((token, count))
    return layout.vocabularies(by_name, wordpieces)


def _write_vocabularies(vocabularies: dict[str, Entries], folder: str) -> dict:
    for name, entries in vocabularies.items():
        _write_atomically(
            pathlib.Path(folder) / f"{name}.tsv",
            "".join(f"{artifacts.escape_token(token)}\t{count}\n" for token, count in entries).encode(),
        )
    return {"vocabularies": sorted(vocabularies)}


def _encode(batch: Sequence[dict[str, Any]], layout, vocabularies: dict[str, Entries]) -> Iterator[tuple]:
    """(input hash, serialized SequenceExample, token count) for each example; the layout keeps its TF objects."""
    return layout.encode(batch, vocabularies)


def shard_of(input_hash: str, num_shards: int) -> int:
    """The shard of a record: a stable hash of its input, so it does not move when other records change."""
    return int.from_bytes(hashlib.sha256(input_hash.encode("utf-8")).digest()[:8], "big") % num_shards


def shard_name(split: str, shard: int, num_shards: int) -> str:
    return f"{split}-{shard:05d}-of-{num_shards:05d}.tfrecord"


def _write_shard(group: tuple[int, Iterable[tuple[str, bytes, int]]], folder: str, split: str, num_shards: int) -> dict:
    import tensorflow as tf

    shard, items = group
    name = shard_name(split, shard, num_shards)
    path = pathlib.Path(folder) / name
    temporary = path.with_suffix(".partial")
    records = sorted(items)
    with tf.io.TFRecordWriter(str(temporary)) as writer:
        for _, serialized, _ in records:
            writer.write(serialized)
    temporary.rename(path)
    lengths = collections.Counter(length for _, _, length in records)
    tokens = sum(length * count for length, count in lengths.items())
    return {"split": split, "file": name, "records": len(records), "tokens": tokens, "lengths": dict(lengths)}


def _write_manifest(written: list[dict], folder: str) -> None:
    """The manifest of the shards, from what every write returned (the vocabularies' write included)."""
    splits: dict[str, dict[str, Any]] = {}
    entries = [entry for entry in written if "split" in entry]
    for entry in sorted(entries, key=lambda e: (e["split"], e["file"])):
        split = splits.setdefault(entry["split"], {"files": [], "records": 0, "tokens": 0, "lengths": {}})
        split["files"].append(entry["file"])
        split["records"] += entry["records"]
        split["tokens"] += entry["tokens"]
        for length, count in entry["lengths"].items():  # the lengths the trainer buckets by, for counting its steps
            split["lengths"][str(length)] = split["lengths"].get(str(length), 0) + count
    for split in splits.values():
        split["lengths"] = dict(sorted(split["lengths"].items(), key=lambda item: int(item[0])))
    manifest = json.dumps({"splits": splits}, indent=2, sort_keys=True) + "\n"
    _write_atomically(pathlib.Path(folder) / "manifest.json", manifest.encode())


def _write_atomically(path: pathlib.Path, content: bytes) -> None:
    temporary = path.with_suffix(path.suffix + ".partial")
    temporary.write_bytes(content)
    temporary.rename(path)
