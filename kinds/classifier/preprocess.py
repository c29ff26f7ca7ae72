"""The classifier's preprocess layout: labelled texts `{"key", "text", "label"}` -> vocabularies and features.

The text is tokenized here, by the model's tokenizer. Vocabularies: `words` (tokens, or wordpieces with
their counts), `chars` (the characters of the tokens, which a model with `model.lm_features` reads),
`labels` (no reserved entries: every class is a real one), and for the `wordpiece` tokenizer `wordpieces`,
the learned pieces.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from kinds.base import layout, sequence_example
from pipeline.config import PreprocessConfig


class LabeledTexts(layout.TextLayout):
    """Classifier examples: a SequenceExample of each text's token ids and their character ids, with its text and
    label (and label id)."""

    def __init__(self, params: PreprocessConfig) -> None:
        super().__init__(params)
        self.names = ("words", "chars", "labels") + (("wordpieces",) if self.learns_wordpieces else ())

    def unit_counts(
        self, batch: Sequence[dict[str, Any]], wordpieces: list[str] | None
    ) -> Iterator[tuple[tuple[str, str], int]]:
        import tensorflow as tf

        from models import text

        tokens = self.tokenizer(wordpieces)(tf.constant([r["text"] for r in batch]))
        yield from layout.counted("words", layout.flat_strings(text.normalize_words(tokens, self.params.lowercase)))
        yield from layout.counted("chars", layout.flat_strings(text.split_chars(tokens, self.params.max_word_length)))
        yield from layout.counted("labels", (record["label"] for record in batch))

    def vocabularies(
        self, counts: dict[str, layout.Entries], wordpieces: list[str] | None
    ) -> dict[str, layout.Entries]:
        from models import text

        p = self.params
        vocabularies = {
            "words": layout.ordered_vocabulary(counts["words"], text.RESERVED_TOKENS, p.min_count, p.max_size),
            "chars": layout.ordered_vocabulary(counts["chars"], text.RESERVED_TOKENS, p.char_min_count, None),
            "labels": layout.ordered_vocabulary(counts["labels"], (), 1, None),
        }
        return self.with_wordpieces(vocabularies, wordpieces)

    def encode(self, batch: Sequence[dict[str, Any]], vocabularies: dict[str, layout.Entries]) -> Iterator[tuple]:
        import tensorflow as tf

        from models import text

        if self._tables is None:
            self._tables = (
                text.lookup_table([token for token, _ in vocabularies["words"]]),
                text.lookup_table([char for char, _ in vocabularies["chars"]]),
                text.lookup_table([label for label, _ in vocabularies["labels"]], default_id=-1),
            )
        words, chars, labels = self._tables
        tokens = self.tokenizer(self.wordpieces_of(vocabularies))(tf.constant([r["text"] for r in batch]))
        token_ids = tf.ragged.map_flat_values(words.lookup, text.normalize_words(tokens, self.params.lowercase))
        label_ids = labels.lookup(tf.constant([r["label"] for r in batch])).numpy().tolist()
        lists = {
            text.TOKENS: sequence_example.feature_lists(tokens),
            text.TOKEN_IDS: sequence_example.feature_lists(token_ids),
            text.CHAR_IDS: sequence_example.feature_lists(text.char_ids(chars, tokens, self.params.max_word_length)),
        }
        for record, example_lists, label_id, length in zip(
            batch, layout.examples_of(lists), label_ids, layout.row_lengths(tokens), strict=True
        ):
            context = {
                text.KEY: sequence_example.bytes_feature(record["key"]),
                text.TEXT: sequence_example.bytes_feature(record["text"]),
                text.LABEL: sequence_example.bytes_feature(record["label"]),
                text.LABEL_ID: sequence_example.int64_feature([label_id]),
            }
            yield record["input_hash"], sequence_example.serialize(context, example_lists), length
