#!/usr/bin/env python3
"""Build a shape-scenes captioning corpus: 64x64 colour scenes of two shapes, each with two captions.

A corpus unlike the digit scenes (colour instead of grey, drawn shapes instead of handwriting, colour words
instead of size words), made to try the captioner's defaults on data it was not tuned on. Pillow's
``ImageDraw`` draws the shapes (Pillow is installed as a dependency of matplotlib); a numpy ``Generator``
seeded with ``--seed`` makes every choice:

* a scene has two shapes of distinct kinds (``square``, ``circle``, ``triangle``), so that a shape word names
  exactly one object of the image, each of one of four colours (``red``, ``green``, ``blue``, ``yellow``,
  pure RGB primaries and red + green), 14 to 22 px across, on a black canvas;
* the two places are drawn again until the shapes are at least 3 px apart and their spatial relation is
  clear: it is read off the centres along the axis with the larger difference (``left of``/``right of``
  horizontally, ``above``/``below`` vertically), which must exceed the other axis's by at least 6 px;
* kinds, colours and relations are drawn uniformly, so no caption word can be guessed from the others.

Captions, lowercase, two a scene::

    a COLOUR SHAPE REL a COLOUR SHAPE      a red square left of a blue circle
    (the converse)                         a blue circle right of a red square

Output, in ``--out``: ``images/NNNNN.png`` (8-bit RGB PNG), ``captions.tsv`` (``images/NNNNN.png<TAB>caption``,
no header, the two captions of an image on consecutive lines) and ``objects.tsv`` (header
``image<TAB>word<TAB>size<TAB>x0<TAB>y0<TAB>x1<TAB>y1``, one row per shape, its colour in the ``size`` column),
written into a temporary folder that replaces ``--out`` once complete. The same seed gives the same files.

Usage::

    python data/prepare_shape_scenes.py --out /tmp/shape_scenes               # 2,400 images
    python data/prepare_shape_scenes.py --images 200 --seed 1 --out /tmp/shapes
"""

from __future__ import annotations

import argparse
import pathlib
import shutil
import tempfile

import numpy as np
from PIL import Image, ImageDraw

SIZE = 64
SHAPES = ("square", "circle", "triangle")
COLOURS = {"red": (255, 0, 0), "green": (0, 255, 0), "blue": (0, 0, 255), "yellow": (255, 255, 0)}
CONVERSE = {"left of": "right of", "right of": "left of", "above": "below", "below": "above"}
MIN_SIDE, MAX_SIDE = 14, 22
GAP = 3  # px between the two shapes' boxes, at least
MARGIN = 6  # px: the centre difference that names the relation exceeds the other axis's by this


def relation(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> str | None:
    """Where box `a` is relative to box `b` (x0, y0, x1, y1), or None when the scene is not clear enough."""
    dx = (a[0] + a[2] - b[0] - b[2]) / 2
    dy = (a[1] + a[3] - b[1] - b[3]) / 2
    apart = a[2] + GAP <= b[0] or b[2] + GAP <= a[0] or a[3] + GAP <= b[1] or b[3] + GAP <= a[1]
    if not apart or abs(abs(dx) - abs(dy)) < MARGIN:
        return None
    if abs(dx) > abs(dy):
        return "left of" if dx < 0 else "right of"
    return "above" if dy < 0 else "below"


def draw(canvas: ImageDraw.ImageDraw, shape: str, box: tuple[int, int, int, int], colour: tuple[int, int, int]):
    x0, y0, x1, y1 = box
    corners = (x0, y0, x1 - 1, y1 - 1)  # Pillow's boxes include their last pixel
    if shape == "square":
        canvas.rectangle(corners, fill=colour)
    elif shape == "circle":
        canvas.ellipse(corners, fill=colour)
    else:
        canvas.polygon([((x0 + x1 - 1) / 2, y0), (x0, y1 - 1), (x1 - 1, y1 - 1)], fill=colour)


def scene(rng: np.random.Generator) -> tuple[Image.Image, list[str], list[tuple[str, str, tuple]]]:
    """One scene: its image, its two captions, and (shape, colour, box) of each shape."""
    kinds = rng.choice(len(SHAPES), size=2, replace=False)
    colours = rng.choice(list(COLOURS), size=2)
    while True:
        boxes = []
        for _ in range(2):
            side = int(rng.integers(MIN_SIDE, MAX_SIDE + 1))
            x0, y0 = (int(v) for v in rng.integers(0, SIZE - side + 1, size=2))
            boxes.append((x0, y0, x0 + side, y0 + side))
        where = relation(boxes[0], boxes[1])
        if where is not None:
            break
    image = Image.new("RGB", (SIZE, SIZE))
    canvas = ImageDraw.Draw(image)
    objects = []
    for kind, colour, box in zip(kinds, colours, boxes, strict=True):
        draw(canvas, SHAPES[kind], box, COLOURS[colour])
        objects.append((SHAPES[kind], str(colour), box))
    first, second = (f"a {colour} {shape}" for shape, colour, _ in objects)
    return image, [f"{first} {where} {second}", f"{second} {CONVERSE[where]} {first}"], objects


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=pathlib.Path, required=True, help="the corpus folder to write")
    parser.add_argument("--images", type=int, default=2400, help="scenes to draw (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="the generator's seed (default: %(default)s)")
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    staging = pathlib.Path(tempfile.mkdtemp(prefix=f".{args.out.name}.", dir=args.out.parent))
    (staging / "images").mkdir()
    captions, objects = [], ["image\tword\tsize\tx0\ty0\tx1\ty1"]
    for index in range(args.images):
        image, texts, placed = scene(rng)
        path = f"images/{index:05d}.png"
        image.save(staging / path, optimize=False)
        captions += [f"{path}\t{text}" for text in texts]
        objects += [f"{path}\t{shape}\t{colour}\t" + "\t".join(map(str, box)) for shape, colour, box in placed]
    (staging / "captions.tsv").write_text("\n".join(captions) + "\n", encoding="utf-8")
    (staging / "objects.tsv").write_text("\n".join(objects) + "\n", encoding="utf-8")
    if args.out.exists():
        shutil.rmtree(args.out)
    staging.replace(args.out)
    print(f"{args.images:,} scenes, {len(captions):,} captions in {args.out}")


if __name__ == "__main__":
    main()
