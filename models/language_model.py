"""Character (or word) language model trained with truncated backpropagation through time.

As in min-char-rnn and char-rnn (Karpathy 2015), the corpus is read as `batch_size` long, parallel
streams, cut into windows of `bptt` steps; the recurrent state at the end of one window is where the
next window of the same stream starts (a stateful RNN), so the model sees context longer than `bptt`
while gradients flow back at most `bptt` steps (Williams and Peng 1990; Sutskever 2013, 7.3). The
documents are laid end to end and the whole is cut into `batch_size` equal streams, so a single long
file fills every stream (`models.input_pipeline.language_model_streams`); where a document starts (its
`[START]` unit), and at the start of each stream, a reset flag zeroes the state, so no document is
conditioned on the end of the one before it.

`Generator` runs the trained layers one step at a time, for `score` (the log-probability of a text)
and `generate` (sampling, or greedy at temperature 0); the exported SavedModel serves both.
"""

from __future__ import annotations

import dataclasses
import math

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from models import text
from models.encoder import CELLS
from models.fused_lstm import lstm_window

CELL_TYPES = {"rnn": keras.layers.SimpleRNNCell, "gru": keras.layers.GRUCell, "lstm": keras.layers.LSTMCell}
RESETS = "resets"
assert set(CELL_TYPES) == set(CELLS)


@keras.saving.register_keras_serializable(package="seqpipe")
class ResettableCell(keras.layers.Layer):
    """A recurrent cell whose state is zeroed where a reset flag is set.

    Call args:
        inputs: float [batch, features + 1]; the last feature is the flag (1: zero the state first).
        states: the wrapped cell's states.

    Returns:
        The wrapped cell's (output, new states) on the features.
    """

    def __init__(self, cell: keras.layers.Layer, **kwargs) -> None:
        super().__init__(**kwargs)
        self.cell = cell
        self.state_size = cell.state_size
        self.output_size = cell.output_size

    def build(self, input_shape):
        if not self.cell.built:  # a loaded cell was built from its own saved config
            self.cell.build((*input_shape[:-1], input_shape[-1] - 1))
        self.built = True

    def call(self, inputs, states, training=None):
        features, reset = inputs[..., :-1], inputs[..., -1:]
        keep = 1.0 - reset
        states = [state * keep for state in states] if isinstance(states, list | tuple) else states * keep
        return self.cell(features, states, training=training)

    def get_initial_state(self, batch_size=None):
        return self.cell.get_initial_state(batch_size)

    def get_config(self):
        return {**super().get_config(), "cell": keras.saving.serialize_keras_object(self.cell)}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["cell"] = keras.saving.deserialize_keras_object(config["cell"])
        return cls(**config)


@keras.saving.register_keras_serializable(package="seqpipe")
class ResettableRNN(keras.layers.RNN):
    """`keras.layers.RNN` over a `ResettableCell`, whose LSTM runs a window at a time where it can.

    With TensorFlow, an LSTM cell with Keras's default activations, a bias and no dropout of its own, no
    mask and the steps read forward is computed by `models.fused_lstm.lstm_window`: the same function on the
    same weights, with its products hoisted out of the loops and the hidden units in two groups computed
    side by side (what that buys on two cores: the README's Performance section, `lm_throughput.py`).
    Any other cell runs Keras's own loop, one `ResettableCell` step at a time.
    """

    def inner_loop(self, sequences, initial_state, mask, training=False):
        if not self._runs_fused(mask):
            return super().inner_loop(sequences, initial_state, mask, training=training)
        cell = self.cell.cell
        features, flags = sequences[..., :-1], sequences[..., -1]
        weights = [ops.cast(weight, sequences.dtype) for weight in (cell.kernel, cell.recurrent_kernel, cell.bias)]
        parts = 2 if cell.units % 2 == 0 else 1
        outputs, last_h, last_c = lstm_window(features, 1.0 - flags, *initial_state, *weights, parts=parts)
        return outputs[:, -1], outputs, [last_h, last_c]

    def _runs_fused(self, mask) -> bool:
        cell = getattr(self.cell, "cell", None)
        return (
            keras.backend.backend() == "tensorflow"
            and type(self.cell) is ResettableCell
            and type(cell) is keras.layers.LSTMCell
            and cell.activation is keras.activations.tanh
            and cell.recurrent_activation is keras.activations.sigmoid
            and cell.use_bias
            and not cell.dropout
            and not cell.recurrent_dropout
            and mask is None
            and not self.go_backwards
            and not self.unroll
        )


@dataclasses.dataclass(frozen=True)
class LanguageModelSizes:
    """What the model's shape takes from the data: the unit vocabulary's size, reserved units included."""

    units: int


def build_language_model(
    sizes: LanguageModelSizes, model_config, *, batch_size: int | None = None, stateful: bool = False
) -> keras.Model:
    """A stack of recurrent layers predicting the next unit.

    Args:
        sizes: the vocabulary size.
        model_config: a `pipeline.config.ModelConfig` (cell, layers, embedding_dim, hidden_dim, dropout;
            a language model is never bidirectional).
        batch_size: the fixed number of streams of a stateful model.
        stateful: carry each stream's state from one batch to the next (training and stream evaluation).

    Returns:
        A model from {"token_ids": int [batch, time], "resets": float [batch, time]} to next-unit logits
        float [batch, time, units].
    """
    c = model_config
    token_ids = keras.Input(batch_shape=(batch_size, None), dtype="int32", name=text.TOKEN_IDS)
    resets = keras.Input(batch_shape=(batch_size, None), dtype="float32", name=RESETS)
    flags = keras.layers.Reshape((-1, 1), name="reset_flags")(resets)
    features = keras.layers.Embedding(sizes.units, c.embedding_dim, name="unit_embedding")(token_ids)
    features = keras.layers.Dropout(c.dropout, name="input_dropout")(features)
    for index in range(c.layers):
        features = keras.layers.Concatenate(name=f"with_resets_{index}")([features, flags])
        cell = ResettableCell(
            CELL_TYPES[c.cell](c.hidden_dim, name=f"{c.cell}_cell_{index}"), name=f"resettable_{index}"
        )
        features = ResettableRNN(cell, return_sequences=True, stateful=stateful, name=f"{c.cell}_{index}")(features)
        features = keras.layers.Dropout(c.dropout, name=f"dropout_{index}")(features)
    logits = keras.layers.Dense(sizes.units, name="unit_logits")(features)
    return keras.Model({text.TOKEN_IDS: token_ids, RESETS: resets}, logits, name=f"{c.cell}_language_model")


def oriented(documents: list[np.ndarray], direction: str) -> list[np.ndarray]:
    """Documents (`[START]` and unit ids) as a model of `direction` reads them: `backward`, each one's units
    reversed after its `[START]`; `forward`, as they are."""
    if direction == "forward":
        return documents
    return [np.concatenate([document[:1], document[:0:-1]]) for document in documents]


def reverse_rows(ragged: tf.RaggedTensor) -> tf.RaggedTensor:
    """Each row of a ragged [batch, (time)] tensor in reverse order."""
    starts, lengths = ragged.row_splits[:-1], ragged.row_lengths()
    index = starts[:, None] + lengths[:, None] - 1 - tf.ragged.range(lengths)
    return ragged.with_flat_values(tf.gather(ragged.flat_values, index.flat_values))


def reset_states(model: keras.Model) -> None:
    """Zeroes the carried state of every stateful recurrent layer (a new pass over the streams)."""
    for layer in model.layers:
        if isinstance(layer, keras.layers.RNN) and layer.stateful:
            layer.reset_state()


class Generator(tf.Module):
    """The trained layers run one unit at a time: scoring and generation, in graph mode.

    Reserved units (padding, unknown, start, end) are never generated.

    Args:
        model: a model from `build_language_model` (stateful or not: only its weights are used).
    """

    def __init__(self, model: keras.Model) -> None:
        super().__init__(name="generator")
        self.embedding = model.get_layer("unit_embedding")
        rnns = [layer for layer in model.layers if isinstance(layer, keras.layers.RNN)]
        self.cells = [layer.cell.cell for layer in rnns]
        self.output_layer = model.get_layer("unit_logits")
        self.vocabulary_size = self.output_layer.units
        reserved = tf.range(self.vocabulary_size) < len(text.RESERVED_TOKENS)
        self.reserved_penalty = tf.where(reserved, tf.constant(-1e9), tf.constant(0.0))

    def initial_states(self, batch_size) -> list:
        return [[tf.zeros([batch_size, size]) for size in tf.nest.flatten(cell.state_size)] for cell in self.cells]

    def step(self, ids, states) -> tuple[tf.Tensor, list]:
        """Logits float [batch, units] of the unit after `ids` int [batch], and the new states."""
        features = self.embedding(ids)
        new_states = []
        for cell, state in zip(self.cells, states, strict=True):
            features, state = cell(features, state if len(state) > 1 else state[0], training=False)
            new_states.append(list(state) if isinstance(state, list | tuple) else [state])
        return self.output_layer(features), new_states

    def score(self, ids: tf.Tensor, lengths: tf.Tensor) -> tf.Tensor:
        """Natural-log probability of each row's units after its first (the `[START]`), summed.

        Args:
            ids: int32 [batch, time], `[START]` first, right padded.
            lengths: int32 [batch], units in each row including the `[START]`.
        """
        batch, time = tf.shape(ids)[0], tf.shape(ids)[1]

        def body(t, states, total):
            logits, states = self.step(ids[:, t], states)
            log_probs = tf.nn.log_softmax(logits)
            target = ids[:, tf.minimum(t + 1, time - 1)]
            picked = tf.gather(log_probs, target, batch_dims=1)
            return t + 1, states, total + tf.where(t + 1 < lengths, picked, 0.0)

        _, _, total = tf.while_loop(
            lambda t, *_: t < time - 1, body, (tf.constant(0), self.initial_states(batch), tf.zeros([batch]))
        )
        return total

    def generate(
        self, prompt_ids: tf.Tensor, lengths: tf.Tensor, max_length: tf.Tensor, temperature: tf.Tensor, seed=None
    ) -> tf.Tensor:
        """Units following each prompt: int32 [batch, max_length].

        Args:
            prompt_ids: int32 [batch, time], `[START]` first, right padded.
            lengths: int32 [batch], units in each prompt including the `[START]`.
            max_length: units to generate.
            temperature: divides the logits before sampling; 0 picks the most likely unit (greedy).
        """
        batch, time = tf.shape(prompt_ids)[0], tf.shape(prompt_ids)[1]

        def read(t, states, last_logits):
            logits, new_states = self.step(prompt_ids[:, t], states)
            inside = (t < lengths)[:, None]
            states = tf.nest.map_structure(lambda new, old: tf.where(inside, new, old), new_states, states)
            return t + 1, states, tf.where(inside, logits, last_logits)

        zeros = tf.zeros([batch, self.vocabulary_size])
        _, states, logits = tf.while_loop(
            lambda t, *_: t < time, read, (tf.constant(0), self.initial_states(batch), zeros)
        )

        def write(t, states, logits, out):
            logits = logits + self.reserved_penalty
            greedy = tf.argmax(logits, axis=-1, output_type=tf.int32)
            scaled = logits / tf.maximum(temperature, 1e-6)
            sampled = tf.cast(tf.random.categorical(scaled, 1, seed=seed)[:, 0], tf.int32)
            unit = tf.where(temperature > 0.0, sampled, greedy)
            next_logits, states = self.step(unit, states)
            return t + 1, states, next_logits, out.write(t, unit)

        _, _, _, out = tf.while_loop(
            lambda t, *_: t < max_length,
            write,
            (tf.constant(0), states, logits, tf.TensorArray(tf.int32, size=max_length)),
        )
        return tf.transpose(out.stack(), [1, 0]) if max_length > 0 else tf.zeros([batch, 0], tf.int32)


def stateless_copy(model: keras.Model, sizes: LanguageModelSizes, model_config) -> keras.Model:
    """The same model for any batch size, each sequence from a zero state (weights copied)."""
    copy = build_language_model(sizes, model_config)
    copy.set_weights(model.get_weights())
    return copy


def log_probs_of(model: keras.Model, ids: list[int]) -> float:
    """Sum of log p(unit_t | units before t) of a `[START]`-first sequence, by the Keras model itself."""
    inputs = {text.TOKEN_IDS: ops.convert_to_tensor([ids[:-1]], "int32"), RESETS: ops.zeros((1, len(ids) - 1))}
    log_probs = tf.nn.log_softmax(model(inputs, training=False))[0]
    return float(tf.reduce_sum(tf.gather(log_probs, ids[1:], batch_dims=1)))


def stream_cross_entropy(model: keras.Model, dataset: tf.data.Dataset) -> float:
    """Mean negative log-likelihood (nats) of the weighted targets of a stream dataset, state carried."""
    reset_states(model)
    forward = tf.function(lambda inputs: model(inputs, training=False))
    total, count = 0.0, 0.0
    for inputs, targets, weights in dataset:
        log_probs = tf.nn.log_softmax(forward(inputs))
        picked = tf.gather(log_probs, targets, batch_dims=2)
        total -= float(tf.reduce_sum(picked * weights))
        count += float(tf.reduce_sum(weights))
    reset_states(model)
    return total / count if count else math.nan
