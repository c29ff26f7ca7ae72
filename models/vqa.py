"""Visual question answering: the question's recurrent state steers attention over an image's grid (stacked
attention networks, Yang, He, Gao, Deng and Smola 2016; the question-guided attention of the lectures'
"RNNs with attention").

The image becomes a grid of feature vectors by the captioner's CNN (`models.captioner.ImageEncoder`, or a Keras
application with the user's weights), each location with a learned position vector added (so that "left of"
can be read from what the attention gathers), projected to the question vector's width: v_i = tanh(W_I f_i + b).
The question is embedded and read by the shared recurrent encoder (`models.encoder.RecurrentEncoder`: any
cell, stacked, bidirectional); its final state is the query u₀. Each hop k attends over the grid with its own
additive attention (`models.attention.BahdanauAttention`, SAN's p = softmax(w_p tanh(W_I v ⊕ W_Q u))) and
refines the query, u_k = u_{k-1} + Σ_i p_i v_i; a softmax over the answers reads the last query.

`build_vqa` returns a functional model from {"image", "token_ids"} to answer logits; `attention_model` shares
its layers and also returns each hop's attention map, for pictures and the `attention` signature.
"""

from __future__ import annotations

import dataclasses

import keras
from keras import ops

from models.attention import BahdanauAttention
from models.captioner import APPLICATIONS, CNN_BLOCKS, ImageEncoder, _application
from models.encoder import RecurrentEncoder
from models.images import CHANNELS, IMAGE
from models.pooling import LastStatePooling
from models.text import TOKEN_IDS

ENCODERS = ("cnn", *APPLICATIONS)
WORD_EMBEDDING = "word_embedding"
HOP = "hop_{}"  # the name of each attention hop's layer, from 1


@keras.saving.register_keras_serializable(package="seqpipe")
class ApplicationInput(keras.layers.Layer):
    """uint8 pixels -> what the Keras application `application` (a key of `APPLICATIONS`) expects."""

    def __init__(self, application: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.application = application

    def call(self, images):
        module = getattr(keras.applications, APPLICATIONS[self.application])
        return module.preprocess_input(ops.cast(images, "float32"))

    def get_config(self):
        return {**super().get_config(), "application": self.application}


@keras.saving.register_keras_serializable(package="seqpipe")
class GridLocations(keras.layers.Layer):
    """A CNN's grid float [batch, g, g, c] -> its locations row by row [batch, g·g, c], each with a learned
    position vector added when `positions` (ViT's 0.02 initial scale, so that the features lead at first)."""

    def __init__(self, positions: bool = True, **kwargs) -> None:
        super().__init__(**kwargs)
        self.positions = positions

    def build(self, input_shape):
        _, rows, columns, channels = input_shape
        self.locations = rows * columns
        if self.positions:
            self.vectors = self.add_weight(
                shape=(self.locations, channels),
                initializer=keras.initializers.TruncatedNormal(stddev=0.02),
                name="grid_positions",
            )
        self.built = True

    def call(self, grid):
        flat = ops.reshape(grid, (-1, self.locations, ops.shape(grid)[-1]))
        return flat + ops.cast(self.vectors, flat.dtype)[None] if self.positions else flat

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[1] * input_shape[2], input_shape[3])

    def get_config(self):
        return {**super().get_config(), "positions": self.positions}


@keras.saving.register_keras_serializable(package="seqpipe")
class AttentionHop(keras.layers.Layer):
    """One hop of a stacked attention network: (query u float [batch, d], regions v float [batch, m, d]) ->
    (u + Σ_i p_i v_i, the attention p float [batch, m]), p by additive attention of `units` hidden units."""

    def __init__(self, units: int = 128, **kwargs) -> None:
        super().__init__(**kwargs)
        self.units = units
        self.attention = BahdanauAttention(units, name="attention")

    def build(self, query_shape, regions_shape):
        self.attention.build(query_shape, regions_shape)
        self.built = True

    def call(self, query, regions):
        context, weights = self.attention(query, regions)
        return query + context, weights

    def compute_output_spec(self, query, regions):
        return (
            keras.KerasTensor(query.shape, dtype=self.compute_dtype),
            keras.KerasTensor(tuple(regions.shape[:2]), dtype=self.compute_dtype),
        )

    def get_config(self):
        return {**super().get_config(), "units": self.units}


@keras.saving.register_keras_serializable(package="seqpipe")
class BlindGrid(keras.layers.Layer):
    """The grid of a question-only ("blind") model: one learned grid [side, side, channels] for every image, all a
    CNN can give when every image is black, without running the CNN."""

    def __init__(self, side: int, channels: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.side = side
        self.channels = channels

    def build(self, input_shape):
        self.grid = self.add_weight(shape=(self.side, self.side, self.channels), initializer="zeros", name="grid")
        self.built = True

    def call(self, images):
        return ops.broadcast_to(self.grid[None], (ops.shape(images)[0], self.side, self.side, self.channels))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.side, self.side, self.channels)

    def get_config(self):
        return {**super().get_config(), "side": self.side, "channels": self.channels}


@dataclasses.dataclass(frozen=True)
class VqaSizes:
    """What the model's shape takes from the data: the question and answer vocabularies and the images' side."""

    words: int
    answers: int
    image_size: int


def grid_shape(model_config, image_size: int) -> tuple[int, int]:
    """The side and the channels of the CNN's grid for images `image_size` pixels a side."""
    if model_config.encoder == "cnn":
        return image_size // 2**CNN_BLOCKS, model_config.encoder_filters * 2 ** (CNN_BLOCKS - 1)
    shape = _application(model_config.encoder, image_size, None).output.shape
    return int(shape[1]), int(shape[-1])


def build_vqa(sizes: VqaSizes, model_config, blind: bool = False) -> keras.Model:
    """A question answerer over images.

    Args:
        sizes: vocabulary sizes (reserved entries included) and the images' side.
        model_config: the task's `model:` (cell, layers, bidirectional, embedding_dim, hidden_dim, dropout,
            encoder, encoder_filters, encoder_weights, grid_positions, attention_hops, attention_units,
            answer_hidden).

        blind: the question-only baseline: the CNN's grid is one learned grid for every image (`BlindGrid`), what
            the same network trained on black images can see of them.

    Returns:
        A model from {"image": uint8 [batch, size, size, 3], "token_ids": int32 [batch, time], right padded
        with 0} to answer logits float [batch, answers]. Its hops are the layers `HOP.format(k)`.
    """
    c = model_config
    if c.encoder not in ENCODERS:
        raise ValueError(f"unknown encoder {c.encoder!r} (available: {', '.join(ENCODERS)})")
    image = keras.Input((sizes.image_size, sizes.image_size, CHANNELS), dtype="uint8", name=IMAGE)
    token_ids = keras.Input((None,), dtype="int32", name=TOKEN_IDS)
    if blind:
        grid = BlindGrid(*grid_shape(c, sizes.image_size), name="blind_grid")(image)
    elif c.encoder == "cnn":
        grid = ImageEncoder(c.encoder_filters, name="image_encoder")(image)
    else:
        pixels = ApplicationInput(c.encoder, name="application_input")(image)
        grid = _application(c.encoder, sizes.image_size, c.encoder_weights)(pixels)
    locations = GridLocations(c.grid_positions, name="grid_locations")(grid)
    width = c.hidden_dim * (2 if c.bidirectional else 1)  # the question vector's
    regions = keras.layers.Dense(width, activation="tanh", name="region_projection")(locations)
    regions = keras.layers.Dropout(c.dropout, name="region_dropout")(regions)
    words = keras.layers.Embedding(sizes.words, c.embedding_dim, mask_zero=True, name=WORD_EMBEDDING)(token_ids)
    words = keras.layers.Dropout(c.dropout, name="input_dropout")(words)
    states = RecurrentEncoder(c.cell, c.layers, c.hidden_dim, c.bidirectional, c.dropout, name="encoder")(words)
    query = LastStatePooling(c.bidirectional, name="question")(states)
    for hop in range(1, c.attention_hops + 1):
        query, _ = AttentionHop(c.attention_units, name=HOP.format(hop))(query, regions)
    if c.answer_hidden:
        query = keras.layers.Dense(c.answer_hidden, activation="relu", name="answer_hidden")(query)
    query = keras.layers.Dropout(c.dropout, name="output_dropout")(query)
    logits = keras.layers.Dense(sizes.answers, name="answer_logits")(query)
    name = f"{c.encoder.lower()}_{'bi' if c.bidirectional else ''}{c.cell}_{c.attention_hops}hop_vqa"
    return keras.Model({IMAGE: image, TOKEN_IDS: token_ids}, logits, name=name)


def hops(model: keras.Model) -> list[AttentionHop]:
    """The attention hops of a model from `build_vqa` (or loaded back), in order."""
    found = []
    while True:
        try:
            found.append(model.get_layer(HOP.format(len(found) + 1)))
        except ValueError:
            return found


def attention_model(model: keras.Model) -> keras.Model:
    """A model sharing `model`'s layers and weights, from the same inputs to {"logits", "attention": float
    [batch, hops, g, g]}: where each hop looked, row by row over the image. For pictures and serving; not saved
    (build it again after loading `model`)."""
    maps = [hop.output[1] for hop in hops(model)]
    side = int(round(maps[0].shape[-1] ** 0.5))
    stacked = keras.layers.Reshape((len(maps), side, side), name="attention_maps")(
        keras.layers.Concatenate(axis=-1, name="hops")(maps) if len(maps) > 1 else maps[0]
    )
    return keras.Model(model.inputs, {"logits": model.outputs[0], "attention": stacked}, name=f"{model.name}_attention")
