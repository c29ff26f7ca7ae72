"""Length-bucketed training batches: by sentences, or by a token budget; no sentence lost or repeated."""

from __future__ import annotations

import random

import pytest

tf = pytest.importorskip("tensorflow")

from kinds.base import sequence_example  # noqa: E402
from models import input_pipeline, text  # noqa: E402


def test_bucket_batch_sizes_by_sentences_and_by_tokens():
    assert input_pipeline.bucket_batch_sizes((8, 12), 32) == [32, 32, 32]
    # buckets hold lengths 1-7, 8-11 and 12-24 (the last taken up to twice its boundary)
    assert input_pipeline.bucket_batch_sizes((8, 12), 32, tokens_per_batch=240) == [34, 21, 10]
    assert input_pipeline.bucket_batch_sizes((8, 200), 32, tokens_per_batch=100) == [14, 1, 1]


@pytest.fixture(scope="module")
def shard(tmp_path_factory):
    """60 tagged sentences of 1 to 30 tokens; a sentence's token ids are all its index + 1."""
    rng = random.Random(3)
    path = tmp_path_factory.mktemp("shard") / "train.tfrecord"
    with tf.io.TFRecordWriter(str(path)) as writer:
        for index in range(60):
            length = rng.randint(1, 30)
            lists = sequence_example.feature_lists(tf.ragged.constant([[index + 1] * length]))[0]
            tags = sequence_example.feature_lists(tf.ragged.constant([[2] * length]))[0]
            chars = sequence_example.feature_lists(tf.ragged.constant([[[5]] * length], ragged_rank=2))[0]
            words = sequence_example.feature_lists(tf.ragged.constant([["w"] * length]))[0]
            writer.write(
                sequence_example.serialize(
                    {text.KEY: sequence_example.bytes_feature(str(index))},
                    {
                        text.TOKENS: words,
                        text.TAGS: words,
                        text.TOKEN_IDS: lists,
                        text.TAG_IDS: tags,
                        text.CHAR_IDS: chars,
                    },
                )
            )
    return path


def batches(shard, **options):
    dataset = input_pipeline.tagger_dataset([shard], 8, char_features=False, shuffle_buffer=60, seed=1, **options)
    return [inputs[text.TOKEN_IDS].numpy() for inputs, _, _ in dataset]


def sentences(token_ids) -> list[int]:
    return sorted(int(row[0]) for batch in token_ids for row in batch)


def test_sentence_batches_hold_at_most_batch_size_sentences(shard):
    token_ids = batches(shard)
    assert max(len(batch) for batch in token_ids) == 8
    assert sentences(token_ids) == list(range(1, 61))


def test_token_budget_batches_stay_within_the_budget(shard):
    token_ids = batches(shard, tokens_per_batch=64)
    assert all(batch.shape[0] * batch.shape[1] <= 64 for batch in token_ids)
    assert max(len(batch) for batch in token_ids) > 8  # short sentences come more than 8 to a batch
    assert sentences(token_ids) == list(range(1, 61))
