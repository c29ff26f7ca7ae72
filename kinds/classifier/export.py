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

    def __init__(
        self,
        model,
        tokenizer,
        words: list[str],
        labels: list[str],
        *,
        lowercase: bool,
        max_length: int,
        chars: list[str] | None = None,
        max_word_length: int = 0,
    ):
        super().__init__("classifier", model, tokenizer, words, lowercase=lowercase, max_length=max_length)
        self.label_names = tf.constant(labels, tf.string)
        # A model with language models (`model.lm_features`) also reads each word's characters.
        self.char_table = text.lookup_table(chars) if chars is not None else None
        self.max_word_length = max_word_length

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
    def serve_text(self, text_batch):
        tokens, input_tokens = self.cut_tokens(text_batch)
        inputs = {text.TOKEN_IDS: self.ids(tokens)}
        if self.char_table is not None:  # preprocessing's character ids: of the tokens as cut, not normalized
            char_ids = tf.cast(text.char_ids(self.char_table, tokens, self.max_word_length).to_tensor(0), tf.int32)
            inputs[text.CHAR_IDS] = tf.pad(char_ids, [[0, 0], [0, 1], [0, 1]])  # as `read` pads the token ids
        probabilities = tf.nn.softmax(self.model(inputs, training=False))
        label = tf.gather(self.label_names, tf.argmax(probabilities, axis=-1))
        return {"label": label, "probabilities": probabilities, "input_tokens": input_tokens}


def serving_module(
    model_artifact: artifacts.Model, vocabulary: artifacts.Vocabulary, params
) -> ClassifierServingModule:
    """The trained classifier wrapped with its tokenizer and vocabularies."""
    model = keras.saving.load_model(model_artifact.path)
    reads_chars = text.CHAR_IDS in {i.name for i in model.inputs}
    return ClassifierServingModule(
        model,
        text.TextTokenizer.for_task(params.preprocess, vocabulary.wordpieces()),
        vocabulary.tokens("words"),
        vocabulary.tokens("labels"),
        lowercase=params.preprocess.lowercase,
        max_length=params.export.max_length,
        chars=vocabulary.tokens("chars") if reads_chars else None,
        max_word_length=params.preprocess.max_word_length,
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
