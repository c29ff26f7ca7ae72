"""The question answerer's preprocess layout: `{"key", "image", "question", "answer"}` -> the question and answer
vocabularies and examples of the image (decoded, resized, stored as PNG), the question's ids and the answer's id.

Vocabularies: `words` (the question's tokens by the task's tokenizer, reserved tokens first), `answers` (every
answer of the training split a class, no reserved entries; an answer seen only in held-out splits gets id -1 and
is scored wrong), and for the `wordpiece` tokenizer `wordpieces`. The image goes through
`models.images.decode_and_resize`, the exported graph's own function, and is stored losslessly, so that training
reads what serving will compute.
"""

from __future__ import annotations

import pathlib
from collections.abc import Iterator, Sequence
from typing import Any

from kinds.base import layout, sequence_example
from pipeline.config import PreprocessConfig


class QuestionsAboutImages(layout.TextLayout):
    """VQA examples: a SequenceExample of the question's ids, with the image (PNG bytes), its path, the question,
    the answer and the answer's id."""

    text_fields = ("question",)

    def __init__(self, params: PreprocessConfig) -> None:
        super().__init__(params)
        self.names = ("words", "answers") + (("wordpieces",) if self.learns_wordpieces else ())

    def _token_ids(self, batch, wordpieces):
        import tensorflow as tf

        from models import text

        tokens = self.tokenizer(wordpieces)(tf.constant([r["question"] for r in batch]))
        return text.normalize_words(tokens, self.params.lowercase)

    def unit_counts(
        self, batch: Sequence[dict[str, Any]], wordpieces: list[str] | None
    ) -> Iterator[tuple[tuple[str, str], int]]:
        yield from layout.counted("words", layout.flat_strings(self._token_ids(batch, wordpieces)))
        yield from layout.counted("answers", (record["answer"] for record in batch))

    def vocabularies(
        self, counts: dict[str, layout.Entries], wordpieces: list[str] | None
    ) -> dict[str, layout.Entries]:
        from models import text

        p = self.params
        vocabularies = {
            "words": layout.ordered_vocabulary(counts["words"], text.RESERVED_TOKENS, p.min_count, p.max_size),
            "answers": layout.ordered_vocabulary(counts["answers"], (), 1, None),
        }
        return self.with_wordpieces(vocabularies, wordpieces)

    def encode(self, batch: Sequence[dict[str, Any]], vocabularies: dict[str, layout.Entries]) -> Iterator[tuple]:
        import tensorflow as tf

        from models import images, text, vqa_data

        if self._tables is None:
            self._tables = (
                text.lookup_table([token for token, _ in vocabularies["words"]]),
                text.lookup_table([answer for answer, _ in vocabularies["answers"]], default_id=-1),
            )
        words, answers = self._tables
        tokens = self._token_ids(batch, self.wordpieces_of(vocabularies))
        token_ids = tf.ragged.map_flat_values(words.lookup, tokens)
        answer_ids = answers.lookup(tf.constant([r["answer"] for r in batch])).numpy().tolist()
        lists = {text.TOKEN_IDS: sequence_example.feature_lists(token_ids)}
        for record, example_lists, answer_id, length in zip(
            batch, layout.examples_of(lists), answer_ids, layout.row_lengths(token_ids), strict=True
        ):
            pixels = images.decode_and_resize(
                tf.constant(pathlib.Path(record["image"]).read_bytes()), self.params.image_size
            )
            context = {
                text.KEY: sequence_example.bytes_feature(record["key"]),
                images.IMAGE: sequence_example.bytes_feature(tf.io.encode_png(pixels).numpy()),
                vqa_data.IMAGE_PATH: sequence_example.bytes_feature(record["image"]),
                vqa_data.QUESTION: sequence_example.bytes_feature(record["question"]),
                vqa_data.ANSWER: sequence_example.bytes_feature(record["answer"]),
                vqa_data.ANSWER_ID: sequence_example.int64_feature([answer_id]),
            }
            yield record["input_hash"], sequence_example.serialize(context, example_lists), length
