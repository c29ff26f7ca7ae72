"""Sentence classifier: word embeddings -> recurrent encoder -> pooling over time -> one label per sentence.

The encoder is the tagger's (`models.encoder.RecurrentEncoder`); its states, one per token, become one
vector per sentence by one of the pooling layers of `models.pooling` (last state, mean, max or attention),
all of which read the padding mask, so that a sentence's logits do not depend on how far its batch was
padded. With language models (`models.lm_features`), each word's embedding is concatenated to their states at
it, read from its characters. `attention_model` exposes an attention-pooling classifier's weights for inspection.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import keras
from keras import ops

from models import lm_features  # noqa: F401 (registers its layer, which a loaded classifier may hold)
from models.encoder import RecurrentEncoder
from models.pooling import AttentionPooling, make_pooling
from models.text import CHAR_IDS, TOKEN_IDS

# The name of the pooling layer in a built classifier, whichever the pooling.
POOLING_LAYER = "pooling"
# The word embedding's layer (pretrained vectors are set in it).
WORD_EMBEDDING = "word_embedding"


@dataclasses.dataclass(frozen=True)
class ClassifierSizes:
    """What the model's shape takes from the data: the vocabulary sizes (read from the Vocabulary artifact)."""

    words: int
    labels: int


def build_classifier(
    sizes: ClassifierSizes, model_config, language_models: Sequence[keras.layers.Layer] = ()
) -> keras.Model:
    """A recurrent sentence classifier (many to one).

    Args:
        sizes: vocabulary sizes, reserved entries included.
        model_config: a `pipeline.config.ModelConfig`; reads cell, layers, bidirectional,
            embedding_dim, hidden_dim, dropout and pooling.
        language_models: layers from the characters of each word to a feature of it in its text
            (`models.lm_features.LanguageModelStates`), concatenated to the word's embedding.

    Returns:
        A model from {"token_ids": int [batch, time]} (and, with `language_models`, "char_ids": int
        [batch, time, chars]), right padded with 0, to label logits float [batch, labels]. Its pooling layer is
        named `POOLING_LAYER`.
    """
    c = model_config
    # First, so that an unknown pooling fails fast.
    pooling = make_pooling(c.pooling, c.bidirectional, name=POOLING_LAYER)
    token_ids = keras.Input((None,), dtype="int32", name=TOKEN_IDS)
    inputs = {TOKEN_IDS: token_ids}
    # mask_zero: padding (id 0) is masked from here on, through the encoder to the pooling.
    features = keras.layers.Embedding(sizes.words, c.embedding_dim, mask_zero=True, name=WORD_EMBEDDING)(token_ids)
    if language_models:
        inputs[CHAR_IDS] = keras.Input((None, None), dtype="int32", name=CHAR_IDS)
        states = [language_model(inputs[CHAR_IDS]) for language_model in language_models]
        features = keras.layers.Concatenate(name="word_and_language_models")([features, *states])
    features = keras.layers.Dropout(c.dropout, name="input_dropout")(features)
    encoded = RecurrentEncoder(c.cell, c.layers, c.hidden_dim, c.bidirectional, c.dropout, name="encoder")(features)
    pooled = pooling(encoded)
    pooled = keras.layers.Dropout(c.dropout, name="output_dropout")(pooled)
    logits = keras.layers.Dense(sizes.labels, name="label_logits")(pooled)
    return keras.Model(inputs, logits, name=f"{'bi' if c.bidirectional else ''}{c.cell}_classifier")


class _AttentionWeights(keras.layers.Layer):
    """The attention weights of an `AttentionPooling` layer, sharing its variables (for `attention_model`).

    A layer of its own because a Keras layer called twice in a functional graph must return the same
    number of outputs each time, and the classifier calls its pooling layer for the pooled vector only.
    """

    def __init__(self, pooling: AttentionPooling, **kwargs) -> None:
        super().__init__(**kwargs)
        self.pooling = pooling
        self.supports_masking = True

    def call(self, inputs, mask=None):
        return self.pooling(inputs, mask=mask, return_weights=True)[1]

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:2])

    def compute_mask(self, inputs, mask=None):
        return None


def attention_model(model: keras.Model) -> keras.Model:
    """A model sharing `model`'s layers and weights that also returns its attention weights.

    For inspection and plotting: it is not meant to be saved (save `model` and call this again after
    loading it).

    Args:
        model: a classifier from `build_classifier` with `attention` pooling, or one loaded back.

    Returns:
        A model from the same inputs to {"logits": float [batch, labels], "attention": float
        [batch, time]}; the attention weights sum to 1 over each sentence's tokens and are 0 on padding.
    """
    pooling = model.get_layer(POOLING_LAYER)
    if not isinstance(pooling, AttentionPooling):
        raise ValueError(f"model {model.name!r} pools with {type(pooling).__name__}, not AttentionPooling")
    encoded = model.get_layer("encoder").output
    weights = _AttentionWeights(pooling, name="attention_weights")(
        encoded, mask=ops.not_equal(model.input[TOKEN_IDS], 0)
    )
    return keras.Model(model.input, {"logits": model.outputs[0], "attention": weights}, name=f"{model.name}_attention")
