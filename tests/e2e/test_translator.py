"""A translator through the CLI: a toy word-for-word language pair, an attentional GRU, beam search in
the exported graph, BLEU against copying the source, attention heatmaps, predict and compare."""

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

TASK = "toy-mt"
LEXICON = {"the": "el", "dog": "perro", "cat": "gato", "sees": "ve", "eats": "come", "big": "grande", "a": "un"}


def write_pairs(path: pathlib.Path, pairs: int, seed: int) -> None:
    """Sentences of the toy language and their word-for-word translations, each side written as a
    sentence is (a capital first, a full stop last), and one bad line."""
    rng = np.random.default_rng(seed)
    words = list(LEXICON)
    lines = []
    for _ in range(pairs):
        source = list(rng.choice(words, size=int(rng.integers(3, 7))))
        target = " ".join(LEXICON[w] for w in source)
        lines.append(" ".join(source).capitalize() + ".\t" + target.capitalize() + ".")
    lines.append("a source without a target\t")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> pathlib.Path:
    folder = tmp_path_factory.mktemp("mt")
    write_pairs(folder / "pairs.tsv", 600, seed=0)
    task = {
        "name": TASK,
        "kind": "translator",
        "data": {"format": "parallel_tsv", "train": "pairs.tsv", "split": {"eval": 0.1, "test": 0.1}},
        "preprocess": {"tokenizer": "regex", "lowercase": True, "num_shards": 2},
        "model": {
            "cell": "gru",
            "embedding_dim": 16,
            "hidden_dim": 32,
            "dropout": 0.0,
            "attention": "bahdanau",
        },
        "train": {"epochs": 6, "batch_size": 16, "learning_rate": 0.01, "word_dropout": 0.0},
        "decode": {"strategy": "beam", "beam_size": 3},
        "evaluate": {"bless_margin": 0.1},
    }
    return write_config(folder, task)


@pytest.fixture(scope="module")
def first_run(workspace):
    return run_cli(workspace, "run")


def evaluation(workspace: pathlib.Path) -> dict:
    (path,) = (workspace / "runs" / TASK / "evaluate").glob("*/evaluation/metrics.json")
    return json.loads(path.read_text())


def test_the_pair_with_an_empty_side_is_rejected_with_its_line(first_run, workspace):
    (rejects,) = (workspace / "runs" / TASK / "ingest").glob("*/rejects/rejects.jsonl")
    (reject,) = [json.loads(line) for line in rejects.read_text().splitlines()]
    assert (reject["line"], reject["reason"]) == (601, "empty target")


def test_the_translator_learns_the_toy_pair_and_beats_copying_the_source(first_run, workspace):
    test = evaluation(workspace)["test"]
    assert test["model"]["bleu"] > 50.0 > test["copy_source"]["bleu"]
    # The model writes lowercase and the references are capitalised: scored like with like, a right
    # translation is an exact match (scored cased, none would be).
    assert test["model"]["exact_match"] > 0.5
    assert set(test) == {"model", "greedy", "wrong_start", "copy_source"}
    assert "serving: " in first_run.stdout


def test_attention_heatmaps_are_pngs(first_run, workspace):
    pngs = list((workspace / "runs" / TASK / "evaluate").glob("*/evaluation/attention/attention_*.png"))
    assert pngs and all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)


CLIENT = textwrap.dedent(
    """
    import json, sys
    import tensorflow as tf
    import tensorflow_text  # noqa: F401  (registers the tokenizer ops)
    serve = tf.saved_model.load(sys.argv[1]).signatures["serving_default"]
    texts = json.loads(sys.argv[2])
    out = serve(text=tf.constant(texts))["translation"].numpy()
    print(json.dumps([t.decode("utf-8") for t in out]))
    """
)


def test_the_saved_model_translates_as_evaluation_did_in_a_fresh_process(first_run, workspace):
    (predictions,) = (workspace / "runs" / TASK / "evaluate").glob("*/evaluation/predictions_eval.jsonl")
    expected = [json.loads(line) for line in predictions.read_text().splitlines()]
    sources = [e["source"] for e in expected]

    result = subprocess.run(
        [sys.executable, "-c", CLIENT, str(workspace / "runs" / TASK / "serving" / "1"), json.dumps(sources)],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )

    assert json.loads(result.stdout.strip().splitlines()[-1]) == [e["translation"] for e in expected]


def test_predict_and_compare(first_run, workspace):
    predicted = run_cli(workspace, "predict", "--task", TASK, "--json", "the big dog sees a cat .")
    compared = run_cli(workspace, "compare", "--task", TASK)

    answer = json.loads(predicted.stdout.strip().splitlines()[-1])
    assert answer["text"] == "the big dog sees a cat ." and answer["translation"]
    assert "test.bleu" in compared.stdout and "baseline.copy_source.test.bleu" in compared.stdout


def test_each_epoch_is_scored_by_greedy_bleu_on_eval_and_the_best_one_is_kept(first_run, workspace):
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{workspace / 'mlflow.db'}")
    (run,) = client.search_runs([client.get_experiment_by_name(TASK).experiment_id])
    scores = [
        m.value for m in sorted(client.get_metric_history(run.info.run_id, "val_greedy_bleu"), key=lambda m: m.step)
    ]

    assert len(scores) == 6 and all(0.0 <= s <= 100.0 + 1e-9 for s in scores)  # sacrebleu rounds past 100
    kept = int(run.data.params["train.kept_epoch"])
    assert scores[kept - 1] == max(scores)  # the first of the best, if two epochs tie
    assert scores.index(max(scores)) == kept - 1
