#!/usr/bin/env python3
"""Build the shape VQA corpus: 64x64 colour scenes of one to three shapes, each with a few questions.

A second corpus for the visual-question-answering kind, unlike the digit one (``prepare_vqa_digits.py``):
colour instead of grey, drawn shapes instead of handwriting, colour words instead of size words; made to try
the model's defaults on scenes it was not tuned on. The shapes are drawn as ``prepare_shape_scenes.py`` draws
them (Pillow's ``ImageDraw``; ``square``, ``circle``, ``triangle`` in ``red``, ``green``, ``blue``,
``yellow``, 14 to 22 px across, on black) and their relations follow its rule (boxes at least 3 px apart,
the centre difference that names the relation exceeding the other axis's by at least 6 px). A numpy
``Generator`` seeded with ``--seed`` makes every choice.

A scene has one to three shapes of distinct kinds, so a shape word names one object; their colours are
drawn independently (two shapes may share one). Each image gets ``--questions-per-image`` questions (default
4, at most 5), each of a distinct family, the families asked least so far first (a one-shape image is asked
no relation question, so it gets four where five are asked for):

* colour: ``what colour is the circle?``: ``red``, ``green``, ``blue``, ``yellow``;
* shape: ``what shape is the red object?`` (no other shape is red) or ``what shape is left of the circle?``:
  ``square``, ``circle``, ``triangle``;
* count: ``how many shapes are there?``: ``1``, ``2``, ``3``;
* existence: ``is there a triangle?`` or ``is there a blue shape?``: ``yes``, ``no``;
* relation: ``is the circle above the square?``: ``yes``, ``no``.

Each answer is drawn first, uniformly among its family's answers, and the scene and question are made so
that it is true:

* count: the scene's number of shapes is the drawn answer; an image asked no count question but a relation
  question has two or three shapes, one asked neither has one to three;
* colour: a shape of the scene, drawn uniformly, is given the drawn colour and asked about;
* shape: the drawn kind is one of the scene's shapes; it is named by its colour where no other shape has that
  colour, else by its clear relation to another shape where no third shape's centre lies on that side of the
  other one too (the places are drawn again until one of the two can be asked);
* existence: the form is drawn before the answer (a scene of three shapes has every kind, so it is always
  asked by colour; otherwise by kind or by colour with even odds), then ``yes`` names a kind or colour of the
  scene and ``no`` one it lacks, drawn uniformly;
* relation: a pair of shapes with a clear relation, drawn uniformly (in either order); ``yes`` asks the
  relation, ``no`` its converse.

Output, in ``--out``, as ``prepare_vqa_digits.py`` writes it: ``images/NNNNN.png`` (8-bit RGB PNG),
``questions.tsv`` (``images/NNNNN.png<TAB>question<TAB>answer``, no header, an image's questions on
consecutive lines) and ``objects.tsv`` (header ``image<TAB>word<TAB>size<TAB>x0<TAB>y0<TAB>x1<TAB>y1``, one
row per shape, its colour in the ``size`` column as in ``prepare_shape_scenes.py``), written into a temporary
folder that replaces ``--out`` once complete. The same seed gives the same files. The script prints one line:
the scenes, the questions per family, and the accuracy of the language prior (each question text's most
frequent answer) and of the most frequent answer.

Usage::

    python data/prepare_vqa_shapes.py --out /tmp/vqa_shapes                      # 2,000 images, 4 questions each
    python data/prepare_vqa_shapes.py --images 200 --seed 1 --out /tmp/vqa_shapes_small
"""

import sys
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parent))  # data/: the script whose loader and questions this one shares
import prepare_vqa_digits as vqa  # noqa: E402

shape_scenes = vqa.load_sibling("prepare_shape_scenes")

DEFAULT_IMAGES = 2000
CANVAS = vqa.CANVAS
KINDS = shape_scenes.SHAPES  # square, circle, triangle
COLOURS = shape_scenes.COLOURS  # red, green, blue, yellow
MIN_SIDE, MAX_SIDE = shape_scenes.MIN_SIDE, shape_scenes.MAX_SIDE
GAP = shape_scenes.GAP
FAMILIES = ("colour", "shape", "count", "existence", "relation")
Thing, Question, Scene = vqa.Thing, vqa.Question, vqa.Scene


def shape_clear(a: vqa.Thing, b: vqa.Thing) -> str | None:
    """The relation of ``a`` to ``b`` where it is clear by the shape-scenes rule, else None."""
    return shape_scenes.relation(a.box, b.box)


class ShapeScenes:
    """Makes the shape scenes and their questions; holds what has been asked so far."""

    def __init__(self, seed: int, k: int) -> None:
        """Start a corpus.

        Args:
            seed: Seeds the generator that makes every choice.
            k: Questions per image.
        """
        self.rng = np.random.default_rng(seed)
        self.k = k
        self.usage: Counter[str] = Counter({family: 0 for family in FAMILIES})

    def scene(self, index: int) -> vqa.Scene:
        """Compose scene ``index`` with its questions (see the module docstring)."""
        rng = self.rng
        families = vqa.pick_families(rng, self.usage, self.k, FAMILIES)
        if "count" in families:
            n = int(rng.integers(1, 4))
        elif "relation" in families:
            n = int(rng.integers(2, 4))
        else:
            n = int(rng.integers(1, 4))
        if n == 1 and "relation" in families:
            families.remove("relation")
            eligible = [family for family in FAMILIES if family != "relation"]
            families += vqa.pick_families(rng, self.usage, 1, eligible, taken=families)
        # the answers the scene must make true
        target = int(rng.integers(len(KINDS))) if "shape" in families else None
        if target is None:
            kinds = [int(kind) for kind in rng.choice(len(KINDS), size=n, replace=False)]
        else:
            others = [kind for kind in range(len(KINDS)) if kind != target]
            kinds = [target] + [int(kind) for kind in rng.choice(others, size=n - 1, replace=False)]
            kinds = [kinds[i] for i in rng.permutation(n)]
        colours = [str(colour) for colour in rng.choice(list(COLOURS), size=n)]
        coloured = None
        if "colour" in families:
            coloured = int(rng.integers(n))
            colours[coloured] = str(rng.choice(list(COLOURS)))
        sides = [int(side) for side in rng.integers(MIN_SIDE, MAX_SIDE + 1, size=n)]
        for _ in range(vqa.SCENE_TRIES):
            corners = vqa.place(rng, sides, GAP)
            if corners is None:
                continue
            things = tuple(
                vqa.Thing(KINDS[kind], colour, x0, y0, x0 + side, y0 + side)
                for kind, colour, side, (x0, y0) in zip(kinds, colours, sides, corners, strict=True)
            )
            if "relation" in families and not vqa.clear_pairs(things, shape_clear):
                continue
            if target is not None and not self._shape_ways(things, kinds.index(target)):
                continue
            break
        else:
            raise RuntimeError(f"image {index}: no places found for sides {sides} in {vqa.SCENE_TRIES} draws")
        questions = self._questions(families, things, kinds.index(target) if target is not None else None, coloured)
        image = Image.new("RGB", (CANVAS, CANVAS))
        canvas = ImageDraw.Draw(image)
        for thing in things:
            shape_scenes.draw(canvas, thing.word, thing.box, COLOURS[thing.attribute])
        return vqa.Scene(index, np.asarray(image, dtype=np.uint8), things, tuple(questions))

    @staticmethod
    def _shape_ways(things: Sequence[vqa.Thing], target: int) -> list[tuple[str, str]]:
        """How to ask for the kind of ``things[target]``: by its colour where that is unique, else by relations."""
        colour = things[target].attribute
        if sum(thing.attribute == colour for thing in things) == 1:
            return [("colour", colour)]
        return [(rel, things[j].word) for rel, j in vqa.unique_relations(things, target, shape_clear)]

    def _questions(
        self, families: list[str], things: tuple[vqa.Thing, ...], target: int | None, coloured: int | None
    ) -> list[vqa.Question]:
        """One question per family slot, its answer drawn first (no question twice)."""
        rng = self.rng
        asked: list[vqa.Question] = []
        kinds = [thing.word for thing in things]
        colours = sorted({thing.attribute for thing in things}, key=list(COLOURS).index)
        for family in families:
            options: list[tuple[str, str]] = []  # (question, answer), the answer already drawn
            if family == "colour":
                options = [(f"what colour is the {things[coloured].word}?", things[coloured].attribute)]
            elif family == "shape":
                options = [
                    (
                        f"what shape is the {value} object?"
                        if how == "colour"
                        else f"what shape is {how} the {value}?",
                        things[target].word,
                    )
                    for how, value in self._shape_ways(things, target)
                ]
            elif family == "count":
                options = [("how many shapes are there?", str(len(things)))]
            elif family == "existence":
                by_kind = len(things) < len(KINDS) and vqa.yes_no(rng)
                answer = vqa.yes_no(rng)
                if by_kind:
                    words = [kind for kind in KINDS if (kind in kinds) == answer]
                    options = [(f"is there a {word}?", "yes" if answer else "no") for word in words]
                else:
                    words = [colour for colour in COLOURS if (colour in colours) == answer]
                    options = [(f"is there a {word} shape?", "yes" if answer else "no") for word in words]
            elif family == "relation":
                answer = vqa.yes_no(rng)
                options = [
                    (
                        f"is the {things[i].word} {rel if answer else vqa.CONVERSE[rel]} the {things[j].word}?",
                        "yes" if answer else "no",
                    )
                    for i, j, rel in vqa.clear_pairs(things, shape_clear)
                ]
            if not options:  # the scene was made so that each of its families can be asked
                raise RuntimeError(f"no {family} question to ask of {things}")
            text, answer = options[int(rng.integers(len(options)))]
            asked.append(vqa.Question(family, text, answer))
            self.usage[family] += 1
        return asked


def generate(n_images: int, seed: int, k: int = vqa.DEFAULT_QUESTIONS) -> Iterator[vqa.Scene]:
    """The corpus's scenes, in order; one generator seeded with ``seed`` makes every choice.

    Args:
        n_images: How many scenes.
        seed: The seed.
        k: Questions per scene.

    Yields:
        Scene 0, 1, ...
    """
    maker = ShapeScenes(seed, k)
    for index in range(n_images):
        yield maker.scene(index)


def main(argv: list[str] | None = None) -> vqa.Summary:
    """Build the corpus and print a summary line.

    Args:
        argv: Arguments, without the program name; ``None`` reads ``sys.argv``.

    Returns:
        What was written.
    """
    args = vqa.parse_args(argv, __doc__.split("\n")[0], DEFAULT_IMAGES)
    summary = vqa.write_corpus(generate(args.images, args.seed, args.questions_per_image), args.out)
    print(summary.line(args.out))
    return summary


if __name__ == "__main__":
    main()
