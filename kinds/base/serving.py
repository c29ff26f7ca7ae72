"""What the serving modules of text-in kinds share: raw text to the ids their model reads, inside the graph."""

from __future__ import annotations

from collections.abc import Sequence

import tensorflow as tf

from models import text


class TextServingModule(tf.Module):
    """A `tf.Module` to save, holding a trained model, its tokenizer and its input vocabulary.

    Subclasses define `serve_text` (a `tf.function` of `text` string [batch]); `signatures` serves it as
    `serving_default`. The built-in kinds' outputs include `input_tokens` int32 [batch] (from `read`), the
    tokens of each raw text, of which the model reads the first `max_length` (saved as the variable
    `max_length`), so that a caller can say when a text was cut.

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
        self.cut = max_length  # ragged slicing takes a Python int; callers read the saved variable
        self.max_length = tf.Variable(max_length, dtype=tf.int32, trainable=False, name="max_length")

    def read(self, text_batch: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """Raw texts string [batch] -> (their ids, int32 [batch, time + 1], right padded with 0; the number of
        tokens of each text, int32 [batch], before the cut to `max_length`: serve it as `input_tokens`).

        One padding column more than needed, so that an empty text still has a (masked) time step.
        """
        tokens, input_tokens = self.cut_tokens(text_batch)
        return self.ids(tokens), input_tokens

    def cut_tokens(self, text_batch: tf.Tensor) -> tuple[tf.RaggedTensor, tf.Tensor]:
        """Raw texts string [batch] -> (their first `max_length` tokens as cut, string [batch, (time)]; the
        number of tokens of each text before the cut, int32 [batch])."""
        tokens = self.tokenizer(text_batch)
        return tokens[:, : self.cut], tf.cast(tokens.row_lengths(), tf.int32)

    def ids(self, tokens: tf.RaggedTensor) -> tf.Tensor:
        """Tokens string [batch, (time)] -> their word ids int32 [batch, time + 1] (as `read` gives them)."""
        normalized = text.normalize_words(tokens, self.lowercase)
        ids = tf.cast(tf.ragged.map_flat_values(self.word_table.lookup, normalized), tf.int32)
        return tf.pad(ids.to_tensor(0), [[0, 0], [0, 1]])

    def token_ids(self, text_batch: tf.Tensor) -> tf.Tensor:
        """The ids `read` gives, for a module that does not say how long its inputs were."""
        return self.read(text_batch)[0]

    def signatures(self) -> dict:
        return {"serving_default": self.serve_text.get_concrete_function()}
