"""Unit tests of models.attention (by hand), models.decoding (toy decoders) and models.seq2seq (tiny translators)."""

import dataclasses
import itertools
import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from kinds.base.recipe import compile_model, token_loss
from kinds.base.settings import DecoderModel
from models.attention import (
    ATTENTIONS,
    BahdanauAttention,
    FinalStateAttention,
    LuongAttention,
    make_attention,
    masked_softmax,
)
from models.decoding import beam_search, dynamic_decode, greedy_choice, length_penalty, wrong_start_choice
from models.seq2seq import Seq2Seq, TranslatorSizes, build_translator
from models.text import END_ID, PAD_ID, SOURCE_IDS, START_ID, TARGET_IN
from pipeline.config import ModelConfig, TrainConfig

SIZES = TranslatorSizes(source_words=11, target_words=9)
TINY = dataclasses.replace(DecoderModel(), embedding_dim=6, hidden_dim=5, dropout=0.0)

# Three sources right padded to 4 tokens (3, 1 and 4 real ones) and their decoder inputs, [START] first.
SOURCE_IDS_4 = np.array([[4, 5, 6, 0], [7, 0, 0, 0], [8, 9, 10, 4]], "int32")
TARGET_IN_5 = np.array([[START_ID, 5, 6, 0, 0], [START_ID, 4, 5, 6, 7], [START_ID, 8, 0, 0, 0]], "int32")

# Encoder outputs of four sources right padded to 4 steps, of 3, 1, 4 and 0 real steps, 6 features.
MASK = np.array([[1, 1, 1, 0], [1, 0, 0, 0], [1, 1, 1, 1], [0, 0, 0, 0]], bool)
KEYS = np.random.default_rng(0).normal(size=(4, 4, 6)).astype("float32") * 3
QUERY = np.random.default_rng(1).normal(size=(4, 6)).astype("float32")


@pytest.fixture(autouse=True)
def seed():
    keras.utils.set_random_seed(0)


def tiny_config(**changes) -> ModelConfig:
    return dataclasses.replace(TINY, **changes)


def tiny_translator(attention="bahdanau", **changes) -> Seq2Seq:
    return build_translator(SIZES, tiny_config(**changes), attention)


def numpy(tensor) -> np.ndarray:
    return keras.ops.convert_to_numpy(tensor)


def inputs(source_ids=SOURCE_IDS_4, target_in=TARGET_IN_5) -> dict:
    return {SOURCE_IDS: source_ids, TARGET_IN: target_in}


def softmax_over_mask(scores: np.ndarray) -> np.ndarray:
    """The expected attention weights: a softmax of `scores` [4, 4] over `MASK`'s real steps, 0 elsewhere."""
    weights = np.zeros_like(scores)
    for row, real in enumerate(MASK):
        if real.any():
            exp = np.exp(scores[row, real] - scores[row, real].max())
            weights[row, real] = exp / exp.sum()
    return weights


def log_softmax(logits: np.ndarray) -> np.ndarray:
    largest = logits.max(axis=-1, keepdims=True)
    return logits - largest - np.log(np.exp(logits - largest).sum(axis=-1, keepdims=True))


# --------------------------------------------------------------------------- attention


def test_masked_softmax_is_exactly_0_on_padding_and_has_finite_gradients_for_huge_padded_scores():
    scores = tf.constant([[1.0, 2.0, 1e30], [1e30, 1e30, 1e30]])
    mask = np.array([[True, True, False], [False, False, False]])

    with tf.GradientTape() as tape:
        tape.watch(scores)
        weights = masked_softmax(scores, mask)
        total = tf.reduce_sum(weights * tf.constant([[1.0, 2.0, 3.0]]))

    np.testing.assert_allclose(numpy(weights), [[1 / (1 + np.e), np.e / (1 + np.e), 0], [0, 0, 0]], rtol=1e-6)
    assert np.all(np.isfinite(numpy(tape.gradient(total, scores))))


@pytest.mark.parametrize("attention", ["bahdanau", "luong_dot", "luong_general"])
def test_attention_weights_sum_to_1_over_real_steps_and_are_exactly_0_on_padding(attention):
    layer = make_attention(attention, units=7, bidirectional=False)
    keys = tf.constant(KEYS)

    with tf.GradientTape() as tape:
        tape.watch(keys)
        context, weights = layer(QUERY, keys, MASK)
        total = tf.reduce_sum(context)
    weights = numpy(weights)

    assert np.all(weights[~MASK] == 0.0)
    assert np.all(weights[MASK] > 0.0)
    np.testing.assert_allclose(weights.sum(axis=1), [1, 1, 1, 0], atol=1e-6)
    np.testing.assert_allclose(numpy(context), np.einsum("bs,bsk->bk", weights, KEYS), atol=1e-5)
    np.testing.assert_array_equal(numpy(context)[3], np.zeros(6))  # no real steps: zero context, no NaN
    gradient = numpy(tape.gradient(total, keys))
    assert np.all(np.isfinite(gradient))
    assert np.all(gradient[~MASK] == 0.0)


def test_bahdanau_attention_learns_w1_w2_and_v_and_scores_by_hand():
    layer = BahdanauAttention(units=3)
    context, weights = layer(QUERY[:, :4], KEYS, MASK)  # query and keys of different sizes

    assert [tuple(w.shape) for w in (layer.query_kernel, layer.key_kernel, layer.score_vector)] == [
        (4, 3),
        (6, 3),
        (3,),
    ]
    assert {w.name for w in layer.trainable_weights} == {"query_kernel", "key_kernel", "score_vector"}
    w1, w2, v = numpy(layer.query_kernel), numpy(layer.key_kernel), numpy(layer.score_vector)
    scores = np.tanh((QUERY[:, :4] @ w1)[:, None, :] + KEYS @ w2) @ v  # vᵀ tanh(W₁s + W₂h)
    np.testing.assert_allclose(numpy(weights), softmax_over_mask(scores), atol=1e-6)
    # The keys' projection, computed once per source, gives the same result.
    _, again = layer(QUERY[:, :4], KEYS, MASK, precomputed=layer.precompute(KEYS, MASK))
    np.testing.assert_allclose(numpy(again), numpy(weights), atol=1e-7)


def test_luong_scores_by_hand():
    dot = LuongAttention("dot")
    general = LuongAttention("general")
    _, dot_weights = dot(QUERY, KEYS, MASK)
    general.build(QUERY.shape, KEYS.shape)
    w = np.random.default_rng(2).normal(size=(6, 6)).astype("float32")
    general.kernel.assign(w)
    _, general_weights = general(QUERY, KEYS, MASK)

    dot_scores = np.einsum("bk,bsk->bs", QUERY, KEYS)  # sᵀh
    general_scores = np.einsum("bq,qk,bsk->bs", QUERY, w, KEYS)  # sᵀ W h
    np.testing.assert_allclose(numpy(dot_weights), softmax_over_mask(dot_scores), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(numpy(general_weights), softmax_over_mask(general_scores), rtol=1e-5, atol=1e-6)
    assert dot.trainable_weights == []


def test_luong_dot_rejects_keys_of_another_size():
    with pytest.raises(ValueError, match="dot attention needs query and keys of one size"):
        LuongAttention("dot")(QUERY[:, :4], KEYS, MASK)


def test_no_attention_gives_the_final_state_and_zero_weights_whatever_the_query():
    layer = FinalStateAttention(bidirectional=True)
    context, weights = layer(QUERY, KEYS, MASK)
    other, _ = layer(-QUERY, KEYS, MASK)

    # Forward half at the last real step, backward half at step 0.
    expected = np.concatenate([KEYS[[0, 1, 2], [2, 0, 3], :3], KEYS[[0, 1, 2], 0, 3:]], axis=-1)
    np.testing.assert_array_equal(numpy(context)[:3], expected)
    np.testing.assert_array_equal(numpy(context)[3], np.zeros(6))
    np.testing.assert_array_equal(numpy(other), numpy(context))
    np.testing.assert_array_equal(numpy(weights), np.zeros(MASK.shape))


@pytest.mark.parametrize(
    "layer", [BahdanauAttention(7, name="a"), LuongAttention("dot", name="a"), FinalStateAttention(True, name="a")]
)
def test_attention_config_round_trip(layer):
    assert type(layer).from_config(layer.get_config()).get_config() == layer.get_config()


def test_unknown_attention_is_rejected():
    with pytest.raises(ValueError, match="unknown attention 'multihead'"):
        build_translator(SIZES, TINY, "multihead")
    with pytest.raises(ValueError, match="luong_dot attention needs"):
        build_translator(SIZES, tiny_config(bidirectional=True), "luong_dot")


# --------------------------------------------------------------------------- length penalty and beam search


def test_length_penalty_formula():
    assert float(length_penalty(7, 0.0)) == 1.0
    np.testing.assert_allclose(float(length_penalty(5, 1.0)), 10 / 6, rtol=1e-6)
    np.testing.assert_allclose(float(length_penalty(1, 1.0)), 1.0, rtol=1e-6)
    np.testing.assert_allclose(numpy(length_penalty(tf.constant([2, 3]), 0.6)), [(7 / 6) ** 0.6, (8 / 6) ** 0.6])


# A toy decoder over 7 tokens whose next-token distribution depends on its last token only, one table per
# batch row. Missing entries have probability 0 (log-probability -inf).
A, B, C = 4, 5, 6
TOY_VOCAB = 7
# Row 0, the classic case where greedy is wrong. Greedy takes A (0.6), then every continuation has 0.25:
# the tie goes to the lowest id, [END]: "A [END]", P = 0.6 · 0.25 = 0.15. Beam search (2 beams) keeps
# B (0.4) too; B C has 0.4 · 0.9 = 0.36 and C is followed by [END] (1.0): "B C [END]", P = 0.36 > 0.15.
CLASSIC = {
    START_ID: {A: 0.6, B: 0.4},
    A: {END_ID: 0.25, A: 0.25, B: 0.25, C: 0.25},
    B: {C: 0.9, END_ID: 0.1},
    C: {END_ID: 1.0},
}
# Row 1, where the length penalty decides. "A [END]" has P = 0.6 · 0.5 = 0.3 and "B C [END]"
# P = 0.4 · 0.7 · 1.0 = 0.28. α = 0: log 0.3 = -1.204 beats log 0.28 = -1.273. α = 1: lp(2) = 7/6 and
# lp(3) = 8/6, so -1.204 / (7/6) = -1.032 loses to -1.273 / (8/6) = -0.955.
PENALTY = {
    START_ID: {A: 0.6, B: 0.4},
    A: {END_ID: 0.5, A: 0.5},
    B: {C: 0.7, END_ID: 0.3},
    C: {END_ID: 1.0},
}


def toy_log_probs(*rows: dict) -> np.ndarray:
    """float [rows, vocab (previous token), vocab (next token)]."""
    table = np.zeros((len(rows), TOY_VOCAB, TOY_VOCAB))
    for row, transitions in enumerate(rows):
        for previous, distribution in transitions.items():
            for token, probability in distribution.items():
                table[row, previous, token] = probability
    with np.errstate(divide="ignore"):
        return np.log(table).astype("float32")


def toy_beam_search(rows, beam_size, alpha, max_length=6):
    """Beam search on the toy decoder; its state is each hypothesis's batch row, which must stay put."""
    table = tf.constant(toy_log_probs(*rows))
    batch = len(rows)

    def step_fn(token_ids, state):
        log_probs = tf.gather_nd(table, tf.stack([state["row"], token_ids], axis=1))
        return log_probs, state

    state = {"row": tf.repeat(tf.range(batch), beam_size)}
    return beam_search(step_fn, state, batch, beam_size, max_length, alpha, START_ID, END_ID)


def hypothesis(*tokens, length=6) -> list[int]:
    return [*tokens, *[PAD_ID] * (length - len(tokens))]


def test_beam_search_finds_the_better_hypothesis_that_greedy_misses():
    greedy = toy_beam_search([CLASSIC, PENALTY], beam_size=1, alpha=0.0)
    beam = toy_beam_search([CLASSIC, PENALTY], beam_size=2, alpha=0.0)

    assert numpy(greedy.ids).tolist() == [hypothesis(A, END_ID), hypothesis(A, END_ID)]
    assert numpy(beam.ids).tolist() == [hypothesis(B, C, END_ID), hypothesis(A, END_ID)]
    assert numpy(beam.lengths).tolist() == [3, 2]
    np.testing.assert_allclose(numpy(greedy.scores), np.log([0.15, 0.3]), rtol=1e-6)
    np.testing.assert_allclose(numpy(beam.scores), np.log([0.36, 0.3]), rtol=1e-6)
    # The finished "A [END]" of row 0 is kept beside the winner; row 1's runner-up is "B C [END]".
    assert numpy(beam.beam_ids)[0].tolist() == [hypothesis(B, C, END_ID), hypothesis(A, END_ID)]
    np.testing.assert_allclose(numpy(beam.beam_scores), np.log([[0.36, 0.15], [0.3, 0.28]]), rtol=1e-6)


def test_the_length_penalty_changes_the_winner():
    beam = toy_beam_search([CLASSIC, PENALTY], beam_size=2, alpha=1.0)

    assert numpy(beam.ids).tolist() == [hypothesis(B, C, END_ID), hypothesis(B, C, END_ID)]
    np.testing.assert_allclose(numpy(beam.scores), np.log([0.36, 0.28]) / (8 / 6), rtol=1e-6)
    np.testing.assert_allclose(numpy(beam.beam_scores)[1], [np.log(0.28) / (8 / 6), np.log(0.3) / (7 / 6)], rtol=1e-6)


def test_beam_search_at_max_length_lets_unfinished_hypotheses_compete():
    # After 2 steps row 0 has finished "A [END]" (0.15) and keeps "B C" (0.36) alive: the search stops there.
    beam = toy_beam_search([CLASSIC], beam_size=2, alpha=0.0, max_length=2)

    assert numpy(beam.ids).tolist() == [[B, C]]
    assert numpy(beam.lengths).tolist() == [2]
    np.testing.assert_allclose(numpy(beam.beam_scores), np.log([[0.36, 0.15]]), rtol=1e-6)


def test_beam_search_traces_with_tensor_lengths_and_batch():
    table = tf.constant(toy_log_probs(CLASSIC))

    @tf.function(input_signature=[tf.TensorSpec([], tf.int32), tf.TensorSpec([], tf.int32)])
    def search(batch, max_length):
        def step_fn(token_ids, state):
            return tf.gather(table[0], token_ids), state

        state = (tf.zeros([batch * 2, 3]),)
        return beam_search(step_fn, state, batch, 2, max_length, 0.0).ids

    assert numpy(search(tf.constant(3), tf.constant(5))).tolist() == [hypothesis(B, C, END_ID, length=5)] * 3


def toy_dynamic_decode(rows, choose, max_length=6):
    """`dynamic_decode` on the toy decoder; its state is each output's batch row."""
    table = tf.constant(toy_log_probs(*rows))

    def step_fn(token_ids, state):
        return tf.gather_nd(table, tf.stack([state["row"], token_ids], axis=1)), state

    ids, lengths = dynamic_decode(step_fn, {"row": tf.range(len(rows))}, len(rows), max_length, choose)
    return numpy(ids).tolist(), numpy(lengths).tolist()


def test_dynamic_decode_with_greedy_choice_is_beam_search_with_one_beam():
    ids, lengths = toy_dynamic_decode([CLASSIC, PENALTY], greedy_choice)
    beam = toy_beam_search([CLASSIC, PENALTY], beam_size=1, alpha=0.0)

    assert ids == [hypothesis(A, END_ID), hypothesis(A, END_ID)] == numpy(beam.ids).tolist()
    assert lengths == [2, 2]


def test_dynamic_decode_with_a_wrong_start_recovers_greedily_and_stops_at_max_length():
    ids, lengths = toy_dynamic_decode([CLASSIC], wrong_start_choice)
    looping = {START_ID: {A: 1.0}, A: {A: 1.0}}  # never ends: cut at max_length
    loop_ids, loop_lengths = toy_dynamic_decode([CLASSIC, looping], greedy_choice, max_length=4)

    assert (ids, lengths) == ([hypothesis(B, C, END_ID)], [3])  # B, the runner-up, then greedy
    assert (loop_ids, loop_lengths) == ([hypothesis(A, END_ID, length=4), [A] * 4], [2, 4])


# --------------------------------------------------------------------------- the translator


@pytest.mark.parametrize(
    ("attention", "changes"),
    [
        ("bahdanau", {"cell": "lstm", "layers": 2, "bidirectional": True}),
        ("luong_general", {"cell": "gru", "bidirectional": True}),
        ("luong_dot", {"cell": "rnn", "bidirectional": False}),
        ("none", {"cell": "lstm", "bidirectional": True}),
    ],
)
def test_teacher_forced_logits_are_the_step_function_applied_step_by_step(attention, changes):
    model = tiny_translator(attention, **changes)

    forced = model.teacher_forced(SOURCE_IDS_4, TARGET_IN_5, training=False)
    memory = model.encode(SOURCE_IDS_4, training=False)
    state, logits, weights = memory.initial_state, [], []
    for t in range(TARGET_IN_5.shape[1]):
        step_logits, state, step_weights = model.decoder_step(TARGET_IN_5[:, t], state, memory.outputs, memory.mask)
        logits.append(numpy(step_logits))
        weights.append(numpy(step_weights))

    assert forced.logits.shape == (3, 5, SIZES.target_words)
    np.testing.assert_allclose(numpy(forced.logits), np.stack(logits, axis=1), atol=1e-6)
    np.testing.assert_allclose(numpy(forced.attention), np.stack(weights, axis=1), atol=1e-6)
    np.testing.assert_array_equal(numpy(model(inputs(), training=False)), numpy(forced.logits))
    np.testing.assert_array_equal(numpy(forced.inputs), TARGET_IN_5)


def test_logits_do_not_depend_on_source_padding():
    model = tiny_translator(cell="lstm", bidirectional=True)
    padded = np.pad(SOURCE_IDS_4, [(0, 0), (0, 5)])

    short = numpy(model(inputs(), training=False))
    long = numpy(model(inputs(source_ids=padded), training=False))

    np.testing.assert_allclose(long, short, atol=1e-6)


def test_attention_weights_of_a_teacher_forced_pass():
    model = tiny_translator("luong_general", bidirectional=True)

    weights = numpy(model.attention_weights(SOURCE_IDS_4, TARGET_IN_5))

    assert weights.shape == (3, 5, 4)
    source_mask = np.broadcast_to((SOURCE_IDS_4 != PAD_ID)[:, None, :], weights.shape)
    assert np.all(weights[~source_mask] == 0.0)
    np.testing.assert_allclose(weights.sum(axis=-1), np.ones((3, 5)), atol=1e-6)


# --------------------------------------------------------------------------- scheduled sampling


def masked_loss(model, epsilon=None, **kwargs):
    targets = np.concatenate([TARGET_IN_5[:, 1:], np.zeros((3, 1), "int32")], axis=1)
    logits = model(inputs(), training=True, teacher_forcing_probability=epsilon, **kwargs)
    return token_loss()(targets, logits, sample_weight=(targets != PAD_ID).astype("float32"))  # the trainer's loss


@pytest.mark.parametrize("feed", ["argmax", "sample"])
def test_teacher_forcing_probability_1_is_exactly_teacher_forcing(feed):
    model = tiny_translator(cell="gru", layers=2)

    plain = numpy(masked_loss(model))
    mixed = numpy(masked_loss(model, tf.constant(1.0), feed=feed, seed=7))

    assert plain == mixed  # bit for bit


def test_teacher_forcing_probability_0_feeds_the_previous_prediction():
    model = tiny_translator(cell="gru")

    forced = model.teacher_forced(SOURCE_IDS_4, TARGET_IN_5, teacher_forcing_probability=0.0, seed=1, training=False)

    fed, logits = numpy(forced.inputs), numpy(forced.logits)
    logits[..., [PAD_ID, START_ID]] = -np.inf  # never predicted
    np.testing.assert_array_equal(fed[:, 0], TARGET_IN_5[:, 0])
    np.testing.assert_array_equal(fed[:, 1:], logits[:, :-1].argmax(axis=-1))
    np.testing.assert_array_equal(numpy(forced.from_teacher), np.arange(5)[None].repeat(3, 0) == 0)
    # Until it ends, that is greedy decoding.
    greedy = numpy(model.greedy_decode(SOURCE_IDS_4, 4).ids)
    np.testing.assert_array_equal(fed[:, 1:][greedy != PAD_ID], greedy[greedy != PAD_ID])


def test_scheduled_sampling_mixes_at_the_rate_epsilon_per_token_and_row():
    model = tiny_translator(cell="gru")
    rng = np.random.default_rng(3)
    source_ids = rng.integers(4, SIZES.source_words, (64, 6)).astype("int32")
    target_in = np.concatenate([np.full((64, 1), START_ID), rng.integers(4, SIZES.target_words, (64, 20))], axis=1)

    forced = model.teacher_forced(source_ids, target_in, teacher_forcing_probability=0.3, feed="sample", seed=5)
    again = model.teacher_forced(source_ids, target_in, teacher_forcing_probability=0.3, feed="sample", seed=5)

    from_teacher = numpy(forced.from_teacher)
    rate = from_teacher[:, 1:].mean()  # 64 · 20 coin flips: standard error 0.013
    assert abs(rate - 0.3) < 0.05
    assert from_teacher[:, 0].all()
    fed = numpy(forced.inputs)
    np.testing.assert_array_equal(fed[from_teacher], target_in[from_teacher])
    assert not np.isin(fed[:, 1:][~from_teacher[:, 1:]], [PAD_ID, START_ID]).any()
    np.testing.assert_array_equal(numpy(again.inputs), fed)  # one seed, one draw
    np.testing.assert_array_equal(numpy(again.logits), numpy(forced.logits))


def test_scheduled_sampling_gradients_flow_through_the_model_but_not_the_fed_tokens():
    model = tiny_translator(cell="lstm")

    with tf.GradientTape() as tape:
        loss = masked_loss(model, tf.constant(0.5), seed=2)
    gradients = tape.gradient(loss, model.trainable_weights)

    assert all(g is not None and np.all(np.isfinite(numpy(g))) for g in gradients)


def test_unknown_feed_is_rejected():
    with pytest.raises(ValueError, match="unknown feed 'beam'"):
        tiny_translator().teacher_forced(SOURCE_IDS_4, TARGET_IN_5, 0.5, feed="beam")


# --------------------------------------------------------------------------- decoding


def test_greedy_decoding_is_deterministic_and_pads_after_end():
    model = tiny_translator(cell="gru", layers=2)

    first = model.greedy_decode(SOURCE_IDS_4, 7)
    second = model.greedy_decode(SOURCE_IDS_4, tf.constant(7))

    ids, lengths = numpy(first.ids), numpy(first.lengths)
    np.testing.assert_array_equal(numpy(second.ids), ids)
    assert ids.shape == (3, 7)
    for row, length in zip(ids, lengths, strict=True):
        assert np.all(row[:length] != PAD_ID) and np.all(row[length:] == PAD_ID)
        assert np.all(row[: length - 1] != END_ID)
        assert row[length - 1] == END_ID or length == 7
    assert not np.isin(ids, [START_ID]).any()


def test_greedy_decoding_is_the_argmax_of_teacher_forcing_on_its_own_output():
    model = tiny_translator(cell="gru")

    decoded = model.greedy_decode(SOURCE_IDS_4, 6)

    ids = numpy(decoded.ids)
    target_in = np.concatenate([np.full((3, 1), START_ID), ids[:, :-1]], axis=1)
    logits = numpy(model.teacher_forced(SOURCE_IDS_4, target_in, training=False).logits)
    logits[..., [PAD_ID, START_ID]] = -np.inf
    real = ids != PAD_ID
    np.testing.assert_array_equal(logits.argmax(axis=-1)[real], ids[real])


def test_sampling_at_temperature_0_or_low_and_with_top_k_1_is_greedy():
    model = tiny_translator(cell="gru", layers=2)
    source_ids = np.random.default_rng(4).integers(0, SIZES.source_words, (8, 5)).astype("int32")
    greedy = numpy(model.greedy_decode(source_ids, 8).ids)

    zero = numpy(model.sample_decode(source_ids, 8, temperature=0.0, seed=1).ids)
    zero_graph = numpy(tf.function(model.sample_decode)(source_ids, tf.constant(8), tf.constant(0.0), seed=1).ids)
    cold = numpy(model.sample_decode(source_ids, 8, temperature=1e-6, seed=1).ids)
    np.testing.assert_array_equal(zero, greedy)  # not a division by zero
    np.testing.assert_array_equal(zero_graph, greedy)
    top_1 = numpy(model.sample_decode(source_ids, 8, temperature=5.0, top_k=1, seed=2).ids)
    hot = numpy(model.sample_decode(source_ids, 8, temperature=5.0, seed=3).ids)

    np.testing.assert_array_equal(cold, greedy)
    np.testing.assert_array_equal(top_1, greedy)
    assert not np.array_equal(hot, greedy)


def test_sampling_is_reproducible_by_seed_and_top_k_limits_the_choice():
    model = tiny_translator(cell="gru")
    source_ids = np.repeat(SOURCE_IDS_4[:1], 50, axis=0)

    first = numpy(model.sample_decode(source_ids, 1, temperature=3.0, top_k=2, seed=9).ids)
    again = numpy(model.sample_decode(source_ids, 1, temperature=3.0, top_k=2, seed=9).ids)

    np.testing.assert_array_equal(again, first)
    logits = numpy(model.teacher_forced(SOURCE_IDS_4[:1], TARGET_IN_5[:1, :1], training=False).logits)[0, 0]
    logits[[PAD_ID, START_ID]] = -np.inf
    assert set(first[:, 0]) == set(np.argsort(-logits)[:2])  # 50 draws: both of the top 2, nothing else


def test_beam_search_with_one_beam_is_greedy_decoding():
    model = tiny_translator(cell="lstm")
    source_ids = np.random.default_rng(5).integers(0, SIZES.source_words, (10, 5)).astype("int32")

    greedy = model.greedy_decode(source_ids, 7)
    for alpha in (0.0, 0.6):
        beam = model.beam_search_decode(source_ids, 7, beam_size=1, length_penalty_alpha=alpha)
        np.testing.assert_array_equal(numpy(beam.ids), numpy(greedy.ids))
        np.testing.assert_array_equal(numpy(beam.lengths), numpy(greedy.lengths))
    lengths = numpy(greedy.lengths)
    assert (lengths < 7).any() and (lengths == 7).any()  # some ended, some ran out of steps


@pytest.mark.parametrize("changes", [{"cell": "lstm"}, {"cell": "gru", "layers": 2}], ids=["lstm", "gru-2"])
def test_beam_scores_are_the_models_log_probabilities_over_the_length_penalty(changes):
    model = tiny_translator(**changes)
    alpha, beam_size, max_length = 0.6, 3, 6

    beam = model.beam_search_decode(SOURCE_IDS_4, max_length, beam_size=beam_size, length_penalty_alpha=alpha)

    ids = numpy(beam.beam_ids).reshape(-1, max_length)  # [batch · beam, time]
    lengths, scores = numpy(beam.beam_lengths).reshape(-1), numpy(beam.beam_scores).reshape(-1)
    target_in = np.concatenate([np.full((len(ids), 1), START_ID), ids[:, :-1]], axis=1)
    logits = numpy(model.teacher_forced(np.repeat(SOURCE_IDS_4, beam_size, axis=0), target_in).logits)
    logits[..., [PAD_ID, START_ID]] = -np.inf
    log_probs = log_softmax(logits)
    for row, length, score, row_log_probs in zip(ids, lengths, scores, log_probs, strict=True):
        total = row_log_probs[np.arange(length), row[:length]].sum()
        np.testing.assert_allclose(score, total / float(length_penalty(length, alpha)), rtol=1e-4)
    assert np.all(np.diff(numpy(beam.beam_scores), axis=1) <= 0)  # best first
    np.testing.assert_array_equal(numpy(beam.ids), numpy(beam.beam_ids)[:, 0])
    assert (lengths < max_length).any() and (ids[lengths == max_length, -1] != END_ID).any()  # ended, cut


def test_decoding_traces_in_a_tf_function_with_unknown_batch_and_length():
    model = tiny_translator(cell="gru", bidirectional=True)

    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.int32)])
    def translate(source_ids):
        max_length = 2 * tf.shape(source_ids)[1] + 2
        return (
            model.greedy_decode(source_ids, max_length).ids,
            model.beam_search_decode(source_ids, max_length, beam_size=3).ids,
            model.sample_decode(source_ids, max_length, top_k=3, seed=tf.constant([1, 2])).ids,
        )

    greedy, beam, sampled = translate(tf.constant(SOURCE_IDS_4))

    np.testing.assert_array_equal(numpy(greedy), numpy(model.greedy_decode(SOURCE_IDS_4, 10).ids))
    np.testing.assert_array_equal(numpy(beam), numpy(model.beam_search_decode(SOURCE_IDS_4, 10, beam_size=3).ids))
    eager = model.sample_decode(SOURCE_IDS_4, 10, top_k=3, seed=tf.constant([1, 2]))
    np.testing.assert_array_equal(numpy(sampled), numpy(eager.ids))
    assert numpy(translate(tf.constant(SOURCE_IDS_4[:1, :2]))[1]).shape == (1, 6)  # another shape, same graph


# --------------------------------------------------------------------------- saving


def test_saved_translator_loads_back_with_identical_outputs(tmp_path):
    model = tiny_translator(cell="lstm", layers=2, bidirectional=True, dropout=0.1)
    expected = numpy(model(inputs(), training=False))
    path = tmp_path / "translator.keras"

    model.save(path)
    loaded = keras.saving.load_model(path)

    assert type(loaded) is Seq2Seq and type(loaded.attention) is BahdanauAttention
    assert loaded.get_config() == model.get_config()
    np.testing.assert_array_equal(numpy(loaded(inputs(), training=False)), expected)
    np.testing.assert_array_equal(
        numpy(loaded.beam_search_decode(SOURCE_IDS_4, 6, beam_size=2).ids),
        numpy(model.beam_search_decode(SOURCE_IDS_4, 6, beam_size=2).ids),
    )


@pytest.mark.parametrize("attention", ATTENTIONS)
def test_every_attention_saves_and_loads(tmp_path, attention):
    model = tiny_translator(attention, cell="gru", bidirectional=attention != "luong_dot")
    path = tmp_path / "translator.keras"

    model.save(path)
    loaded = keras.saving.load_model(path)

    np.testing.assert_array_equal(numpy(loaded(inputs(), training=False)), numpy(model(inputs(), training=False)))


# --------------------------------------------------------------------------- learning a toy task


def reversal_data(sequences) -> tuple[dict, np.ndarray]:
    """Sources and their reversals: target_in [START] + reversed, target_out reversed + [END], padded."""
    count = len(sequences)
    source_ids, target_in, target_out = (np.zeros((count, width), "int32") for width in (5, 6, 6))
    for row, sequence in enumerate(sequences):
        reversed_ = sequence[::-1]
        source_ids[row, : len(sequence)] = sequence
        target_in[row, : len(sequence) + 1] = (START_ID, *reversed_)
        target_out[row, : len(sequence) + 1] = (*reversed_, END_ID)
    return inputs(source_ids, target_in), target_out


def test_translator_learns_to_reverse_short_sequences():
    # Vocabulary 8: the 4 reserved tokens and 4 words; every sequence of 3 to 5 words, 200 held out.
    sequences = [s for length in (3, 4, 5) for s in itertools.product(range(4, 8), repeat=length)]
    np.random.default_rng(0).shuffle(sequences)
    train_x, train_y = reversal_data(sequences[200:])
    test_x, test_y = reversal_data(sequences[:200])
    config = tiny_config(cell="gru", bidirectional=False, embedding_dim=16, hidden_dim=32)
    model = build_translator(TranslatorSizes(8, 8), config, "bahdanau")
    compile_model(model, TrainConfig(learning_rate=0.01))  # the trainer's optimizer and loss
    weights = (train_y != PAD_ID).astype("float32")

    model.fit(train_x, train_y, sample_weight=weights, batch_size=32, epochs=6, shuffle=True, verbose=0)  # 216 steps

    decoded = numpy(model.greedy_decode(test_x[SOURCE_IDS], 8).ids)
    exact = np.mean([np.array_equal(row[:6], target) for row, target in zip(decoded, test_y, strict=True)])
    assert exact >= 0.8


def test_a_real_fit_with_the_callback_feeds_the_truth_at_the_rate_of_the_schedule(tmp_path):
    # The production path: `model.fit` with the trainer's loss and the ScheduledSampling callback, a
    # per-step schedule from 1 down to 0.1 over two epochs of 10 steps.
    from kinds.base.scheduled_sampling import ScheduledSampling
    from pipeline import artifacts

    sequences = [s for length in (3, 4, 5) for s in itertools.product(range(4, 8), repeat=length)][:320]
    x, y = reversal_data(sequences)
    values = np.linspace(1.0, 0.1, 20).tolist()
    schedule = artifacts.Schedule(tmp_path)
    schedule.path.write_text(
        json.dumps({"schedule": "linear", "unit": "step", "parameters": {}, "feed": "argmax", "values": values})
    )
    keras.utils.set_random_seed(3)
    model = build_translator(TranslatorSizes(8, 8), tiny_config(cell="gru"), "bahdanau", scheduled_sampling="argmax")
    compile_model(model, TrainConfig(learning_rate=0.01))
    weights = (y != PAD_ID).astype("float32")

    history = model.fit(
        x, y, sample_weight=weights, batch_size=32, epochs=2, verbose=0, callbacks=[ScheduledSampling(schedule, model)]
    ).history

    # Each epoch's rate of true tokens fed is the mean of its steps' ε (over a thousand coin flips an epoch).
    expected = [np.mean(values[:10]), np.mean(values[10:])]
    assert history["fed_from_truth"] == pytest.approx(expected, abs=0.03)
    assert history["teacher_forcing_probability"] == pytest.approx([values[9], values[19]])
