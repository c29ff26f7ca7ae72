"""Attention over a source sequence for an encoder-decoder, as Keras layers: `layer(query, keys, mask)`.

* `BahdanauAttention`: additive, score(s, h_j) = vᵀ tanh(W₁ s + W₂ h_j) (Bahdanau, Cho and Bengio 2015).
* `LuongAttention`: multiplicative, `dot` sᵀh_j or `general` sᵀ W h_j (Luong, Pham and Manning 2015).
* `FinalStateAttention` (`none`): no attention, the context is always the encoder's final state, the
  bottleneck of Sutskever et al. (2014) and Cho et al. (2014).

Every layer normalizes its scores with `masked_softmax`, which gives padding a weight of exactly 0 and
a source without real steps zero weights (never NaN). `make_attention` makes the layer of a name in
`ATTENTIONS`.
"""

from __future__ import annotations

import keras
from keras import ops

from models.pooling import LastStatePooling

ATTENTIONS = ("bahdanau", "luong_dot", "luong_general", "none")


def masked_softmax(scores, mask):
    """Softmax of `scores` float [batch, src] over the True steps of `mask` bool [batch, src].

    Padding gets weight exactly 0 and a row without real steps all zeros (never NaN, not even in the
    gradient: padded scores are replaced before `exp`, so a huge padded score cannot overflow).
    """
    real = ops.cast(mask, "bool")
    zeros = ops.zeros_like(scores)
    largest = ops.max(ops.where(real, scores, float("-inf")), axis=-1, keepdims=True)
    largest = ops.stop_gradient(ops.where(ops.isfinite(largest), largest, ops.zeros_like(largest)))
    exp = ops.where(real, ops.exp(ops.where(real, scores - largest, zeros)), zeros)
    # The largest real step contributes exp(0) = 1, so only an empty row has a 0 total.
    return exp / ops.maximum(ops.sum(exp, axis=-1, keepdims=True), 1.0)


class _Attention(keras.layers.Layer):
    """Shared interface: `layer(query, keys, mask) -> (context, weights)`.

    Call args:
        query: float [batch, query_dim], the decoder's state.
        keys: float [batch, src, key_dim], the encoder's outputs (also the values).
        mask: bool [batch, src], True on real source tokens; None: every step is real.
        precomputed: what `precompute(keys, mask)` returned, to skip the work that depends on the
            source only (done once per sentence rather than once per decoder step).

    Returns:
        context float [batch, key_dim] and weights float [batch, src]: the weights are 0 on padding and
        sum to 1 over the real steps; a row without real steps gets zero weights and a zero context.
    """

    def precompute(self, keys, mask):
        """The part of the attention that depends on the source only; None when there is none."""
        return None

    def score(self, query, keys, precomputed):
        raise NotImplementedError

    def call(self, query, keys, mask=None, precomputed=None):
        if mask is None:
            mask = ops.ones(ops.shape(keys)[:2], dtype="bool")
        weights = masked_softmax(self.score(query, keys, precomputed), mask)
        context = ops.sum(keys * ops.expand_dims(weights, -1), axis=1)
        return context, weights

    def compute_output_spec(self, query, keys, mask=None, precomputed=None):
        context = keras.KerasTensor((keys.shape[0], keys.shape[-1]), dtype=self.compute_dtype)
        return context, keras.KerasTensor(tuple(keys.shape[:2]), dtype=self.compute_dtype)


@keras.saving.register_keras_serializable(package="seqpipe")
class BahdanauAttention(_Attention):
    """Additive attention: score(s, h_j) = vᵀ tanh(W₁ s + W₂ h_j) (Bahdanau, Cho and Bengio 2015).

    Keras's `AdditiveAttention` adds query and key without the projections W₁, W₂; here they are learned
    (`query_kernel` W₁ [query_dim, units], `key_kernel` W₂ [key_dim, units], `score_vector` v [units]).
    `precompute` returns W₂ h, the keys' projection, which does not change from one decoder step to the
    next.

    Args:
        units: size of the hidden layer of the scoring network.
    """

    def __init__(self, units: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.units = units

    def build(self, query_shape, keys_shape):
        self.query_kernel = self.add_weight(
            shape=(query_shape[-1], self.units), initializer="glorot_uniform", name="query_kernel"
        )
        self.key_kernel = self.add_weight(
            shape=(keys_shape[-1], self.units), initializer="glorot_uniform", name="key_kernel"
        )
        self.score_vector = self.add_weight(shape=(self.units,), initializer="glorot_uniform", name="score_vector")
        self.built = True

    def precompute(self, keys, mask):
        return ops.matmul(keys, self.key_kernel)  # [batch, src, units]

    def score(self, query, keys, precomputed):
        projected_keys = self.precompute(keys, None) if precomputed is None else precomputed
        hidden = ops.tanh(ops.expand_dims(ops.matmul(query, self.query_kernel), 1) + projected_keys)
        return ops.sum(hidden * self.score_vector, axis=-1)  # [batch, src]

    def get_config(self):
        return {**super().get_config(), "units": self.units}


LUONG_MODES = ("dot", "general")


@keras.saving.register_keras_serializable(package="seqpipe")
class LuongAttention(_Attention):
    """Multiplicative attention (Luong, Pham and Manning 2015): `dot` sᵀh_j, or `general` sᵀ W h_j.

    `dot` needs query and keys of one size (a unidirectional encoder of the decoder's width); `general`
    learns `kernel` W [query_dim, key_dim] and computes (sᵀW) h_j, one matrix product per step.

    Args:
        mode: `dot` or `general`.
    """

    def __init__(self, mode: str = "general", **kwargs) -> None:
        super().__init__(**kwargs)
        if mode not in LUONG_MODES:
            raise ValueError(f"unknown Luong attention mode {mode!r} (available: {', '.join(LUONG_MODES)})")
        self.mode = mode

    def build(self, query_shape, keys_shape):
        if self.mode == "dot":
            if query_shape[-1] != keys_shape[-1]:
                raise ValueError(
                    f"dot attention needs query and keys of one size, got {query_shape[-1]} and {keys_shape[-1]}"
                    " (use `general`, or an encoder with the decoder's width)"
                )
        else:
            self.kernel = self.add_weight(
                shape=(query_shape[-1], keys_shape[-1]), initializer="glorot_uniform", name="kernel"
            )
        self.built = True

    def score(self, query, keys, precomputed):
        if self.mode == "general":
            query = ops.matmul(query, self.kernel)  # [batch, key_dim]
        return ops.sum(keys * ops.expand_dims(query, 1), axis=-1)

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}


@keras.saving.register_keras_serializable(package="seqpipe")
class FinalStateAttention(_Attention):
    """No attention: the context is the encoder's final state at every step, whatever the query.

    The final state is `LastStatePooling`'s (the forward half at the last real step, the backward half at
    step 0); the weights are all zero, since no step is attended to. The baseline that attention was
    introduced to beat: the whole source must pass through one vector.

    Args:
        bidirectional: the keys are [forward, backward] outputs concatenated.
    """

    def __init__(self, bidirectional: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        self.bidirectional = bidirectional
        self.final_state = LastStatePooling(bidirectional, name="final_state")

    def build(self, query_shape, keys_shape):
        self.built = True

    def precompute(self, keys, mask):
        return self.final_state(keys, mask=mask)

    def call(self, query, keys, mask=None, precomputed=None):
        context = self.precompute(keys, mask) if precomputed is None else precomputed
        return context, ops.zeros(ops.shape(keys)[:2], dtype=keys.dtype)

    def get_config(self):
        return {**super().get_config(), "bidirectional": self.bidirectional}


def make_attention(attention: str, units: int, bidirectional: bool, name: str = "attention") -> _Attention:
    """The attention layer called `attention` (one of `ATTENTIONS`)."""
    if attention == "bahdanau":
        return BahdanauAttention(units, name=name)
    if attention in ("luong_dot", "luong_general"):
        return LuongAttention(attention.removeprefix("luong_"), name=name)
    if attention == "none":
        return FinalStateAttention(bidirectional, name=name)
    raise ValueError(f"unknown attention {attention!r} (available: {', '.join(ATTENTIONS)})")
