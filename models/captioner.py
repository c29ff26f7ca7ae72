"""Image captioner with spatial attention (Show, Attend and Tell: Xu et al. 2015).

A CNN turns the image into a grid of feature vectors, the attention memory: a small network trained from
scratch (`ImageEncoder`), or a Keras application (`APPLICATIONS`) with the user's own weights, since none
can be downloaded here. The decoder is the translator's (`models.attentional_decoder.AttentionalDecoder`: input
feeding, Bahdanau or Luong attention, scheduled sampling, greedy / sampled / beam-search decoding), with
the grid's locations in place of source words and the grid's mean as the summary that starts it. A
convolution's features say what is at a location but hardly where it is, and the attention's context, a
weighted mean of them, loses the rest: each location's features therefore get a learned position vector added
(as ViT's patches do, Dosovitskiy et al. 2021), so that "left of" and "above" can be read from the context
(on coloured-shape scenes the relation words were learned in a third of the epochs). Training adds Xu et
al.'s doubly stochastic attention penalty, λ · mean over locations of (1 − Σ_t α_t,i)², which
asks that every part of the image be looked at over the whole caption.
"""

from __future__ import annotations

import dataclasses

import keras
import tensorflow as tf

from models.attentional_decoder import (
    AttentionalDecoder,
    EncoderMemory,
    TeacherForcedOutputs,
    decode_by,
    decoder_arguments,
)
from models.images import CHANNELS, IMAGE
from models.text import PAD_ID, START_ID

# A Keras application -> the module whose `preprocess_input` maps pixels in [0, 255] to what it expects.
APPLICATIONS = {
    "MobileNetV2": "mobilenet_v2",
    "ResNet50": "resnet50",
    "EfficientNetB0": "efficientnet",
    "VGG16": "vgg16",
}
ENCODERS = ("cnn", *APPLICATIONS)
# The small CNN: this many blocks (two 3x3 convolutions and a 2x2 max pool each): a 64-pixel image
# becomes an 8x8 grid, a cell 8 pixels a side, about a small digit's half.
CNN_BLOCKS = 3
# The batch-norm statistics used at inference follow the training batches with this momentum: with
# Keras's 0.99 they average the last ~100 batches, under an epoch here, and lag the weights' changes.
NORM_MOMENTUM = 0.9


@keras.saving.register_keras_serializable(package="seqpipe")
class ImageEncoder(keras.layers.Layer):
    """A small CNN from scratch: pixels / 255 -> `CNN_BLOCKS` blocks of [3x3 conv, batch norm, ReLU] x 2 and a
    2x2 max pool, the channels doubling from `filters` each block -> float [batch, size/8, size/8, 4·filters]."""

    def __init__(self, filters: int = 32, **kwargs) -> None:
        super().__init__(**kwargs)
        self.filters = filters
        self.blocks = []
        for block in range(CNN_BLOCKS):
            width = filters * 2**block
            layers = []
            for index in range(2):
                layers += [
                    keras.layers.Conv2D(width, 3, padding="same", use_bias=False, name=f"conv_{block}_{index}"),
                    keras.layers.BatchNormalization(momentum=NORM_MOMENTUM, name=f"norm_{block}_{index}"),
                    keras.layers.ReLU(name=f"relu_{block}_{index}"),
                ]
            layers.append(keras.layers.MaxPooling2D(2, name=f"pool_{block}"))
            self.blocks.append(layers)
        self.channels = filters * 2 ** (CNN_BLOCKS - 1)

    def build(self, input_shape):
        shape = tuple(input_shape)
        for layers in self.blocks:
            for layer in layers:
                layer.build(shape)
                shape = layer.compute_output_shape(shape)
        self.built = True

    def call(self, images, training=None):
        x = tf.cast(images, self.compute_dtype) / 255.0
        for layers in self.blocks:
            for layer in layers:
                x = layer(x, training=training) if isinstance(layer, keras.layers.BatchNormalization) else layer(x)
        return x

    def get_config(self):
        return {**super().get_config(), "filters": self.filters}


def _application(name: str, image_size: int, weights: str | None) -> keras.Model:
    """A Keras application without its classifier; its weights from the file `weights` (None: random)."""
    model = getattr(keras.applications, name)(
        include_top=False, weights=None, input_shape=(image_size, image_size, CHANNELS)
    )
    if weights:
        model.load_weights(weights)
    return model


@keras.saving.register_keras_serializable(package="seqpipe")
class Captioner(AttentionalDecoder):
    """A CNN encoder and an attentional recurrent decoder: an image -> its caption.

    Args:
        target_words: caption vocabulary size, reserved tokens included ([PAD] 0, [START] 2, [END] 3).
        image_size: the side of the square uint8 images it reads (`models.images.decode_and_resize`).
        encoder: `cnn` (`ImageEncoder`, trained from scratch) or a name in `APPLICATIONS`.
        encoder_filters: the small CNN's first block's channels (the grid has 4x as many).
        encoder_weights: a weights file for an application encoder (None: random, trained with the rest).
        attention_penalty: λ of the doubly stochastic attention penalty; 0: none.
        grid_positions: add a learned position vector to each location of the grid.
        cell, num_layers, embedding_dim, hidden_dim, dropout, attention_type, scheduled_sampling: the
            decoder's, as in `AttentionalDecoder`.

    Call args:
        inputs: {"image": uint8 [batch, size, size, 3], "target_in": int [batch, tgt]}.
    """

    source_key = IMAGE

    def __init__(
        self,
        target_words: int,
        image_size: int = 64,
        encoder: str = "cnn",
        encoder_filters: int = 32,
        encoder_weights: str | None = None,
        attention_penalty: float = 1.0,
        grid_positions: bool = True,
        cell: str = "lstm",
        num_layers: int = 1,
        embedding_dim: int = 64,
        hidden_dim: int = 256,
        dropout: float = 0.0,
        attention_type: str = "bahdanau",
        scheduled_sampling: str | None = None,
        **kwargs,
    ) -> None:
        if encoder not in ENCODERS:
            raise ValueError(f"unknown encoder {encoder!r} (available: {', '.join(ENCODERS)})")
        if attention_type == "none":
            raise ValueError("a captioner attends over the image's grid: attention `none` would read one corner of it")
        if encoder == "cnn":
            image_encoder, key_dim = ImageEncoder(encoder_filters, name="image_encoder"), encoder_filters * 4
        else:
            image_encoder = _application(encoder, image_size, encoder_weights)
            key_dim = int(image_encoder.output.shape[-1])
        if attention_type == "luong_dot" and key_dim != hidden_dim:
            raise ValueError(f"luong_dot attention needs hidden_dim equal to the grid's {key_dim} channels")
        super().__init__(
            target_words,
            key_dim=key_dim,
            cell=cell,
            num_layers=num_layers,
            embedding_dim=embedding_dim,
            hidden_dim=hidden_dim,
            dropout=dropout,
            attention_type=attention_type,
            scheduled_sampling=scheduled_sampling,
            **kwargs,
        )
        self.image_size = image_size
        self.encoder = encoder
        self.encoder_filters = encoder_filters
        self.encoder_weights = encoder_weights
        self.attention_penalty = attention_penalty
        self.grid_positions = grid_positions
        self.image_encoder = image_encoder
        self.grid = image_size // 2**CNN_BLOCKS if encoder == "cnn" else int(image_encoder.output.shape[1])
        self.positions = None

    def build(self, input_shape=None):
        if self.built:
            return
        self.image_encoder.build((None, self.image_size, self.image_size, CHANNELS))
        if self.grid_positions:
            # Small at first (ViT's 0.02), so that the features lead until the positions are learned.
            self.positions = self.add_weight(
                shape=(self.grid * self.grid, self.key_dim),
                initializer=keras.initializers.TruncatedNormal(stddev=0.02),
                name="grid_positions",
            )
        self.build_decoder()
        self.built = True

    def get_config(self):
        return {
            **keras.Model.get_config(self),
            "target_words": self.target_words,
            "image_size": self.image_size,
            "encoder": self.encoder,
            "encoder_filters": self.encoder_filters,
            "encoder_weights": self.encoder_weights,
            "attention_penalty": self.attention_penalty,
            "grid_positions": self.grid_positions,
            "cell": self.cell,
            "num_layers": self.num_layers,
            "embedding_dim": self.embedding_dim,
            "hidden_dim": self.hidden_dim,
            "dropout": self.dropout,
            "attention_type": self.attention_type,
            "scheduled_sampling": self.scheduled_sampling,
        }

    def features(self, images, training=None) -> tf.Tensor:
        """The grid float [batch, grid, grid, key_dim] of uint8 images [batch, size, size, 3]."""
        if self.encoder == "cnn":
            return self.image_encoder(images, training=training)
        module = getattr(keras.applications, APPLICATIONS[self.encoder])
        return self.image_encoder(module.preprocess_input(tf.cast(images, tf.float32)), training=training)

    def encode(self, images, training=None) -> EncoderMemory:
        """The grid's locations, row by row, each with its position vector, as the memory (every one real); their
        mean starts the decoder."""
        self.build()
        grid = self.features(images, training=training)
        batch = tf.shape(grid)[0]
        outputs = tf.reshape(grid, [batch, self.grid * self.grid, self.key_dim])
        if self.positions is not None:
            outputs = outputs + tf.cast(self.positions, outputs.dtype)[None]
        mask = tf.ones([batch, self.grid * self.grid], tf.bool)
        return self.memory(outputs, mask, tf.reduce_mean(outputs, axis=1))

    def regularize(self, outputs: TeacherForcedOutputs, target_in, training) -> None:
        """Xu et al.'s doubly stochastic penalty on a training pass: each location's attention summed over the
        caption's real steps should be near 1."""
        if not training or not self.attention_penalty:
            return
        real = tf.cast(tf.not_equal(target_in, PAD_ID), outputs.attention.dtype)[:, :, None]
        coverage = tf.reduce_sum(outputs.attention * real, axis=1)  # [batch, locations]
        self.add_loss(self.attention_penalty * tf.reduce_mean(tf.square(1.0 - coverage)))

    def attention_maps(self, images, target_in) -> tf.Tensor:
        """Teacher-forced attention float [batch, tgt, grid, grid] (no dropout), for pictures and probes."""
        weights = self.attention_weights(images, target_in)
        return tf.reshape(weights, [tf.shape(weights)[0], tf.shape(weights)[1], self.grid, self.grid])


@dataclasses.dataclass(frozen=True)
class CaptionerSizes:
    """What the model's shape takes from the data: the caption vocabulary and the images' side."""

    target_words: int
    image_size: int


def build_captioner(sizes: CaptionerSizes, model_config, scheduled_sampling: str | None = None) -> Captioner:
    """A `Captioner`, built, from a `pipeline.config.ModelConfig` (cell, layers, embedding_dim, hidden_dim,
    dropout, attention, encoder, encoder_filters, encoder_weights, attention_penalty, grid_positions)."""
    c = model_config
    model = Captioner(
        sizes.target_words,
        image_size=sizes.image_size,
        encoder=c.encoder,
        encoder_filters=c.encoder_filters,
        encoder_weights=c.encoder_weights,
        attention_penalty=c.attention_penalty,
        grid_positions=c.grid_positions,
        **decoder_arguments(c, scheduled_sampling),
        name=f"{c.encoder.lower()}_{c.cell}_{c.attention}_captioner",
    )
    model.build()
    return model


def decode(model: Captioner, images: tf.Tensor, config, strategy: str | None = None) -> tf.Tensor:
    """Caption ids int32 [batch, time] of uint8 images [batch, size, size, 3] by a `DecodeConfig`'s strategy
    (or `strategy`: greedy, sample, beam, wrong_start). An image has no source length: a caption stops at
    [END] or after `max_length_extra` tokens."""
    return decode_by(model, images, config.max_length_extra, config, strategy)


def attention_of(model: Captioner, pixels: tf.Tensor, ids: tf.Tensor) -> tf.Tensor:
    """The attention float [batch, time, grid, grid] at each step of the captions `ids` int32 [batch, time] of
    images uint8 [batch, size, size, 3]: the decoder teacher forced on those captions, which reproduces the
    states that decoded them exactly."""
    target_in = tf.concat([tf.fill([tf.shape(ids)[0], 1], START_ID), ids[:, :-1]], axis=1)
    return model.attention_maps(pixels, target_in)
