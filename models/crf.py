"""A linear-chain conditional random field over a tagger's per-token scores (Lafferty et al. 2001).

Lample et al. (2016) and Ma and Hovy (2016) put a CRF on top of a BiLSTM so that a sentence's tags
are chosen together: the score of a tag sequence y for a sentence of T tokens is

    s(y) = start[y₀] + Σₜ emission[t, yₜ] + Σₜ₌₁ transition[yₜ₋₁, yₜ]

and training maximises log p(y) = s(y) - log Σ_y' exp s(y'), the normaliser summed over every
sequence by the forward algorithm. Prediction is the best sequence, found by Viterbi.

The layer outputs the per-step potentials rather than the emissions, so that the loss and the
decoder are functions of the model's output alone (nothing but the output reaches a Keras loss):

    potentials[b, t, i, j] = emission[b, t, j] + transition[i, j]      (t > 0: from tag i to tag j)
    potentials[b, 0, i, j] = emission[b, 0, j] + start[j]              (every row i alike)

There are no learned end scores: a sentence may end on any tag in the schemes seqpipe reads.

Decoding can be constrained (`allowed_start`, `allowed`): forbidden transitions, such as `O` to `I-PER`
in IOB2 (`tag_constraints`), are never chosen. The constraints act at decoding only, as in AllenNLP's
`ConditionalRandomField`, so a training sentence whose gold tags break them costs no more than any
other sequence the model finds unlikely; the training tags are checked first (`bio_violations`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import keras
import tensorflow as tf

# The score that keeps a forbidden tag or transition out of the Viterbi path without overflowing.
FORBIDDEN = -1e4


@keras.saving.register_keras_serializable(package="seqpipe")
class CRF(keras.layers.Layer):
    """Emission scores -> the potentials of a linear-chain CRF, with learned transition and start scores.

    Args:
        allowed_start: per tag, whether a sentence may start with it (decoding); None: every tag.
        allowed: [from, to], whether a tag may follow another (decoding); None: every transition.

    Call args:
        emissions: float [batch, time, tags], masked on padding; the mask passes through.

    Returns:
        potentials: float [batch, time, tags, tags], as in the module's docstring.
    """

    def __init__(
        self,
        allowed_start: Sequence[bool] | None = None,
        allowed: Sequence[Sequence[bool]] | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.supports_masking = True
        self.allowed_start = None if allowed_start is None else [bool(a) for a in allowed_start]
        self.allowed = None if allowed is None else [[bool(a) for a in row] for row in allowed]

    def build(self, input_shape):
        tags = input_shape[-1]
        for name, given in (("allowed_start", self.allowed_start), ("allowed", self.allowed)):
            if given is not None and len(given) != tags:
                raise ValueError(f"CRF: {name} is for {len(given)} tags, the emissions have {tags}")
        self.transitions = self.add_weight(shape=(tags, tags), initializer="zeros", name="transitions")
        self.start = self.add_weight(shape=(tags,), initializer="zeros", name="start")
        self.built = True

    def call(self, emissions):
        emissions = tf.cast(emissions, self.transitions.dtype)
        later = tf.cast(tf.range(tf.shape(emissions)[1]) > 0, emissions.dtype)[None, :, None, None]
        pairwise = later * self.transitions + (1.0 - later) * self.start[None, :]  # [1, time, tags, tags]
        return emissions[:, :, None, :] + pairwise

    def compute_output_shape(self, input_shape):
        return (*input_shape[:2], input_shape[-1], input_shape[-1])

    def compute_mask(self, emissions, mask=None):
        return mask

    def decode(self, potentials, mask):
        """The best tag sequence under the layer's constraints: int32 [batch, time], see `viterbi`."""
        return viterbi(potentials, mask, self.allowed_start, self.allowed)

    def get_config(self):
        return {**super().get_config(), "allowed_start": self.allowed_start, "allowed": self.allowed}


def _time_major(x):
    return tf.experimental.numpy.moveaxis(x, 1, 0)


def log_likelihood(potentials, tags, mask):
    """log p(tags) of each sentence: its score minus the log-partition (the forward algorithm).

    Args:
        potentials: float [batch, time, tags, tags], a `CRF`'s output.
        tags: int [batch, time], the gold tags; anything on padding.
        mask: bool [batch, time], True on real tokens (right-padded).

    Returns:
        float [batch]; 0 for a sentence with no real token.
    """
    tags = tf.cast(tags, tf.int32)
    mask = tf.cast(mask, tf.bool)
    previous = tf.concat([tf.zeros_like(tags[:, :1]), tags[:, :-1]], axis=1)  # at t = 0 every row is alike
    rows = tf.gather(potentials, previous, axis=2, batch_dims=2)  # [batch, time, tags]
    gold = tf.gather(rows, tags, axis=2, batch_dims=2)
    score = tf.reduce_sum(tf.where(mask, gold, tf.zeros_like(gold)), axis=1)

    def forward(alpha, step):
        potential, is_real = step  # [batch, tags, tags], [batch]
        moved = tf.reduce_logsumexp(alpha[:, :, None] + potential, axis=1)
        return tf.where(is_real[:, None], moved, alpha)

    # The first step's rows are alike, so its logsumexp over them adds log(tags): start from -log(tags).
    tags_count = tf.cast(tf.shape(potentials)[-1], potentials.dtype)
    start = tf.zeros_like(potentials[:, 0, 0, :]) - tf.math.log(tags_count)
    alpha = tf.foldl(forward, (_time_major(potentials), _time_major(mask)), initializer=start)
    log_partition = tf.reduce_logsumexp(alpha, axis=1)
    return tf.where(tf.reduce_any(mask, axis=1), score - log_partition, tf.zeros_like(score))


def viterbi(potentials, mask, allowed_start=None, allowed=None):
    """The highest-scoring tag sequence of each sentence.

    Args:
        potentials: float [batch, time, tags, tags], a `CRF`'s output.
        mask: bool [batch, time], True on real tokens (right-padded).
        allowed_start: per tag, whether a sentence may start with it; None: every tag.
        allowed: [from, to], whether a tag may follow another; None: every transition.

    Returns:
        int32 [batch, time]; on padding, the sentence's last tag repeated.
    """
    potentials = tf.convert_to_tensor(potentials)
    steps = tf.shape(potentials)[1]
    # One padding step more, so that the scans below run at least once (a traced scan over no steps
    # cannot stack its outputs); a padding step changes nothing.
    potentials = tf.concat([potentials, tf.zeros_like(potentials[:, :1])], axis=1)
    mask = tf.concat([tf.cast(mask, tf.bool), tf.zeros_like(tf.cast(mask, tf.bool)[:, :1])], axis=1)
    first = potentials[:, 0, 0, :]
    if allowed_start is not None:
        first += tf.where(tf.constant(allowed_start, tf.bool), 0.0, FORBIDDEN)
    if allowed is not None:
        potentials += tf.where(tf.constant(allowed, tf.bool), 0.0, FORBIDDEN)
    identity = tf.broadcast_to(tf.range(tf.shape(first)[1]), tf.shape(first))

    def forward(state, step):
        delta, _ = state
        potential, is_real = step
        candidates = delta[:, :, None] + potential  # [batch, from, to]
        moved = tf.reduce_max(candidates, axis=1)
        pointers = tf.argmax(candidates, axis=1, output_type=tf.int32)
        return tf.where(is_real[:, None], moved, delta), tf.where(is_real[:, None], pointers, identity)

    later = (_time_major(potentials)[1:], _time_major(mask)[1:])
    deltas, pointers = tf.scan(forward, later, initializer=(first, identity))  # [time - 1, batch, tags]
    delta = tf.concat([first[None], deltas], axis=0)[-1]
    last = tf.argmax(delta, axis=1, output_type=tf.int32)

    def backward(tag, pointer):
        return tf.gather(pointer, tag, batch_dims=1)  # the tag before `tag`

    earlier = tf.scan(backward, pointers, initializer=last, reverse=True)  # the tags at 0 .. time - 2
    return tf.concat([_time_major(earlier), last[:, None]], axis=1)[:, :steps]


def tag_constraints(tags: Sequence[str], reserved: int, bio: bool) -> tuple[list[bool], list[list[bool]]]:
    """What decoding may choose: never a reserved tag, and with `bio` only what IOB2 allows (no `I-X`
    to start a sentence or to follow anything but `B-X` or `I-X`).

    Args:
        tags: the tag vocabulary, reserved tags first.
        reserved: how many reserved tags (padding, unknown) lead it.
        bio: whether to apply IOB2's rules.

    Returns:
        allowed_start [tags] and allowed [from, to], for `CRF`.
    """

    def may_follow(previous: str, tag: str) -> bool:
        return not (bio and tag.startswith("I-")) or (previous[:2] in ("B-", "I-") and previous[2:] == tag[2:])

    real = [i >= reserved for i in range(len(tags))]
    allowed_start = [real[j] and not (bio and tag.startswith("I-")) for j, tag in enumerate(tags)]
    allowed = [
        [real[i] and real[j] and may_follow(previous, tag) for j, tag in enumerate(tags)]
        for i, previous in enumerate(tags)
    ]
    return allowed_start, allowed


def bio_violations(sentences: Iterable[Sequence[str]]) -> tuple[int, str | None]:
    """How many transitions of gold tag sequences IOB2 forbids, and the first of them.

    IOB1 data (where a chunk starts with `I-` unless it follows one of its own type) breaks IOB2 on
    nearly every chunk; constraining its decoding would forbid what it is made of.
    """
    count, first = 0, None
    for sentence in sentences:
        for previous, tag in zip(["O", *sentence], sentence, strict=False):
            if tag.startswith("I-") and previous[2:] != tag[2:]:
                count += 1
                first = first or f"{previous} -> {tag}"
    return count, first


@keras.saving.register_keras_serializable(package="seqpipe")
class CRFLoss(keras.losses.Loss):
    """The CRF's negative log-likelihood, shared among a sentence's real tokens.

    Returns -log p(y) / length at each real token of a sentence (0 on padding), so that with the
    trainer's "mean_with_sample_weight" reduction over weights 1 on real tokens the loss is the
    negative log-likelihood per token: Σ_sentences -log p(y) / Σ_sentences length.
    """

    def __init__(self, reduction="mean_with_sample_weight", name="crf_loss", **kwargs):
        super().__init__(reduction=reduction, name=name, **kwargs)

    def call(self, y_true, y_pred):
        mask = tf.not_equal(y_true, 0)  # tag id 0 is padding
        real = tf.cast(mask, y_pred.dtype)
        lengths = tf.maximum(tf.reduce_sum(real, axis=1, keepdims=True), 1.0)
        return -log_likelihood(y_pred, y_true, mask)[:, None] / lengths * real


@keras.saving.register_keras_serializable(package="seqpipe")
class ViterbiAccuracy(keras.metrics.MeanMetricWrapper):
    """The share of real tokens whose tag on the (unconstrained) Viterbi path is the gold tag."""

    def __init__(self, name="accuracy", dtype=None):
        super().__init__(fn=_viterbi_hits, name=name, dtype=dtype)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}


def _viterbi_hits(y_true, y_pred):
    path = viterbi(y_pred, tf.not_equal(y_true, 0))
    return tf.cast(tf.equal(path, tf.cast(y_true, tf.int32)), y_pred.dtype)
