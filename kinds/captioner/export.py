"""The captioner's export: the SavedModel (`serving_default`: encoded image bytes -> caption, decoded in the
graph; `attention`: the caption's words and where it looked at each), how infra-validation checks it against
the Keras model, and its BLEU on a test split."""

from __future__ import annotations

import base64
import collections
import pathlib
from collections.abc import Sequence

import keras
import tensorflow as tf

from kinds.base.export import Export, require_alike
from kinds.captioner import scores
from models import attentional_decoder, captioner, images, text  # captioner: registers the model for loading
from pipeline import artifacts

IMAGE_SPEC = tf.TensorSpec([None], tf.string, name="image")


class CaptionerServingModule(tf.Module):
    """Wraps a trained captioner with its caption vocabulary and decoder for `tf.saved_model.save`.

    Signatures (the serving contract):
        serving_default: `image` string [batch] of encoded images (PNG, JPEG, GIF, BMP; any size, grey or
            colour) -> `caption` string [batch], decoded by the configured strategy (beam search by default).
        attention: `image` -> `caption`, `words` string [batch, steps] (the greedy caption's tokens and
            [END], padded with ""), `attention` float [batch, steps, grid, grid].
    """

    def __init__(self, model, target_words, decode_config, tokenizer: str) -> None:
        super().__init__(name="captioner")
        self.model = model
        self.target_words = tf.constant(target_words, tf.string)
        self.decode_config = decode_config
        self.tokenizer = tokenizer

    def pixels(self, encoded):
        """uint8 [max(batch, 1), size, size, 3]: an empty batch gets one black image, whose outputs the
        signatures cut off (TensorFlow's CPU convolution mishandles a batch of none)."""
        encoded = tf.cond(
            tf.size(encoded) > 0, lambda: encoded, lambda: tf.io.encode_png(tf.zeros([1, 1, 1], tf.uint8))[None]
        )
        return images.decode_batch(encoded, self.model.image_size)

    @tf.function(input_signature=[IMAGE_SPEC], autograph=False)  # no AutoGraph: see models/decoding.py
    def serve(self, image):
        ids = captioner.decode(self.model, self.pixels(image), self.decode_config)[: tf.size(image)]
        return {"caption": text.detokenize(attentional_decoder.output_tokens(ids, self.target_words), self.tokenizer)}

    @tf.function(input_signature=[IMAGE_SPEC], autograph=False)  # no AutoGraph: see models/decoding.py
    def serve_attention(self, image):
        batch, pixels = tf.size(image), self.pixels(image)
        ids = captioner.decode(self.model, pixels, self.decode_config, "greedy")
        attention = captioner.attention_of(self.model, pixels, ids)[:batch]
        tokens = attentional_decoder.output_tokens(ids[:batch], self.target_words)
        with_end = tf.concat([tokens, tf.fill([batch, 1], "[END]")], axis=1)
        return {
            "caption": text.detokenize(tokens, self.tokenizer),
            "words": with_end.to_tensor("", shape=tf.stack([batch, tf.shape(ids)[1]])),
            "attention": attention,
        }

    def signatures(self) -> dict:
        return {
            "serving_default": self.serve.get_concrete_function(),
            "attention": self.serve_attention.get_concrete_function(),
        }


def serving_module(model_artifact: artifacts.Model, vocabulary: artifacts.Vocabulary, params) -> CaptionerServingModule:
    return CaptionerServingModule(
        keras.saving.load_model(model_artifact.path),
        vocabulary.tokens("target_words"),
        params.sections["decode"],
        params.preprocess.tokenizer,
    )


def encoded(path: str) -> str:
    """An image file's bytes in base64, as the client and the pyfunc model take images."""
    return base64.b64encode(pathlib.Path(path).read_bytes()).decode("ascii")


def requests(expected: Sequence[dict], params) -> tuple[list[dict], list[dict]]:
    """Each evaluated image, sent as its file's bytes."""
    return list(expected), [{"image": encoded(e["image_path"])} for e in expected]


def check(expected: Sequence[dict], answers: Sequence[dict]) -> dict[str, int]:
    """The SavedModel, given the original files, must caption every image as the Keras model did from the
    stored pixels.

    Raises:
        ValidationError: an image was captioned differently.
    """
    require_alike(expected, answers, "caption", "image_path", "captions images")
    return {"images": len(expected)}


def saved_model_bleu(
    saved_model: pathlib.Path, examples: Sequence[dict], *, metric: str = "", lowercase: bool = False, batch: int = 64
) -> float:
    """Corpus BLEU-4 of a SavedModel's captions of the images of examples (`image`, `caption`), each image
    once against all of its captions, ignoring case when `lowercase`."""
    serve = tf.saved_model.load(str(saved_model)).signatures["serving_default"]
    references = collections.defaultdict(list)
    for example in examples:
        references[example["image"]].append(example["caption"])
    paths = list(references)
    hypotheses = []
    for start in range(0, len(paths), batch):
        files = [pathlib.Path(p).read_bytes() for p in paths[start : start + batch]]
        hypotheses += [c.decode("utf-8") for c in serve(image=tf.constant(files))["caption"].numpy()]
    return scores.score(hypotheses, [references[p] for p in paths], lowercase)["bleu"]


EXPORT = Export(serving_module, requests, check, saved_model_bleu)
