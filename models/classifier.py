"""Sentence classifier: word embeddings -> recurrent encoder -> pooling over time -> one label per sentence.

The encoder is the tagger's (`models.encoder.RecurrentEncoder`); what is new here is how its states,
one per token, become one vector per sentence. Every pooling layer reads the padding mask, so that a
sentence's logits do not depend on how far its batch was padded, and gives zeros (never NaN) for a
sentence without tokens.
"""

from __future__ import annotations

import dataclasses

import keras
from keras import ops

from models.encoder import RecurrentEncoder
from models.text import TOKEN_IDS

POOLINGS = ("last", "mean", "max", "attention")
# The name of the pooling layer in a built classifier, whichever the pooling.
POOLING_LAYER = "pooling"


def _real_steps(inputs, mask):
    """The mask as bool [batch, time]; every step is real when there is no mask."""
    if mask is None:
        return ops.ones(ops.shape(inputs)[:2], dtype="bool")
    return ops.cast(mask, "bool")


@keras.saving.register_keras_serializable(package="seqpipe")
class LastStatePooling(keras.layers.Layer):
    """The encoder's final state: the output at the last real step of each sentence.

    For a bidirectional encoder the final state of each direction is taken where that direction ends:
    the forward half at the last real step, the backward half at the first real step (step 0 for
    right padded rows), concatenated, as in Schuster and Paliwal (1997) and the bidirectional
    sentence encoders that followed. Steps are found from the mask, so rows of different lengths in
    one batch each get their own.

    Args:
        bidirectional: the input is [forward, backward] concatenated on the last axis, as
            `keras.layers.Bidirectional` returns it.

    Call args:
        inputs: float [batch, time, features].
        mask: bool [batch, time], True on real tokens; None: every step is real.

    Returns:
        float [batch, features]; zeros for a row without real tokens.
    """

    def __init__(self, bidirectional: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        self.bidirectional = bidirectional
        self.supports_masking = True

    def call(self, inputs, mask=None):
        real = _real_steps(inputs, mask)
        time = ops.shape(inputs)[1]
        positions = ops.expand_dims(ops.arange(time, dtype="int32"), 0)  # [1, time]
        # One-hot over time; a row without real steps matches no position and so selects zeros.
        last = ops.max(ops.where(real, positions, -1), axis=1, keepdims=True)
        forward = ops.sum(inputs * ops.expand_dims(ops.cast(ops.equal(positions, last), inputs.dtype), -1), axis=1)
        if not self.bidirectional:
            return forward
        first = ops.min(ops.where(real, positions, time), axis=1, keepdims=True)
        backward = ops.sum(inputs * ops.expand_dims(ops.cast(ops.equal(positions, first), inputs.dtype), -1), axis=1)
        half = inputs.shape[-1] // 2
        return ops.concatenate([forward[:, :half], backward[:, half:]], axis=-1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1])

    def compute_mask(self, inputs, mask=None):
        return None  # one vector per sentence: nothing left to mask

    def get_config(self):
        return {**super().get_config(), "bidirectional": self.bidirectional}


@keras.saving.register_keras_serializable(package="seqpipe")
class MaskedMeanPooling(keras.layers.Layer):
    """The mean of the encoder's outputs over the real steps.

    Call args:
        inputs: float [batch, time, features].
        mask: bool [batch, time], True on real tokens; None: every step is real.

    Returns:
        float [batch, features]; zeros for a row without real tokens.
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        real = ops.expand_dims(ops.cast(_real_steps(inputs, mask), inputs.dtype), -1)  # [batch, time, 1]
        count = ops.maximum(ops.sum(real, axis=1), 1.0)  # an empty row divides 0 by 1
        return ops.sum(inputs * real, axis=1) / count

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1])

    def compute_mask(self, inputs, mask=None):
        return None


@keras.saving.register_keras_serializable(package="seqpipe")
class MaskedMaxPooling(keras.layers.Layer):
    """The feature-wise maximum of the encoder's outputs over the real steps (Collobert et al. 2011).

    Padding is set to -inf before the max, so it never wins, even over all-negative real values.

    Call args:
        inputs: float [batch, time, features].
        mask: bool [batch, time], True on real tokens; None: every step is real.

    Returns:
        float [batch, features]; zeros for a row without real tokens.
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        real = _real_steps(inputs, mask)
        pooled = ops.max(ops.where(ops.expand_dims(real, -1), inputs, float("-inf")), axis=1)
        # An empty row's max is -inf: give it zeros. The gradient through `where` to it is 0, not NaN.
        return ops.where(ops.any(real, axis=1, keepdims=True), pooled, ops.zeros_like(pooled))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1])

    def compute_mask(self, inputs, mask=None):
        return None


@keras.saving.register_keras_serializable(package="seqpipe")
class AttentionPooling(keras.layers.Layer):
    """A learned weighted mean of the encoder's outputs: feed-forward attention over time.

    u_t = tanh(W h_t + b), score_t = vᵀ u_t, α = softmax(score) over the real steps, output Σ_t α_t h_t;
    v is the learned "context vector" of Yang et al. (2016), "Hierarchical Attention Networks for
    Document Classification"; Raffel and Ellis (2015), "Feed-Forward Networks with Attention Can
    Solve Some Long-Term Memory Problems", use the same form. Padding gets weight exactly 0, and a
    row without real tokens gets all-zero weights and a zero vector.

    The weights, for plotting or inspection: call the layer with `return_weights=True`, or use
    `attention_model` on a built classifier.

    Args:
        units: size of u_t (the attention's hidden layer); None: the input's feature size.

    Call args:
        inputs: float [batch, time, features].
        mask: bool [batch, time], True on real tokens; None: every step is real.
        return_weights: also return α.

    Returns:
        float [batch, features]; with `return_weights`, the pair of it and α float [batch, time],
        which sums to 1 over each row's real steps (0 for a row without real tokens).
    """

    def __init__(self, units: int | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.units = units
        self.supports_masking = True

    def build(self, input_shape):
        features = input_shape[-1]
        units = self.units or features
        self.kernel = self.add_weight(shape=(features, units), initializer="glorot_uniform", name="kernel")
        self.bias = self.add_weight(shape=(units,), initializer="zeros", name="bias")
        # A zero context vector would start every row at uniform weights (mean pooling) with no
        # gradient to W; a random one breaks that symmetry.
        self.context = self.add_weight(shape=(units,), initializer="glorot_uniform", name="context")
        self.built = True

    def call(self, inputs, mask=None, return_weights=False):
        real = _real_steps(inputs, mask)
        hidden = ops.tanh(ops.matmul(inputs, self.kernel) + self.bias)  # [batch, time, units]
        scores = ops.sum(hidden * self.context, axis=-1)  # [batch, time]
        # Softmax over the real steps only: shift by the largest real score (0 for an empty row, so
        # that nothing overflows), exponentiate, and zero the padding before normalizing.
        largest = ops.max(ops.where(real, scores, float("-inf")), axis=1, keepdims=True)
        largest = ops.stop_gradient(ops.where(ops.isfinite(largest), largest, ops.zeros_like(largest)))
        exp = ops.where(real, ops.exp(scores - largest), ops.zeros_like(scores))
        # The largest real step contributes exp(0) = 1, so only an empty row has a 0 total.
        weights = exp / ops.maximum(ops.sum(exp, axis=1, keepdims=True), 1.0)
        pooled = ops.sum(inputs * ops.expand_dims(weights, -1), axis=1)
        return (pooled, weights) if return_weights else pooled

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1])

    def compute_output_spec(self, inputs, mask=None, return_weights=False):
        pooled = keras.KerasTensor(self.compute_output_shape(inputs.shape), dtype=self.compute_dtype)
        if not return_weights:
            return pooled
        return pooled, keras.KerasTensor(tuple(inputs.shape[:2]), dtype=self.compute_dtype)

    def compute_mask(self, inputs, mask=None):
        return None

    def get_config(self):
        return {**super().get_config(), "units": self.units}


def make_pooling(pooling: str, bidirectional: bool, name: str = POOLING_LAYER) -> keras.layers.Layer:
    """The pooling layer called `pooling` (one of `POOLINGS`) for an encoder that is `bidirectional` or not."""
    if pooling == "last":
        return LastStatePooling(bidirectional, name=name)
    if pooling == "mean":
        return MaskedMeanPooling(name=name)
    if pooling == "max":
        return MaskedMaxPooling(name=name)
    if pooling == "attention":
        return AttentionPooling(name=name)
    raise ValueError(f"unknown pooling {pooling!r} (available: {', '.join(POOLINGS)})")


@dataclasses.dataclass(frozen=True)
class ClassifierSizes:
    """What the model's shape takes from the data: the vocabulary sizes (read from the Vocabulary artifact)."""

    words: int
    labels: int


def build_classifier(sizes: ClassifierSizes, model_config) -> keras.Model:
    """A recurrent sentence classifier (many to one).

    Args:
        sizes: vocabulary sizes, reserved entries included.
        model_config: a `pipeline.config.ModelConfig`; reads cell, layers, bidirectional,
            embedding_dim, hidden_dim, dropout and pooling.

    Returns:
        A model from {"token_ids": int [batch, time]}, right padded with 0, to label logits
        float [batch, labels]. Its pooling layer is named `POOLING_LAYER`.
    """
    c = model_config
    pooling = make_pooling(c.pooling, c.bidirectional)  # first, so that an unknown pooling fails fast
    token_ids = keras.Input((None,), dtype="int32", name=TOKEN_IDS)
    # mask_zero: padding (id 0) is masked from here on, through the encoder to the pooling.
    features = keras.layers.Embedding(sizes.words, c.embedding_dim, mask_zero=True, name="word_embedding")(token_ids)
    features = keras.layers.Dropout(c.dropout, name="input_dropout")(features)
    encoded = RecurrentEncoder(c.cell, c.layers, c.hidden_dim, c.bidirectional, c.dropout, name="encoder")(features)
    pooled = pooling(encoded)
    pooled = keras.layers.Dropout(c.dropout, name="output_dropout")(pooled)
    logits = keras.layers.Dense(sizes.labels, name="label_logits")(pooled)
    return keras.Model({TOKEN_IDS: token_ids}, logits, name=f"{'bi' if c.bidirectional else ''}{c.cell}_classifier")


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
