"""Captions scored as the captioning literature scores them: each image once, against all of its captions.

BLEU-1 to BLEU-4 (sacrebleu's corpus BLEU with several references per image and its 13a tokenization;
BLEU-n is the geometric mean of the 1..n-gram precisions times the brevity penalty, as in the COCO
evaluation), and the share of images whose caption equals one of their references exactly.

The spatial relation, the hardest part of a scene's caption, changes one or two words of it, which BLEU
barely sees: `relations` scores it on its own, for captions that state one ("a red square left of a blue
circle").
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
# The English phrases that state where one object is relative to another, longest first where one holds
# another ("to the left of" before "left of").
RELATIONS = (
    "to the left of", "to the right of", "in front of", "on top of", "next to", "left of", "right of",
    "above", "below", "beside", "behind", "under", "over", "inside", "near",
)  # fmt: skip


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
    result.update(relations(hypotheses, references))
    return result


def relation_of(caption: str) -> tuple[str, str, str] | None:
    """(subject, relation, object) of a caption that states a spatial relation, lowercased, each object by
    its last word (its head noun: "a large six" -> "six"); None without one, or with no word on either side."""
    words = caption.lower().split()
    for start in range(len(words)):
        for phrase in RELATIONS:
            parts = phrase.split()
            if words[start : start + len(parts)] == parts:
                before, after = words[:start], words[start + len(parts) :]
                return (before[-1], phrase, after[-1]) if before and after else None
    return None


def relations(hypotheses: list[str], references: list[list[str]]) -> dict[str, float]:
    """How often a caption states the image's spatial relation right, over the images whose references
    state one (`relation_images`): `relation_accuracy`, the caption's relation between the two objects it
    names is a reference's relation between them ("six left of two" against "six left of two" or "two right
    of six" is right; "six right of two", or a relation of objects no reference relates, is wrong). Since a
    wrong object makes the relation wrong too, `relation_given_objects` is the same over the captions that
    name the reference's two objects (in either order; `relation_named` of them): the relation alone.
    Case-insensitive; empty when no reference states a relation."""
    right, given_objects = [], []
    for hypothesis, refs in zip(hypotheses, references, strict=True):
        stated = {relation for relation in map(relation_of, refs) if relation is not None}
        if not stated:
            continue
        said = relation_of(hypothesis)
        right.append(said in stated)
        pairs = {frozenset((subject, object_)) for subject, _, object_ in stated}
        if said is not None and said[0] != said[2] and frozenset((said[0], said[2])) in pairs:
            given_objects.append(said in stated)
    if not right:
        return {}
    found = {"relation_accuracy": float(np.mean(right)), "relation_images": len(right)}
    found["relation_named"] = len(given_objects)
    if given_objects:
        found["relation_given_objects"] = float(np.mean(given_objects))
    return found
