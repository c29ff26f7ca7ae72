"""The linear-chain CRF: its forward algorithm and Viterbi against brute-force enumeration, its
constraints, its loss and its gradients, and a CRF tagger that learns, saves and loads."""

from __future__ import annotations

import itertools

import keras
import numpy as np
import pytest
import tensorflow as tf

from kinds.base.recipe import compile_model
from kinds.tagger.settings import TaggerModel
from models import crf
from models.tagger import TaggerSizes, build_tagger, tag_ids
from models.text import TOKEN_IDS
from pipeline.config import TrainConfig

TAGS = 3
LENGTHS = [4, 2, 1, 0]  # right-padded to 4; the last sentence is empty


@pytest.fixture(autouse=True)
def seed():
    keras.utils.set_random_seed(3)


def random_potentials(rng: np.random.Generator, batch: int = len(LENGTHS), time: int = 4) -> np.ndarray:
    """The potentials of a CRF layer with random transition and start scores over random emissions."""
    layer = crf.CRF()
    emissions = rng.normal(size=(batch, time, TAGS)).astype("float32")
    layer.build(emissions.shape)
    layer.transitions.assign(rng.normal(size=(TAGS, TAGS)))
    layer.start.assign(rng.normal(size=(TAGS,)))
    return layer(emissions).numpy()


def mask_of(lengths: list[int], time: int = 4) -> np.ndarray:
    return np.array([[t < length for t in range(time)] for length in lengths])


def path_score(potentials: np.ndarray, path: tuple[int, ...]) -> float:
    """start + emissions + transitions of one sentence's tag sequence, term by term."""
    return potentials[0, 0, path[0]] + sum(potentials[t, path[t - 1], path[t]] for t in range(1, len(path)))


def all_paths(length: int):
    return itertools.product(range(TAGS), repeat=length)


def test_the_potentials_are_start_then_transition_scores_plus_emissions():
    rng = np.random.default_rng(9)
    layer = crf.CRF()
    emissions = rng.normal(size=(2, 3, TAGS)).astype("float32")
    layer.build(emissions.shape)
    transitions, start = rng.normal(size=(TAGS, TAGS)), rng.normal(size=TAGS)
    layer.transitions.assign(transitions)
    layer.start.assign(start)

    potentials = layer(emissions).numpy()

    assert potentials.shape == (2, 3, TAGS, TAGS)
    expected_first = np.broadcast_to(emissions[:, 0, None, :] + start, (2, TAGS, TAGS))
    np.testing.assert_allclose(potentials[:, 0], expected_first, rtol=1e-6)
    np.testing.assert_allclose(potentials[:, 1:], emissions[:, 1:, None, :] + transitions, rtol=1e-6)


def test_the_log_likelihood_is_the_path_score_minus_the_brute_force_log_partition():
    rng = np.random.default_rng(0)
    potentials = random_potentials(rng)
    tags = rng.integers(0, TAGS, size=(len(LENGTHS), 4))

    likelihood = crf.log_likelihood(potentials, tags, mask_of(LENGTHS)).numpy()

    for b, length in enumerate(LENGTHS[:-1]):
        log_partition = np.logaddexp.reduce([path_score(potentials[b], p) for p in all_paths(length)])
        gold = path_score(potentials[b], tuple(tags[b, :length]))
        assert likelihood[b] == pytest.approx(gold - log_partition, abs=1e-4)
    assert likelihood[-1] == 0.0  # an empty sentence has no tags to score


def test_viterbi_finds_the_brute_force_best_path():
    rng = np.random.default_rng(1)
    for _ in range(5):
        potentials = random_potentials(rng)
        paths = crf.viterbi(potentials, mask_of(LENGTHS)).numpy()
        for b, length in enumerate(LENGTHS[:-1]):
            best = max(all_paths(length), key=lambda p: path_score(potentials[b], p))
            assert tuple(paths[b, :length]) == best


def test_constrained_viterbi_finds_the_best_allowed_path():
    rng = np.random.default_rng(2)
    allowed_start = [True, False, True]
    allowed = [[True, True, False], [False, True, True], [True, False, True]]
    for _ in range(5):
        potentials = random_potentials(rng)
        paths = crf.viterbi(potentials, mask_of(LENGTHS), allowed_start, allowed).numpy()
        for b, length in enumerate(LENGTHS[:-1]):
            valid = [
                p
                for p in all_paths(length)
                if allowed_start[p[0]] and all(allowed[i][j] for i, j in itertools.pairwise(p))
            ]
            best = max(valid, key=lambda p: path_score(potentials[b], p))
            assert tuple(paths[b, :length]) == best


def test_viterbi_decodes_one_token_sentences():
    potentials = random_potentials(np.random.default_rng(3), batch=2, time=1)

    paths = crf.viterbi(potentials, np.ones((2, 1), bool)).numpy()

    assert paths.tolist() == [[int(np.argmax(potentials[b, 0, 0]))] for b in range(2)]


def test_bio_constraints_forbid_what_iob2_forbids_and_every_reserved_tag():
    tags = ["[PAD]", "[UNK]", "O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
    allowed_start, allowed = crf.tag_constraints(tags, reserved=2, bio=True)

    def may(previous, tag):
        return allowed[tags.index(previous)][tags.index(tag)]

    assert [t for t, a in zip(tags, allowed_start, strict=True) if a] == ["O", "B-PER", "B-LOC"]
    assert may("B-PER", "I-PER") and may("I-PER", "I-PER") and may("O", "B-LOC") and may("I-LOC", "O")
    assert not may("O", "I-PER") and not may("B-LOC", "I-PER") and not may("I-LOC", "I-PER")
    assert not may("O", "[UNK]") and not may("[PAD]", "O")


def test_without_bio_only_the_reserved_tags_are_forbidden():
    tags = ["[PAD]", "[UNK]", "NOUN", "I-VERB"]
    allowed_start, allowed = crf.tag_constraints(tags, reserved=2, bio=False)

    assert allowed_start == [False, False, True, True]
    assert allowed[2] == [False, False, True, True] and allowed[0] == [False] * 4


def test_iob2_gold_tags_break_no_constraint_and_iob1_tags_do():
    iob2 = [["B-PER", "I-PER", "O", "B-LOC"], ["O", "B-ORG", "B-ORG", "I-ORG"]]
    iob1 = [["I-PER", "I-PER", "O", "I-LOC"], ["O", "I-ORG", "B-ORG"]]

    assert crf.bio_violations(iob2) == (0, None)
    assert crf.bio_violations(iob1) == (3, "O -> I-PER")


def test_the_loss_is_the_negative_log_likelihood_per_real_token():
    rng = np.random.default_rng(4)
    potentials = random_potentials(rng)
    tags = rng.integers(1, TAGS, size=(len(LENGTHS), 4)) * mask_of(LENGTHS)  # id 0 on padding
    weights = mask_of(LENGTHS).astype("float32")

    loss = float(crf.CRFLoss()(tags, potentials, sample_weight=weights))

    likelihood = crf.log_likelihood(potentials, tags, tags != 0).numpy()
    assert loss == pytest.approx(-likelihood.sum() / sum(LENGTHS), rel=1e-5)


def test_gradients_are_finite_on_a_padded_batch_with_an_empty_sentence():
    rng = np.random.default_rng(5)
    layer = crf.CRF()
    emissions = tf.Variable(rng.normal(size=(len(LENGTHS), 4, TAGS)).astype("float32"))
    tags = rng.integers(1, TAGS, size=(len(LENGTHS), 4)) * mask_of(LENGTHS)

    with tf.GradientTape() as tape:
        loss = crf.CRFLoss()(tags, layer(emissions), sample_weight=mask_of(LENGTHS).astype("float32"))
    gradients = tape.gradient(loss, [emissions, layer.transitions, layer.start])

    assert all(np.isfinite(g.numpy()).all() for g in gradients)
    assert not np.any(gradients[0].numpy()[~mask_of(LENGTHS)])  # padding does not reach the loss


def crf_tagger(constraints=None) -> keras.Model:
    config = TaggerModel(embedding_dim=8, hidden_dim=8, char_features=False, dropout=0.0, output="crf")
    return build_tagger(TaggerSizes(words=12, chars=1, tags=5), config, constraints)


def alternating_batch(rng: np.random.Generator, batch: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """Sentences whose tags alternate 2, 3, 2, ... whatever the words: only transitions can tell them."""
    lengths = rng.integers(2, 7, size=batch)
    words = rng.integers(1, 12, size=(batch, 6)) * mask_of(list(lengths), 6)
    tags = (2 + np.arange(6) % 2)[None, :] * mask_of(list(lengths), 6)
    return words.astype("int32"), tags.astype("int32")


def test_a_crf_tagger_learns_tags_that_only_their_neighbours_predict(tmp_path):
    rng = np.random.default_rng(6)
    model = crf_tagger()
    compile_model(model, TrainConfig(learning_rate=0.05), loss=crf.CRFLoss(), accuracy=crf.ViterbiAccuracy())
    words, tags = alternating_batch(rng, batch=256)

    history = model.fit({TOKEN_IDS: words}, tags, sample_weight=(tags > 0).astype("float32"), epochs=20, verbose=0)

    assert history.history["accuracy"][-1] == 1.0
    predicted = tag_ids(model, {TOKEN_IDS: tf.constant(words)}).numpy()
    assert (predicted[tags > 0] == tags[tags > 0]).all()


def test_a_saved_crf_tagger_loads_back_with_its_constraints_and_decodes_the_same(tmp_path):
    tags = ["[PAD]", "[UNK]", "O", "B-X", "I-X"]
    constraints = crf.tag_constraints(tags, reserved=2, bio=True)
    model = crf_tagger(constraints)
    compile_model(model, TrainConfig(), loss=crf.CRFLoss(), accuracy=crf.ViterbiAccuracy())
    model.get_layer("crf").transitions.assign(np.random.default_rng(7).normal(size=(5, 5)) * 5)
    words, _ = alternating_batch(np.random.default_rng(8))
    model.save(tmp_path / "model.keras")

    loaded = keras.saving.load_model(tmp_path / "model.keras")

    assert loaded.get_layer("crf").allowed == constraints[1]
    before = tag_ids(model, {TOKEN_IDS: tf.constant(words)}).numpy()
    after = tag_ids(loaded, {TOKEN_IDS: tf.constant(words)}).numpy()
    np.testing.assert_array_equal(before, after)
    real = words > 0
    assert (before[real] >= 2).all()  # never a reserved tag
    pairs = [pair for row, r in zip(before, real, strict=True) for pair in itertools.pairwise(row[r])]
    assert 4 not in before[:, 0] and all(b != 4 or a in (3, 4) for a, b in pairs)  # never I-X first, or after O
