#!/usr/bin/env python3
"""Build the digit VQA corpus: 64x64 scenes of one to three handwritten digits, each with a few questions.

The default corpus of the visual-question-answering kind. The glyphs are the 1,797 handwritten digits that
ship with scikit-learn (``sklearn.datasets.load_digits``, no network; see ``prepare_digit_captions.py``, whose
glyph scaling, sizes and relation rules this script reuses). A numpy ``Generator`` seeded with ``--seed``
makes every choice.

Each image gets ``--questions-per-image`` questions (default 4, at most 5), each of a distinct *family*, so
no question comes twice (a one-digit image can be asked four families, so it gets four questions where five
are asked for); the families of an image are the ones asked least so far (ties broken at random), so every
family is asked about as often as the others. The family is read off a question's first two words:

* identity: ``what digit is left of the seven?``, or ``what digit is large?`` where no other digit is large:
  ``zero`` ... ``nine``;
* size: ``what size is the seven?``: ``small``, ``large``;
* count: ``how many digits are there?``: ``1``, ``2``, ``3``;
* existence: ``is there a seven?`` (``an eight``): ``yes``, ``no``;
* relation: ``is the seven left of the two?``: ``yes``, ``no``.

So that no answer can be guessed from the question's words, each question's answer is drawn first,
uniformly among the family's answers, and the scene and the question are then made so that it is true:

* count: the scene's number of digits is the drawn answer (1, 2 or 3); an image asked no count question but
  a relation question has two or three digits, one asked neither has one to three (a one-digit image is
  asked no relation question: the family asked least so far takes its place, so relation questions are a
  little rarer than the others, about 18% of all against 20.4%);
* identity: the drawn digit is one of the scene's digits (the others are distinct classes drawn uniformly);
  it is asked about by its size where no other digit has that size, or by its relation to another digit,
  where the relation is clear (``prepare_digit_captions.clear_relation``) and no third digit's centre is
  on that side of the other digit too, so the question has one answer (where both forms can be asked, each
  has even odds);
* size: a digit of the drawn size is in the scene (one digit's size is set to it where none has it) and the
  question names one of those digits, drawn uniformly;
* existence: ``yes`` names one of the scene's digits, ``no`` one of the other classes, drawn uniformly;
* relation: a pair of digits whose relation is clear is drawn uniformly among such pairs (in either order);
  ``yes`` asks their relation, ``no`` its converse (``left of`` for ``right of``; never a relation along the
  other axis, which would be true in part).

A scene's digits are of distinct classes, each ``small`` (12 to 16 px) or ``large`` (24 to 30 px) with even
odds, and every two are at least 2 px apart; a glyph of each class is taken in turn from a seeded
permutation of that class's glyphs. Relations and identity questions are asked only of pairs whose relation is
clear; other pairs of a three-digit scene may sit on the diagonal. The places are drawn again until the
questions asked of the scene can be asked (a clear pair for a relation question, a way to name the identity
question's digit).

Output, in ``--out``:

* ``images/NNNNN.png``: 8-bit RGB PNG, 64x64, grey (the three channels equal), background 0, digits bright;
* ``questions.tsv``: UTF-8, LF, no header, ``images/NNNNN.png<TAB>question<TAB>answer``, lowercase, the
  questions of an image on consecutive lines, images in order;
* ``objects.tsv``: header ``image<TAB>word<TAB>size<TAB>x0<TAB>y0<TAB>x1<TAB>y1``, then one row per digit
  (its word, ``small``/``large`` and the box of the pasted square, x1 and y1 exclusive).

The corpus is written into a temporary folder next to ``--out`` that replaces ``--out`` once complete. The same
seed writes byte-identical files (with the same numpy, zlib and Pillow). The script prints one line: the
scenes, the questions per family, and how well the *language prior* does (for each question text, its most
frequent answer; fitted on the first 80% of the scenes and scored on the rest, and on the whole corpus), next
to always giving the most frequent answer.

Usage::

    python data/prepare_vqa_digits.py --out /tmp/vqa_digits                    # 3,000 images, 4 questions each
    python data/prepare_vqa_digits.py --images 200 --seed 1 --out /tmp/vqa
"""

import argparse
import importlib.util
import os
import shutil
import sys
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import numpy as np
from PIL import Image


def load_sibling(name: str) -> ModuleType:
    """A script of ``data/`` as a module, whether or not ``data/`` is on ``sys.path`` (loaded once)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, Path(__file__).resolve().parent / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up here
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


captions = load_sibling("prepare_digit_captions")

DEFAULT_IMAGES = 3000
DEFAULT_QUESTIONS = 4
MAX_IMAGES = 100_000  # image names have five digits
CANVAS = 64
WORDS = captions.WORDS
SIZES = captions.SIZES  # small 12-16 px, large 24-30 px
CONVERSE = captions.CONVERSE
GAP = captions.GAP
FAMILIES = ("identity", "size", "count", "existence", "relation")
PLACE_TRIES = 60  # draws of one digit's place before the scene's places are drawn again
SCENE_TRIES = 10_000
HELD_OUT = 0.2  # the share of scenes (the last ones) the language prior is scored on
QUESTIONS_NAME = "questions.tsv"
OBJECTS_NAME = "objects.tsv"
OBJECTS_HEADER = "image\tword\tsize\tx0\ty0\tx1\ty1"
IMAGES_DIR = "images"


@dataclass(frozen=True)
class Thing:
    """One object placed in a scene.

    Attributes:
        word: What names it: the digit word, or the shape.
        attribute: Written in the ``size`` column: ``small``/``large``, or the shape's colour.
        x0: Left column of its box.
        y0: Top row.
        x1: One past the right column.
        y1: One past the bottom row.
        glyph: The digit's glyph in ``load_digits`` (-1 for a shape).
    """

    word: str
    attribute: str
    x0: int
    y0: int
    x1: int
    y1: int
    glyph: int = -1

    @property
    def box(self) -> tuple[int, int, int, int]:
        """``(x0, y0, x1, y1)``."""
        return self.x0, self.y0, self.x1, self.y1


@dataclass(frozen=True)
class Question:
    """One question about a scene.

    Attributes:
        family: Its family (see the module docstring).
        text: The question, lowercase, ending with ``?``.
        answer: One word.
    """

    family: str
    text: str
    answer: str


@dataclass(frozen=True, eq=False)
class Scene:
    """One image and its questions.

    Attributes:
        index: The image's number, which names its file.
        pixels: uint8 [64, 64, 3].
        things: The objects in the order they were placed.
        questions: Its questions, in the order they are written.
    """

    index: int
    pixels: np.ndarray
    things: tuple[Thing, ...]
    questions: tuple[Question, ...]

    @property
    def path(self) -> str:
        """The image's path relative to the corpus folder, ``images/NNNNN.png``."""
        return f"{IMAGES_DIR}/{self.index:05d}.png"


def question_type(text: str) -> str:
    """A question's type as the model's evaluator reads it: its first two words."""
    return " ".join(text.split()[:2])


def beyond(c: Thing, b: Thing, rel: str) -> bool:
    """Whether the centre of ``c`` lies past the centre of ``b`` in the direction ``rel`` names."""
    dx = (c.x0 + c.x1) - (b.x0 + b.x1)
    dy = (c.y0 + c.y1) - (b.y0 + b.y1)
    return {"left of": dx < 0, "right of": dx > 0, "above": dy < 0, "below": dy > 0}[rel]


def clear_pairs(things: Sequence[Thing], clear: Callable[[Thing, Thing], str | None]) -> list[tuple[int, int, str]]:
    """Every ordered pair ``(i, j, relation of i to j)`` whose relation is clear."""
    pairs = []
    for i, a in enumerate(things):
        for j, b in enumerate(things):
            if i != j and (rel := clear(a, b)) is not None:
                pairs.append((i, j, rel))
    return pairs


def unique_relations(
    things: Sequence[Thing], target: int, clear: Callable[[Thing, Thing], str | None]
) -> list[tuple[str, int]]:
    """The ways to name ``things[target]`` by its relation to another object, ``(relation, other)``.

    The relation must be clear, and no third object's centre may lie past the other object's centre in that
    direction, so "what ... is left of the X?" has one answer.
    """
    ways = []
    for j, b in enumerate(things):
        if j == target or (rel := clear(things[target], b)) is None:
            continue
        if not any(beyond(c, b, rel) for k, c in enumerate(things) if k not in (target, j)):
            ways.append((rel, j))
    return ways


def pick_families(
    rng: np.random.Generator, usage: Counter[str], k: int, eligible: Sequence[str], taken: Sequence[str] = ()
) -> list[str]:
    """Up to ``k`` families of ``eligible`` not in ``taken``, the ones asked least so far first, ties at random."""
    pool = [family for family in eligible if family not in taken]
    ties = rng.random(len(pool))
    order = sorted(range(len(pool)), key=lambda i: (usage[pool[i]], ties[i]))
    return [pool[i] for i in order[:k]]


def place(
    rng: np.random.Generator, sides: Sequence[int], gap: int, tries: int = PLACE_TRIES
) -> list[tuple[int, int]] | None:
    """Top-left corners for squares of ``sides``, inside the canvas and ``gap`` px apart, or None.

    Each square's corner is the first of ``tries`` drawn candidates that is apart from the squares placed before
    it; None where no candidate is.
    """
    corners: list[tuple[int, int]] = []
    for side in sides:
        candidates = rng.integers(0, CANVAS - side + 1, size=(tries, 2))
        x0, y0 = candidates[:, 0], candidates[:, 1]
        fits = np.ones(tries, dtype=bool)
        for (cx, cy), other in zip(corners, sides, strict=False):
            gap_x = np.maximum(cx - (x0 + side), x0 - (cx + other))
            gap_y = np.maximum(cy - (y0 + side), y0 - (cy + other))
            fits &= np.maximum(gap_x, gap_y) >= gap
        if not fits.any():
            return None
        first = int(np.argmax(fits))
        corners.append((int(x0[first]), int(y0[first])))
    return corners


def article(word: str) -> str:
    """``an`` before a vowel sound (``an eight``; ``a one``), else ``a``."""
    return "an" if word == "eight" else "a"


def yes_no(rng: np.random.Generator) -> bool:
    """An even draw."""
    return bool(rng.random() < 0.5)


def digit_clear(a: Thing, b: Thing) -> str | None:
    """The relation of ``a`` to ``b`` where it is clear by the digit-captions rule, else None."""
    return captions.relation(a, b) if captions.clear_relation(a, b) else None


class DigitScenes:
    """Makes the digit scenes and their questions; holds the glyphs and what has been asked so far."""

    noun = "digit"

    def __init__(self, seed: int, k: int, glyphs: np.ndarray, labels: np.ndarray) -> None:
        """Start a corpus.

        Args:
            seed: Seeds the generator that makes every choice.
            k: Questions per image.
            glyphs: uint8 [n, 8, 8], values 0 ... 16.
            labels: The class of each glyph.
        """
        self.rng = np.random.default_rng(seed)
        self.k = k
        self.glyphs = glyphs
        self.usage: Counter[str] = Counter({family: 0 for family in FAMILIES})
        self._by_class = [np.flatnonzero(labels == label) for label in range(len(WORDS))]
        self._orders = [self.rng.permutation(members) for members in self._by_class]
        self._next = [0] * len(WORDS)

    def _glyph(self, label: int) -> int:
        """The next glyph of a class, from a seeded permutation of its glyphs, renewed once used up."""
        if self._next[label] == len(self._orders[label]):
            self._orders[label] = self.rng.permutation(self._by_class[label])
            self._next[label] = 0
        self._next[label] += 1
        return int(self._orders[label][self._next[label] - 1])

    def scene(self, index: int) -> Scene:
        """Compose scene ``index`` with its questions (see the module docstring)."""
        rng = self.rng
        families = pick_families(rng, self.usage, self.k, FAMILIES)
        if "count" in families:
            n = int(rng.integers(1, 4))
        elif "relation" in families:
            n = int(rng.integers(2, 4))
        else:
            n = int(rng.integers(1, 4))
        if n == 1 and "relation" in families:
            families.remove("relation")
            eligible = [family for family in FAMILIES if family != "relation"]
            families += pick_families(rng, self.usage, 1, eligible, taken=families)
        # the answers the scene must make true
        target = int(rng.integers(len(WORDS))) if "identity" in families else None
        wanted_size = str(rng.choice(list(SIZES))) if "size" in families else None
        if target is None:
            labels = [int(label) for label in rng.choice(len(WORDS), size=n, replace=False)]
        else:
            others = [label for label in range(len(WORDS)) if label != target]
            labels = [target] + [int(label) for label in rng.choice(others, size=n - 1, replace=False)]
            labels = [labels[i] for i in rng.permutation(n)]
        sizes = [str(size) for size in rng.choice(list(SIZES), size=n)]
        if wanted_size is not None and wanted_size not in sizes:
            sizes[int(rng.integers(n))] = wanted_size
        sides = [int(rng.integers(SIZES[size][0], SIZES[size][1] + 1)) for size in sizes]
        glyphs = [self._glyph(label) for label in labels]
        for _ in range(SCENE_TRIES):
            corners = place(rng, sides, GAP)
            if corners is None:
                continue
            things = tuple(
                Thing(WORDS[label], size, x0, y0, x0 + side, y0 + side, glyph)
                for label, size, side, glyph, (x0, y0) in zip(labels, sizes, sides, glyphs, corners, strict=True)
            )
            if "relation" in families and not clear_pairs(things, digit_clear):
                continue
            if target is not None and not self._identity_ways(things, labels.index(target)):
                continue
            break
        else:
            raise RuntimeError(f"image {index}: no places found for sides {sides} in {SCENE_TRIES} draws")
        questions = self._questions(families, things, labels, target, wanted_size)
        canvas = np.zeros((CANVAS, CANVAS), dtype=np.uint8)
        for thing in things:
            canvas[thing.y0 : thing.y1, thing.x0 : thing.x1] = captions.scale_glyph(
                self.glyphs[thing.glyph], thing.x1 - thing.x0
            )
        return Scene(index, np.repeat(canvas[:, :, None], 3, axis=2), things, tuple(questions))

    @staticmethod
    def _identity_ways(things: Sequence[Thing], target: int) -> list[tuple[str, str]]:
        """The ways to ask for ``things[target]``: ``("size", size)`` and ``(relation, other word)``."""
        ways = []
        if sum(thing.attribute == things[target].attribute for thing in things) == 1:
            ways.append(("size", things[target].attribute))
        ways += [(rel, things[j].word) for rel, j in unique_relations(things, target, digit_clear)]
        return ways

    def _questions(
        self,
        families: list[str],
        things: tuple[Thing, ...],
        labels: list[int],
        target: int | None,
        wanted_size: str | None,
    ) -> list[Question]:
        """One question per family slot, its answer drawn first (no question twice)."""
        rng = self.rng
        asked: list[Question] = []
        present = [thing.word for thing in things]
        for family in families:
            options: list[tuple[str, str]] = []  # (question, answer), the answer already drawn
            if family == "identity":
                ways = self._identity_ways(things, labels.index(target))
                by_size = [way for way in ways if way[0] == "size"]
                by_relation = [way for way in ways if way[0] != "size"]
                if by_size and by_relation:  # even odds between the two forms, then uniform within
                    ways = by_size if yes_no(rng) else by_relation
                options = [
                    (
                        f"what digit is {value}?" if kind == "size" else f"what digit is {kind} the {value}?",
                        WORDS[target],
                    )
                    for kind, value in ways
                ]
            elif family == "size":
                options = [
                    (f"what size is the {thing.word}?", wanted_size)
                    for thing in things
                    if thing.attribute == wanted_size
                ]
            elif family == "count":
                options = [(f"how many {self.noun}s are there?", str(len(things)))]
            elif family == "existence":
                if yes_no(rng):
                    options = [(f"is there {article(word)} {word}?", "yes") for word in present]
                else:
                    options = [(f"is there {article(word)} {word}?", "no") for word in WORDS if word not in present]
            elif family == "relation":
                answer = yes_no(rng)
                options = [
                    (
                        f"is the {things[i].word} {rel if answer else CONVERSE[rel]} the {things[j].word}?",
                        "yes" if answer else "no",
                    )
                    for i, j, rel in clear_pairs(things, digit_clear)
                ]
            if not options:  # the scene was made so that each of its families can be asked
                raise RuntimeError(f"no {family} question to ask of {things}")
            text, answer = options[int(rng.integers(len(options)))]
            asked.append(Question(family, text, answer))
            self.usage[family] += 1
        return asked


def language_prior(rows: Sequence[tuple[int, str, str]], held_out: float = HELD_OUT) -> dict[str, float | str]:
    """How well the answers can be guessed from the question text alone.

    Args:
        rows: ``(image index, question, answer)`` for every question.
        held_out: The share of the images (the last ones) the fitted prior is scored on.

    Returns:
        ``whole``: the accuracy of each question text's most frequent answer, fitted and scored on all rows;
        ``held_out``: the same fitted on the first images and scored on the last ``held_out`` share (a text
        not seen in fitting gets its type's most frequent answer, else the most frequent answer overall);
        ``majority``, ``majority_share``: the most frequent answer and its share of all rows.
    """
    if not rows:
        return {"whole": 0.0, "held_out": 0.0, "majority": "", "majority_share": 0.0}
    by_text: dict[str, Counter[str]] = {}
    for _, text, answer in rows:
        by_text.setdefault(text, Counter())[answer] += 1
    whole = sum(max(counts.values()) for counts in by_text.values()) / len(rows)
    overall = Counter(answer for _, _, answer in rows)
    majority, majority_count = overall.most_common(1)[0]
    images = sorted({index for index, _, _ in rows})
    cut = images[min(len(images) - 1, int(round(len(images) * (1 - held_out))))]
    fit = [row for row in rows if row[0] < cut]
    score = [row for row in rows if row[0] >= cut]
    fitted_text: dict[str, Counter[str]] = {}
    fitted_type: dict[str, Counter[str]] = {}
    for _, text, answer in fit:
        fitted_text.setdefault(text, Counter())[answer] += 1
        fitted_type.setdefault(question_type(text), Counter())[answer] += 1
    fallback = Counter(answer for _, _, answer in fit).most_common(1)[0][0] if fit else majority
    right = 0
    for _, text, answer in score:
        counts = fitted_text.get(text) or fitted_type.get(question_type(text))
        right += (counts.most_common(1)[0][0] if counts else fallback) == answer
    return {
        "whole": whole,
        "held_out": right / len(score) if score else 0.0,
        "majority": majority,
        "majority_share": majority_count / len(rows),
    }


@dataclass
class Summary:
    """What was written.

    Attributes:
        images: Scenes written.
        questions: ``(image index, family, question, answer)`` of every question written.
        objects: Objects placed.
    """

    images: int
    questions: list[tuple[int, str, str, str]]
    objects: int

    def prior(self) -> dict[str, float | str]:
        """``language_prior`` of the questions written."""
        return language_prior([(index, text, answer) for index, _, text, answer in self.questions])

    def line(self, out: Path) -> str:
        """The one-line summary the scripts print."""
        prior = self.prior()
        families = Counter(family for _, family, _, _ in self.questions)
        shares = ", ".join(f"{family} {count}" for family, count in families.items())
        return (
            f"wrote {out}: {self.images} scenes, {self.objects} objects, {len(self.questions)} questions ({shares}); "
            f"language prior (most frequent answer per question text) {prior['held_out']:.1%} held out "
            f"(fitted on the first {1 - HELD_OUT:.0%} of scenes), {prior['whole']:.1%} on the whole corpus; "
            f"most frequent answer {prior['majority']!r} {prior['majority_share']:.1%}"
        )


def write_scenes(scenes: Iterable[Scene], folder: Path) -> Summary:
    """Write the images, ``questions.tsv`` and ``objects.tsv`` into ``folder`` (UTF-8, LF).

    Args:
        scenes: The scenes, in order.
        folder: An existing, empty folder.

    Returns:
        What was written.
    """
    summary = Summary(0, [], 0)
    (folder / IMAGES_DIR).mkdir()
    with (
        (folder / QUESTIONS_NAME).open("w", encoding="utf-8", newline="\n") as question_file,
        (folder / OBJECTS_NAME).open("w", encoding="utf-8", newline="\n") as object_file,
    ):
        object_file.write(OBJECTS_HEADER + "\n")
        for scene in scenes:
            Image.fromarray(scene.pixels).save(folder / scene.path, format="PNG", optimize=False)
            for question in scene.questions:
                question_file.write(f"{scene.path}\t{question.text}\t{question.answer}\n")
                summary.questions.append((scene.index, question.family, question.text, question.answer))
            for thing in scene.things:
                object_file.write(
                    f"{scene.path}\t{thing.word}\t{thing.attribute}\t" + "\t".join(map(str, thing.box)) + "\n"
                )
            summary.images += 1
            summary.objects += len(scene.things)
    return summary


def write_corpus(scenes: Iterable[Scene], out: Path) -> Summary:
    """Write the corpus into a temporary folder next to ``out`` and put it in place of ``out`` once complete.

    Args:
        scenes: The scenes, in order.
        out: The corpus folder; an existing one is replaced (and removed only after the new one is in place).

    Returns:
        What was written.
    """
    out = out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=f".{out.name}.building-", dir=out.parent))
    old = None
    try:
        summary = write_scenes(scenes, building)
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(building, 0o777 & ~mask)  # mkdtemp makes it 0700; give it the mode mkdir would
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


def parse_args(argv: list[str] | None, description: str, default_images: int) -> argparse.Namespace:
    """Parse the command line: ``--out``, ``--images``, ``--questions-per-image``, ``--seed``.

    Args:
        argv: Arguments, without the program name; ``None`` reads ``sys.argv``.
        description: The help's first line.
        default_images: The default of ``--images``.

    Returns:
        The parsed options.
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--out", type=Path, required=True, help="the corpus folder to write (replaced if it exists)")
    parser.add_argument("--images", type=int, default=default_images, help="scenes to make (default: %(default)s)")
    parser.add_argument(
        "--questions-per-image",
        type=int,
        default=DEFAULT_QUESTIONS,
        help=f"questions per scene, 1 to {len(FAMILIES)}, each of a distinct family (default: %(default)s)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the numpy generator (default: %(default)s)")
    args = parser.parse_args(argv)
    if not 1 <= args.images <= MAX_IMAGES:
        parser.error(f"--images must be 1 to {MAX_IMAGES}, got {args.images}")
    if not 1 <= args.questions_per_image <= len(FAMILIES):
        parser.error(f"--questions-per-image must be 1 to {len(FAMILIES)}, got {args.questions_per_image}")
    if args.seed < 0:
        parser.error(f"--seed must be 0 or more, got {args.seed}")
    return args


def generate(n_images: int, seed: int, k: int = DEFAULT_QUESTIONS) -> Iterator[Scene]:
    """The corpus's scenes, in order; one generator seeded with ``seed`` makes every choice.

    Args:
        n_images: How many scenes.
        seed: The seed.
        k: Questions per scene.

    Yields:
        Scene 0, 1, ...
    """
    maker = DigitScenes(seed, k, *captions.load_glyphs())
    for index in range(n_images):
        yield maker.scene(index)


def main(argv: list[str] | None = None) -> Summary:
    """Build the corpus and print a summary line.

    Args:
        argv: Arguments, without the program name; ``None`` reads ``sys.argv``.

    Returns:
        What was written.
    """
    args = parse_args(argv, __doc__.split("\n")[0], DEFAULT_IMAGES)
    summary = write_corpus(generate(args.images, args.seed, args.questions_per_image), args.out)
    print(summary.line(args.out))
    return summary


if __name__ == "__main__":
    main()
