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

No step holds the corpus in memory. Shards are written by an external sort (`components.beam.sorted_runs`):
each worker buffers the records it encodes, at most `SPILL_BYTES` of them, and writes each shard's part of
the buffer out as a sorted run file in a scratch folder of the shards' folder (which every worker writes
shards to, so every worker reaches it); only (shard, run path) pairs go through `GroupByKey`, and each
shard is a streamed merge of its runs (`_write_shard`), which deletes them. The runners hold in memory
what goes through `GroupByKey` and what passes between steps they do not fuse (the FnApiRunner's
buffers, Dask's partitions), and a step whose side input is made from the same records (encoding takes
the vocabularies counted from train) is not fused with the steps before it: so counting and encoding
each read the examples' blocks themselves, rather than share one read that the runner would hold whole
between them. What is still collected whole is the size of the vocabularies (the counts, and the files'
manifest entries), not of the corpus.
"""

from __future__ import annotations

import collections
import json
import pathlib
import shutil
from collections.abc import Iterable, Iterator
from typing import Any

import apache_beam as beam

import kinds
from components.beam import io, runners, sorted_runs
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
    runs = shards.uri / sorted_runs.RUNS_FOLDER
    runs.mkdir(parents=True, exist_ok=True)
    try:
        with runners.pipeline(context.beam, size) as p:
            _build(p, layout, params, splits, examples, str(vocabulary.uri), str(shards.uri), str(runs))
    finally:
        shutil.rmtree(runs, ignore_errors=True)

    manifest = shards.manifest()
    vocab_sizes = {name: len(vocabulary.tokens(name)) for name in layout.names}
    vocabulary.properties.update({f"{name}_size": size for name, size in vocab_sizes.items()})
    shards.properties.update({"splits": {s: manifest["splits"][s]["records"] for s in manifest["splits"]}})
    context.log.metrics({f"vocabulary_size.{name}": size for name, size in vocab_sizes.items()})
    for name in layout.names:
        context.log.artifact(vocabulary.path(name), "vocabulary")
    context.progress(f"vocabularies {vocab_sizes}; shards {manifest['splits']['train']['files']}")


def _build(p, layout, params: PreprocessConfig, splits, examples, vocabulary: str, shards: str, runs: str) -> None:
    blocks = {
        split: p | f"Blocks of {split}" >> beam.Create(io.read_blocks(examples.split_path(split))) for split in splits
    }

    # A step with a side input that an earlier step of the same records makes (counting units waits on the
    # wordpieces, encoding on the vocabularies) cannot be fused with that step, and the runner would hold
    # the records between the two: such steps read their blocks themselves (`_over_blocks`).
    if layout.learns_wordpieces:
        wordpieces = (
            blocks["train"]
            | "Count words" >> beam.FlatMap(_over_blocks, layout.pretoken_counts)
            | "Sum words" >> beam.CombinePerKey(sum)
            | "Collect words" >> beam.combiners.ToList()
            | "Learn wordpieces" >> beam.Map(_learn_wordpieces, params.wordpiece_vocab_size)
        )
    else:
        wordpieces = p | "No wordpieces" >> beam.Create([None])
    counted = (
        blocks["train"]
        | "Count units" >> beam.FlatMap(_over_blocks, layout.unit_counts, beam.pvalue.AsSingleton(wordpieces))
        | "Sum counts" >> beam.CombinePerKey(sum)
        | "Collect counts" >> beam.combiners.ToList()
    )
    vocabularies = counted | "Build vocabularies" >> beam.Map(
        _build_vocabularies, layout, beam.pvalue.AsSingleton(wordpieces)
    )
    written = [vocabularies | "Write vocabularies" >> beam.Map(_write_vocabularies, vocabulary)]
    for split in splits:
        written.append(
            blocks[split]
            | f"Encode {split}" >> beam.FlatMap(_over_blocks, layout.encode, beam.pvalue.AsSingleton(vocabularies))
            | f"Sort runs of {split}" >> beam.ParDo(sorted_runs.SpillRuns(runs, split, params.num_shards))
            | f"Group {split}" >> beam.GroupByKey()
            | f"Write {split}" >> beam.Map(_write_shard, shards, split, params.num_shards)
        )
    # One sink, last: the manifest is written after every file it lists (and Beam's Dask runner
    # computes only the graph of the pipeline's last transform).
    _ = (
        written
        | "All files" >> beam.Flatten()
        | "Collect files" >> beam.combiners.ToList()
        | "Write manifest" >> beam.Map(_write_manifest, shards)
    )


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


def _over_blocks(block: tuple[str, int, int], step, *args) -> Iterator:
    """What `step(batch, *args)` gives for each batch of a block's records (the layout's counts, or its
    (input hash, serialized SequenceExample, token count) for each example; it keeps its TF objects)."""
    for batch in io.read_block(block):
        yield from step(batch, *args)


def shard_of(input_hash: str, num_shards: int) -> int:
    """The shard of a record: a stable hash of its input, so it does not move when other records change."""
    return sorted_runs.partition_of(input_hash, num_shards)


def shard_name(split: str, shard: int, num_shards: int) -> str:
    return f"{split}-{shard:05d}-of-{num_shards:05d}.tfrecord"


def _write_shard(group: tuple[int, Iterable[str]], folder: str, split: str, num_shards: int) -> dict:
    """Merges the sorted runs of one shard into its TFRecord file (deleting the runs); its manifest entry."""
    import tensorflow as tf

    shard, runs = group
    name = shard_name(split, shard, num_shards)
    path = pathlib.Path(folder) / name
    temporary = path.with_suffix(".partial")
    lengths: collections.Counter[int] = collections.Counter()
    with tf.io.TFRecordWriter(str(temporary)) as writer:
        for _, serialized, length in sorted_runs.merged(sorted(runs)):
            writer.write(serialized)
            lengths[length] += 1
    temporary.rename(path)
    tokens = sum(length * count for length, count in lengths.items())
    return {"split": split, "file": name, "records": lengths.total(), "tokens": tokens, "lengths": dict(lengths)}


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
