"""Length buckets of the training batches: how many sentences a batch of each bucket holds, and how many
batches an epoch has. Pure Python: the curriculum stage counts an epoch's steps without TensorFlow.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

# Sentences are batched with others of similar length, so little compute goes to padding.
BUCKET_BOUNDARIES = (8, 12, 16, 20, 25, 30, 40, 50, 70, 100)


def bucket_batch_sizes(boundaries: Sequence[int], batch_size: int, tokens_per_batch: int = 0) -> list[int]:
    """Sentences per batch in each length bucket: `batch_size`, or as many as fit `tokens_per_batch`
    padded tokens at the bucket's longest (a bucket holds lengths below its boundary; the last one is
    taken to reach twice the last boundary)."""
    if not tokens_per_batch:
        return [batch_size] * (len(boundaries) + 1)
    longest = [boundary - 1 for boundary in boundaries] + [2 * boundaries[-1]]
    return [max(1, tokens_per_batch // length) for length in longest]


def batches_per_epoch(
    lengths: Mapping[int, int],
    batch_size: int,
    tokens_per_batch: int = 0,
    boundaries: Sequence[int] = BUCKET_BOUNDARIES,
) -> int:
    """The batches `tf.data`'s `bucket_by_sequence_length` makes of one epoch (every bucket's last batch kept).

    Args:
        lengths: the number of examples of each bucketing length (the `lengths` of a Shards manifest split).
        batch_size, tokens_per_batch, boundaries: as for `bucket_batch_sizes`.
    """
    sizes = bucket_batch_sizes(boundaries, batch_size, tokens_per_batch)
    per_bucket = [0] * len(sizes)
    for length, count in lengths.items():
        bucket = sum(int(length) >= boundary for boundary in boundaries)  # bucket i: [b_{i-1}, b_i)
        per_bucket[bucket] += int(count)
    return sum(math.ceil(count / size) for count, size in zip(per_bucket, sizes, strict=True))
