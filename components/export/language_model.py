"""Export of language models: the SavedModel (`generate`, `score`), its infra-validation, its test score.

The stage's flow (export, validate in a fresh process, push, register) is in `executor.py`; this
module holds what differs from the other kinds.
"""

from __future__ import annotations

import math
import pathlib
from collections.abc import Sequence

import keras
import tensorflow as tf

from components.export.fresh_process import answers_from_a_fresh_process
from components.export.spec import ExportParameters
from models import text
from models.language_model import Generator
from models.serving import LanguageModelServingModule
from pipeline import artifacts
from pipeline.errors import ValidationError

PYFUNC_MODEL = pathlib.Path(__file__).resolve().parents[2] / "models" / "mlflow_language_model.py"
# The SavedModel's log-probabilities must match the evaluate stage's to this much (nats, summed).
LOG_PROB_TOLERANCE = 1e-3


def serving_module(
    model_artifact: artifacts.Model, vocabulary: artifacts.Vocabulary, params: ExportParameters
) -> LanguageModelServingModule:
    p = params.preprocess
    tokenizer = text.TextTokenizer.for_task(p, vocabulary.wordpieces())
    return LanguageModelServingModule(
        Generator(keras.saving.load_model(model_artifact.path)),
        tokenizer,
        vocabulary.tokens("units"),
        lowercase=p.lowercase,
        joiner="" if p.tokenizer == "characters" else " ",
    )


def infra_validate(saved_model: pathlib.Path, expected: Sequence[dict], max_length: int) -> dict[str, int]:
    """Runs the SavedModel in a fresh process: `score` must give the evaluate stage's log-probabilities and
    greedy `generate` its continuations.

    Raises:
        ValidationError: the process failed, or a text was scored or continued differently.
    """
    requests = [_request(e) for e in expected]
    answers = answers_from_a_fresh_process(saved_model, requests, max_length, "language_model")
    for case, answer in zip(expected, answers, strict=True):
        joined = _joiner(case)
        problems = []
        if answer["length"] != len(case["units"]):
            problems.append(f"length {answer['length']} instead of {len(case['units'])}")
        if not math.isclose(answer["log_prob"], case["log_prob"], abs_tol=LOG_PROB_TOLERANCE):
            problems.append(f"log_prob {answer['log_prob']:.4f} instead of {case['log_prob']:.4f}")
        if answer["greedy"] != joined.join(case["greedy"]):
            problems.append(
                f"greedy continuation {answer['greedy'][:40]!r} instead of {joined.join(case['greedy'])[:40]!r}"
            )
        if problems:
            raise ValidationError(
                f"export: the SavedModel answers {joined.join(case['units'])[:60]!r} unlike the Keras model: "
                f"{'; '.join(problems)}; nothing pushed"
            )
    return {"texts": len(expected)}


def _joiner(case: dict) -> str:
    return case.get("joiner", "")


def _request(case: dict) -> dict:
    joiner = _joiner(case)
    return {"text": joiner.join(case["units"]), "prompt": joiner.join(case["prompt"]), "generate": len(case["greedy"])}


def saved_model_bits_per_unit(saved_model: pathlib.Path, examples: Sequence[dict], batch: int = 16) -> float:
    """Bits per unit of a SavedModel's `score` on examples with `text` (lower is better)."""
    score = tf.saved_model.load(str(saved_model)).signatures["score"]
    nats, units = 0.0, 0
    for start in range(0, len(examples), batch):
        out = score(text=tf.constant([e["text"] for e in examples[start : start + batch]]))
        nats -= float(tf.reduce_sum(out["log_prob"]))
        units += int(tf.reduce_sum(out["length"]))
    return nats / units / math.log(2) if units else math.nan
