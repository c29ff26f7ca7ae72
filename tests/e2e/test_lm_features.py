"""A tagger that reads a character language model of the same config (`model.lm_features`), run as a user
runs it: the language model trains first, the tagger holds it, and the exported tagger answers in a fresh
process as the Keras model did; a language model that read the tagger's held-out sentences is refused."""

from __future__ import annotations

import json
import pathlib
import random

import pytest

from tests.e2e.support import TASK, make_corpus, run_cli, write_config

pytestmark = pytest.mark.slow

LM, BACKWARD = "chars", "chars-back"


def tiny_tasks(raw: str) -> tuple[dict, ...]:
    tagger = {  # first in the config: it still runs after the language model it reads
        "name": TASK,
        "kind": "tagger",
        "data": {"format": "brown", "train": "corpus.txt", "split": {"eval": 0.15, "test": 0.15}},
        "model": {"embedding_dim": 8, "hidden_dim": 8, "char_features": False, "lm_features": [LM]},
        "train": {"epochs": 2, "batch_size": 16, "learning_rate": 0.02},
        "evaluate": {"bless_margin": -1.0},  # exported whatever two epochs learn: the export is what is tested
    }
    language_model = {
        "name": LM,
        "kind": "language_model",
        "data": {"format": "text", "documents": "blank_line", "train": raw, "split": {"eval": 0.1}},
        "preprocess": {"tokenizer": "characters"},
        "model": {"embedding_dim": 8, "hidden_dim": 12},
        "train": {"epochs": 1, "batch_size": 8, "bptt": 16},
        "evaluate": {"bless_margin": -10.0},  # exported too: its SavedModel is checked against it
    }
    return tagger, language_model


def with_backward(tasks: tuple[dict, ...]) -> tuple[dict, ...]:
    """The tagger reading a backward language model as well (`model.direction: backward`)."""
    tagger, forward = tasks
    backward = {**forward, "name": BACKWARD, "model": {**forward["model"], "direction": "backward"}}
    return {**tagger, "model": {**tagger["model"], "lm_features": [LM, BACKWARD]}}, forward, backward


def write_raw_text(path: pathlib.Path, sentences: list[str]) -> None:
    path.write_text("\n\n".join(sentences) + "\n", encoding="utf-8")


def other_sentences(count: int) -> list[str]:
    """Sentences of the toy corpus's words that the toy corpus never has (each ends in an adverb)."""
    rng = random.Random(1)
    subjects, verbs = ["we", "they", "the dog", "a man"], ["run", "fish", "watch", "see", "sleeps"]
    return [
        f"{rng.choice(subjects)} {rng.choice(verbs)} {rng.choice(['often', 'slowly', 'today'])} ." for _ in range(count)
    ]


def test_the_language_models_train_first_and_the_exported_tagger_holds_them(tmp_path):
    from mlflow.tracking import MlflowClient

    make_corpus(tmp_path / "corpus.txt", sentences=200)
    write_raw_text(tmp_path / "raw.txt", other_sentences(400))
    workspace = write_config(tmp_path, *with_backward(tiny_tasks("raw.txt")))

    result = run_cli(workspace, "run", "--jobs", "2")

    out = result.stdout
    for name in (LM, BACKWARD):  # the tagger started once both language models were done
        assert out.index(f"[{name}] done:") < out.index(f"[{TASK}] ingest")
        # Each language model's SavedModel scored and continued texts as its Keras model did (the backward one
        # reads them from the end, and writes what comes before a prompt).
        assert f"[{name}] serving:" in out
    assert f"model.lm_features.{LM} = 12: the forward language model of task {LM}" in out
    assert f"model.lm_features.{BACKWARD} = 12: the backward language model of task {BACKWARD}" in out
    assert "each word its 12 states at the word's first character" in out
    assert "answered alike in a fresh process" in out  # export's infra-validation: SavedModel == Keras model
    assert f"[{TASK}] serving:" in out
    client = MlflowClient(tracking_uri=f"sqlite:///{workspace / 'mlflow.db'}")
    (run,) = client.search_runs([client.get_experiment_by_name(TASK).experiment_id])
    assert run.data.params[f"fitted.model.lm_features.{BACKWARD}"] == "12"

    answer = run_cli(workspace, "predict", "--task", TASK, "we watch the fish .")
    assert answer.stdout.strip().startswith("we/")
    # The backward language model writes what comes before a prompt, and predict prints it there.
    greedy = ("predict", "--task", BACKWARD, "--length", "6", "--temperature", "0")
    answer = json.loads(run_cli(workspace, *greedy, "--json", "fish .").stdout)
    assert answer["backward"] is True and len(answer["text"]) == 6
    assert run_cli(workspace, *greedy, "fish .").stdout == answer["text"] + "fish .\n"

    again = run_cli(workspace, "run", "--tasks", TASK)  # nothing changed: all cached, the language model's too
    assert f"[{TASK}] done: 0 stage(s) ran" in again.stdout


def test_a_language_model_that_read_the_taggers_held_out_sentences_is_refused(tmp_path):
    make_corpus(tmp_path / "corpus.txt", sentences=200)
    lines = (tmp_path / "corpus.txt").read_text(encoding="utf-8").splitlines()
    # The raw text is the tagged corpus's own words: its eval and test sentences among them.
    write_raw_text(tmp_path / "raw.txt", [" ".join(t.rsplit("/", 1)[0] for t in line.split()) for line in lines])
    workspace = write_config(tmp_path, *tiny_tasks("raw.txt"))

    result = run_cli(workspace, "run", check=False)

    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    assert errors[-1].startswith(f"error: tasks.{TASK}: the corpus of task {LM}, whose model it reads, holds ")
    assert "take them out of chars's corpus" in errors[-1]
    assert "Traceback" not in result.stderr


def test_a_classifier_reads_a_language_model_and_its_exported_model_holds_it(tmp_path):
    rng = random.Random(2)
    reviews = [
        f"{label}\t{rng.choice(['the dog', 'a man', 'we'])} {rng.choice(words)} the fish ."
        for label, words in (("good", ["love", "like"]), ("bad", ["hate", "fear"]))
        for _ in range(60)
    ]
    (tmp_path / "reviews.tsv").write_text("\n".join(reviews) + "\n", encoding="utf-8")
    write_raw_text(tmp_path / "raw.txt", other_sentences(400))
    _, language_model = tiny_tasks("raw.txt")
    classifier = {
        "name": "reviews",
        "kind": "classifier",
        "data": {"format": "tsv", "train": "reviews.tsv", "split": {"eval": 0.15, "test": 0.15}},
        "model": {"embedding_dim": 8, "hidden_dim": 8, "lm_features": [LM]},
        "train": {"epochs": 2, "batch_size": 16, "learning_rate": 0.02},
        "evaluate": {"bless_margin": -1.0},  # exported whatever two epochs learn: the export is what is tested
    }
    workspace = write_config(tmp_path, classifier, language_model)

    result = run_cli(workspace, "run")

    out = result.stdout
    assert out.index(f"[{LM}] done:") < out.index("[reviews] ingest")
    assert "model.lm_features.chars = 12: the forward language model of task chars" in out
    assert "answered alike in a fresh process" in out  # export's infra-validation: SavedModel == Keras model
    assert "[reviews] serving:" in out
    answer = run_cli(workspace, "predict", "--task", "reviews", "we love the fish .")
    assert answer.stdout.split()[0] in ("good", "bad")
