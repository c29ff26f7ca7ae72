"""Checks of the labels a corpus gives, for the mistakes people make when they write one: a typo of a label
on a few rows, a header line read as a record, and swapped columns (a text read as the label).

Each check looks at label counts over all splits and at where each label is first seen (`file:line`), and
says what it found in one line; the statistics stage turns each finding into an anomaly of its own check.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

# A label seen this many times or fewer, and at least TYPO_RATIO times less often than a label it is close
# to, looks like a typo of it.
TYPO_MAX_COUNT = 5
TYPO_RATIO = 20
# Distinct labels in at least this share of at least SWAPPED_MIN_RECORDS records: the text is read as the label.
SWAPPED_SHARE = 0.5
SWAPPED_MIN_RECORDS = 20
# Words a header line uses for its columns.
HEADER_WORDS = frozenset(
    "label labels class category categories sentiment polarity target targets tag tags y text texts sentence "
    "sentences review reviews document source sources src tgt translation input output id word token pos ner "
    "english spanish french german en es fr de".split()
)
_BIO = re.compile(r"^[BIES]-")


def cut(text: str, width: int) -> str:
    """`text`, cut to `width` characters (the last an ellipsis)."""
    return text if len(text) <= width else text[: width - 1] + "…"


def shown(label: str, width: int = 40) -> str:
    """A label as a message shows it: quoted, and cut to `width` characters."""
    return repr(cut(label, width))


def distance(a: str, b: str, limit: int = 2) -> int:
    """The optimal string alignment distance of two strings (insertions, deletions, substitutions and
    transpositions of neighbours), or `limit + 1` when it is more than `limit`."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    before, row = None, list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, y in enumerate(b, 1):
            current[j] = min(row[j] + 1, current[j - 1] + 1, row[j - 1] + (x != y))
            if before is not None and i > 1 and j > 1 and x == b[j - 2] and a[i - 2] == y:
                current[j] = min(current[j], before[j - 2] + 1)
        before, row = row, current
    return min(row[-1], limit + 1)


def _alike(rare: str, frequent: str) -> bool:
    """Whether `rare` reads as a slip of `frequent`: the same but for case, spacing or punctuation, or one
    edit apart (two for labels of eight characters or more); tags that differ only in a BIO prefix are not."""
    if _BIO.match(rare) and _BIO.match(frequent) and rare[2:] == frequent[2:]:
        return False
    if re.sub(r"[\W_]+", "", rare).casefold() == re.sub(r"[\W_]+", "", frequent).casefold():
        return True
    if min(len(rare), len(frequent)) < 4:  # NN and NNS, DT and WDT: short tags differ by one letter on purpose
        return False
    return distance(rare, frequent) <= (2 if min(len(rare), len(frequent)) >= 8 else 1)


def typos(counts: Mapping[str, int], first: Mapping[str, str]) -> list[str]:
    """A line for each label seen only a few times that is close to a label seen far more often."""
    found = []
    by_count = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    for rare, count in by_count:
        if count > TYPO_MAX_COUNT:
            continue
        for frequent, frequent_count in by_count:
            if frequent_count < count * TYPO_RATIO:
                break
            if _alike(rare, frequent):
                found.append(
                    f"label {shown(rare)} ({count:,} record(s), first at {first[rare]}) looks like a typo of "
                    f"{shown(frequent)} ({frequent_count:,} records)"
                )
                break
    return found


def header(first_lines: Mapping[str, tuple[list[str], str | None]], counts: Mapping[str, int]) -> list[str]:
    """A line for each file whose first record looks like a header (`first_lines`: the key of each file's
    first record -> its words, when a few, and its one label or None): all its words are column names, or
    its label is seen nowhere else in a corpus of a few labels used many times each."""
    found = []
    many_uses = len(counts) > 1 and sum(counts.values()) >= 5 * len(counts)
    for key, (words, label) in sorted(first_lines.items()):
        named = bool(words) and all(word.strip().lower() in HEADER_WORDS for word in words)
        if named or (label is not None and counts.get(label) == 1 and many_uses):
            shown_words = " ".join(shown(word, 24) for word in words)
            found.append(f"the first line of {key.rsplit(':', 1)[0]} looks like a header ({shown_words}): remove it")
    return found


def swapped(counts: Mapping[str, int], records: int, columns: str) -> list[str]:
    """A line when nearly every record has a label of its own: the columns are in the wrong order."""
    if records < SWAPPED_MIN_RECORDS or len(counts) < SWAPPED_SHARE * records:
        return []
    longest = max(counts, key=len)
    return [
        f"{len(counts):,} distinct labels in {records:,} records (one {shown(longest, 30)}): are the columns "
        f"swapped? the format reads {columns}"
    ]
