"""The attentional recurrent decoder that translators and captioners share, and its decoding, in the graph.

Keras 3 has no sequence-to-sequence library (TensorFlow Addons is gone), so the decoder loop is here, the
attention mechanisms in `models.attention` and the searches in `models.decoding`. `AttentionalDecoder` is
a decoder over any encoder's memory: the translator (`models.seq2seq.Seq2Seq`) encodes a source sentence,
the captioner (`models.captioner.Captioner`) a CNN's grid. One step function, `decoder_step`, serves every
loop: teacher forcing (with a scheduled sampling hook, Bengio et al. 2015), greedy decoding, sampling and
beam search. A step embeds the previous token, concatenates the previous attentional vector to it (input
feeding, Luong, Pham and Manning 2015), runs a stack of recurrent cells, attends over the memory with the
top cell's output as query, forms the attentional vector h̃ = W_c [context; s] and projects it to target
vocabulary logits. Decoding hands the step function to `models.decoding`: `beam_search` with the GNMT
length penalty (Wu et al. 2016), and `dynamic_decode` with a greedy, sampling or wrong-start choice.
[PAD] and [START] (`FORBIDDEN_OUTPUTS`) are never proposed. `decode_by` picks the strategy of a decode
config and `output_tokens` turns the ids into token strings.

The loops are `tf.while_loop`s and take their lengths as tensors: the decoding methods trace inside a
`tf.function` with unknown batch and memory length, so they can be exported in a SavedModel. This module
needs the TensorFlow backend.
"""

from __future__ import annotations

from typing import NamedTuple

import keras
import tensorflow as tf

from models.attention import make_attention
from models.decoding import (
    NEG_INF,
    BeamSearchResult,
    beam_search,
    dynamic_decode,
    greedy_choice,
    sampling_choice,
    seed_pair,
    tile_beams,
    wrong_start_choice,
)
from models.text import END_ID, PAD_ID, SOURCE_IDS, START_ID, TARGET_IN

FEEDS = ("argmax", "sample")
DECODER_CELLS = {"rnn": keras.layers.SimpleRNNCell, "gru": keras.layers.GRUCell, "lstm": keras.layers.LSTMCell}
# Tokens a decoder never emits: a hypothesis is cut with [END], not padded, and never restarts.
FORBIDDEN_OUTPUTS = (PAD_ID, START_ID)


class DecoderState(NamedTuple):
    """The decoder's state between steps.

    cells: one tuple per decoder layer of that cell's state tensors float [batch, hidden] ((h,) for rnn
        and gru, (h, c) for lstm, Keras's order).
    attentional: the previous step's attentional vector h̃ float [batch, hidden], fed to the next step.
    """

    cells: tuple
    attentional: tf.Tensor


class EncoderMemory(NamedTuple):
    """What the decoder reads from the source, computed once per sentence by `Seq2Seq.encode`.

    outputs: float [batch, src, key_dim], the encoder's output at every step (the attention's keys).
    mask: bool [batch, src], True on real source tokens.
    final: float [batch, key_dim], the encoder's final state (`LastStatePooling` of the outputs).
    initial_state: the decoder's `DecoderState` before its first step.
    precomputed: the attention's `precompute(outputs, mask)`, or None.
    """

    outputs: tf.Tensor
    mask: tf.Tensor
    final: tf.Tensor
    initial_state: DecoderState
    precomputed: tf.Tensor | None


class TeacherForcedOutputs(NamedTuple):
    """What `Seq2Seq.teacher_forced` returns, one entry per target position.

    logits: float [batch, tgt, vocab].
    attention: float [batch, tgt, src], the attention weights of each step.
    inputs: int32 [batch, tgt], the token fed at each step (target_in itself under teacher forcing).
    from_teacher: bool [batch, tgt], True where that token came from target_in rather than the model.
    """

    logits: tf.Tensor
    attention: tf.Tensor
    inputs: tf.Tensor
    from_teacher: tf.Tensor


class Decoded(NamedTuple):
    """Greedy or sampled output: ids int32 [batch, max_length] (with [END], then 0) and lengths int32 [batch]
    (tokens, [END] included; max_length for a row that never ended)."""

    ids: tf.Tensor
    lengths: tf.Tensor


class AttentionalDecoder(keras.Model):
    """The decoder half of an encoder-decoder: one recurrent step with attention over a memory, teacher forcing
    (with scheduled sampling) and every decoding strategy. A subclass supplies the encoder (`encode`): the
    translator's recurrent text encoder (`Seq2Seq`), the captioner's CNN grid (`models.captioner`).

    Bridge: for each decoder layer, h₀ = tanh(W_h final + b) (and for an LSTM c₀ = W_c final + b), where
    `final` is the encoder's summary of the memory, so the decoder's width need not be the memory's.

    Decoder step (`decoder_step`): embed the previous token, concatenate the previous attentional vector
    (input feeding; zeros before the first step), run `num_layers` cells of `hidden_dim` units (dropout
    between them), attend over the memory with the top cell's output s as query, form the attentional
    vector h̃ = W_c [context; s] and project it to logits.

    Args:
        target_words: output vocabulary size, reserved tokens included ([PAD] 0, [START] 2, [END] 3).
        key_dim: the width of the memory's vectors (the attention's keys) and of the encoder's summary.
        cell, num_layers, embedding_dim, hidden_dim, dropout, attention_type, scheduled_sampling: as `Seq2Seq`.
        bidirectional: whether the memory is a bidirectional encoder's (the `none` attention reads its halves).

    Call args:
        inputs: {`source_key`: the encoder's input, "target_in": int [batch, tgt]}, right padded with 0;
            target_in starts with [START] (targets, target_out, end with [END]).
        training: dropout on.
        teacher_forcing_probability, feed, seed: scheduled sampling, see `teacher_forced`.

    Returns:
        logits float [batch, tgt, vocab]. Positions where target_in is padding get logits too: the
        caller's loss masks them (e.g. `SparseCategoricalCrossentropy(ignore_class=0)`).
    """

    source_key = SOURCE_IDS

    def __init__(
        self,
        target_words: int,
        key_dim: int,
        cell: str = "lstm",
        num_layers: int = 1,
        bidirectional: bool = False,
        embedding_dim: int = 100,
        hidden_dim: int = 128,
        dropout: float = 0.0,
        attention_type: str = "bahdanau",
        scheduled_sampling: str | None = None,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        if scheduled_sampling is not None and scheduled_sampling not in FEEDS:
            raise ValueError(f"unknown feed {scheduled_sampling!r} (available: {', '.join(FEEDS)})")
        if cell not in DECODER_CELLS:
            raise ValueError(f"unknown cell {cell!r} (available: {', '.join(DECODER_CELLS)})")
        self.target_words = target_words
        self.key_dim = key_dim
        self.cell = cell
        self.num_layers = num_layers
        self.embedding_dim = embedding_dim
        self.hidden_dim = hidden_dim
        self.dropout = dropout
        self.attention_type = attention_type
        self.state_count = 2 if cell == "lstm" else 1
        # Scheduled sampling: training mixes the model's own predictions into the decoder's inputs, fed as
        # `scheduled_sampling` (argmax or sample) with the probability 1 - ε held here; a callback moves ε
        # along the curriculum's schedule. None: plain teacher forcing.
        self.scheduled_sampling = scheduled_sampling
        self.teacher_forcing_probability = keras.Variable(
            1.0, dtype="float32", trainable=False, name="teacher_forcing_probability"
        )
        # What scheduled sampling did: the fraction of real target positions after the first whose fed
        # token came from the truth, over an epoch's training batches (logged as `fed_from_truth`).
        self.fed_from_truth = keras.metrics.Mean(name="fed_from_truth") if scheduled_sampling else None

        self.bridge = [
            keras.layers.Dense(hidden_dim, activation="tanh" if kind == "h" else None, name=f"bridge_{kind}_{index}")
            for index in range(num_layers)
            for kind in ("h", "c")[: self.state_count]
        ]
        self.target_embedding = keras.layers.Embedding(target_words, embedding_dim, name="target_embedding")
        self.target_dropout = keras.layers.Dropout(dropout, name="target_dropout")
        self.decoder_cells = [
            DECODER_CELLS[cell](hidden_dim, name=f"decoder_{cell}_{index}") for index in range(num_layers)
        ]
        self.decoder_dropouts = [
            keras.layers.Dropout(dropout, name=f"decoder_dropout_{i}") for i in range(num_layers - 1)
        ]
        self.attention = make_attention(attention_type, hidden_dim, bidirectional)
        # Luong's W_c, without bias and without his tanh: on the Bible pairs, Adam drove tanh(W_c [c; s]) into
        # saturation within 40 steps (mean |pre-activation| 8), which zeroed every gradient below the output
        # layer and left the loss at the unigram level for good; the linear layer trains (measured, 2026-11).
        self.attentional = keras.layers.Dense(hidden_dim, use_bias=False, name="attentional")
        self.attentional_dropout = keras.layers.Dropout(dropout, name="attentional_dropout")
        self.output_layer = keras.layers.Dense(target_words, name="logits")

    def build_decoder(self) -> None:
        """Creates the decoder's weights (a subclass's `build` calls it after building its encoder)."""
        for dense in self.bridge:
            dense.build((None, self.key_dim))
        self.target_embedding.build((None,))
        width = self.embedding_dim + self.hidden_dim  # input feeding
        for cell in self.decoder_cells:
            cell.build((None, width))
            width = self.hidden_dim
        self.attention.build((None, self.hidden_dim), (None, None, self.key_dim))
        self.attentional.build((None, self.key_dim + self.hidden_dim))
        self.output_layer.build((None, self.hidden_dim))

    def get_build_config(self):
        return {"built": True}

    def build_from_config(self, config):
        self.build()

    def encode(self, source, training=None) -> EncoderMemory:
        """The memory the decoder attends over, and its initial state, for a batch of the encoder's input."""
        raise NotImplementedError

    def memory(self, outputs, mask, final) -> EncoderMemory:
        """The `EncoderMemory` of an encoder's outputs float [batch, n, key_dim], their mask bool [batch, n] and
        its summary final float [batch, key_dim]: the decoder's initial state comes from `final` by the bridge."""
        states = [dense(final) for dense in self.bridge]
        cells = tuple(tuple(states[i : i + self.state_count]) for i in range(0, len(states), self.state_count))
        attentional = tf.zeros([tf.shape(outputs)[0], self.hidden_dim], dtype=final.dtype)
        return EncoderMemory(
            outputs=outputs,
            mask=mask,
            final=final,
            initial_state=DecoderState(cells, attentional),
            precomputed=self.attention.precompute(outputs, mask),
        )

    # ------------------------------------------------------------------ one decoder step

    def decoder_step(
        self, token_ids, state: DecoderState, encoder_outputs, source_mask, training=None, precomputed=None
    ):
        """One decoder step: the single step function of teacher forcing and of every decoding strategy.

        Args:
            token_ids: int [batch], the previous token ([START] at the first step).
            state: the `DecoderState` after the previous step (`encode(...).initial_state` at the first).
            encoder_outputs: float [batch, src, key_dim].
            source_mask: bool [batch, src], True on real source tokens.
            training: dropout on.
            precomputed: `encode(...).precomputed` (or None: recomputed; same result).

        Returns:
            logits float [batch, vocab], the new `DecoderState`, attention weights float [batch, src].
        """
        inputs = self.target_dropout(self.target_embedding(tf.cast(token_ids, tf.int32)), training=training)
        inputs = tf.concat([inputs, state.attentional], axis=-1)  # input feeding
        cells = []
        for index, cell in enumerate(self.decoder_cells):
            output, cell_state = cell(inputs, list(state.cells[index]), training=training)
            cells.append(tuple(tf.nest.flatten(cell_state)))
            inputs = output
            if index < len(self.decoder_dropouts):
                inputs = self.decoder_dropouts[index](inputs, training=training)
        context, weights = self.attention(output, encoder_outputs, source_mask, precomputed=precomputed)
        attentional = self.attentional(tf.concat([context, output], axis=-1))  # h̃ = W_c [context; s]
        logits = self.output_layer(self.attentional_dropout(attentional, training=training))
        return logits, DecoderState(tuple(cells), attentional), weights

    # ------------------------------------------------------------------ teacher forcing

    def call(self, inputs, training=None, teacher_forcing_probability=None, feed="argmax", seed=None):
        scheduled = training and self.scheduled_sampling is not None and teacher_forcing_probability is None
        if scheduled:
            teacher_forcing_probability, feed = self.teacher_forcing_probability, self.scheduled_sampling
        outputs = self.teacher_forced(
            inputs[self.source_key],
            inputs[TARGET_IN],
            teacher_forcing_probability=teacher_forcing_probability,
            feed=feed,
            seed=seed,
            training=training,
        )
        if scheduled:  # step 0 always reads [START]; padding is not fed to anything that counts
            real = tf.cast(tf.not_equal(inputs[TARGET_IN][:, 1:], PAD_ID), "float32")
            self.fed_from_truth.update_state(tf.cast(outputs.from_teacher[:, 1:], "float32"), sample_weight=real)
        self.regularize(outputs, inputs[TARGET_IN], training)
        return outputs.logits

    def regularize(self, outputs: TeacherForcedOutputs, target_in, training) -> None:
        """Adds a subclass's penalties on a teacher-forced pass to the model's losses (`add_loss`); none here."""

    def teacher_forced(
        self, source, target_in, teacher_forcing_probability=None, feed="argmax", seed=None, training=None
    ) -> TeacherForcedOutputs:
        """Runs `decoder_step` over every target position, feeding target_in (teacher forcing).

        Scheduled sampling (Bengio et al. 2015): with `teacher_forcing_probability` ε, at each step t ≥ 1
        and for each row independently, the token fed is target_in's with probability ε and otherwise the
        model's own prediction from step t − 1 (`feed`: `argmax`, or `sample` from its softmax; [PAD] and
        [START] are never predicted), through `tf.stop_gradient`. Step 0 always reads [START]. None (the
        default) is plain teacher forcing and draws nothing; ε = 1 feeds exactly the same tokens and so
        gives bit-identical logits.

        Args:
            source: the encoder's input (a translator's source ids int [batch, src]).
            target_in: int [batch, tgt], starting with [START].
            teacher_forcing_probability: ε, a float or float scalar tensor (a schedule can pass a variable).
            feed: `argmax` or `sample`.
            seed: int or int [2] tensor for the coin flips and samples; None: drawn from the global
                generator.
            training: dropout on.

        Returns:
            `TeacherForcedOutputs` (logits, attention weights, tokens fed, and which came from target_in).
        """
        if feed not in FEEDS:
            raise ValueError(f"unknown feed {feed!r} (available: {', '.join(FEEDS)})")
        memory = self.encode(source, training=training)
        target_in = tf.cast(target_in, tf.int32)
        batch, steps = tf.shape(target_in)[0], tf.shape(target_in)[1]
        targets = tf.transpose(target_in)  # [tgt, batch]: step t reads targets[t]
        mixing = teacher_forcing_probability is not None
        if mixing:
            epsilon = tf.cast(teacher_forcing_probability, tf.float32)
            seed = seed_pair(seed)

        def body(t, state, previous_logits, logits_array, weights_array, inputs_array, teacher_array):
            teacher = targets[t]
            if mixing:
                coin_seed, sample_seed = tf.unstack(
                    tf.random.experimental.stateless_split(tf.random.experimental.stateless_fold_in(seed, t), 2)
                )
                allowed = _forbid_outputs(previous_logits)
                if feed == "argmax":
                    predicted = tf.argmax(allowed, axis=-1, output_type=tf.int32)
                else:
                    predicted = tf.random.stateless_categorical(allowed, 1, sample_seed, dtype=tf.int32)[:, 0]
                from_teacher = (t == 0) | (tf.random.stateless_uniform([batch], coin_seed) < epsilon)
                tokens = tf.where(from_teacher, teacher, tf.stop_gradient(predicted))
            else:
                from_teacher = tf.ones([batch], tf.bool)
                tokens = teacher
            logits, state, weights = self.decoder_step(
                tokens, state, memory.outputs, memory.mask, training=training, precomputed=memory.precomputed
            )
            return (
                t + 1,
                state,
                logits if mixing else previous_logits,
                logits_array.write(t, logits),
                weights_array.write(t, weights),
                inputs_array.write(t, tokens),
                teacher_array.write(t, from_teacher),
            )

        # Without mixing, the previous logits are not read: a [batch, 0] placeholder keeps the loop small.
        previous_logits = tf.zeros([batch, self.target_words if mixing else 0], self.compute_dtype)
        loop_vars = (
            tf.constant(0),
            memory.initial_state,
            previous_logits,
            tf.TensorArray(self.compute_dtype, size=steps, element_shape=[None, self.target_words]),
            tf.TensorArray(self.compute_dtype, size=steps, element_shape=[None, None]),
            tf.TensorArray(tf.int32, size=steps, element_shape=[None]),
            tf.TensorArray(tf.bool, size=steps, element_shape=[None]),
        )
        _, _, _, logits, weights, inputs, from_teacher = tf.while_loop(
            lambda t, *_: t < steps, body, loop_vars, maximum_iterations=steps
        )

        def batch_major(array):
            stacked = array.stack()  # [tgt, batch, ...]
            return tf.transpose(stacked, [1, 0, *range(2, stacked.shape.rank)])

        return TeacherForcedOutputs(
            logits=batch_major(logits),
            attention=batch_major(weights),
            inputs=batch_major(inputs),
            from_teacher=batch_major(from_teacher),
        )

    def attention_weights(self, source, target_in):
        """The attention weights of a teacher-forced pass (no dropout): float [batch, tgt, src], for heatmaps."""
        return self.teacher_forced(source, target_in, training=False).attention

    # ------------------------------------------------------------------ decoding

    def greedy_decode(self, source, max_length) -> Decoded:
        """The most probable token at each step, until [END] or `max_length` (int or scalar tensor)."""
        return self._decode(source, max_length, greedy_choice)

    def sample_decode(self, source, max_length, temperature=1.0, top_k=0, seed=None) -> Decoded:
        """Tokens sampled from softmax(logits / temperature), among the `top_k` most probable (0: all).

        Args:
            source: the encoder's input (a translator's source ids int [batch, src]).
            max_length: most tokens per output (int or scalar tensor).
            temperature: towards 0 the samples approach greedy decoding, above 1 they spread out; 0 is greedy.
            top_k: sample among the k most probable tokens only (Fan et al. 2018); 0: no cut. 1 is greedy.
            seed: int or int [2] tensor; one seed gives one output. None: drawn from the global generator.
        """
        return self._decode(source, max_length, sampling_choice(temperature, top_k, seed))

    def wrong_start_decode(self, source, max_length) -> Decoded:
        """Greedy decoding whose first token is forced wrong: the second most probable, then greedy.

        A probe of exposure bias: how well the decoder recovers from an early mistake of its own, which
        teacher forcing never shows it in training (Bengio et al. 2015).
        """
        return self._decode(source, max_length, wrong_start_choice)

    def _decode(self, source, max_length, choose) -> Decoded:
        """`dynamic_decode` with this decoder: each step's chosen token (`choose(logits, t)`) feeds the next."""
        memory = self.encode(source, training=False)

        def step_fn(token_ids, state):
            logits, state, _ = self.decoder_step(
                token_ids, state, memory.outputs, memory.mask, training=False, precomputed=memory.precomputed
            )
            return _forbid_outputs(logits), state

        ids, lengths = dynamic_decode(
            step_fn, memory.initial_state, tf.shape(memory.mask)[0], max_length, choose, START_ID, END_ID, PAD_ID
        )
        return Decoded(ids=ids, lengths=lengths)

    def beam_search_decode(self, source, max_length, beam_size: int = 4, length_penalty_alpha=0.6) -> BeamSearchResult:
        """Beam search (`beam_search`) with this decoder: [PAD] and [START] are never proposed.

        Args:
            source: the encoder's input (a translator's source ids int [batch, src]).
            max_length: most tokens per hypothesis (int or scalar tensor, e.g. 2·max source length + 10).
            beam_size: hypotheses kept per row (a Python int).
            length_penalty_alpha: α of the GNMT length penalty (Wu et al. 2016 found 0.6 to 0.7 best).

        Returns:
            A `BeamSearchResult`: ids int32 [batch, max_length], lengths, scores and every beam's.
        """
        memory = self.encode(source, training=False)
        batch = tf.shape(memory.mask)[0]
        outputs, mask, precomputed, state = tile_beams(
            (memory.outputs, memory.mask, memory.precomputed, memory.initial_state), beam_size
        )

        def step_fn(token_ids, state):
            logits, state, _ = self.decoder_step(
                token_ids, state, outputs, mask, training=False, precomputed=precomputed
            )
            return tf.nn.log_softmax(_forbid_outputs(logits)), state

        return beam_search(step_fn, state, batch, beam_size, max_length, length_penalty_alpha, START_ID, END_ID)


def decoder_arguments(model_config, scheduled_sampling: str | None, attention: str | None = None) -> dict:
    """The arguments of an `AttentionalDecoder` (of a translator or a captioner) that a model config gives: its
    cells, sizes, dropout and attention (`attention`, when given, instead of the config's)."""
    c = model_config
    return {
        "cell": c.cell,
        "num_layers": c.layers,
        "embedding_dim": c.embedding_dim,
        "hidden_dim": c.hidden_dim,
        "dropout": c.dropout,
        "attention_type": attention or c.attention,
        "scheduled_sampling": scheduled_sampling,
    }


def _forbid_outputs(logits):
    """Logits float [batch, vocab] with `FORBIDDEN_OUTPUTS` set to -inf."""
    forbidden = tf.reduce_any(tf.equal(tf.range(logits.shape[-1])[:, None], FORBIDDEN_OUTPUTS), axis=1)
    return tf.where(forbidden, NEG_INF, logits)


def decode_by(model: AttentionalDecoder, source, max_length, config, strategy: str | None = None) -> tf.Tensor:
    """Output ids int32 [batch, time] of any `AttentionalDecoder` for its encoder's input, at most `max_length`
    tokens (int or scalar tensor), by `strategy` (default `config.strategy`) with `config`'s settings."""
    strategy = strategy or config.strategy
    if strategy == "beam":
        return model.beam_search_decode(source, max_length, config.beam_size, config.length_penalty).ids
    if strategy == "sample":
        return model.sample_decode(source, max_length, config.temperature, config.top_k, seed=0).ids
    if strategy == "wrong_start":
        return model.wrong_start_decode(source, max_length).ids
    return model.greedy_decode(source, max_length).ids


def output_tokens(ids: tf.Tensor, words: tf.Tensor) -> tf.RaggedTensor:
    """Token strings string [batch, (tokens)] of output ids int [batch, time], up to (without) the first [END]."""
    ended = tf.cumsum(tf.cast(ids == END_ID, tf.int32), axis=1) > 0
    kept = tf.RaggedTensor.from_tensor(ids, lengths=tf.reduce_sum(tf.cast(~ended & (ids > 0), tf.int32), axis=1))
    return tf.gather(words, kept)
