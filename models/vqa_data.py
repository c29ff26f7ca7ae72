"""The question answerer's batches: the shards' examples -> ({"image", "token_ids"}, answer_ids).

One example is one question about an image (an image with four questions is seen four times an epoch).
"""

from __future__ import annotations

import pathlib
from collections.abc import Sequence

import tensorflow as tf

from models import images, input_pipeline, text

IMAGE_PATH = "image_path"
QUESTION = "question"
ANSWER = "answer"
ANSWER_ID = "answer_id"
STRINGS = (text.KEY, IMAGE_PATH, QUESTION, ANSWER)
_CONTEXT = {
    **{key: tf.io.FixedLenFeature([], tf.string) for key in (images.IMAGE, *STRINGS)},
    ANSWER_ID: tf.io.FixedLenFeature([], tf.int64),
}
_SEQUENCE = {text.TOKEN_IDS: tf.io.FixedLenSequenceFeature([], tf.int64)}


def vqa_dataset(
    files: Sequence[pathlib.Path],
    batch_size: int,
    image_size: int,
    *,
    shuffle_buffer: int = 0,
    seed: int | None = None,
    with_strings: bool = False,
    word_dropout: float = 0.0,
) -> tf.data.Dataset:
    """Batches of (inputs, answer_ids) for a question answerer, in shard order unless `shuffle_buffer`.

    Args:
        with_strings: add `key`, `image_path`, `question` and `answer` to the inputs, and keep the questions
            whose answer is unseen in training (answer id -1), which training and validation leave out.
        word_dropout: the probability of replacing a question word by [UNK] (training).

    Returns:
        A dataset of (inputs: {"image": uint8 [batch, size, size, 3], "token_ids": int32 [batch, time], ...},
        answer_ids int32 [batch]).
    """
    dataset = input_pipeline._records(files, shuffle_buffer, seed)

    def parse(serialized):
        context, sequence = tf.io.parse_single_sequence_example(
            serialized, context_features=_CONTEXT, sequence_features=_SEQUENCE
        )
        pixels = tf.io.decode_png(context.pop(images.IMAGE), channels=images.CHANNELS)
        features = {
            images.IMAGE: tf.ensure_shape(pixels, [image_size, image_size, images.CHANNELS]),
            text.TOKEN_IDS: tf.cast(sequence[text.TOKEN_IDS], tf.int32),
            ANSWER_ID: tf.cast(context.pop(ANSWER_ID), tf.int32),
        }
        if with_strings:
            features.update(context)
        return features

    dataset = dataset.map(parse, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if not with_strings:  # an answer unseen in training has no class to learn
        dataset = dataset.filter(lambda features: features[ANSWER_ID] >= 0)
    padded_shapes = {
        key: [image_size, image_size, images.CHANNELS]
        if key == images.IMAGE
        else [None]
        if key == text.TOKEN_IDS
        else []
        for key in dataset.element_spec
    }
    padding = {
        key: tf.constant("" if spec.dtype == tf.string else 0, spec.dtype) for key, spec in dataset.element_spec.items()
    }
    dataset = dataset.padded_batch(batch_size, padded_shapes=padded_shapes, padding_values=padding)

    def split(features):
        answer_ids = features.pop(ANSWER_ID)
        if word_dropout:
            real = features[text.TOKEN_IDS] > 0
            dropped = tf.random.uniform(tf.shape(real), seed=seed) < word_dropout
            features[text.TOKEN_IDS] = tf.where(real & dropped, text.UNK_ID, features[text.TOKEN_IDS])
        return features, answer_ids

    return dataset.map(split, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)
