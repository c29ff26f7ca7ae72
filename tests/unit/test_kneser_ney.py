"""Unit tests of kinds.language_model.kneser_ney, against numbers worked out by hand."""

import math
import random

import pytest
from sklearn.exceptions import NotFittedError

from kinds.language_model.kneser_ney import BOS, KneserNeyLM, ney_discount

# The tiny corpus of the hand-worked examples, order 3, fixed discount D = 0.75. "s" is BOS below.
#
# Padded documents "s s a b a b" and "s s a b b a"; one trigram per real unit:
#   order 3 (raw counts):   ssa 2, sab 2, aba 1, bab 1, abb 1, bba 1
#   order 2 (continuation): sa 2 (starts with BOS: raw count), ab 2 (after s, b; its raw count is 3),
#                           ba 2 (after a, b), bb 1 (after a)
#   order 1 (continuation): a 2 (after s, b), b 2 (after a, b)
# Vocabulary {a, b} plus the unknown unit: uniform p0 = 1/3.
#
# Histories: c(h .) total, N1+(h .) distinct followers, lambda(h) = D * N1+(h .) / c(h .)
#   order 1:  ()  4, 2 -> lambda 0.375
#   order 2:  s   2, 1 -> 0.375;   a  2, 1 -> 0.375;   b  3, 2 -> 0.5
#   order 3:  ss  2, 1 -> 0.375;   sa 2, 1 -> 0.375;   ab 2, 2 -> 0.75;   ba 1, 1 -> 0.75;   bb 1, 1 -> 0.75
#
# p1(a) = p1(b) = (2 - 0.75) / 4 + 0.375 / 3 = 0.3125 + 0.125 = 0.4375;   p1(unk) = 0.125
# p2(a | b) = (2 - 0.75) / 3 + 0.5 * 0.4375 = 5/12 + 0.21875 = 61/96
# p2(b | b) = (1 - 0.75) / 3 + 0.5 * 0.4375 = 1/12 + 0.21875 = 29/96
# p2(unk | b) = 0.5 * 0.125 = 0.0625                              (61 + 29 + 6) / 96 = 1
# p2(a | a) = 0 + 0.375 * 0.4375 = 0.1640625                       (ab is the only bigram after a)
# p2(b | a) = (2 - 0.75) / 2 + 0.375 * 0.4375 = 0.625 + 0.1640625 = 0.7890625
# p2(a | s) = (2 - 0.75) / 2 + 0.375 * 0.4375 = 0.7890625;        p2(b | s) = 0.375 * 0.4375 = 0.1640625
# p3(a | ab) = (1 - 0.75) / 2 + 0.75 * 61/96 = 0.125 + 0.4765625 = 0.6015625
# p3(b | ab) = (1 - 0.75) / 2 + 0.75 * 29/96 = 0.125 + 0.2265625 = 0.3515625
# p3(unk | ab) = 0.75 * 0.0625 = 0.046875                          0.6015625 + 0.3515625 + 0.046875 = 1
# p3(a | ss) = (2 - 0.75) / 2 + 0.375 * p2(a | s) = 0.625 + 0.2958984375 = 0.9208984375
# p3(b | sa) = (2 - 0.75) / 2 + 0.375 * p2(b | a) = 0.9208984375
# p3(b | ss) = 0 + 0.375 * p2(b | s) = 0.0615234375
# p3(a | sb) = p2(a | b) = 61/96                                   (history sb never seen: back off)
TINY = ["abab", "abba"]
UNK = "<not-a-training-unit>"


def tiny_model() -> KneserNeyLM:
    return KneserNeyLM(order=3, discount=0.75).fit(TINY)


def prob(model: KneserNeyLM, context, unit: str) -> float:
    return math.exp(model.log_prob(context, unit))


def markov_text(length: int, rng: random.Random) -> str:
    """A sample of MARKOV, a first-order chain over "abc" whose entropy rate is MARKOV_ENTROPY."""
    state, units = rng.choice("abc"), []
    for _ in range(length):
        state = rng.choices("abc", MARKOV[state])[0]
        units.append(state)
    return "".join(units)


MARKOV = {"a": [0.1, 0.8, 0.1], "b": [0.2, 0.1, 0.7], "c": [0.6, 0.3, 0.1]}


def markov_entropy_rate() -> float:
    """sum_i pi_i H(row_i) in bits, pi the stationary distribution (by power iteration)."""
    pi = [1 / 3] * 3
    for _ in range(200):
        pi = [sum(pi[i] * MARKOV[src][j] for i, src in enumerate("abc")) for j in range(3)]
    return sum(pi[i] * -sum(p * math.log2(p) for p in MARKOV[src]) for i, src in enumerate("abc"))


# --------------------------------------------------------------------------- hand-worked numbers


def test_counts_discount_and_interpolation_by_hand():
    model = tiny_model()
    assert model.vocabulary == {"a", "b"}
    assert model.discounts == {1: 0.75, 2: 0.75, 3: 0.75}
    assert prob(model, "ab", "a") == pytest.approx(0.6015625)
    assert prob(model, "ab", "b") == pytest.approx(0.3515625)
    assert prob(model, "ab", UNK) == pytest.approx(0.046875)
    assert prob(model, "b", "a") == pytest.approx(61 / 96)  # a one-unit history uses orders 1 and 2
    assert prob(model, "a", "a") == pytest.approx(0.1640625)
    assert prob(model, "", "a") == pytest.approx(0.4375)  # the empty history is the order-1 distribution
    assert prob(model, "", UNK) == pytest.approx(0.125)


def test_document_start_is_predicted_from_bos_context():
    model = tiny_model()
    assert prob(model, [BOS, BOS], "a") == pytest.approx(0.9208984375)
    assert prob(model, [BOS, "a"], "b") == pytest.approx(0.9208984375)
    assert prob(model, [BOS, BOS], "b") == pytest.approx(0.0615234375)
    # BOS-initial bigram "s a" keeps its raw count 2 at order 2: p2(a | s) = 0.7890625.
    assert prob(model, [BOS], "a") == pytest.approx(0.7890625)


def test_only_the_last_order_minus_one_units_of_the_context_count():
    model = tiny_model()
    assert model.log_prob("bbbab", "a") == model.log_prob("ab", "a")
    assert model.log_prob(["a", "b"], "a") == model.log_prob("ab", "a")


def test_unseen_history_backs_off_to_the_lower_order():
    model = tiny_model()
    # History (q, a) was never seen (q is not even a training unit): p3 = p2(. | a).
    assert model.log_prob(["q", "a"], "b") == model.log_prob(["a"], "b")
    assert prob(model, ["q", "a"], "b") == pytest.approx(0.7890625)
    assert prob(model, [BOS, "b"], "a") == pytest.approx(61 / 96)


def test_order_one_is_a_discounted_unigram_interpolated_with_uniform():
    # Order 1, D = 0.5, "aab": counts a 2, b 1; total 3, 2 types -> lambda = 0.5 * 2 / 3 = 1/3.
    # Uniform over {a, b, unk} = 1/3: p(a) = 1.5/3 + 1/9, p(b) = 0.5/3 + 1/9, p(unk) = 1/9.
    model = KneserNeyLM(order=1, discount=0.5).fit(["aab"])
    assert prob(model, "", "a") == pytest.approx(1 / 2 + 1 / 9)
    assert prob(model, "", "b") == pytest.approx(1 / 6 + 1 / 9)
    assert prob(model, "", UNK) == pytest.approx(1 / 9)
    assert model.log_prob("bbbb", "a") == model.log_prob("", "a")  # the context is ignored


def test_ney_discounts_from_the_training_counts():
    # Tiny corpus: order-3 counts 2, 2, 1, 1, 1, 1 -> n1 4, n2 2 -> 4 / (4 + 4) = 0.5;
    # order-2 adjusted counts 2, 2, 2, 1 -> n1 1, n2 3 -> 1 / 7; order 1: 2, 2 -> no n1, fallback 0.5.
    model = KneserNeyLM(order=3).fit(TINY)
    assert model.discounts == pytest.approx({3: 0.5, 2: 1 / 7, 1: 0.5})


def test_ney_discount_formula():
    assert ney_discount([1, 1, 1, 2, 3, 7]) == pytest.approx(3 / 5)  # n1 3, n2 1
    assert ney_discount([1, 1, 3]) == 1.0  # no n2: D = 1
    assert ney_discount([2, 2, 5]) == 0.5  # no n1: fallback
    assert ney_discount([]) == 0.5


# --------------------------------------------------------------------------- distribution


def all_histories(documents: list[str], order: int) -> set[tuple[str, ...]]:
    """Every history of 0 .. order-1 units seen in the padded training documents."""
    histories = set()
    for document in documents:
        padded = [BOS] * (order - 1) + list(document)
        for end in range(order - 1, len(padded)):
            for length in range(order):
                histories.add(tuple(padded[end - length : end]))
    return histories


@pytest.mark.parametrize("order", [1, 2, 3, 5, 7])
@pytest.mark.parametrize("discount", [None, 0.75, 1.0])
def test_probabilities_sum_to_one_over_vocabulary_and_unknown(order, discount):
    documents = ["the cat sat on the mat.", "a cat ate the rat", "that hat", "tt"]
    model = KneserNeyLM(order=order, discount=discount).fit(documents)
    units = sorted(model.vocabulary) + [UNK]
    unseen = [(), ("z",), ("q", "q", "q"), ("m", "a", "t", "e", "s", "x"), (BOS, "h"), ("t", "h", "a", "z")]
    histories = all_histories(documents, order) | set(unseen)
    assert len(histories) > (10 if order > 1 else 5)
    for history in histories:
        total = math.fsum(math.exp(model.log_prob(history, unit)) for unit in units)
        assert total == pytest.approx(1.0, abs=1e-12), history


def test_unseen_unit_gets_finite_small_probability():
    model = KneserNeyLM(order=5).fit(["abracadabra", "cadabra"])
    log_unk = model.log_prob("abra", "z")
    assert math.isfinite(log_unk)
    assert log_unk < model.log_prob("abra", "c") < 0
    # Every unknown unit shares the unknown unit's probability.
    assert model.log_prob("abra", "y") == log_unk


# --------------------------------------------------------------------------- score


def test_score_and_bits_per_unit_by_hand():
    model = tiny_model()
    # "ab": p(a | s s) p(b | s a) = 0.9208984375^2;  "ba": p(b | s s) p(a | s b) = 0.0615234375 * 61/96.
    expected = 2 * math.log(0.9208984375) + math.log(0.0615234375) + math.log(61 / 96)
    total, units = model.score(["ab", "ba"])
    assert units == 4
    assert total == pytest.approx(expected)
    assert model.bits_per_unit(["ab", "ba"]) == pytest.approx(-expected / 4 / math.log(2))


def test_score_of_nothing():
    model = tiny_model()
    assert model.score([]) == (0.0, 0)
    assert model.score(["", ""]) == (0.0, 0)
    assert math.isnan(model.bits_per_unit([]))


def test_fit_and_score_accept_generators_and_token_units():
    documents = [["the", "cat", "sat"], ["the", "dog", "sat"]]
    model = KneserNeyLM(order=2, discount=0.5).fit(iter(documents))
    assert model.vocabulary == {"the", "cat", "dog", "sat"}
    assert model.score(document for document in documents) == model.score(documents)
    assert model.score(documents)[1] == 6


def test_higher_order_beats_unigram_on_markov_text_and_nears_entropy_rate():
    rng = random.Random(0)
    train = [markov_text(2_000, rng) for _ in range(15)]
    held_out = [markov_text(2_000, rng) for _ in range(5)]
    # Entropy rate about 1.131 bits; the unigram can only reach the stationary distribution's ~1.579 bits.
    entropy_rate = markov_entropy_rate()
    unigram = KneserNeyLM(order=1).fit(train).bits_per_unit(held_out)
    trigram = KneserNeyLM(order=3).fit(train).bits_per_unit(held_out)
    assert trigram < unigram - 0.3
    assert trigram == pytest.approx(entropy_rate, abs=0.05)


# --------------------------------------------------------------------------- errors


def test_constructor_rejects_bad_order_and_discount():
    for order in (0, -1, 2.0, True):
        with pytest.raises(ValueError, match="order"):
            KneserNeyLM(order=order)
    for discount in (0.0, -0.5, 1.5):
        with pytest.raises(ValueError, match="discount"):
            KneserNeyLM(discount=discount)


def test_fit_rejects_strings_reserved_unit_and_empty_corpus():
    with pytest.raises(TypeError, match="documents is a str"):
        KneserNeyLM().fit("abc")
    with pytest.raises(ValueError, match="document 1 contains the reserved start unit"):
        KneserNeyLM().fit([["a"], ["b", BOS]])
    with pytest.raises(ValueError, match="without units"):
        KneserNeyLM().fit(["", ""])


def test_queries_before_fit_raise():
    model = KneserNeyLM()
    with pytest.raises(NotFittedError):
        model.log_prob("ab", "a")
    with pytest.raises(NotFittedError):
        model.score(["ab"])


def test_score_rejects_strings_and_reserved_unit():
    model = tiny_model()
    with pytest.raises(TypeError, match="documents is a str"):
        model.score("ab")
    with pytest.raises(ValueError, match="reserved start unit"):
        model.score([["a", BOS]])
