"""A record by its content: the hashes that decide its split, find its duplicates and digest a dataset.

A record's *input* is what its model reads: a sentence's tokens, a text, a translation pair's source side,
an image's bytes, a block of a document. Its split is a function of the input alone, hashed after Unicode
NFC and with every run of white space read as one space, so that one corpus splits the same from any
config, path, file name or file order, and two records with the same input (a duplicate, or one input
labelled twice) land in the same split. A record's *content* hash covers its input and its labels.

A split's digest is a multiset hash of its records' content hashes (their sum modulo 2^256, hashed once
more: AdHash, Bellare and Micciancio 1997): it does not depend on the order of the records, grows with
one addition per record, and two splits with the same records, duplicates counted, have the same digest.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any

# Hex characters of a record's hashes (128 bits), and of a dataset's digest (MLflow keeps 36 at most).
HASH_CHARS = 32
DIGEST_CHARS = 16
_MODULUS = 1 << 256


def normalized(text: str) -> str:
    """`text` as its input hash reads it: NFC, white space runs as one space, none at either end."""
    return " ".join(unicodedata.normalize("NFC", text).split())


def hash_text(text: str) -> str:
    """The hex SHA-256 of `text`'s UTF-8 bytes, cut to `HASH_CHARS`."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:HASH_CHARS]


def hash_bytes(data: bytes) -> str:
    """The hex SHA-256 of `data` (an image file), cut to `HASH_CHARS`."""
    return hashlib.sha256(data).hexdigest()[:HASH_CHARS]


def input_hash(value: str | Sequence[str]) -> str:
    """The hash of a record's input: a text, or a sentence's tokens (each normalised, in order)."""
    if isinstance(value, str):
        return hash_text(normalized(value))
    return hash_text(json.dumps([normalized(token) for token in value], ensure_ascii=False))


def content_hash(input_hash_: str, fields: Mapping[str, Any], input_field: str) -> str:
    """The hash of a whole record: its input's hash and every other field (the labels), by name."""
    labels = {name: value for name, value in sorted(fields.items()) if name != input_field}
    return hash_text(json.dumps([input_hash_, labels], ensure_ascii=False, sort_keys=True))


def position(hash_: str) -> float:
    """Where a hash falls in [0, 1): its first 64 bits over 2^64 (the split of a record is read off it)."""
    return int(hash_[:16], 16) / 2.0**64


class Digest:
    """A split's digest, one record at a time: the sum of the content hashes modulo 2^256 (order-free)."""

    def __init__(self) -> None:
        self._sum = 0
        self.records = 0

    def add(self, content: str) -> None:
        self._sum = (self._sum + int(content, 16)) % _MODULUS
        self.records += 1

    def hexdigest(self) -> str:
        return hashlib.sha256(self._sum.to_bytes(32, "big")).hexdigest()[:DIGEST_CHARS]
