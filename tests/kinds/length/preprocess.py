"""The length kind's layout: a vocabulary of words, and each line's word ids with its length as the target."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from kinds.base import layout, sequence_example

LENGTH = "length"


class Lines(layout.TextLayout):
    names = ("words",)

    def unit_counts(self, batch: Sequence[dict[str, Any]], wordpieces) -> Iterator[tuple[tuple[str, str], int]]:
        import tensorflow as tf

        tokens = self.tokenizer()(tf.constant([r["text"] for r in batch]))
        yield from layout.counted("words", layout.flat_strings(tokens))

    def vocabularies(self, counts: dict[str, layout.Entries], wordpieces) -> dict[str, layout.Entries]:
        from models import text

        return {"words": layout.ordered_vocabulary(counts["words"], text.RESERVED_TOKENS, 1, None)}

    def encode(self, batch: Sequence[dict[str, Any]], vocabularies: dict[str, layout.Entries]) -> Iterator[tuple]:
        import tensorflow as tf

        from models import text

        if self._tables is None:
            self._tables = text.lookup_table([word for word, _ in vocabularies["words"]])
        tokens = self.tokenizer()(tf.constant([r["text"] for r in batch]))
        ids = tf.ragged.map_flat_values(self._tables.lookup, tokens)
        lists = {text.TOKEN_IDS: sequence_example.feature_lists(ids)}
        for record, example_lists, length in zip(
            batch, layout.examples_of(lists), layout.row_lengths(tokens), strict=True
        ):
            context = {
                text.KEY: sequence_example.bytes_feature(record["key"]),
                text.TEXT: sequence_example.bytes_feature(record["text"]),
                LENGTH: sequence_example.int64_feature([length]),
            }
            yield record["input_hash"], sequence_example.serialize(context, example_lists), length
