"""The tagger's preprocess layout: tagged sentences `{"key", "tokens", "tags"}` -> vocabularies and features.

Vocabularies `words` (lowercased if configured), `chars` and `tags`; each sentence becomes a
SequenceExample of its tokens, tags and their ids, and the character ids of every token.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from kinds.base import layout, sequence_example
from pipeline.config import PreprocessConfig


class TaggedSentences:
    """Tagger examples `{"key", "tokens", "tags"}`: vocabularies `words`, `chars`, `tags`."""

    names = ("words", "chars", "tags")
    learns_wordpieces = False

    def __init__(self, params: PreprocessConfig) -> None:
        self.params = params
        self._featurizer = None

    def unit_counts(
        self, batch: Sequence[dict[str, Any]], wordpieces: list[str] | None
    ) -> Iterator[tuple[tuple[str, str], int]]:
        """(("words", form), count), (("chars", char), count) and (("tags", tag), count) over a batch of examples."""
        from models import text

        tokens = layout.ragged_strings([r["tokens"] for r in batch])
        yield from layout.counted("words", layout.flat_strings(text.normalize_words(tokens, self.params.lowercase)))
        yield from layout.counted("chars", layout.flat_strings(text.split_chars(tokens, self.params.max_word_length)))
        yield from layout.counted("tags", (tag for record in batch for tag in record["tags"]))

    def vocabularies(
        self, counts: dict[str, layout.Entries], wordpieces: list[str] | None
    ) -> dict[str, layout.Entries]:
        from models import text

        p = self.params
        return {
            "words": layout.ordered_vocabulary(counts["words"], text.RESERVED_TOKENS, p.min_count, p.max_size),
            "chars": layout.ordered_vocabulary(counts["chars"], text.RESERVED_TOKENS, p.char_min_count, None),
            "tags": layout.ordered_vocabulary(counts["tags"], text.RESERVED_TAGS, 1, None),
        }

    def encode(self, batch: Sequence[dict[str, Any]], vocabularies: dict[str, layout.Entries]) -> Iterator[tuple]:
        """(input hash, serialized SequenceExample, tokens) for each example of the batch."""
        from models import text

        if self._featurizer is None:
            self._featurizer = text.TaggerFeaturizer(
                *([token for token, _ in vocabularies[name]] for name in self.names),
                lowercase=self.params.lowercase,
                max_word_length=self.params.max_word_length,
            )
        tokens = layout.ragged_strings([r["tokens"] for r in batch])
        tags = layout.ragged_strings([r["tags"] for r in batch])
        lists = {
            text.TOKENS: sequence_example.feature_lists(tokens),
            text.TAGS: sequence_example.feature_lists(tags),
            text.TOKEN_IDS: sequence_example.feature_lists(self._featurizer.token_ids(tokens)),
            text.TAG_IDS: sequence_example.feature_lists(self._featurizer.tag_ids(tags)),
            text.CHAR_IDS: sequence_example.feature_lists(self._featurizer.char_ids(tokens)),
        }
        for record, example_lists in zip(batch, layout.examples_of(lists), strict=True):
            context = {text.KEY: sequence_example.bytes_feature(record["key"])}
            yield record["input_hash"], sequence_example.serialize(context, example_lists), len(record["tokens"])
