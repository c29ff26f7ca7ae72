"""The hand-written SequenceExample encoder against `tf.train`'s deterministic serialization, byte for byte."""

import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st

from kinds.base import sequence_example

INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
SMALL_IDS = st.integers(min_value=-1, max_value=20_000)
TEXT = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=8)


def reference(key: str, label_id: int, tokens: list[str], ids: list[int], chars: list[list[int]]) -> bytes:
    """The same example built with `tf.train` objects, as the preprocess stage used to build them."""
    example = tf.train.SequenceExample(
        context=tf.train.Features(
            feature={
                "key": tf.train.Feature(bytes_list=tf.train.BytesList(value=[key.encode()])),
                "label_id": tf.train.Feature(int64_list=tf.train.Int64List(value=[label_id])),
            }
        ),
        feature_lists=tf.train.FeatureLists(
            feature_list={
                "tokens": tf.train.FeatureList(
                    feature=[tf.train.Feature(bytes_list=tf.train.BytesList(value=[t.encode()])) for t in tokens]
                ),
                "token_ids": tf.train.FeatureList(
                    feature=[tf.train.Feature(int64_list=tf.train.Int64List(value=[i])) for i in ids]
                ),
                "char_ids": tf.train.FeatureList(
                    feature=[tf.train.Feature(int64_list=tf.train.Int64List(value=c)) for c in chars]
                ),
            }
        ),
    )
    return example.SerializeToString(deterministic=True)


def encoded(key: str, label_id: int, tokens: list[str], ids: list[int], chars: list[list[int]]) -> bytes:
    """The example through `sequence_example`, from ragged tensors of a batch of one."""
    lists = {
        "tokens": sequence_example.feature_lists(tf.ragged.constant([tokens], dtype=tf.string, ragged_rank=1))[0],
        "token_ids": sequence_example.feature_lists(tf.ragged.constant([ids], dtype=tf.int64, ragged_rank=1))[0],
        "char_ids": sequence_example.feature_lists(
            tf.RaggedTensor.from_nested_row_lengths(
                tf.constant([c for cs in chars for c in cs], tf.int64), [[len(chars)], [len(cs) for cs in chars]]
            )
        )[0],
    }
    context = {
        "label_id": sequence_example.int64_feature([label_id]),
        "key": sequence_example.bytes_feature(key),
    }
    return sequence_example.serialize(context, lists)


@settings(max_examples=200, deadline=None)
@given(
    key=TEXT,
    label_id=INT64,
    words=st.lists(st.tuples(TEXT, SMALL_IDS, st.lists(SMALL_IDS, max_size=4)), max_size=6),
)
def test_encoding_matches_deterministic_protobuf_serialization(key, label_id, words):
    tokens = [token for token, _, _ in words]
    ids = [i for _, i, _ in words]
    chars = [c for _, _, c in words]

    assert encoded(key, label_id, tokens, ids, chars) == reference(key, label_id, tokens, ids, chars)


def test_feature_lists_splits_a_batch_into_its_rows():
    ids = tf.ragged.constant([[1, 2], [], [300]], dtype=tf.int64)

    rows = sequence_example.feature_lists(ids)

    assert rows == [
        sequence_example.int64_entry(1) + sequence_example.int64_entry(2),
        b"",
        sequence_example.int64_entry(300),
    ]


@settings(max_examples=200, deadline=None)
@given(
    context=st.dictionaries(st.sampled_from(["", "a", "ab", "abc", "a_b", "b", "é", "label", "label_id"]) | TEXT, INT64)
)
def test_map_entries_go_in_the_order_of_deterministic_serialization(context):
    """upb's order: bytewise, but a key before its prefixes ("label_id" before "label")."""
    example = tf.train.SequenceExample(
        context=tf.train.Features(
            feature={key: tf.train.Feature(int64_list=tf.train.Int64List(value=[v])) for key, v in context.items()}
        ),
        feature_lists=tf.train.FeatureLists(),
    )
    features = {key: sequence_example.int64_feature([v]) for key, v in context.items()}

    assert sequence_example.serialize(features, {}) == example.SerializeToString(deterministic=True)
