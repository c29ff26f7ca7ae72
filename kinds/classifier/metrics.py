"""Metrics and baselines for sentence classification: one label per sentence.

The sequence-labelling metrics of :mod:`kinds.tagger.metrics` score one tag per token; a
sentence classifier predicts one label per sentence, so its gold and predicted corpora are flat
sequences of ``str`` labels aligned item by item. Scores come from scikit-learn so that they
follow its well-known conventions (``precision_recall_fscore_support`` with
``zero_division=0``); the confusion matrix reuses :func:`metrics.confusion_matrix`, and its
result can be drawn with :func:`kinds.base.plots.plot_confusion_matrix`.

Two baselines every sentence classifier must beat:

* :class:`MajorityClassBaseline`, the floor: always the most frequent training label;
* :class:`TfidfLogisticRegressionBaseline`, what a practitioner would try first: TF-IDF of word
  unigrams and bigrams fed to a logistic regression, optionally on the model's own tokens.

All scores are fractions in ``[0, 1]``.
"""

import math
from collections import Counter
from collections.abc import Callable, Sequence

import numpy as np
from sklearn.exceptions import NotFittedError
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, precision_recall_fscore_support
from sklearn.pipeline import Pipeline

from kinds.base import metrics

_DEFAULT_TOKEN_PATTERN = r"(?u)\b\w\w+\b"
"""scikit-learn's default ``token_pattern``: runs of two or more word characters."""

# --------------------------------------------------------------------------- helpers


def _check_flat(values: Sequence[str], name: str) -> None:
    """Raises ``TypeError`` when ``values`` is a ``str``, which would be read character by character."""
    if isinstance(values, str):
        raise TypeError(f"{name} is a str; expected a sequence of one item per sentence")


def _check_paired(first: Sequence[str], second: Sequence[str], names: tuple[str, str]) -> None:
    """Raises unless ``first`` and ``second`` are flat sequences with one item per sentence each.

    Raises:
        TypeError: One of them is a ``str``.
        ValueError: Their lengths differ.
    """
    left, right = names
    _check_flat(first, left)
    _check_flat(second, right)
    if len(first) != len(second):
        raise ValueError(f"{left} has {len(first)} items but {right} has {len(second)}")


def _check_labels(labels: Sequence[str]) -> None:
    """Raises ``ValueError`` when ``labels`` is empty or has duplicates (``TypeError`` for a ``str``)."""
    _check_flat(labels, "labels")
    if not labels:
        raise ValueError("labels must not be empty")
    duplicates = sorted(label for label, count in Counter(labels).items() if count > 1)
    if duplicates:
        raise ValueError(f"labels must be unique; repeated: {duplicates}")


# --------------------------------------------------------------------------- metrics


def classification_scores(gold: Sequence[str], pred: Sequence[str], labels: Sequence[str]) -> dict:
    """Accuracy, macro-averaged F1 and per-class scores of single-label predictions.

    Per-class precision, recall and F1 are scikit-learn's ``precision_recall_fscore_support``
    restricted to ``labels`` with ``zero_division=0``: a class never predicted has precision 0.0
    (0/0) and F1 0.0, and a class absent from both gold and predictions has all three 0.0.
    ``macro_f1`` is the unweighted mean of the per-class F1 over *all* of ``labels`` (scikit-learn's
    ``average="macro"`` with ``labels``), so such classes pull it down: pass the classes of the
    training data, the classes the model could predict.

    A gold or predicted label outside ``labels`` (a class seen only in the test data, or a bogus
    prediction) is not an error: it counts in ``accuracy`` (as a miss unless gold and prediction
    agree) and as a false negative or false positive of the classes it meets, but gets no
    per-class entry of its own.

    Args:
        gold: Gold labels, one per sentence.
        pred: Predicted labels, aligned with ``gold``.
        labels: The classes to score, in the order of ``per_class``; unique, not empty.

    Returns:
        ``{"accuracy": float, "macro_f1": float, "per_class": {label: {"precision": float,
        "recall": float, "f1": float, "support": int}}}`` where ``support`` is the number of gold
        items of that class. For empty ``gold`` and ``pred``, ``accuracy`` and ``macro_f1`` are
        ``nan`` (undefined, as a tagger's token accuracy of an empty corpus) and every class
        scores 0.0 with support 0.

    Raises:
        TypeError: ``gold``, ``pred`` or ``labels`` is a ``str``.
        ValueError: ``gold`` and ``pred`` differ in length, or ``labels`` is empty or has duplicates.
    """
    _check_paired(gold, pred, ("gold", "pred"))
    _check_labels(labels)
    if not gold:
        # scikit-learn refuses empty input; the scores of nothing are undefined, not an error.
        empty = {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
        return {"accuracy": math.nan, "macro_f1": math.nan, "per_class": {label: dict(empty) for label in labels}}
    gold_list, pred_list, label_list = list(gold), list(pred), list(labels)
    precision, recall, f1, support = precision_recall_fscore_support(
        gold_list, pred_list, labels=label_list, average=None, zero_division=0
    )
    per_class = {
        label: {
            "precision": float(precision[index]),
            "recall": float(recall[index]),
            "f1": float(f1[index]),
            "support": int(support[index]),
        }
        for index, label in enumerate(label_list)
    }
    return {
        "accuracy": float(accuracy_score(gold_list, pred_list)),
        # scikit-learn's macro average is exactly this: the unweighted mean of the per-class F1.
        "macro_f1": float(np.mean(f1)),
        "per_class": per_class,
    }


def label_confusion_matrix(gold: Sequence[str], pred: Sequence[str], labels: Sequence[str]) -> np.ndarray:
    """Counts of (gold label, predicted label) pairs, ready for ``plots.plot_confusion_matrix``.

    :func:`metrics.confusion_matrix` with each sentence's label as a one-token sentence, so the
    checks and the layout are the same: rows gold, columns predicted, in ``labels`` order, and
    error messages name the sentence (item) index.

    Args:
        gold: Gold labels, one per sentence.
        pred: Predicted labels, aligned with ``gold``.
        labels: The classes, in row and column order; must be unique.

    Returns:
        ``int64`` array of shape ``[len(labels), len(labels)]``; all zeros for empty input.

    Raises:
        TypeError: ``gold`` or ``pred`` is a ``str``.
        ValueError: ``gold`` and ``pred`` differ in length, ``labels`` has duplicates, or a gold or
            predicted label is not in ``labels``.
    """
    _check_paired(gold, pred, ("gold", "pred"))
    return metrics.confusion_matrix([[label] for label in gold], [[label] for label in pred], labels)


# --------------------------------------------------------------------------- baselines


class MajorityClassBaseline:
    """Predicts the most frequent training label for every sentence: the floor a classifier must beat.

    Ties are broken deterministically: among the labels with the highest count, the first in
    sorted (``str``) order wins, as in the tagger's most-frequent-tag baseline.

    Attributes:
        majority_label: The label predicted for every sentence; ``None`` until :meth:`fit`.
    """

    def __init__(self) -> None:
        self.majority_label: str | None = None

    def fit(self, labels: Sequence[str]) -> "MajorityClassBaseline":
        """Learns the most frequent label.

        Args:
            labels: Training labels, one per sentence.

        Returns:
            ``self``, fitted.

        Raises:
            TypeError: ``labels`` is a ``str``.
            ValueError: ``labels`` is empty.
        """
        _check_flat(labels, "labels")
        if not labels:
            raise ValueError("cannot fit a baseline without labels")
        self.majority_label = metrics.most_frequent(Counter(labels))
        return self

    def predict(self, texts: Sequence[str]) -> list[str]:
        """The majority label once per sentence; the texts themselves are ignored.

        Args:
            texts: Sentences to classify.

        Returns:
            ``len(texts)`` copies of :attr:`majority_label`.

        Raises:
            NotFittedError: :meth:`fit` has not been called.
        """
        if self.majority_label is None:
            raise NotFittedError(f"{type(self).__name__} is not fitted yet; call fit first")
        return [self.majority_label] * len(texts)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(majority_label={self.majority_label!r})"


class TfidfLogisticRegressionBaseline:
    """TF-IDF of word unigrams and bigrams, then a multinomial logistic regression.

    The scikit-learn pipeline is ``TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)``
    followed by ``LogisticRegression(solver="lbfgs")``: sublinear term frequency (``1 + log tf``)
    keeps a repeated word from dominating a sentence, and lbfgs fits the multinomial (softmax)
    model for any number of classes, deterministically. ``C=1.0`` (scikit-learn's default) is a
    moderate L2 penalty suited to the many sparse n-gram features of a small corpus; tune it on
    development data for a stronger baseline. ``max_iter=1000`` leaves lbfgs room to converge on
    large vocabularies, where the default of 100 often stops early with a ``ConvergenceWarning``.

    With ``tokenizer=None`` words are scikit-learn's default ``token_pattern``,
    ``r"(?u)\\b\\w\\w+\\b"`` (runs of two or more word characters; punctuation and one-character
    words are dropped). Pass the model's tokenizer so that both see the same tokens; the bigrams
    are then pairs of its tokens. Lowercasing (``lowercase``) happens before tokenization, so pass
    ``lowercase=False`` where the model is case-sensitive. A lambda or local function as tokenizer
    makes the object unpicklable; it is never pickled, only fitted and used in one process.

    :meth:`predict_proba` columns follow :attr:`classes`: the distinct training labels in sorted
    order (scikit-learn's ``classes_``).

    Attributes:
        pipeline: The scikit-learn ``Pipeline`` with steps ``"tfidf"`` and ``"logreg"``.
    """

    def __init__(
        self,
        *,
        tokenizer: Callable[[str], list[str]] | None = None,
        lowercase: bool = True,
        C: float = 1.0,
        max_iter: int = 1000,
        random_state: int = 0,
    ) -> None:
        """Builds the (unfitted) pipeline.

        Args:
            tokenizer: Splits a (lowercased, if ``lowercase``) sentence into tokens; ``None`` for
                scikit-learn's default word pattern.
            lowercase: Lowercase sentences before tokenizing.
            C: Inverse L2 regularization strength of the logistic regression.
            max_iter: Iteration limit of the lbfgs solver.
            random_state: Seed passed to ``LogisticRegression``; lbfgs itself is deterministic.
        """
        vectorizer = TfidfVectorizer(
            ngram_range=(1, 2),
            sublinear_tf=True,
            lowercase=lowercase,
            tokenizer=tokenizer,
            # token_pattern is ignored (with a warning) once a tokenizer is given.
            token_pattern=None if tokenizer is not None else _DEFAULT_TOKEN_PATTERN,
        )
        classifier = LogisticRegression(C=C, solver="lbfgs", max_iter=max_iter, random_state=random_state)
        self.pipeline = Pipeline([("tfidf", vectorizer), ("logreg", classifier)])

    def _fitted_classifier(self) -> LogisticRegression:
        """The pipeline's logistic regression; raises ``NotFittedError`` before :meth:`fit`."""
        classifier = self.pipeline.named_steps["logreg"]
        if not hasattr(classifier, "classes_"):
            raise NotFittedError(f"{type(self).__name__} is not fitted yet; call fit first")
        return classifier

    @property
    def classes(self) -> list[str]:
        """The distinct training labels in sorted order: the columns of :meth:`predict_proba`.

        Raises:
            NotFittedError: :meth:`fit` has not been called.
        """
        return self._fitted_classifier().classes_.tolist()

    def fit(self, texts: Sequence[str], labels: Sequence[str]) -> "TfidfLogisticRegressionBaseline":
        """Fits the vectorizer's vocabulary and IDF weights, then the logistic regression.

        Args:
            texts: Training sentences, one ``str`` each.
            labels: Their labels, aligned with ``texts``.

        Returns:
            ``self``, fitted.

        Raises:
            TypeError: ``texts`` or ``labels`` is a ``str``.
            ValueError: ``texts`` and ``labels`` differ in length, there are fewer than two
                distinct labels, or no sentence has a token (scikit-learn's "empty vocabulary").
        """
        _check_paired(texts, labels, ("texts", "labels"))
        if len(set(labels)) < 2:
            raise ValueError(f"need at least two distinct labels to fit a classifier; got {sorted(set(labels))}")
        self.pipeline.fit(list(texts), list(labels))
        return self

    def predict(self, texts: Sequence[str]) -> list[str]:
        """The most probable label of each sentence.

        Args:
            texts: Sentences, one ``str`` each.

        Returns:
            One label per sentence.

        Raises:
            NotFittedError: :meth:`fit` has not been called.
        """
        _check_flat(texts, "texts")
        if not texts:
            # scikit-learn refuses zero rows; nothing to classify is not an error once fitted.
            self._fitted_classifier()
            return []
        return self.pipeline.predict(list(texts)).tolist()

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Class probabilities of each sentence.

        Args:
            texts: Sentences, one ``str`` each.

        Returns:
            ``float64`` array of shape ``[len(texts), len(classes)]`` whose rows sum to 1; column
            ``j`` is the probability of ``classes[j]`` (sorted training labels).

        Raises:
            NotFittedError: :meth:`fit` has not been called.
        """
        _check_flat(texts, "texts")
        if not texts:
            # scikit-learn refuses zero rows; nothing to classify is not an error.
            return np.empty((0, len(self.classes)), dtype=np.float64)
        return self.pipeline.predict_proba(list(texts))

    def __repr__(self) -> str:
        vectorizer = self.pipeline.named_steps["tfidf"]
        classifier = self.pipeline.named_steps["logreg"]
        tokenizer = "default" if vectorizer.tokenizer is None else getattr(vectorizer.tokenizer, "__name__", "custom")
        return (
            f"{type(self).__name__}(tokenizer={tokenizer}, lowercase={vectorizer.lowercase}, "
            f"C={classifier.C}, max_iter={classifier.max_iter})"
        )
