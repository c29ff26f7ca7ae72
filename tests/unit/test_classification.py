"""Unit tests of kinds.classifier.metrics, against numbers worked out by hand."""

import math

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.metrics import f1_score

from kinds.base.plots import plot_confusion_matrix
from kinds.classifier.metrics import (
    MajorityClassBaseline,
    TfidfLogisticRegressionBaseline,
    classification_scores,
    label_confusion_matrix,
)

# A 3-class example used by several tests (8 sentences, 3 errors, "neu" never predicted):
#   item   0    1    2    3    4    5    6    7
#   gold  pos  pos  pos  neg  neg  neg  neu  neu
#   pred  pos  pos  pos  neg  pos  neg  pos  neg
LABELS = ["neg", "neu", "pos"]
GOLD = ["pos", "pos", "pos", "neg", "neg", "neg", "neu", "neu"]
PRED = ["pos", "pos", "pos", "neg", "pos", "neg", "pos", "neg"]

# 20 training sentences where good/great vs bad/awful decide the label; the other words are
# shared by both classes (apart from "a great" -> "an awful"). The first label is "pos", so
# sorted order differs from the order of appearance.
POSITIVE = [
    "the movie was good",
    "a great film",
    "the acting was great",
    "good story and good music",
    "the food was good",
    "what a great day",
    "the service was great",
    "a good book",
    "the ending was great",
    "good fun for the family",
]
NEGATIVE = [
    sentence.replace("good", "bad").replace("a great", "an awful").replace("great", "awful") for sentence in POSITIVE
]
TEXTS = [text for pair in zip(POSITIVE, NEGATIVE, strict=True) for text in pair]
TEXT_LABELS = ["pos", "neg"] * len(POSITIVE)


def assert_class(scores: dict, label: str, *, precision: float, recall: float, f1: float, support: int) -> None:
    """Compares one per-class entry with exact support and floating-point tolerant rates."""
    entry = scores["per_class"][label]
    assert set(entry) == {"precision", "recall", "f1", "support"}
    assert (entry["precision"], entry["recall"], entry["f1"]) == pytest.approx((precision, recall, f1))
    assert entry["support"] == support
    assert isinstance(entry["support"], int)


# --------------------------------------------------------------------------- classification_scores


def test_classification_scores_of_three_class_example():
    # Correct: items 0, 1, 2, 3, 5 -> accuracy 5/8.
    # Counts:   gold  pred  correct
    #   neg       3     3      2     P = 2/3  R = 2/3  F1 = 2/3
    #   neu       2     0      0     P = 0/0 -> 0  R = 0/2  F1 = 0   (never predicted)
    #   pos       3     5      3     P = 3/5  R = 3/3  F1 = 2*3 / (2*3 + 2 + 0) = 3/4
    # macro F1 = (2/3 + 0 + 3/4) / 3 = (8/12 + 9/12) / 3 = 17/36.
    scores = classification_scores(GOLD, PRED, LABELS)
    assert set(scores) == {"accuracy", "macro_f1", "per_class"}
    assert scores["accuracy"] == pytest.approx(5 / 8)
    assert scores["macro_f1"] == pytest.approx(17 / 36)
    assert list(scores["per_class"]) == LABELS
    assert_class(scores, "neg", precision=2 / 3, recall=2 / 3, f1=2 / 3, support=3)
    assert_class(scores, "neu", precision=0.0, recall=0.0, f1=0.0, support=2)
    assert_class(scores, "pos", precision=3 / 5, recall=1.0, f1=3 / 4, support=3)


def test_classification_scores_agree_with_sklearn_macro_f1():
    expected = f1_score(GOLD, PRED, labels=LABELS, average="macro", zero_division=0)
    assert classification_scores(GOLD, PRED, LABELS)["macro_f1"] == pytest.approx(expected)


def test_classification_scores_follow_label_order_and_count_absent_classes_in_macro_f1():
    # "x" is a training class absent from gold and predictions: F1 0 (sklearn, zero_division=0),
    # and it counts in the macro average: (1 + 1 + 0) / 3.
    scores = classification_scores(["b", "a"], ["b", "a"], ["x", "b", "a"])
    assert list(scores["per_class"]) == ["x", "b", "a"]
    assert scores["accuracy"] == 1.0
    assert scores["macro_f1"] == pytest.approx(2 / 3)
    assert_class(scores, "x", precision=0.0, recall=0.0, f1=0.0, support=0)


def test_classification_scores_with_labels_outside_the_training_classes():
    # Gold "z" is unseen in training: a miss for accuracy (1/2) but no per-class entry.
    # Class a: pred 2, correct 1, gold 1 -> P = 1/2, R = 1, F1 = 2/3; b: all 0 -> macro (2/3 + 0) / 2.
    scores = classification_scores(["a", "z"], ["a", "a"], ["a", "b"])
    assert scores["accuracy"] == pytest.approx(1 / 2)
    assert scores["macro_f1"] == pytest.approx(1 / 3)
    assert list(scores["per_class"]) == ["a", "b"]
    assert_class(scores, "a", precision=1 / 2, recall=1.0, f1=2 / 3, support=1)


def test_classification_scores_return_plain_python_numbers():
    scores = classification_scores(GOLD, PRED, LABELS)
    assert type(scores["accuracy"]) is float
    assert type(scores["macro_f1"]) is float
    assert all(type(entry["f1"]) is float for entry in scores["per_class"].values())


def test_classification_scores_of_empty_input_are_nan():
    scores = classification_scores([], [], ["a", "b"])
    assert math.isnan(scores["accuracy"])
    assert math.isnan(scores["macro_f1"])
    assert scores["per_class"] == {
        "a": {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0},
        "b": {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0},
    }


def test_classification_scores_reject_length_mismatch():
    with pytest.raises(ValueError, match="gold has 3 items but pred has 2"):
        classification_scores(["a", "a", "b"], ["a", "b"], ["a", "b"])


def test_classification_scores_reject_bad_labels_and_strings():
    with pytest.raises(ValueError, match="unique"):
        classification_scores(["a"], ["a"], ["a", "a"])
    with pytest.raises(ValueError, match="empty"):
        classification_scores(["a"], ["a"], [])
    with pytest.raises(TypeError, match="gold is a str"):
        classification_scores("ab", ["a", "b"], ["a", "b"])


# --------------------------------------------------------------------------- confusion matrix


def test_label_confusion_matrix_of_three_class_example():
    # Pairs (gold -> pred): pos->pos x3, neg->neg x2, neg->pos, neu->pos, neu->neg.
    matrix = label_confusion_matrix(GOLD, PRED, LABELS)
    expected = np.array(
        [
            [2, 0, 1],  # gold neg
            [1, 0, 1],  # gold neu
            [0, 0, 3],  # gold pos
        ]
    )
    assert matrix.dtype == np.int64
    np.testing.assert_array_equal(matrix, expected)


def test_label_confusion_matrix_checks_like_metrics_confusion_matrix():
    with pytest.raises(ValueError, match="sentence 1: tag 'z' is not in labels"):
        label_confusion_matrix(["a", "a"], ["a", "z"], ["a", "b"])
    with pytest.raises(ValueError, match="gold has 2 items but pred has 1"):
        label_confusion_matrix(["a", "a"], ["a"], ["a"])
    with pytest.raises(TypeError, match="pred is a str"):
        label_confusion_matrix(["a", "b"], "ab", ["a", "b"])
    np.testing.assert_array_equal(label_confusion_matrix([], [], ["a", "b"]), np.zeros((2, 2), dtype=np.int64))


def test_label_confusion_matrix_plots_with_plots_module(tmp_path):
    path = plot_confusion_matrix(label_confusion_matrix(GOLD, PRED, LABELS), LABELS, tmp_path / "cm.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# --------------------------------------------------------------------------- majority baseline


def test_majority_baseline_predicts_most_frequent_label():
    baseline = MajorityClassBaseline().fit(GOLD)  # pos 3, neg 3, neu 2 -> tie, "neg" first in sorted order
    assert baseline.majority_label == "neg"
    assert baseline.predict(["any sentence", "another one", ""]) == ["neg", "neg", "neg"]
    assert baseline.predict([]) == []


def test_majority_baseline_picks_clear_majority_regardless_of_order():
    assert MajorityClassBaseline().fit(["b", "a", "b", "c", "b", "a"]).majority_label == "b"


def test_majority_baseline_breaks_ties_by_sorted_label():
    # z and a appear twice each; "a" comes first in sorted order although "z" is seen first.
    assert MajorityClassBaseline().fit(["z", "a", "z", "a", "m"]).majority_label == "a"


def test_majority_baseline_scores_like_the_majority_class():
    baseline = MajorityClassBaseline().fit(["pos", "pos", "neg"])
    scores = classification_scores(["pos", "neg", "pos", "pos"], baseline.predict(["w", "x", "y", "z"]), ["neg", "pos"])
    # Always "pos": accuracy 3/4; pos P = 3/4, R = 1, F1 = 6/7; neg never predicted, F1 0 -> macro 3/7.
    assert scores["accuracy"] == pytest.approx(3 / 4)
    assert scores["macro_f1"] == pytest.approx(3 / 7)


def test_majority_baseline_rejects_empty_labels_and_use_before_fit():
    with pytest.raises(ValueError, match="without labels"):
        MajorityClassBaseline().fit([])
    with pytest.raises(TypeError, match="labels is a str"):
        MajorityClassBaseline().fit("pos")
    with pytest.raises(NotFittedError):
        MajorityClassBaseline().predict(["a sentence"])


# --------------------------------------------------------------------------- TF-IDF + logistic regression


@pytest.fixture(scope="module")
def tfidf_baseline() -> TfidfLogisticRegressionBaseline:
    return TfidfLogisticRegressionBaseline().fit(TEXTS, TEXT_LABELS)


def test_tfidf_baseline_classifies_held_out_sentences(tfidf_baseline):
    held_out = ["the weather was great", "an awful meal", "a good game", "the bad weather"]
    assert tfidf_baseline.predict(held_out) == ["pos", "neg", "pos", "neg"]
    assert all(type(label) is str for label in tfidf_baseline.predict(held_out))
    assert tfidf_baseline.predict(TEXTS) == TEXT_LABELS


def test_tfidf_baseline_probabilities_follow_sorted_classes(tfidf_baseline):
    # "pos" is the first training label, but columns are in sorted order: neg, pos.
    assert tfidf_baseline.classes == ["neg", "pos"]
    held_out = ["the weather was great", "an awful meal", "good good good"]
    probabilities = tfidf_baseline.predict_proba(held_out)
    assert probabilities.shape == (3, 2)
    assert probabilities.dtype == np.float64
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0)
    assert probabilities[0, 1] > 0.5 and probabilities[1, 0] > 0.5 and probabilities[2, 1] > 0.5
    argmax_labels = [tfidf_baseline.classes[column] for column in probabilities.argmax(axis=1)]
    assert argmax_labels == tfidf_baseline.predict(held_out)


def test_tfidf_baseline_handles_empty_input(tfidf_baseline):
    assert tfidf_baseline.predict([]) == []
    assert tfidf_baseline.predict_proba([]).shape == (0, 2)


def test_tfidf_baseline_default_tokens_are_words_and_bigrams(tfidf_baseline):
    vocabulary = tfidf_baseline.pipeline.named_steps["tfidf"].vocabulary_
    assert {"good", "awful", "the movie", "was good"} <= set(vocabulary)
    assert "a" not in vocabulary  # sklearn's default pattern drops one-character words


def test_tfidf_baseline_uses_the_given_tokenizer():
    seen: list[str] = []

    def characters(text: str) -> list[str]:
        seen.append(text)
        return list(text)

    baseline = TfidfLogisticRegressionBaseline(tokenizer=characters).fit(["GOOD film", "bad film"], ["pos", "neg"])
    vocabulary = set(baseline.pipeline.named_steps["tfidf"].vocabulary_)
    # Features are characters and character pairs, lowercased before tokenizing.
    assert "good" not in vocabulary
    assert {"g", "o", "g o", "o d"} <= vocabulary
    assert seen[:2] == ["good film", "bad film"]
    baseline.predict(["goo"])
    assert seen[-1] == "goo"


def test_tfidf_baseline_tokenizer_can_keep_one_character_words_and_case():
    baseline = TfidfLogisticRegressionBaseline(tokenizer=str.split, lowercase=False)
    baseline.fit(["a Good film", "a good film", "I hated it"], ["pos", "pos", "neg"])
    vocabulary = baseline.pipeline.named_steps["tfidf"].vocabulary_
    assert {"a", "I", "Good", "good", "a Good"} <= set(vocabulary)


def test_tfidf_baseline_rejects_bad_training_data_and_use_before_fit():
    with pytest.raises(ValueError, match="texts has 2 items but labels has 1"):
        TfidfLogisticRegressionBaseline().fit(["good", "bad"], ["pos"])
    with pytest.raises(ValueError, match="at least two distinct labels"):
        TfidfLogisticRegressionBaseline().fit(["good", "great"], ["pos", "pos"])
    with pytest.raises(NotFittedError):
        TfidfLogisticRegressionBaseline().predict(["good"])
    with pytest.raises(NotFittedError):
        TfidfLogisticRegressionBaseline().predict([])
    with pytest.raises(NotFittedError):
        _ = TfidfLogisticRegressionBaseline().classes
