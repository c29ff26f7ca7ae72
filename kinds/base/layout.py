"""Preprocess layouts: what the preprocess stage does with a kind's examples (its vocabularies, its features).

Each kind has its layout (`kinds/<kind>/preprocess.py`); this module holds what they share. A layout
is a small, picklable description that Beam ships to its workers. It says which units are
counted into vocabularies (`unit_counts`, a batch at a time), how the counts become vocabularies
(`vocabularies`) and how a batch of examples becomes serialized `SequenceExample`s (`encode`, written
by `sequence_example`). TensorFlow objects (tokenizer, lookup tables) are built lazily, once per
worker, from the vocabularies the pipeline hands in as a side input. Ragged tensors are read through
NumPy, a batch at a time, never row by row.
"""

from __future__ import annotations

import collections
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from pipeline.config import PreprocessConfig

Entries = list[tuple[str, int]]


def ordered_vocabulary(
    counts: Iterable[tuple[str, int]], reserved: Sequence[str], min_count: int, max_size: int | None
) -> Entries:
    """Reserved tokens first (count 0), then tokens by count descending, then by the token itself.

    Args:
        counts: (token, count) pairs.
        reserved: tokens that take the first ids; they are never counted as ordinary tokens.
        min_count: tokens seen fewer times are left out.
        max_size: the most entries in all, reserved ones included; None for no limit.
    """
    kept = sorted(
        ((token, count) for token, count in counts if count >= min_count and token not in reserved),
        key=lambda entry: (-entry[1], entry[0]),
    )
    entries = [(token, 0) for token in reserved] + kept
    return entries[:max_size] if max_size else entries


def ragged_strings(rows: Sequence[Sequence[str]]):
    """string [batch, (n)] from lists of str: `tf.ragged.constant` walks the nested lists in Python, slowly."""
    import tensorflow as tf

    flat = [value for row in rows for value in row]
    return tf.RaggedTensor.from_row_lengths(tf.constant(flat, tf.string), [len(row) for row in rows])


def flat_strings(tensor) -> list[bytes]:
    """Every string of a (ragged) string tensor, in order, as bytes."""
    return tensor.flat_values.numpy().tolist()


def row_lengths(tensor) -> list[int]:
    return tensor.row_lengths().numpy().tolist()


def counts(units: Iterable[str | bytes]) -> Iterator[tuple[str, int]]:
    """(unit, count) for each distinct unit of a batch (bytes decoded as UTF-8).

    Counting a batch here hands Beam one element per distinct unit and batch to sum, not one per unit.
    """
    for unit, count in collections.Counter(units).items():
        yield unit.decode("utf-8") if isinstance(unit, bytes) else unit, count


def counted(name: str, units: Iterable[str | bytes]) -> Iterator[tuple[tuple[str, str], int]]:
    """((name, unit), count) for each distinct unit of a batch: the counts of vocabulary `name`."""
    for unit, count in counts(units):
        yield (name, unit), count


def examples_of(lists: dict[str, list[bytes]]) -> Iterator[dict[str, bytes]]:
    """The feature lists of each example, from each feature's lists of a batch (`sequence_example.feature_lists`)."""
    for rows in zip(*lists.values(), strict=True):
        yield dict(zip(lists, rows, strict=True))


class TextLayout:
    """The base of layouts whose examples hold raw text, cut here by the task's tokenizer (the model's).

    `learns_wordpieces`: the `wordpiece` tokenizer's pieces are learned from the training split first
    (`pretoken_counts` gives the words they are learned from).
    """

    names: tuple[str, ...] = ()

    def __init__(self, params: PreprocessConfig) -> None:
        self.params = params
        self.learns_wordpieces = params.tokenizer == "wordpiece"
        self._tokenizer = None
        self._tables = None

    def tokenizer(self, wordpieces: list[str] | None = None):
        """The task's `TextTokenizer` (built once per worker; `wordpiece` needs `wordpieces` to tokenize)."""
        from models import text

        if self._tokenizer is None or (wordpieces is not None and self._tokenizer.wordpiece is None):
            self._tokenizer = text.TextTokenizer.for_task(self.params, wordpieces)
        return self._tokenizer

    def pretoken_counts(self, batch: Sequence[dict[str, Any]]) -> Iterator[tuple[str, int]]:
        """(word, count) over a batch: the words wordpieces are learned from (normalized, lowercased if configured)."""
        import tensorflow as tf

        words = self.tokenizer().pretokenize(tf.constant([r[field] for r in batch for field in self.text_fields]))
        return counts(flat_strings(words))

    text_fields: tuple[str, ...] = ("text",)

    def wordpieces_of(self, vocabularies: dict[str, Entries]) -> list[str] | None:
        """The learned pieces among the built vocabularies, or None without the wordpiece tokenizer."""
        return [piece for piece, _ in vocabularies["wordpieces"]] if self.learns_wordpieces else None

    def with_wordpieces(self, vocabularies: dict[str, Entries], wordpieces: list[str] | None) -> dict[str, Entries]:
        """`vocabularies` plus the learned pieces as `wordpieces` (count 0), when there are any."""
        if wordpieces is not None:
            vocabularies["wordpieces"] = [(piece, 0) for piece in wordpieces]
        return vocabularies
