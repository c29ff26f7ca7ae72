"""The captioner's evaluator: BLEU-1..4 and exact match of each held-out image's caption against all of its
captions (`scores`), by the configured decoder, by greedy decoding and after a forced wrong first word (the
exposure-bias probe), against two baselines a practitioner would try first:

* `frequent_caption`: the most frequent training caption, for every image;
* `nearest_image`: the caption of the training image nearest in pixels (Euclidean distance over the stored
  images; its most frequent caption), the retrieval baseline of the captioning literature (Devlin et al. 2015).

Ties (between captions, and between images at the same distance) go the same way whatever the corpus files
are called: captions by `metrics.most_frequent`, images in the shards' order, which is their content's.

With `evaluate.objects` (where each image's objects are), the test split also measures the attention
(`attention_on_object`): at each word of the greedy caption that names an object of the image, does the
most attended grid cell's centre fall in that object's box? Its chance level (`attention_on_object_chance`)
is the share of cells whose centres do. Pictures of the attention at each word of a few test images (the
figure of Xu et al.) go under `attention/`.
"""

from __future__ import annotations

import collections
import csv
import pathlib

import keras
import numpy as np
import tensorflow as tf

from kinds.base import metrics
from kinds.base.evaluator import Evaluator, SplitEvaluation
from kinds.base.plots import _new_figure, _save
from kinds.captioner import scores
from models import (  # captioner: registers the model for loading
    attentional_decoder,
    caption_data,
    captioner,
    images,
)

PICTURES = 4


class CaptionerEvaluator(Evaluator):
    def __init__(self, inputs, params, progress) -> None:
        super().__init__(inputs, params, progress)
        self.model = keras.saving.load_model(inputs.model.path)
        self.words = tf.constant(inputs.vocabulary.tokens("target_words"))
        self.lowercase = params.preprocess.lowercase
        spec = tf.TensorSpec([None, None, None, images.CHANNELS], tf.uint8)
        self.functions = {
            strategy: tf.function(
                lambda pixels, strategy=strategy: captioner.decode(
                    self.model, pixels, params.sections["decode"], strategy
                ),
                input_signature=[spec],
                autograph=False,  # see models/decoding.py
            )
            for strategy in dict.fromkeys(["greedy", "wrong_start", params.sections["decode"].strategy])
        }
        self.split_images: dict[str, scores.ImageSet] = {}  # each split's images, read once
        self.train = self.images("train")
        counts = collections.Counter(caption for refs in self.train.references for caption in refs)
        self.frequent = metrics.most_frequent(counts) if counts else ""
        self.objects = read_objects(pathlib.Path(params.evaluate.objects)) if params.evaluate.objects else None
        progress(
            f"baselines from {len(self.train.paths):,} training images: the most frequent caption "
            f"({counts[self.frequent]:,} times) {self.frequent!r}, and the nearest training image's"
        )

    def images(self, split: str) -> scores.ImageSet:
        if split not in self.split_images:
            size = self.model.image_size
            batches = caption_data.captioner_dataset(
                self.inputs.shards.files(split), self.params.evaluate.batch_size, size, with_strings=True
            )
            self.split_images[split] = scores.images_of(batches)
        return self.split_images[split]

    def caption(self, image_set: scores.ImageSet, strategy: str) -> list[str]:
        return scores.captions(image_set, self.functions[strategy], self.words, self.params.preprocess.tokenizer)

    def evaluate(self, split: str, deciding: bool) -> SplitEvaluation:
        held_out = self.images(split)
        strategy = self.params.sections["decode"].strategy
        outputs = {"model": self.caption(held_out, strategy)}
        if strategy != "greedy":
            outputs["greedy"] = self.caption(held_out, "greedy")
        outputs["wrong_start"] = self.caption(held_out, "wrong_start")
        outputs["frequent_caption"] = [self.frequent] * len(held_out.paths)
        outputs["nearest_image"] = [
            metrics.most_frequent(collections.Counter(self.train.references[i]))
            for i in nearest(held_out.pixels, self.train.pixels)
        ]
        found = {system: scores.score(out, held_out.references, self.lowercase) for system, out in outputs.items()}
        if self.objects is not None and split == "test":
            found["model"].update(self.attention_on_objects(held_out))
        predictions = None
        if deciding:  # each image's caption, for export to check the SavedModel against
            predictions = [
                {"image_path": path, "caption": caption}
                for path, caption in zip(held_out.paths, outputs["model"], strict=True)
            ]
        return SplitEvaluation(found, predictions)

    def greedy_attention(self, pixels: np.ndarray) -> tuple[list[list[str]], np.ndarray]:
        """Each image's greedy caption as tokens, and the attention at each of its steps float [n, steps, g, g]
        (teacher forcing on the model's own output reproduces the decoder's states exactly)."""
        ids = self.functions["greedy"](tf.constant(pixels))
        maps = captioner.attention_of(self.model, tf.constant(pixels), ids).numpy()
        tokens = [
            [t.decode("utf-8") for t in row] for row in attentional_decoder.output_tokens(ids, self.words).to_list()
        ]
        return tokens, maps

    def attention_on_objects(self, held_out: scores.ImageSet) -> dict[str, float]:
        hits, chances = [], []
        for start in range(0, len(held_out.paths), scores.BATCH):
            tokens, maps = self.greedy_attention(held_out.pixels[start : start + scores.BATCH])
            for path, words, weights in zip(held_out.paths[start : start + scores.BATCH], tokens, maps, strict=True):
                boxes = self.objects.get(path)
                if not boxes:
                    continue
                width, height = original_size(path)
                centres = cell_centres(weights.shape[-1], width, height)
                for step, word in enumerate(words):
                    if word not in boxes:
                        continue
                    inside = in_box(centres, boxes[word])
                    hits.append(inside.flat[int(np.argmax(weights[step]))])
                    chances.append(inside.mean())
        if not hits:
            return {}
        return {
            "attention_on_object": float(np.mean(hits)),
            "attention_on_object_chance": float(np.mean(chances)),
            "attention_words": len(hits),
        }

    def finish(self, splits: list[str]) -> list:
        if "test" not in splits:
            return []
        held_out = self.images("test")
        pngs = pictures(self, held_out, self.inputs.folder / "attention")
        self.progress(f"attention over {len(pngs)} test images, one panel per word (evaluation/attention/)")
        return pngs


def nearest(queries: np.ndarray, pool: np.ndarray, chunk: int = 256) -> np.ndarray:
    """For each image of `queries` [n, ...], the index of the nearest image of `pool` [m, ...] (Euclidean)."""
    pool_flat = pool.reshape(len(pool), -1).astype(np.float32)
    pool_norms = (pool_flat**2).sum(axis=1)
    out = []
    for start in range(0, len(queries), chunk):
        flat = queries[start : start + chunk].reshape(-1, pool_flat.shape[1]).astype(np.float32)
        out.append(np.argmin(pool_norms[None, :] - 2.0 * flat @ pool_flat.T, axis=1))  # |q|² is the same per row
    return np.concatenate(out) if out else np.zeros([0], np.int64)


def read_objects(path: pathlib.Path) -> dict[str, dict[str, tuple[float, float, float, float]]]:
    """Resolved image path -> word -> its box (x0, y0, x1, y1) from an objects TSV (see `evaluate.objects`)."""
    found: dict[str, dict[str, tuple[float, float, float, float]]] = collections.defaultdict(dict)
    with path.open(encoding="utf-8", newline="") as lines:
        for row in csv.DictReader(lines, delimiter="\t"):
            image = str((path.parent / row["image"]).resolve())
            found[image][row["word"]] = tuple(float(row[key]) for key in ("x0", "y0", "x1", "y1"))
    return found


def original_size(path: str) -> tuple[int, int]:
    """(width, height) of an image file."""
    shape = tf.shape(tf.io.decode_image(pathlib.Path(path).read_bytes(), expand_animations=False))
    return int(shape[1]), int(shape[0])


def cell_centres(grid: int, width: int, height: int) -> np.ndarray:
    """The centres (x, y) of a grid x grid attention map's cells in the original image's pixels [grid, grid, 2]."""
    xs = (np.arange(grid) + 0.5) * width / grid
    ys = (np.arange(grid) + 0.5) * height / grid
    return np.stack(np.meshgrid(xs, ys), axis=-1)


def in_box(centres: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
    """bool [grid, grid]: whether each cell's centre lies in the box (x1, y1 exclusive)."""
    x0, y0, x1, y1 = box
    x, y = centres[..., 0], centres[..., 1]
    return (x >= x0) & (x < x1) & (y >= y0) & (y < y1)


def pictures(evaluator: CaptionerEvaluator, held_out: scores.ImageSet, folder: pathlib.Path) -> list[pathlib.Path]:
    """The first test images, each with its greedy caption, one panel per word (and [END]): the image with the
    attention at that word upsampled over it."""
    count = min(PICTURES, len(held_out.paths))
    if not count:
        return []
    tokens, maps = evaluator.greedy_attention(held_out.pixels[:count])
    paths = []
    for row in range(count):
        words = tokens[row] + ["[END]"]
        size = held_out.pixels.shape[1]
        figure = _new_figure(1.6 * (len(words) + 1), 2.0)
        panels = figure.subplots(1, len(words) + 1, squeeze=False)[0]
        panels[0].imshow(held_out.pixels[row])
        panels[0].set_title("image", fontsize=8)
        for panel, word, weights in zip(panels[1:], words, maps[row], strict=False):
            panel.imshow(held_out.pixels[row])
            panel.imshow(weights, cmap="magma", alpha=0.6, extent=(0, size, size, 0), interpolation="bilinear")
            panel.set_title(word, fontsize=9)
        for panel in panels:
            panel.set_axis_off()
        figure.suptitle(f"test image {row + 1}: {' '.join(tokens[row])}", fontsize=9)
        paths.append(_save(figure, folder / f"attention_{row + 1}.png"))
    return paths
