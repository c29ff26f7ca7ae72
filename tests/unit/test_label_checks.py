"""The label checks' pieces: the edit distance (against the slow textbook recurrence) and what reads as a slip."""

from __future__ import annotations

import functools

import hypothesis
from hypothesis import strategies as st

from components.statistics import labels


def textbook(a: str, b: str) -> int:
    """Optimal string alignment distance by its recurrence, memoised: the reference."""

    @functools.cache
    def d(i: int, j: int) -> int:
        if min(i, j) == 0:
            return max(i, j)
        best = min(d(i - 1, j) + 1, d(i, j - 1) + 1, d(i - 1, j - 1) + (a[i - 1] != b[j - 1]))
        if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
            best = min(best, d(i - 2, j - 2) + 1)
        return best

    return d(len(a), len(b))


@hypothesis.given(st.text("abcd", max_size=7), st.text("abcd", max_size=7))
def test_the_distance_agrees_with_the_textbook_recurrence_up_to_its_limit(a, b):
    assert labels.distance(a, b, limit=2) == min(textbook(a, b), 3)


def test_a_swap_of_neighbours_is_one_edit():
    assert labels.distance("postive", "positive") == 1
    assert labels.distance("psoitive", "positive") == 1


def test_case_and_punctuation_slips_count_whatever_the_length():
    assert labels.typos({"NOUN": 500, "noun": 1}, {"noun": "c:9"}) == [
        "label 'noun' (1 record(s), first at c:9) looks like a typo of 'NOUN' (500 records)"
    ]
    assert labels.typos({"B-PER": 500, "B_PER": 2}, {"B_PER": "c:3"})


def test_labels_seen_often_enough_are_not_typos():
    assert labels.typos({"positive": 150, "postive": 6}, {"postive": "x:1"}) == []
    assert labels.typos({"positive": 30, "postive": 2}, {"postive": "x:1"}) == []  # not 20 times rarer
