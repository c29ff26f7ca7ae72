"""A bidirectional LSTM with both directions in one loop and the input projection out of it.

Keras's LSTM runs one loop per direction, and each step multiplies the step's input by the input
weights before the recurrent product. Here the input projection of every time step and both
directions is one large matrix product done before the loop, and the loop body is one batched
product (forward and backward stacked) plus the gate arithmetic: half the loops, a quarter of the
matrix products inside them. The gates follow Keras's LSTM (i, f, c, o order, sigmoid and tanh,
unit forget bias), so the numbers are those of `Bidirectional(LSTM(...))`.

The backward direction reads each sentence reversed within its own length (`tf.reverse_sequence`),
so padding stays at the end for both directions and one mask serves both.
"""

from __future__ import annotations

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="seqpipe")
class FusedBidirectionalLSTM(keras.layers.Layer):
    """Bidirectional LSTM over right-padded, masked sequences, returning every step.

    Args:
        units: hidden units per direction.

    Call args:
        inputs: float [batch, time, features].
        mask: bool [batch, time], True on real steps, which come first (right padding).

    Returns:
        float [batch, time, 2 * units]: forward and backward states, zero on padding.
    """

    def __init__(self, units: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.units = units
        self.supports_masking = True

    def build(self, input_shape):
        features = input_shape[-1]
        # [direction, ...]: index 0 forward, 1 backward.
        self.kernel = self.add_weight(name="kernel", shape=(2, features, 4 * self.units), initializer="glorot_uniform")
        self.recurrent_kernel = self.add_weight(
            name="recurrent_kernel", shape=(2, self.units, 4 * self.units), initializer="orthogonal"
        )
        # Forget gate bias 1 (Jozefowicz et al. 2015), as Keras's unit_forget_bias.
        bias = [0.0] * self.units + [1.0] * self.units + [0.0] * (2 * self.units)
        self.bias = self.add_weight(
            name="bias", shape=(2, 4 * self.units), initializer=keras.initializers.Constant([bias, bias])
        )
        self.built = True

    def call(self, inputs, mask=None):
        batch, time = tf.shape(inputs)[0], tf.shape(inputs)[1]
        if mask is None:
            mask = tf.ones((batch, time), tf.bool)
        lengths = tf.reduce_sum(tf.cast(mask, tf.int32), axis=1)
        backward = tf.reverse_sequence(inputs, lengths, seq_axis=1, batch_axis=0)
        # Every step's input projection for both directions: [2, batch, time, 4 * units].
        projected = tf.einsum("dbtf,dfg->dbtg", tf.stack([inputs, backward]), self.kernel)
        projected += self.bias[:, None, None, :]
        projected = tf.transpose(projected, [2, 0, 1, 3])  # [time, 2, batch, 4 * units]
        step_mask = tf.transpose(tf.cast(mask, inputs.dtype))[:, None, :, None]  # [time, 1, batch, 1]

        def step(t, h, c, outputs):
            z = projected[t] + tf.matmul(h, self.recurrent_kernel)
            i, f, g, o = tf.split(z, 4, axis=-1)
            c_new = tf.sigmoid(f) * c + tf.sigmoid(i) * tf.tanh(g)
            h_new = tf.sigmoid(o) * tf.tanh(c_new)
            real = step_mask[t]
            c = real * c_new + (1.0 - real) * c  # padding leaves the state as it was
            h = real * h_new + (1.0 - real) * h
            return t + 1, h, c, outputs.write(t, h * real)

        zeros = tf.zeros((2, batch, self.units), inputs.dtype)
        outputs = tf.TensorArray(inputs.dtype, size=time)
        _, _, _, outputs = tf.while_loop(
            lambda t, *_: t < time, step, (tf.constant(0), zeros, zeros, outputs), maximum_iterations=time
        )
        states = tf.transpose(outputs.stack(), [1, 2, 0, 3])  # [2, batch, time, units]
        backward_states = tf.reverse_sequence(states[1], lengths, seq_axis=1, batch_axis=0)
        return tf.concat([states[0], backward_states], axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], 2 * self.units)

    def compute_mask(self, inputs, mask=None):
        return mask

    def get_config(self):
        return {**super().get_config(), "units": self.units}
