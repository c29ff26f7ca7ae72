"""Decoding over a step function, in the TensorFlow graph: beam search, greedy and sampled decoding.

Like OpenNMT-tf's `utils/decoding.py`, nothing here knows about a model: every search takes a step
function `step_fn(token_ids int32 [batch], state) -> (scores float [batch, vocab], new_state)` and an
initial state (a nest of tensors with leading dimension batch), so it can be tested on a toy decoder.

* `beam_search` keeps finished hypotheses and ranks them by log-probability over the GNMT length
  penalty, `length_penalty` (Wu et al. 2016); `tile_beams` lays a per-row state out for it.
* `dynamic_decode` feeds each step's chosen token to the next, until [END] or a maximum length; the
  token is chosen by `greedy_choice` (argmax), `sampling_choice` (softmax with a temperature, among the
  top k, Fan et al. 2018) or `wrong_start_choice` (greedy after a forced wrong first token, a probe of
  exposure bias, Bengio et al. 2015).

The loops are `tf.while_loop`s and take their lengths as tensors, so they trace inside a `tf.function`
with unknown batch and length and can be exported in a SavedModel. They need no AutoGraph, and the
functions that decode are traced without it (`tf.function(..., autograph=False)`): AutoGraph parses and
rewrites the source of every function a decoder calls: about 1 s in a fresh process (0.3 s without
it), but once 85 s in a busy one after training (caught by `SEQPIPE_STALL_SECONDS` in `gast`'s tree
visitor), for the same graph. This module needs the TensorFlow backend.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import tensorflow as tf

from models.text import END_ID, PAD_ID, START_ID

NEG_INF = float("-inf")


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


# --------------------------------------------------------------------------- one token at a time


def seed_pair(seed) -> tf.Tensor:
    """A seed for the stateless random ops: int32 [2] from an int, a scalar or [2] tensor, or None.

    None draws one from TensorFlow's global generator (reproducible under `keras.utils.set_random_seed`).
    """
    if seed is None:
        return tf.random.uniform([2], minval=0, maxval=tf.int32.max, dtype=tf.int32)
    seed = tf.cast(tf.convert_to_tensor(seed), tf.int32)
    return seed if seed.shape.rank == 1 else tf.stack([tf.zeros_like(seed), seed])


def dynamic_decode(
    step_fn: Callable[[tf.Tensor, Any], tuple[tf.Tensor, Any]],
    initial_state: Any,
    batch_size,
    max_length,
    choose: Callable[[tf.Tensor, tf.Tensor], tf.Tensor],
    start_id: int = START_ID,
    end_id: int = END_ID,
    pad_id: int = PAD_ID,
) -> tuple[tf.Tensor, tf.Tensor]:
    """Feeds each step's chosen token to the next, until every row has ended or `max_length` (a `tf.while_loop`).

    Args:
        step_fn: (token_ids int32 [batch], state) -> (logits float [batch, vocab], new_state): the scores of
            the next token given the last one. `choose` must never pick `pad_id` from them (give it -inf).
        initial_state: a nest of tensors with leading dimension batch.
        batch_size: rows (int or scalar tensor).
        max_length: most tokens per output (int or scalar tensor).
        choose: (logits float [batch, vocab], step t int32 scalar) -> token ids int32 [batch]:
            `greedy_choice`, `sampling_choice(...)` or `wrong_start_choice`.
        start_id: the first token fed to `step_fn`.
        end_id: the token that ends an output; a row that has ended gets `pad_id` from then on.
        pad_id: what follows [END].

    Returns:
        ids int32 [batch, max_length] (with [END], then `pad_id`) and lengths int32 [batch] (tokens, [END]
        included; max_length for a row that never ended).
    """
    batch = tf.convert_to_tensor(batch_size, tf.int32)
    max_length = tf.convert_to_tensor(max_length, tf.int32)
    positions = tf.range(max_length)[None, :]

    def cond(t, tokens, state, ids, finished):
        return (t < max_length) & ~tf.reduce_all(finished)

    def body(t, tokens, state, ids, finished):
        logits, state = step_fn(tokens, state)
        chosen = tf.where(finished, pad_id, choose(logits, t))
        ids = tf.where(positions == t, chosen[:, None], ids)
        return t + 1, chosen, state, ids, finished | tf.equal(chosen, end_id)

    loop_vars = (
        tf.constant(0),
        tf.fill([batch], tf.constant(start_id, tf.int32)),
        initial_state,
        tf.zeros([batch, max_length], tf.int32),
        tf.zeros([batch], tf.bool),
    )
    _, _, _, ids, _ = tf.while_loop(
        cond, body, loop_vars, shape_invariants=_relaxed_shapes(loop_vars), maximum_iterations=max_length
    )
    # `pad_id` is never chosen, so the tokens are the ids that are not padding.
    return ids, tf.reduce_sum(tf.cast(ids != pad_id, tf.int32), axis=1)


def greedy_choice(logits, t):
    """The most probable token of each row: int32 [batch] of logits float [batch, vocab] (ties: the lowest id)."""
    return tf.argmax(logits, axis=-1, output_type=tf.int32)


def wrong_start_choice(logits, t):
    """The second most probable token at step 0, then the most probable: greedy after a forced mistake."""
    _, best = tf.math.top_k(logits, k=2)
    return tf.where(t == 0, best[:, 1], best[:, 0])


def sampling_choice(temperature=1.0, top_k=0, seed=None) -> Callable[[tf.Tensor, tf.Tensor], tf.Tensor]:
    """A `choose` for `dynamic_decode` that samples from softmax(logits / temperature), among the `top_k` best.

    Args:
        temperature: towards 0 the samples approach greedy decoding, above 1 they spread out; 0 is
            greedy decoding (the most probable token), as for the language model.
        top_k: sample among the k most probable tokens only (Fan et al. 2018); 0: no cut. 1 is greedy.
        seed: int or int [2] tensor; step t samples with the seed folded with t, so one seed gives one
            output. None: drawn from the global generator (once, now).
    """
    seed = seed_pair(seed)
    top_k = tf.cast(top_k, tf.int32)

    def choose(logits, t):
        temperature_ = tf.cast(temperature, logits.dtype)
        greedy = tf.argmax(logits, axis=-1, output_type=tf.int32)
        logits = logits / tf.maximum(temperature_, 1e-6)  # 0 would divide by zero: greedy is chosen below
        # The k best by index rather than by a threshold value, so that ties keep the lowest id as
        # argmax does (top_k 1 is exactly greedy).
        _, best = tf.math.top_k(logits, k=tf.clip_by_value(top_k, 1, logits.shape[-1]))
        rows = tf.broadcast_to(tf.range(tf.shape(best)[0])[:, None], tf.shape(best))
        chosen = tf.scatter_nd(tf.stack([rows, best], axis=-1), tf.ones_like(best), tf.shape(logits)) > 0
        logits = tf.where(chosen | (top_k <= 0), logits, NEG_INF)
        step_seed = tf.random.experimental.stateless_fold_in(seed, t)
        sampled = tf.random.stateless_categorical(logits, 1, step_seed, dtype=tf.int32)[:, 0]
        return tf.where(temperature_ > 0, sampled, greedy)

    return choose
