"""Export of classifiers: the SavedModel, its infra-validation, and its accuracy on a test split.

The stage's flow (export, validate in a fresh process, push, register) is in `executor.py`; this
module holds what differs from the tagger.
"""

from __future__ import annotations

import pathlib
from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf

import models.classifier  # noqa: F401  (registers the custom layers for loading)
from components.export.fresh_process import answers_from_a_fresh_process
from components.export.spec import ExportParameters
from models import text
from models.serving import ClassifierServingModule
from pipeline import artifacts
from pipeline.errors import ValidationError

PYFUNC_MODEL = pathlib.Path(__file__).resolve().parents[2] / "models" / "mlflow_classifier.py"
# The SavedModel must give the Keras model's probabilities to this much (float32 graphs may fuse differently).
PROBABILITY_TOLERANCE = 1e-4


def serving_module(
    model_artifact: artifacts.Model, vocabulary: artifacts.Vocabulary, params: ExportParameters
) -> ClassifierServingModule:
    """The trained classifier wrapped with its tokenizer and vocabularies."""
    p = params.preprocess
    tokenizer = text.TextTokenizer.for_task(p, vocabulary.wordpieces())
    return ClassifierServingModule(
        keras.saving.load_model(model_artifact.path),
        tokenizer,
        vocabulary.tokens("words"),
        vocabulary.tokens("labels"),
        lowercase=p.lowercase,
        max_length=params.export.max_length,
    )


def infra_validate(saved_model: pathlib.Path, expected: Sequence[dict], max_length: int) -> dict[str, int]:
    """Runs the SavedModel in a fresh process on `expected`'s texts; it must give their labels and probabilities.

    Texts longer than `max_length` tokens are left out: the serving graph cuts them, evaluation did not.

    Raises:
        ValidationError: the process failed, or a text was classified differently.
    """
    expected = [e for e in expected if e["tokens"] <= max_length]
    requests = [{"text": e["text"]} for e in expected]
    answers = answers_from_a_fresh_process(saved_model, requests, max_length, "classifier")
    mismatches = [
        i
        for i, (e, a) in enumerate(zip(expected, answers, strict=True))
        if e["label"] != a["label"]
        or not np.allclose(e["probabilities"], a["probabilities"], atol=PROBABILITY_TOLERANCE)
    ]
    if mismatches:
        first = mismatches[0]
        raise ValidationError(
            f"export: the SavedModel classifies {len(mismatches)} of {len(expected)} texts unlike the Keras model "
            f"(first: {expected[first]['text'][:80]!r}: {answers[first]['label']} {answers[first]['probabilities']} "
            f"instead of {expected[first]['label']} {expected[first]['probabilities']}); nothing pushed"
        )
    return {"texts": len(expected)}


def saved_model_accuracy(saved_model: pathlib.Path, examples: Sequence[dict], batch: int = 256) -> float:
    """Accuracy of a SavedModel's `serving_default` on examples with `text` and gold `label`."""
    serve = tf.saved_model.load(str(saved_model)).signatures["serving_default"]
    hits = 0
    for start in range(0, len(examples), batch):
        chunk = examples[start : start + batch]
        labels = serve(text=tf.constant([e["text"] for e in chunk]))["label"].numpy()
        hits += sum(label.decode("utf-8") == e["label"] for label, e in zip(labels, chunk, strict=True))
    return hits / len(examples) if examples else float("nan")
