"""`data/prepare_vqa_digits.py` and `data/prepare_vqa_shapes.py`: the VQA scenes, their questions and files.

The scripts are imported from their file paths (they are run as files, not imported as package modules). The
written corpora are checked from the files alone: every answer is recomputed here from the boxes and words
of ``objects.tsv`` (the centre rule for relations, with each corpus's margin), not with the scripts' own code.
The balance of the answers is measured on larger corpora made in memory.
"""

from __future__ import annotations

import importlib.util
import pathlib
import re
from collections import Counter

import numpy as np
import pytest
from PIL import Image

DATA = pathlib.Path(__file__).resolve().parents[2] / "data"


def _load_script(name: str):
    spec = importlib.util.spec_from_file_location(name, DATA / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


digits = _load_script("prepare_vqa_digits")
shapes = _load_script("prepare_vqa_shapes")
SCRIPTS = {"digits": digits, "shapes": shapes}

WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
KINDS = ("square", "circle", "triangle")
COLOURS = {"red": (255, 0, 0), "green": (0, 255, 0), "blue": (0, 0, 255), "yellow": (255, 255, 0)}
RELATIONS = ("left of", "right of", "above", "below")
CONVERSE = {"left of": "right of", "right of": "left of", "above": "below", "below": "above"}
REL = "(left of|right of|above|below)"
IMAGES, SEED = 40, 3
# Each corpus's rules: the gap between two boxes, the margin of a clear relation (px), the families' first
# two words and their possible answers.
RULES = {
    "digits": {
        "gap": 2,
        "margin": 4,
        "types": {
            "what digit": set(WORDS),
            "what size": {"small", "large"},
            "how many": {"1", "2", "3"},
            "is there": {"yes", "no"},
            "is the": {"yes", "no"},
        },
    },
    "shapes": {
        "gap": 3,
        "margin": 6,
        "types": {
            "what colour": set(COLOURS),
            "what shape": set(KINDS),
            "how many": {"1", "2", "3"},
            "is there": {"yes", "no"},
            "is the": {"yes", "no"},
        },
    },
}


@pytest.fixture(scope="module")
def corpora(tmp_path_factory):
    """Each script run with one seed into two folders (the first twice, over its own output)."""
    root = tmp_path_factory.mktemp("vqa")
    for name, script in SCRIPTS.items():
        args = ["--images", str(IMAGES), "--seed", str(SEED)]
        script.main([*args, "--out", str(root / name / "a")])
        script.main([*args, "--out", str(root / name / "a")])  # replaces the folder
        script.main([*args, "--out", str(root / name / "b")])
    return root


@pytest.fixture(scope="module")
def big():
    """1,500 scenes of each corpus, made in memory (no files): ``(image index, question, answer)`` rows."""
    return {
        name: [(scene.index, q.text, q.answer) for scene in script.generate(1500, 11) for q in scene.questions]
        for name, script in SCRIPTS.items()
    }


def _files(folder: pathlib.Path) -> dict[str, bytes]:
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


def _objects(folder: pathlib.Path) -> dict[str, list[tuple[str, str, int, int, int, int]]]:
    lines = (folder / "objects.tsv").read_text(encoding="utf-8").split("\n")
    assert lines[0] == "image\tword\tsize\tx0\ty0\tx1\ty1" and lines[-1] == ""
    by_image: dict[str, list] = {}
    for line in lines[1:-1]:
        image, word, size, *box = line.split("\t")
        by_image.setdefault(image, []).append((word, size, *map(int, box)))
    return by_image


def _questions(folder: pathlib.Path) -> list[tuple[str, str, str]]:
    data = (folder / "questions.tsv").read_bytes()
    assert b"\r" not in data and data.endswith(b"\n")
    rows = [tuple(line.split("\t")) for line in data.decode("utf-8").split("\n")[:-1]]
    for row in rows:
        assert len(row) == 3, row
    return rows


def _type(question: str) -> str:
    return " ".join(question.split()[:2])


def _centre_difference(a, b) -> tuple[float, float]:
    """Centre of box ``a`` minus centre of box ``b`` (x, y; rows count downwards); boxes are (x0, y0, x1, y1)."""
    return (a[0] + a[2] - b[0] - b[2]) / 2, (a[1] + a[3] - b[1] - b[3]) / 2


def _relation(a, b, margin: float) -> str | None:
    """Where box ``a`` is with respect to box ``b``, or None where the relation is not clear by ``margin`` px."""
    dx, dy = _centre_difference(a, b)
    if abs(abs(dx) - abs(dy)) < margin:
        return None
    if abs(dx) > abs(dy):
        return "left of" if dx < 0 else "right of"
    return "above" if dy < 0 else "below"


def _past(c, b, rel: str) -> bool:
    """Whether the centre of box ``c`` lies past the centre of box ``b`` in the direction ``rel``."""
    dx, dy = _centre_difference(c, b)
    return {"left of": dx < 0, "right of": dx > 0, "above": dy < 0, "below": dy > 0}[rel]


def _expected_answer(corpus: str, question: str, objects: list) -> str:
    """The answer to ``question`` read off the scene's objects ``(word, size or colour, x0, y0, x1, y1)``."""
    margin = RULES[corpus]["margin"]
    boxes = {word: tuple(box) for word, _, *box in objects}
    attribute = {word: value for word, value, *_ in objects}
    noun = "digit" if corpus == "digits" else "shape"
    if question == f"how many {noun}s are there?":
        return str(len(objects))
    if match := re.fullmatch(f"is the (\\w+) {REL} the (\\w+)\\?", question):
        a, rel, b = match.groups()
        truth = _relation(boxes[a], boxes[b], margin)
        assert truth is not None, f"{question}: the relation is not clear"
        assert rel in (truth, CONVERSE[truth]), f"{question}: a false relation along the other axis"
        return "yes" if rel == truth else "no"
    if match := re.fullmatch(f"what (?:digit|shape) is {REL} the (\\w+)\\?", question):
        rel, b = match.groups()
        answers = [word for word in boxes if word != b and _past(boxes[word], boxes[b], rel)]
        assert len(answers) == 1, f"{question}: {answers} lie on that side"
        assert _relation(boxes[answers[0]], boxes[b], margin) == rel, f"{question}: the relation is not clear"
        return answers[0]
    if corpus == "digits":
        if match := re.fullmatch(r"is there (a|an) (\w+)\?", question):
            article, word = match.groups()
            assert word in WORDS and article == ("an" if word == "eight" else "a")
            return "yes" if word in boxes else "no"
        if match := re.fullmatch(r"what size is the (\w+)\?", question):
            return attribute[match.group(1)]
        if match := re.fullmatch(r"what digit is (small|large)\?", question):
            (word,) = [word for word, size in attribute.items() if size == match.group(1)]  # the only one
            return word
    else:
        if match := re.fullmatch(r"is there a (\w+) shape\?", question):
            assert match.group(1) in COLOURS
            return "yes" if match.group(1) in attribute.values() else "no"
        if match := re.fullmatch(r"is there a (\w+)\?", question):
            assert match.group(1) in KINDS
            return "yes" if match.group(1) in boxes else "no"
        if match := re.fullmatch(r"what colour is the (\w+)\?", question):
            return attribute[match.group(1)]
        if match := re.fullmatch(r"what shape is the (\w+) object\?", question):
            (word,) = [word for word, colour in attribute.items() if colour == match.group(1)]  # the only one
            return word
    raise AssertionError(f"a question of no known form: {question!r}")


def _held_out_prior(rows: list[tuple[int, str, str]], share: float = 0.2) -> float:
    """Accuracy on the last ``share`` of the images of each question text's most frequent answer on the others.

    An unseen text gets the most frequent answer of its type (first two words).
    """
    cut = max(index for index, _, _ in rows) * (1 - share)
    by_text: dict[str, Counter] = {}
    by_type: dict[str, Counter] = {}
    for index, text, answer in rows:
        if index < cut:
            by_text.setdefault(text, Counter())[answer] += 1
            by_type.setdefault(_type(text), Counter())[answer] += 1
    scored = [(text, answer) for index, text, answer in rows if index >= cut]
    right = sum((by_text.get(text) or by_type[_type(text)]).most_common(1)[0][0] == answer for text, answer in scored)
    return right / len(scored)


def _whole_prior(rows: list[tuple[int, str, str]]) -> float:
    by_text: dict[str, Counter] = {}
    for _, text, answer in rows:
        by_text.setdefault(text, Counter())[answer] += 1
    return sum(max(counts.values()) for counts in by_text.values()) / len(rows)


@pytest.mark.parametrize("corpus", SCRIPTS)
def test_two_runs_with_one_seed_write_byte_identical_files(corpora, corpus):
    first, second = _files(corpora / corpus / "a"), _files(corpora / corpus / "b")
    assert first == second
    assert len([name for name in first if name.startswith("images/")]) == IMAGES
    assert sorted(path.name for path in (corpora / corpus).iterdir()) == ["a", "b"]  # no temporary folders left


@pytest.mark.parametrize("corpus", SCRIPTS)
def test_another_seed_writes_another_corpus(tmp_path, corpora, corpus):
    SCRIPTS[corpus].main(["--images", str(IMAGES), "--seed", str(SEED + 1), "--out", str(tmp_path / "c")])
    assert (tmp_path / "c" / "questions.tsv").read_bytes() != (corpora / corpus / "a" / "questions.tsv").read_bytes()


@pytest.mark.parametrize("corpus", SCRIPTS)
def test_each_image_has_four_questions_of_distinct_families_on_consecutive_lines(corpora, corpus):
    folder = corpora / corpus / "a"
    rows = _questions(folder)
    assert [image for image, _, _ in rows] == [f"images/{index:05d}.png" for index in range(IMAGES) for _ in range(4)]
    assert set(_objects(folder)) == {image for image, _, _ in rows}
    answers = RULES[corpus]["types"]
    for start in range(0, len(rows), 4):
        texts = [text for _, text, _ in rows[start : start + 4]]
        assert len({_type(text) for text in texts}) == 4, texts  # so no question comes twice either
    for image, text, answer in rows:
        assert (folder / image).is_file()
        assert text == text.lower() and text.endswith("?") and "  " not in text and text.strip() == text
        assert answer in answers[_type(text)], (text, answer)


@pytest.mark.parametrize("corpus", SCRIPTS)
def test_every_answer_is_true_of_the_scene(corpora, corpus):
    folder = corpora / corpus / "a"
    objects = _objects(folder)
    seen = Counter()
    for image, text, answer in _questions(folder):
        assert answer == _expected_answer(corpus, text, objects[image]), (image, text, objects[image])
        seen[_type(text)] += 1
    assert set(seen) == set(RULES[corpus]["types"])


@pytest.mark.parametrize("corpus", SCRIPTS)
def test_objects_are_inside_the_canvas_apart_and_of_distinct_kinds(corpora, corpus):
    gap = RULES[corpus]["gap"]
    for image, objects in _objects(corpora / corpus / "a").items():
        assert 1 <= len(objects) <= 3, image
        assert len({word for word, *_ in objects}) == len(objects), image
        for word, value, x0, y0, x1, y1 in objects:
            assert 0 <= x0 < x1 <= 64 and 0 <= y0 < y1 <= 64 and x1 - x0 == y1 - y0
            if corpus == "digits":
                assert word in WORDS and x1 - x0 in {"small": range(12, 17), "large": range(24, 31)}[value]
            else:
                assert word in KINDS and value in COLOURS and 14 <= x1 - x0 <= 22
        for i, (_, _, *a) in enumerate(objects):
            for _, _, *b in objects[i + 1 :]:
                assert max(b[0] - a[2], a[0] - b[2], b[1] - a[3], a[1] - b[3]) >= gap, image


def test_digit_images_are_grey_rgb_with_digits_in_their_boxes(corpora):
    folder = corpora / "digits" / "a"
    for image, objects in _objects(folder).items():
        with Image.open(folder / image) as png:
            assert (png.format, png.mode, png.size) == ("PNG", "RGB", (64, 64))
            pixels = np.asarray(png)
        assert (pixels[..., 0] == pixels[..., 1]).all() and (pixels[..., 0] == pixels[..., 2]).all()
        grey = pixels[..., 0]
        outside = np.ones(grey.shape, dtype=bool)
        for _, _, x0, y0, x1, y1 in objects:
            assert grey[y0:y1, x0:x1].max() >= 200, image
            outside[y0:y1, x0:x1] = False
        assert not grey[outside].any(), image


def test_shape_images_have_each_shape_in_its_colour_in_its_box(corpora):
    folder = corpora / "shapes" / "a"
    for image, objects in _objects(folder).items():
        with Image.open(folder / image) as png:
            assert (png.format, png.mode, png.size) == ("PNG", "RGB", (64, 64))
            pixels = np.asarray(png)
        outside = np.ones(pixels.shape[:2], dtype=bool)
        for kind, colour, x0, y0, x1, y1 in objects:
            assert tuple(pixels[(y0 + y1) // 2, (x0 + x1) // 2]) == COLOURS[colour], (image, kind)
            box = pixels[y0:y1, x0:x1].reshape(-1, 3)
            share = (box == COLOURS[colour]).all(axis=1).mean()
            assert {"square": 0.95, "circle": 0.7, "triangle": 0.4}[kind] <= share, (image, kind, share)
            outside[y0:y1, x0:x1] = False
        assert not pixels[outside].any(), image


@pytest.mark.parametrize("corpus", SCRIPTS)
def test_answers_cannot_be_guessed_from_the_question_text(big, corpus):
    rows = big[corpus]
    assert _held_out_prior(rows) < 0.45
    assert _whole_prior(rows) < 0.5
    by_type: dict[str, Counter] = {}
    for _, text, answer in rows:
        by_type.setdefault(_type(text), Counter())[answer] += 1
    assert set(by_type) == set(RULES[corpus]["types"])
    for kind, answers in by_type.items():
        total = sum(answers.values())
        assert 0.15 < total / len(rows) < 0.25, (kind, total)  # the families are asked about equally
        possible = RULES[corpus]["types"][kind]
        assert set(answers) == possible, kind
        for answer, count in answers.items():  # each family's answers are drawn uniformly
            assert abs(count / total - 1 / len(possible)) < 0.3 / len(possible), (kind, answer, count, total)
        held_out = _held_out_prior([row for row in rows if _type(row[1]) == kind])
        assert held_out < 1 / len(possible) + 0.12, (kind, held_out)
    for text in {text for _, text, _ in rows if _type(text) == "is there"}:  # yes and no for every thing named
        counts = Counter(answer for _, other, answer in rows if other == text)
        assert 0.3 < counts["yes"] / sum(counts.values()) < 0.7, (text, counts)


@pytest.mark.parametrize("corpus", SCRIPTS)
def test_summary_line_reports_the_language_prior(corpora, corpus, capsys, tmp_path):
    summary = SCRIPTS[corpus].main(["--images", "30", "--seed", "5", "--out", str(tmp_path / "c")])
    line = capsys.readouterr().out.strip()
    assert "\n" not in line and "30 scenes" in line and "120 questions" in line
    prior = summary.prior()
    assert f"{prior['held_out']:.1%} held out" in line and f"{prior['whole']:.1%} on the whole corpus" in line
    rows = [tuple(row) for row in _questions(tmp_path / "c")]
    assert prior["whole"] == pytest.approx(_whole_prior([(0, text, answer) for _, text, answer in rows]))


def test_language_prior_fits_on_the_first_images_and_scores_on_the_last():
    rows = [
        (0, "is there a one?", "yes"),
        (0, "is there a two?", "no"),
        (1, "is there a one?", "yes"),
        (1, "how many digits are there?", "2"),
        (2, "is there a one?", "no"),  # the fitted prior says yes
        (3, "is there a three?", "no"),  # unseen: the type's most frequent answer, yes, from 2 yes to 1 no
        (3, "how many digits are there?", "2"),
    ]
    prior = digits.language_prior(rows, held_out=0.5)
    assert prior["held_out"] == pytest.approx(1 / 3)
    assert prior["whole"] == pytest.approx(6 / 7)  # one: 2 of 3; two, three: 1 each; how many: 2
    assert (prior["majority"], prior["majority_share"]) == ("no", pytest.approx(3 / 7))


@pytest.mark.parametrize("corpus", SCRIPTS)
@pytest.mark.parametrize("k", [1, 5])
def test_questions_per_image(corpus, k):
    scenes = list(SCRIPTS[corpus].generate(60, 1, k))
    for scene in scenes:
        types = [_type(question.text) for question in scene.questions]
        assert len(set(types)) == len(types)
        assert len(types) == (4 if k == 5 and len(scene.things) == 1 else k)  # one object: no relation to ask


@pytest.mark.parametrize("corpus", SCRIPTS)
@pytest.mark.parametrize("bad", [["--questions-per-image", "0"], ["--questions-per-image", "6"], ["--images", "0"]])
def test_bad_options_are_refused(corpus, bad, tmp_path):
    with pytest.raises(SystemExit):
        SCRIPTS[corpus].main([*bad, "--out", str(tmp_path / "c")])
    assert not (tmp_path / "c").exists()
