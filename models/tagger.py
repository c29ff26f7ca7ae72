"""Sequence tagger: word embeddings (plus character features) -> recurrent encoder -> a tag per token."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import keras
import tensorflow as tf
from keras import ops

from models import lm_features  # noqa: F401 (registers its layer, which a loaded tagger may hold)
from models.crf import CRF
from models.encoder import RecurrentEncoder
from models.text import CHAR_IDS, RESERVED_TAGS, TOKEN_IDS

# The word embedding's layer (pretrained vectors are set in it).
WORD_EMBEDDING = "word_embedding"


@keras.saving.register_keras_serializable(package="seqpipe")
class CharacterCNN(keras.layers.Layer):
    """A word's characters -> one vector: embedding, convolution, max over time (Ma and Hovy 2016).

    The default character encoder: about as accurate for tagging as a character BiLSTM
    (`CharacterBiLSTM`, `model.char_encoder: lstm`) and several times faster on a CPU.

    Args:
        vocabulary_size: characters in the vocabulary, reserved ones included (id 0 is padding).
        embedding_dim: size of a character embedding.
        filters: size of the word vector.
        kernel_size: width of the convolution, in characters.

    Call args:
        char_ids: int [batch, time, chars], 0 on padding.

    Returns:
        float [batch, time, filters].
    """

    def __init__(
        self, vocabulary_size: int, embedding_dim: int = 24, filters: int = 48, kernel_size: int = 3, **kwargs
    ):
        super().__init__(**kwargs)
        self.vocabulary_size = vocabulary_size
        self.embedding_dim = embedding_dim
        self.filters = filters
        self.kernel_size = kernel_size
        self.embedding = keras.layers.Embedding(vocabulary_size, embedding_dim, name="char_embedding")
        self.convolution = keras.layers.Conv1D(
            filters, kernel_size, padding="same", activation="tanh", name="char_conv"
        )

    def build(self, input_shape):
        self.embedding.build(input_shape)
        self.convolution.build((None, None, self.embedding_dim))
        self.built = True

    def call(self, char_ids):
        shape = ops.shape(char_ids)
        flat = ops.reshape(char_ids, (-1, shape[2]))  # [batch * time, chars]
        real = ops.expand_dims(ops.cast(flat > 0, self.compute_dtype), -1)
        # Zeroed padding, so that a word's vector does not depend on how wide the batch's words are.
        features = self.convolution(self.embedding(flat) * real)
        # Padding characters must not win the max: push them far below any real activation.
        pooled = ops.max(features * real - 2.0 * (1.0 - real), axis=1)
        word_has_chars = ops.cast(ops.any(flat > 0, axis=1, keepdims=True), features.dtype)
        return ops.reshape(pooled * word_has_chars, (shape[0], shape[1], self.filters))

    def compute_output_shape(self, input_shape):
        return (*input_shape[:2], self.filters)

    def compute_mask(self, char_ids, mask=None):
        # A padding position has no characters. Without this mask, merging with the word embedding's
        # mask (Concatenate takes any() over its inputs) would unmask the padding.
        return ops.any(ops.not_equal(char_ids, 0), axis=-1)

    def get_config(self):
        return {
            **super().get_config(),
            "vocabulary_size": self.vocabulary_size,
            "embedding_dim": self.embedding_dim,
            "filters": self.filters,
            "kernel_size": self.kernel_size,
        }


@keras.saving.register_keras_serializable(package="seqpipe")
class CharacterBiLSTM(keras.layers.Layer):
    """A word's characters -> one vector: embedding, a bidirectional LSTM, the two final states (Lample et
    al. 2016), so that a prefix and a suffix are read in order, whatever the word's length.

    Args:
        vocabulary_size: characters in the vocabulary, reserved ones included (id 0 is padding).
        embedding_dim: size of a character embedding.
        units: size of the word vector, both directions together (half each; even).

    Call args:
        char_ids: int [batch, time, chars], 0 on padding.

    Returns:
        float [batch, time, units]; zeros for a padding word.
    """

    def __init__(self, vocabulary_size: int, embedding_dim: int = 24, units: int = 48, **kwargs):
        super().__init__(**kwargs)
        if units % 2:
            raise ValueError(f"CharacterBiLSTM: units must be even (half for each direction), got {units}")
        self.vocabulary_size = vocabulary_size
        self.embedding_dim = embedding_dim
        self.units = units
        self.embedding = keras.layers.Embedding(vocabulary_size, embedding_dim, mask_zero=True, name="char_embedding")
        self.recurrent = keras.layers.Bidirectional(keras.layers.LSTM(units // 2), name="char_bilstm")

    def build(self, input_shape):
        self.embedding.build(input_shape)
        self.recurrent.build((None, None, self.embedding_dim))
        self.built = True

    def call(self, char_ids):
        shape = ops.shape(char_ids)
        flat = ops.reshape(char_ids, (-1, shape[2]))  # [batch * time, chars]
        has_chars = ops.any(flat > 0, axis=1)
        # A padding word has no character to read: one unmasked step keeps the LSTM defined, then zeros.
        first_real = ops.concatenate([ops.logical_not(has_chars)[:, None], ops.zeros_like(flat[:, 1:], "bool")], 1)
        mask = ops.logical_or(flat > 0, first_real)
        encoded = self.recurrent(self.embedding(flat), mask=mask)
        encoded = encoded * ops.cast(has_chars[:, None], encoded.dtype)
        return ops.reshape(encoded, (shape[0], shape[1], self.units))

    def compute_output_shape(self, input_shape):
        return (*input_shape[:2], self.units)

    def compute_mask(self, char_ids, mask=None):
        return ops.any(ops.not_equal(char_ids, 0), axis=-1)  # as CharacterCNN's

    def get_config(self):
        return {
            **super().get_config(),
            "vocabulary_size": self.vocabulary_size,
            "embedding_dim": self.embedding_dim,
            "units": self.units,
        }


@dataclasses.dataclass(frozen=True)
class TaggerSizes:
    """What the model's shape takes from the data: the vocabulary sizes (read from the Vocabulary artifact)."""

    words: int
    chars: int
    tags: int


def build_tagger(
    sizes: TaggerSizes,
    model_config,
    constraints: tuple | None = None,
    language_models: Sequence[keras.layers.Layer] = (),
) -> keras.Model:
    """A bidirectional recurrent tagger.

    Args:
        sizes: vocabulary sizes, reserved entries included.
        model_config: a `pipeline.config.ModelConfig`; `output: crf` puts a CRF on top, else a softmax (the
            train recipe resolves `auto`).
        constraints: for a CRF, what its decoding may choose (`models.crf.tag_constraints`); None: anything.
        language_models: layers from the characters of each word to a feature of it in its sentence
            (`models.lm_features.LanguageModelStates`), concatenated to the word's other features.

    Returns:
        A model from {"token_ids": int [batch, time], "char_ids": int [batch, time, chars]} (char_ids
        only with `char_features` or `language_models`), masked on padding (id 0), to tag logits float
        [batch, time, tags] or, with a CRF, its potentials float [batch, time, tags, tags]. `tag_ids` decodes
        either.
    """
    c = model_config
    token_ids = keras.Input((None,), dtype="int32", name=TOKEN_IDS)
    inputs = {TOKEN_IDS: token_ids}
    # mask_zero: padding (id 0) is masked from here on, through the encoder to the loss.
    features = keras.layers.Embedding(sizes.words, c.embedding_dim, mask_zero=True, name=WORD_EMBEDDING)(token_ids)
    if c.char_features or language_models:
        inputs[CHAR_IDS] = keras.Input((None, None), dtype="int32", name=CHAR_IDS)
    if language_models:
        states = [language_model(inputs[CHAR_IDS]) for language_model in language_models]
        features = keras.layers.Concatenate(name="word_and_language_models")([features, *states])
    if c.char_features:
        char_ids = inputs[CHAR_IDS]
        if c.char_encoder == "lstm":
            encoder = CharacterBiLSTM(sizes.chars, c.char_embedding_dim, c.char_filters, name="char_bilstm")
        else:
            encoder = CharacterCNN(
                sizes.chars, c.char_embedding_dim, c.char_filters, c.char_kernel_size, name="char_cnn"
            )
        chars = encoder(char_ids)
        features = keras.layers.Concatenate(name="word_and_chars")([features, chars])
    features = keras.layers.Dropout(c.dropout, name="input_dropout")(features)
    encoded = RecurrentEncoder(c.cell, c.layers, c.hidden_dim, c.bidirectional, c.dropout, name="encoder")(features)
    encoded = keras.layers.Dropout(c.dropout, name="output_dropout")(encoded)
    logits = keras.layers.Dense(sizes.tags, name="tag_logits")(encoded)
    name = f"{'bi' if c.bidirectional else ''}{c.cell}_tagger"
    if c.output == "crf":
        allowed_start, allowed = constraints or (None, None)
        return keras.Model(inputs, CRF(allowed_start, allowed, name="crf")(logits), name=f"{name}_crf")
    return keras.Model(inputs, logits, name=name)


def tag_ids(model: keras.Model, inputs: dict) -> tf.Tensor:
    """The model's tags, int32 [batch, time]: the Viterbi path of a CRF tagger, else each token's
    highest-scoring tag; never a reserved tag. Padding positions (token id 0) hold any tag."""
    outputs = model(inputs, training=False)
    crf = next((layer for layer in model.layers if isinstance(layer, CRF)), None)
    if crf is not None:
        return crf.decode(outputs, tf.not_equal(inputs[TOKEN_IDS], 0))
    reserved = len(RESERVED_TAGS)
    return tf.argmax(outputs[..., reserved:], axis=-1, output_type=tf.int32) + reserved
