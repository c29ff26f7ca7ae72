"""The preprocess stage: a Beam pipeline (DirectRunner, 2 worker processes) writing vocabularies and shards.

Most tests read the session's preprocessed tiny corpus (`preprocessed` in conftest); the determinism
tests run the stage a second time into another folder.
"""

from __future__ import annotations

import collections
import dataclasses
import pathlib

import pytest
import tensorflow as tf

from components.ingest import spec as ingest
from components.preprocess import spec as preprocess
from components.preprocess.executor import shard_of
from components.statistics import spec as statistics
from kinds.base.layout import ordered_vocabulary
from models import input_pipeline, text
from pipeline import artifacts
from pipeline.config import BeamConfig
from tests.conftest import TINY_DIR
from tests.stages.support import StageHarness, StageRun

RESERVED = {"words": text.RESERVED_TOKENS, "chars": text.RESERVED_TOKENS, "tags": text.RESERVED_TAGS}


def train_records(ingested: StageRun) -> list[dict]:
    return list(ingested.output("examples").read("train"))


def read_shard(file: pathlib.Path) -> list[dict]:
    """The SequenceExamples of one shard, parsed by the training input pipeline, in file order."""
    parsed = []
    for serialized in tf.data.TFRecordDataset(str(file)):
        features = input_pipeline.parse(serialized)
        parsed.append(
            {
                "key": features[text.KEY].numpy().decode(),
                "tokens": [t.decode() for t in features[text.TOKENS].numpy()],
                "tags": [t.decode() for t in features[text.TAGS].numpy()],
                "token_ids": features[text.TOKEN_IDS].numpy().tolist(),
                "tag_ids": features[text.TAG_IDS].numpy().tolist(),
            }
        )
    return parsed


def read_shards(shards: artifacts.Shards, split: str) -> list[dict]:
    """Every SequenceExample of a split, shard after shard."""
    return [parsed for file in shards.files(split) for parsed in read_shard(file)]


def featurizer(preprocessed: StageRun, preprocess_component) -> text.TaggerFeaturizer:
    """The featurizer the serving graph builds from the same vocabulary and parameters."""
    vocabulary = preprocessed.output("vocabulary")
    params = preprocess_component.parameters.preprocess
    return text.TaggerFeaturizer(
        vocabulary.tokens("words"),
        vocabulary.tokens("chars"),
        vocabulary.tokens("tags"),
        lowercase=params.lowercase,
        max_word_length=params.max_word_length,
    )


# ----------------------------------------------------------------------------------------------
# Vocabularies


def test_the_chain_preprocesses_on_the_direct_runner_with_two_processes(preprocessed):
    beam = preprocessed.context.beam

    assert beam.runner == "DirectRunner"
    assert beam.runner_options() == {"direct_num_workers": 2, "direct_running_mode": "multi_processing"}


def test_the_default_direct_runner_reads_small_examples_in_the_stages_process():
    small, large = BeamConfig.SMALL_INPUT_BYTES - 1, BeamConfig.SMALL_INPUT_BYTES
    assert BeamConfig().runner_options(small) == {"direct_num_workers": 1, "direct_running_mode": "in_memory"}
    assert BeamConfig().runner_options(large) == {"direct_num_workers": 2, "direct_running_mode": "multi_processing"}
    assert BeamConfig(options={"direct_num_workers": 3}).runner_options(small) == {"direct_num_workers": 3}


@pytest.mark.parametrize("name", ["words", "chars", "tags"])
def test_vocabulary_lists_reserved_tokens_first_then_by_count_then_token(preprocessed, name):
    entries = preprocessed.output("vocabulary").entries(name)
    reserved = RESERVED[name]

    assert entries[: len(reserved)] == [(token, 0) for token in reserved]
    counted = entries[len(reserved) :]
    assert counted == sorted(counted, key=lambda entry: (-entry[1], entry[0]))
    assert all(count > 0 for _, count in counted)


def test_word_vocabulary_counts_every_train_token(preprocessed, ingested):
    counts = collections.Counter(token for r in train_records(ingested) for token in r["tokens"])

    entries = preprocessed.output("vocabulary").entries("words")

    assert dict(entries[len(text.RESERVED_TOKENS) :]) == counts


def test_char_vocabulary_counts_the_characters_of_train_tokens(preprocessed, ingested, preprocess_component):
    max_length = preprocess_component.parameters.preprocess.max_word_length
    counts = collections.Counter(char for r in train_records(ingested) for t in r["tokens"] for char in t[:max_length])

    entries = preprocessed.output("vocabulary").entries("chars")

    assert dict(entries[len(text.RESERVED_TOKENS) :]) == counts


def test_tag_vocabulary_counts_train_tags(preprocessed, ingested):
    counts = collections.Counter(tag for r in train_records(ingested) for tag in r["tags"])

    entries = preprocessed.output("vocabulary").entries("tags")

    assert dict(entries[len(text.RESERVED_TAGS) :]) == counts


def test_vocabulary_sizes_are_recorded_as_properties(preprocessed):
    vocabulary = preprocessed.output("vocabulary")

    assert vocabulary.properties == {f"{name}_size": len(vocabulary.tokens(name)) for name in RESERVED}


def test_ordered_vocabulary_drops_rare_tokens_and_caps_the_size_reserved_included():
    counts = [("b", 2), ("a", 2), ("c", 5), ("rare", 1), ("[UNK]", 9)]

    entries = ordered_vocabulary(counts, reserved=("[PAD]", "[UNK]"), min_count=2, max_size=4)

    assert entries == [("[PAD]", 0), ("[UNK]", 0), ("c", 5), ("a", 2)]


# ----------------------------------------------------------------------------------------------
# Shards


def test_manifest_record_counts_equal_the_examples_counts(preprocessed, ingested):
    manifest = preprocessed.output("shards").manifest()["splits"]

    records = ingested.output("examples").properties["records"]
    assert {split: manifest[split]["records"] for split in manifest} == records
    assert preprocessed.output("shards").properties["splits"] == records


def test_manifest_token_counts_equal_the_examples_counts(preprocessed, ingested):
    examples = ingested.output("examples")
    manifest = preprocessed.output("shards").manifest()["splits"]

    for split in artifacts.SPLITS:
        assert manifest[split]["tokens"] == sum(len(r["tokens"]) for r in examples.read(split))


@pytest.mark.parametrize("split", artifacts.SPLITS)
def test_shards_hold_each_record_once_with_its_tokens_and_tags(preprocessed, ingested, split):
    expected = sorted((r["key"], r["tokens"], r["tags"]) for r in ingested.output("examples").read(split))

    parsed = read_shards(preprocessed.output("shards"), split)

    assert sorted((p["key"], p["tokens"], p["tags"]) for p in parsed) == expected


def input_hashes(ingested: StageRun) -> dict[str, str]:
    return {r["key"]: r["input_hash"] for split in artifacts.SPLITS for r in ingested.output("examples").read(split)}


def test_each_shard_is_sorted_by_input_hash(preprocessed, ingested):
    shards, hashes = preprocessed.output("shards"), input_hashes(ingested)

    for file in shards.files("train"):
        order = [hashes[p["key"]] for p in read_shard(file)]
        assert order == sorted(order), file.name


def test_a_record_is_in_the_shard_its_input_hash_picks(preprocessed, ingested):
    shards, hashes = preprocessed.output("shards"), input_hashes(ingested)
    num_shards = preprocessed.context.parameters.preprocess.num_shards

    for file in shards.files("train"):
        shard = int(file.name.split("-")[1])
        assert {shard_of(hashes[p["key"]], num_shards) for p in read_shard(file)} == {shard}


@pytest.mark.parametrize("split", artifacts.SPLITS)
def test_shard_token_ids_equal_the_serving_featurizer_ids(preprocessed, preprocess_component, split):
    parsed = read_shards(preprocessed.output("shards"), split)
    tokens = tf.ragged.constant([p["tokens"] for p in parsed], dtype=tf.string)

    expected = featurizer(preprocessed, preprocess_component).token_ids(tokens).to_list()

    assert [p["token_ids"] for p in parsed] == expected


def test_shard_tag_ids_index_the_tag_vocabulary(preprocessed):
    tags = preprocessed.output("vocabulary").tokens("tags")

    for p in read_shards(preprocessed.output("shards"), "train"):
        assert [tags[i] for i in p["tag_ids"]] == p["tags"]


# ----------------------------------------------------------------------------------------------
# Determinism


@pytest.fixture(scope="module")
def preprocessed_again(tmp_path_factory, preprocess_component, ingested, validated) -> StageRun:
    """The same stage on the same examples, into another folder."""
    harness = StageHarness(tmp_path_factory.mktemp("preprocess-again"))
    return harness.run(
        preprocess_component, examples=ingested.output("examples"), statistics=validated.output("statistics")
    )


def test_a_second_run_writes_byte_identical_vocabularies(preprocessed, preprocessed_again):
    first, second = preprocessed.output("vocabulary"), preprocessed_again.output("vocabulary")

    for name in RESERVED:
        assert first.path(name).read_bytes() == second.path(name).read_bytes(), name


def test_a_second_run_writes_the_same_manifest(preprocessed, preprocessed_again):
    first, second = preprocessed.output("shards"), preprocessed_again.output("shards")

    assert (first.uri / "manifest.json").read_bytes() == (second.uri / "manifest.json").read_bytes()


def test_a_second_run_writes_the_same_records_in_the_same_order(preprocessed, preprocessed_again):
    first, second = preprocessed.output("shards"), preprocessed_again.output("shards")

    for split in artifacts.SPLITS:
        assert read_shards(first, split) == read_shards(second, split)


def test_a_second_run_writes_byte_identical_shards(preprocessed, preprocessed_again):
    first, second = preprocessed.output("shards"), preprocessed_again.output("shards")

    for split in artifacts.SPLITS:
        for a, b in zip(first.files(split), second.files(split), strict=True):
            assert a.name == b.name
            assert a.read_bytes() == b.read_bytes(), a.name


def test_the_same_sentences_in_other_files_give_the_same_examples_in_the_same_order(
    tmp_path, tiny_task, tiny_config, preprocessed
):
    # The tiny corpus cut in two files with other names, which a glob reads in the other order: each
    # record's key changes, what the model is trained and scored on must not.
    lines = (TINY_DIR / "brown.txt").read_text(encoding="utf-8").splitlines(keepends=True)
    half = len(lines) // 2
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "b.txt").write_text("".join(lines[:half]), encoding="utf-8")
    (corpus / "a.txt").write_text("".join(lines[half:]), encoding="utf-8")
    task = dataclasses.replace(tiny_task, data=dataclasses.replace(tiny_task.data, train="*.txt"))
    config = dataclasses.replace(tiny_config, tasks=(task,), base_dir=corpus)
    harness = StageHarness(tmp_path / "runs")
    ingested = harness.run(ingest.component(task, config))
    validated = harness.run(
        statistics.component(task, config), examples=ingested.output("examples"), rejects=ingested.output("rejects")
    )
    again = harness.run(
        preprocess.component(task, config),
        examples=ingested.output("examples"),
        statistics=validated.output("statistics"),
    )

    def content(run: StageRun, split: str) -> list[tuple]:
        return [(p["tokens"], p["tags"], p["token_ids"]) for p in read_shards(run.output("shards"), split)]

    for split in artifacts.SPLITS:
        assert content(again, split) == content(preprocessed, split), split
    assert {p["key"].split(":")[0] for p in read_shards(again.output("shards"), "train")} == {"a.txt", "b.txt"}
