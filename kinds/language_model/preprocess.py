"""The language model's preprocess layout: documents `{"key", "text"}` -> the `units` vocabulary and features.

Units are what the task's tokenizer cuts (characters by default). A document is encoded as `[START]`
and its unit ids; training lays documents end to end and cuts them into windows.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from kinds.base import layout, sequence_example
from pipeline.config import PreprocessConfig


class Documents(layout.TextLayout):
    """Language-model examples: vocabularies `units` (and `wordpieces` for the wordpiece tokenizer)."""

    def __init__(self, params: PreprocessConfig) -> None:
        super().__init__(params)
        self.names = ("units",) + (("wordpieces",) if self.learns_wordpieces else ())

    def unit_counts(
        self, batch: Sequence[dict[str, Any]], wordpieces: list[str] | None
    ) -> Iterator[tuple[tuple[str, str], int]]:
        import tensorflow as tf

        from models import text

        tokens = self.tokenizer(wordpieces)(tf.constant([r["text"] for r in batch]))
        yield from layout.counted("units", layout.flat_strings(text.normalize_words(tokens, self.params.lowercase)))

    def vocabularies(
        self, counts: dict[str, layout.Entries], wordpieces: list[str] | None
    ) -> dict[str, layout.Entries]:
        from models import text

        p = self.params
        vocabularies = {
            "units": layout.ordered_vocabulary(counts["units"], text.RESERVED_TOKENS, p.min_count, p.max_size)
        }
        return self.with_wordpieces(vocabularies, wordpieces)

    def encode(self, batch: Sequence[dict[str, Any]], vocabularies: dict[str, layout.Entries]) -> Iterator[tuple]:
        import tensorflow as tf

        from models import text

        if self._tables is None:
            self._tables = text.lookup_table([unit for unit, _ in vocabularies["units"]])
        tokens = self.tokenizer(self.wordpieces_of(vocabularies))(tf.constant([r["text"] for r in batch]))
        ids = tf.ragged.map_flat_values(self._tables.lookup, text.normalize_words(tokens, self.params.lowercase))
        start = sequence_example.int64_entry(text.START_ID)
        for record, unit_ids, length in zip(
            batch, sequence_example.feature_lists(ids), layout.row_lengths(ids), strict=True
        ):
            context = {text.KEY: sequence_example.bytes_feature(record["key"])}
            yield record["input_hash"], sequence_example.serialize(context, {text.TOKEN_IDS: start + unit_ids}), length
