"""A classifier task through the CLI: `run` the whole DAG on tiny movie reviews, then `predict` and `compare`.

The reviews' polarity word decides their label, so a tiny bidirectional LSTM learns them in a few epochs
and, with `bless_margin: 0`, is blessed as soon as it is as accurate as the TF-IDF baseline. The task
uses the `wordpiece` tokenizer (its vocabulary learned by Beam in two worker processes): with a
vocabulary this large for so few words, every word is a piece of its own.
"""

from __future__ import annotations

import json
import pathlib
import random
import re

import pytest

from kinds import classifier
from tests.e2e.support import STAGES, run_cli, write_config

pytestmark = pytest.mark.slow

TASK = "toy-reviews"
POSITIVE = ("great", "wonderful", "superb", "lovely", "brilliant", "delightful")
NEGATIVE = ("awful", "terrible", "dull", "boring", "dreadful", "bland")
SUBJECTS = ("The film", "This movie", "The plot", "Its cast", "The ending", "The score")
VERBS = ("was", "felt", "seemed", "is")


def make_workspace(folder: pathlib.Path, reviews: int = 240, seed: int = 0) -> pathlib.Path:
    """`reviews.tsv` (about 60% positive) and a `pipeline_config.yaml` with a tiny classifier in `folder`."""
    rng = random.Random(seed)
    lines = []
    for _ in range(reviews):
        label = "positive" if rng.random() < 0.6 else "negative"
        word = rng.choice(POSITIVE if label == "positive" else NEGATIVE)
        lines.append(f"{label}\t{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {word}.")
    (folder / "reviews.tsv").write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    task = {
        "name": TASK,
        "kind": "classifier",
        "data": {"format": "tsv", "train": "reviews.tsv", "split": {"eval": 0.15, "test": 0.15}},
        "preprocess": {"tokenizer": "wordpiece", "wordpiece_vocab_size": 200, "lowercase": True},
        "model": {"embedding_dim": 8, "hidden_dim": 8, "pooling": "mean"},
        "train": {"epochs": 6, "batch_size": 16, "learning_rate": 0.02},
        "evaluate": {"bless_margin": 0.0},
    }
    return write_config(folder, task)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> pathlib.Path:
    return make_workspace(tmp_path_factory.mktemp("e2e-classifier"))


@pytest.fixture(scope="module")
def first_run(workspace):
    return run_cli(workspace, "run")


def evaluation(workspace: pathlib.Path) -> dict:
    (metrics,) = (workspace / "runs" / TASK / "evaluate").glob("*/evaluation/metrics.json")
    return json.loads(metrics.read_text())


def test_run_runs_every_stage_blesses_and_serves_the_classifier(workspace, first_run):
    stages = dict(re.findall(rf"^\[{TASK}\] (\w+)\s+(ran|cached) in", first_run.stdout, flags=re.MULTILINE))
    assert stages == dict.fromkeys(STAGES, "ran")
    test = evaluation(workspace)["test"]
    assert f"[{TASK}] test accuracy: model {test['model']['accuracy']:.4f}" in first_run.stdout
    assert f"tfidf_logreg {test['tfidf_logreg']['accuracy']:.4f}" in first_run.stdout
    assert f"[{TASK}] serving: {workspace / 'runs' / TASK / 'serving' / '1'}" in first_run.stdout
    (wordpieces,) = (workspace / "runs" / TASK / "preprocess").glob("*/vocabulary/wordpieces.tsv")
    assert wordpieces.read_text().splitlines()[:2] == ["[PAD]\t0", "[UNK]\t0"]


def test_predict_prints_a_label_for_each_text(workspace, first_run):
    result = run_cli(workspace, "predict", "--task", TASK, "The plot was wonderful.", "Its cast seemed dreadful.")

    lines = [line.split("\t") for line in result.stdout.strip().splitlines()]
    assert [(label, text) for label, _, text in lines] == [
        ("positive", "The plot was wonderful."),
        ("negative", "Its cast seemed dreadful."),
    ]
    assert all(0.5 <= float(confidence) <= 1.0 for _, confidence, _ in lines)


def test_predict_json_prints_one_object_a_text(workspace, first_run):
    result = run_cli(workspace, "predict", "--task", TASK, "--json", "The ending is lovely.", "")

    answers = [json.loads(line) for line in result.stdout.strip().splitlines()]
    assert [(a["text"], a["label"]) for a in answers[:1]] == [("The ending is lovely.", "positive")]
    assert answers[1]["text"] == "" and answers[1]["label"] in ("positive", "negative")
    assert all(set(a) == {"text", "label", "probabilities", "input_tokens"} for a in answers)
    assert [a["input_tokens"] for a in answers] == [5, 0]  # the regex tokenizer's tokens of each text
    assert all(0.5 <= max(a["probabilities"]) <= 1.0 and abs(sum(a["probabilities"]) - 1) < 1e-5 for a in answers)


def test_compare_shows_the_classifier_metrics(workspace, first_run):
    result = run_cli(workspace, "compare", "--task", TASK)

    header, rule, *rows = result.stdout.strip().splitlines()
    columns = header.split()
    metrics = classifier.KIND.compare_metrics
    assert columns[-len(metrics) :] == list(metrics)
    assert len(rows) == 1 and set(rule) == {"-", " "}
    cells = dict(zip(columns, rows[0].split(), strict=True))
    metrics = evaluation(workspace)
    assert cells["status"] == "FINISHED"
    assert cells["test.accuracy"] == f"{metrics['test']['model']['accuracy']:.4f}"
    assert cells["baseline.tfidf_logreg.test.accuracy"] == f"{metrics['test']['tfidf_logreg']['accuracy']:.4f}"
    assert cells["baseline.majority.test.accuracy"] == f"{metrics['test']['majority']['accuracy']:.4f}"
    assert cells["test.macro_f1"] == f"{metrics['test']['model']['macro_f1']:.4f}"
    assert cells["eval.accuracy"] == f"{metrics['eval']['model']['accuracy']:.4f}"
