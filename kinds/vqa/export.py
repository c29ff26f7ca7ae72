"""The question answerer's export: the SavedModel (`serving_default`: encoded image bytes and a raw question ->
answer and probabilities; `attention`: where each hop looked), how infra-validation checks it against the Keras
model, and its accuracy on a test split."""

from __future__ import annotations

import base64
import pathlib
from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf

from kinds.base.export import Export, require_alike
from kinds.base.serving import TextServingModule
from models import images, text, vqa  # vqa: registers the layers for loading
from pipeline import artifacts

# The SavedModel must give the Keras model's probabilities to this much (float32 graphs may fuse differently).
PROBABILITY_TOLERANCE = 1e-4
IMAGE_SPEC = tf.TensorSpec([None], tf.string, name="image")
QUESTION_SPEC = tf.TensorSpec([None], tf.string, name="question")


class VqaServingModule(TextServingModule):
    """Wraps a trained question answerer with its tokenizer and vocabularies for `tf.saved_model.save`.

    Signatures (the serving contract):
        serving_default: `image` string [batch] of encoded images (PNG, JPEG, GIF, BMP; any size, grey or colour)
            and `question` string [batch] (raw text) -> `answer` string [batch], `probabilities` float32
            [batch, answers] (in the order of the `answers` vocabulary), `input_tokens` int32 [batch].
        attention: the same inputs -> `answer` and `attention` float32 [batch, hops, grid, grid], where each hop
            looked, row by row over the image.
    """

    def __init__(self, model, tokenizer, words, answers, *, lowercase: bool, max_length: int) -> None:
        super().__init__("vqa", model, tokenizer, words, lowercase=lowercase, max_length=max_length)
        self.attending = vqa.attention_model(model)
        self.answer_names = tf.constant(answers, tf.string)
        self.image_size = int(model.inputs[0].shape[1])

    def inputs(self, image, question):
        """The model's inputs, at least one row: an empty batch gets one black image and an empty question, whose
        outputs the signatures cut off (TensorFlow's CPU convolution mishandles a batch of none); and the
        questions' token counts."""
        tf.debugging.assert_equal(tf.size(image), tf.size(question), "one question for each image")
        empty = tf.size(image) == 0
        image = tf.cond(empty, lambda: tf.io.encode_png(tf.zeros([1, 1, 1], tf.uint8))[None], lambda: image)
        question = tf.cond(empty, lambda: tf.constant([""]), lambda: question)
        token_ids, input_tokens = self.read(question)
        return {images.IMAGE: images.decode_batch(image, self.image_size), text.TOKEN_IDS: token_ids}, input_tokens

    @tf.function(input_signature=[IMAGE_SPEC, QUESTION_SPEC])
    def serve(self, image, question):
        inputs, input_tokens = self.inputs(image, question)
        probabilities = tf.nn.softmax(self.model(inputs, training=False))[: tf.size(image)]
        answer = tf.gather(self.answer_names, tf.argmax(probabilities, axis=-1))
        return {"answer": answer, "probabilities": probabilities, "input_tokens": input_tokens[: tf.size(image)]}

    @tf.function(input_signature=[IMAGE_SPEC, QUESTION_SPEC])
    def serve_attention(self, image, question):
        inputs, _ = self.inputs(image, question)
        out = self.attending(inputs, training=False)
        answer = tf.gather(self.answer_names, tf.argmax(out["logits"], axis=-1))
        return {"answer": answer[: tf.size(image)], "attention": out["attention"][: tf.size(image)]}

    def signatures(self) -> dict:
        return {
            "serving_default": self.serve.get_concrete_function(),
            "attention": self.serve_attention.get_concrete_function(),
        }


def serving_module(model_artifact: artifacts.Model, vocabulary: artifacts.Vocabulary, params) -> VqaServingModule:
    return VqaServingModule(
        keras.saving.load_model(model_artifact.path),
        text.TextTokenizer.for_task(params.preprocess, vocabulary.wordpieces()),
        vocabulary.tokens("words"),
        vocabulary.tokens("answers"),
        lowercase=params.preprocess.lowercase,
        max_length=params.export.max_length,
    )


def encoded(path: str) -> str:
    """An image file's bytes in base64, as the client and the pyfunc model take images."""
    return base64.b64encode(pathlib.Path(path).read_bytes()).decode("ascii")


def requests(expected: Sequence[dict], params) -> tuple[list[dict], list[dict]]:
    """Each evaluated question, with its image sent as its file's bytes."""
    return list(expected), [{"image": encoded(e["image_path"]), "question": e["question"]} for e in expected]


def _differs(expected: dict, answer: dict) -> bool:
    return expected["answer"] != answer["answer"] or not np.allclose(
        expected["probabilities"], answer["probabilities"], atol=PROBABILITY_TOLERANCE
    )


def _shown(expected: dict, answer: dict) -> str:
    return (
        f"{expected['image_path']} {expected['question']!r:.60}: {answer['answer']!r} instead of {expected['answer']!r}"
    )


def check(expected: Sequence[dict], answers: Sequence[dict]) -> dict[str, int]:
    """The SavedModel, given the original image files and the raw questions, must answer every question as the
    Keras model did from the stored pixels and ids, with the same probabilities.

    Raises:
        ValidationError: a question was answered differently.
    """
    require_alike(expected, answers, _differs, _shown, "answers questions")
    return {"questions": len(expected)}


def saved_model_accuracy(
    saved_model: pathlib.Path, examples: Sequence[dict], *, metric: str = "", lowercase: bool = False, batch: int = 64
) -> float:
    """Accuracy of a SavedModel's `serving_default` on examples with `image` (a path), `question` and gold
    `answer` (`lowercase` does not apply: answers are compared as classes)."""
    serve = tf.saved_model.load(str(saved_model)).signatures["serving_default"]
    hits = 0
    for start in range(0, len(examples), batch):
        chunk = examples[start : start + batch]
        out = serve(
            image=tf.constant([pathlib.Path(e["image"]).read_bytes() for e in chunk]),
            question=tf.constant([e["question"] for e in chunk]),
        )
        hits += sum(a.decode("utf-8") == e["answer"] for a, e in zip(out["answer"].numpy(), chunk, strict=True))
    return hits / len(examples) if examples else float("nan")


def client_args(vocabulary: artifacts.Vocabulary) -> dict:
    """The pyfunc model names each probability by its answer, in the order of the `answers` vocabulary."""
    return {"answers": vocabulary.tokens("answers")}


EXPORT = Export(serving_module, requests, check, saved_model_accuracy, client_args)
