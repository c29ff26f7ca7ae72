"""Language-model features (issue 33): a word's feature is the language model's own state at its character,
the tasks are ordered and wired by what they read, and a language model that saw the held-out records is
refused."""

from __future__ import annotations

import dataclasses
import pathlib
import shutil

import numpy as np
import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
TINY = ROOT / "tests" / "data" / "tiny"
UNITS = ["[PAD]", "[UNK]", "[START]", "[END]", *" abcdefghijklmnopqrstuvwxyz.,"]


@dataclasses.dataclass(frozen=True)
class Tiny:
    cell: str = "lstm"
    layers: int = 2
    embedding_dim: int = 8
    hidden_dim: int = 6
    dropout: float = 0.5  # off when features are read: they must not depend on it


def reader():
    import keras

    from models import lm_features
    from models.language_model import LanguageModelSizes, build_language_model

    keras.utils.set_random_seed(3)
    sizes = LanguageModelSizes(len(UNITS))
    trained = build_language_model(sizes, Tiny(), batch_size=4, stateful=True)  # as the train stage saves it
    return lm_features.states_reader(trained, sizes, Tiny())


def char_ids(sentences, chars):
    index = {char: i for i, char in enumerate(chars)}
    width = max(len(word) for sentence in sentences for word in sentence)
    ids = np.zeros((len(sentences), max(map(len, sentences)), width), np.int32)
    for b, sentence in enumerate(sentences):
        for t, word in enumerate(sentence):
            ids[b, t, : len(word)] = [index[char] for char in word]
    return ids


def own_states(model, text: str) -> np.ndarray:
    """The language model's top-layer states over `text` after [START], read by the model itself."""
    import tensorflow as tf

    from models import text as text_lib
    from models.language_model import RESETS

    ids = [text_lib.START_ID] + [UNITS.index(char) for char in text]
    return model({text_lib.TOKEN_IDS: tf.constant([ids]), RESETS: tf.zeros((1, len(ids)))}).numpy()[0]


@pytest.mark.parametrize("direction", ["forward", "backward"])
def test_a_words_feature_is_the_language_models_own_state_at_its_character(direction):
    from models import lm_features, text

    chars = [*text.RESERVED_TOKENS, *"Thecabd.,"]
    table = lm_features.unit_table(chars, UNITS, text.TextTokenizer("characters", pattern=""), lowercase=True)
    model = reader()
    layer = lm_features.LanguageModelStates(model, table, UNITS.index(" "), direction)
    sentences = [["The", "cab", "."], ["a", "bed"], ["dab"]]  # of three lengths: padding words and characters

    features = layer(char_ids(sentences, chars)).numpy()

    for b, sentence in enumerate(sentences):
        joined = " ".join(sentence).lower()  # the table lowercases, as this language model's preprocessing would
        states = own_states(model, joined if direction == "forward" else joined[::-1])
        start = 0
        for t, word in enumerate(sentence):
            # After [START]: forward, the word's last character; backward, its first, read from the end.
            at = start + len(word) if direction == "forward" else len(joined) - start
            np.testing.assert_allclose(features[b, t], states[at], atol=1e-5)
            start += len(word) + 1
    mask = layer.compute_mask(char_ids(sentences, chars)).numpy()
    assert mask.tolist() == [[True, True, True], [True, True, False], [True, False, False]]


def test_the_unit_table_cuts_each_character_as_the_language_model_does():
    from models import lm_features, text

    chars = [*text.RESERVED_TOKENS, "a", "B", "é", "ﬁ", "%"]
    tokenizer = text.TextTokenizer("characters", pattern="", normalization="nfkc")

    table = lm_features.unit_table(chars, UNITS, tokenizer, lowercase=True)

    # Padding stays padding; reserved entries, a character the model lacks and one that normalises to two
    # ("ﬁ" -> "fi") are [UNK]; "B" is lowercased as the model's units were.
    unk = text.UNK_ID
    assert table == [0, unk, unk, unk, UNITS.index("a"), UNITS.index("b"), unk, unk, unk]


def reading_model(kind: str, chars: list[str], layer):
    """A tiny tagger or classifier whose words' features include `layer`'s."""
    from models.classifier import ClassifierSizes, build_classifier
    from models.tagger import TaggerSizes, build_tagger
    from pipeline.config import ModelConfig

    @dataclasses.dataclass(frozen=True)
    class Settings(ModelConfig):
        char_features: bool = False
        output: str = "softmax"
        pooling: str = "max"
        embedding_dim: int = 4
        hidden_dim: int = 4

    if kind == "tagger":
        return build_tagger(TaggerSizes(words=10, chars=len(chars), tags=5), Settings(), None, [layer])
    return build_classifier(ClassifierSizes(words=10, labels=3), Settings(), [layer])


@pytest.mark.parametrize("kind", ["tagger", "classifier"])
@pytest.mark.parametrize("freeze", [True, False])
def test_a_model_with_a_language_model_reads_its_states_saves_loads_and_freezes_it(tmp_path, freeze, kind):
    import keras

    from models import lm_features, text

    chars = [*text.RESERVED_TOKENS, *"Thecabd.,"]
    table = lm_features.unit_table(chars, UNITS, text.TextTokenizer("characters", pattern=""), lowercase=True)
    layer = lm_features.LanguageModelStates(reader(), table, UNITS.index(" "), name="language_model_lm")
    layer.trainable = not freeze
    model = reading_model(kind, chars, layer)
    sentences = [["The", "cab", "."], ["a", "bed"]]
    inputs = {text.TOKEN_IDS: np.array([[4, 5, 6], [7, 8, 0]], np.int32), text.CHAR_IDS: char_ids(sentences, chars)}

    model.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras")

    np.testing.assert_allclose(loaded(inputs).numpy(), model(inputs).numpy(), atol=1e-6)
    language_model_weights = {id(w) for w in model.get_layer("language_model_lm").weights}
    trained = {id(w) for w in model.trainable_weights}
    assert bool(language_model_weights & trained) is not freeze
    assert loaded.get_layer("language_model_lm").trainable is not freeze
    # The same word ids, other characters ("a dab"): what the language model reads reaches the output.
    respelled = {**inputs, text.CHAR_IDS: char_ids([["The", "cab", "."], ["a", "dab"]], chars)}
    assert not np.allclose(model(respelled).numpy()[1], model(inputs).numpy()[1], atol=1e-6)


# Config, DAG and scheduling ----------------------------------------------------------------------------------


def write_config(folder: pathlib.Path, tagger_model: dict, *, sweep_lm: bool = False, lm_kind="language_model"):
    import kinds

    shutil.copy(TINY / "brown.txt", folder / "brown.txt")
    (folder / "text.txt").write_text("the cat sat\n", encoding="utf-8")
    lm = {"name": "chars", "kind": lm_kind, "data": {"format": "text", "train": "text.txt"}}
    if lm_kind == "tagger":
        lm["data"] = {"format": "brown", "train": "brown.txt"}
    raw = {
        "tasks": [
            {"name": "pos", "kind": "tagger", "data": {"format": "brown", "train": "brown.txt"}, "model": tagger_model},
            lm,
        ],
        "sweeps": [{"task": "chars", "grid": {"model.hidden_dim": [8, 16]}}] if sweep_lm else [],
    }
    path = folder / "pipeline_config.yaml"
    path.write_text(yaml.safe_dump(raw))
    return kinds.load_config(path)


@pytest.mark.parametrize(
    ("tagger_model", "options", "message"),
    [
        (
            {"lm_features": ["nope"]},
            {},
            "tasks.pos.model.lm_features: no task named 'nope' (the language_model tasks: chars)",
        ),
        ({"lm_features": ["pos"]}, {}, "tasks.pos.model.lm_features: 'pos' is this task"),
        (
            {"lm_features": ["chars"]},
            {"lm_kind": "tagger"},
            "'chars' is a tagger task; a language_model task is needed",
        ),
        ({"lm_features": ["chars"]}, {"sweep_lm": True}, "'chars' is swept (sweeps); a swept task cannot feed another"),
    ],
)
def test_a_task_named_in_lm_features_must_be_one_unswept_language_model_of_the_config(
    tmp_path, tagger_model, options, message
):
    from pipeline.errors import ConfigError

    with pytest.raises(ConfigError) as error:
        write_config(tmp_path, tagger_model, **options)
    assert message in str(error.value)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("tokenizer", ["wordpiece", "characters"])
def test_a_classifier_whose_tokens_are_not_words_cannot_read_a_language_model(tmp_path, tokenizer):
    import kinds
    from pipeline.errors import ConfigError

    (tmp_path / "reviews.tsv").write_text("good\tA fine film .\n", encoding="utf-8")
    (tmp_path / "text.txt").write_text("the cat sat\n", encoding="utf-8")
    classifier = {
        "name": "reviews",
        "kind": "classifier",
        "data": {"format": "tsv", "train": "reviews.tsv"},
        "preprocess": {"tokenizer": tokenizer},
        "model": {"lm_features": ["chars"]},
    }
    lm = {"name": "chars", "kind": "language_model", "data": {"format": "text", "train": "text.txt"}}
    (tmp_path / "pipeline_config.yaml").write_text(yaml.safe_dump({"tasks": [classifier, lm]}))

    with pytest.raises(ConfigError) as error:
        kinds.load_config(tmp_path / "pipeline_config.yaml")
    assert str(error.value) == (
        f"tasks.reviews.model.lm_features: a language model reads a text's words; the {tokenizer} tokenizer "
        "does not cut words (use one of regex, whitespace, unicode_script)"
    )


def test_a_task_runs_after_the_language_models_it_reads(tmp_path):
    from pipeline import config as config_lib
    from pipeline.commands import selected_tasks

    config = write_config(tmp_path, {"lm_features": ["chars"]})

    assert config_lib.upstream_tasks(config.task("pos")) == ("chars",)
    assert [task.name for task in selected_tasks(config, None)] == ["chars", "pos"]
    assert [task.name for task in selected_tasks(config, "pos")] == ["pos"]  # alone: its language model ran before


def test_the_language_models_outputs_are_wired_into_the_train_stage_and_retrain_the_tagger(tmp_path):
    import dag
    import kinds
    from pipeline import runner

    config = write_config(tmp_path, {"lm_features": ["chars"]})
    tagger = config.task("pos")
    train = next(component for component in dag.build(tagger, config) if component.name == "train")

    wired = {name: (channel.task, channel.stage, channel.output) for name, channel in train.inputs.items()}
    assert wired["upstream.chars.model"] == ("chars", "train", "model")
    assert wired["upstream.chars.vocabulary"] == ("chars", "preprocess", "vocabulary")
    assert wired["upstream.chars.examples"] == ("chars", "ingest", "examples")
    assert wired["examples"] == (None, "ingest", "examples")

    def fingerprints(loaded):
        task = loaded.task("pos")
        return runner.fingerprints(dag.build(task, loaded), loaded.seed, dag.upstream(task, loaded))

    before = fingerprints(config)
    raw = yaml.safe_load((tmp_path / "pipeline_config.yaml").read_text())
    raw["tasks"][1]["model"] = {"hidden_dim": 32}  # the language model changes: the tagger trains again
    (tmp_path / "pipeline_config.yaml").write_text(yaml.safe_dump(raw))
    after = fingerprints(kinds.load_config(tmp_path / "pipeline_config.yaml"))
    assert after["preprocess"] == before["preprocess"]
    assert after["train"] != before["train"]
    assert after["export"] != before["export"]


def test_a_task_whose_language_model_has_not_run_is_told_so_in_one_line(tmp_path):
    import dag
    from pipeline import runner
    from pipeline.errors import SeqpipeError

    config = write_config(tmp_path, {"lm_features": ["chars"]})
    tagger = config.task("pos")

    with pytest.raises(SeqpipeError) as error:
        runner.cached_outputs(
            dag.build(tagger, config),
            task="pos",
            task_dir=tmp_path / "runs" / "pos",
            seed=8,
            upstream=dag.upstream(tagger, config),
        )
    assert str(error.value) == (
        "[pos] reads the trained model of task chars, which has not run with this config: run both "
        "(--tasks chars,pos), or chars first"
    )


def test_a_unit_starts_once_the_tasks_it_reads_are_done_and_not_at_all_when_one_failed():
    from pipeline.scheduling import next_unit

    dependencies = {"pos": ("lm",), "ner": ("lm",)}
    pending, failed = ["lm", "pos", "other"], set()

    assert next_unit(pending, str, dependencies, [], failed) == ("lm", [])
    assert next_unit(pending, str, dependencies, ["lm"], failed) == ("other", [])  # pos waits for lm
    assert next_unit(pending, str, dependencies, ["lm", "other"], failed) == (None, [])
    assert next_unit(pending, str, dependencies, ["other"], failed) == ("pos", [])  # lm finished

    pending, failed = ["pos", "ner", "other"], {"lm"}
    unit, dropped = next_unit(pending, str, dependencies, [], failed)
    assert unit == "other"
    assert dropped == [("pos", "not run: it reads lm, which failed"), ("ner", "not run: it reads lm, which failed")]


# Held-out records -------------------------------------------------------------------------------------------


def examples(folder: pathlib.Path, splits: dict):
    import json

    from pipeline import artifacts

    folder.mkdir(parents=True)
    artifact = artifacts.Examples(folder, "f", "ingest")
    for split, records in splits.items():
        artifact.split_path(split).write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return artifact


def test_a_language_model_whose_text_holds_a_held_out_sentence_is_refused_with_one_line(tmp_path):
    from kinds.base import held_out
    from pipeline.errors import ConfigError

    tagged = examples(
        tmp_path / "tagged",
        {
            "train": [{"key": "t.txt:1", "tokens": ["Seen", "in", "training", "."]}],
            "test": [{"key": "t.txt:2", "tokens": ["The", "cat", ",", "sat", "."]}],
        },
    )
    clean = examples(
        tmp_path / "clean", {"train": [{"key": "raw.txt:1", "text": "Seen in training.\nSomething else."}]}
    )
    leaky = examples(tmp_path / "leaky", {"train": [{"key": "raw.txt:9", "text": "A first line.\nThe cat, sat."}]})

    held_out.check("pos", tagged, {"clean": clean})  # a training sentence may be in the raw text
    with pytest.raises(ConfigError) as error:
        held_out.check("pos", tagged, {"clean": clean, "leaky": leaky})
    assert str(error.value) == (
        "tasks.pos: the corpus of task leaky, whose model it reads, holds 1 of its eval and test records (the "
        "first, t.txt:2, is raw.txt:9 there); take them out of leaky's corpus"
    )


def test_a_backward_language_model_reads_each_document_from_its_end():
    import tensorflow as tf

    from models.language_model import oriented, reverse_rows

    documents = [np.array([2, 5, 6, 7]), np.array([2]), np.array([2, 9])]

    assert [d.tolist() for d in oriented(documents, "backward")] == [[2, 7, 6, 5], [2], [2, 9]]
    assert oriented(documents, "forward") is documents
    ragged = tf.ragged.constant([["a", "b", "c"], [], ["d"]])
    assert reverse_rows(ragged).to_list() == [[b"c", b"b", b"a"], [], [b"d"]]
