"""What `pipeline validate` tells the user of a language model before anything runs.

A word-level language model predicts each word with a softmax over its whole vocabulary: with the
tens of thousands of words of a novel, a step costs tens of times a character model's, and most words
are seen a few times. The vocabulary size is estimated from the training files (Python's regular
expressions standing in for the task's RE2 tokenizer: an estimate, which the preprocess stage makes
exact) so that the user sees it, and the characters it would otherwise be, before training.
"""

from __future__ import annotations

import collections
import glob
import gzip
import pathlib
import re

# A word-level vocabulary larger than this gets the advice.
LARGE_VOCABULARY = 5_000
# Characters read from the training files for the estimate.
SAMPLE_CHARACTERS = 20_000_000
_WORDS = re.compile(r"\w+(?:['’.-]\w+)*|[^\w\s]")
_SPLITS = {"whitespace": re.compile(r"\S+"), "regex": _WORDS, "unicode_script": _WORDS}


def advice(task, config) -> list[str]:
    """One line when the task is a word-level model over a large vocabulary; none otherwise."""
    p = task.preprocess
    if p.tokenizer not in _SPLITS:
        return []
    words: collections.Counter[str] = collections.Counter()
    characters: set[str] = set()
    for sample in _samples(config.resolve(task.data.train)):
        sample = sample.lower() if p.lowercase else sample
        words.update(_SPLITS[p.tokenizer].findall(sample))
        characters.update(sample)
    kept = sum(1 for count in words.values() if count >= p.min_count)
    kept = min(kept, p.max_size) if p.max_size else kept
    if kept <= LARGE_VOCABULARY:
        return []
    return [
        f"a word-level language model ({p.tokenizer} tokenizer) over about {kept:,} words (min_count "
        f"{p.min_count}): every step's softmax covers them all, so it trains slowly and learns rare words from "
        f"a few examples; preprocess.tokenizer: characters models the same text in about {len(characters):,} "
        f"units, or raise preprocess.min_count or set preprocess.max_size"
    ]


def _samples(pattern: pathlib.Path):
    """The text of the files `pattern` matches, up to `SAMPLE_CHARACTERS` in all."""
    left = SAMPLE_CHARACTERS
    for name in sorted(glob.glob(str(pattern), recursive=True)):
        path = pathlib.Path(name)
        if not path.is_file() or left <= 0:
            continue
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", encoding="utf-8", errors="replace") as stream:
            sample = stream.read(left)
        left -= len(sample)
        yield sample
