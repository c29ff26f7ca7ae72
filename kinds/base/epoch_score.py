"""A kind's own eval score after each epoch, which picks the best epoch (`Recipe.monitor`).

The decoder kinds score the eval split's greedy outputs by BLEU: a beam search of the eval split after every
epoch is too slow here, and the teacher-forced eval loss picks worse epochs (the translator's loss kept
epoch 7 of 8, 1.2 BLEU below the last). Their BLEU is case-insensitive, since the train stage does not know
whether the model was trained on lowercased text; the evaluate stage scores like-cased. A tagger of BIO tags
scores conlleval's entity F1.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import keras
import tensorflow as tf

# The epoch log of a decoder kind's greedy BLEU.
GREEDY_BLEU = "val_greedy_bleu"
# A decoder kind scores each epoch on at most this many eval examples: the first batches in shard order, a
# sample fixed by the records' content (shards are sorted by input hash), the same for every epoch and run.
SAMPLE_EXAMPLES = 2000


def fixed_sample(dataset: tf.data.Dataset, batch_size: int, eval_records: int, progress) -> tf.data.Dataset:
    """The first `SAMPLE_EXAMPLES` (in whole batches) of an eval `dataset` of `eval_records` records, saying so
    when that is not all of them; decoding a large eval split greedily after every epoch is slow."""
    if eval_records <= SAMPLE_EXAMPLES:
        return dataset
    batches = math.ceil(SAMPLE_EXAMPLES / batch_size)
    progress(
        f"each epoch's {GREEDY_BLEU} scores a fixed sample: the first {batches * batch_size:,} of the "
        f"{eval_records:,} eval examples in shard order (which is by content); the evaluate stage scores them all"
    )
    return dataset.take(batches)


class EpochScore(keras.callbacks.Callback):
    """After each epoch, `key` in the epoch's logs: `score` of the model's outputs on the eval split.

    Args:
        key: the log's name (`val_greedy_bleu`).
        forward: (model, inputs) -> the model's outputs (a decoder's greedy ids, a tagger's tags); traced once,
            on the trained model, for `signature` (or retraced as shapes need, without one).
        score: (the traced forward function) -> the score of the eval split's outputs.
        signature: what `forward` takes, when it is traced for one signature (decoders, which are traced
            without AutoGraph: see models/decoding.py).
    """

    def __init__(
        self,
        key: str,
        forward: Callable[[keras.Model, tf.Tensor], tf.Tensor],
        score: Callable[[Callable], float],
        signature: tf.TensorSpec | None = None,
    ) -> None:
        super().__init__()
        self.key = key
        self.forward = forward
        self.score = score
        self.signature = signature
        self.traced = None

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        if self.traced is None:
            forward = lambda inputs: self.forward(self.model, inputs)  # noqa: E731
            if self.signature is None:
                self.traced = tf.function(forward, reduce_retracing=True)
            else:
                self.traced = tf.function(forward, input_signature=[self.signature], autograph=False)
        logs[self.key] = self.score(self.traced)
