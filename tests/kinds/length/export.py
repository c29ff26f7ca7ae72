"""The length kind's export: raw text in, the number of words the model counts out, tokenized in the graph."""

from __future__ import annotations

import pathlib
from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf

from kinds.base.export import Export, require_alike
from kinds.base.serving import TextServingModule
from models import text


class LengthServingModule(TextServingModule):
    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
    def serve_text(self, text_batch):
        return {"length": self.model(self.token_ids(text_batch), training=False)}


def serving_module(model_artifact, vocabulary, params) -> LengthServingModule:
    return LengthServingModule(
        "length",
        keras.saving.load_model(model_artifact.path),
        text.TextTokenizer.for_task(params.preprocess),
        vocabulary.tokens("words"),
        lowercase=False,
        max_length=params.export.max_length,
    )


def requests(expected: Sequence[dict], params) -> tuple[list[dict], list[dict]]:
    return list(expected), [{"text": e["text"]} for e in expected]


def check(expected: Sequence[dict], answers: Sequence[dict]) -> dict[str, int]:
    require_alike(
        expected,
        answers,
        lambda e, a: abs(e["length"] - a["length"]) > 1e-3,
        lambda e, a: f"{e['text']!r}: {a['length']} instead of {e['length']}",
        "counts texts",
    )
    return {"texts": len(expected)}


def saved_model_mae(saved_model: pathlib.Path, examples: Sequence[dict], *, metric="", lowercase=False) -> float:
    """Mean absolute error of a SavedModel's counts of examples' words (white-space-separated)."""
    serve = tf.saved_model.load(str(saved_model)).signatures["serving_default"]
    predicted = serve(text=tf.constant([e["text"] for e in examples]))["length"].numpy()
    return float(np.mean(np.abs(predicted - [len(e["text"].split()) for e in examples])))


EXPORT = Export(serving_module, requests, check, saved_model_mae)
