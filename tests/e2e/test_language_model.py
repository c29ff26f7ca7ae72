"""A character language model through the CLI: paragraphs of a tiny text, trained with truncated BPTT,
evaluated against the Kneser-Ney baseline, exported with `generate` and `score`, used in a fresh process."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from tests.e2e.support import run_cli, write_config

pytestmark = pytest.mark.slow

TASK = "toy-lm"
WORDS = ["the", "cat", "sat", "on", "mat", "a", "dog", "ran", "to", "park"]


def write_text(path: pathlib.Path, paragraphs: int, seed: int) -> None:
    """Paragraphs of short sentences, with tabs and a quote, separated by blank lines."""
    rng = np.random.default_rng(seed)
    lines = []
    for index in range(paragraphs):
        words = rng.choice(WORDS, size=int(rng.integers(5, 15)))
        lines += [" ".join(words).capitalize() + ".", f'\t"{words[0]}," said {index % 3}.', ""]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines), encoding="utf-8")


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> pathlib.Path:
    folder = tmp_path_factory.mktemp("lm")
    write_text(folder / "train" / "a.txt", 150, seed=0)
    write_text(folder / "test" / "c.txt", 30, seed=2)
    task = {
        "name": TASK,
        "kind": "language_model",
        "data": {
            "format": "text",
            "documents": "blank_line",
            "train": "train/*.txt",
            "test": "test/*.txt",
            "split": {"eval": 0.1},
        },
        "preprocess": {"tokenizer": "characters", "num_shards": 2},
        "model": {"cell": "gru", "bidirectional": False, "embedding_dim": 8, "hidden_dim": 32, "dropout": 0.0},
        "train": {"epochs": 2, "batch_size": 8, "bptt": 16, "learning_rate": 0.01, "sample_length": 40},
        # Whatever two epochs reach, let the model through: this test is about the plumbing.
        "evaluate": {"bless_margin": -100.0},
    }
    return write_config(folder, task)


@pytest.fixture(scope="module")
def first_run(workspace):
    return run_cli(workspace, "run")


def test_the_run_trains_evaluates_and_exports(first_run, workspace):
    assert "serving: " in first_run.stdout
    assert f"[{TASK}] test bits per unit: model " in first_run.stdout and "kneser_ney " in first_run.stdout
    samples = list((workspace / "runs" / TASK / "train").glob("*/model/samples/epoch_002.txt"))
    assert samples and "temperature 0.0" in samples[0].read_text()


def test_the_unit_vocabulary_holds_the_newline_and_the_tab(first_run, workspace):
    (vocabulary,) = (workspace / "runs" / TASK / "preprocess").glob("*/vocabulary/units.tsv")
    escaped = [line.rpartition("\t")[0] for line in vocabulary.read_text(encoding="utf-8").splitlines()]
    assert "\\n" in escaped and "\\t" in escaped


CLIENT = textwrap.dedent(
    """
    import json, sys
    import tensorflow as tf
    import tensorflow_text  # noqa: F401  (registers the tokenizer ops)
    model = tf.saved_model.load(sys.argv[1])
    score = model.signatures["score"](text=tf.constant(["The cat sat.", ""]))
    def generate(temperature):
        out = model.signatures["generate"](
            prompt=tf.constant(["The ", "A"]), max_length=tf.constant(30), temperature=tf.constant(temperature)
        )
        return [t.decode("utf-8") for t in out["text"].numpy()]
    print(json.dumps({
        "log_prob": score["log_prob"].numpy().tolist(), "length": score["length"].numpy().tolist(),
        "greedy": [generate(0.0), generate(0.0)], "sampled": generate(1.0),
        "modules": sorted(m for m in sys.modules if m.split(".")[0] in ("models", "pipeline", "components")),
    }))
    """
)


def test_the_saved_model_scores_and_generates_in_a_fresh_process(first_run, workspace):
    saved_model = workspace / "runs" / TASK / "serving" / "1"
    result = subprocess.run(
        [sys.executable, "-c", CLIENT, str(saved_model)], capture_output=True, text=True, timeout=300, check=True
    )

    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert answer["length"] == [12, 0]
    assert answer["log_prob"][0] < 0.0 and answer["log_prob"][1] == 0.0
    first, second = answer["greedy"]
    assert first == second  # temperature 0 is greedy, hence deterministic
    assert all(len(text) == 30 for text in first + answer["sampled"])  # characters: one a unit
    assert answer["modules"] == []  # no project code: TensorFlow and tensorflow-text only


def test_predict_continues_a_prompt(first_run, workspace):
    result = run_cli(workspace, "predict", "--task", TASK, "--length", "25", "--temperature", "0", "--json", "The ")

    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert answer["prompt"] == "The " and len(answer["text"]) == 25


def test_compare_ranks_runs_by_bits_per_unit(first_run, workspace):
    result = run_cli(workspace, "compare", "--task", TASK)
    assert "test.bits_per_unit" in result.stdout and "baseline.kneser_ney.test.bits_per_unit" in result.stdout


def test_inspect_cells_colours_a_text_by_the_most_telling_units(first_run, workspace):
    sample = workspace / "sample.txt"
    sample.write_text('The cat (and "the dog") sat.\nA mat.\n', encoding="utf-8")

    result = run_cli(workspace, "inspect-cells", "--task", TASK, "--text", str(sample))

    assert "inside_quotes" in result.stdout and "bracket_depth" in result.stdout
    (page,) = (workspace / "runs" / TASK / "inspect").glob("*/cells.html")
    assert "&quot;" in page.read_text(encoding="utf-8") or "&#x27;" in page.read_text(encoding="utf-8")
    assert result.stderr == ""


def test_inspect_cells_reads_at_most_max_chars_and_stays_out_of_compare(first_run, workspace):
    sample = workspace / "long.txt"
    sample.write_text("The cat sat on the mat. " * 10, encoding="utf-8")

    result = run_cli(workspace, "inspect-cells", "--task", TASK, "--text", str(sample), "--max-chars", "48")

    assert "[inspect-cells] reading the first 48 of the 240 characters of long.txt (--max-chars)" in result.stdout
    reports = sorted((workspace / "runs" / TASK / "inspect").glob("*/cells.json"), key=lambda p: p.stat().st_mtime)
    assert json.loads(reports[-1].read_text())["characters"] == 48
    compared = run_cli(workspace, "compare", "--task", TASK).stdout
    assert "inspect-cells" not in compared and "test.bits_per_unit" in compared
