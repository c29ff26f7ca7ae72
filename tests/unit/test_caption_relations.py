"""The captioner's relation score: does a caption state the image's spatial relation right?"""

from __future__ import annotations

import pytest

from kinds.captioner.scores import relation_of, relations, score

SCENE = ["a large six left of a large two", "a large two right of a large six"]


@pytest.mark.parametrize(
    ("caption", "triple"),
    [
        ("a large six left of a large two", ("six", "left of", "two")),
        ("A red Square to the left of a blue circle", ("square", "to the left of", "circle")),
        ("the cat is on top of the mat", ("is", "on top of", "mat")),
        ("a small six", None),
        ("left of a two", None),
    ],
)
def test_a_caption_states_a_relation_between_two_head_words(caption, triple):
    assert relation_of(caption) == triple


@pytest.mark.parametrize(
    ("caption", "right"),
    [
        ("a large six left of a large two", True),
        ("a large two right of a large six", True),  # the converse, as the other reference says it
        ("a small two right of a large six", True),  # a wrong size is BLEU's to see, not the relation's
        ("a large six right of a large two", False),
        ("a large six above a large two", False),
        ("a large three left of a large two", False),  # a relation of objects no reference relates
        ("a large six", False),  # no relation stated
    ],
)
def test_the_relation_is_right_when_a_reference_relates_the_same_objects_the_same_way(caption, right):
    assert relations([caption], [SCENE])["relation_accuracy"] == float(right)


def test_the_relation_given_the_objects_counts_only_captions_that_name_both():
    hypotheses = ["a large six right of a large two", "a large two right of a six", "a large three left of a two"]

    found = relations(hypotheses, [SCENE] * 3)

    assert found == {
        "relation_accuracy": 1 / 3,
        "relation_images": 3,
        "relation_named": 2,
        "relation_given_objects": 0.5,
    }


def test_only_images_whose_references_state_a_relation_count():
    hypotheses = ["a small six", "a large six left of a large two", "a large six below a large two"]
    references = [["a small six", "a single small six"], SCENE, SCENE]

    assert relations(hypotheses, references) == {
        "relation_accuracy": 0.5,
        "relation_images": 2,
        "relation_named": 2,
        "relation_given_objects": 0.5,
    }
    assert relations(["a small six"], [["a small six"]]) == {}
    assert score(hypotheses, references)["relation_accuracy"] == 0.5
