"""A captioner through the CLI: composed digit scenes (the default data's script, at a small size), a tiny CNN
and LSTM, beam search in the exported graph from encoded image bytes, BLEU against both baselines, the
attention probe and pictures, predict on image files and the MLflow pyfunc model on base64 images."""

from __future__ import annotations

import base64
import json
import pathlib
import subprocess
import sys

import pytest

from tests.e2e.support import run_cli, write_config

pytestmark = pytest.mark.slow

TASK = "toy-captions"
ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> pathlib.Path:
    folder = tmp_path_factory.mktemp("captions")
    scenes = folder / "scenes"
    subprocess.run(
        [sys.executable, str(ROOT / "data" / "prepare_digit_captions.py"), "--images", "240", "--out", str(scenes)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    (scenes / "images" / "empty.png").write_bytes(b"")
    with (scenes / "captions.tsv").open("a", encoding="utf-8") as captions:
        captions.write("images/missing.png\ta small two\nimages/empty.png\ta large one\n")
    task = {
        "name": TASK,
        "kind": "captioner",
        "data": {"train": "scenes/captions.tsv", "split": {"eval": 0.15, "test": 0.15}},
        "preprocess": {"tokenizer": "whitespace", "image_size": 32, "num_shards": 2},
        "model": {"encoder_filters": 8, "embedding_dim": 16, "hidden_dim": 32, "dropout": 0.0},
        "train": {"epochs": 3, "batch_size": 16, "learning_rate": 0.005},
        "decode": {"strategy": "beam", "beam_size": 2},
        # A tiny model need not beat the baselines: this test is about the pipeline, the default run about quality.
        "evaluate": {"bless_margin": -1.0, "objects": "scenes/objects.tsv"},
    }
    return write_config(folder, task)


@pytest.fixture(scope="module")
def first_run(workspace):
    return run_cli(workspace, "run")


def stage_file(workspace: pathlib.Path, pattern: str) -> pathlib.Path:
    (path,) = (workspace / "runs" / TASK).glob(pattern)
    return path


def test_a_missing_and_an_empty_image_are_rejected_with_their_lines(first_run, workspace):
    rejects = stage_file(workspace, "ingest/*/rejects/rejects.jsonl")
    found = [(r["line"], r["reason"]) for r in map(json.loads, rejects.read_text().splitlines())]
    assert found == [(481, "image images/missing.png: not found"), (482, "image images/empty.png: empty file")]


def test_one_images_captions_stay_in_one_split(first_run, workspace):
    splits = {}
    for split in ("train", "eval", "test"):
        for line in stage_file(workspace, f"ingest/*/examples/{split}.jsonl").read_text().splitlines():
            splits.setdefault(json.loads(line)["image"], set()).add(split)
    assert len(splits) == 240 and all(len(s) == 1 for s in splits.values())
    statistics = json.loads(stage_file(workspace, "statistics/*/statistics/statistics.json").read_text())
    groups = {split: statistics["groups"][split]["count"] for split in ("train", "eval", "test")}
    assert sum(groups.values()) == 240 and statistics["groups"]["train"]["records_per_group"] == {"min": 2, "max": 2}
    assert "split by records, those of one image together" in first_run.stdout and "images: train " in first_run.stdout


def test_every_system_is_scored_by_bleu_1_to_4_and_the_attention_probe_runs(first_run, workspace):
    test = json.loads(stage_file(workspace, "evaluate/*/evaluation/metrics.json").read_text())["test"]
    assert set(test) == {"model", "greedy", "wrong_start", "frequent_caption", "nearest_image"}
    for scores in test.values():
        assert {"bleu", "bleu_1", "bleu_2", "bleu_3", "bleu_4", "exact_match"} <= set(scores)
        assert scores["bleu_1"] >= scores["bleu_4"] and scores["images"] == test["model"]["images"] > 0
    assert test["nearest_image"]["bleu_1"] > 20.0  # scenes share words: retrieval gets many of them
    assert test["model"]["attention_words"] > 0
    assert 0.0 < test["model"]["attention_on_object_chance"] < 0.5
    pngs = list((workspace / "runs" / TASK / "evaluate").glob("*/evaluation/attention/attention_*.png"))
    assert len(pngs) == 4 and all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)
    assert "serving: " in first_run.stdout and "infra-validation" in first_run.stdout


CLIENT = """
import json, sys
import tensorflow as tf
model = tf.saved_model.load(sys.argv[1])
files = [open(path, "rb").read() for path in json.loads(sys.argv[2])]
captions = model.signatures["serving_default"](image=tf.constant(files))["caption"].numpy()
attention = model.signatures["attention"](image=tf.constant(files))
print(json.dumps({
    "captions": [c.decode() for c in captions],
    "attention": list(attention["attention"].shape),
    "words": list(attention["words"].shape),
}))
"""


def test_the_saved_model_captions_image_files_as_evaluation_did_in_a_fresh_process(first_run, workspace):
    predictions = stage_file(workspace, "evaluate/*/evaluation/predictions_eval.jsonl")
    expected = [json.loads(line) for line in predictions.read_text().splitlines()]
    serving = workspace / "runs" / TASK / "serving" / "1"
    paths = json.dumps([e["image_path"] for e in expected])

    result = subprocess.run(
        [sys.executable, "-c", CLIENT, str(serving), paths], capture_output=True, text=True, timeout=300, check=True
    )

    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert answer["captions"] == [e["caption"] for e in expected]
    batch, steps, grid, width = answer["attention"]
    assert answer["words"] == [batch, steps] and batch == len(expected) and grid == width == 4


def test_predict_reads_image_files_and_pyfunc_takes_base64(first_run, workspace):
    image = workspace / "scenes" / "images" / "00000.png"
    predicted = run_cli(workspace, "predict", "--task", TASK, "--json", str(image))
    caption = json.loads(predicted.stdout.strip().splitlines()[-1])["caption"]
    assert caption

    missing = run_cli(workspace, "predict", "--task", TASK, str(workspace / "nope.png"), check=False)
    assert missing.returncode != 0 and "nope.png: cannot read" in missing.stderr

    import mlflow

    (model_dir,) = (workspace / "runs" / TASK / "export").glob("*/pushed_model/mlflow_model")
    pyfunc = mlflow.pyfunc.load_model(str(model_dir))
    assert pyfunc.predict([base64.b64encode(image.read_bytes()).decode()]) == [{"caption": caption}]


def test_a_text_file_and_an_empty_file_given_as_images_are_named_and_the_good_image_still_captioned(
    first_run, workspace
):
    image = workspace / "scenes" / "images" / "00000.png"
    (workspace / "notes.txt").write_text("a note, not an image\n", encoding="utf-8")
    (workspace / "empty.jpg").write_bytes(b"")
    alone = run_cli(workspace, "predict", "--task", TASK, str(image)).stdout

    result = run_cli(workspace, "predict", "--task", TASK, "notes.txt", str(image), "empty.jpg", check=False)

    assert (result.returncode, result.stdout) == (1, alone)
    assert result.stderr == (
        "error: notes.txt: not an image (JPEG, PNG, GIF or BMP): its bytes start b'a note, not '\n"
        "error: empty.jpg: empty: no bytes\n"
    )

    import mlflow

    (model_dir,) = (workspace / "runs" / TASK / "export").glob("*/pushed_model/mlflow_model")
    pyfunc = mlflow.pyfunc.load_model(str(model_dir))
    good = base64.b64encode(image.read_bytes()).decode()
    assert pyfunc.predict(["not base64!", good]) == [
        {"error": "not base64: an image is sent as its file's bytes, base64-encoded"},
        {"caption": alone.strip()},
    ]
