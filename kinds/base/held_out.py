"""A task that reads another task's model (a tagger's language model) must not be scored on records that model
learned from: its eval and test records are looked up, by content, in the other task's corpus.

Records are compared by their text with all white space removed, so that a tagged sentence (`The cat , sat`)
and the same line of raw text (`The cat, sat`) match; a document of several lines is looked up whole and
line by line. What is counted is exact: a sentence that appears inside a longer line is not found.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from typing import Any

from pipeline import artifacts
from pipeline.errors import ConfigError

HELD_OUT = ("eval", "test")


def texts(record: Mapping[str, Any]) -> Iterator[str]:
    """The texts of a record that are compared: a tagged sentence's tokens joined, a document and its lines."""
    if "tokens" in record:
        yield " ".join(record["tokens"])
    if isinstance(record.get("text"), str):
        yield record["text"]
        yield from record["text"].splitlines()


def digest(text: str) -> str | None:
    squeezed = "".join(text.split())
    return hashlib.sha256(squeezed.encode("utf-8")).hexdigest() if squeezed else None


def check(task: str, examples: artifacts.Examples, upstream: Mapping[str, artifacts.Examples]) -> None:
    """Refuses, with one line, when a task's held-out records are in the corpus of a task it reads.

    Raises:
        ConfigError: naming the task read, how many records it holds, and the first with both its places.
    """
    held_out: dict[str, str] = {}
    splits = [split for split in HELD_OUT if examples.split_path(split).exists()]
    for split in splits:
        for record in examples.read(split):
            for text in texts(record):
                key = digest(text)
                if key is not None:
                    held_out.setdefault(key, record.get("key", split))
    for name, corpus in upstream.items():
        found: dict[str, str] = {}
        for split in artifacts.SPLITS:
            if not corpus.split_path(split).exists():
                continue
            for record in corpus.read(split):
                for text in texts(record):
                    key = digest(text)
                    if key in held_out and key not in found:
                        found[key] = record.get("key", split)
        if found:
            key, place = next(iter(found.items()))
            raise ConfigError(
                f"tasks.{task}: the corpus of task {name}, whose model it reads, holds {len(found):,} of its eval and "
                f"test records (the first, {held_out[key]}, is {place} there); take them out of {name}'s corpus"
            )
