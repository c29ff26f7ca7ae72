"""The window-at-a-time LSTM against Keras's own loop: outputs, final states and every gradient."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

import models.language_model
from models.fused_lstm import lstm_window
from models.language_model import LanguageModelSizes, ResettableCell, ResettableRNN, build_language_model
from pipeline.config import ModelConfig

BATCH, STEPS, FEATURES, HIDDEN = 3, 7, 5, 8
MODES = ["eager", "graph"]


def keras_lstm() -> tuple[keras.layers.RNN, keras.layers.LSTMCell]:
    """Keras's generic loop over a resettable LSTM cell, built, with a bias that is not the initializer's."""
    cell = keras.layers.LSTMCell(HIDDEN)
    layer = keras.layers.RNN(ResettableCell(cell), return_sequences=True, return_state=True)
    layer.build((BATCH, STEPS, FEATURES + 1))
    cell.bias.assign(np.random.default_rng(1).normal(size=4 * HIDDEN).astype("float32"))
    return layer, cell


def window_inputs():
    """Inputs, resets (at the first and last steps and twice in a row among them), a state, and the weights a
    loss gives the outputs, the last h and the last c."""
    rng = np.random.default_rng(0)
    inputs = rng.normal(size=(BATCH, STEPS, FEATURES)).astype("float32")
    resets = np.zeros((BATCH, STEPS), "float32")
    resets[0, 3] = resets[1, 0] = resets[2, 5] = resets[2, 6] = 1.0
    h, c = (rng.normal(size=(BATCH, HIDDEN)).astype("float32") for _ in range(2))
    weights = [
        rng.normal(size=shape).astype("float32") for shape in ((BATCH, STEPS, HIDDEN), (BATCH, HIDDEN), (BATCH, HIDDEN))
    ]
    return inputs, resets, h, c, weights


def in_mode(function, mode: str):
    return tf.function(function) if mode == "graph" else function


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("parts", [1, 2, 4])
def test_lstm_window_matches_keras_cell_loop(parts, mode):
    keras.utils.set_random_seed(0)
    layer, cell = keras_lstm()
    inputs, resets, h0, c0, loss_weights = window_inputs()
    inputs, resets, h0, c0 = (tf.constant(value) for value in (inputs, resets, h0, c0))
    weights = [cell.kernel, cell.recurrent_kernel, cell.bias]
    sources = [inputs, h0, c0, *weights]

    def loss_of(outputs, h, c):
        return sum(tf.reduce_sum(value * weight) for value, weight in zip((outputs, h, c), loss_weights, strict=True))

    def run(fused: bool):
        with tf.GradientTape() as tape:
            tape.watch([inputs, h0, c0])
            if fused:
                results = lstm_window(inputs, 1.0 - resets, h0, c0, *(w.value for w in weights), parts=parts)
            else:
                results = layer(tf.concat([inputs, resets[..., None]], -1), initial_state=[h0, c0])
            loss = loss_of(*results)
        return list(results), tape.gradient(loss, sources)

    (expected, expected_gradients), (found, found_gradients) = in_mode(run, mode)(False), in_mode(run, mode)(True)
    for name, want, got in zip(("outputs", "last h", "last c"), expected, found, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6, err_msg=name)
    names = ("inputs", "initial h", "initial c", "kernel", "recurrent kernel", "bias")
    for name, want, got in zip(names, expected_gradients, found_gradients, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5, err_msg=f"gradient of the {name}")


def test_lstm_window_refuses_parts_that_do_not_divide_the_units():
    inputs, resets, h0, c0, _ = window_inputs()
    layer, cell = keras_lstm()
    with pytest.raises(ValueError, match="3 parts do not divide 8 hidden units"):
        lstm_window(inputs, 1.0 - resets, h0, c0, cell.kernel.value, cell.recurrent_kernel.value, cell.bias.value, 3)


def language_model(cell: str, hidden: int, layer_type) -> keras.Model:
    """A two-layer stateful language model whose recurrent layers are `layer_type`."""
    keras.utils.set_random_seed(3)
    config = ModelConfig(cell=cell, layers=2, bidirectional=False, embedding_dim=4, hidden_dim=hidden, dropout=0.0)
    model = build_language_model(LanguageModelSizes(11), config, batch_size=BATCH, stateful=True)
    if layer_type is keras.layers.RNN:  # the same model with Keras's generic loop
        model = keras.Model.from_config(
            {**model.get_config(), "layers": [plain_rnn(layer) for layer in model.get_config()["layers"]]}
        )
    return model


def plain_rnn(layer_config: dict) -> dict:
    if layer_config["class_name"] != "ResettableRNN":
        return layer_config
    return {**layer_config, "class_name": "RNN", "module": "keras.layers", "registered_name": None}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("cell", "hidden", "fused_calls"), [("lstm", HIDDEN, 2), ("lstm", 5, 2), ("gru", HIDDEN, 0)])
def test_language_model_trains_as_with_keras_loop_across_windows(cell, hidden, fused_calls, mode, monkeypatch):
    """Two windows of a stateful model (the state carried between them): the same logits and gradients. Only
    an LSTM's layers run the window at a time (one group of units when the units are odd)."""
    calls = []

    def counted(*args, **kwargs):
        calls.append(kwargs["parts"])
        return lstm_window(*args, **kwargs)

    monkeypatch.setattr(models.language_model, "lstm_window", counted)
    fused, generic = language_model(cell, hidden, ResettableRNN), language_model(cell, hidden, keras.layers.RNN)
    generic.set_weights(fused.get_weights())
    assert [type(layer).__name__ for layer in fused.layers if isinstance(layer, keras.layers.RNN)] == [
        "ResettableRNN"
    ] * 2
    assert not any(isinstance(layer, ResettableRNN) for layer in generic.layers)
    rng = np.random.default_rng(2)
    for window in range(2):
        batch = {
            "token_ids": rng.integers(4, 11, size=(BATCH, STEPS)).astype("int32"),
            "resets": (rng.random((BATCH, STEPS)) < 0.2).astype("float32"),
        }
        results = []
        for model in (fused, generic):

            def step(batch, model=model):
                with tf.GradientTape() as tape:
                    logits = model(batch, training=True)
                    loss = tf.reduce_sum(logits * np.linspace(-1, 1, logits.shape[-1], dtype="float32"))
                gradients = tape.gradient(loss, model.trainable_variables)
                return logits, [tf.convert_to_tensor(g) for g in gradients]  # the embedding's are sparse

            results.append(in_mode(step, mode)(batch))
        (fused_logits, fused_grads), (generic_logits, generic_grads) = results
        np.testing.assert_allclose(fused_logits, generic_logits, rtol=1e-5, atol=1e-5, err_msg=f"window {window}")
        for variable, want, got in zip(fused.trainable_variables, generic_grads, fused_grads, strict=True):
            np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5, err_msg=f"{variable.path}, window {window}")
    # Each fused layer called (eager) or traced (graph: a new function each window) once a window.
    assert len(calls) == fused_calls * 2
    assert set(calls) <= {2 if hidden % 2 == 0 else 1}


def test_only_a_plain_lstm_cell_runs_fused():
    def layer(cell, **kwargs):
        built = ResettableRNN(ResettableCell(cell), return_sequences=True, **kwargs)
        built.build((BATCH, STEPS, FEATURES + 1))
        return built

    assert layer(keras.layers.LSTMCell(HIDDEN))._runs_fused(None)
    assert not layer(keras.layers.LSTMCell(HIDDEN))._runs_fused(np.ones((BATCH, STEPS), bool))
    for different in (
        {"recurrent_dropout": 0.1},
        {"dropout": 0.1},
        {"use_bias": False},
        {"activation": "relu"},
        {"recurrent_activation": "hard_sigmoid"},
    ):
        assert not layer(keras.layers.LSTMCell(HIDDEN, **different))._runs_fused(None), different
    assert not layer(keras.layers.LSTMCell(HIDDEN), go_backwards=True)._runs_fused(None)
    assert not layer(keras.layers.LSTMCell(HIDDEN), unroll=True)._runs_fused(None)
    assert not layer(keras.layers.GRUCell(HIDDEN))._runs_fused(None)
