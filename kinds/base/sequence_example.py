"""`tf.train.SequenceExample`s written straight in the protobuf wire format, a whole feature list at a time.

Built through `tf.train` objects, a SequenceExample costs one Python `Feature` per token and per
feature list (five per token for a tagger): most of the preprocess stage's time went there. The few
messages involved are simple to write by hand, and a feature list is the concatenation of its
features' encodings, so each distinct token, id or character-id tuple is encoded once per worker
(`functools.lru_cache`) and a list is one `bytes.join`.

The bytes are those of `SerializeToString(deterministic=True)` under upb, the protobuf runtime of
TensorFlow's Python: fields in number order, map entries in upb's key order (`_map_order`), int64
lists packed (`tests/unit/test_sequence_example.py` compares them).

Field numbers (tensorflow/core/example/{example,feature}.proto):
  SequenceExample: context = 1 (Features), feature_lists = 2 (FeatureLists)
  Features: feature = 1 (map<string, Feature>); FeatureLists: feature_list = 1 (map<string, FeatureList>)
  FeatureList: feature = 1 (repeated Feature)
  Feature: bytes_list = 1 (BytesList), int64_list = 3 (Int64List)
  BytesList: value = 1 (repeated bytes); Int64List: value = 1 (packed repeated int64)
  a map entry: key = 1, value = 2
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterable, Mapping

_CACHE_SIZE = 1 << 16


@functools.lru_cache(maxsize=_CACHE_SIZE)
def _varint(value: int) -> bytes:
    """Base-128 varint of an int64 (a negative one as its 64-bit two's complement, ten bytes)."""
    value &= (1 << 64) - 1
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited field: its key (wire type 2), the payload's length, the payload."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def bytes_feature(value: str | bytes) -> bytes:
    """`Feature(bytes_list=BytesList(value=[value]))`; a str is encoded as UTF-8."""
    if isinstance(value, str):
        value = value.encode("utf-8")
    return _field(1, _field(1, value))


def int64_feature(values: Iterable[int]) -> bytes:
    """`Feature(int64_list=Int64List(value=values))`."""
    packed = b"".join(map(_varint, values))
    return _field(3, _field(1, packed) if packed else b"")


@functools.lru_cache(maxsize=_CACHE_SIZE)
def _bytes_entry(value: bytes) -> bytes:
    """One `FeatureList.feature` entry: a Feature holding one string."""
    return _field(1, bytes_feature(value))


@functools.lru_cache(maxsize=_CACHE_SIZE)
def int64_entry(value: int) -> bytes:
    """One `FeatureList.feature` entry: a Feature holding one int64 (prepend or append it to a list's bytes)."""
    return _field(1, int64_feature((value,)))


@functools.lru_cache(maxsize=_CACHE_SIZE)
def _int64s_entry(values: tuple[int, ...]) -> bytes:
    """One `FeatureList.feature` entry: a Feature holding several int64s (a token's character ids)."""
    return _field(1, int64_feature(values))


def feature_lists(tensor) -> list[bytes]:
    """The `FeatureList` (its serialized content) of each row of a ragged tensor.

    Args:
        tensor: a `tf.RaggedTensor` of strings or ints, [batch, (n)] (a Feature of one value per
            element) or int [batch, (n), (k)] (a Feature of k ints per element, such as a token's
            character ids).
    Returns:
        one bytes per row, the concatenation of its entries (feed it to `serialize`).

    It reads the tensor through NumPy: `RaggedTensor.to_list()` slices it row by row with TensorFlow ops.
    """
    values = tensor.flat_values.numpy().tolist()
    splits = [row_splits.numpy().tolist() for row_splits in tensor.nested_row_splits]
    if len(splits) == 2:
        inner = splits[1]
        entries = [_int64s_entry(tuple(values[start:end])) for start, end in itertools.pairwise(inner)]
    elif len(splits) == 1:
        entries = list(map(_bytes_entry if tensor.dtype.name == "string" else int64_entry, values))
    else:
        raise ValueError(f"expected a ragged tensor of 1 or 2 ragged dimensions, got {tensor.shape}")
    return [b"".join(entries[start:end]) for start, end in itertools.pairwise(splits[0])]


def _map_order(key: bytes) -> tuple[int, ...]:
    """The order of a map entry under upb's deterministic serialization (the runtime of TensorFlow's Python).

    Bytewise, except that a key comes before its own prefixes ("label_id" before "label"): what
    comparing the bytes followed by a sentinel above any byte gives.
    """
    return (*key, 256)


@functools.lru_cache(maxsize=256)
def _ordered_keys(keys: tuple[str, ...]) -> tuple[tuple[str, bytes], ...]:
    """A map's keys in serialization order, each with its encoded key field (the same few keys, every example)."""
    encoded = {key: key.encode("utf-8") for key in keys}
    return tuple((key, _field(1, encoded[key])) for key in sorted(keys, key=lambda key: _map_order(encoded[key])))


def _map(mapping: Mapping[str, bytes]) -> bytes:
    """The entries of a map<string, message> field (number 1) from serialized values."""
    return b"".join(_field(1, key_field + _field(2, mapping[key])) for key, key_field in _ordered_keys(tuple(mapping)))


def serialize(context: Mapping[str, bytes], lists: Mapping[str, bytes]) -> bytes:
    """A serialized SequenceExample from its context Features (`bytes_feature`, `int64_feature`) and FeatureLists.

    Map entries go in the order deterministic serialization writes them (SequenceExamples otherwise
    serialize their maps in hash order).
    """
    return _field(1, _map(context)) + _field(2, _map(lists))
