"""Encoder-decoder translator with attention, and its decoding strategies, all in the TensorFlow graph.

Keras 3 has no sequence-to-sequence library (TensorFlow Addons is gone), so the decoder loop, the
attention mechanisms and beam search are here:

* Encoder: source embedding (padding id 0 masked) -> the shared `RecurrentEncoder`.
* Decoder: one step function, `Seq2Seq.decoder_step`, applied by every loop: teacher forcing (with a
  scheduled sampling hook, Bengio et al. 2015), greedy decoding, sampling and beam search. A step
  embeds the previous token, concatenates the previous attentional vector to it (input feeding, Luong,
  Pham and Manning 2015), runs a stack of recurrent cells, attends over the encoder's outputs with the
  top cell's output as query, forms the attentional vector h̃ = W_c [context; s] and projects it
  to target vocabulary logits.
* Attention: `BahdanauAttention` (additive, Bahdanau, Cho and Bengio 2015), `LuongAttention` (`dot`,
  `general`; Luong, Pham and Manning 2015), `FinalStateAttention` (`none`: the context is always the
  encoder's final state, the bottleneck of Sutskever et al. 2014 and Cho et al. 2014).
* Beam search, `beam_search`, is a pure function of a step function, so it can be tested on a toy
  decoder; it keeps finished hypotheses and ranks them by log-probability over the GNMT length penalty
  (Wu et al. 2016).

The loops are `tf.while_loop`s and take their lengths as tensors: the decoding methods trace inside a
`tf.function` with unknown batch and source length, so they can be exported in a SavedModel. This module
needs the TensorFlow backend.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, NamedTuple

import keras
import tensorflow as tf
from keras import ops

from models.classifier import LastStatePooling
from models.encoder import RecurrentEncoder
from models.text import END_ID, PAD_ID, START_ID

SOURCE_IDS = "source_ids"
TARGET_IN = "target_in"
ATTENTIONS = ("bahdanau", "luong_dot", "luong_general", "none")
FEEDS = ("argmax", "sample")
DECODER_CELLS = {"rnn": keras.layers.SimpleRNNCell, "gru": keras.layers.GRUCell, "lstm": keras.layers.LSTMCell}
# Tokens a decoder never emits: a hypothesis is cut with [END], not padded, and never restarts.
FORBIDDEN_OUTPUTS = (PAD_ID, START_ID)
NEG_INF = float("-inf")


# --------------------------------------------------------------------------- attention


def masked_softmax(scores, mask):
    """Softmax of `scores` float [batch, src] over the True steps of `mask` bool [batch, src].

    Padding gets weight exactly 0 and a row without real steps all zeros (never NaN, not even in the
    gradient: padded scores are replaced before `exp`, so a huge padded score cannot overflow).
    """
    real = ops.cast(mask, "bool")
    zeros = ops.zeros_like(scores)
    largest = ops.max(ops.where(real, scores, NEG_INF), axis=-1, keepdims=True)
    largest = ops.stop_gradient(ops.where(ops.isfinite(largest), largest, ops.zeros_like(largest)))
    exp = ops.where(real, ops.exp(ops.where(real, scores - largest, zeros)), zeros)
    # The largest real step contributes exp(0) = 1, so only an empty row has a 0 total.
    return exp / ops.maximum(ops.sum(exp, axis=-1, keepdims=True), 1.0)


class _Attention(keras.layers.Layer):
    """Shared interface: `layer(query, keys, mask) -> (context, weights)`.

    Call args:
        query: float [batch, query_dim], the decoder's state.
        keys: float [batch, src, key_dim], the encoder's outputs (also the values).
        mask: bool [batch, src], True on real source tokens; None: every step is real.
        precomputed: what `precompute(keys, mask)` returned, to skip the work that depends on the
            source only (done once per sentence rather than once per decoder step).

    Returns:
        context float [batch, key_dim] and weights float [batch, src]: the weights are 0 on padding and
        sum to 1 over the real steps; a row without real steps gets zero weights and a zero context.
    """

    def precompute(self, keys, mask):
        """The part of the attention that depends on the source only; None when there is none."""
        return None

    def score(self, query, keys, precomputed):
        raise NotImplementedError

    def call(self, query, keys, mask=None, precomputed=None):
        if mask is None:
            mask = ops.ones(ops.shape(keys)[:2], dtype="bool")
        weights = masked_softmax(self.score(query, keys, precomputed), mask)
        context = ops.sum(keys * ops.expand_dims(weights, -1), axis=1)
        return context, weights

    def compute_output_spec(self, query, keys, mask=None, precomputed=None):
        context = keras.KerasTensor((keys.shape[0], keys.shape[-1]), dtype=self.compute_dtype)
        return context, keras.KerasTensor(tuple(keys.shape[:2]), dtype=self.compute_dtype)


@keras.saving.register_keras_serializable(package="seqpipe")
class BahdanauAttention(_Attention):
    """Additive attention: score(s, h_j) = vᵀ tanh(W₁ s + W₂ h_j) (Bahdanau, Cho and Bengio 2015).

    Keras's `AdditiveAttention` adds query and key without the projections W₁, W₂; here they are learned
    (`query_kernel` W₁ [query_dim, units], `key_kernel` W₂ [key_dim, units], `score_vector` v [units]).
    `precompute` returns W₂ h, the keys' projection, which does not change from one decoder step to the
    next.

    Args:
        units: size of the hidden layer of the scoring network.
    """

    def __init__(self, units: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.units = units

    def build(self, query_shape, keys_shape):
        self.query_kernel = self.add_weight(
            shape=(query_shape[-1], self.units), initializer="glorot_uniform", name="query_kernel"
        )
        self.key_kernel = self.add_weight(
            shape=(keys_shape[-1], self.units), initializer="glorot_uniform", name="key_kernel"
        )
        self.score_vector = self.add_weight(shape=(self.units,), initializer="glorot_uniform", name="score_vector")
        self.built = True

    def precompute(self, keys, mask):
        return ops.matmul(keys, self.key_kernel)  # [batch, src, units]

    def score(self, query, keys, precomputed):
        projected_keys = self.precompute(keys, None) if precomputed is None else precomputed
        hidden = ops.tanh(ops.expand_dims(ops.matmul(query, self.query_kernel), 1) + projected_keys)
        return ops.sum(hidden * self.score_vector, axis=-1)  # [batch, src]

    def get_config(self):
        return {**super().get_config(), "units": self.units}


LUONG_MODES = ("dot", "general")


@keras.saving.register_keras_serializable(package="seqpipe")
class LuongAttention(_Attention):
    """Multiplicative attention (Luong, Pham and Manning 2015): `dot` sᵀh_j, or `general` sᵀ W h_j.

    `dot` needs query and keys of one size (a unidirectional encoder of the decoder's width); `general`
    learns `kernel` W [query_dim, key_dim] and computes (sᵀW) h_j, one matrix product per step.

    Args:
        mode: `dot` or `general`.
    """

    def __init__(self, mode: str = "general", **kwargs) -> None:
        super().__init__(**kwargs)
        if mode not in LUONG_MODES:
            raise ValueError(f"unknown Luong attention mode {mode!r} (available: {', '.join(LUONG_MODES)})")
        self.mode = mode

    def build(self, query_shape, keys_shape):
        if self.mode == "dot":
            if query_shape[-1] != keys_shape[-1]:
                raise ValueError(
                    f"dot attention needs query and keys of one size, got {query_shape[-1]} and {keys_shape[-1]}"
                    " (use `general`, or an encoder with the decoder's width)"
                )
        else:
            self.kernel = self.add_weight(
                shape=(query_shape[-1], keys_shape[-1]), initializer="glorot_uniform", name="kernel"
            )
        self.built = True

    def score(self, query, keys, precomputed):
        if self.mode == "general":
            query = ops.matmul(query, self.kernel)  # [batch, key_dim]
        return ops.sum(keys * ops.expand_dims(query, 1), axis=-1)

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}


@keras.saving.register_keras_serializable(package="seqpipe")
class FinalStateAttention(_Attention):
    """No attention: the context is the encoder's final state at every step, whatever the query.

    The final state is `LastStatePooling`'s (the forward half at the last real step, the backward half at
    step 0); the weights are all zero, since no step is attended to. The baseline that attention was
    introduced to beat: the whole source must pass through one vector.

    Args:
        bidirectional: the keys are [forward, backward] outputs concatenated.
    """

    def __init__(self, bidirectional: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        self.bidirectional = bidirectional
        self.final_state = LastStatePooling(bidirectional, name="final_state")

    def build(self, query_shape, keys_shape):
        self.built = True

    def precompute(self, keys, mask):
        return self.final_state(keys, mask=mask)

    def call(self, query, keys, mask=None, precomputed=None):
        context = self.precompute(keys, mask) if precomputed is None else precomputed
        return context, ops.zeros(ops.shape(keys)[:2], dtype=keys.dtype)

    def get_config(self):
        return {**super().get_config(), "bidirectional": self.bidirectional}


def make_attention(attention: str, units: int, bidirectional: bool, name: str = "attention") -> _Attention:
    """The attention layer called `attention` (one of `ATTENTIONS`)."""
    if attention == "bahdanau":
        return BahdanauAttention(units, name=name)
    if attention in ("luong_dot", "luong_general"):
        return LuongAttention(attention.removeprefix("luong_"), name=name)
    if attention == "none":
        return FinalStateAttention(bidirectional, name=name)
    raise ValueError(f"unknown attention {attention!r} (available: {', '.join(ATTENTIONS)})")


# --------------------------------------------------------------------------- beam search


def length_penalty(length, alpha):
    """GNMT's length penalty lp(Y) = ((5 + |Y|) / 6)^α (Wu et al. 2016); a hypothesis scores log P(Y) / lp(Y).

    α = 0 ranks by log-probability alone (lp = 1); a larger α favours longer hypotheses.
    Works on numbers and tensors; returns float32.
    """
    length = tf.cast(length, tf.float32)
    return tf.pow((5.0 + length) / 6.0, tf.cast(alpha, tf.float32))


class BeamSearchResult(NamedTuple):
    """What `beam_search` returns; hypotheses hold their [END] and are padded with 0 after it.

    ids: int32 [batch, max_length], the best hypothesis of each row.
    lengths: int32 [batch], its tokens, [END] included.
    scores: float32 [batch], its log-probability over its length penalty.
    beam_ids, beam_lengths, beam_scores: the same for all `beam_size` kept hypotheses, best first:
        [batch, beam, max_length], [batch, beam], [batch, beam]. A slot that never held a hypothesis
        (a tiny vocabulary) scores -inf.
    """

    ids: tf.Tensor
    lengths: tf.Tensor
    scores: tf.Tensor
    beam_ids: tf.Tensor
    beam_lengths: tf.Tensor
    beam_scores: tf.Tensor


def beam_search(
    step_fn: Callable[[tf.Tensor, Any], tuple[tf.Tensor, Any]],
    initial_state: Any,
    batch_size,
    beam_size: int,
    max_length,
    alpha,
    start_id: int = START_ID,
    end_id: int = END_ID,
) -> BeamSearchResult:
    """Beam search over a step function, in the graph (a `tf.while_loop`).

    Each step expands every alive hypothesis by every token and takes the 2·beam best candidates by
    log-probability (at most `beam` of them end, so `beam` of them go on). Of these, a candidate that
    ends with `end_id` and is among the `beam` best is finished: it joins the row's finished pool with
    score log P / lp(|Y|), |Y| counting its [END]; the `beam` best that do not end stay alive. A row is
    done when its pool holds `beam` finished hypotheses (as in fairseq); it then takes no more. At
    `max_length` the alive hypotheses of a row that is not done join its pool unfinished, scored with
    lp(max_length). With `beam_size` 1 this is greedy decoding, whatever α.

    Args:
        step_fn: (token_ids int32 [batch·beam], state) -> (log_probs float [batch·beam, vocab], new_state):
            the next-token log-probabilities of each hypothesis given its last token. -inf is allowed.
        initial_state: a nest of tensors with leading dimension batch·beam, row b·beam + k for beam k of
            batch row b (`tile_beams` makes it from a per-row state). Each step regathers it by the
            hypotheses' parent beams.
        batch_size: rows (int or scalar tensor).
        beam_size: hypotheses kept per row (a Python int: it sets shapes).
        max_length: most tokens per hypothesis (int or scalar tensor).
        alpha: the length penalty's α (float or scalar tensor).
        start_id: the first token fed to `step_fn`.
        end_id: the token that ends a hypothesis.

    Returns:
        A `BeamSearchResult`.
    """
    beam = int(beam_size)
    if beam < 1:
        raise ValueError(f"beam_size must be at least 1, got {beam_size}")
    batch = tf.convert_to_tensor(batch_size, tf.int32)
    max_length = tf.convert_to_tensor(max_length, tf.int32)
    alpha = tf.convert_to_tensor(alpha, tf.float32)
    positions = tf.range(max_length)[None, None, :]  # [1, 1, time]
    first_of_row = tf.range(2 * beam)[None, :] < beam  # [1, 2·beam]: the `beam` best candidates
    row_offsets = tf.range(batch)[:, None] * beam  # [batch, 1]

    # Every beam of a row starts from the same state; only beam 0 is alive, or the first step would
    # choose the same token `beam` times.
    alive_log_probs = tf.tile(tf.constant([[0.0] + [NEG_INF] * (beam - 1)]), [batch, 1])
    alive_ids = tf.zeros([batch, beam, max_length], tf.int32)
    finished_ids = tf.zeros([batch, beam, max_length], tf.int32)
    finished_scores = tf.fill([batch, beam], NEG_INF)
    finished_lengths = tf.zeros([batch, beam], tf.int32)
    tokens = tf.fill([batch * beam], tf.constant(start_id, tf.int32))

    def row_done(scores):
        return scores[:, -1] > NEG_INF  # the pool is sorted best first: full when its last slot is taken

    def cond(t, tokens, state, alive_ids, alive_log_probs, finished_ids, finished_scores, finished_lengths):
        return (t < max_length) & ~tf.reduce_all(row_done(finished_scores))

    def body(t, tokens, state, alive_ids, alive_log_probs, finished_ids, finished_scores, finished_lengths):
        log_probs, state = step_fn(tokens, state)
        vocab = tf.shape(log_probs)[-1]
        scores = alive_log_probs[:, :, None] + tf.reshape(log_probs, [batch, beam, vocab])
        top_scores, top_indices = tf.math.top_k(tf.reshape(scores, [batch, beam * vocab]), k=2 * beam)
        parents, top_tokens = top_indices // vocab, top_indices % vocab  # [batch, 2·beam]
        candidate_ids = tf.gather(alive_ids, parents, batch_dims=1)
        candidate_ids = tf.where(positions == t, top_tokens[:, :, None], candidate_ids)
        ends = tf.equal(top_tokens, end_id)

        # The `beam` best candidates that do not end go on; the state follows their parents.
        alive_log_probs, chosen = tf.math.top_k(tf.where(ends, NEG_INF, top_scores), k=beam)
        alive_ids = tf.gather(candidate_ids, chosen, batch_dims=1)
        tokens = tf.reshape(tf.gather(top_tokens, chosen, batch_dims=1), [-1])
        rows = tf.reshape(tf.gather(parents, chosen, batch_dims=1) + row_offsets, [-1])
        state = tf.nest.map_structure(lambda tensor: tf.gather(tensor, rows), state)

        # Candidates that end among the `beam` best join the pool of a row that is not done yet.
        length = t + 1
        finish = ends & first_of_row & ~row_done(finished_scores)[:, None]
        new_scores = tf.where(finish, top_scores / length_penalty(length, alpha), NEG_INF)
        finished_ids, finished_scores, finished_lengths = _best_of_pool(
            (finished_ids, candidate_ids),
            (finished_scores, new_scores),
            (finished_lengths, tf.fill([batch, 2 * beam], length)),
            beam,
        )
        return t + 1, tokens, state, alive_ids, alive_log_probs, finished_ids, finished_scores, finished_lengths

    loop_vars = (
        tf.constant(0),
        tokens,
        initial_state,
        alive_ids,
        alive_log_probs,
        finished_ids,
        finished_scores,
        finished_lengths,
    )
    steps, _, _, alive_ids, alive_log_probs, finished_ids, finished_scores, finished_lengths = tf.while_loop(
        cond, body, loop_vars, shape_invariants=_relaxed_shapes(loop_vars), maximum_iterations=max_length
    )
    # A row that ran out of steps before `beam` hypotheses finished: its alive ones compete unfinished.
    open_rows = ~row_done(finished_scores)[:, None]
    alive_scores = tf.where(open_rows, alive_log_probs / length_penalty(steps, alpha), NEG_INF)
    beam_ids, beam_scores, beam_lengths = _best_of_pool(
        (finished_ids, alive_ids),
        (finished_scores, alive_scores),
        (finished_lengths, tf.fill([batch, beam], steps)),
        beam,
    )
    return BeamSearchResult(
        ids=beam_ids[:, 0],
        lengths=beam_lengths[:, 0],
        scores=beam_scores[:, 0],
        beam_ids=beam_ids,
        beam_lengths=beam_lengths,
        beam_scores=beam_scores,
    )


def _best_of_pool(ids, scores, lengths, beam):
    """The `beam` best (by score, earlier entries first on ties) of two pools of hypotheses, concatenated."""
    scores, chosen = tf.math.top_k(tf.concat(scores, axis=1), k=beam)
    ids = tf.gather(tf.concat(ids, axis=1), chosen, batch_dims=1)
    return ids, scores, tf.gather(tf.concat(lengths, axis=1), chosen, batch_dims=1)


def _relaxed_shapes(loop_vars):
    """Shape invariants for a while loop: each tensor's static shape with the leading (batch) dimension free.

    A gather or `tf.fill` can lose a batch size that the initial value has statically; the loop then
    needs to know that the size may change.
    """
    return tf.nest.map_structure(
        lambda tensor: tf.TensorShape([None, *tensor.shape[1:]]) if tensor.shape.rank else tensor.shape, loop_vars
    )


def tile_beams(nest, beam_size: int):
    """Repeats each row of every tensor of `nest` `beam_size` times: [batch, ...] -> [batch·beam, ...].

    Row b·beam + k is beam k of row b, the layout `beam_search` expects. None entries stay None.
    """
    return tf.nest.map_structure(lambda tensor: None if tensor is None else tf.repeat(tensor, beam_size, axis=0), nest)


# --------------------------------------------------------------------------- the translator


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


def _seed_pair(seed) -> tf.Tensor:
    """A seed for the stateless random ops: int32 [2] from an int, a scalar or [2] tensor, or None.

    None draws one from TensorFlow's global generator (reproducible under `keras.utils.set_random_seed`).
    """
    if seed is None:
        return tf.random.uniform([2], minval=0, maxval=tf.int32.max, dtype=tf.int32)
    seed = tf.cast(tf.convert_to_tensor(seed), tf.int32)
    return seed if seed.shape.rank == 1 else tf.stack([tf.zeros_like(seed), seed])


@keras.saving.register_keras_serializable(package="seqpipe")
class Seq2Seq(keras.Model):
    """An RNN encoder-decoder with attention (Sutskever et al. 2014; Bahdanau et al. 2015; Luong et al. 2015).

    Encoder: source embedding (id 0 masked) -> dropout -> `RecurrentEncoder` (stacked, optionally
    bidirectional). Its final state is read from its outputs: `LastStatePooling` takes the output at the
    last real step (forward half) and at step 0 (backward half) and concatenates them. For RNN and GRU
    cells the output is the state; an LSTM's cell state c is not among the outputs (the shared encoder does
    not return states), so both the decoder's h and c come from the encoder's final h.

    Bridge: for each decoder layer, h₀ = tanh(W_h final + b) (and for an LSTM c₀ = W_c final + b), so the
    decoder's width need not be the encoder's (a bidirectional encoder's final state is twice as wide).

    Decoder step (`decoder_step`): embed the previous token, concatenate the previous attentional vector
    (input feeding; zeros before the first step), run `layers` cells of `hidden_dim` units (dropout
    between them), attend over the encoder's outputs with the top cell's output s as query, form the
    attentional vector h̃ = W_c [context; s] and project it to logits.

    Args:
        source_words: source vocabulary size, reserved tokens included.
        target_words: target vocabulary size, reserved tokens included ([PAD] 0, [START] 2, [END] 3).
        cell: `rnn`, `gru` or `lstm`, for the encoder and the decoder.
        layers: recurrent layers in the encoder, and cells in the decoder.
        bidirectional: a bidirectional encoder.
        embedding_dim: size of source and target embeddings.
        hidden_dim: units per recurrent layer and direction; also the attentional vector's size.
        dropout: on embeddings, between recurrent layers and on the attentional vector, in training.
        attention: one of `ATTENTIONS`.
        scheduled_sampling: None (teacher forcing), or the feed of scheduled sampling, `argmax` or `sample`.

    Call args:
        inputs: {"source_ids": int [batch, src], "target_in": int [batch, tgt]}, right padded with 0;
            target_in starts with [START] (targets, target_out, end with [END]).
        training: dropout on.
        teacher_forcing_probability, feed, seed: scheduled sampling, see `teacher_forced`.

    Returns:
        logits float [batch, tgt, vocab]. Positions where target_in is padding get logits too: the
        caller's loss masks them (e.g. `SparseCategoricalCrossentropy(ignore_class=0)`).
    """

    def __init__(
        self,
        source_words: int,
        target_words: int,
        cell: str = "lstm",
        layers: int = 1,
        bidirectional: bool = True,
        embedding_dim: int = 100,
        hidden_dim: int = 128,
        dropout: float = 0.0,
        attention: str = "bahdanau",
        scheduled_sampling: str | None = None,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        if scheduled_sampling is not None and scheduled_sampling not in FEEDS:
            raise ValueError(f"unknown feed {scheduled_sampling!r} (available: {', '.join(FEEDS)})")
        if cell not in DECODER_CELLS:
            raise ValueError(f"unknown cell {cell!r} (available: {', '.join(DECODER_CELLS)})")
        if attention == "luong_dot" and bidirectional:
            raise ValueError(
                "luong_dot attention needs encoder outputs as wide as the decoder's state: a bidirectional "
                "encoder's are twice as wide (use luong_general, or a unidirectional encoder)"
            )
        self.source_words = source_words
        self.target_words = target_words
        self.cell = cell
        self.layers_count = layers
        self.bidirectional = bidirectional
        self.embedding_dim = embedding_dim
        self.hidden_dim = hidden_dim
        self.dropout = dropout
        self.attention_kind = attention
        self.key_dim = hidden_dim * (2 if bidirectional else 1)
        self.state_count = 2 if cell == "lstm" else 1
        # Scheduled sampling: training mixes the model's own predictions into the decoder's inputs, fed as
        # `scheduled_sampling` (argmax or sample) with the probability 1 - ε held here; a callback moves ε
        # along the curriculum's schedule. None: plain teacher forcing.
        self.scheduled_sampling = scheduled_sampling
        self.teacher_forcing_probability = keras.Variable(
            1.0, dtype="float32", trainable=False, name="teacher_forcing_probability"
        )

        self.source_embedding = keras.layers.Embedding(
            source_words, embedding_dim, mask_zero=True, name="source_embedding"
        )
        self.source_dropout = keras.layers.Dropout(dropout, name="source_dropout")
        self.encoder = RecurrentEncoder(cell, layers, hidden_dim, bidirectional, dropout, name="encoder")
        self.final_state = LastStatePooling(bidirectional, name="final_state")
        self.bridge = [
            keras.layers.Dense(hidden_dim, activation="tanh" if kind == "h" else None, name=f"bridge_{kind}_{index}")
            for index in range(layers)
            for kind in ("h", "c")[: self.state_count]
        ]
        self.target_embedding = keras.layers.Embedding(target_words, embedding_dim, name="target_embedding")
        self.target_dropout = keras.layers.Dropout(dropout, name="target_dropout")
        self.decoder_cells = [
            DECODER_CELLS[cell](hidden_dim, name=f"decoder_{cell}_{index}") for index in range(layers)
        ]
        self.decoder_dropouts = [keras.layers.Dropout(dropout, name=f"decoder_dropout_{i}") for i in range(layers - 1)]
        self.attention = make_attention(attention, hidden_dim, bidirectional)
        # Luong's W_c, without bias and without his tanh: on the Bible pairs, Adam drove tanh(W_c [c; s]) into
        # saturation within 40 steps (mean |pre-activation| 8), which zeroed every gradient below the output
        # layer and left the loss at the unigram level for good; the linear layer trains (measured, 2026-11).
        self.attentional = keras.layers.Dense(hidden_dim, use_bias=False, name="attentional")
        self.attentional_dropout = keras.layers.Dropout(dropout, name="attentional_dropout")
        self.output_layer = keras.layers.Dense(target_words, name="logits")

    # ------------------------------------------------------------------ building and config

    def build(self, input_shape=None):
        """Creates every weight; the shapes come from the constructor, so `input_shape` is not read."""
        if self.built:
            return
        self.source_embedding.build((None, None))
        self.encoder.build((None, None, self.embedding_dim))
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
        self.built = True

    def get_build_config(self):
        return {"built": True}

    def build_from_config(self, config):
        self.build()

    def get_config(self):
        return {
            "name": self.name,
            "source_words": self.source_words,
            "target_words": self.target_words,
            "cell": self.cell,
            "layers": self.layers_count,
            "bidirectional": self.bidirectional,
            "embedding_dim": self.embedding_dim,
            "hidden_dim": self.hidden_dim,
            "dropout": self.dropout,
            "attention": self.attention_kind,
            "scheduled_sampling": self.scheduled_sampling,
        }

    # ------------------------------------------------------------------ encoder and one decoder step

    def encode(self, source_ids, training=None) -> EncoderMemory:
        """The encoder's outputs, mask, final state and the decoder's initial state, for source_ids int [batch, src]."""
        self.build()
        source_ids = tf.cast(source_ids, tf.int32)
        mask = tf.not_equal(source_ids, PAD_ID)
        features = self.source_dropout(self.source_embedding(source_ids), training=training)
        outputs = self.encoder(features, mask=mask, training=training)
        final = self.final_state(outputs, mask=mask)
        states = [dense(final) for dense in self.bridge]
        cells = tuple(tuple(states[i : i + self.state_count]) for i in range(0, len(states), self.state_count))
        attentional = tf.zeros([tf.shape(source_ids)[0], self.hidden_dim], dtype=final.dtype)
        return EncoderMemory(
            outputs=outputs,
            mask=mask,
            final=final,
            initial_state=DecoderState(cells, attentional),
            precomputed=self.attention.precompute(outputs, mask),
        )

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
        if training and self.scheduled_sampling is not None and teacher_forcing_probability is None:
            teacher_forcing_probability, feed = self.teacher_forcing_probability, self.scheduled_sampling
        return self.teacher_forced(
            inputs[SOURCE_IDS],
            inputs[TARGET_IN],
            teacher_forcing_probability=teacher_forcing_probability,
            feed=feed,
            seed=seed,
            training=training,
        ).logits

    def teacher_forced(
        self, source_ids, target_in, teacher_forcing_probability=None, feed="argmax", seed=None, training=None
    ) -> TeacherForcedOutputs:
        """Runs `decoder_step` over every target position, feeding target_in (teacher forcing).

        Scheduled sampling (Bengio et al. 2015): with `teacher_forcing_probability` ε, at each step t ≥ 1
        and for each row independently, the token fed is target_in's with probability ε and otherwise the
        model's own prediction from step t − 1 (`feed`: `argmax`, or `sample` from its softmax; [PAD] and
        [START] are never predicted), through `tf.stop_gradient`. Step 0 always reads [START]. None (the
        default) is plain teacher forcing and draws nothing; ε = 1 feeds exactly the same tokens and so
        gives bit-identical logits.

        Args:
            source_ids: int [batch, src].
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
        memory = self.encode(source_ids, training=training)
        target_in = tf.cast(target_in, tf.int32)
        batch, steps = tf.shape(target_in)[0], tf.shape(target_in)[1]
        targets = tf.transpose(target_in)  # [tgt, batch]: step t reads targets[t]
        mixing = teacher_forcing_probability is not None
        if mixing:
            epsilon = tf.cast(teacher_forcing_probability, tf.float32)
            seed = _seed_pair(seed)

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

    def attention_weights(self, source_ids, target_in):
        """The attention weights of a teacher-forced pass (no dropout): float [batch, tgt, src], for heatmaps."""
        return self.teacher_forced(source_ids, target_in, training=False).attention

    # ------------------------------------------------------------------ decoding

    def greedy_decode(self, source_ids, max_length) -> Decoded:
        """The most probable token at each step, until [END] or `max_length` (int or scalar tensor)."""
        return self._decode(source_ids, max_length, lambda logits, t: tf.argmax(logits, axis=-1, output_type=tf.int32))

    def sample_decode(self, source_ids, max_length, temperature=1.0, top_k=0, seed=None) -> Decoded:
        """Tokens sampled from softmax(logits / temperature), among the `top_k` most probable (0: all).

        Args:
            source_ids: int [batch, src].
            max_length: most tokens per output (int or scalar tensor).
            temperature: > 0; towards 0 the samples approach greedy decoding, above 1 they spread out.
            top_k: sample among the k most probable tokens only (Fan et al. 2018); 0: no cut. 1 is greedy.
            seed: int or int [2] tensor; one seed gives one output. None: drawn from the global generator.
        """
        seed = _seed_pair(seed)
        top_k = tf.cast(top_k, tf.int32)

        def choose(logits, t):
            logits = logits / tf.cast(temperature, logits.dtype)
            # The k best by index rather than by a threshold value, so that ties keep the lowest id as
            # argmax does (top_k 1 is exactly greedy).
            _, best = tf.math.top_k(logits, k=tf.clip_by_value(top_k, 1, logits.shape[-1]))
            rows = tf.broadcast_to(tf.range(tf.shape(best)[0])[:, None], tf.shape(best))
            chosen = tf.scatter_nd(tf.stack([rows, best], axis=-1), tf.ones_like(best), tf.shape(logits)) > 0
            logits = tf.where(chosen | (top_k <= 0), logits, NEG_INF)
            step_seed = tf.random.experimental.stateless_fold_in(seed, t)
            return tf.random.stateless_categorical(logits, 1, step_seed, dtype=tf.int32)[:, 0]

        return self._decode(source_ids, max_length, choose)

    def wrong_start_decode(self, source_ids, max_length) -> Decoded:
        """Greedy decoding whose first token is forced wrong: the second most probable, then greedy.

        A probe of exposure bias: how well the decoder recovers from an early mistake of its own, which
        teacher forcing never shows it in training (Bengio et al. 2015).
        """

        def choose(logits, t):
            _, best = tf.math.top_k(logits, k=2)
            return tf.where(t == 0, best[:, 1], best[:, 0])

        return self._decode(source_ids, max_length, choose)

    def _decode(self, source_ids, max_length, choose) -> Decoded:
        """Feeds each step's chosen token (`choose(logits [batch, vocab], t) -> int32 [batch]`) to the next."""
        memory = self.encode(source_ids, training=False)
        batch = tf.shape(memory.mask)[0]
        max_length = tf.convert_to_tensor(max_length, tf.int32)
        positions = tf.range(max_length)[None, :]

        def cond(t, tokens, state, ids, finished):
            return (t < max_length) & ~tf.reduce_all(finished)

        def body(t, tokens, state, ids, finished):
            logits, state, _ = self.decoder_step(
                tokens, state, memory.outputs, memory.mask, training=False, precomputed=memory.precomputed
            )
            chosen = tf.where(finished, PAD_ID, choose(_forbid_outputs(logits), t))
            ids = tf.where(positions == t, chosen[:, None], ids)
            return t + 1, chosen, state, ids, finished | tf.equal(chosen, END_ID)

        loop_vars = (
            tf.constant(0),
            tf.fill([batch], tf.constant(START_ID, tf.int32)),
            memory.initial_state,
            tf.zeros([batch, max_length], tf.int32),
            tf.zeros([batch], tf.bool),
        )
        _, _, _, ids, _ = tf.while_loop(
            cond, body, loop_vars, shape_invariants=_relaxed_shapes(loop_vars), maximum_iterations=max_length
        )
        # [PAD] is never chosen, so the tokens are the non-zero ids.
        return Decoded(ids=ids, lengths=tf.reduce_sum(tf.cast(ids != PAD_ID, tf.int32), axis=1))

    def beam_search_decode(self, source_ids, max_length, beam_size: int = 4, length_penalty_alpha=0.6):
        """Beam search (`beam_search`) with this decoder: [PAD] and [START] are never proposed.

        Args:
            source_ids: int [batch, src].
            max_length: most tokens per hypothesis (int or scalar tensor, e.g. 2·max source length + 10).
            beam_size: hypotheses kept per row (a Python int).
            length_penalty_alpha: α of the GNMT length penalty (Wu et al. 2016 found 0.6 to 0.7 best).

        Returns:
            A `BeamSearchResult`: ids int32 [batch, max_length], lengths, scores and every beam's.
        """
        memory = self.encode(source_ids, training=False)
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


def _forbid_outputs(logits):
    """Logits float [batch, vocab] with `FORBIDDEN_OUTPUTS` set to -inf."""
    forbidden = tf.reduce_any(tf.equal(tf.range(logits.shape[-1])[:, None], FORBIDDEN_OUTPUTS), axis=1)
    return tf.where(forbidden, NEG_INF, logits)


@dataclasses.dataclass(frozen=True)
class TranslatorSizes:
    """What the model's shape takes from the data: the vocabulary sizes (read from the Vocabulary artifact)."""

    source_words: int
    target_words: int


def build_translator(
    sizes: TranslatorSizes, model_config, attention: str = "bahdanau", scheduled_sampling: str | None = None
) -> Seq2Seq:
    """An attentional RNN encoder-decoder (`Seq2Seq`), built (its weights exist).

    Args:
        sizes: vocabulary sizes, reserved entries included.
        model_config: a `pipeline.config.ModelConfig`; reads cell, layers, bidirectional, embedding_dim,
            hidden_dim and dropout.
        attention: one of `ATTENTIONS`.
        scheduled_sampling: None (teacher forcing), or the feed of scheduled sampling, `argmax` or `sample`.

    Returns:
        A model from {"source_ids": int [batch, src], "target_in": int [batch, tgt]} to logits
        float [batch, tgt, target_words]; see `Seq2Seq` for decoding.
    """
    if attention not in ATTENTIONS:  # fail fast, before any layer is made
        raise ValueError(f"unknown attention {attention!r} (available: {', '.join(ATTENTIONS)})")
    c = model_config
    model = Seq2Seq(
        sizes.source_words,
        sizes.target_words,
        cell=c.cell,
        layers=c.layers,
        bidirectional=c.bidirectional,
        embedding_dim=c.embedding_dim,
        hidden_dim=c.hidden_dim,
        dropout=c.dropout,
        attention=attention,
        scheduled_sampling=scheduled_sampling,
        name=f"{'bi' if c.bidirectional else ''}{c.cell}_{attention}_translator",
    )
    model.build()
    return model


def decode(model: Seq2Seq, source_ids: tf.Tensor, config, strategy: str | None = None) -> tf.Tensor:
    """Output ids int32 [batch, time] of `model` for source ids int [batch, src] (0 padding).

    Args:
        config: a `pipeline.config.DecodeConfig`: the strategy and its settings, and the maximum output
            length `max_length_ratio` x the longest source + `max_length_extra`.
        strategy: `greedy`, `sample`, `beam`, or `wrong_start` (greedy after a forced wrong first token);
            default `config.strategy`.

    Returns:
        ids int32 [batch, time]: each output up to its [END], then padding.
    """
    strategy = strategy or config.strategy
    # An empty batch has no longest source: its reduce_max is -inf.
    longest = tf.maximum(tf.reduce_max(tf.reduce_sum(tf.cast(source_ids > 0, tf.float32), axis=1)), 0.0)
    max_length = tf.cast(longest * config.max_length_ratio, tf.int32) + config.max_length_extra
    if strategy == "beam":
        return model.beam_search_decode(source_ids, max_length, config.beam_size, config.length_penalty).ids
    if strategy == "sample":
        return model.sample_decode(source_ids, max_length, config.temperature, config.top_k, seed=0).ids
    if strategy == "wrong_start":
        return model.wrong_start_decode(source_ids, max_length).ids
    return model.greedy_decode(source_ids, max_length).ids


def output_tokens(ids: tf.Tensor, words: tf.Tensor) -> tf.RaggedTensor:
    """Token strings string [batch, (tokens)] of output ids int [batch, time], up to (without) the first [END]."""
    ended = tf.cumsum(tf.cast(ids == END_ID, tf.int32), axis=1) > 0
    kept = tf.RaggedTensor.from_tensor(ids, lengths=tf.reduce_sum(tf.cast(~ended & (ids > 0), tf.int32), axis=1))
    return tf.gather(words, kept)
