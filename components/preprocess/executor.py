"""Preprocess executor: an Apache Beam pipeline that counts vocabularies and writes TFRecord shards.

The runner and its options come from the config (DirectRunner in multi-processing mode by default),
so the same pipeline runs on Flink, Spark or Dataflow. Tokens become ids through
`models.text.TaggerFeaturizer`, the same TensorFlow code the exported model runs.

Shards are deterministic: a record goes to the shard picked by a hash of its key, and each shard is
written sorted by key, so the same examples give byte-identical files whatever the worker count.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import pathlib
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions

from pipeline import artifacts
from pipeline.component import StageContext
from pipeline.config import PreprocessConfig
from pipeline.runner import PROJECT_ROOT

_BATCH = {"min_batch_size": 32, "max_batch_size": 512}


def run(context: StageContext) -> None:
    params: PreprocessConfig = context.parameters.preprocess
    examples: artifacts.Examples = context.input("examples")
    vocabulary: artifacts.Vocabulary = context.output("vocabulary")
    shards: artifacts.Shards = context.output("shards")
    split_sizes = context.input("statistics").read()["records"]
    splits = [split for split in artifacts.SPLITS if split_sizes.get(split)]

    # flags=[]: the options come from the config, not from this process's command line. Beam's workers
    # log every bundle, and warn about optional cloud libraries: keep the console to the progress lines.
    options = PipelineOptions(
        flags=[], runner=context.beam.runner, **{"default_sdk_harness_log_level": "ERROR", **dict(context.beam.options)}
    )
    context.progress(f"Beam {context.beam.runner} {dict(context.beam.options)}")
    with _project_on_worker_path(), _quiet_logging(), beam.Pipeline(options=options) as p:
        records = {
            split: p
            | f"Read {split}" >> beam.io.ReadFromText(str(examples.split_path(split)))
            | f"Parse {split}" >> beam.Map(json.loads)
            for split in splits
        }
        counted = (
            records["train"]
            | "Batch for counting" >> beam.BatchElements(**_BATCH)
            | "Units" >> beam.ParDo(_VocabularyUnits(params.lowercase, params.max_word_length))
            | "Count" >> beam.combiners.Count.PerElement()
            | "Collect counts" >> beam.combiners.ToList()
        )
        vocabularies = counted | "Build vocabularies" >> beam.Map(_build_vocabularies, params)
        _ = vocabularies | "Write vocabularies" >> beam.Map(_write_vocabularies, str(vocabulary.uri))
        manifests = []
        for split in splits:
            written = (
                records[split]
                | f"Batch {split}" >> beam.BatchElements(**_BATCH)
                | f"Encode {split}"
                >> beam.ParDo(
                    _EncodeSequenceExamples(params.num_shards, params.lowercase, params.max_word_length),
                    beam.pvalue.AsSingleton(vocabularies),
                )
                | f"Group {split}" >> beam.GroupByKey()
                | f"Write {split}" >> beam.Map(_write_shard, str(shards.uri), split, params.num_shards)
            )
            manifests.append(written)
        _ = (
            manifests
            | "All shards" >> beam.Flatten()
            | "Collect shards" >> beam.combiners.ToList()
            | "Write manifest" >> beam.Map(_write_manifest, str(shards.uri))
        )

    manifest = shards.manifest()
    vocab_sizes = {name: len(vocabulary.tokens(name)) for name in ("words", "chars", "tags")}
    vocabulary.properties.update({f"{name}_size": size for name, size in vocab_sizes.items()})
    shards.properties.update({"splits": {s: manifest["splits"][s]["records"] for s in manifest["splits"]}})
    context.log.metrics({f"vocabulary_size.{name}": size for name, size in vocab_sizes.items()})
    for name in ("words", "chars", "tags"):
        context.log.artifact(vocabulary.path(name), "vocabulary")
    context.progress(f"vocabularies {vocab_sizes}; shards {manifest['splits']['train']['files']}")


@contextlib.contextmanager
def _quiet_logging() -> Iterator[None]:
    """Beam logs warnings about optional libraries (apitools, BigQuery) on the root logger; errors still show."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)


@contextlib.contextmanager
def _project_on_worker_path() -> Iterator[None]:
    """Beam's worker processes import this module by name: they need the project on their path."""
    before = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), before]))
    try:
        yield
    finally:
        if before is None:
            del os.environ["PYTHONPATH"]
        else:
            os.environ["PYTHONPATH"] = before


class _VocabularyUnits(beam.DoFn):
    """Emits ("words", form), ("chars", char) and ("tags", tag) for every token of a batch of records."""

    def __init__(self, lowercase: bool, max_word_length: int) -> None:
        self.lowercase = lowercase
        self.max_word_length = max_word_length

    def process(self, batch: Sequence[dict[str, Any]]) -> Iterator[tuple[str, str]]:
        import tensorflow as tf

        from models import text

        tokens = tf.ragged.constant([r["tokens"] for r in batch], dtype=tf.string)
        for form in text.normalize_words(tokens, self.lowercase).flat_values.numpy():
            yield "words", form.decode("utf-8")
        for char in text.split_chars(tokens, self.max_word_length).flat_values.numpy():
            yield "chars", char.decode("utf-8")
        for record in batch:
            for tag in record["tags"]:
                yield "tags", tag


def ordered_vocabulary(
    counts: Iterable[tuple[str, int]], reserved: Sequence[str], min_count: int, max_size: int | None
) -> list[tuple[str, int]]:
    """Reserved tokens first (count 0), then tokens by count descending, then by the token itself.

    Args:
        counts: (token, count) pairs.
        reserved: tokens that take the first ids; they are never counted as ordinary tokens.
        min_count: tokens seen fewer times are left out.
        max_size: the most entries in all, reserved ones included; None for no limit.
    """
    kept = sorted(
        ((token, count) for token, count in counts if count >= min_count and token not in reserved),
        key=lambda entry: (-entry[1], entry[0]),
    )
    entries = [(token, 0) for token in reserved] + kept
    return entries[:max_size] if max_size else entries


def _build_vocabularies(counted: list[tuple[tuple[str, str], int]], params: PreprocessConfig) -> dict[str, list]:
    from models import text

    by_name: dict[str, list[tuple[str, int]]] = {"words": [], "chars": [], "tags": []}
    for (name, token), count in counted:
        by_name[name].append((token, count))
    return {
        "words": ordered_vocabulary(by_name["words"], text.RESERVED_TOKENS, params.min_count, params.max_size),
        "chars": ordered_vocabulary(by_name["chars"], text.RESERVED_TOKENS, params.char_min_count, None),
        "tags": ordered_vocabulary(by_name["tags"], text.RESERVED_TAGS, 1, None),
    }


def _write_vocabularies(vocabularies: dict[str, list[tuple[str, int]]], folder: str) -> None:
    for name, entries in vocabularies.items():
        _write_atomically(
            pathlib.Path(folder) / f"{name}.tsv",
            "".join(f"{token}\t{count}\n" for token, count in entries).encode(),
        )


class _EncodeSequenceExamples(beam.DoFn):
    """Turns a batch of records into (shard, (key, serialized SequenceExample)) pairs."""

    def __init__(self, num_shards: int, lowercase: bool, max_word_length: int) -> None:
        self.num_shards = num_shards
        self.lowercase = lowercase
        self.max_word_length = max_word_length
        self._featurizer = None

    def process(self, batch: Sequence[dict[str, Any]], vocabularies: dict[str, list]) -> Iterator[tuple]:
        import tensorflow as tf

        if self._featurizer is None:  # built once per worker, from the side input
            from models import text

            self._featurizer = text.TaggerFeaturizer(
                *(([token for token, _ in vocabularies[name]]) for name in ("words", "chars", "tags")),
                lowercase=self.lowercase,
                max_word_length=self.max_word_length,
            )
        tokens = tf.ragged.constant([r["tokens"] for r in batch], dtype=tf.string)
        tags = tf.ragged.constant([r["tags"] for r in batch], dtype=tf.string)
        token_ids = self._featurizer.token_ids(tokens).to_list()
        char_ids = self._featurizer.char_ids(tokens).to_list()
        tag_ids = self._featurizer.tag_ids(tags).to_list()
        for i, record in enumerate(batch):
            example = _sequence_example(record, token_ids[i], char_ids[i], tag_ids[i])
            # deterministic: the protobuf maps in a SequenceExample otherwise serialize in hash order.
            serialized = example.SerializeToString(deterministic=True)
            yield shard_of(record["key"], self.num_shards), (record["key"], serialized, len(token_ids[i]))


def _sequence_example(record: dict[str, Any], token_ids: list, char_ids: list, tag_ids: list):
    import tensorflow as tf

    from models import text

    def strings(values):
        return [tf.train.Feature(bytes_list=tf.train.BytesList(value=[v.encode("utf-8")])) for v in values]

    def ints(values):
        return [tf.train.Feature(int64_list=tf.train.Int64List(value=[v])) for v in values]

    return tf.train.SequenceExample(
        context=tf.train.Features(
            feature={text.KEY: tf.train.Feature(bytes_list=tf.train.BytesList(value=[record["key"].encode()]))}
        ),
        feature_lists=tf.train.FeatureLists(
            feature_list={
                text.TOKENS: tf.train.FeatureList(feature=strings(record["tokens"])),
                text.TAGS: tf.train.FeatureList(feature=strings(record["tags"])),
                text.TOKEN_IDS: tf.train.FeatureList(feature=ints(token_ids)),
                text.TAG_IDS: tf.train.FeatureList(feature=ints(tag_ids)),
                text.CHAR_IDS: tf.train.FeatureList(
                    feature=[tf.train.Feature(int64_list=tf.train.Int64List(value=ids)) for ids in char_ids]
                ),
            }
        ),
    )


def shard_of(key: str, num_shards: int) -> int:
    """The shard of a record: a stable hash of its key, so it does not move when other records change."""
    return int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:8], "big") % num_shards


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
    tokens = sum(length for _, _, length in records)
    return {"split": split, "file": name, "records": len(records), "tokens": tokens}


def _write_manifest(entries: list[dict], folder: str) -> None:
    splits: dict[str, dict[str, Any]] = {}
    for entry in sorted(entries, key=lambda e: (e["split"], e["file"])):
        split = splits.setdefault(entry["split"], {"files": [], "records": 0, "tokens": 0})
        split["files"].append(entry["file"])
        split["records"] += entry["records"]
        split["tokens"] += entry["tokens"]
    manifest = json.dumps({"splits": splits}, indent=2, sort_keys=True) + "\n"
    _write_atomically(pathlib.Path(folder) / "manifest.json", manifest.encode())


def _write_atomically(path: pathlib.Path, content: bytes) -> None:
    temporary = path.with_suffix(path.suffix + ".partial")
    temporary.write_bytes(content)
    temporary.rename(path)
