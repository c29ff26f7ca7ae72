"""A resettable LSTM over a whole window in a few large products, with its gradient written out.

Keras runs an LSTM on a CPU one step at a time, as the graph ops of `LSTMCell.call` in a `while_loop`,
and TensorFlow differentiates that loop op by op (its fused kernel is cuDNN's, GPU only). `lstm_window`
computes the same function, Keras's gates in Keras's order on Keras's weights, but arranges the work as
PyTorch's CPU LSTM and cuDNN do (Appleyard et al. 2016, "Optimizing Performance of Recurrent Neural
Networks on GPUs"):

- the input projection `x W + b` of every step is one product before the loop, and so are the weight
  gradients `X^T dZ`, `H^T dZ` after the backward loop, so the loops hold only the products that depend
  on the step before (`h U`, and `dZ U^T` backward);
- the hidden units are cut into `parts` groups (two by default, one per inter-op thread), each with its
  own gates, product and cell update, so the two halves of each step's product run at once on two cores;
  on this project's 2-core machine TensorFlow runs a product of this size on one thread whatever its
  intra-op pool;
- each group's gates are laid out as [input, forget, output | candidate], so a step applies one sigmoid
  and one tanh to each group.

The state is zeroed where a reset flag is set, before the step, as `models.language_model.ResettableCell`
does. `tests/unit/test_fused_lstm.py` checks outputs, final states and every gradient against the
Keras cell's own loop.
"""

from __future__ import annotations

import tensorflow as tf

# Keras's LSTMCell lays out its 4 gates as [input, forget, candidate, output]; here each group's are
# [input, forget, output, candidate].
_GATE_ORDER = (0, 1, 3, 2)


def _to_groups(matrix: tf.Tensor, parts: int) -> list[tf.Tensor]:
    """Keras's [rows, 4 hidden] gate matrix as `parts` groups of hidden units, each [rows, 4 size] with its
    gates in the order [input, forget, output, candidate]."""
    rows, hidden = tf.shape(matrix)[0], matrix.shape[-1] // 4
    grouped = tf.reshape(matrix, [rows, 4, parts, hidden // parts])
    grouped = tf.transpose(tf.gather(grouped, _GATE_ORDER, axis=1), [2, 0, 1, 3])
    return tf.unstack(tf.reshape(grouped, [parts, rows, 4 * (hidden // parts)]))


def _from_groups(groups: list[tf.Tensor]) -> tf.Tensor:
    """The inverse of `_to_groups`: the groups' [rows, 4 size] matrices as one [rows, 4 hidden] in Keras's order."""
    parts, rows, size = len(groups), tf.shape(groups[0])[0], groups[0].shape[-1] // 4
    grouped = tf.transpose(tf.reshape(tf.stack(groups), [parts, rows, 4, size]), [1, 2, 0, 3])
    return tf.reshape(tf.gather(grouped, _GATE_ORDER, axis=1), [rows, 4 * parts * size])  # the order is its inverse


def lstm_window(
    inputs: tf.Tensor,
    keep: tf.Tensor,
    initial_h: tf.Tensor,
    initial_c: tf.Tensor,
    kernel: tf.Tensor,
    recurrent_kernel: tf.Tensor,
    bias: tf.Tensor,
    parts: int = 2,
) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """An LSTM (Keras's `LSTMCell` with its default activations) over a window, the state kept where `keep` is 1.

    Args:
        inputs: float [batch, time, features].
        keep: float [batch, time]; 0 zeroes the state before that step (a reset), 1 keeps it. A constant:
            its gradient is zero (it comes from the data's document boundaries).
        initial_h, initial_c: float [batch, hidden], the state before the first step.
        kernel, recurrent_kernel, bias: the cell's weights, [features, 4 hidden], [hidden, 4 hidden], [4 hidden].
        parts: groups of hidden units computed side by side (it must divide hidden).

    Returns:
        (outputs float [batch, time, hidden], the last h, the last c).
    """
    hidden = recurrent_kernel.shape[0]
    if hidden % parts:
        raise ValueError(f"lstm_window: {parts} parts do not divide {hidden} hidden units")
    size = hidden // parts

    @tf.custom_gradient
    def window(inputs, keep, initial_h, initial_c, kernel, recurrent_kernel, bias):
        steps, batch, features = tf.shape(inputs)[1], tf.shape(inputs)[0], inputs.shape[-1]
        flat_inputs = tf.reshape(tf.transpose(inputs, [1, 0, 2]), [-1, features])
        keeps = tf.transpose(keep, [1, 0])[..., None]  # [time, batch, 1]
        kernels, recurrents = _to_groups(kernel, parts), _to_groups(recurrent_kernel, parts)
        projected = [
            tf.reshape(tf.matmul(flat_inputs, k) + b, [steps, batch, 4 * size])
            for k, b in zip(kernels, _to_groups(bias[None], parts), strict=True)
        ]

        # The loop computes each step's gates, cell and output, and keeps them for the backward pass.
        def forward(t, h, cs, outputs, sigmoids, candidates, cells):
            keep_t = keeps[t]
            h = h * keep_t
            hs = []
            for part in range(parts):
                z = projected[part][t] + tf.matmul(h, recurrents[part])
                sigmoid, candidate = tf.split(z, [3 * size, size], axis=1)
                sigmoid, candidate = tf.sigmoid(sigmoid), tf.tanh(candidate)
                input_gate, forget_gate, output_gate = tf.split(sigmoid, 3, axis=1)
                cs[part] = forget_gate * (cs[part] * keep_t) + input_gate * candidate
                hs.append(output_gate * tf.tanh(cs[part]))
                sigmoids[part] = sigmoids[part].write(t, sigmoid)
                candidates[part] = candidates[part].write(t, candidate)
                cells[part] = cells[part].write(t, cs[part])
            h = tf.concat(hs, 1)
            return t + 1, h, cs, outputs.write(t, h), sigmoids, candidates, cells

        def arrays():
            return [tf.TensorArray(inputs.dtype, size=steps) for _ in range(parts)]

        _, last_h, last_cs, outputs, sigmoids, candidates, cells = tf.while_loop(
            lambda t, *_: t < steps,
            forward,
            (
                0,
                initial_h,
                tf.split(initial_c, parts, axis=1),
                tf.TensorArray(inputs.dtype, size=steps),
                arrays(),
                arrays(),
                arrays(),
            ),
        )
        outputs = outputs.stack()  # [time, batch, hidden]
        sigmoids, candidates, cells = ([array.stack() for array in group] for group in (sigmoids, candidates, cells))
        # Each step's state after its reset, which the gradient multiplies by. They are computed now: a stateful
        # layer's initial state may be its state variables themselves, which it assigns the last state to
        # before any gradient runs.
        previous_h = tf.concat([initial_h[None], outputs[:-1]], 0) * keeps
        previous_cells = [
            tf.concat([c0[None], c[:-1]], 0) * keeps
            for c0, c in zip(tf.split(initial_c, parts, axis=1), cells, strict=True)
        ]

        def gradient(d_outputs, d_last_h, d_last_c):
            # What each step's backward pass multiplies by, for every step at once: with dc the cell's and dh
            # the output's gradient, dc += dh * cell_factor, dz = [dc, dc, dh, dc] * gate_factor, and the
            # previous cell's gradient is dc * forget_factor.
            cell_factors, gate_factors, forget_factors = [], [], []
            for sigmoid, candidate, c, previous_c in zip(sigmoids, candidates, cells, previous_cells, strict=True):
                tanh_c = tf.tanh(c)
                input_gate, forget_gate, output_gate = tf.split(sigmoid, 3, axis=2)
                d_input, d_forget, d_output = tf.split(sigmoid * (1.0 - sigmoid), 3, axis=2)
                cell_factors.append(output_gate * (1.0 - tanh_c * tanh_c))
                gate_factors.append(
                    tf.concat(
                        [
                            candidate * d_input,
                            previous_c * d_forget,
                            tanh_c * d_output,
                            input_gate * (1.0 - candidate * candidate),
                        ],
                        axis=2,
                    )
                )
                forget_factors.append(forget_gate * keeps)
            d_outputs = tf.transpose(d_outputs, [1, 0, 2])
            # The backward pass multiplies by each group's kernels transposed, transposed once here: oneDNN's
            # product with `transpose_b` took three times as long at the loop's shapes on this machine.
            transposed_recurrents = [tf.transpose(recurrent) for recurrent in recurrents]
            transposed_kernels = [tf.transpose(k) for k in kernels]

            def backward(t, d_h, d_cs, d_gates):
                t = t - 1
                d_hs = tf.split(d_outputs[t] + d_h, parts, axis=1)
                d_h_kept = []
                for part in range(parts):
                    d_h = d_hs[part]
                    d_c = d_cs[part] + d_h * cell_factors[part][t]
                    d_z = tf.concat([d_c, d_c, d_h, d_c], 1) * gate_factors[part][t]
                    d_gates[part] = d_gates[part].write(t, d_z)
                    d_cs[part] = d_c * forget_factors[part][t]
                    d_h_kept.append(tf.matmul(d_z, transposed_recurrents[part]))
                return t, tf.add_n(d_h_kept) * keeps[t], d_cs, d_gates

            _, d_initial_h, d_cs, d_gates = tf.while_loop(
                lambda t, *_: t > 0, backward, (steps, d_last_h, tf.split(d_last_c, parts, axis=1), arrays())
            )
            flat_h = tf.reshape(previous_h, [-1, hidden])
            d_kernel, d_recurrent, d_bias, d_inputs = [], [], [], []
            for part in range(parts):
                d_z = tf.reshape(d_gates[part].stack(), [-1, 4 * size])
                d_kernel.append(tf.matmul(flat_inputs, d_z, transpose_a=True))
                d_recurrent.append(tf.matmul(flat_h, d_z, transpose_a=True))
                d_bias.append(tf.reduce_sum(d_z, 0))
                d_inputs.append(tf.matmul(d_z, transposed_kernels[part]))
            d_inputs = tf.transpose(tf.reshape(tf.add_n(d_inputs), [steps, batch, features]), [1, 0, 2])
            return (
                d_inputs,
                tf.zeros_like(keep),
                d_initial_h,
                tf.concat(d_cs, 1),
                _from_groups(d_kernel),
                _from_groups(d_recurrent),
                _from_groups([d[None] for d in d_bias])[0],
            )

        return (tf.transpose(outputs, [1, 0, 2]), last_h, tf.concat(last_cs, 1)), gradient

    return window(inputs, keep, initial_h, initial_c, kernel, recurrent_kernel, bias)
