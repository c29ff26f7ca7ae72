"""The captioner's preprocess layout: `{"key", "image", "caption"}` -> the caption vocabulary and examples of
the image (decoded, resized, stored as PNG) and the caption's ids.

The caption is tokenized by the task's tokenizer into `target_words` (and `wordpieces`, for the wordpiece
tokenizer), as a translator's target: encoded between `[START]` and `[END]`. The image goes through
`models.images.decode_and_resize`, the exported graph's own function, and is stored losslessly, so that
training reads what serving will compute.
"""

from __future__ import annotations

import pathlib
from collections.abc import Iterator, Sequence
from typing import Any

from kinds.base import layout, sequence_example
from pipeline.config import PreprocessConfig


class ImageCaptions(layout.TextLayout):
    """Captioner examples: a SequenceExample of the caption's ids, with the image (PNG bytes), its path, its caption."""

    text_fields = ("caption",)

    def __init__(self, params: PreprocessConfig) -> None:
        super().__init__(params)
        self.names = ("target_words",) + (("wordpieces",) if self.learns_wordpieces else ())

    def unit_counts(
        self, batch: Sequence[dict[str, Any]], wordpieces: list[str] | None
    ) -> Iterator[tuple[tuple[str, str], int]]:
        import tensorflow as tf

        from models import text

        tokens = self.tokenizer(wordpieces)(tf.constant([r["caption"] for r in batch]))
        yield from layout.counted(
            "target_words", layout.flat_strings(text.normalize_words(tokens, self.params.lowercase))
        )

    def vocabularies(
        self, counts: dict[str, layout.Entries], wordpieces: list[str] | None
    ) -> dict[str, layout.Entries]:
        from models import text

        p = self.params
        words = layout.ordered_vocabulary(counts["target_words"], text.RESERVED_TOKENS, p.min_count, p.max_size)
        return self.with_wordpieces({"target_words": words}, wordpieces)

    def encode(self, batch: Sequence[dict[str, Any]], vocabularies: dict[str, layout.Entries]) -> Iterator[tuple]:
        import tensorflow as tf

        from models import images, text
        from models.caption_data import IMAGE_PATH

        if self._tables is None:
            self._tables = text.lookup_table([t for t, _ in vocabularies["target_words"]])
        tokenizer = self.tokenizer(self.wordpieces_of(vocabularies))
        tokens = text.normalize_words(tokenizer(tf.constant([r["caption"] for r in batch])), self.params.lowercase)
        ids = tf.ragged.map_flat_values(self._tables.lookup, tokens)
        start, end = sequence_example.int64_entry(text.START_ID), sequence_example.int64_entry(text.END_ID)
        lists = {text.TARGET_IDS: [start + row + end for row in sequence_example.feature_lists(ids)]}
        for record, example_lists, length in zip(
            batch, layout.examples_of(lists), layout.row_lengths(ids), strict=True
        ):
            pixels = images.decode_and_resize(
                tf.constant(pathlib.Path(record["image"]).read_bytes()), self.params.image_size
            )
            context = {
                text.KEY: sequence_example.bytes_feature(record["key"]),
                images.IMAGE: sequence_example.bytes_feature(tf.io.encode_png(pixels).numpy()),
                IMAGE_PATH: sequence_example.bytes_feature(record["image"]),
                text.TARGET: sequence_example.bytes_feature(record["caption"]),
            }
            yield record["input_hash"], sequence_example.serialize(context, example_lists), length
