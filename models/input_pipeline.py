"""tf.data over the preprocess stage's SequenceExample shards: parsing, length bucketing, padding."""

from __future__ import annotations

import math
import pathlib
from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from models import text
from models.buckets import BUCKET_BOUNDARIES, bucket_batch_sizes

_SEQUENCE_FEATURES = {
    text.TOKENS: tf.io.FixedLenSequenceFeature([], tf.string),
    text.TAGS: tf.io.FixedLenSequenceFeature([], tf.string),
    text.TOKEN_IDS: tf.io.FixedLenSequenceFeature([], tf.int64),
    text.TAG_IDS: tf.io.FixedLenSequenceFeature([], tf.int64),
    text.CHAR_IDS: tf.io.RaggedFeature(tf.int64),
}
_CONTEXT_FEATURES = {text.KEY: tf.io.FixedLenFeature([], tf.string)}


def _parsed(serialized: tf.Tensor, context: dict, sequence: dict, ids: tuple[str, ...]) -> dict[str, tf.Tensor]:
    """The context and sequence features of one serialized SequenceExample, the `ids` as int32."""
    context, sequence = tf.io.parse_single_sequence_example(
        serialized, context_features=context, sequence_features=sequence
    )
    features = {**context, **sequence}
    for key in ids:
        features[key] = tf.cast(features[key], tf.int32)
    return features


def parse(serialized: tf.Tensor) -> dict[str, tf.Tensor]:
    """One serialized tagger SequenceExample -> its features; `char_ids` as int32 [time, chars]."""
    features = _parsed(serialized, _CONTEXT_FEATURES, _SEQUENCE_FEATURES, (text.TOKEN_IDS, text.TAG_IDS))
    features[text.CHAR_IDS] = tf.cast(features[text.CHAR_IDS].to_tensor(), tf.int32)
    return features


def _records(files: Sequence[pathlib.Path], shuffle_buffer: int, seed: int | None) -> tf.data.Dataset:
    """The serialized examples of the shards, shuffled with `shuffle_buffer` (training) or in shard order."""
    dataset = tf.data.TFRecordDataset([str(f) for f in files])
    if shuffle_buffer:
        # One order per dataset: the trainer builds each epoch's dataset with its own seed, so that a
        # run resumed from a checkpoint sees the same batches as one that never stopped.
        dataset = dataset.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=False)
    return dataset


def _batches(
    dataset: tf.data.Dataset,
    length_of: str,
    batch_size: int,
    *,
    bucketed: bool,
    boundaries: Sequence[int] | None = None,
    tokens_per_batch: int = 0,
) -> tf.data.Dataset:
    """Right-padded batches of a dataset of feature dicts: bucketed by the length of `length_of` (training),
    or in order; each feature is padded in every dimension it has (none for a scalar, time for a sequence,
    time and characters for a token's character ids). Strings are padded with "", numbers with 0."""
    padded_shapes = {key: [None] * len(spec.shape) for key, spec in dataset.element_spec.items()}
    padding = {
        key: tf.constant("" if spec.dtype == tf.string else 0, spec.dtype) for key, spec in dataset.element_spec.items()
    }
    if not bucketed:
        return dataset.padded_batch(batch_size, padded_shapes=padded_shapes, padding_values=padding)
    boundaries = list(boundaries or BUCKET_BOUNDARIES)
    return dataset.bucket_by_sequence_length(
        lambda f: tf.shape(f[length_of])[0],
        bucket_boundaries=boundaries,
        bucket_batch_sizes=bucket_batch_sizes(boundaries, batch_size, tokens_per_batch),
        padded_shapes=padded_shapes,
        padding_values=padding,
    )


def tagger_dataset(
    files: Sequence[pathlib.Path],
    batch_size: int,
    *,
    char_features: bool,
    shuffle_buffer: int = 0,
    seed: int | None = None,
    with_strings: bool = False,
    word_dropout: float = 0.0,
    bucket_boundaries: Sequence[int] | None = None,
    pad_to_boundary: bool = False,
    tokens_per_batch: int = 0,
) -> tf.data.Dataset:
    """Batches of (inputs, tag_ids, weights), bucketed by length and right padded.

    Args:
        files: TFRecord shards.
        batch_size: sentences per batch.
        char_features: include `char_ids` int32 [batch, time, chars] in the inputs.
        shuffle_buffer: shuffle with this buffer (training); 0 keeps the shard order (evaluation).
        seed: the seed of the shuffle and of word dropout.
        with_strings: also yield `tokens`, `tags` and `key` strings in the inputs (for evaluation).
        word_dropout: replace each word id by `[UNK]` with this probability (training only), so the
            unknown-word embedding is trained for the words that test text brings (the characters
            stay, so the model learns to tag from them). Kiperwasser and Goldberg 2016 do the same.
        bucket_boundaries: sentence lengths where buckets end (training); default `BUCKET_BOUNDARIES`.
        pad_to_boundary: pad every batch to its bucket's boundary, so that only a few shapes occur (XLA
            compiles one program per shape).
        tokens_per_batch: training batches by a token budget instead of `batch_size` sentences: each
            bucket's batches hold as many sentences as fit this many padded tokens at its longest.

    Returns:
        A dataset of (inputs: dict with `token_ids` int32 [batch, time] ..., tag_ids int32 [batch, time],
        weights float32 [batch, time]: 1 on real tokens, 0 on padding).
    """
    dataset = _records(files, shuffle_buffer, seed).map(parse, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)

    def select(features):
        keys = [text.TOKEN_IDS, text.TAG_IDS] + ([text.CHAR_IDS] if char_features else [])
        keys += [text.TOKENS, text.TAGS, text.KEY] if with_strings else []
        return {key: features[key] for key in keys}

    dataset = dataset.map(select)
    padding = {text.TOKENS: "", text.TAGS: "", text.KEY: ""}
    if shuffle_buffer:
        boundaries = list(bucket_boundaries or BUCKET_BOUNDARIES)
        dataset = dataset.bucket_by_sequence_length(
            lambda f: tf.shape(f[text.TOKEN_IDS])[0],
            bucket_boundaries=boundaries,
            bucket_batch_sizes=bucket_batch_sizes(boundaries, batch_size, tokens_per_batch),
            padding_values={k: padding.get(k, 0) for k in dataset.element_spec} if with_strings else None,
            pad_to_bucket_boundary=pad_to_boundary,
        )
    else:
        dataset = dataset.padded_batch(
            batch_size,
            padding_values={
                k: tf.constant(padding.get(k, 0), dataset.element_spec[k].dtype) for k in dataset.element_spec
            },
        )

    def split(features):
        tag_ids = features.pop(text.TAG_IDS)
        real = features[text.TOKEN_IDS] > 0
        if word_dropout:
            dropped = tf.random.uniform(tf.shape(real), seed=seed) < word_dropout
            features[text.TOKEN_IDS] = tf.where(real & dropped, text.UNK_ID, features[text.TOKEN_IDS])
        return features, tag_ids, tf.cast(real, tf.float32)

    return dataset.map(split).prefetch(tf.data.AUTOTUNE)


_CLASSIFIER_CONTEXT = {
    text.KEY: tf.io.FixedLenFeature([], tf.string),
    text.TEXT: tf.io.FixedLenFeature([], tf.string),
    text.LABEL: tf.io.FixedLenFeature([], tf.string),
    text.LABEL_ID: tf.io.FixedLenFeature([], tf.int64),
}
_CLASSIFIER_SEQUENCE = {
    text.TOKEN_IDS: tf.io.FixedLenSequenceFeature([], tf.int64),
    text.CHAR_IDS: tf.io.RaggedFeature(tf.int64),
}


def parse_classifier(serialized: tf.Tensor) -> dict[str, tf.Tensor]:
    """One serialized classifier SequenceExample -> `token_ids` int32 [time], `char_ids` int32 [time, chars],
    `label_id` int32 [], strings."""
    features = _parsed(serialized, _CLASSIFIER_CONTEXT, _CLASSIFIER_SEQUENCE, (text.TOKEN_IDS, text.LABEL_ID))
    features[text.CHAR_IDS] = tf.cast(features[text.CHAR_IDS].to_tensor(), tf.int32)
    return features


def classifier_dataset(
    files: Sequence[pathlib.Path],
    batch_size: int,
    *,
    char_features: bool = False,
    shuffle_buffer: int = 0,
    seed: int | None = None,
    with_strings: bool = False,
    word_dropout: float = 0.0,
    bucket_boundaries: Sequence[int] | None = None,
    tokens_per_batch: int = 0,
) -> tf.data.Dataset:
    """Batches of (inputs, label_ids) for a classifier, bucketed by length when training, right padded.

    Args are as for `tagger_dataset`; `with_strings` adds `key`, `text` and `label` to the inputs.

    Returns:
        A dataset of (inputs: {"token_ids": int32 [batch, time], ("char_ids": int32 [batch, time, chars]),
        ...}, label_ids int32 [batch]).
    """
    dataset = _records(files, shuffle_buffer, seed)
    dataset = dataset.map(parse_classifier, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if not with_strings:  # training and validation: a label unseen in training has no class to learn (id -1)
        dataset = dataset.filter(lambda features: features[text.LABEL_ID] >= 0)
    keys = [text.TOKEN_IDS, text.LABEL_ID] + ([text.CHAR_IDS] if char_features else [])
    keys += [text.KEY, text.TEXT, text.LABEL] if with_strings else []
    dataset = dataset.map(lambda features: {key: features[key] for key in keys})
    dataset = _batches(
        dataset,
        text.TOKEN_IDS,
        batch_size,
        bucketed=bool(shuffle_buffer),
        boundaries=bucket_boundaries,
        tokens_per_batch=tokens_per_batch,
    )

    def split(features):
        label_ids = features.pop(text.LABEL_ID)
        if word_dropout:
            real = features[text.TOKEN_IDS] > 0
            dropped = tf.random.uniform(tf.shape(real), seed=seed) < word_dropout
            features[text.TOKEN_IDS] = tf.where(real & dropped, text.UNK_ID, features[text.TOKEN_IDS])
        return features, label_ids

    return dataset.map(split).prefetch(tf.data.AUTOTUNE)


def read_documents(files: Sequence[pathlib.Path]) -> list[np.ndarray]:
    """The `token_ids` of every document in the shards (language model), in shard order."""
    sequence = {text.TOKEN_IDS: tf.io.FixedLenSequenceFeature([], tf.int64)}

    def ids(serialized):
        _, features = tf.io.parse_single_sequence_example(serialized, sequence_features=sequence)
        return tf.cast(features[text.TOKEN_IDS], tf.int32)

    dataset = tf.data.TFRecordDataset([str(f) for f in files]).map(ids)
    return [np.asarray(document) for document in dataset.as_numpy_iterator()]


def language_model_streams(
    documents: Sequence[np.ndarray], batch_size: int, bptt: int, seed: int | None = None
) -> dict[str, np.ndarray]:
    """The corpus laid end to end and cut into `batch_size` contiguous streams, for truncated BPTT.

    Documents (each `[START]` first) are joined in a seeded random order (`seed`) or in the given
    order, and the joined units are cut into `batch_size` streams of equal length (to within one unit),
    whatever the number of documents: one long document fills every stream, as char-rnn lays out its
    `input.txt`. Every unit after the first is a target exactly once (the last input of a stream
    predicts the first unit of the next). A stream starts from a zero state, wherever in a document it
    starts, and so does every document's `[START]`.

    Returns:
        `token_ids`, `targets` int32 [batch_size, steps], `resets` float32 [batch_size, steps] (1 where
        the state is zeroed: a stream's first step and a document's `[START]`) and `weights` float32 (0
        where the target is padding or a `[START]`, which is never predicted); `steps` is a multiple of
        `bptt`, and only the last window of a stream holds padding.
    """
    order = np.random.default_rng(seed).permutation(len(documents)) if seed is not None else range(len(documents))
    parts = [np.asarray(documents[index], dtype=np.int32) for index in order]
    joined = np.concatenate(parts) if parts else np.zeros(0, np.int32)
    bounds = np.arange(batch_size + 1) * max(len(joined) - 1, 0) // batch_size  # stream i: inputs bounds[i]..
    steps = max(int(math.ceil(int(np.diff(bounds).max()) / bptt)), 1) * bptt
    inputs = np.zeros((batch_size, steps), dtype=np.int32)
    targets = np.zeros((batch_size, steps), dtype=np.int32)
    for row, (start, end) in enumerate(zip(bounds[:-1], bounds[1:], strict=True)):
        inputs[row, : end - start] = joined[start:end]
        targets[row, : end - start] = joined[start + 1 : end + 1]
    resets = (inputs == text.START_ID).astype(np.float32)
    resets[:, 0] = 1.0
    return {
        text.TOKEN_IDS: inputs,
        "targets": targets,
        "resets": resets,
        "weights": ((targets != text.PAD_ID) & (targets != text.START_ID)).astype(np.float32),
    }


def language_model_dataset(streams: dict[str, np.ndarray], bptt: int) -> tf.data.Dataset:
    """Batches of ({token_ids, resets}, targets, weights), each [streams, bptt], in stream order.

    Batch i holds window i of every stream, so a stateful model carries each stream's state across.
    """
    windows = streams[text.TOKEN_IDS].shape[1] // bptt

    def cut(array):  # [batch, windows * bptt] -> [windows, batch, bptt]
        return np.ascontiguousarray(array.reshape(array.shape[0], windows, bptt).transpose(1, 0, 2))

    inputs = {text.TOKEN_IDS: cut(streams[text.TOKEN_IDS]), "resets": cut(streams["resets"])}
    dataset = tf.data.Dataset.from_tensor_slices((inputs, cut(streams["targets"]), cut(streams["weights"])))
    # The windows are already in memory: a fixed prefetch, and no autotuning. With autotuning on, an
    # iterator that Keras stops after `cardinality` batches (never reading the end) sometimes waits, when
    # `fit` (or the validation inside it) destroys it, for tf.data's autotuning thread to wake: up to that
    # thread's period, which doubles from 10 ms as the epoch goes on, to at most a minute.
    options = tf.data.Options()
    options.autotune.enabled = False
    return dataset.prefetch(2).with_options(options)


_PAIR_CONTEXT = {key: tf.io.FixedLenFeature([], tf.string) for key in (text.KEY, text.SOURCE, text.TARGET)}
_PAIR_SEQUENCE = {key: tf.io.FixedLenSequenceFeature([], tf.int64) for key in (text.SOURCE_IDS, text.TARGET_IDS)}


def translator_dataset(
    files: Sequence[pathlib.Path],
    batch_size: int,
    *,
    shuffle_buffer: int = 0,
    seed: int | None = None,
    with_strings: bool = False,
    bucket_boundaries: Sequence[int] | None = None,
) -> tf.data.Dataset:
    """Batches of (inputs, target_out, weights) for a translator, bucketed by source length when training.

    The target `[START] y1 ... yn [END]` is split into the decoder's input `target_in` (`[START] y1 ... yn`,
    teacher forcing) and what it must predict, `target_out` (`y1 ... yn [END]`).

    Returns:
        A dataset of (inputs: {"source_ids": int32 [batch, src], "target_in": int32 [batch, tgt], and with
        `with_strings` "key", "source", "target"}, target_out int32 [batch, tgt], weights float32 [batch, tgt]).
    """
    dataset = _records(files, shuffle_buffer, seed)

    def parse(serialized):
        context, sequence = tf.io.parse_single_sequence_example(
            serialized, context_features=_PAIR_CONTEXT, sequence_features=_PAIR_SEQUENCE
        )
        target = tf.cast(sequence[text.TARGET_IDS], tf.int32)
        features = {
            text.SOURCE_IDS: tf.cast(sequence[text.SOURCE_IDS], tf.int32),
            text.TARGET_IN: target[:-1],
            "out": target[1:],
        }
        if with_strings:
            features.update(context)
        return features

    dataset = dataset.map(parse, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    dataset = _batches(
        dataset,
        text.SOURCE_IDS,
        batch_size,
        bucketed=bool(shuffle_buffer),
        boundaries=bucket_boundaries,
    )

    def split(features):
        target_out = features.pop("out")
        return features, target_out, tf.cast(target_out > 0, tf.float32)

    return dataset.map(split).prefetch(tf.data.AUTOTUNE)
