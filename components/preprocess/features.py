"""What the preprocess stage does with the examples of each task kind: its vocabularies and its features.

A layout is a small, picklable description that Beam ships to its workers. It says which units are
counted into vocabularies (`units`), how the counts become vocabularies (`vocabularies`) and how a
batch of examples becomes `SequenceExample`s (`encode`). TensorFlow objects (tokenizer, lookup tables)
are built lazily, once per worker, from the vocabularies the pipeline hands in as a side input.
"""

from __future__ import annotations

import dataclasses
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


def _strings(values: Iterable[str]):
    import tensorflow as tf

    return [tf.train.Feature(bytes_list=tf.train.BytesList(value=[v.encode("utf-8")])) for v in values]


def _ints(values: Iterable[int]):
    import tensorflow as tf

    return [tf.train.Feature(int64_list=tf.train.Int64List(value=[v])) for v in values]


def _serialize(context: dict[str, Any], feature_lists: dict[str, list]) -> bytes:
    """A SequenceExample, serialized deterministically (its maps otherwise serialize in hash order)."""
    import tensorflow as tf

    example = tf.train.SequenceExample(
        context=tf.train.Features(feature=context),
        feature_lists=tf.train.FeatureLists(
            feature_list={name: tf.train.FeatureList(feature=values) for name, values in feature_lists.items()}
        ),
    )
    return example.SerializeToString(deterministic=True)


@dataclasses.dataclass
class TaggedSentences:
    """Tagger examples `{"key", "tokens", "tags"}`: vocabularies `words`, `chars`, `tags`."""

    params: PreprocessConfig
    names = ("words", "chars", "tags")
    learns_wordpieces = False

    def __post_init__(self) -> None:
        self._featurizer = None

    def units(self, batch: Sequence[dict[str, Any]], wordpieces: list[str] | None) -> Iterator[tuple[str, str]]:
        """("words", form), ("chars", char) and ("tags", tag) for every token of a batch of examples."""
        import tensorflow as tf

        from models import text

        tokens = tf.ragged.constant([r["tokens"] for r in batch], dtype=tf.string)
        for form in text.normalize_words(tokens, self.params.lowercase).flat_values.numpy():
            yield "words", form.decode("utf-8")
        for char in text.split_chars(tokens, self.params.max_word_length).flat_values.numpy():
            yield "chars", char.decode("utf-8")
        for record in batch:
            for tag in record["tags"]:
                yield "tags", tag

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
        import tensorflow as tf

        from models import text

        if self._featurizer is None:
            self._featurizer = text.TaggerFeaturizer(
                *([token for token, _ in vocabularies[name]] for name in self.names),
                lowercase=self.params.lowercase,
                max_word_length=self.params.max_word_length,
            )
        tokens = tf.ragged.constant([r["tokens"] for r in batch], dtype=tf.string)
        tags = tf.ragged.constant([r["tags"] for r in batch], dtype=tf.string)
        token_ids = self._featurizer.token_ids(tokens).to_list()
        char_ids = self._featurizer.char_ids(tokens).to_list()
        tag_ids = self._featurizer.tag_ids(tags).to_list()
        for i, record in enumerate(batch):
            serialized = _serialize(
                {text.KEY: _strings([record["key"]])[0]},
                {
                    text.TOKENS: _strings(record["tokens"]),
                    text.TAGS: _strings(record["tags"]),
                    text.TOKEN_IDS: _ints(token_ids[i]),
                    text.TAG_IDS: _ints(tag_ids[i]),
                    text.CHAR_IDS: [tf.train.Feature(int64_list=tf.train.Int64List(value=ids)) for ids in char_ids[i]],
                },
            )
            yield record["key"], serialized, len(token_ids[i])


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
            p = self.params
            self._tokenizer = text.TextTokenizer(
                p.tokenizer,
                pattern=p.token_pattern,
                normalization=p.normalization,
                lowercase=p.lowercase,
                wordpieces=wordpieces,
            )
        return self._tokenizer

    def pretokens(self, batch: Sequence[dict[str, Any]]) -> Iterator[str]:
        """The words that wordpieces are learned from (normalized, lowercased as configured)."""
        import tensorflow as tf

        for word in self.tokenizer().pretokenize(tf.constant([r["text"] for r in batch])).flat_values.numpy():
            yield word.decode("utf-8")

    def units(self, batch: Sequence[dict[str, Any]], wordpieces: list[str] | None) -> Iterator[tuple[str, str]]:
        import tensorflow as tf

        from models import text

        tokens = self.tokenizer(wordpieces)(tf.constant([r["text"] for r in batch]))
        for form in text.normalize_words(tokens, self.params.lowercase).flat_values.numpy():
            yield "words", form.decode("utf-8")
        for record in batch:
            yield "labels", record["label"]

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
        label_ids = labels.lookup(tf.constant([r["label"] for r in batch])).numpy()
        for record, record_tokens, ids, label_id in zip(
            batch, tokens.to_list(), token_ids.to_list(), label_ids, strict=True
        ):
            serialized = _serialize(
                {
                    text.KEY: _strings([record["key"]])[0],
                    text.TEXT: _strings([record["text"]])[0],
                    text.LABEL: _strings([record["label"]])[0],
                    text.LABEL_ID: _ints([int(label_id)])[0],
                },
                {text.TOKENS: _strings(t.decode("utf-8") for t in record_tokens), text.TOKEN_IDS: _ints(ids)},
            )
            yield record["key"], serialized, len(ids)


class Documents(LabeledTexts):
    """Language-model examples `{"key", "text"}`: the units of each document (characters by default).

    Vocabularies: `units` (and `wordpieces` for the wordpiece tokenizer). A document is encoded as
    `[START]` and its unit ids; training lays documents end to end and cuts them into windows.
    """

    def __post_init__(self) -> None:
        super().__post_init__()
        self.names = ("units",) + (("wordpieces",) if self.learns_wordpieces else ())

    def units(self, batch: Sequence[dict[str, Any]], wordpieces: list[str] | None) -> Iterator[tuple[str, str]]:
        import tensorflow as tf

        from models import text

        tokens = self.tokenizer(wordpieces)(tf.constant([r["text"] for r in batch]))
        for form in text.normalize_words(tokens, self.params.lowercase).flat_values.numpy():
            yield "units", form.decode("utf-8")

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
        for record, unit_ids in zip(batch, ids.to_list(), strict=True):
            serialized = _serialize(
                {text.KEY: _strings([record["key"]])[0]}, {text.TOKEN_IDS: _ints([text.START_ID, *unit_ids])}
            )
            yield record["key"], serialized, len(unit_ids)


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

    def pretokens(self, batch: Sequence[dict[str, Any]]) -> Iterator[str]:
        import tensorflow as tf

        texts = [r[side] for r in batch for side in ("source", "target")]
        for word in self.tokenizer().pretokenize(tf.constant(texts)).flat_values.numpy():
            yield word.decode("utf-8")

    def units(self, batch: Sequence[dict[str, Any]], wordpieces: list[str] | None) -> Iterator[tuple[str, str]]:
        import tensorflow as tf

        from models import text

        for side in ("source", "target"):
            tokens = self.tokenizer(wordpieces)(tf.constant([r[side] for r in batch]))
            for form in text.normalize_words(tokens, self.params.lowercase).flat_values.numpy():
                yield self.vocabulary_of(side), form.decode("utf-8")

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
            ids[side] = tf.ragged.map_flat_values(self._tables[side].lookup, tokens).to_list()
        for i, record in enumerate(batch):
            serialized = _serialize(
                {
                    text.KEY: _strings([record["key"]])[0],
                    text.SOURCE: _strings([record["source"]])[0],
                    text.TARGET: _strings([record["target"]])[0],
                },
                {
                    text.SOURCE_IDS: _ints(ids["source"][i]),
                    text.TARGET_IDS: _ints([text.START_ID, *ids["target"][i], text.END_ID]),
                },
            )
            yield record["key"], serialized, len(ids["source"][i])


LAYOUTS = {
    "tagger": TaggedSentences,
    "classifier": LabeledTexts,
    "language_model": Documents,
    "translator": TextPairs,
}


def layout(kind: str, params: PreprocessConfig) -> TaggedSentences | LabeledTexts | Documents | TextPairs:
    """The layout of a task kind's examples."""
    return LAYOUTS[kind](params)
