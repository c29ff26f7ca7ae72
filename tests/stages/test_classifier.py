"""The classifier path through all six stages, on a tiny hand-made tsv corpus of short movie reviews.

The polarity word of a review decides its label, so the TF-IDF baseline is strong and a tiny model
trained one epoch is not: these tests check that each stage does its job, not that the model is good.
One chain (ingest -> statistics -> preprocess -> train -> evaluate -> export, `regex` tokenizer,
lowercased, NFKC) is built per module and lazily; a `wordpiece` preprocess runs beside it on the same
examples. Tests read the chain's artifacts and must not modify them.

Tokenization is checked end to end: the ids the Beam preprocess wrote into the shards must be the ids the
exported graph computes from the same string. The exported graph feeds its ids to the model and
returns only probabilities, so the ids are read out through a *probe*: the export stage's own
`serving_module` (its tokenizer, vocabulary lookup, lowercasing and padding) wrapped around a Keras model
whose logits spell out the ids it is given, saved as a SavedModel and loaded back.
"""

from __future__ import annotations

import collections
import dataclasses
import itertools
import json
import math
import os
import pathlib
import random
import shutil
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

import models.classifier  # noqa: F401  (registers the custom layers for loading)
from components.evaluate import spec as evaluate
from components.export import spec as export
from components.ingest import spec as ingest
from components.preprocess import spec as preprocess
from components.statistics import spec as statistics
from components.train import spec as train
from kinds.base.settings import CharactersPreprocess, TokenBudgetTrain
from kinds.classifier import export as export_classifier
from kinds.classifier.settings import ClassifierModel, ClassifierTask
from models import text
from models.pooling import AttentionPooling, LastStatePooling, MaskedMaxPooling, MaskedMeanPooling
from pipeline import artifacts, content
from pipeline.config import (
    BeamConfig,
    DataConfig,
    EvaluateConfig,
    ExportConfig,
    PipelineConfig,
    PreprocessConfig,
    SplitConfig,
    TaskConfig,
)
from tests.stages.support import StageHarness, StageRun, write_blessing, write_examples

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
LABELS = ("positive", "negative")
POSITIVE = ("great", "wonderful", "superb", "lovely", "brilliant", "delightful", "moving", "charming")
NEGATIVE = ("awful", "terrible", "dull", "boring", "dreadful", "bland", "clumsy", "tedious")
SUBJECTS = ("The film", "This movie", "The plot", "Its cast", "The ending", "Our evening", "The score", "Each scene")
VERBS = ("was", "felt", "seemed", "is", "looked")
# Reviews that exercise the tokenizer: case, a ligature (NFKC makes "ﬁlm" "film"), a contraction, a number,
# runs of spaces, an ellipsis, quotes, accents, a dash, guillemets and an emoji.
TRICKY = (
    ("positive", "The ﬁlm was GREAT, didn't you think?"),
    ("negative", "It cost $3.50 and felt    dull..."),
    ("positive", "Café scenes: lovely — really!"),
    ("negative", "« Boring » film 😴"),
    ("positive", "A  superb ``film'' , truly"),
    ("negative", "Tedious, TEDIOUS, tedious."),  # an eval text longer than the others (splits by content)
)
# (file, line) -> (bad line, the reason ingest gives). Lines are 1-based; the blank line 3 of reviews.tsv is
# layout, neither a record nor a reject.
BAD_LINES = {
    ("reviews.tsv", 5): ("no tab in this line at all", "wrong column count: 1 (expected 2)"),
    ("reviews.tsv", 40): ("\tan unlabelled review", "empty label"),
    ("reviews.tsv", 77): ("negative\t   ", "empty text"),
    ("extra.tsv", 2): ("positive\ta fine\tfilm", "wrong column count: 3 (expected 2)"),
}
BLANK_LINE = ("reviews.tsv", 3)
REVIEWS, EXTRA = 110, 12  # good lines of each file
IN_PROCESS = BeamConfig(options={})  # the DirectRunner in this process, one worker
WORDPIECE_VOCAB_SIZE = 60  # with this corpus: some whole words ("the", "was"), other words cut into pieces


def reviews(count: int, seed: int) -> list[tuple[str, str]]:
    """`count` (label, text) pairs, about 60% positive; the polarity word decides the label."""
    rng = random.Random(seed)
    pairs = []
    for _ in range(count):
        label = "positive" if rng.random() < 0.6 else "negative"
        word = rng.choice(POSITIVE if label == "positive" else NEGATIVE)
        pairs.append((label, f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {word}."))
    return pairs


def write_corpus(folder: pathlib.Path) -> None:
    """Writes `reviews.tsv` (the tricky reviews, then generated ones) and `extra.tsv`, with the bad lines and
    the blank line where BAD_LINES and BLANK_LINE put them."""
    good = {"reviews.tsv": list(TRICKY) + reviews(REVIEWS - len(TRICKY), seed=8), "extra.tsv": reviews(EXTRA, seed=9)}
    for name, pairs in good.items():
        lines = [f"{label}\t{review}" for label, review in pairs]
        inserts = {line: bad for (file, line), (bad, _) in BAD_LINES.items() if file == name}
        if name == BLANK_LINE[0]:
            inserts[BLANK_LINE[1]] = "   "
        for number in sorted(inserts):  # in line order, so that each lands on its line
            lines.insert(number - 1, inserts[number])
        (folder / name).write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def classifier_task(**changes) -> TaskConfig:
    """The tiny classifier task; `changes` replace whole sections (`preprocess=CharactersPreprocess(...)`)."""
    task = ClassifierTask(
        name="reviews",
        kind="classifier",
        data=DataConfig(format="tsv", train="*.tsv", split=SplitConfig(eval=0.2, test=0.2), max_reject_fraction=0.05),
        preprocess=CharactersPreprocess(tokenizer="regex", lowercase=True, normalization="nfkc"),
        model=ClassifierModel(embedding_dim=8, hidden_dim=8, pooling="attention"),
        train=TokenBudgetTrain(epochs=1, batch_size=16),
    )
    return dataclasses.replace(task, **changes)


def wordpiece_task() -> TaskConfig:
    return classifier_task(
        preprocess=CharactersPreprocess(
            tokenizer="wordpiece", lowercase=True, normalization="nfkc", wordpiece_vocab_size=WORDPIECE_VOCAB_SIZE
        )
    )


def read_shards(shards: artifacts.Shards, split: str) -> list[dict]:
    """The examples of a split's shards, parsed with the protobuf classes (not the training input pipeline)."""
    examples = []
    for path in shards.files(split):
        for record in tf.data.TFRecordDataset(str(path)).as_numpy_iterator():
            example = tf.train.SequenceExample.FromString(record)
            context, lists = example.context.feature, example.feature_lists.feature_list
            examples.append(
                {
                    **{key: context[key].bytes_list.value[0].decode() for key in (text.KEY, text.TEXT, text.LABEL)},
                    text.LABEL_ID: context[text.LABEL_ID].int64_list.value[0],
                    text.TOKENS: [f.bytes_list.value[0].decode() for f in lists[text.TOKENS].feature],
                    text.TOKEN_IDS: [f.int64_list.value[0] for f in lists[text.TOKEN_IDS].feature],
                }
            )
    return examples


def all_shard_examples(shards: artifacts.Shards) -> list[dict]:
    return [example for split in shards.manifest()["splits"] for example in read_shards(shards, split)]


# ----------------------------------------------------------------------------------------------
# The chain, built once per module


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory) -> pathlib.Path:
    folder = tmp_path_factory.mktemp("reviews")
    write_corpus(folder)
    return folder


@pytest.fixture(scope="module")
def clf_task() -> TaskConfig:
    return classifier_task()


@pytest.fixture(scope="module")
def clf_config(clf_task, corpus_dir) -> PipelineConfig:
    return PipelineConfig(tasks=(clf_task,), seed=8, base_dir=corpus_dir)


@pytest.fixture(scope="module")
def clf_chain(tmp_path_factory) -> StageHarness:
    """The chain's harness: DirectRunner in multi-processing mode with 2 workers, as configured by default."""
    return StageHarness(tmp_path_factory.mktemp("classifier-chain"))


@pytest.fixture(scope="module")
def clf_ingested(clf_chain, clf_task, clf_config) -> StageRun:
    return clf_chain.run(ingest.component(clf_task, clf_config))


@pytest.fixture(scope="module")
def clf_validated(clf_chain, clf_task, clf_config, clf_ingested) -> StageRun:
    return clf_chain.run(
        statistics.component(clf_task, clf_config),
        examples=clf_ingested.output("examples"),
        rejects=clf_ingested.output("rejects"),
    )


def run_preprocess(harness: StageHarness, task: TaskConfig, config: PipelineConfig, ingested, validated) -> StageRun:
    return harness.run(
        preprocess.component(task, config),
        examples=ingested.output("examples"),
        statistics=validated.output("statistics"),
    )


@pytest.fixture(scope="module")
def clf_preprocessed(clf_chain, clf_task, clf_config, clf_ingested, clf_validated) -> StageRun:
    return run_preprocess(clf_chain, clf_task, clf_config, clf_ingested, clf_validated)


@pytest.fixture(scope="module")
def wordpiece_preprocessed(tmp_path_factory, clf_config, clf_ingested, clf_validated) -> StageRun:
    """The `wordpiece` tokenizer on the same examples (statistics cut words with `regex` either way), in one
    in-process Beam worker, which is ten times faster here than two worker processes (the e2e test runs
    `wordpiece` with those)."""
    harness = StageHarness(tmp_path_factory.mktemp("wordpiece"), beam=IN_PROCESS)
    return run_preprocess(harness, wordpiece_task(), clf_config, clf_ingested, clf_validated)


@pytest.fixture(scope="module")
def clf_trained(clf_chain, clf_task, clf_config, clf_preprocessed) -> StageRun:
    return clf_chain.run(
        train.component(clf_task, clf_config),
        shards=clf_preprocessed.output("shards"),
        vocabulary=clf_preprocessed.output("vocabulary"),
    )


def run_evaluate(harness: StageHarness, task: TaskConfig, config, ingested, preprocessed, trained) -> StageRun:
    return harness.run(
        evaluate.component(task, config),
        model=trained.output("model"),
        shards=preprocessed.output("shards"),
        vocabulary=preprocessed.output("vocabulary"),
        examples=ingested.output("examples"),
    )


@pytest.fixture(scope="module")
def clf_evaluated(clf_chain, clf_task, clf_config, clf_ingested, clf_preprocessed, clf_trained) -> StageRun:
    return run_evaluate(clf_chain, clf_task, clf_config, clf_ingested, clf_preprocessed, clf_trained)


def run_export(harness: StageHarness, task, config, blessing, ingested, preprocessed, trained, evaluated) -> StageRun:
    return harness.run(
        export.component(task, config),
        model=trained.output("model"),
        vocabulary=preprocessed.output("vocabulary"),
        blessing=blessing,
        evaluation=evaluated.output("evaluation"),
        examples=ingested.output("examples"),
    )


@pytest.fixture(scope="module")
def clf_exported(
    clf_chain, tmp_path_factory, clf_task, clf_config, clf_ingested, clf_preprocessed, clf_trained, clf_evaluated
) -> StageRun:
    """The chain's model exported with a blessing made by hand (one epoch does not beat TF-IDF)."""
    blessing = write_blessing(tmp_path_factory.mktemp("blessing"), blessed=True, reason="blessed for the test")
    return run_export(
        clf_chain, clf_task, clf_config, blessing, clf_ingested, clf_preprocessed, clf_trained, clf_evaluated
    )


@pytest.fixture(scope="module")
def serving_dir(clf_exported) -> pathlib.Path:
    return clf_exported.context.task_dir / "serving"


# ----------------------------------------------------------------------------------------------
# Ingest


def test_ingest_rejects_the_bad_lines_naming_file_and_line(clf_ingested):
    rejects = clf_ingested.output("rejects")

    found = sorted((r["source"], r["line"], r["reason"], r["text"]) for r in rejects.read())
    expected = sorted((file, line, reason, bad) for (file, line), (bad, reason) in BAD_LINES.items())
    assert found == expected
    assert rejects.properties == {"rejects": len(BAD_LINES), "input_records": REVIEWS + EXTRA + len(BAD_LINES)}


def test_ingest_examples_carry_text_and_label_keyed_by_file_and_line(clf_ingested, corpus_dir):
    examples = clf_ingested.output("examples")
    records = {r["key"]: r for split in artifacts.SPLITS for r in examples.read(split)}

    assert examples.properties["format"] == "tsv"
    assert examples.properties["fields"] == ["text", "label"]
    assert sum(examples.properties["records"].values()) == len(records) == REVIEWS + EXTRA
    assert all(examples.properties["records"][split] > 0 for split in artifacts.SPLITS)
    assert all(set(record) == {"key", "input_hash", "text", "label"} for record in records.values())
    # Every good line is one record: its columns, stripped, under the key `file:line`.
    bad = {f"{file}:{line}" for file, line in [*BAD_LINES, BLANK_LINE]}
    for name in ("reviews.tsv", "extra.tsv"):
        lines = (corpus_dir / name).read_text(encoding="utf-8").split("\n")[:-1]
        for number, line in enumerate(lines, start=1):
            if f"{name}:{number}" in bad:
                assert f"{name}:{number}" not in records
                continue
            label, review = line.split("\t")
            expected = {"key": f"{name}:{number}", "text": review.strip(), "label": label}
            assert records[f"{name}:{number}"] == {**expected, "input_hash": content.input_hash(review)}


def test_statistics_count_the_labels_per_split(clf_ingested, clf_validated):
    examples = clf_ingested.output("examples")
    stats = clf_validated.output("statistics").read()

    for split in artifacts.SPLITS:
        counts = collections.Counter(r["label"] for r in examples.read(split))
        assert stats["labels"][split] == dict(counts)
    assert stats["rejects"] == len(BAD_LINES)


# ----------------------------------------------------------------------------------------------
# Preprocess: vocabularies and shards


def assert_ordered_by_count(entries: list[tuple[str, int]]) -> None:
    """Counts descending, ties broken by the token."""
    for (token, count), (next_token, next_count) in itertools.pairwise(entries):
        assert count > next_count or (count == next_count and token < next_token), (token, count, next_token)


def test_words_start_with_the_reserved_tokens_then_follow_the_train_counts(clf_preprocessed):
    vocabulary = clf_preprocessed.output("vocabulary")
    entries = vocabulary.entries("words")
    reserved = len(text.RESERVED_TOKENS)

    assert entries[:reserved] == [(token, 0) for token in text.RESERVED_TOKENS]
    assert_ordered_by_count(entries[reserved:])
    # The counts are those of the (lowercased) tokens of the training shards, every one of them kept.
    train_tokens = [t.lower() for e in read_shards(clf_preprocessed.output("shards"), "train") for t in e[text.TOKENS]]
    assert dict(entries[reserved:]) == dict(collections.Counter(train_tokens))
    assert vocabulary.properties["words_size"] == len(entries)


def test_labels_have_no_reserved_entries_and_follow_the_train_counts(clf_preprocessed, clf_ingested):
    entries = clf_preprocessed.output("vocabulary").entries("labels")
    train = collections.Counter(r["label"] for r in clf_ingested.output("examples").read("train"))

    assert not set(text.RESERVED_TOKENS) & {label for label, _ in entries}
    assert entries == sorted(train.items(), key=lambda item: (-item[1], item[0]))
    assert {label for label, _ in entries} == set(LABELS)


def test_shards_hold_every_example_with_its_label_id(clf_preprocessed, clf_ingested):
    shards, vocabulary = clf_preprocessed.output("shards"), clf_preprocessed.output("vocabulary")
    labels = vocabulary.tokens("labels")
    examples = clf_ingested.output("examples")

    for split in artifacts.SPLITS:
        written = {e[text.KEY]: e for e in read_shards(shards, split)}
        records = {r["key"]: r for r in examples.read(split)}
        assert sorted(written) == sorted(records)
        assert shards.properties["splits"][split] == len(records)
        for key, example in written.items():
            assert (example[text.TEXT], example[text.LABEL]) == (records[key]["text"], records[key]["label"])
            assert example[text.LABEL_ID] == labels.index(example[text.LABEL])
            assert len(example[text.TOKEN_IDS]) == len(example[text.TOKENS]) > 0


def test_regex_tokens_are_normalized_and_looked_up_lowercased(clf_preprocessed):
    """NFKC turns the ligature "ﬁ" into "fi"; the lookup lowercases "GREAT"; "didn't" and "3.50" stay whole."""
    by_text = {e[text.TEXT]: e for e in all_shard_examples(clf_preprocessed.output("shards"))}
    words = clf_preprocessed.output("vocabulary").tokens("words")

    great = by_text["The ﬁlm was GREAT, didn't you think?"]
    assert great[text.TOKENS] == ["The", "film", "was", "GREAT", ",", "didn't", "you", "think", "?"]
    cost = by_text["It cost $3.50 and felt    dull..."]
    assert cost[text.TOKENS] == ["It", "cost", "$", "3.50", "and", "felt", "dull", "..."]
    for example in (great, cost):
        expected = [words.index(t.lower()) if t.lower() in words else text.UNK_ID for t in example[text.TOKENS]]
        assert example[text.TOKEN_IDS] == expected


def test_wordpiece_vocabulary_is_learned_with_the_reserved_tokens_first(wordpiece_preprocessed, clf_preprocessed):
    vocabulary = wordpiece_preprocessed.output("vocabulary")
    pieces = vocabulary.tokens("wordpieces")

    assert vocabulary.path("wordpieces").is_file()
    assert pieces[: len(text.RESERVED_TOKENS)] == list(text.RESERVED_TOKENS)
    assert len(set(pieces)) == len(pieces)
    assert any(p.startswith(text.WORDPIECE_SUFFIX) for p in pieces)
    assert len(pieces) <= 2 * WORDPIECE_VOCAB_SIZE
    # The word vocabulary holds the pieces the training texts were cut into.
    words = vocabulary.entries("words")
    assert words[: len(text.RESERVED_TOKENS)] == [(token, 0) for token in text.RESERVED_TOKENS]
    assert_ordered_by_count(words[len(text.RESERVED_TOKENS) :])
    assert {token for token, _ in words} <= set(pieces)
    assert vocabulary.entries("labels") == clf_preprocessed.output("vocabulary").entries("labels")


def test_wordpiece_shards_hold_the_longest_match_pieces_of_each_word(wordpiece_preprocessed):
    """Each word is cut greedily into the longest pieces of the vocabulary (`##` marks a continuation),
    a word that cannot be cut becomes [UNK]; some polarity words are outside the vocabulary and get cut."""
    pieces = wordpiece_preprocessed.output("vocabulary").tokens("wordpieces")
    outside = [word for word in POSITIVE + NEGATIVE if word not in pieces]
    assert outside, "every polarity word became a wordpiece: lower WORDPIECE_VOCAB_SIZE"
    words_of = text.TextTokenizer(
        "wordpiece", pattern=PreprocessConfig.token_pattern, normalization="nfkc", lowercase=True
    ).pretokenize

    cut = set()
    for example in all_shard_examples(wordpiece_preprocessed.output("shards")):
        words = [w.decode() for w in words_of(tf.constant([example[text.TEXT]]))[0].numpy()]
        assert example[text.TOKENS] == [p for word in words for p in pieces_of(word, pieces)], example[text.TEXT]
        cut |= set(words) & set(outside)
    assert cut, "no polarity word outside the wordpiece vocabulary in the corpus"
    for word in cut:
        first, *rest = pieces_of(word, pieces)
        assert rest and not first.startswith(text.WORDPIECE_SUFFIX), (word, first, rest)
        assert all(p.startswith(text.WORDPIECE_SUFFIX) for p in rest)
        assert "".join([first, *(p[len(text.WORDPIECE_SUFFIX) :] for p in rest)]) == word


def pieces_of(word: str, pieces: list[str]) -> list[str]:
    """Greedy longest-match-first wordpieces of `word` (as BERT and tensorflow-text cut it)."""
    out, start = [], 0
    while start < len(word):
        for end in range(len(word), start, -1):
            piece = word[start:end] if start == 0 else text.WORDPIECE_SUFFIX + word[start:end]
            if piece in pieces:
                out.append(piece)
                start = end
                break
        else:
            return [text.RESERVED_TOKENS[text.UNK_ID]]
    return out


# ----------------------------------------------------------------------------------------------
# The same string gives the same ids in the Beam preprocess and in the exported graph

PROBE_STEPS = 96  # token ids read out per text (the longest review is far shorter, in pieces too)
PROBE_TOP = 30.0  # the logit of column 0, above every id's: the served label stays a valid index
PROBE_SCALE = 0.1  # logit per unit of id: every id * PROBE_SCALE must stay below PROBE_TOP


@keras.saving.register_keras_serializable(package="seqpipe_tests")
class IdProbe(keras.layers.Layer):
    """Logits that spell out the token ids a model is given: column 0 is PROBE_TOP, column 1 + t is
    PROBE_SCALE * (the id at step t), 0 past the last step. Softmax keeps the differences of logits, so
    `probe_ids` reads the ids back from the served probabilities."""

    def call(self, token_ids):
        ids = tf.cast(token_ids[:, :PROBE_STEPS], tf.float32) * PROBE_SCALE
        ids = tf.pad(ids, [[0, 0], [0, PROBE_STEPS - tf.shape(ids)[1]]])
        return tf.concat([tf.fill([tf.shape(ids)[0], 1], PROBE_TOP), ids], axis=1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], PROBE_STEPS + 1)


def probe_ids(probabilities: np.ndarray) -> list[list[int]]:
    """The token ids `IdProbe` spelled out, padding (id 0) cut."""
    logs = np.log(probabilities.astype(np.float64))
    ids = np.rint((logs[:, 1:] - logs[:, :1] + PROBE_TOP) / PROBE_SCALE).astype(int)
    rows = []
    for row in ids:
        assert row[-1] == 0, "a text has more tokens than PROBE_STEPS"
        length = int(np.flatnonzero(row)[-1]) + 1 if row.any() else 0
        rows.append(row[:length].tolist())
    return rows


def probe_saved_model(folder: pathlib.Path, task: TaskConfig, config, vocabulary: artifacts.Vocabulary):
    """The export stage's serving module (tokenizer, lookup, padding) around an `IdProbe` model, saved as a
    SavedModel the way the export stage saves it and loaded back: its `serving_default` signature."""
    assert len(vocabulary.tokens("words")) * PROBE_SCALE < PROBE_TOP
    token_ids = keras.Input((None,), dtype="int32", name=text.TOKEN_IDS)
    model = keras.Model({text.TOKEN_IDS: token_ids}, IdProbe()(token_ids))
    model_artifact = artifacts.Model(folder / "model")
    model_artifact.uri.mkdir(parents=True)
    model.save(model_artifact.path)
    module = export_classifier.serving_module(model_artifact, vocabulary, export.component(task, config).parameters)
    tf.saved_model.save(module, str(folder / "saved_model"), signatures=module.signatures())
    return tf.saved_model.load(str(folder / "saved_model")).signatures["serving_default"]


def assert_same_ids_as_the_shards(preprocessed: StageRun, serve) -> None:
    examples = all_shard_examples(preprocessed.output("shards"))
    served = serve(text=tf.constant([e[text.TEXT] for e in examples]))["probabilities"].numpy()
    ids = probe_ids(served)

    different = [
        (e[text.TEXT], e[text.TOKENS], e[text.TOKEN_IDS], got)
        for e, got in zip(examples, ids, strict=True)
        if e[text.TOKEN_IDS] != got
    ]
    assert not different, f"{len(different)} of {len(examples)} texts get other ids when served: {different[:3]}"
    assert len(examples) == REVIEWS + EXTRA


def test_probe_reads_back_the_ids_it_is_given():
    """The control: IdProbe and probe_ids round-trip ids, so a mismatch below is the tokenizer's."""
    token_ids = keras.Input((None,), dtype="int32", name=text.TOKEN_IDS)
    model = keras.Model({text.TOKEN_IDS: token_ids}, IdProbe()(token_ids))
    given = np.array([[4, 17, 250, 0, 0], [1, 0, 0, 0, 0], [0, 0, 0, 0, 0]], "int32")

    probabilities = tf.nn.softmax(model({text.TOKEN_IDS: given})).numpy()

    assert probe_ids(probabilities) == [[4, 17, 250], [1], []]


def test_regex_ids_of_the_shards_are_the_ids_of_the_exported_graph(tmp_path, clf_task, clf_config, clf_preprocessed):
    serve = probe_saved_model(tmp_path, clf_task, clf_config, clf_preprocessed.output("vocabulary"))

    assert_same_ids_as_the_shards(clf_preprocessed, serve)


def test_wordpiece_ids_of_the_shards_are_the_ids_of_the_exported_graph(tmp_path, clf_config, wordpiece_preprocessed):
    serve = probe_saved_model(tmp_path, wordpiece_task(), clf_config, wordpiece_preprocessed.output("vocabulary"))

    assert_same_ids_as_the_shards(wordpiece_preprocessed, serve)


def test_the_pushed_model_looks_words_up_in_the_vocabulary(serving_dir, clf_preprocessed):
    """The lookup table inside the pushed SavedModel maps each word to its line in `words.tsv`."""
    table = tf.saved_model.load(str(serving_dir / "1")).word_table
    keys, values = tf.raw_ops.LookupTableExportV2(table_handle=table.resource_handle, Tkeys=tf.string, Tvalues=tf.int64)

    exported = dict(zip((k.decode() for k in keys.numpy()), values.numpy().tolist(), strict=True))
    words = clf_preprocessed.output("vocabulary").tokens("words")
    assert exported == {word: index for index, word in enumerate(words)}


# ----------------------------------------------------------------------------------------------
# Determinism: the same config twice gives the same bytes

RUN_FILES = {artifacts.ARTIFACT_FILE}  # artifact.json holds the harness's fingerprint


def files_of(folder: pathlib.Path) -> dict[str, bytes]:
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path.name not in RUN_FILES
    }


@pytest.mark.parametrize("tokenizer", ["regex", "wordpiece"])
def test_preprocess_twice_writes_byte_identical_vocabularies_and_shards(
    tokenizer, request, tmp_path, clf_config, clf_ingested, clf_validated
):
    """A second run of the same config into a new folder, in one in-process worker. For `regex` the first run
    had two worker processes, so the bytes depend neither on the run nor on how Beam spreads the work."""
    first = request.getfixturevalue("clf_preprocessed" if tokenizer == "regex" else "wordpiece_preprocessed")
    task = classifier_task() if tokenizer == "regex" else wordpiece_task()
    second = run_preprocess(StageHarness(tmp_path, beam=IN_PROCESS), task, clf_config, clf_ingested, clf_validated)

    for name in ("vocabulary", "shards"):
        a, b = files_of(first.output(name).uri), files_of(second.output(name).uri)
        assert first.output(name).uri != second.output(name).uri
        assert a and sorted(a) == sorted(b)
        assert not [n for n in a if n.endswith(".partial")], "a temporary file was left behind"
        assert [n for n in a if a[n] != b[n]] == [], f"{name} files differ between the two runs"
        assert first.output(name).properties == second.output(name).properties


# ----------------------------------------------------------------------------------------------
# Train: every pooling

POOLING_LAYERS = {
    "last": LastStatePooling,
    "mean": MaskedMeanPooling,
    "max": MaskedMaxPooling,
    "attention": AttentionPooling,
}


@pytest.fixture(scope="module")
def trained_with(tmp_path_factory, clf_task, clf_config, clf_preprocessed, clf_trained):
    """pooling -> the train stage's run with that pooling on the chain's shards (the chain's own for its pooling)."""
    runs = {clf_task.model.pooling: clf_trained}

    def trained(pooling: str) -> StageRun:
        if pooling not in runs:
            task = classifier_task(model=dataclasses.replace(clf_task.model, pooling=pooling))
            runs[pooling] = StageHarness(tmp_path_factory.mktemp(f"train-{pooling}")).run(
                train.component(task, clf_config),
                shards=clf_preprocessed.output("shards"),
                vocabulary=clf_preprocessed.output("vocabulary"),
            )
        return runs[pooling]

    return trained


@pytest.mark.parametrize("pooling", sorted(POOLING_LAYERS))
def test_each_pooling_trains_through_the_train_stage(pooling, trained_with, clf_preprocessed):
    run = trained_with(pooling)
    model_artifact = run.output("model")
    vocabulary = clf_preprocessed.output("vocabulary")

    args = json.loads((model_artifact.uri / "model_args.json").read_text())
    assert args["kind"] == "classifier" and args["model"]["pooling"] == pooling
    assert args["sizes"] == {"words": len(vocabulary.tokens("words")), "labels": len(vocabulary.tokens("labels"))}
    history = json.loads((model_artifact.uri / "history.json").read_text())
    assert {"loss", "accuracy", "val_loss", "val_accuracy"} <= set(history)
    assert all(math.isfinite(v) for name in ("loss", "val_loss") for v in history[name])
    assert (model_artifact.uri / "learning_curves.png").read_bytes()[:8] == PNG_MAGIC

    model = keras.saving.load_model(model_artifact.path)
    assert isinstance(model.get_layer("pooling"), POOLING_LAYERS[pooling])
    assert model.outputs[0].shape[-1] == len(vocabulary.tokens("labels"))
    # A text's logits do not depend on how far its batch is padded.
    ids = [e[text.TOKEN_IDS] for e in read_shards(clf_preprocessed.output("shards"), "eval")[:4]]
    width = max(map(len, ids)) + 3
    batch = np.array([row + [0] * (width - len(row)) for row in ids], "int32")
    together = model({text.TOKEN_IDS: batch}, training=False).numpy()
    for row, logits in zip(ids, together, strict=True):
        alone = model({text.TOKEN_IDS: np.array([row], "int32")}, training=False).numpy()[0]
        np.testing.assert_allclose(logits, alone, atol=1e-5)


def test_word_vectors_start_the_embedding_and_stay_frozen(tmp_path, clf_config, clf_preprocessed):
    # A word2vec text file of 6 dimensions for a few of the vocabulary's words (and one word it lacks):
    # the embedding takes the file's size, not model.embedding_dim, and frozen rows come out of training
    # as they went in.
    words = clf_preprocessed.output("vocabulary").tokens("words")
    chosen = [w for w in ("great", "dull", "film") if w in words]
    rng = np.random.default_rng(3)
    vectors = {word: rng.normal(size=6).round(4) for word in [*chosen, "absent"]}
    path = tmp_path / "vectors.txt"
    path.write_text(f"{len(vectors)} 6\n" + "".join(f"{w} {' '.join(map(str, v))}\n" for w, v in vectors.items()))
    model_config = dataclasses.replace(classifier_task().model, word_vectors=str(path), freeze_vectors=True)
    run = StageHarness(tmp_path / "train").run(
        train.component(classifier_task(model=model_config), clf_config),
        shards=clf_preprocessed.output("shards"),
        vocabulary=clf_preprocessed.output("vocabulary"),
    )
    fitted = {k: v for e in run.log.events if e["kind"] == "params" for k, v in e["params"].items()}
    assert fitted["fitted.model.embedding_dim"] == 6
    args = json.loads((run.output("model").uri / "model_args.json").read_text())
    assert args["fitted"]["model.embedding_dim"] == 6 and args["model"]["freeze_vectors"]
    model = keras.saving.load_model(run.output("model").path)
    embedding = model.get_layer("word_embedding")
    assert not embedding.trainable
    matrix = embedding.get_weights()[0]
    assert matrix.shape == (len(words), 6)
    for word in chosen:
        np.testing.assert_allclose(matrix[words.index(word)], vectors[word], rtol=1e-6)
    np.testing.assert_array_equal(matrix[text.PAD_ID], 0.0)


# ----------------------------------------------------------------------------------------------
# Evaluate


def test_metrics_hold_the_model_and_both_baselines_per_split(clf_evaluated, clf_preprocessed, clf_ingested):
    metrics = clf_evaluated.output("evaluation").read()
    labels = clf_preprocessed.output("vocabulary").tokens("labels")
    examples = clf_ingested.output("examples")

    assert sorted(metrics) == ["eval", "test"]
    for split, systems in metrics.items():
        gold = collections.Counter(r["label"] for r in examples.read(split))
        assert sorted(systems) == ["majority", "model", "tfidf_logreg"]
        for system, scores in systems.items():
            assert 0.0 <= scores["accuracy"] <= 1.0 and 0.0 <= scores["macro_f1"] <= 1.0, (split, system)
            assert sorted(scores["per_class"]) == sorted(labels)
            assert {label: s["support"] for label, s in scores["per_class"].items()} == {
                label: gold[label] for label in labels
            }
            assert scores["macro_f1"] == pytest.approx(np.mean([s["f1"] for s in scores["per_class"].values()]))


def test_majority_baseline_scores_the_share_of_the_most_frequent_train_label(clf_evaluated, clf_ingested):
    examples = clf_ingested.output("examples")
    train_counts = collections.Counter(r["label"] for r in examples.read("train"))
    (majority, top), (_, second) = train_counts.most_common(2)
    assert top > second, "a tie would leave the majority label to the tie-break"
    metrics = clf_evaluated.output("evaluation").read()

    for split in ("eval", "test"):
        gold = [r["label"] for r in examples.read(split)]
        assert metrics[split]["majority"]["accuracy"] == pytest.approx(gold.count(majority) / len(gold))
        recalls = {label: s["recall"] for label, s in metrics[split]["majority"]["per_class"].items()}
        assert recalls == {label: 1.0 if label == majority else 0.0 for label in recalls}


def test_predictions_give_each_text_a_label_and_probabilities(clf_evaluated, clf_ingested, clf_preprocessed):
    evaluation = clf_evaluated.output("evaluation")
    labels = clf_preprocessed.output("vocabulary").tokens("labels")

    for split in ("eval", "test"):
        predictions = list(evaluation.predictions(split))
        texts = sorted(r["text"] for r in clf_ingested.output("examples").read(split))
        assert sorted(p["text"] for p in predictions) == texts
        for p in predictions:
            assert len(p["probabilities"]) == len(labels)
            assert sum(p["probabilities"]) == pytest.approx(1.0, abs=1e-5)
            assert p["label"] == labels[int(np.argmax(p["probabilities"]))]
        accuracy = clf_evaluated.output("evaluation").read()[split]["model"]["accuracy"]
        gold = {r["text"]: r["label"] for r in clf_ingested.output("examples").read(split)}
        assert accuracy == pytest.approx(np.mean([p["label"] == gold[p["text"]] for p in predictions]))


def test_confusion_matrices_are_pngs(clf_evaluated):
    evaluation = clf_evaluated.output("evaluation")

    for split in ("eval", "test"):
        assert (evaluation.uri / f"confusion_matrix_{split}.png").read_bytes()[:8] == PNG_MAGIC
    logged = {e["path"] for e in clf_evaluated.log.events if e["kind"] == "artifact"}
    assert {"evaluation/confusion_matrix_eval.png", "evaluation/confusion_matrix_test.png"} <= logged


def test_the_blessing_compares_with_the_stronger_baseline(clf_evaluated, clf_task):
    metrics = clf_evaluated.output("evaluation").read()["eval"]
    blessing = clf_evaluated.output("blessing")
    stronger = max(("majority", "tfidf_logreg"), key=lambda name: metrics[name]["accuracy"])
    margin = clf_task.evaluate.bless_margin

    assert blessing.properties["split"] == "eval"
    assert f"the {stronger} baseline's {metrics[stronger]['accuracy']:.4f}" in blessing.properties["reason"]
    assert blessing.properties["baseline"] == metrics[stronger]["accuracy"]
    assert blessing.properties["model"] == metrics["model"]["accuracy"]
    assert blessing.blessed == (metrics["model"]["accuracy"] >= metrics[stronger]["accuracy"] + margin - 1e-9)


def test_with_a_margin_of_1_nothing_is_blessed_and_export_pushes_nothing(
    tmp_path, clf_config, clf_ingested, clf_preprocessed, clf_trained
):
    task = classifier_task(evaluate=EvaluateConfig(bless_margin=1.0))
    harness = StageHarness(tmp_path / "task")

    evaluated = run_evaluate(harness, task, clf_config, clf_ingested, clf_preprocessed, clf_trained)
    blessing = evaluated.output("blessing")
    pushed = run_export(
        harness, task, clf_config, blessing, clf_ingested, clf_preprocessed, clf_trained, evaluated
    ).output("pushed_model")

    assert blessing.blessed is False
    assert "does not beat" in blessing.properties["reason"] and "margin 1" in blessing.properties["reason"]
    assert pushed.properties == {"pushed": False, "reason": f"not blessed: {blessing.properties['reason']}"}
    assert not pushed.saved_model_path.exists()
    assert not (harness.root / "serving").exists()


# ----------------------------------------------------------------------------------------------
# Export

# Loads the pushed SavedModel in a fresh interpreter that imports only tensorflow and tensorflow_text.
SERVE_SCRIPT = """
import json, sys
import tensorflow as tf
import tensorflow_text  # registers the ops of the tokenizer

saved_model, texts = sys.argv[1], json.loads(sys.stdin.read())
serve = tf.saved_model.load(saved_model).signatures["serving_default"]
answers = {}
for name, batch in {"texts": tf.constant(texts), "empty_string": tf.constant([""]),
                    "empty_batch": tf.constant([], tf.string)}.items():
    out = serve(text=batch)
    answers[name] = {
        "labels": [label.decode("utf-8") for label in out["label"].numpy()],
        "probabilities": out["probabilities"].numpy().tolist(),
        "shapes": [out["label"].shape.as_list(), out["probabilities"].shape.as_list()],
    }
project = {"pipeline", "models", "components", "tests"}
answers["project_modules"] = sorted(m for m in sys.modules if m.split(".")[0] in project)
print(json.dumps(answers))
"""


@pytest.fixture(scope="module")
def served(tmp_path_factory, serving_dir, clf_evaluated) -> dict:
    """What the pushed model answers, in a fresh process, for the texts of evaluate's predictions."""
    evaluation = clf_evaluated.output("evaluation")
    texts = [p["text"] for split in ("eval", "test") for p in evaluation.predictions(split)]
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    completed = subprocess.run(
        [sys.executable, "-c", SERVE_SCRIPT, str(serving_dir / "1")],
        input=json.dumps(texts),
        cwd=tmp_path_factory.mktemp("serve"),
        env={**env, "TF_CPP_MIN_LOG_LEVEL": "3"},
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return json.loads(completed.stdout.strip().splitlines()[-1])


def test_a_blessed_model_is_pushed_as_version_1(clf_exported, serving_dir):
    pushed = clf_exported.output("pushed_model")

    assert pushed.properties["pushed"] is True
    assert pushed.properties["version"] == 1
    assert pushed.properties["serving_dir"] == str(serving_dir / "1")
    assert sorted(p.name for p in serving_dir.iterdir()) == ["1"]
    assert (serving_dir / "1" / "saved_model.pb").read_bytes() == (
        pushed.saved_model_path / "saved_model.pb"
    ).read_bytes()


def test_infra_validation_checked_the_eval_predictions(clf_exported, clf_evaluated):
    eval_texts = sum(1 for _ in clf_evaluated.output("evaluation").predictions("eval"))

    assert clf_exported.output("pushed_model").properties["texts"] == min(eval_texts, 256)


def test_the_saved_model_in_a_fresh_process_labels_texts_as_evaluate_did(served, clf_evaluated):
    evaluation = clf_evaluated.output("evaluation")
    expected = [p for split in ("eval", "test") for p in evaluation.predictions(split)]

    assert served["project_modules"] == []
    assert served["texts"]["labels"] == [p["label"] for p in expected]
    np.testing.assert_allclose(
        served["texts"]["probabilities"],
        [p["probabilities"] for p in expected],
        atol=export_classifier.PROBABILITY_TOLERANCE,
    )
    np.testing.assert_allclose(np.sum(served["texts"]["probabilities"], axis=1), 1.0, atol=1e-5)


def test_the_saved_model_answers_an_empty_string_and_an_empty_batch(served, clf_preprocessed):
    labels = clf_preprocessed.output("vocabulary").tokens("labels")

    empty = served["empty_string"]
    assert empty["shapes"] == [[1], [1, len(labels)]]
    assert empty["labels"][0] in labels
    assert sum(empty["probabilities"][0]) == pytest.approx(1.0, abs=1e-5)
    assert served["empty_batch"]["shapes"] == [[0], [0, len(labels)]]


def test_the_mlflow_model_answers_labels_with_named_probabilities(clf_exported, clf_preprocessed):
    import mlflow

    labels = clf_preprocessed.output("vocabulary").tokens("labels")
    model = mlflow.pyfunc.load_model(str(clf_exported.output("pushed_model").uri / "mlflow_model"))

    answers = model.predict(["The film was great.", ""])

    assert len(answers) == 2
    for answer in answers:
        assert answer["label"] in labels
        assert list(answer["probabilities"]) == labels
        assert sum(answer["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)
        assert answer["label"] == max(answer["probabilities"], key=answer["probabilities"].get)


# ----------------------------------------------------------------------------------------------
# Regressions: an eval label unseen in training, an eval text longer than the serving graph takes


def test_an_eval_label_unseen_in_train_does_not_stop_training(tmp_path, clf_config):
    train_records = [
        {"key": f"r:{i}", "text": review, "label": label} for i, (label, review) in enumerate(reviews(24, 1))
    ]
    eval_records = [
        {"key": "e:1", "text": "The film was great.", "label": "positive"},
        {"key": "e:2", "text": "The film was fine.", "label": "neutral"},
    ]
    examples = write_examples(tmp_path / "examples", train=train_records, eval=eval_records)
    statistics_artifact = artifacts.Statistics(tmp_path / "statistics")
    statistics_artifact.uri.mkdir()
    statistics_artifact.path.write_text(json.dumps({"records": {"train": 24, "eval": 2, "test": 0}}))
    harness = StageHarness(tmp_path / "task", beam=IN_PROCESS)
    task = classifier_task()
    preprocessed = harness.run(
        preprocess.component(task, clf_config), examples=examples, statistics=statistics_artifact
    )

    run = harness.run(
        train.component(task, clf_config),
        shards=preprocessed.output("shards"),
        vocabulary=preprocessed.output("vocabulary"),
    )

    assert run.output("model").path.is_file()


def test_an_eval_text_longer_than_export_max_length_does_not_stop_the_export(
    tmp_path, clf_config, clf_ingested, clf_preprocessed, clf_trained, clf_evaluated
):
    lengths = [len(e[text.TOKENS]) for e in read_shards(clf_preprocessed.output("shards"), "eval")]
    max_length = 5
    assert min(lengths) <= max_length < max(lengths)
    task = classifier_task(export=ExportConfig(max_length=max_length))
    blessing = write_blessing(tmp_path / "blessing", blessed=True, reason="blessed for the test")

    run = run_export(
        StageHarness(tmp_path / "task"),
        task,
        clf_config,
        blessing,
        clf_ingested,
        clf_preprocessed,
        clf_trained,
        clf_evaluated,
    )

    assert run.output("pushed_model").properties["pushed"] is True


def test_an_unblessed_model_says_the_margin_it_would_pass_with_and_that_margin_blesses_it(
    tmp_path, clf_config, clf_ingested, clf_preprocessed, clf_trained
):
    from pipeline.commands.predict import last_verdict, no_model

    harness = StageHarness(tmp_path / "task")
    task = classifier_task(evaluate=EvaluateConfig(bless_margin=1.0))
    refused = run_evaluate(harness, task, clf_config, clf_ingested, clf_preprocessed, clf_trained).output("blessing")
    margin = refused.properties["margin_to_pass"]
    way_out = f"--set tasks.{task.name}.evaluate.bless_margin={margin:g}"

    shutil.copytree(refused.uri, tmp_path / "runs" / "evaluate" / "f00d" / "blessing")  # the runner's layout
    message = no_model(task.name, tmp_path / "runs" / "serving", last_verdict(tmp_path / "runs"))
    assert message == (
        f"task {task.name!r} has no exported model: its model was not blessed ({refused.properties['reason']}); "
        f"to export it anyway: python -m pipeline run --tasks {task.name} {way_out}"
    )
    again = classifier_task(evaluate=EvaluateConfig(bless_margin=margin))
    other = StageHarness(tmp_path / "again")
    assert (
        run_evaluate(other, again, clf_config, clf_ingested, clf_preprocessed, clf_trained).output("blessing").blessed
    )
