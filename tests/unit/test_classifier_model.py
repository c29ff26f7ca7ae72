"""Unit tests of models.pooling (on hand-made encoder states) and models.classifier (tiny classifiers)."""

import dataclasses

import keras
import numpy as np
import pytest
import tensorflow as tf

from kinds.classifier.settings import ClassifierModel
from models.classifier import POOLING_LAYER, ClassifierSizes, attention_model, build_classifier
from models.encoder import RecurrentEncoder
from models.pooling import (
    POOLINGS,
    AttentionPooling,
    LastStatePooling,
    MaskedMaxPooling,
    MaskedMeanPooling,
    make_pooling,
)
from models.text import TOKEN_IDS
from pipeline.config import ModelConfig

SIZES = ClassifierSizes(words=12, labels=3)
TINY = dataclasses.replace(ClassifierModel(), embedding_dim=4, hidden_dim=3, dropout=0.0)

# Encoder states of four sentences right padded to 4 steps, of 3, 1, 4 and 0 real steps, 2 features.
# Padding holds 100, above every real value, so that a pooling that reads it shows it.
P = 100.0
STATES = np.array(
    [
        [[1, -2], [3, -4], [5, -6], [P, P]],
        [[-7, -8], [P, P], [P, P], [P, P]],
        [[2, 0], [4, 1], [6, 2], [8, 3]],
        [[P, P], [P, P], [P, P], [P, P]],
    ],
    "float32",
)
MASK = np.array([[1, 1, 1, 0], [1, 0, 0, 0], [1, 1, 1, 1], [0, 0, 0, 0]], bool)

# Three sentences right padded with 0 to 5 tokens, of 3, 1 and 0 tokens.
TOKEN_IDS_5 = np.array([[4, 5, 6, 0, 0], [7, 0, 0, 0, 0], [0, 0, 0, 0, 0]], "int32")


@pytest.fixture(autouse=True)
def seed():
    keras.utils.set_random_seed(0)


def tiny_config(**changes) -> ModelConfig:
    return dataclasses.replace(TINY, **changes)


def numpy(tensor) -> np.ndarray:
    return keras.ops.convert_to_numpy(tensor)


def pad(array: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """`array` right padded with 0 to `shape`."""
    padded = np.zeros(shape, array.dtype)
    padded[tuple(slice(0, n) for n in array.shape)] = array
    return padded


# --------------------------------------------------------------------------- pooling layers, by hand


def test_mean_pooling_averages_the_real_steps_only():
    pooled = numpy(MaskedMeanPooling()(STATES, mask=MASK))

    np.testing.assert_allclose(pooled, [[3, -4], [-7, -8], [5, 1.5], [0, 0]], atol=1e-6)


def test_max_pooling_never_picks_padding_even_over_negative_values():
    pooled = numpy(MaskedMaxPooling()(STATES, mask=MASK))

    np.testing.assert_array_equal(pooled, [[5, -2], [-7, -8], [8, 3], [0, 0]])


def test_max_pooling_ignores_zero_padding_under_negative_values():
    states = np.array([[[-3, -1], [-2, -5], [0, 0]]], "float32")  # zeros on the padding step

    pooled = numpy(MaskedMaxPooling()(states, mask=np.array([[True, True, False]])))

    np.testing.assert_array_equal(pooled, [[-2, -1]])


def test_last_state_pooling_picks_each_rows_last_real_step():
    pooled = numpy(LastStatePooling(bidirectional=False)(STATES, mask=MASK))

    np.testing.assert_array_equal(pooled, [STATES[0, 2], STATES[1, 0], STATES[2, 3], [0, 0]])


def test_bidirectional_last_state_pooling_takes_the_backward_half_at_step_0():
    # Features [forward 0, forward 1, backward 0, backward 1]; backward values are forward ones + 10.
    states = np.concatenate([STATES, STATES + 10], axis=-1)

    pooled = numpy(LastStatePooling(bidirectional=True)(states, mask=MASK))

    expected = [
        [5, -6, 11, 8],  # forward at step 2, backward at step 0
        [-7, -8, 3, 2],  # one token: both at step 0
        [8, 3, 12, 10],  # forward at step 3, backward at step 0
        [0, 0, 0, 0],
    ]
    np.testing.assert_array_equal(pooled, expected)


def test_attention_pooling_with_a_zero_context_vector_is_the_mean():
    layer = AttentionPooling(units=3)
    layer.build(STATES.shape)
    layer.context.assign(np.zeros(3, "float32"))  # every score 0: uniform weights over the real steps

    pooled, weights = layer(STATES, mask=MASK, return_weights=True)

    np.testing.assert_allclose(numpy(pooled), [[3, -4], [-7, -8], [5, 1.5], [0, 0]], atol=1e-6)
    np.testing.assert_allclose(
        numpy(weights), [[1 / 3, 1 / 3, 1 / 3, 0], [1, 0, 0, 0], [0.25, 0.25, 0.25, 0.25], [0, 0, 0, 0]], atol=1e-6
    )


def test_attention_pooling_weights_are_a_softmax_of_the_scores_over_real_steps():
    layer = AttentionPooling(units=2)
    layer.build(STATES.shape)
    layer.set_weights([np.eye(2, dtype="float32") * 0.5, np.zeros(2, "float32"), np.array([1, 0], "float32")])
    # u_t = tanh(h_t / 2), score_t = u_t[0] = tanh(h_t[0] / 2).
    scores = np.tanh(STATES[..., 0] / 2)
    expected = np.where(MASK, np.exp(scores), 0.0)
    expected[:3] /= expected[:3].sum(axis=1, keepdims=True)

    pooled, weights = layer(STATES, mask=MASK, return_weights=True)

    np.testing.assert_allclose(numpy(weights), expected, atol=1e-6)
    np.testing.assert_allclose(numpy(pooled), np.einsum("bt,btf->bf", expected, STATES * MASK[..., None]), atol=1e-5)


def test_attention_weights_sum_to_1_over_real_steps_and_are_exactly_0_on_padding():
    states = np.random.default_rng(0).normal(size=STATES.shape).astype("float32") * 5

    _, weights = AttentionPooling()(states, mask=MASK, return_weights=True)

    weights = numpy(weights)
    assert np.all(weights[~MASK] == 0.0)
    assert np.all(weights[MASK] > 0.0)
    np.testing.assert_allclose(weights.sum(axis=1), [1, 1, 1, 0], atol=1e-6)


@pytest.mark.parametrize("pooling", POOLINGS)
def test_pooling_gives_zeros_for_a_row_without_tokens_and_finite_gradients(pooling):
    layer = make_pooling(pooling, bidirectional=False)
    states = tf.constant(STATES)

    with tf.GradientTape() as tape:
        tape.watch(states)
        pooled = layer(states, mask=MASK)
        loss = tf.reduce_sum(pooled)
    gradients = [numpy(g) for g in tape.gradient(loss, [states, *layer.trainable_weights])]

    np.testing.assert_array_equal(numpy(pooled)[3], [0, 0])
    assert np.all(np.isfinite(numpy(pooled)))
    assert all(np.all(np.isfinite(g)) for g in gradients)
    assert np.all(gradients[0][~MASK] == 0.0)  # nothing flows to padding


@pytest.mark.parametrize("pooling", POOLINGS)
def test_pooling_does_not_depend_on_padding_length(pooling):
    layer = make_pooling(pooling, bidirectional=True)
    states = np.random.default_rng(1).normal(size=(4, 4, 4)).astype("float32")
    states[~MASK] = P

    short = numpy(layer(states, mask=MASK))
    long = numpy(layer(pad(states, (4, 9, 4)), mask=pad(MASK, (4, 9))))

    np.testing.assert_allclose(long, short, atol=1e-6)


@pytest.mark.parametrize("pooling", POOLINGS)
def test_pooling_without_a_mask_uses_every_step(pooling):
    layer = make_pooling(pooling, bidirectional=False)
    full = np.ones_like(MASK)

    np.testing.assert_allclose(numpy(layer(STATES[:3])), numpy(layer(STATES[:3], mask=full[:3])), atol=1e-6)


@pytest.mark.parametrize(
    ("layer", "attributes"),
    [
        (LastStatePooling(bidirectional=True, name="p"), {"bidirectional": True}),
        (MaskedMeanPooling(name="p"), {}),
        (MaskedMaxPooling(name="p"), {}),
        (AttentionPooling(units=5, name="p"), {"units": 5}),
    ],
    ids=["last", "mean", "max", "attention"],
)
def test_pooling_config_round_trip(layer, attributes):
    rebuilt = type(layer).from_config(layer.get_config())

    assert rebuilt.get_config() == layer.get_config()
    assert {key: getattr(rebuilt, key) for key in attributes} == attributes


def test_make_pooling_rejects_an_unknown_pooling():
    with pytest.raises(ValueError, match="unknown pooling 'sum'"):
        make_pooling("sum", bidirectional=False)


# --------------------------------------------------------------------------- build_classifier


@pytest.mark.parametrize("pooling", POOLINGS)
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_classifier_gives_label_logits_that_do_not_depend_on_padding(cell, bidirectional, pooling):
    model = build_classifier(SIZES, tiny_config(cell=cell, bidirectional=bidirectional, pooling=pooling))

    short = numpy(model({TOKEN_IDS: TOKEN_IDS_5}, training=False))
    long = numpy(model({TOKEN_IDS: pad(TOKEN_IDS_5, (3, 9))}, training=False))

    assert short.shape == (3, SIZES.labels)
    assert model.name == f"{'bi' if bidirectional else ''}{cell}_classifier"
    assert np.all(np.isfinite(short))
    np.testing.assert_allclose(long, short, atol=1e-6)
    # The empty sentence: a zero vector into the output layer leaves only its bias.
    np.testing.assert_allclose(short[2], numpy(model.get_layer("label_logits").bias), atol=1e-6)


def test_classifier_has_only_the_token_ids_input():
    model = build_classifier(SIZES, tiny_config())

    assert [tensor.name for tensor in model.inputs] == [TOKEN_IDS]
    assert isinstance(model.get_layer("encoder"), RecurrentEncoder)


def test_classifier_rejects_an_unknown_pooling():
    with pytest.raises(ValueError, match="unknown pooling"):
        build_classifier(SIZES, tiny_config(pooling="sum"))


def test_attention_model_returns_the_logits_and_the_attention_weights():
    model = build_classifier(SIZES, tiny_config(pooling="attention"))
    inputs = {TOKEN_IDS: TOKEN_IDS_5}

    outputs = attention_model(model)(inputs, training=False)

    np.testing.assert_allclose(numpy(outputs["logits"]), numpy(model(inputs, training=False)), atol=1e-6)
    weights = numpy(outputs["attention"])
    assert weights.shape == TOKEN_IDS_5.shape
    assert np.all(weights[TOKEN_IDS_5 == 0] == 0.0)
    np.testing.assert_allclose(weights.sum(axis=1), [1, 1, 0], atol=1e-6)


def test_attention_model_needs_attention_pooling():
    with pytest.raises(ValueError, match="not AttentionPooling"):
        attention_model(build_classifier(SIZES, tiny_config(pooling="mean")))


@pytest.mark.parametrize("pooling", POOLINGS)
def test_saved_classifier_loads_back_with_identical_outputs(tmp_path, pooling):
    model = build_classifier(SIZES, tiny_config(layers=2, pooling=pooling))
    inputs = {TOKEN_IDS: TOKEN_IDS_5}
    expected = numpy(model(inputs, training=False))
    path = tmp_path / "classifier.keras"

    model.save(path)
    loaded = keras.saving.load_model(path)

    np.testing.assert_array_equal(numpy(loaded(inputs, training=False)), expected)
    assert type(loaded.get_layer(POOLING_LAYER)) is type(model.get_layer(POOLING_LAYER))
    if pooling == "attention":
        weights = numpy(attention_model(loaded)(inputs, training=False)["attention"])
        np.testing.assert_array_equal(weights, numpy(attention_model(model)(inputs, training=False)["attention"]))


# --------------------------------------------------------------------------- learning a toy task

TOY_WORDS = 12
MARKER = 3  # label 1: the sentence holds this word somewhere


def toy_data(count: int, seed: int) -> tuple[dict, np.ndarray]:
    """Sentences of 1 to 8 random words right padded to 8; label 1 when `MARKER` is among them (half)."""
    rng = np.random.default_rng(seed)
    others = np.array([word for word in range(1, TOY_WORDS) if word != MARKER])
    token_ids = np.zeros((count, 8), "int32")
    labels = rng.integers(0, 2, count).astype("int32")
    for row, label in enumerate(labels):
        length = rng.integers(1, 9)
        token_ids[row, :length] = rng.choice(others, length)
        if label:
            token_ids[row, rng.integers(0, length)] = MARKER
    return {TOKEN_IDS: token_ids}, labels


@pytest.mark.parametrize("pooling", POOLINGS)
def test_classifier_learns_whether_a_word_occurs(pooling):
    config = tiny_config(cell="gru", bidirectional=True, embedding_dim=8, hidden_dim=8, pooling=pooling)
    model = build_classifier(ClassifierSizes(words=TOY_WORDS, labels=2), config)
    model.compile(
        optimizer=keras.optimizers.Adam(0.02),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    train_x, train_y = toy_data(320, seed=1)
    test_x, test_y = toy_data(200, seed=2)

    model.fit(train_x, train_y, batch_size=32, epochs=8, shuffle=True, verbose=0)

    _, accuracy = model.evaluate(test_x, test_y, batch_size=200, verbose=0)
    assert accuracy >= 0.9
