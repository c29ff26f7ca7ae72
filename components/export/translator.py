"""Export of translators: the SavedModel (`serving_default`: text -> translation, decoded in the graph), its
infra-validation, and its BLEU on a test split.

The stage's flow (export, validate in a fresh process, push, register) is in `executor.py`; this
module holds what differs from the other kinds.
"""

from __future__ import annotations

import pathlib
from collections.abc import Sequence

import keras
import sacrebleu
import tensorflow as tf

from components.export.fresh_process import answers_from_a_fresh_process
from components.export.spec import ExportParameters
from models import seq2seq, text  # seq2seq: registers the model for loading
from models.serving import TranslatorServingModule
from pipeline import artifacts
from pipeline.errors import ValidationError

PYFUNC_MODEL = pathlib.Path(__file__).resolve().parents[2] / "models" / "mlflow_translator.py"
assert seq2seq


def serving_module(
    model_artifact: artifacts.Model, vocabulary: artifacts.Vocabulary, params: ExportParameters
) -> TranslatorServingModule:
    p = params.preprocess
    shared = "words" in vocabulary.names()
    tokenizer = text.TextTokenizer.for_task(p, vocabulary.wordpieces())
    return TranslatorServingModule(
        keras.saving.load_model(model_artifact.path),
        tokenizer,
        vocabulary.tokens("words" if shared else "source_words"),
        vocabulary.tokens("words" if shared else "target_words"),
        params.decode,
        lowercase=p.lowercase,
        max_length=params.export.max_length,
    )


def infra_validate(
    saved_model: pathlib.Path, expected: Sequence[dict], max_length: int, batch_size: int = 128
) -> dict[str, int]:
    """Runs the SavedModel in a fresh process on `expected`'s sources; it must give their translations.

    The sources go in batches of `batch_size`, the evaluate stage's: the longest source of a batch sets
    the most tokens a decoder may write, so the same batches give the same output.

    Raises:
        ValidationError: the process failed, or a source was translated differently.
    """
    requests = [{"text": e["source"]} for e in expected]
    answers = answers_from_a_fresh_process(saved_model, requests, max_length, "translator", str(batch_size))
    mismatches = [
        i for i, (e, a) in enumerate(zip(expected, answers, strict=True)) if e["translation"] != a["translation"]
    ]
    if mismatches:
        first = mismatches[0]
        raise ValidationError(
            f"export: the SavedModel translates {len(mismatches)} of {len(expected)} sources unlike the Keras model "
            f"(first: {expected[first]['source'][:60]!r}: {answers[first]['translation'][:60]!r} instead of "
            f"{expected[first]['translation'][:60]!r}); nothing pushed"
        )
    return {"sources": len(expected)}


def saved_model_bleu(saved_model: pathlib.Path, examples: Sequence[dict], batch: int = 128) -> float:
    """Corpus BLEU of a SavedModel's translations of examples with `source` and reference `target`."""
    serve = tf.saved_model.load(str(saved_model)).signatures["serving_default"]
    hypotheses = []
    for start in range(0, len(examples), batch):
        out = serve(text=tf.constant([e["source"] for e in examples[start : start + batch]]))
        hypotheses += [t.decode("utf-8") for t in out["translation"].numpy()]
    return sacrebleu.corpus_bleu(hypotheses, [[e["target"] for e in examples]]).score
