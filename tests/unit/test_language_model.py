"""The language model: streams for truncated BPTT, state carried and reset, scoring and generation."""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from kinds.base.parameters import TrainParameters
from kinds.base.recipe import compile_model
from kinds.language_model import train as lm_train
from kinds.language_model.settings import LanguageModelTrain
from models import input_pipeline, text
from models.language_model import (
    RESETS,
    Generator,
    LanguageModelSizes,
    build_language_model,
    log_probs_of,
    reset_states,
    stateless_copy,
    stream_cross_entropy,
)
from pipeline.config import ModelConfig, PreprocessConfig, TrainConfig

S = text.START_ID


def doc(*ids: int) -> np.ndarray:
    return np.array([S, *ids], dtype=np.int32)


# ----------------------------------------------------------------------------------------------
# Streams


def test_documents_are_laid_end_to_end_and_cut_into_streams_of_equal_length():
    documents = [doc(5, 6, 7), doc(8), doc(9, 10)]

    streams = input_pipeline.language_model_streams(documents, batch_size=2, bptt=3)

    # Joined: S 5 6 7 S 8 S 9 10; eight targets, four a stream; 6 steps (a multiple of bptt).
    assert streams[text.TOKEN_IDS].tolist() == [[S, 5, 6, 7, 0, 0], [S, 8, S, 9, 0, 0]]
    # The last input of stream 0 predicts the first of stream 1: every unit is a target once.
    assert streams["targets"].tolist() == [[5, 6, 7, S, 0, 0], [8, S, 9, 10, 0, 0]]
    assert streams["resets"].tolist() == [[1, 0, 0, 0, 0, 0], [1, 0, 1, 0, 0, 0]]
    # Padding and a [START] target (the end of one document before the next) are never scored.
    assert streams["weights"].tolist() == [[1, 1, 1, 0, 0, 0], [1, 0, 1, 1, 0, 0]]


def test_one_long_document_fills_every_stream_and_each_stream_starts_from_a_zero_state():
    document = doc(*(4 + np.arange(1000) % 50))
    batch_size, bptt = 32, 8

    streams = input_pipeline.language_model_streams([document], batch_size, bptt)

    inputs = streams[text.TOKEN_IDS]
    windows = inputs.shape[1] // bptt
    assert windows == 4  # 1,000 targets in 32 streams: 31 or 32 steps each
    real = (inputs != text.PAD_ID).reshape(batch_size, windows, bptt)
    assert real[:, :-1].all()  # padding only in the last window of each stream
    assert streams["weights"].sum() == 1000  # every unit after the [START], once
    # Read stream after stream, the targets are the document in order.
    np.testing.assert_array_equal(streams["targets"][streams["weights"] > 0], document[1:])
    assert streams["resets"][:, 0].tolist() == [1.0] * batch_size
    assert streams["resets"][:, 1:].sum() == 0  # no [START] inside: no other reset


def test_the_dataset_gives_window_i_of_every_stream_in_batch_i():
    streams = input_pipeline.language_model_streams([doc(*range(4, 12)), doc(*range(20, 28))], batch_size=2, bptt=3)

    batches = list(input_pipeline.language_model_dataset(streams, bptt=3).as_numpy_iterator())

    # Joined: S 4..11 S 20..27 (18 units, 17 targets): stream 0 inputs S 4..10, stream 1 inputs 11 S 20..27.
    assert len(batches) == 3
    (first, _, _), (second, _, _) = batches[0], batches[1]
    assert first[text.TOKEN_IDS].tolist() == [[S, 4, 5], [11, S, 20]]
    assert second[text.TOKEN_IDS].tolist() == [[6, 7, 8], [21, 22, 23]]


def test_the_dataset_is_not_autotuned():
    """Keras stops after `cardinality` batches; an autotuned iterator destroyed then may wait for tf.data's
    autotuning thread to wake (seconds at the end of an epoch: `models.input_pipeline.language_model_dataset`)."""
    streams = input_pipeline.language_model_streams([doc(*range(4, 12))], batch_size=2, bptt=3)

    dataset = input_pipeline.language_model_dataset(streams, bptt=3)

    assert dataset.options().autotune.enabled is False
    assert int(dataset.cardinality()) == 2  # known: Keras stops after two batches, never reading the end


def test_a_seed_shuffles_the_documents_reproducibly():
    documents = [doc(i + 4) for i in range(20)]

    one = input_pipeline.language_model_streams(documents, 4, 5, seed=1)[text.TOKEN_IDS]
    again = input_pipeline.language_model_streams(documents, 4, 5, seed=1)[text.TOKEN_IDS]
    other = input_pipeline.language_model_streams(documents, 4, 5, seed=2)[text.TOKEN_IDS]

    assert one.tolist() == again.tolist() != other.tolist()


class Units:
    """The one vocabulary the language model's recipe reads: its units."""

    def tokens(self, name):
        return [*text.RESERVED_TOKENS, "a", "b"]


class Manifest:
    """The one part of the shards the recipe reads: their manifest's splits."""

    def __init__(self, splits):
        self.splits = splits

    def manifest(self):
        return {"splits": self.splits}


def recipe(chosen_by_kind: tuple[str, ...], batch_size: int = 64) -> lm_train.LanguageModelRecipe:
    train = LanguageModelTrain(batch_size=batch_size, bptt=64)
    preprocess = PreprocessConfig(tokenizer="characters")
    params = TrainParameters("language_model", ModelConfig(), train, preprocess, chosen_by_kind)
    return lm_train.LanguageModelRecipe(params, Units())


def test_the_streams_are_halved_until_an_epoch_has_enough_updates():
    windows = 64 * 64  # units in one update of 64 streams
    # N units are N - 1 targets: 499 full updates and one more target make 500 updates.
    assert lm_train.updates_per_epoch(2 + 499 * windows, 64, 64) == 500
    assert lm_train.streams_for(2 + 499 * windows, 64, 64) == 64  # enough already
    assert lm_train.streams_for(1 + 499 * windows, 64, 64) == 32  # one target short of 500 updates
    assert lm_train.streams_for(715_205, 64, 64) == 16  # one 0.7 MB file: 175 updates in 64, 699 in 16
    assert lm_train.streams_for(1_000, 64, 64) == lm_train.MIN_STREAMS  # a tiny corpus: the floor


def test_a_small_corpus_trains_in_fewer_streams_only_when_the_kind_chose_the_batch_size():
    shards = Manifest({"train": {"records": 1, "tokens": 715_205}})

    chosen = recipe(("batch_size",))
    [choice] = chosen.fit_to_corpus(shards)
    assert (choice.key, choice.value, chosen.streams) == ("train.streams", 16, 16)
    assert "175 updates an epoch; 16 make 699" in choice.reason
    assert chosen.build().inputs[0].shape[0] == 16

    given = recipe(())  # the config's own 64 streams are kept, whatever the corpus
    assert given.fit_to_corpus(shards) == [] and given.streams == 64
    large = recipe(("batch_size",))  # a corpus that fills 64 streams: nothing to say
    assert large.fit_to_corpus(Manifest({"train": {"records": 1, "tokens": 5_000_000}})) == [] and large.streams == 64


# ----------------------------------------------------------------------------------------------
# The model

CONFIG = ModelConfig(cell="gru", layers=1, bidirectional=False, embedding_dim=8, hidden_dim=16, dropout=0.0)
SIZES = LanguageModelSizes(units=10)


def inputs(ids: list[list[int]], resets: list[list[float]] | None = None) -> dict:
    resets = resets if resets is not None else [[0.0] * len(row) for row in ids]
    return {text.TOKEN_IDS: tf.constant(ids, tf.int32), RESETS: tf.constant(resets, tf.float32)}


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_a_reset_flag_starts_from_a_zero_state(cell):
    keras.utils.set_random_seed(0)
    config = ModelConfig(cell=cell, layers=2, bidirectional=False, embedding_dim=8, hidden_dim=16, dropout=0.0)
    model = build_language_model(SIZES, config)

    fresh = model(inputs([[S, 5, 6]]))
    after_other_text = model(inputs([[7, 8, 9, S, 5, 6]], [[0, 0, 0, 1, 0, 0]]))[:, 3:]

    np.testing.assert_allclose(after_other_text.numpy(), fresh.numpy(), atol=1e-6)


def test_a_stateful_model_carries_the_state_from_one_batch_to_the_next():
    keras.utils.set_random_seed(0)
    stateful = build_language_model(SIZES, CONFIG, batch_size=1, stateful=True)
    whole = stateless_copy(stateful, SIZES, CONFIG)

    first = stateful(inputs([[S, 5, 6]]))
    second = stateful(inputs([[7, 8]]))
    reset_states(stateful)
    restarted = stateful(inputs([[S, 5, 6]]))

    expected = whole(inputs([[S, 5, 6, 7, 8]])).numpy()
    np.testing.assert_allclose(np.concatenate([first, second], axis=1), expected, atol=1e-5)
    np.testing.assert_allclose(restarted.numpy(), expected[:, :3], atol=1e-6)


def test_score_is_the_sum_of_the_keras_models_per_step_log_probabilities():
    keras.utils.set_random_seed(1)
    model = build_language_model(SIZES, CONFIG)
    rows = [[S, 5, 6, 7, 8, 4], [S, 9, 4, 0, 0, 0]]

    scores = Generator(model).score(tf.constant(rows), tf.constant([6, 3]))

    assert scores.numpy() == pytest.approx([log_probs_of(model, rows[0]), log_probs_of(model, rows[1][:3])], abs=1e-4)


def test_greedy_generation_is_deterministic_and_follows_the_argmax():
    keras.utils.set_random_seed(2)
    model = build_language_model(SIZES, CONFIG)
    generator = Generator(model)
    prompt = tf.constant([[S, 5, 6]])

    once = generator.generate(prompt, tf.constant([3]), tf.constant(6), tf.constant(0.0)).numpy()[0].tolist()
    again = generator.generate(prompt, tf.constant([3]), tf.constant(6), tf.constant(0.0)).numpy()[0].tolist()

    assert once == again
    sequence = [S, 5, 6]
    for _ in range(6):  # the Keras model's most likely next real unit, one step at a time
        logits = model(inputs([sequence]))[0, -1].numpy()
        logits[: len(text.RESERVED_TOKENS)] = -np.inf
        sequence.append(int(logits.argmax()))
    assert once == sequence[3:]


def test_prompts_of_different_lengths_continue_from_their_own_last_unit():
    keras.utils.set_random_seed(3)
    generator = Generator(build_language_model(SIZES, CONFIG))

    both = generator.generate(
        tf.constant([[S, 5, 6], [S, 7, 0]]), tf.constant([3, 2]), tf.constant(4), tf.constant(0.0)
    )
    alone = generator.generate(tf.constant([[S, 7]]), tf.constant([2]), tf.constant(4), tf.constant(0.0))

    assert both.numpy()[1].tolist() == alone.numpy()[0].tolist()


def test_sampling_never_generates_a_reserved_unit():
    keras.utils.set_random_seed(4)
    generator = Generator(build_language_model(SIZES, CONFIG))

    ids = generator.generate(tf.constant([[S]] * 8), tf.constant([1] * 8), tf.constant(50), tf.constant(5.0), seed=1)

    assert ids.numpy().min() >= len(text.RESERVED_TOKENS)


# ----------------------------------------------------------------------------------------------
# Truncated BPTT: what the carried state buys


def _memory_task(documents: int, seed: int) -> list[np.ndarray]:
    """Each document: a key unit (4 or 5), two filler units (6), the key again: the last unit is known
    only to a state that saw the key two steps before. Documents of five units laid end to end in windows
    of three steps fall at every offset, and put the key in the window before the last unit two times
    out of three."""
    keys = np.random.default_rng(seed).integers(4, 6, documents)
    return [doc(int(key), 6, 6, int(key)) for key in keys]


def _last_unit_accuracy(model: keras.Model, documents: list[np.ndarray], streams: int, bptt: int) -> float:
    data = input_pipeline.language_model_streams(documents, streams, bptt)
    reset_states(model)
    predicted = np.concatenate(
        [model(x, training=False).numpy().argmax(-1) for x, _, _ in input_pipeline.language_model_dataset(data, bptt)],
        axis=1,
    )
    # The last unit of a document: a target that is a key, at a position whose input is filler.
    last = (data[text.TOKEN_IDS] == 6) & np.isin(data["targets"], [4, 5])
    return float((predicted[last] == data["targets"][last]).mean())


@pytest.mark.parametrize("carried", [True, False])
def test_counting_across_window_boundaries_is_learned_only_with_the_state_carried(carried):
    keras.utils.set_random_seed(5)
    streams, bptt = 16, 3
    config = ModelConfig(cell="gru", layers=1, bidirectional=False, embedding_dim=8, hidden_dim=24, dropout=0.0)
    model = build_language_model(LanguageModelSizes(7), config, batch_size=streams, stateful=carried)
    compile_model(model, TrainConfig(learning_rate=0.02, clip_norm=5.0))
    train = input_pipeline.language_model_streams(_memory_task(400, seed=0), streams, bptt)
    dataset = input_pipeline.language_model_dataset(train, bptt)
    for _ in range(12):
        reset_states(model)
        model.fit(dataset, epochs=1, verbose=0, shuffle=False)

    accuracy = _last_unit_accuracy(model, _memory_task(320, seed=1), streams, bptt)

    # The gradient never crosses a window (truncated BPTT): the key is learned from the documents whose
    # key and last unit share a window, and the carried state then serves the others too. Without it,
    # two documents in three are a coin toss: about 1/3 + 2/3 * 1/2 = 0.67.
    if carried:
        assert accuracy >= 0.9
    else:
        assert accuracy <= 0.8


def test_stream_cross_entropy_of_a_uniform_model_is_log_of_the_vocabulary():
    model = build_language_model(SIZES, CONFIG, batch_size=2, stateful=True)
    dense = model.get_layer("unit_logits")
    dense.set_weights([np.zeros_like(w) for w in dense.get_weights()])  # every unit equally likely
    data = input_pipeline.language_model_streams([doc(5, 6, 7), doc(8, 9)], 2, 2)

    nats = stream_cross_entropy(model, input_pipeline.language_model_dataset(data, 2))

    assert nats == pytest.approx(math.log(SIZES.units), rel=1e-5)
