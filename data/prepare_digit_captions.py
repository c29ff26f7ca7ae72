#!/usr/bin/env python3
"""Build the digit-captions corpus: 64x64 scenes of one or two handwritten digits, each with two captions.

The glyphs are the 1,797 handwritten digits that ship with scikit-learn (``sklearn.datasets.load_digits``,
read from the package's own ``digits.csv.gz``, no network): scikit-learn's copy of the test set of the UCI
*Optical Recognition of Handwritten Digits* data set (E. Alpaydin and C. Kaynak, 1998), 8x8 images of
values 0..16. This script composes scenes from them, a numpy ``Generator`` seeded with ``--seed`` making
every choice:

* a scene has one digit (a chance of 25%) or two (75%); the two digits of a scene are of distinct
  classes, so that a digit word names exactly one object of the image;
* the glyphs are taken in turn from a seeded permutation of all 1,797, so no glyph comes back before
  every other has been used (where the next glyph has the class of the scene's first digit, the
  nearest later glyph of another class is swapped into its place);
* each glyph's values are scaled to 0..255 and the glyph is resized (bilinear, half-pixel centres,
  edges clamped; in numpy, so no library's resampler is involved) to a square of ``small`` (12 to 16 px)
  or ``large`` (24 to 30 px) size, drawn with even odds, and pasted at a random place fully inside a
  black 64x64 canvas;
* the places of two digits are drawn again until the two squares are at least 2 px apart (2 black rows
  or columns between them) and their spatial relation is clear: the relation is read off the centres
  along the axis with the larger difference (``left of``/``right of`` horizontally, ``above``/``below``
  vertically), and that difference must exceed the other axis's by at least 4 px, so that no scene
  sits on the diagonal where either axis would do.

Captions, lowercase, no final period, two a scene, from this grammar::

    one digit:   a SIZE WORD                       a large seven
                 a single SIZE WORD                a single large seven
    two digits:  a SIZE WORD REL a SIZE WORD       a large seven left of a small two
                 (the converse)                    a small two right of a large seven

with SIZE ``small``/``large``, WORD ``zero`` ... ``nine`` and REL ``left of``, ``right of``, ``above``,
``below``; the first caption of a two-digit scene names the digits in the order they were placed.

Output, in ``--out`` (default ``data/digit_captions/``):

* ``images/NNNNN.png``: 8-bit grayscale PNG, 64x64, background 0, digits bright;
* ``captions.tsv``: UTF-8, LF, no header, ``images/NNNNN.png<TAB>caption``, paths relative to the file,
  the two captions of an image on consecutive lines, images in order;
* ``objects.tsv``: header ``image<TAB>word<TAB>size<TAB>x0<TAB>y0<TAB>x1<TAB>y1``, then one row per digit
  placed, in the order of ``captions.tsv``: the image path, the digit word, ``small``/``large`` and the
  pixel box of the pasted square (x1 and y1 exclusive), for checking where attention looks.

The corpus is written into a temporary folder next to ``--out``, which replaces ``--out`` only once it is
complete (the old folder is removed after that), so a failed run leaves no half-written corpus. A rerun
with the same seed writes byte-identical files (with the same numpy, zlib and Pillow). The PNGs are
written with Pillow, which is installed as a dependency of matplotlib; scikit-learn and numpy are
dependencies of the project.

Usage::

    python data/prepare_digit_captions.py                             # data/digit_captions, 2,500 images
    python data/prepare_digit_captions.py --images 200 --seed 1 --out /tmp/digits
"""

import argparse
import os
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

DEFAULT_OUT = Path(__file__).resolve().parent / "digit_captions"
DEFAULT_IMAGES = 2500
MAX_IMAGES = 100_000  # image names have five digits
CANVAS = 64
SIZES = {"small": (12, 16), "large": (24, 30)}  # side of the pasted square, inclusive range
ONE_DIGIT_SHARE = 0.25
GAP = 2  # black rows or columns at least between the two squares
RELATION_MARGIN = 4  # px: the centre difference that names the relation exceeds the other axis's by this
MAX_TRIES = 100_000
WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
RELATIONS = ("left of", "right of", "above", "below")
CONVERSE = {"left of": "right of", "right of": "left of", "above": "below", "below": "above"}
CAPTIONS_NAME = "captions.tsv"
OBJECTS_NAME = "objects.tsv"
OBJECTS_HEADER = "image\tword\tsize\tx0\ty0\tx1\ty1"
IMAGES_DIR = "images"


@dataclass(frozen=True)
class Digit:
    """One digit placed in a scene.

    Attributes:
        label: The digit's class, 0 ... 9.
        glyph: Index of its glyph in ``load_digits`` (0 ... 1796).
        size: ``small`` or ``large``.
        x0: Left column of the pasted square.
        y0: Top row.
        x1: One past the right column.
        y1: One past the bottom row.
    """

    label: int
    glyph: int
    size: str
    x0: int
    y0: int
    x1: int
    y1: int

    @property
    def word(self) -> str:
        """The digit's English word, ``zero`` ... ``nine``."""
        return WORDS[self.label]


@dataclass(frozen=True, eq=False)
class Scene:
    """One composed image.

    Attributes:
        index: The image's number, which names its file.
        canvas: uint8 [64, 64], background 0.
        digits: The digits in the order they were placed (one or two).
    """

    index: int
    canvas: np.ndarray
    digits: tuple[Digit, ...]

    @property
    def path(self) -> str:
        """The image's path relative to the corpus folder, ``images/NNNNN.png``."""
        return f"{IMAGES_DIR}/{self.index:05d}.png"


class GlyphCycle:
    """Hands out glyphs in the order of a seeded permutation of all of them, round after round."""

    def __init__(self, rng: np.random.Generator, labels: np.ndarray) -> None:
        """Start the first round.

        Args:
            rng: Draws each round's permutation.
            labels: The class of each glyph.
        """
        self._rng = rng
        self._labels = labels
        self._order = rng.permutation(len(labels))
        self._next = 0

    def take(self, avoid: frozenset[int] = frozenset()) -> int:
        """The next glyph whose class is not in ``avoid``.

        Where the next glyph's class is in ``avoid``, the nearest later glyph of the round with another
        class is swapped into its place, so every round still uses each glyph once. A round that has no
        such glyph left ends early (its remaining glyphs are dropped).

        Args:
            avoid: Classes the glyph must not have.

        Returns:
            The glyph's index.
        """
        while True:
            if self._next == len(self._order):
                self._order = self._rng.permutation(len(self._labels))
                self._next = 0
            for position in range(self._next, len(self._order)):
                if int(self._labels[self._order[position]]) not in avoid:
                    order = self._order
                    order[self._next], order[position] = order[position], order[self._next]
                    glyph = int(order[self._next])
                    self._next += 1
                    return glyph
            self._next = len(self._order)


def load_glyphs() -> tuple[np.ndarray, np.ndarray]:
    """The glyphs bundled with scikit-learn.

    Returns:
        uint8 [1797, 8, 8] glyphs with values 0 ... 16, and int [1797] their classes.
    """
    from sklearn.datasets import load_digits  # a slow import: only where the glyphs are needed

    digits = load_digits()
    return digits.images.astype(np.uint8), digits.target.astype(np.int64)


def scale_glyph(glyph: np.ndarray, side: int) -> np.ndarray:
    """Scale a glyph's values from 0..16 to 0..255 and resize it to a square, bilinear.

    Pixel centres are aligned (a target pixel ``i`` samples the source at ``(i + 0.5) * 8 / side - 0.5``)
    and the edges are clamped, so the values stay in 0..255 and zero stays zero away from the ink.

    Args:
        glyph: [8, 8] values 0 ... 16.
        side: The target side in pixels.

    Returns:
        uint8 [side, side].
    """
    source = glyph.astype(np.float64) * (255.0 / 16.0)
    height, width = source.shape
    ys = np.clip((np.arange(side) + 0.5) * height / side - 0.5, 0, height - 1)
    xs = np.clip((np.arange(side) + 0.5) * width / side - 0.5, 0, width - 1)
    y_lo = np.floor(ys).astype(int)
    x_lo = np.floor(xs).astype(int)
    y_hi = np.minimum(y_lo + 1, height - 1)
    x_hi = np.minimum(x_lo + 1, width - 1)
    wy = (ys - y_lo)[:, None]
    wx = (xs - x_lo)[None, :]
    top = source[y_lo][:, x_lo] * (1 - wx) + source[y_lo][:, x_hi] * wx
    bottom = source[y_hi][:, x_lo] * (1 - wx) + source[y_hi][:, x_hi] * wx
    return np.clip(np.rint(top * (1 - wy) + bottom * wy), 0, 255).astype(np.uint8)


def apart(a: Digit, b: Digit, gap: int = GAP) -> bool:
    """Whether two squares have at least ``gap`` background rows or columns between them."""
    return max(b.x0 - a.x1, a.x0 - b.x1) >= gap or max(b.y0 - a.y1, a.y0 - b.y1) >= gap


def _centre_differences(a: Digit, b: Digit) -> tuple[int, int]:
    """Twice the centre of ``b`` minus twice the centre of ``a``, (x, y): whole numbers."""
    return (b.x0 + b.x1) - (a.x0 + a.x1), (b.y0 + b.y1) - (a.y0 + a.y1)


def relation(a: Digit, b: Digit) -> str:
    """Where ``a`` is with respect to ``b``, along the axis where their centres differ more.

    Args:
        a: The digit the relation is said of.
        b: The digit it is related to.

    Returns:
        ``left of`` or ``right of`` where the horizontal difference is at least the vertical one, else
        ``above`` or ``below`` (rows count downwards).
    """
    dx, dy = _centre_differences(a, b)
    if abs(dx) >= abs(dy):
        return "left of" if dx > 0 else "right of"
    return "above" if dy > 0 else "below"


def clear_relation(a: Digit, b: Digit, margin: int = RELATION_MARGIN) -> bool:
    """Whether the centre difference that names the relation exceeds the other by at least ``margin`` px."""
    dx, dy = _centre_differences(a, b)
    return abs(abs(dx) - abs(dy)) >= 2 * margin


def _draw_side(rng: np.random.Generator) -> tuple[str, int]:
    """Draw a size, ``small`` or ``large`` with even odds, and a side in its range."""
    size = "small" if rng.random() < 0.5 else "large"
    low, high = SIZES[size]
    return size, int(rng.integers(low, high + 1))


def _draw_place(rng: np.random.Generator, label: int, glyph: int, size: str, side: int) -> Digit:
    """Draw a place fully inside the canvas for a square of ``side`` px."""
    x0, y0 = (int(value) for value in rng.integers(0, CANVAS - side + 1, size=2))
    return Digit(label, glyph, size, x0, y0, x0 + side, y0 + side)


def compose(rng: np.random.Generator, glyphs: np.ndarray, labels: np.ndarray, picks: list[int], index: int) -> Scene:
    """Compose one scene from one or two glyphs of distinct classes.

    The sizes are drawn first, then the places: for two digits, both places are drawn again until the
    squares are at least ``GAP`` px apart and their relation is clear (two 30 px squares fit side by
    side, so every pair of sizes has such places).

    Args:
        rng: Draws the sizes and places.
        glyphs: uint8 [n, 8, 8], values 0 ... 16.
        labels: The class of each glyph.
        picks: The glyphs to place, one or two.
        index: The image's number.

    Returns:
        The scene: the squares inside the canvas, at least ``GAP`` px apart, with a clear relation.

    Raises:
        ValueError: Not one or two picks, or two of one class.
        RuntimeError: No places were found in ``MAX_TRIES`` draws.
    """
    if len(picks) not in (1, 2):
        raise ValueError(f"a scene has one or two digits, got {len(picks)}")
    classes = [int(labels[pick]) for pick in picks]
    if len(set(classes)) != len(picks):
        raise ValueError(f"the digits of a scene must be of distinct classes, got {classes}")
    sides = [_draw_side(rng) for _ in picks]
    for _ in range(MAX_TRIES):
        digits = [_draw_place(rng, label, pick, *side) for label, pick, side in zip(classes, picks, sides, strict=True)]
        if len(digits) == 1 or (apart(*digits) and clear_relation(*digits)):
            break
    else:
        raise RuntimeError(f"image {index}: no places found for sizes {sides} in {MAX_TRIES} draws")
    canvas = np.zeros((CANVAS, CANVAS), dtype=np.uint8)
    for digit in digits:
        canvas[digit.y0 : digit.y1, digit.x0 : digit.x1] = scale_glyph(glyphs[digit.glyph], digit.x1 - digit.x0)
    return Scene(index, canvas, tuple(digits))


def captions(scene: Scene) -> list[str]:
    """The scene's two captions (see the module docstring for the grammar).

    Args:
        scene: A scene of one or two digits.

    Returns:
        Two captions, lowercase, no final period.
    """
    if len(scene.digits) == 1:
        (digit,) = scene.digits
        return [f"a {digit.size} {digit.word}", f"a single {digit.size} {digit.word}"]
    a, b = scene.digits
    return [
        f"a {a.size} {a.word} {relation(a, b)} a {b.size} {b.word}",
        f"a {b.size} {b.word} {relation(b, a)} a {a.size} {a.word}",
    ]


def generate(n_images: int, seed: int, glyphs: np.ndarray, labels: np.ndarray) -> Iterator[Scene]:
    """The corpus's scenes, in order; one generator seeded with ``seed`` makes every choice.

    Args:
        n_images: How many scenes.
        seed: The seed.
        glyphs: uint8 [n, 8, 8], values 0 ... 16.
        labels: The class of each glyph.

    Yields:
        Scene 0, 1, ...
    """
    rng = np.random.default_rng(seed)
    cycle = GlyphCycle(rng, labels)
    for index in range(n_images):
        n_digits = 1 if rng.random() < ONE_DIGIT_SHARE else 2
        picks = [cycle.take()]
        if n_digits == 2:
            picks.append(cycle.take(frozenset({int(labels[picks[0]])})))
        yield compose(rng, glyphs, labels, picks, index)


@dataclass
class Summary:
    """What was written.

    Attributes:
        images: Images written.
        captions: Caption lines written.
        digits: Digits placed.
        one_digit: Images with one digit.
        relations: Captions per relation.
        sizes: Digits per size.
    """

    images: int = 0
    captions: int = 0
    digits: int = 0
    one_digit: int = 0
    relations: Counter[str] = field(default_factory=lambda: Counter({name: 0 for name in RELATIONS}))
    sizes: Counter[str] = field(default_factory=lambda: Counter({name: 0 for name in SIZES}))


def write_scenes(scenes: Iterator[Scene], folder: Path) -> Summary:
    """Write the images, ``captions.tsv`` and ``objects.tsv`` into ``folder`` (UTF-8, LF).

    Args:
        scenes: The scenes, in order.
        folder: An existing, empty folder.

    Returns:
        The counts.
    """
    summary = Summary()
    (folder / IMAGES_DIR).mkdir()
    with (
        (folder / CAPTIONS_NAME).open("w", encoding="utf-8", newline="\n") as caption_file,
        (folder / OBJECTS_NAME).open("w", encoding="utf-8", newline="\n") as object_file,
    ):
        object_file.write(OBJECTS_HEADER + "\n")
        for scene in scenes:
            Image.fromarray(scene.canvas).save(folder / scene.path, format="PNG", optimize=False)
            for caption in captions(scene):
                caption_file.write(f"{scene.path}\t{caption}\n")
                summary.captions += 1
            for digit in scene.digits:
                object_file.write(
                    f"{scene.path}\t{digit.word}\t{digit.size}\t{digit.x0}\t{digit.y0}\t{digit.x1}\t{digit.y1}\n"
                )
                summary.sizes[digit.size] += 1
            if len(scene.digits) == 2:
                a, b = scene.digits
                summary.relations[relation(a, b)] += 1
                summary.relations[relation(b, a)] += 1
            summary.images += 1
            summary.digits += len(scene.digits)
            summary.one_digit += len(scene.digits) == 1
    return summary


def write_corpus(n_images: int, seed: int, out: Path) -> Summary:
    """Build the corpus in a temporary folder next to ``out`` and put it in place of ``out`` once complete.

    Args:
        n_images: How many images.
        seed: The seed.
        out: The corpus folder; an existing one is replaced (and removed only after the new one is in place).

    Returns:
        The counts.
    """
    glyphs, labels = load_glyphs()
    out = out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=f".{out.name}.building-", dir=out.parent))
    old = None
    try:
        summary = write_scenes(generate(n_images, seed, glyphs, labels), building)
        os.chmod(building, 0o777 & ~_umask())  # mkdtemp makes it 0700; give it the mode mkdir would
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
            out.rename(old / out.name)
        building.rename(out)
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        if old is not None and (old / out.name).exists() and not out.exists():
            (old / out.name).rename(out)  # put the old corpus back
        raise
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    return summary


def _umask() -> int:
    """The process's umask (read by setting it and putting it back)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Parse the command line: ``--images``, ``--seed``, ``--out``.

    Args:
        argv: Arguments, without the program name; ``None`` reads ``sys.argv``.

    Returns:
        The parsed options.
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help=f"output directory (default: data/{DEFAULT_OUT.name})"
    )
    parser.add_argument(
        "--images", type=int, default=DEFAULT_IMAGES, help=f"number of images (default: {DEFAULT_IMAGES})"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the numpy generator (default: 0)")
    args = parser.parse_args(argv)
    if not 1 <= args.images <= MAX_IMAGES:
        parser.error(f"--images must be 1 to {MAX_IMAGES}, got {args.images}")
    if args.seed < 0:
        parser.error(f"--seed must be 0 or more, got {args.seed}")
    return args


def main(argv: list[str] | None = None) -> Summary:
    """Build the corpus and print a summary.

    Args:
        argv: Arguments, without the program name; ``None`` reads ``sys.argv``.

    Returns:
        The counts.
    """
    args = parse_args(argv)
    summary = write_corpus(args.images, args.seed, args.out)
    relations = ", ".join(f"{name} {summary.relations[name]}" for name in RELATIONS)
    print(
        f"wrote {args.out}: {summary.images} images ({summary.one_digit} with one digit), {summary.captions} captions, "
        f"{summary.digits} digits placed ({summary.sizes['small']} small, {summary.sizes['large']} large); "
        f"captions per relation: {relations}"
    )
    return summary


if __name__ == "__main__":
    main()
