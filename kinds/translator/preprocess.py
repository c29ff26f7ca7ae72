"""The translator's preprocess layout: pairs `{"key", "source", "target"}` -> vocabularies and features.

Both sides are tokenized by the task's tokenizer. Vocabularies: `source_words` and `target_words`, or one
`words` with `shared_vocabulary` (and `wordpieces`, learned from both sides, for the wordpiece
tokenizer). A target is encoded between `[START]` and `[END]`; the decoder reads it shifted right and
predicts it shifted left.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from kinds.base import layout, sequence_example
from pipeline.config import PreprocessConfig

SIDES = ("source", "target")


class TextPairs(layout.TextLayout):
    """Translator examples: a SequenceExample of the source ids and the target ids of each pair, with both texts."""

    text_fields = SIDES

    def __init__(self, params: PreprocessConfig) -> None:
        super().__init__(params)
        sides = ("words",) if params.shared_vocabulary else ("source_words", "target_words")
        self.names = sides + (("wordpieces",) if self.learns_wordpieces else ())

    def vocabulary_of(self, side: str) -> str:
        return "words" if self.params.shared_vocabulary else f"{side}_words"

    def unit_counts(
        self, batch: Sequence[dict[str, Any]], wordpieces: list[str] | None
    ) -> Iterator[tuple[tuple[str, str], int]]:
        import tensorflow as tf

        from models import text

        for side in SIDES:
            tokens = self.tokenizer(wordpieces)(tf.constant([r[side] for r in batch]))
            forms = layout.flat_strings(text.normalize_words(tokens, self.params.lowercase))
            yield from layout.counted(self.vocabulary_of(side), forms)

    def vocabularies(
        self, counts: dict[str, layout.Entries], wordpieces: list[str] | None
    ) -> dict[str, layout.Entries]:
        from models import text

        p = self.params
        vocabularies = {
            name: layout.ordered_vocabulary(counts[name], text.RESERVED_TOKENS, p.min_count, p.max_size)
            for name in self.names
            if name != "wordpieces"
        }
        return self.with_wordpieces(vocabularies, wordpieces)

    def encode(self, batch: Sequence[dict[str, Any]], vocabularies: dict[str, layout.Entries]) -> Iterator[tuple]:
        import tensorflow as tf

        from models import text

        if self._tables is None:
            self._tables = {
                side: text.lookup_table([t for t, _ in vocabularies[self.vocabulary_of(side)]]) for side in SIDES
            }
        tokenizer = self.tokenizer(self.wordpieces_of(vocabularies))
        ids = {}
        for side in SIDES:
            tokens = text.normalize_words(tokenizer(tf.constant([r[side] for r in batch])), self.params.lowercase)
            ids[side] = tf.ragged.map_flat_values(self._tables[side].lookup, tokens)
        start, end = sequence_example.int64_entry(text.START_ID), sequence_example.int64_entry(text.END_ID)
        lists = {
            text.SOURCE_IDS: sequence_example.feature_lists(ids["source"]),
            text.TARGET_IDS: [start + row + end for row in sequence_example.feature_lists(ids["target"])],
        }
        for record, example_lists, length in zip(
            batch, layout.examples_of(lists), layout.row_lengths(ids["source"]), strict=True
        ):
            context = {
                text.KEY: sequence_example.bytes_feature(record["key"]),
                text.SOURCE: sequence_example.bytes_feature(record["source"]),
                text.TARGET: sequence_example.bytes_feature(record["target"]),
            }
            yield record["input_hash"], sequence_example.serialize(context, example_lists), length
