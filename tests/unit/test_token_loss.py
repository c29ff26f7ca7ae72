"""The trainer's loss is cross-entropy per real token: padding neither counts nor dilutes it."""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest

from kinds.base.recipe import compile_model, token_loss
from pipeline.config import TrainConfig


def log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))


def test_the_loss_is_the_mean_over_weighted_tokens():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(3, 6, 5)).astype("float32")
    targets = rng.integers(1, 5, size=(3, 6)).astype("int32")
    weights = np.array([[1] * 6, [1, 1, 1, 0, 0, 0], [1, 0, 0, 0, 0, 0]], "float32")

    loss = float(token_loss()(targets, logits, sample_weight=weights))

    picked = np.take_along_axis(log_softmax(logits), targets[..., None], -1)[..., 0]
    assert loss == pytest.approx(-(picked * weights).sum() / weights.sum(), rel=1e-5)


def test_more_padding_leaves_the_loss_of_the_same_tokens_unchanged():
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(2, 4, 7)).astype("float32")
    targets = rng.integers(1, 7, size=(2, 4)).astype("int32")
    weights = np.ones((2, 4), "float32")
    padded = np.concatenate([logits, rng.normal(size=(2, 12, 7)).astype("float32")], axis=1)
    padded_targets = np.concatenate([targets, np.zeros((2, 12), "int32")], axis=1)
    padded_weights = np.concatenate([weights, np.zeros((2, 12), "float32")], axis=1)

    short = float(token_loss()(targets, logits, sample_weight=weights))
    long = float(token_loss()(padded_targets, padded, sample_weight=padded_weights))

    assert long == pytest.approx(short, rel=1e-5)


def test_a_compiled_model_reports_per_token_loss_on_a_padded_batch():
    # A model that predicts every unit equally likely: per-token cross-entropy is log(units) exactly.
    units = 9
    inputs = keras.Input((None,), dtype="int32")
    logits = keras.layers.Dense(units, kernel_initializer="zeros", bias_initializer="zeros")(
        keras.layers.Embedding(units, 3)(inputs)
    )
    model = keras.Model(inputs, logits)
    compile_model(model, TrainConfig(learning_rate=0.0))
    x = np.array([[1, 2, 3, 0, 0, 0, 0, 0]], "int32")
    weights = (x > 0).astype("float32")

    result = model.evaluate(x, x, sample_weight=weights, verbose=0, return_dict=True)

    assert result["loss"] == pytest.approx(math.log(units), rel=1e-5)  # not 3/8 of it
