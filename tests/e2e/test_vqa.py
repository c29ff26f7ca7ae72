"""A question answerer through the CLI: composed digit scenes with balanced questions (the default data's script,
at a small size), a tiny CNN and LSTM with two hops of attention, accuracy per question and answer type against the
three baselines, the exported graph answering from image bytes and raw questions in a fresh process, predict on
image files and questions, and the MLflow pyfunc model on base64 images and questions."""

from __future__ import annotations

import base64
import json
import pathlib
import subprocess
import sys

import pytest

from tests.e2e.support import run_cli, write_config

pytestmark = pytest.mark.slow

TASK = "toy-vqa"
ROOT = pathlib.Path(__file__).resolve().parents[2]
IMAGES = 120
NAME_QUESTION = "which scene is this?"


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> pathlib.Path:
    folder = tmp_path_factory.mktemp("vqa")
    scenes = folder / "scenes"
    subprocess.run(
        [sys.executable, str(ROOT / "data" / "prepare_vqa_digits.py"), "--images", str(IMAGES), "--out", str(scenes)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    (scenes / "images" / "empty.png").write_bytes(b"")
    with (scenes / "questions.tsv").open("a", encoding="utf-8") as questions:
        questions.write("images/missing.png\tis there a two?\tyes\nimages/00000.png\t \tno\n")
        # An answer of each image's own: the held-out images' answers are never seen in training.
        questions.writelines(f"images/{n:05d}.png\t{NAME_QUESTION}\tscene {n}\n" for n in range(IMAGES))
    task = {
        "name": TASK,
        "kind": "vqa",
        "data": {"train": "scenes/questions.tsv", "split": {"eval": 0.15, "test": 0.15}},
        "preprocess": {"tokenizer": "whitespace", "image_size": 32, "num_shards": 2},
        "model": {"encoder_filters": 4, "embedding_dim": 8, "hidden_dim": 16, "attention_units": 8, "dropout": 0.0},
        "train": {"epochs": 2, "batch_size": 16, "learning_rate": 0.005},
        # A tiny model need not beat the baselines: this test is about the pipeline, the default run about quality.
        "evaluate": {"bless_margin": -1.0, "blind_epochs": 1},
    }
    return write_config(folder, task)


@pytest.fixture(scope="module")
def first_run(workspace):
    return run_cli(workspace, "run")


def stage_file(workspace: pathlib.Path, pattern: str) -> pathlib.Path:
    (path,) = (workspace / "runs" / TASK).glob(pattern)
    return path


def test_a_missing_image_and_an_empty_question_are_rejected_with_their_lines(first_run, workspace):
    rejects = stage_file(workspace, "ingest/*/rejects/rejects.jsonl")
    found = [(r["line"], r["reason"]) for r in map(json.loads, rejects.read_text().splitlines())]
    lines = IMAGES * 4
    assert found == [(lines + 1, "image images/missing.png: not found"), (lines + 2, "empty question")]


def test_the_questions_of_one_image_stay_in_one_split(first_run, workspace):
    splits = {}
    for split in ("train", "eval", "test"):
        for line in stage_file(workspace, f"ingest/*/examples/{split}.jsonl").read_text().splitlines():
            splits.setdefault(json.loads(line)["image"], set()).add(split)
    assert len(splits) == IMAGES and all(len(s) == 1 for s in splits.values())
    assert "images: train " in first_run.stdout


def test_the_model_and_every_baseline_are_scored_per_question_and_answer_type(first_run, workspace):
    test = json.loads(stage_file(workspace, "evaluate/*/evaluation/metrics.json").read_text())["test"]
    assert set(test) == {"model", "majority", "question_prior", "blind"}
    questions = test["model"]["questions"]
    for scores in test.values():
        assert 0.0 <= scores["accuracy"] <= 1.0 and scores["questions"] == questions > 0
        assert set(scores["per_question_type"]) == {
            "how_many",
            "is_the",
            "is_there",
            "what_digit",
            "what_size",
            "which_scene",
        }
        assert set(scores["per_answer_type"]) == {"yes_no", "number", "other"}
    assert test["blind"]["train_seconds"] > 0
    held_out = stage_file(workspace, "ingest/*/examples/test.jsonl").read_text().splitlines()
    named = sum(json.loads(line)["question"] == NAME_QUESTION for line in held_out)
    assert named > 0 and test["model"]["unseen_answers"] == named  # counted, and scored wrong:
    assert test["model"]["per_question_type"]["which_scene"] == 0.0
    # The language prior cannot do better than chance on the balanced yes/no questions by much, nor the majority.
    assert test["majority"]["accuracy"] < 0.35
    pngs = list((workspace / "runs" / TASK / "evaluate").glob("*/evaluation/attention/attention_*.png"))
    assert len(pngs) == 4 and all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)
    assert "question-only baseline trained: 1 epochs" in first_run.stdout
    assert "infra-validation" in first_run.stdout and "serving: " in first_run.stdout


CLIENT = """
import json, sys
import tensorflow as tf
import tensorflow_text
model = tf.saved_model.load(sys.argv[1])
expected = json.loads(open(sys.argv[2], encoding="utf-8").read())
files = tf.constant([open(e["image_path"], "rb").read() for e in expected])
questions = tf.constant([e["question"] for e in expected])
out = model.signatures["serving_default"](image=files, question=questions)
attention = model.signatures["attention"](image=files, question=questions)
print(json.dumps({
    "answers": [a.decode() for a in out["answer"].numpy()],
    "probabilities": out["probabilities"].numpy().tolist(),
    "attention": list(attention["attention"].shape),
}))
"""


def test_the_saved_model_answers_image_files_and_raw_questions_as_evaluation_did_in_a_fresh_process(
    first_run, workspace
):
    predictions = stage_file(workspace, "evaluate/*/evaluation/predictions_eval.jsonl")
    expected = [json.loads(line) for line in predictions.read_text().splitlines()]
    serving = workspace / "runs" / TASK / "serving" / "1"
    requests = workspace / "expected.json"  # in a file: a probability per answer is too long for an argument list
    requests.write_text(json.dumps(expected), encoding="utf-8")

    result = subprocess.run(
        [sys.executable, "-c", CLIENT, str(serving), str(requests)],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )

    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert answer["answers"] == [e["answer"] for e in expected]
    for got, want in zip(answer["probabilities"], expected, strict=True):
        assert got == pytest.approx(want["probabilities"], abs=1e-4)
    assert answer["attention"] == [len(expected), 2, 4, 4]  # two hops over a 32-pixel image's 4x4 grid


def test_predict_takes_images_and_questions_in_pairs_and_pyfunc_takes_base64_and_tab(first_run, workspace):
    image = workspace / "scenes" / "images" / "00000.png"
    predicted = run_cli(workspace, "predict", "--task", TASK, "--json", str(image), "how many digits are there?")
    answer = json.loads(predicted.stdout.strip().splitlines()[-1])
    assert len(answer["probabilities"]) > 5 and answer["input_tokens"] == 5

    result = run_cli(workspace, "predict", "--task", TASK, str(image), "is there a two?", "notes.txt", check=False)
    assert result.returncode != 0 and "notes.txt: cannot read" in result.stderr

    (workspace / "notes.txt").write_text("a note, not an image\n", encoding="utf-8")
    result = run_cli(workspace, "predict", "--task", TASK, "notes.txt", "is it?", str(image), check=False)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr == (
        "error: notes.txt: is it?: not an image (JPEG, PNG, GIF or BMP): its bytes start b'a note, not '\n"
        f"error: {image}: no question: give one after the image\n"
    )

    import mlflow

    (model_dir,) = (workspace / "runs" / TASK / "export").glob("*/pushed_model/mlflow_model")
    pyfunc = mlflow.pyfunc.load_model(str(model_dir))
    good = base64.b64encode(image.read_bytes()).decode()
    found = pyfunc.predict([f"{good}\thow many digits are there?", "no tab here"])
    assert found[0]["answer"] == answer["answer"] and answer["answer"] in found[0]["probabilities"]
    assert list(found[0]["probabilities"].values()) == pytest.approx(answer["probabilities"])
    assert found[1]["error"].startswith("not IMAGE<TAB>QUESTION: a request is an image file's bytes in base64")
