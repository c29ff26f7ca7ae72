"""The captioner's batches: the shards' examples -> ({"image", "target_in"}, target_out, weights).

One example is one caption of an image (an image with five captions is seen five times an epoch, as Xu
et al. train). Training batches are bucketed by caption length, like a translator's by source length.
"""

from __future__ import annotations

import pathlib
from collections.abc import Sequence

import tensorflow as tf

from models import images, input_pipeline, text
from models.buckets import BUCKET_BOUNDARIES, bucket_batch_sizes

IMAGE_PATH = "image_path"
_CONTEXT = {key: tf.io.FixedLenFeature([], tf.string) for key in (text.KEY, images.IMAGE, IMAGE_PATH, text.TARGET)}
_SEQUENCE = {text.TARGET_IDS: tf.io.FixedLenSequenceFeature([], tf.int64)}


def captioner_dataset(
    files: Sequence[pathlib.Path],
    batch_size: int,
    image_size: int,
    *,
    shuffle_buffer: int = 0,
    seed: int | None = None,
    with_strings: bool = False,
) -> tf.data.Dataset:
    """Batches of (inputs, target_out, weights) for a captioner.

    Returns:
        A dataset of (inputs: {"image": uint8 [batch, size, size, 3], "target_in": int32 [batch, tgt], and with
        `with_strings` "key", "image_path", "target" (the caption)}, target_out int32 [batch, tgt], weights
        float32 [batch, tgt]: 1 on real tokens).
    """
    dataset = input_pipeline._records(files, shuffle_buffer, seed)

    def parse(serialized):
        context, sequence = tf.io.parse_single_sequence_example(
            serialized, context_features=_CONTEXT, sequence_features=_SEQUENCE
        )
        target = tf.cast(sequence[text.TARGET_IDS], tf.int32)
        pixels = tf.io.decode_png(context.pop(images.IMAGE), channels=images.CHANNELS)
        features = {images.IMAGE: tf.ensure_shape(pixels, [image_size, image_size, images.CHANNELS])}
        features.update({text.TARGET_IN: target[:-1], "out": target[1:]})
        if with_strings:
            features.update(context)
        return features

    dataset = dataset.map(parse, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    scalars = (text.KEY, IMAGE_PATH, text.TARGET)
    padded_shapes = {
        key: [] if key in scalars else ([image_size, image_size, images.CHANNELS] if key == images.IMAGE else [None])
        for key in dataset.element_spec
    }
    padding = {
        key: tf.constant("" if spec.dtype == tf.string else 0, spec.dtype) for key, spec in dataset.element_spec.items()
    }
    if shuffle_buffer:
        # By the caption's tokens, the length the shards' manifest holds (the curriculum counts steps by it).
        boundaries = list(BUCKET_BOUNDARIES)
        dataset = dataset.bucket_by_sequence_length(
            lambda f: tf.shape(f["out"])[0] - 1,
            bucket_boundaries=boundaries,
            bucket_batch_sizes=bucket_batch_sizes(boundaries, batch_size, 0),
            padded_shapes=padded_shapes,
            padding_values=padding,
        )
    else:
        dataset = dataset.padded_batch(batch_size, padded_shapes=padded_shapes, padding_values=padding)

    def split(features):
        target_out = features.pop("out")
        return features, target_out, tf.cast(target_out > 0, tf.float32)

    return dataset.map(split).prefetch(tf.data.AUTOTUNE)
