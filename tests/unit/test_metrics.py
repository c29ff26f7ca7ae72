"""Unit tests of kinds.tagger.metrics, against numbers worked out by hand."""

import dataclasses
import math

import numpy as np
import pytest

from kinds.base.metrics import confusion_matrix
from kinds.tagger.metrics import (
    Chunk,
    EntityScores,
    MostFrequentTagBaseline,
    TagScore,
    entity_chunks,
    entity_scores,
    is_bio_tagset,
    masked_token_accuracy,
    per_tag_scores,
    token_accuracy,
)

# A small POS example used by several tests (8 tokens, 2 errors):
#   sentence 0: gold DET NOUN VERB DET NOUN   pred DET NOUN NOUN DET ADJ
#   sentence 1: gold NOUN VERB ADJ            pred NOUN VERB ADJ
POS_GOLD = [["DET", "NOUN", "VERB", "DET", "NOUN"], ["NOUN", "VERB", "ADJ"]]
POS_PRED = [["DET", "NOUN", "NOUN", "DET", "ADJ"], ["NOUN", "VERB", "ADJ"]]


def assert_score(score: TagScore, *, precision: float, recall: float, f1: float, support: int) -> None:
    """Compares a TagScore with exact support and floating-point tolerant rates."""
    assert dataclasses.astuple(score) == pytest.approx((precision, recall, f1, support))
    assert score.support == support


# --------------------------------------------------------------------------- accuracy


def test_token_accuracy_counts_matching_tokens_over_all_sentences():
    gold = [["B-PER", "I-PER", "O", "O"], ["O", "B-LOC", "O", "O", "O"]]
    pred = [["B-PER", "O", "O", "O"], ["O", "B-ORG", "O", "O", "O"]]
    # 9 tokens, 2 wrong (I-PER -> O, B-LOC -> B-ORG): 7/9.
    assert token_accuracy(gold, pred) == pytest.approx(7 / 9)


def test_token_accuracy_of_pos_example():
    assert token_accuracy(POS_GOLD, POS_PRED) == pytest.approx(6 / 8)


def test_token_accuracy_of_empty_corpus_is_nan():
    assert math.isnan(token_accuracy([], []))
    assert math.isnan(token_accuracy([[]], [[]]))


def test_masked_token_accuracy_scores_only_selected_tokens():
    # Mask the VERB->NOUN error, the NOUN->ADJ error and two correct tokens: 2 of 4 right.
    mask = [[False, False, True, True, True], [True, False, False]]
    assert masked_token_accuracy(POS_GOLD, POS_PRED, mask) == pytest.approx(2 / 4)


def test_masked_token_accuracy_accepts_numpy_bool_masks():
    mask = [np.array([True, True, False, False, False]), np.array([False, False, False])]
    assert masked_token_accuracy(POS_GOLD, POS_PRED, mask) == 1.0


def test_masked_token_accuracy_is_nan_when_mask_selects_nothing():
    mask = [[False] * 5, [False] * 3]
    assert math.isnan(masked_token_accuracy(POS_GOLD, POS_PRED, mask))


def test_masked_token_accuracy_rejects_misaligned_mask():
    with pytest.raises(ValueError, match="sentence 1"):
        masked_token_accuracy(POS_GOLD, POS_PRED, [[True] * 5, [True] * 2])


# --------------------------------------------------------------------------- alignment errors


@pytest.mark.parametrize(
    "function",
    [token_accuracy, per_tag_scores, entity_scores, lambda g, p: confusion_matrix(g, p, ["O", "B-X"])],
)
def test_length_mismatch_names_the_sentence(function):
    gold = [["O", "O"], ["O", "B-X", "O"]]
    pred = [["O", "O"], ["O", "B-X"]]
    with pytest.raises(ValueError, match="sentence 1: gold has 3 tokens but pred has 2"):
        function(gold, pred)


def test_sentence_count_mismatch_is_an_error():
    with pytest.raises(ValueError, match="gold has 2 sentences but pred has 1"):
        token_accuracy([["O"], ["O"]], [["O"]])


def test_a_single_sentence_instead_of_a_corpus_is_rejected():
    # A flat list of tags would otherwise be scored character by character.
    with pytest.raises(TypeError, match="sentence 0 is a str"):
        token_accuracy(["O", "B-PER"], ["O", "B-PER"])


# --------------------------------------------------------------------------- per-tag scores


def test_per_tag_scores_of_pos_example():
    # Counts:      gold  pred  correct
    #   ADJ          1     2      1     P = 1/2  R = 1/1  F1 = 2*(1/2)*1/(1/2+1) = 2/3
    #   DET          2     2      2     P = 2/2  R = 2/2  F1 = 1
    #   NOUN         3     3      2     P = 2/3  R = 2/3  F1 = 2/3
    #   VERB         2     1      1     P = 1/1  R = 1/2  F1 = 2*1*(1/2)/(1+1/2) = 2/3
    scores = per_tag_scores(POS_GOLD, POS_PRED)
    assert list(scores) == ["ADJ", "DET", "NOUN", "VERB"]
    assert_score(scores["ADJ"], precision=0.5, recall=1.0, f1=2 / 3, support=1)
    assert scores["DET"] == TagScore(precision=1.0, recall=1.0, f1=1.0, support=2)
    assert_score(scores["NOUN"], precision=2 / 3, recall=2 / 3, f1=2 / 3, support=3)
    assert_score(scores["VERB"], precision=1.0, recall=0.5, f1=2 / 3, support=2)


def test_per_tag_scores_define_zero_over_zero_as_zero():
    # A is never predicted (P = 0/0), B is never in gold (R = 0/0 and support 0).
    scores = per_tag_scores([["A"]], [["B"]])
    assert scores == {
        "A": TagScore(precision=0.0, recall=0.0, f1=0.0, support=1),
        "B": TagScore(precision=0.0, recall=0.0, f1=0.0, support=0),
    }


def test_tag_score_is_frozen():
    score = TagScore(precision=1.0, recall=1.0, f1=1.0, support=1)
    with pytest.raises(AttributeError):
        score.f1 = 0.0  # type: ignore[misc]


# --------------------------------------------------------------------------- confusion matrix


def test_confusion_matrix_of_pos_example():
    # Pairs (gold -> pred): DET->DET x2, NOUN->NOUN x2, NOUN->ADJ, VERB->NOUN, VERB->VERB, ADJ->ADJ.
    matrix = confusion_matrix(POS_GOLD, POS_PRED, ["ADJ", "DET", "NOUN", "VERB"])
    expected = np.array(
        [
            [1, 0, 0, 0],  # gold ADJ
            [0, 2, 0, 0],  # gold DET
            [1, 0, 2, 0],  # gold NOUN
            [0, 0, 1, 1],  # gold VERB
        ]
    )
    assert matrix.dtype == np.int64
    np.testing.assert_array_equal(matrix, expected)


def test_confusion_matrix_follows_label_order_and_keeps_unused_labels():
    matrix = confusion_matrix([["A", "B"]], [["B", "B"]], ["B", "A", "C"])
    np.testing.assert_array_equal(matrix, [[1, 0, 0], [1, 0, 0], [0, 0, 0]])


def test_confusion_matrix_rejects_tags_missing_from_labels():
    with pytest.raises(ValueError, match="sentence 1: tag 'ADV' is not in labels"):
        confusion_matrix([["A"], ["A"]], [["A"], ["ADV"]], ["A"])


def test_confusion_matrix_rejects_duplicate_labels():
    with pytest.raises(ValueError, match="unique"):
        confusion_matrix([["A"]], [["A"]], ["A", "A"])


def test_confusion_matrix_of_empty_corpus_is_zero():
    np.testing.assert_array_equal(confusion_matrix([], [], ["A", "B"]), np.zeros((2, 2), dtype=np.int64))


# --------------------------------------------------------------------------- tag set detection


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        (["O", "B-PER", "I-PER", "B-LOC"], True),
        (["I-ORG", "O"], True),  # IOB1 may have no B- tag at all
        (["O"], False),  # nothing to chunk
        ([], False),
        (["NOUN", "VERB"], False),  # POS tags
        (["O", "B-PER", "E-PER"], False),  # IOE/IOBES are not accepted
        (["O", "S-PER"], False),
        (["O", "B-"], False),  # no type
    ],
)
def test_is_bio_tagset(tags, expected):
    assert is_bio_tagset(tags) is expected


def test_is_bio_tagset_accepts_a_generator():
    assert is_bio_tagset(tag for tag in ("O", "B-X"))


# --------------------------------------------------------------------------- chunking (conlleval)


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        (["B-PER", "I-PER", "O", "B-LOC"], [Chunk("PER", 0, 2), Chunk("LOC", 3, 4)]),
        # IOB1: I- at the sentence start or after O starts a chunk.
        (["I-ORG", "I-ORG", "O"], [Chunk("ORG", 0, 2)]),
        (["O", "I-ORG"], [Chunk("ORG", 1, 2)]),
        # B- after B-/I- of the same type starts a new chunk.
        (["B-PER", "B-PER"], [Chunk("PER", 0, 1), Chunk("PER", 1, 2)]),
        (["B-PER", "I-PER", "B-PER"], [Chunk("PER", 0, 2), Chunk("PER", 2, 3)]),
        # A type change starts a new chunk even on an I- tag.
        (["I-PER", "I-LOC"], [Chunk("PER", 0, 1), Chunk("LOC", 1, 2)]),
        (["B-PER", "I-LOC", "I-LOC"], [Chunk("PER", 0, 1), Chunk("LOC", 1, 3)]),
        # A chunk still open at the sentence end is closed there.
        (["O", "O", "B-MISC", "I-MISC"], [Chunk("MISC", 2, 4)]),
        # Types are split at the first hyphen only.
        (["B-NP-X", "I-NP-X"], [Chunk("NP-X", 0, 2)]),
        (["O", "O"], []),
        ([], []),
    ],
)
def test_entity_chunks_follow_conlleval(tags, expected):
    assert entity_chunks(tags) == expected


def test_entity_chunks_keep_conlleval_ioe_rules():
    # conlleval also reads IOE: E- ends a chunk, I- after E- starts a new one.
    assert entity_chunks(["I-NP", "E-NP", "I-NP", "E-NP", "O"]) == [Chunk("NP", 0, 2), Chunk("NP", 2, 4)]


def test_entity_chunks_rejects_a_string():
    with pytest.raises(TypeError):
        entity_chunks("B-PER")


# --------------------------------------------------------------------------- entity scores


def test_entity_scores_wrong_boundary_and_wrong_type_count_as_errors():
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "I-ORG", "O"]]
    pred = [["B-PER", "O", "O", "B-ORG"], ["B-ORG", "I-ORG", "B-MISC"]]
    # Gold chunks: PER[0:2], LOC[3:4] | ORG[0:2]                    -> 3
    # Pred chunks: PER[0:1] (wrong boundary), ORG[3:4] (wrong type)
    #              | ORG[0:2] (correct), MISC[2:3] (spurious)         -> 4, 1 correct
    # P = 1/4, R = 1/3, F1 = 2*(1/4)*(1/3) / (1/4 + 1/3) = (1/6) / (7/12) = 2/7.
    scores = entity_scores(gold, pred)
    assert (scores.num_gold, scores.num_pred, scores.num_correct) == (3, 4, 1)
    assert scores.precision == pytest.approx(1 / 4)
    assert scores.recall == pytest.approx(1 / 3)
    assert scores.f1 == pytest.approx(2 / 7)
    # Per type (gold, pred, correct): LOC (1,0,0); MISC (0,1,0); ORG (1,2,1); PER (1,1,0).
    assert list(scores.per_type) == ["LOC", "MISC", "ORG", "PER"]
    assert scores.per_type["LOC"] == TagScore(precision=0.0, recall=0.0, f1=0.0, support=1)
    assert scores.per_type["MISC"] == TagScore(precision=0.0, recall=0.0, f1=0.0, support=0)
    assert_score(scores.per_type["ORG"], precision=0.5, recall=1.0, f1=2 / 3, support=1)
    assert scores.per_type["PER"] == TagScore(precision=0.0, recall=0.0, f1=0.0, support=1)


def test_entity_scores_one_of_two_gold_entities_found_among_three_predictions():
    gold = [["B-PER", "I-PER", "O", "B-LOC", "O"]]
    pred = [["B-PER", "I-PER", "O", "B-ORG", "B-LOC"]]
    # Gold: PER[0:2], LOC[3:4]. Pred: PER[0:2] (correct), ORG[3:4] (wrong type), LOC[4:5] (wrong span).
    # P = 1/3, R = 1/2, F1 = 2*(1/3)*(1/2) / (1/3 + 1/2) = (1/3) / (5/6) = 2/5.
    scores = entity_scores(gold, pred)
    assert scores.precision == pytest.approx(1 / 3)
    assert scores.recall == pytest.approx(1 / 2)
    assert scores.f1 == pytest.approx(2 / 5)


def test_entity_scores_do_not_match_chunks_across_sentences():
    # The same span in different sentences is a different entity.
    scores = entity_scores([["B-PER"], ["O"]], [["O"], ["B-PER"]])
    assert (scores.num_gold, scores.num_pred, scores.num_correct) == (1, 1, 0)


def test_entity_scores_without_chunks_are_zero():
    scores = entity_scores([["O", "O"]], [["O", "O"]])
    assert scores == EntityScores(precision=0.0, recall=0.0, f1=0.0, num_gold=0, num_pred=0, num_correct=0, per_type={})


def test_perfect_prediction_scores_one():
    gold = [["I-ORG", "O", "B-PER", "B-PER", "I-PER"]]
    scores = entity_scores(gold, gold)
    assert (scores.precision, scores.recall, scores.f1) == (1.0, 1.0, 1.0)
    assert scores.num_correct == 3


# --------------------------------------------------------------------------- baseline


def test_baseline_predicts_each_words_most_frequent_tag():
    tokens = [["the", "run", "was", "long"], ["we", "run"], ["they", "run"], ["the", "end"]]
    tags = [["DET", "NOUN", "VERB", "ADJ"], ["PRON", "VERB"], ["PRON", "VERB"], ["DET", "NOUN"]]
    baseline = MostFrequentTagBaseline.fit(tokens, tags)
    # "run": VERB 2 vs NOUN 1.
    assert baseline.predict([["they", "run"]]) == [["PRON", "VERB"]]
    assert baseline.vocabulary == {"the", "run", "was", "long", "we", "they", "end"}


def test_baseline_breaks_ties_by_tag_string():
    # "saw" is NOUN once and VERB once: the tie goes to the alphabetically first tag.
    baseline = MostFrequentTagBaseline.fit([["saw"], ["saw"]], [["VERB"], ["NOUN"]])
    assert baseline.predict([["saw"]]) == [["NOUN"]]


def test_baseline_tags_unknown_words_with_overall_most_frequent_tag():
    # Overall: NOUN 2, DET 2, VERB 1 -> tie between NOUN and DET, DET wins alphabetically.
    tokens = [["the", "dog", "barks"], ["a", "cat"]]
    tags = [["DET", "NOUN", "VERB"], ["DET", "NOUN"]]
    baseline = MostFrequentTagBaseline.fit(tokens, tags)
    assert baseline.default_tag == "DET"
    assert baseline.predict([["a", "zebra"], []]) == [["DET", "DET"], []]


def test_baseline_matches_words_case_sensitively():
    baseline = MostFrequentTagBaseline.fit([["Apple", "x", "x"]], [["PROPN", "X", "X"]])
    assert baseline.predict([["apple", "Apple"]]) == [["X", "PROPN"]]


def test_baseline_rejects_misaligned_or_empty_training_data():
    with pytest.raises(ValueError, match="sentence 0: tokens has 2 tokens but tags has 1"):
        MostFrequentTagBaseline.fit([["a", "b"]], [["X"]])
    with pytest.raises(ValueError, match="without tokens"):
        MostFrequentTagBaseline.fit([[]], [[]])


def test_baseline_scales_linearly_to_a_large_corpus():
    # ~500k tokens must fit and predict quickly; a quadratic step would take minutes here.
    words = [f"w{i % 5000}" for i in range(500)]
    tokens = [words] * 1000
    tags = [["NOUN" if i % 3 else "VERB" for i in range(500)]] * 1000
    baseline = MostFrequentTagBaseline.fit(tokens, tags)
    assert len(baseline.vocabulary) == 500
    assert token_accuracy(tags, baseline.predict(tokens)) == 1.0
