"""What the preprocess stage does with the examples of each task kind: its vocabularies and its features.

A layout is a small, picklable description that Beam ships to its workers. It says which units are
counted into vocabularies (`unit_counts`, a batch at a time), how the counts become vocabularies
(`vocabularies`) and how a batch of examples becomes serialized `SequenceExample`s (`encode`, written
by `sequence_example`). TensorFlow objects (tokenizer, lookup tables) are built lazily, once per
worker, from the vocabularies the pipeline hands in as a side input. Ragged tensors are read through
NumPy, a batch at a time, never row by row.
"""

from __future__ import annotations

import collections
import dataclasses
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from components.preprocess import sequence_example
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


def _ragged_strings(rows: Sequence[Sequence[str]]):
    """string [batch, (n)] from lists of str: `tf.ragged.constant` walks the nested lists in Python, slowly."""
    import tensorflow as tf

    flat = [value for row in rows for value in row]
    return tf.RaggedTensor.from_row_lengths(tf.constant(flat, tf.string), [len(row) for row in rows])


def _flat_strings(tensor) -> list[bytes]:
    """Every string of a (ragged) string tensor, in order, as bytes."""
    return tensor.flat_values.numpy().tolist()


def _row_lengths(tensor) -> list[int]:
    return tensor.row_lengths().numpy().tolist()


def _counts(units: Iterable[str | bytes]) -> Iterator[tuple[str, int]]:
    """(unit, count) for each distinct unit of a batch (bytes decoded as UTF-8).

    Counting a batch here hands Beam one element per distinct unit and batch to sum, not one per unit.
    """
    for unit, count in collections.Counter(units).items():
        yield unit.decode("utf-8") if isinstance(unit, bytes) else unit, count


def _counted(name: str, units: Iterable[str | bytes]) -> Iterator[tuple[tuple[str, str], int]]:
    """((name, unit), count) for each distinct unit of a batch: the counts of vocabulary `name`."""
    for unit, count in _counts(units):
        yield (name, unit), count


def _examples(lists: dict[str, list[bytes]]) -> Iterator[dict[str, bytes]]:
    """The feature lists of each example, from each feature's lists of a batch (`sequence_example.feature_lists`)."""
    for rows in zip(*lists.values(), strict=True):
        yield dict(zip(lists, rows, strict=True))


@dataclasses.dataclass
class TaggedSentences:
    """Tagger examples `{"key", "tokens", "tags"}`: vocabularies `words`, `chars`, `tags`."""

    params: PreprocessConfig
    names = ("words", "chars", "tags")
    learns_wordpieces = False

    def __post_init__(self) -> None:
        self._featurizer = None

    def unit_counts(
        self, batch: Sequence[dict[str, Any]], wordpieces: list[str] | None
    ) -> Iterator[tuple[tuple[str, str], int]]:
        """(("words", form), count), (("chars", char), count) and (("tags", tag), count) over a batch of examples."""
        from models import text

        tokens = _ragged_strings([r["tokens"] for r in batch])
        yield from _counted("words", _flat_strings(text.normalize_words(tokens, self.params.lowercase)))
        yield from _counted("chars", _flat_strings(text.split_chars(tokens, self.params.max_word_length)))
        yield from _counted("tags", (tag for record in batch for tag in record["tags"]))

    def vocabularies(self, counts: dict[str, Entries], wordpieces: list[str] | None) -> dict[str, Entries]:
        from models import text

        p = self.params
        return {
            "words": ordered_vocabulary(counts["words"], text.RESERVED_TOKENS, p.min_count, p.max_size),
            "chars": ordered_vocabulary(counts["chars"], text.RESERVED_TOKENS, p.char_min_count, None),
            "tags": ordered_vocabulary(counts["tags"], text.RESERVED_TAGS, 1, None),
        }

    def encode(self, batch: Sequence[dict[str, Any]], vocabularies: dict[str, Entries]) -> Iterator[tuple]:
        """(key, serialized SequenceExample, tokens) for each example of the batch."""
        from models import text

        if self._featurizer is None:
            self._featurizer = text.TaggerFeaturizer(
                *([token for token, _ in vocabularies[name]] for name in self.names),
                lowercase=self.params.lowercase,
                max_word_length=self.params.max_word_length,
            )
        tokens = _ragged_strings([r["tokens"] for r in batch])
        tags = _ragged_strings([r["tags"] for r in batch])
        lists = {
            text.TOKENS: sequence_example.feature_lists(tokens),
            text.TAGS: sequence_example.feature_lists(tags),
            text.TOKEN_IDS: sequence_example.feature_lists(self._featurizer.token_ids(tokens)),
            text.TAG_IDS: sequence_example.feature_lists(self._featurizer.tag_ids(tags)),
            text.CHAR_IDS: sequence_example.feature_lists(self._featurizer.char_ids(tokens)),
        }
        for record, example_lists in zip(batch, _examples(lists), strict=True):
            context = {text.KEY: sequence_example.bytes_feature(record["key"])}
            yield record["key"], sequence_example.serialize(context, example_lists), len(record["tokens"])


@dataclasses.dataclass
class LabeledTexts:
    """Classifier examples `{"key", "text", "label"}`: the text is tokenized here, by the model's tokenizer.

    Vocabularies: `words` (tokens, or wordpieces with their counts), `labels` (no reserved entries:
    every class is a real one), and for the `wordpiece` tokenizer `wordpieces`, the learned pieces.
    """

    params: PreprocessConfig
    learns_wordpieces: bool = dataclasses.field(init=False)

    def __post_init__(self) -> None:
        self.learns_wordpieces = self.params.tokenizer == "wordpiece"
        self.names = ("words", "labels") + (("wordpieces",) if self.learns_wordpieces else ())
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

        words = self.tokenizer().pretokenize(tf.constant([r["text"] for r in batch]))
        return _counts(_flat_strings(words))

    def unit_counts(
        self, batch: Sequence[dict[str, Any]], wordpieces: list[str] | None
    ) -> Iterator[tuple[tuple[str, str], int]]:
        import tensorflow as tf

        from models import text

        tokens = self.tokenizer(wordpieces)(tf.constant([r["text"] for r in batch]))
        yield from _counted("words", _flat_strings(text.normalize_words(tokens, self.params.lowercase)))
        yield from _counted("labels", (record["label"] for record in batch))

    def vocabularies(self, counts: dict[str, Entries], wordpieces: list[str] | None) -> dict[str, Entries]:
        from models import text

        p = self.params
        vocabularies = {
            "words": ordered_vocabulary(counts["words"], text.RESERVED_TOKENS, p.min_count, p.max_size),
            "labels": ordered_vocabulary(counts["labels"], (), 1, None),
        }
        if wordpieces is not None:
            vocabularies["wordpieces"] = [(piece, 0) for piece in wordpieces]
        return vocabularies

    def encode(self, batch: Sequence[dict[str, Any]], vocabularies: dict[str, Entries]) -> Iterator[tuple]:
        import tensorflow as tf

        from models import text

        if self._tables is None:
            self._tables = (
                text.lookup_table([token for token, _ in vocabularies["words"]]),
                text.lookup_table([label for label, _ in vocabularies["labels"]], default_id=-1),
            )
        words, labels = self._tables
        wordpieces = [piece for piece, _ in vocabularies["wordpieces"]] if self.learns_wordpieces else None
        tokens = self.tokenizer(wordpieces)(tf.constant([r["text"] for r in batch]))
        token_ids = tf.ragged.map_flat_values(words.lookup, text.normalize_words(tokens, self.params.lowercase))
        label_ids = labels.lookup(tf.constant([r["label"] for r in batch])).numpy().tolist()
        lists = {
            text.TOKENS: sequence_example.feature_lists(tokens),
            text.TOKEN_IDS: sequence_example.feature_lists(token_ids),
        }
        for record, example_lists, label_id, length in zip(
            batch, _examples(lists), label_ids, _row_lengths(tokens), strict=True
        ):
            context = {
                text.KEY: sequence_example.bytes_feature(record["key"]),
                text.TEXT: sequence_example.bytes_feature(record["text"]),
                text.LABEL: sequence_example.bytes_feature(record["label"]),
                text.LABEL_ID: sequence_example.int64_feature([label_id]),
            }
            yield record["key"], sequence_example.serialize(context, example_lists), length


class Documents(LabeledTexts):
    """Language-model examples `{"key", "text"}`: the units of each document (characters by default).

    Vocabularies: `units` (and `wordpieces` for the wordpiece tokenizer). A document is encoded as
    `[START]` and its unit ids; training lays documents end to end and cuts them into windows.
    """

    def __post_init__(self) -> None:
        super().__post_init__()
        self.names = ("units",) + (("wordpieces",) if self.learns_wordpieces else ())

    def unit_counts(
        self, batch: Sequence[dict[str, Any]], wordpieces: list[str] | None
    ) -> Iterator[tuple[tuple[str, str], int]]:
        import tensorflow as tf

        from models import text

        tokens = self.tokenizer(wordpieces)(tf.constant([r["text"] for r in batch]))
        yield from _counted("units", _flat_strings(text.normalize_words(tokens, self.params.lowercase)))

    def vocabularies(self, counts: dict[str, Entries], wordpieces: list[str] | None) -> dict[str, Entries]:
        from models import text

        p = self.params
        vocabularies = {"units": ordered_vocabulary(counts["units"], text.RESERVED_TOKENS, p.min_count, p.max_size)}
        if wordpieces is not None:
            vocabularies["wordpieces"] = [(piece, 0) for piece in wordpieces]
        return vocabularies

    def encode(self, batch: Sequence[dict[str, Any]], vocabularies: dict[str, Entries]) -> Iterator[tuple]:
        import tensorflow as tf

        from models import text

        if self._tables is None:
            self._tables = text.lookup_table([unit for unit, _ in vocabularies["units"]])
        wordpieces = [piece for piece, _ in vocabularies["wordpieces"]] if self.learns_wordpieces else None
        tokens = self.tokenizer(wordpieces)(tf.constant([r["text"] for r in batch]))
        ids = tf.ragged.map_flat_values(self._tables.lookup, text.normalize_words(tokens, self.params.lowercase))
        start = sequence_example.int64_entry(text.START_ID)
        for record, unit_ids, length in zip(batch, sequence_example.feature_lists(ids), _row_lengths(ids), strict=True):
            context = {text.KEY: sequence_example.bytes_feature(record["key"])}
            yield record["key"], sequence_example.serialize(context, {text.TOKEN_IDS: start + unit_ids}), length


class TextPairs(LabeledTexts):
    """Translator examples `{"key", "source", "target"}`: both sides tokenized by the task's tokenizer.

    Vocabularies: `source_words` and `target_words`, or one `words` with `shared_vocabulary` (and
    `wordpieces`, learned from both sides, for the wordpiece tokenizer). A target is encoded between
    `[START]` and `[END]`; the decoder reads it shifted right and predicts it shifted left.
    """

    def __post_init__(self) -> None:
        super().__post_init__()
        sides = ("words",) if self.params.shared_vocabulary else ("source_words", "target_words")
        self.names = sides + (("wordpieces",) if self.learns_wordpieces else ())

    def vocabulary_of(self, side: str) -> str:
        return "words" if self.params.shared_vocabulary else f"{side}_words"

    def pretoken_counts(self, batch: Sequence[dict[str, Any]]) -> Iterator[tuple[str, int]]:
        import tensorflow as tf

        texts = [r[side] for r in batch for side in ("source", "target")]
        return _counts(_flat_strings(self.tokenizer().pretokenize(tf.constant(texts))))

    def unit_counts(
        self, batch: Sequence[dict[str, Any]], wordpieces: list[str] | None
    ) -> Iterator[tuple[tuple[str, str], int]]:
        import tensorflow as tf

        from models import text

        for side in ("source", "target"):
            tokens = self.tokenizer(wordpieces)(tf.constant([r[side] for r in batch]))
            forms = _flat_strings(text.normalize_words(tokens, self.params.lowercase))
            yield from _counted(self.vocabulary_of(side), forms)

    def vocabularies(self, counts: dict[str, Entries], wordpieces: list[str] | None) -> dict[str, Entries]:
        from models import text

        p = self.params
        vocabularies = {
            name: ordered_vocabulary(counts[name], text.RESERVED_TOKENS, p.min_count, p.max_size)
            for name in self.names
            if name != "wordpieces"
        }
        if wordpieces is not None:
            vocabularies["wordpieces"] = [(piece, 0) for piece in wordpieces]
        return vocabularies

    def encode(self, batch: Sequence[dict[str, Any]], vocabularies: dict[str, Entries]) -> Iterator[tuple]:
        import tensorflow as tf

        from models import text

        if self._tables is None:
            self._tables = {
                side: text.lookup_table([t for t, _ in vocabularies[self.vocabulary_of(side)]])
                for side in ("source", "target")
            }
        wordpieces = [piece for piece, _ in vocabularies["wordpieces"]] if self.learns_wordpieces else None
        ids = {}
        for side in ("source", "target"):
            tokens = text.normalize_words(
                self.tokenizer(wordpieces)(tf.constant([r[side] for r in batch])), self.params.lowercase
            )
            ids[side] = tf.ragged.map_flat_values(self._tables[side].lookup, tokens)
        start, end = sequence_example.int64_entry(text.START_ID), sequence_example.int64_entry(text.END_ID)
        lists = {
            text.SOURCE_IDS: sequence_example.feature_lists(ids["source"]),
            text.TARGET_IDS: [start + row + end for row in sequence_example.feature_lists(ids["target"])],
        }
        for record, example_lists, length in zip(batch, _examples(lists), _row_lengths(ids["source"]), strict=True):
            context = {
                text.KEY: sequence_example.bytes_feature(record["key"]),
                text.SOURCE: sequence_example.bytes_feature(record["source"]),
                text.TARGET: sequence_example.bytes_feature(record["target"]),
            }
            yield record["key"], sequence_example.serialize(context, example_lists), length


LAYOUTS = {
    "tagger": TaggedSentences,
    "classifier": LabeledTexts,
    "language_model": Documents,
    "translator": TextPairs,
}


def layout(kind: str, params: PreprocessConfig) -> TaggedSentences | LabeledTexts | Documents | TextPairs:
    """The layout of a task kind's examples."""
    return LAYOUTS[kind](params)
