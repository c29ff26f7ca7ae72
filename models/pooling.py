"""Pooling over time: a sequence of encoder states float [batch, time, features] -> one vector per sequence.

* `LastStatePooling`: the encoder's final state, each direction's where it ends (Schuster and Paliwal 1997).
* `MaskedMeanPooling`: the mean over the real steps.
* `MaskedMaxPooling`: the feature-wise maximum over the real steps (Collobert et al. 2011).
* `AttentionPooling`: a learned weighted mean, feed-forward attention over time (Raffel and Ellis 2015;
  Yang et al. 2016).

Every pooling layer reads the padding mask, so that a sequence's vector does not depend on how far its
batch was padded, and gives zeros (never NaN) for a sequence without tokens. The classifier pools its
encoder's states with one of them (`make_pooling`, by a name in `POOLINGS`); the translator's
`FinalStateAttention` and its decoder's initial state read `LastStatePooling`.
"""

from __future__ import annotations

import keras
from keras import ops

POOLINGS = ("last", "mean", "max", "attention")


def _real_steps(inputs, mask):
    """The mask as bool [batch, time]; every step is real when there is no mask."""
    if mask is None:
        return ops.ones(ops.shape(inputs)[:2], dtype="bool")
    return ops.cast(mask, "bool")


class _PoolingOverTime(keras.layers.Layer):
    """What every pooling layer shares: it reads the padding mask and returns one vector a row, unmasked.

    Call args:
        inputs: float [batch, time, features].
        mask: bool [batch, time], True on real tokens; None: every step is real.

    Returns:
        float [batch, features]; zeros for a row without real tokens.
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.supports_masking = True

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1])

    def compute_mask(self, inputs, mask=None):
        return None  # one vector per sentence: nothing left to mask


@keras.saving.register_keras_serializable(package="seqpipe")
class LastStatePooling(_PoolingOverTime):
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

    def get_config(self):
        return {**super().get_config(), "bidirectional": self.bidirectional}


@keras.saving.register_keras_serializable(package="seqpipe")
class MaskedMeanPooling(_PoolingOverTime):
    """The mean of the encoder's outputs over the real steps (call args and result: `_PoolingOverTime`)."""

    def call(self, inputs, mask=None):
        real = ops.expand_dims(ops.cast(_real_steps(inputs, mask), inputs.dtype), -1)  # [batch, time, 1]
        count = ops.maximum(ops.sum(real, axis=1), 1.0)  # an empty row divides 0 by 1
        return ops.sum(inputs * real, axis=1) / count


@keras.saving.register_keras_serializable(package="seqpipe")
class MaskedMaxPooling(_PoolingOverTime):
    """The feature-wise maximum of the encoder's outputs over the real steps (Collobert et al. 2011).

    Padding is set to -inf before the max, so it never wins, even over all-negative real values. Call args
    and result: `_PoolingOverTime`.
    """

    def call(self, inputs, mask=None):
        real = _real_steps(inputs, mask)
        pooled = ops.max(ops.where(ops.expand_dims(real, -1), inputs, float("-inf")), axis=1)
        # An empty row's max is -inf: give it zeros. The gradient through `where` to it is 0, not NaN.
        return ops.where(ops.any(real, axis=1, keepdims=True), pooled, ops.zeros_like(pooled))


@keras.saving.register_keras_serializable(package="seqpipe")
class AttentionPooling(_PoolingOverTime):
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

    def compute_output_spec(self, inputs, mask=None, return_weights=False):
        pooled = keras.KerasTensor(self.compute_output_shape(inputs.shape), dtype=self.compute_dtype)
        if not return_weights:
            return pooled
        return pooled, keras.KerasTensor(tuple(inputs.shape[:2]), dtype=self.compute_dtype)

    def get_config(self):
        return {**super().get_config(), "units": self.units}


def make_pooling(pooling: str, bidirectional: bool, name: str = "pooling") -> keras.layers.Layer:
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
