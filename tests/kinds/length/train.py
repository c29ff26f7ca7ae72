"""The length kind's recipe: an embedding and a GRU that count a line's words, trained on squared error."""

from __future__ import annotations

import dataclasses
import pathlib

import keras
import tensorflow as tf

from kinds.base.recipe import Monitor, Recipe
from models import text
from tests.kinds.length.preprocess import LENGTH


@dataclasses.dataclass(frozen=True)
class LengthSizes:
    words: int


def batches(files: list[pathlib.Path], batch_size: int, with_text: bool = False) -> tf.data.Dataset:
    """(token ids int32 [batch, time], length float32 [batch]) batches of the shards, in their order; with
    `with_text`, the texts string [batch] after them."""
    context = {LENGTH: tf.io.FixedLenFeature([1], tf.int64), text.TEXT: tf.io.FixedLenFeature([], tf.string)}
    sequence = {text.TOKEN_IDS: tf.io.FixedLenSequenceFeature([], tf.int64)}

    def parse(serialized):
        found, lists = tf.io.parse_single_sequence_example(serialized, context, sequence)
        ids, length = tf.cast(lists[text.TOKEN_IDS], tf.int32), tf.cast(found[LENGTH][0], tf.float32)
        return (ids, length, found[text.TEXT]) if with_text else (ids, length)

    shapes = ([None], [], []) if with_text else ([None], [])
    return tf.data.TFRecordDataset([str(f) for f in files]).map(parse).padded_batch(batch_size, padded_shapes=shapes)


class LengthRecipe(Recipe):
    def __init__(self, params, vocabulary, schedule=None) -> None:
        super().__init__(params, vocabulary, schedule)
        self.sizes = LengthSizes(len(vocabulary.tokens("words")))

    def build(self) -> keras.Model:
        ids = keras.Input((None,), dtype="int32", name=text.TOKEN_IDS)
        embedded = keras.layers.Embedding(self.sizes.words, self.params.model.embedding_dim, mask_zero=True)(ids)
        counted = keras.layers.GRU(self.params.model.units)(embedded)
        return keras.Model(ids, keras.layers.Dense(1)(counted)[:, 0], name="length_counter")

    def dataset(self, files, seed=None) -> tf.data.Dataset:
        found = batches(files, self.params.train.batch_size)
        return found if seed is None else found.shuffle(64, seed=seed)

    def loss(self) -> keras.losses.Loss:
        return keras.losses.MeanSquaredError()

    def accuracy(self) -> keras.metrics.Metric:
        return keras.metrics.MeanAbsoluteError(name="mae")

    def monitor(self) -> Monitor:
        return Monitor("val_mae", higher_is_better=False)
