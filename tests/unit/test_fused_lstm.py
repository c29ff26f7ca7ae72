"""The fused bidirectional LSTM computes what Keras's Bidirectional(LSTM) computes."""

import keras
import numpy as np
import pytest

from models.encoder import RecurrentEncoder
from models.fused_lstm import FusedBidirectionalLSTM


def copy_weights(keras_bilstm: keras.layers.Bidirectional, fused: FusedBidirectionalLSTM) -> None:
    forward, backward = keras_bilstm.forward_layer.cell, keras_bilstm.backward_layer.cell
    fused.kernel.assign(np.stack([forward.kernel.numpy(), backward.kernel.numpy()]))
    fused.recurrent_kernel.assign(np.stack([forward.recurrent_kernel.numpy(), backward.recurrent_kernel.numpy()]))
    fused.bias.assign(np.stack([forward.bias.numpy(), backward.bias.numpy()]))


@pytest.fixture
def batch():
    rng = np.random.default_rng(0)
    inputs = rng.normal(size=(3, 6, 5)).astype("float32")
    mask = np.array([[1] * 6, [1] * 4 + [0] * 2, [1] + [0] * 5], dtype=bool)
    return inputs, mask


def test_outputs_equal_keras_bidirectional_lstm_on_masked_batches(batch):
    inputs, mask = batch
    reference = keras.layers.Bidirectional(keras.layers.LSTM(4, return_sequences=True))
    expected = reference(inputs, mask=mask).numpy()
    fused = FusedBidirectionalLSTM(4)
    fused.build(inputs.shape)
    copy_weights(reference, fused)

    actual = fused(inputs, mask=mask).numpy()

    np.testing.assert_allclose(actual * mask[..., None], expected * mask[..., None], atol=1e-5)
    assert not actual[~mask].any(), "padding steps are zero"


def test_gradients_equal_keras_bidirectional_lstm(batch):
    import tensorflow as tf

    inputs, mask = batch
    reference = keras.layers.Bidirectional(keras.layers.LSTM(4, return_sequences=True))
    reference(inputs, mask=mask)
    fused = FusedBidirectionalLSTM(4)
    fused.build(inputs.shape)
    copy_weights(reference, fused)
    x = tf.constant(inputs)
    weights = tf.constant(mask[..., None], tf.float32)

    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        expected = tf.reduce_sum(tf.square(reference(x, mask=mask)) * weights)
        actual = tf.reduce_sum(tf.square(fused(x, mask=mask)) * weights)

    np.testing.assert_allclose(tape.gradient(actual, x).numpy(), tape.gradient(expected, x).numpy(), atol=1e-5)


def test_padding_after_a_sentence_does_not_change_its_outputs(batch):
    inputs, mask = batch
    fused = FusedBidirectionalLSTM(4)
    short = fused(inputs[1:2, :4], mask=mask[1:2, :4]).numpy()
    padded = fused(inputs[1:2], mask=mask[1:2]).numpy()

    np.testing.assert_allclose(padded[:, :4], short, atol=1e-6)


def test_the_encoder_builds_fused_layers_only_for_the_bidirectional_lstm():
    encoder = RecurrentEncoder("lstm", layers=2, hidden_dim=3, bidirectional=True, fused=True)
    assert [type(layer) for layer in encoder.recurrent_layers] == [FusedBidirectionalLSTM] * 2
    assert RecurrentEncoder.from_config(encoder.get_config()).fused
    with pytest.raises(ValueError, match="bidirectional LSTM only"):
        RecurrentEncoder("gru", hidden_dim=3, bidirectional=True, fused=True)
