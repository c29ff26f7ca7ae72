"""The question answerer's parts: the stacked attention network against its equations, its attention maps, saving
and loading, the preprocess layout and batches, the evaluator's scores by question and answer type, and the
client's requests."""

from __future__ import annotations

import base64
import io
import types

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

import kinds
from components.export.client_loader import load_client
from kinds.vqa import evaluate
from kinds.vqa.preprocess import QuestionsAboutImages
from kinds.vqa.settings import VqaPreprocess
from models import images, text, vqa, vqa_data
from models.vqa import AttentionHop, VqaSizes, build_vqa

SETTINGS = dict(
    encoder="cnn",
    encoder_filters=2,
    encoder_weights=None,
    grid_positions=True,
    cell="gru",
    layers=1,
    bidirectional=True,
    embedding_dim=4,
    hidden_dim=3,
    dropout=0.0,
    attention_hops=2,
    attention_units=5,
    answer_hidden=0,
)
RNG = np.random.default_rng(0)
PIXELS = RNG.integers(0, 256, size=(3, 16, 16, 3)).astype("uint8")
QUESTIONS = np.array([[4, 5, 6], [7, 0, 0], [8, 9, 0]], "int32")


def model(**changes) -> keras.Model:
    keras.utils.set_random_seed(0)
    return build_vqa(VqaSizes(words=10, answers=6, image_size=16), types.SimpleNamespace(**{**SETTINGS, **changes}))


def inputs() -> dict:
    return {images.IMAGE: PIXELS, text.TOKEN_IDS: QUESTIONS}


def test_a_hop_adds_what_additive_attention_gathers_from_the_regions_to_the_query():
    hop = AttentionHop(units=4)
    query, regions = RNG.normal(size=(2, 3)).astype("float32"), RNG.normal(size=(2, 5, 3)).astype("float32")

    refined, weights = (np.asarray(t) for t in hop(query, regions))

    a = hop.attention
    w_q, w_k, v = (np.asarray(w) for w in (a.query_kernel, a.key_kernel, a.score_vector))
    scores = np.tanh((query @ w_q)[:, None, :] + regions @ w_k) @ v  # vᵀ tanh(W_Q u + W_I v_i)
    p = np.exp(scores - scores.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    np.testing.assert_allclose(weights, p, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(refined, query + (p[:, :, None] * regions).sum(1), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("hops", [1, 2, 3])
def test_each_hop_gives_a_map_over_the_grid_that_sums_to_one(hops):
    network = model(attention_hops=hops)
    out = vqa.attention_model(network)(inputs(), training=False)

    maps = np.asarray(out["attention"])
    assert maps.shape == (3, hops, 2, 2)  # a 16-pixel image: a 2x2 grid after three 2x2 pools
    np.testing.assert_allclose(maps.sum(axis=(2, 3)), 1.0, rtol=1e-5)
    np.testing.assert_allclose(np.asarray(out["logits"]), np.asarray(network(inputs(), training=False)), rtol=1e-6)
    assert [hop.name for hop in vqa.hops(network)] == [f"hop_{k}" for k in range(1, hops + 1)]


def test_the_answer_depends_on_the_image_and_on_the_question():
    network = model()
    logits = np.asarray(network(inputs(), training=False))
    other_image = np.asarray(network({**inputs(), images.IMAGE: PIXELS[::-1]}, training=False))
    other_question = np.asarray(network({**inputs(), text.TOKEN_IDS: QUESTIONS[::-1]}, training=False))
    assert logits.shape == (3, 6)
    assert not np.allclose(logits[0], other_image[0]) and not np.allclose(logits[0], other_question[0])


def test_the_blind_model_has_no_cnn_and_answers_whatever_the_image():
    keras.utils.set_random_seed(0)
    blind = build_vqa(VqaSizes(words=10, answers=6, image_size=16), types.SimpleNamespace(**SETTINGS), blind=True)
    blind.get_layer("blind_grid").grid.assign(RNG.normal(size=(2, 2, 8)).astype("float32"))  # 2x2 grid, 4·2 channels

    logits = np.asarray(blind(inputs(), training=False))

    np.testing.assert_array_equal(np.asarray(blind({**inputs(), images.IMAGE: PIXELS[::-1]}, training=False)), logits)
    assert not np.allclose(np.asarray(blind({**inputs(), text.TOKEN_IDS: QUESTIONS[::-1]}, training=False)), logits)
    assert not any("image_encoder" in w.path for w in blind.weights)
    assert len(blind.weights) < len(model().weights)


def test_padding_a_question_further_changes_nothing():
    network = model()
    padded = np.pad(QUESTIONS, [[0, 0], [0, 4]])
    np.testing.assert_allclose(
        np.asarray(network({**inputs(), text.TOKEN_IDS: padded}, training=False)),
        np.asarray(network(inputs(), training=False)),
        rtol=1e-5,
        atol=1e-6,
    )


def test_saved_and_loaded_it_answers_alike_and_its_attention_model_can_be_built_again(tmp_path):
    network = model(grid_positions=False, bidirectional=False, cell="lstm", attention_hops=1)
    path = tmp_path / "model.keras"
    network.save(path)

    loaded = keras.saving.load_model(path)

    np.testing.assert_allclose(
        np.asarray(loaded(inputs(), training=False)), np.asarray(network(inputs(), training=False)), rtol=1e-6
    )
    maps = vqa.attention_model(loaded)(inputs(), training=False)["attention"]
    assert tuple(maps.shape) == (3, 1, 2, 2)
    assert not any("grid_positions" in w.path for w in loaded.weights)


def test_an_unknown_encoder_is_refused():
    with pytest.raises(ValueError, match="unknown encoder 'AlexNet'"):
        model(encoder="AlexNet")


def png(value: int, size: int = 20) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (size, size), (value, value, value)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_the_layout_makes_vocabularies_from_training_and_examples_the_batches_read(tmp_path):
    for name, value in (("a.png", 0), ("b.png", 255)):
        (tmp_path / name).write_bytes(png(value))
    rows = [("a.png", "Is there a dog?", "no"), ("b.png", "how many?", "2"), ("b.png", "is there a cat?", "9")]
    records = [
        {"key": f"k{i}", "input_hash": f"h{i}", "image": str(tmp_path / name), "question": question, "answer": answer}
        for i, (name, question, answer) in enumerate(rows)
    ]
    layout = QuestionsAboutImages(VqaPreprocess(tokenizer="whitespace", lowercase=True, image_size=16))
    counts: dict = {}
    for (name, unit), count in layout.unit_counts(records[:2], None):  # the training split
        counts.setdefault(name, []).append((unit, count))
    vocabularies = layout.vocabularies(counts, None)
    assert [a for a, _ in vocabularies["answers"]] == ["2", "no"]  # no reserved entries; by count, then by name
    assert "is" in [w for w, _ in vocabularies["words"]] and "Is" not in [w for w, _ in vocabularies["words"]]

    shard = tmp_path / "shard.tfrecord"
    with tf.io.TFRecordWriter(str(shard)) as writer:
        for _, serialized, _ in layout.encode(records, vocabularies):
            writer.write(serialized)

    (features, answer_ids), *_ = vqa_data.vqa_dataset([shard], 8, 16, with_strings=True)
    assert answer_ids.numpy().tolist() == [1, 0, -1]  # an answer unseen in training: -1, scored wrong
    assert features[images.IMAGE].shape == (3, 16, 16, 3) and features[images.IMAGE].dtype == tf.uint8
    assert features[images.IMAGE].numpy()[1].min() == 255
    words = [w for w, _ in vocabularies["words"]]
    assert [words[i] for i in features[text.TOKEN_IDS].numpy()[1] if i] == ["how", "many?"]
    assert [a.decode() for a in features[vqa_data.ANSWER].numpy()] == ["no", "2", "9"]

    (training, trained_ids), *_ = vqa_data.vqa_dataset([shard], 8, 16)
    assert trained_ids.numpy().tolist() == [1, 0]  # training leaves out the answer it cannot learn
    assert set(training) == {images.IMAGE, text.TOKEN_IDS}


def test_answer_and_question_types():
    assert [evaluate.answer_type(a) for a in ("yes", "No", "3", "2.5", "seven", "red")] == [
        "yes/no",
        "yes/no",
        "number",
        "number",
        "other",
        "other",
    ]
    assert evaluate.question_type("How many digits are there?", 2) == "how many"
    assert evaluate.question_type("Is the seven left of the two?", 3) == "is the seven"
    assert evaluate.question_type("?", 2) == "(empty)"
    assert evaluate.folded("  Is there  a Seven? ") == "is there a seven?"


def test_accuracy_is_scored_overall_per_question_type_and_per_gold_answer_type():
    gold = ["yes", "no", "2", "seven"]
    predicted = ["yes", "yes", "2", "two"]
    questions = ["is there a two?", "is there a one?", "how many digits?", "what digit is it?"]

    scores = evaluate.accuracy_scores(gold, predicted, questions, 2)

    assert scores["accuracy"] == 0.5 and scores["questions"] == 4
    assert scores["per_question_type"] == {"how_many": 1.0, "is_there": 0.5, "what_digit": 0.0}
    assert scores["per_answer_type"] == {"number": 1.0, "other": 0.0, "yes_no": 0.5}


@pytest.fixture(scope="module")
def client():
    return load_client(kinds.get("vqa").client)


def test_the_client_reads_image_and_question_pairs_and_names_what_is_wrong_with_a_request(client, tmp_path):
    (tmp_path / "a.png").write_bytes(png(10))
    pairs = client.from_arguments([str(tmp_path / "a.png"), "is there a dog?", str(tmp_path / "a.png")])
    encoded = base64.b64encode(png(10)).decode()
    assert pairs == [
        (f"{tmp_path / 'a.png'}: is there a dog?", f"{encoded}\tis there a dog?"),
        (str(tmp_path / "a.png"), f"{encoded}\t"),
    ]
    assert client._request(f"{encoded}\tis it?") == (png(10), "is it?", None)
    assert client._request(f"{encoded}\t ")[2] == "no question: give one after the image"
    assert client._request("is it?")[2].startswith("not IMAGE<TAB>QUESTION")
    assert client._request("!!\tis it?")[2].startswith("the image is not base64")
    assert client._request(f"{base64.b64encode(b'hello').decode()}\tis it?")[2].startswith("not an image")
    assert client._request("\tis it?")[2] == "empty image: no bytes"
