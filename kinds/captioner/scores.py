"""Captions scored as the captioning literature scores them: each image once, against all of its captions.

BLEU-1 to BLEU-4 (sacrebleu's corpus BLEU with several references per image and its 13a tokenization;
BLEU-n is the geometric mean of the 1..n-gram precisions times the brevity penalty, as in the COCO
evaluation), and the share of images whose caption equals one of their references exactly.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np
import sacrebleu
import tensorflow as tf

from models import attentional_decoder, images, text
from models.caption_data import IMAGE_PATH

BATCH = 64


@dataclasses.dataclass
class ImageSet:
    """The distinct images of a split, in shard order: their files, pixels uint8 [n, size, size, 3], and the
    captions of each (its references)."""

    paths: list[str]
    pixels: np.ndarray
    references: list[list[str]]


def images_of(dataset: tf.data.Dataset) -> ImageSet:
    """The distinct images of a `captioner_dataset(..., with_strings=True)`, each with all its captions."""
    order: dict[str, int] = {}
    pixels, references = [], []
    for inputs, _, _ in dataset:
        for path, picture, caption in zip(
            inputs[IMAGE_PATH].numpy(), inputs[images.IMAGE].numpy(), inputs[text.TARGET].numpy(), strict=True
        ):
            path = path.decode("utf-8")
            if path not in order:
                order[path] = len(order)
                pixels.append(picture)
                references.append([])
            references[order[path]].append(caption.decode("utf-8"))
    size = dataset.element_spec[0][images.IMAGE].shape[1]
    stacked = np.stack(pixels) if pixels else np.zeros([0, size, size, images.CHANNELS], np.uint8)
    return ImageSet(list(order), stacked, references)


def captions(
    image_set: ImageSet, decode: Callable[[tf.Tensor], tf.Tensor], target_words: tf.Tensor, tokenizer: str
) -> list[str]:
    """The caption `decode` (uint8 images -> output ids) gives each image, detokenized."""
    out = []
    for start in range(0, len(image_set.paths), BATCH):
        ids = decode(tf.constant(image_set.pixels[start : start + BATCH]))
        detokenized = text.detokenize(attentional_decoder.output_tokens(ids, target_words), tokenizer)
        out += [caption.decode("utf-8") for caption in detokenized.numpy()]
    return out


def score(hypotheses: list[str], references: list[list[str]], lowercase: bool = False) -> dict[str, float]:
    """BLEU-1..4 (`bleu` is BLEU-4), exact match against any reference, and the number of images; all
    case-insensitive when `lowercase` (a model trained on lowercased captions)."""
    if lowercase:
        hypotheses = [h.lower() for h in hypotheses]
        references = [[r.lower() for r in refs] for refs in references]
    most = max((len(refs) for refs in references), default=1)
    # sacrebleu takes reference streams; an image with fewer captions has None in the streams it lacks.
    streams = [[refs[i] if i < len(refs) else None for refs in references] for i in range(most)]
    result: dict[str, float] = {}
    for n in (1, 2, 3, 4):
        bleu = sacrebleu.BLEU(max_ngram_order=n, lowercase=lowercase)
        result[f"bleu_{n}"] = bleu.corpus_score(hypotheses, streams).score if hypotheses else 0.0
    result["bleu"] = result["bleu_4"]
    matches = [h in refs for h, refs in zip(hypotheses, references, strict=True)]
    result["exact_match"] = float(np.mean(matches)) if matches else float("nan")
    result["images"] = len(hypotheses)
    return result
