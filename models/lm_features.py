"""A character language model's hidden states as features of a sentence's words (contextual string embeddings,
Akbik, Blythe and Vollgraf 2018).

The sentence is read as a character language model reads text: its words joined by single spaces, after
`[START]`, from the model's start state. A word's feature is the top recurrent layer's output at the word's
last character (a forward model), or at its first character for a model trained on reversed text (a
backward model, which reads the sentence from its end). The layer takes the tagger's own character ids and
maps them to the language model's units with a fixed table, so the tagger's inputs, its input pipeline and
its SavedModel's signatures are the same with or without these features: the language model is inside the
tagger, and the exported tagger still takes raw strings.

What the language model reads of a word is what the tagger's character vocabulary holds of it: its first
`preprocess.max_word_length` characters, a character unseen in the tagger's training as `[UNK]`.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import tensorflow as tf
from keras import ops

from models import text
from models.language_model import RESETS, LanguageModelSizes, build_language_model

DIRECTIONS = ("forward", "backward")


def states_reader(language_model: keras.Model, sizes: LanguageModelSizes, model_config) -> keras.Model:
    """A stateless copy of a trained language model, from its inputs to its top recurrent layer's output
    float [batch, time, hidden_dim] (the states before the output layer)."""
    copy = build_language_model(sizes, model_config)
    copy.set_weights(language_model.get_weights())
    top = [layer for layer in copy.layers if isinstance(layer, keras.layers.RNN)][-1]
    return keras.Model(copy.inputs, top.output, name="language_model_states")


def unit_table(chars: Sequence[str], units: Sequence[str], tokenizer: text.TextTokenizer, lowercase: bool) -> list[int]:
    """For each entry of a character vocabulary (reserved entries first), the language model's unit id: the
    character as the language model's tokenizer cuts it (its normalisation and case), `[UNK]` when that is not
    one unit of `units`; padding stays padding."""
    reserved = len(text.RESERVED_TOKENS)
    index = {unit: position for position, unit in enumerate(units)}
    cut = text.normalize_words(tokenizer(tf.constant(list(chars[reserved:]) or [""])), lowercase).to_list()
    table = [text.PAD_ID] + [text.UNK_ID] * (reserved - 1)
    for pieces in cut[: len(chars) - reserved]:
        table.append(index.get(pieces[0].decode("utf-8"), text.UNK_ID) if len(pieces) == 1 else text.UNK_ID)
    return table


@keras.saving.register_keras_serializable(package="seqpipe")
class LanguageModelStates(keras.layers.Layer):
    """Each word's language-model feature, from the tagger's character ids.

    Args:
        reader: a model from `states_reader`.
        table: the language model's unit of each id of the tagger's character vocabulary (`unit_table`).
        space_id: the language model's unit of " ".
        direction: `forward` (the state at a word's last character) or `backward` (a model trained on
            reversed text: the state at a word's first character, the sentence read from its end).

    Call args:
        char_ids: int [batch, time, chars], 0 on padding (the tagger's vocabulary).

    Returns:
        float [batch, time, hidden_dim]; masked where a word has no characters (padding).
    """

    def __init__(
        self, reader: keras.Model, table: Sequence[int], space_id: int, direction: str = "forward", **kwargs
    ) -> None:
        super().__init__(**kwargs)
        if direction not in DIRECTIONS:
            raise ValueError(f"direction must be one of {DIRECTIONS}, got {direction!r}")
        self.reader = reader
        self.table = [int(unit) for unit in table]
        self.space_id = int(space_id)
        self.direction = direction
        self.units = int(reader.output.shape[-1])

    def build(self, input_shape):
        self.built = True

    def sequences(self, char_ids: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """What the language model reads: unit ids int32 [batch, length] (`[START]` first, right padded), and
        the position in them of each word's state int32 [batch, time]."""
        char_ids = tf.cast(char_ids, tf.int32)
        batch, time, width = tf.shape(char_ids)[0], tf.shape(char_ids)[1], tf.shape(char_ids)[2]
        units = tf.gather(tf.constant(self.table, tf.int32), char_ids)
        lengths = tf.reduce_sum(tf.cast(char_ids > 0, tf.int32), axis=-1)  # [batch, time]
        # Each word's units and then a space: [batch, time, width + 1]; a padding word gives nothing.
        spaced = tf.where(
            tf.range(width + 1) == lengths[..., None], self.space_id, tf.pad(units, [[0, 0], [0, 0], [0, 1]])
        )
        taken = tf.where(lengths > 0, lengths + 1, 0)
        words = tf.RaggedTensor.from_tensor(tf.reshape(spaced, [-1, width + 1]), lengths=tf.reshape(taken, [-1]))
        sentences = tf.RaggedTensor.from_uniform_row_length(words, tf.cast(time, tf.int64)).merge_dims(1, 2)
        total = tf.cast(sentences.row_lengths(), tf.int32)  # units of each sentence, the last space included
        read = sentences.to_tensor(0)
        if self.direction == "forward":
            positions = tf.cumsum(taken, axis=1) - 1  # the last character, counting the [START] before it
        else:
            # Reversed, but for the last space: the words from the last to the first, each spelled backwards.
            read = tf.reverse_sequence(read, tf.maximum(total - 1, 0), seq_axis=1, batch_axis=0)
            positions = total[:, None] - 1 - tf.cumsum(taken, axis=1, exclusive=True)
        start = tf.fill([batch, 1], text.START_ID)
        positions = tf.clip_by_value(positions, 0, tf.reduce_max(total))
        return tf.concat([start, read], axis=1), positions

    def call(self, char_ids):
        read, positions = self.sequences(char_ids)
        inputs = {text.TOKEN_IDS: read, RESETS: tf.zeros(tf.shape(read), self.compute_dtype)}
        states = self.reader(inputs, training=False)  # dropout off, even when the tagger trains
        return tf.gather(states, positions, batch_dims=1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:2], self.units)

    def compute_mask(self, char_ids, mask=None):
        return ops.any(ops.not_equal(char_ids, 0), axis=-1)  # as the character encoders'

    def get_config(self):
        return {
            **super().get_config(),
            "reader": keras.saving.serialize_keras_object(self.reader),
            "table": self.table,
            "space_id": self.space_id,
            "direction": self.direction,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["reader"] = keras.saving.deserialize_keras_object(config["reader"])
        return cls(**config)
