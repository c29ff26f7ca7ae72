"""Measures several kinds use: checking two corpora align, confusion matrices, the most frequent label.

Sentences are sequences of labels (a tagger's tags; a classifier's one label a text is a one-label sentence).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

import numpy as np


def check_aligned(
    gold: Sequence[Sequence[object]],
    pred: Sequence[Sequence[object]],
    names: tuple[str, str] = ("gold", "pred"),
) -> None:
    """Raises unless ``gold`` and ``pred`` have the same number of sentences and sentence lengths.

    Args:
        gold: Sentences of the reference corpus.
        pred: Sentences of the corpus aligned with it (predictions, a mask, tags).
        names: How the two corpora are called in error messages.

    Raises:
        TypeError: A sentence is a ``str``: a single sentence was passed instead of a corpus,
            which would otherwise be scored character by character.
        ValueError: The sentence counts differ, or the lengths of sentence ``i`` differ.
    """
    left, right = names
    if len(gold) != len(pred):
        raise ValueError(f"{left} has {len(gold)} sentences but {right} has {len(pred)}")
    for index, (gold_sentence, pred_sentence) in enumerate(zip(gold, pred, strict=True)):
        if isinstance(gold_sentence, str) or isinstance(pred_sentence, str):
            raise TypeError(f"sentence {index} is a str; expected a sequence of sentences of tags")
        if len(gold_sentence) != len(pred_sentence):
            raise ValueError(
                f"sentence {index}: {left} has {len(gold_sentence)} tokens but {right} has {len(pred_sentence)}"
            )


def confusion_matrix(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]], labels: Sequence[str]) -> np.ndarray:
    """Counts of (gold tag, predicted tag) pairs.

    Args:
        gold: Gold tags, ``[num_sentences][sentence_length]``.
        pred: Predicted tags, aligned with ``gold``.
        labels: The tags, in row and column order; must be unique.

    Returns:
        ``int64`` array of shape ``[len(labels), len(labels)]``: entry ``[i, j]`` counts tokens
        with gold tag ``labels[i]`` predicted as ``labels[j]`` (rows gold, columns predicted).

    Raises:
        ValueError: The corpora are not aligned, ``labels`` has duplicates, or a gold or
            predicted tag is not in ``labels`` (silently dropping it would hide errors).
    """
    index = {label: position for position, label in enumerate(labels)}
    if len(index) != len(labels):
        duplicates = sorted(label for label, count in Counter(labels).items() if count > 1)
        raise ValueError(f"labels must be unique; repeated: {duplicates}")
    check_aligned(gold, pred)
    num_labels = len(labels)
    # Encode each pair as one integer so that a single bincount does the counting in C.
    codes: list[int] = []
    for sentence_index, (gold_tags, pred_tags) in enumerate(zip(gold, pred, strict=True)):
        for gold_tag, pred_tag in zip(gold_tags, pred_tags, strict=True):
            row, column = index.get(gold_tag), index.get(pred_tag)
            if row is None or column is None:
                unknown = gold_tag if row is None else pred_tag
                raise ValueError(f"sentence {sentence_index}: tag {unknown!r} is not in labels")
            codes.append(row * num_labels + column)
    counts = np.bincount(np.asarray(codes, dtype=np.int64), minlength=num_labels * num_labels)
    return counts.astype(np.int64).reshape(num_labels, num_labels)


def most_frequent(counts: Mapping[str, int]) -> str:
    """The key with the highest count; ties go to the smallest key, so results are reproducible."""
    return min(counts.items(), key=lambda item: (-item[1], item[0]))[0]
