"""What the serving modules of text-in kinds share: raw text to the ids their model reads, inside the graph."""

from __future__ import annotations

from collections.abc import Sequence

import tensorflow as tf

from models import text


class TextServingModule(tf.Module):
    """A `tf.Module` to save, holding a trained model, its tokenizer and its input vocabulary.

    Subclasses define `serve_text` (a `tf.function` of `text` string [batch]); `signatures` serves it as
    `serving_default`.

    Args:
        name: the module's name in the SavedModel.
        model: the trained Keras model.
        tokenizer: the task's `models.text.TextTokenizer`, the one preprocessing ran.
        words: the input vocabulary, reserved tokens first.
        lowercase: look words up lowercased.
        max_length: raw text is cut to this many tokens.
    """

    def __init__(
        self, name: str, model, tokenizer: text.TextTokenizer, words: Sequence[str], *, lowercase: bool, max_length: int
    ) -> None:
        super().__init__(name=name)
        self.model = model
        self.tokenizer = tokenizer
        self.word_table = text.lookup_table(words)
        self.lowercase = lowercase
        self.max_length = max_length

    def token_ids(self, text_batch: tf.Tensor) -> tf.Tensor:
        """Ids of raw texts string [batch] -> int32 [batch, time + 1], right padded with 0.

        One padding column more than needed, so that an empty text still has a (masked) time step.
        """
        tokens = text.normalize_words(self.tokenizer(text_batch), self.lowercase)[:, : self.max_length]
        ids = tf.cast(tf.ragged.map_flat_values(self.word_table.lookup, tokens), tf.int32)
        return tf.pad(ids.to_tensor(0), [[0, 0], [0, 1]])

    def signatures(self) -> dict:
        return {"serving_default": self.serve_text.get_concrete_function()}
