"""The classifier's export: the SavedModel (raw strings in, label and probabilities out), how infra-validation
checks it against the Keras model, and its accuracy on a test split."""

from __future__ import annotations

import pathlib
from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf

import models.classifier  # noqa: F401  (registers the custom layers for loading)
from kinds.base.export import Export, require_alike
from kinds.base.serving import TextServingModule
from models import text
from pipeline import artifacts

# The SavedModel must give the Keras model's probabilities to this much (float32 graphs may fuse differently).
PROBABILITY_TOLERANCE = 1e-4


class ClassifierServingModule(TextServingModule):
    """Wraps a trained classifier with its tokenizer and vocabularies for `tf.saved_model.save`.

    Signature (the serving contract):
        serving_default: `text` string [batch] -> `label` string [batch], `probabilities` float32
        [batch, classes] (classes in the order of the `labels` vocabulary), `input_tokens` int32 [batch].
    """

    def __init__(self, model, tokenizer, words: list[str], labels: list[str], *, lowercase: bool, max_length: int):
        super().__init__("classifier", model, tokenizer, words, lowercase=lowercase, max_length=max_length)
        self.label_names = tf.constant(labels, tf.string)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
    def serve_text(self, text_batch):
        token_ids, input_tokens = self.read(text_batch)
        probabilities = tf.nn.softmax(self.model({text.TOKEN_IDS: token_ids}, training=False))
        label = tf.gather(self.label_names, tf.argmax(probabilities, axis=-1))
        return {"label": label, "probabilities": probabilities, "input_tokens": input_tokens}


def serving_module(
    model_artifact: artifacts.Model, vocabulary: artifacts.Vocabulary, params
) -> ClassifierServingModule:
    """The trained classifier wrapped with its tokenizer and vocabularies."""
    return ClassifierServingModule(
        keras.saving.load_model(model_artifact.path),
        text.TextTokenizer.for_task(params.preprocess, vocabulary.wordpieces()),
        vocabulary.tokens("words"),
        vocabulary.tokens("labels"),
        lowercase=params.preprocess.lowercase,
        max_length=params.export.max_length,
    )


def requests(expected: Sequence[dict], params) -> tuple[list[dict], list[dict]]:
    """Each evaluated text, left out when longer than `export.max_length` tokens (the serving graph cuts it,
    evaluation did not)."""
    kept = [e for e in expected if e["tokens"] <= params.export.max_length]
    return kept, [{"text": e["text"]} for e in kept]


def _differs(expected: dict, answer: dict) -> bool:
    same_label = expected["label"] == answer["label"]
    return not same_label or not np.allclose(
        expected["probabilities"], answer["probabilities"], atol=PROBABILITY_TOLERANCE
    )


def _shown(expected: dict, answer: dict) -> str:
    given, wanted = f"{answer['label']} {answer['probabilities']}", f"{expected['label']} {expected['probabilities']}"
    return f"{expected['text'][:80]!r}: {given} instead of {wanted}"


def check(expected: Sequence[dict], answers: Sequence[dict]) -> dict[str, int]:
    """The SavedModel must give every text the Keras model's label and probabilities.

    Raises:
        ValidationError: a text was classified differently.
    """
    require_alike(expected, answers, _differs, _shown, "classifies texts")
    return {"texts": len(expected)}


def saved_model_accuracy(
    saved_model: pathlib.Path, examples: Sequence[dict], *, metric: str = "", lowercase: bool = False, batch: int = 256
) -> float:
    """Accuracy of a SavedModel's `serving_default` on examples with `text` and gold `label` (`lowercase` does
    not apply: labels are compared)."""
    serve = tf.saved_model.load(str(saved_model)).signatures["serving_default"]
    hits = 0
    for start in range(0, len(examples), batch):
        chunk = examples[start : start + batch]
        labels = serve(text=tf.constant([e["text"] for e in chunk]))["label"].numpy()
        hits += sum(label.decode("utf-8") == e["label"] for label, e in zip(labels, chunk, strict=True))
    return hits / len(examples) if examples else float("nan")


def client_args(vocabulary: artifacts.Vocabulary) -> dict:
    """The pyfunc model names each probability by its label, in the order of the `labels` vocabulary."""
    return {"labels": vocabulary.tokens("labels")}


EXPORT = Export(serving_module, requests, check, saved_model_accuracy, client_args)
