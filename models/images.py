"""Images as the captioner reads them, in one TensorFlow function shared by preprocessing, training and the
exported graph: encoded bytes (PNG, JPEG, GIF or BMP) -> uint8 [size, size, 3].

The preprocess stage stores each image decoded, resized and encoded again as PNG (lossless), so that the
image the model trains on is, pixel for pixel, the one the SavedModel computes from the original bytes.
"""

from __future__ import annotations

import tensorflow as tf

IMAGE = "image"
CHANNELS = 3


def decode_and_resize(encoded: tf.Tensor, size: int) -> tf.Tensor:
    """uint8 [size, size, 3] of one encoded image (string scalar): grey images get three equal channels, an
    alpha channel is dropped, and the image is squashed to a square by bilinear resizing, as Xu et al. (2015)
    resize theirs; already square images of the right size pass unchanged."""
    image = tf.io.decode_image(encoded, channels=CHANNELS, expand_animations=False)
    image.set_shape([None, None, CHANNELS])
    resized = tf.image.resize(image, [size, size], method="bilinear", antialias=True)
    return tf.cast(tf.clip_by_value(tf.round(resized), 0.0, 255.0), tf.uint8)


def decode_batch(encoded: tf.Tensor, size: int) -> tf.Tensor:
    """uint8 [batch, size, size, 3] of encoded images string [batch]."""
    return tf.map_fn(
        lambda one: decode_and_resize(one, size),
        encoded,
        fn_output_signature=tf.TensorSpec([size, size, CHANNELS], tf.uint8),
    )
