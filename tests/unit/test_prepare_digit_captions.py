"""`data/prepare_digit_captions.py`: the composed scenes, their captions and the files the script writes.

The script is imported from its file path (it is run as a file, not imported as a package module). The
written corpus is checked from the files alone, with the geometry recomputed here from the boxes of
``objects.tsv``, not with the script's own ``relation``.
"""

from __future__ import annotations

import importlib.util
import pathlib
import re

import numpy as np
import pytest
from PIL import Image

SCRIPT = pathlib.Path(__file__).resolve().parents[2] / "data" / "prepare_digit_captions.py"


def _load_script():
    spec = importlib.util.spec_from_file_location("prepare_digit_captions", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


prep = _load_script()

WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
SIDES = {"small": range(12, 17), "large": range(24, 31)}
PAIR = re.compile(r"a (small|large) (\w+) (left of|right of|above|below) a (small|large) (\w+)")
SINGLE = re.compile(r"a (single )?(small|large) (\w+)")


@pytest.fixture(scope="module")
def glyphs():
    return prep.load_glyphs()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """Two runs with one seed into separate folders (the first run twice, over its own output)."""
    root = tmp_path_factory.mktemp("digits")
    prep.main(["--images", "20", "--seed", "3", "--out", str(root / "a")])
    prep.main(["--images", "20", "--seed", "3", "--out", str(root / "a")])  # replaces the folder
    prep.main(["--images", "20", "--seed", "3", "--out", str(root / "b")])
    return root


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


def _captions(folder: pathlib.Path) -> list[tuple[str, str]]:
    data = (folder / "captions.tsv").read_bytes()
    assert b"\r" not in data and data.endswith(b"\n")
    return [tuple(line.split("\t")) for line in data.decode("utf-8").split("\n")[:-1]]


def _expected_relation(a, b) -> str:
    """Where box ``a`` is with respect to box ``b``, from the centres (rows count downwards)."""
    ax, ay = (a[2] + a[4]) / 2, (a[3] + a[5]) / 2
    bx, by = (b[2] + b[4]) / 2, (b[3] + b[5]) / 2
    if abs(bx - ax) >= abs(by - ay):
        return "left of" if ax < bx else "right of"
    return "above" if ay < by else "below"


def test_two_runs_with_one_seed_write_byte_identical_files(corpus):
    first, second = _files(corpus / "a"), _files(corpus / "b")
    assert first == second
    assert len([name for name in first if name.startswith("images/")]) == 20
    assert sorted(path.name for path in corpus.iterdir()) == ["a", "b"]  # no temporary folders left behind


def test_another_seed_writes_another_corpus(tmp_path, corpus):
    prep.main(["--images", "20", "--seed", "4", "--out", str(tmp_path / "c")])
    assert (tmp_path / "c" / "captions.tsv").read_bytes() != (corpus / "a" / "captions.tsv").read_bytes()


def test_each_image_has_two_consecutive_captions_and_its_file(corpus):
    folder = corpus / "a"
    lines = _captions(folder)
    images = [image for image, _ in lines]
    assert images == [f"images/{index:05d}.png" for index in range(20) for _ in range(2)]
    for image in images:
        assert (folder / image).is_file()
    assert set(_objects(folder)) == set(images)
    for _, caption in lines:
        assert caption == caption.lower() and not caption.endswith(".") and "  " not in caption


def test_boxes_are_inside_the_canvas_apart_and_of_distinct_classes(corpus):
    for image, objects in _objects(corpus / "a").items():
        assert len(objects) in (1, 2), image
        for word, size, x0, y0, x1, y1 in objects:
            assert word in WORDS
            assert 0 <= x0 < x1 <= 64 and 0 <= y0 < y1 <= 64
            assert x1 - x0 == y1 - y0 and x1 - x0 in SIDES[size]
        if len(objects) == 2:
            (word_a, _, *a), (word_b, _, *b) = objects
            assert word_a != word_b
            gap_x = max(b[0] - a[2], a[0] - b[2])
            gap_y = max(b[1] - a[3], a[1] - b[3])
            assert max(gap_x, gap_y) >= 2, image


def test_captions_name_the_digits_and_the_relation_their_boxes_have(corpus):
    folder = corpus / "a"
    objects = _objects(folder)
    lines = _captions(folder)
    for (image, first), (_, second) in zip(lines[::2], lines[1::2], strict=True):
        placed = {word: (word, size, *box) for word, size, *box in objects[image]}
        if len(placed) == 1:
            ((word, size, *_),) = placed.values()
            assert (first, second) == (f"a {size} {word}", f"a single {size} {word}")
            assert SINGLE.fullmatch(first) and SINGLE.fullmatch(second)
            continue
        parsed = [PAIR.fullmatch(caption) for caption in (first, second)]
        assert all(parsed), (first, second)
        for match in parsed:
            size_a, word_a, rel, size_b, word_b = match.groups()
            a, b = placed[word_a], placed[word_b]
            assert (a[1], b[1]) == (size_a, size_b)
            assert rel == _expected_relation(a, b), (image, match.group(0), a, b)
        assert parsed[0].group(2, 5) == parsed[1].group(5, 2)  # the converse names the same two digits
        assert parsed[0].group(2) == objects[image][0][0]  # the first caption follows the placing order


def test_digits_are_bright_in_their_boxes_and_the_background_is_black(corpus):
    folder = corpus / "a"
    for image, objects in _objects(folder).items():
        with Image.open(folder / image) as png:
            assert (png.format, png.mode, png.size) == ("PNG", "L", (64, 64))
            pixels = np.asarray(png)
        outside = np.ones(pixels.shape, dtype=bool)
        for _, _, x0, y0, x1, y1 in objects:
            inside = pixels[y0:y1, x0:x1]
            assert inside.max() >= 200 and (inside > 64).mean() > 0.1, image
            outside[y0:y1, x0:x1] = False
        assert not pixels[outside].any(), image


def test_relation_and_clear_relation():
    def digit(x0, y0, side=12):
        return prep.Digit(7, 0, "small", x0, y0, x0 + side, y0 + side)

    left, right, top, bottom = digit(0, 20), digit(40, 24), digit(20, 0), digit(22, 40)
    assert (prep.relation(left, right), prep.relation(right, left)) == ("left of", "right of")
    assert (prep.relation(top, bottom), prep.relation(bottom, top)) == ("above", "below")
    assert prep.clear_relation(left, right)
    assert not prep.clear_relation(digit(0, 0), digit(20, 17))  # 20 px across, 17 down: too near the diagonal
    assert prep.apart(digit(0, 0), digit(14, 0)) and not prep.apart(digit(0, 0), digit(13, 0))


def test_compose_and_captions(glyphs):
    images, labels = glyphs
    picks = [int(np.flatnonzero(labels == 7)[0]), int(np.flatnonzero(labels == 2)[0])]
    scene = prep.compose(np.random.default_rng(0), images, labels, picks, 12)
    assert scene.path == "images/00012.png" and scene.canvas.shape == (64, 64) and scene.canvas.dtype == np.uint8
    assert [digit.word for digit in scene.digits] == ["seven", "two"]
    a, b = scene.digits
    assert prep.captions(scene) == [
        f"a {a.size} seven {prep.relation(a, b)} a {b.size} two",
        f"a {b.size} two {prep.relation(b, a)} a {a.size} seven",
    ]
    with pytest.raises(ValueError, match="distinct classes"):
        prep.compose(np.random.default_rng(0), images, labels, [picks[0], picks[0]], 0)


def test_scale_glyph_keeps_the_range_and_the_black_margin():
    glyph = np.zeros((8, 8), dtype=np.uint8)
    glyph[2:6, 3:5] = 16
    for side in (12, 16, 24, 30):
        scaled = prep.scale_glyph(glyph, side)
        assert scaled.shape == (side, side) and scaled.dtype == np.uint8
        assert scaled.max() == 255 and scaled[0].max() == 0 and scaled[:, 0].max() == 0


def test_glyphs_cycle_through_all_before_any_repeats_and_scenes_mix_one_and_two_digits(glyphs):
    images, labels = glyphs
    scenes = list(prep.generate(1100, 0, images, labels))
    used = [digit.glyph for scene in scenes for digit in scene.digits]
    assert len(used) > len(labels)
    first_round = used[: len(labels) - 20]  # a round may drop its last few glyphs of an avoided class
    assert len(set(first_round)) == len(first_round)
    one = sum(len(scene.digits) == 1 for scene in scenes) / len(scenes)
    assert 0.18 < one < 0.32
    for scene in scenes:
        assert len({digit.label for digit in scene.digits}) == len(scene.digits)
