"""Evaluate executor for language models: cross-entropy per unit, bits per unit and perplexity on the
held-out splits, against an interpolated Kneser-Ney n-gram model fit on the same training split.

The model reads each split as streams of documents with its state carried across windows, as in
training; the n-gram model reads the same documents, cut into the same units by the task's tokenizer,
each from its start. Both predict every unit of a document, the first one from the document's start.
The model is blessed when its eval bits per unit are at most the baseline's minus `bless_margin`.
"""

from __future__ import annotations

import json
import math
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from components.evaluate.kneser_ney import KneserNeyLM
from components.evaluate.spec import EvaluateParameters
from models import input_pipeline, text
from models.language_model import Generator, stream_cross_entropy  # (importing it registers the layers)
from pipeline import artifacts
from pipeline.component import StageContext

# Windows of the evaluation streams: the state is carried across them, so this only sets the batch shape.
EVAL_WINDOW = 256
NGRAM_ORDER = 5
# The export stage checks the SavedModel's `score` and greedy `generate` against these, computed here.
VALIDATION_TEXTS = 32
VALIDATION_UNITS = 200
VALIDATION_PROMPT_UNITS = 20
VALIDATION_GENERATED = 40


def run(context: StageContext) -> None:
    params: EvaluateParameters = context.parameters
    model_artifact: artifacts.Model = context.input("model")
    shards: artifacts.Shards = context.input("shards")
    vocabulary: artifacts.Vocabulary = context.input("vocabulary")
    examples: artifacts.Examples = context.input("examples")
    evaluation: artifacts.Evaluation = context.output("evaluation")
    blessing: artifacts.Blessing = context.output("blessing")

    model = keras.saving.load_model(model_artifact.path)
    streams = model.inputs[0].shape[0]
    units = Units(params)
    ngram = KneserNeyLM(order=NGRAM_ORDER).fit(units.documents(examples.read("train")))
    context.progress(f"{NGRAM_ORDER}-gram Kneser-Ney baseline fit on the train split")

    results: dict[str, Any] = {}
    splits = [s for s in ("eval", "test") if s in shards.manifest()["splits"]]
    for split in splits:
        documents = input_pipeline.read_documents(shards.files(split))
        data = input_pipeline.language_model_streams(documents, streams, EVAL_WINDOW)
        nats = stream_cross_entropy(model, input_pipeline.language_model_dataset(data, EVAL_WINDOW))
        count = int(data["weights"].sum())
        baseline_nats, baseline_count = ngram.score(units.documents(examples.read(split)))
        results[split] = {
            "model": _scores(nats, count),
            "kneser_ney": _scores(-baseline_nats / baseline_count if baseline_count else math.nan, baseline_count),
        }
        context.progress(
            f"{split}: {results[split]['model']['bits_per_unit']:.3f} bits per unit "
            f"({NGRAM_ORDER}-gram Kneser-Ney {results[split]['kneser_ney']['bits_per_unit']:.3f})"
        )
    split = "eval" if "eval" in results else "test"
    write_validation_cases(evaluation.predictions_path(split), model, vocabulary, examples.read(split), units)

    verdict = bless(results, params.evaluate.bless_margin)
    evaluation.path.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    evaluation.properties.update({"primary_metric": "test.bits_per_unit", "splits": splits})
    blessing.properties.update(verdict)
    context.log.metrics(flat_metrics(results))
    context.log.artifact(evaluation.path, "evaluation")
    context.progress(("blessed: " if verdict["blessed"] else "NOT blessed: ") + verdict["reason"])


def _scores(nats: float, count: int) -> dict[str, float]:
    """Cross-entropy in nats per unit, bits per unit, perplexity per unit, units scored."""
    return {"cross_entropy": nats, "bits_per_unit": nats / math.log(2), "perplexity": math.exp(nats), "units": count}


class Units:
    """Raw text to the model's units (strings) by the task's tokenizer, for the n-gram baseline."""

    def __init__(self, params: EvaluateParameters) -> None:
        p = params.preprocess
        self.lowercase = p.lowercase
        self.joiner = "" if p.tokenizer == "characters" else " "
        self.tokenizer = text.TextTokenizer(p.tokenizer, pattern=p.token_pattern, normalization=p.normalization)
        if p.tokenizer == "wordpiece":
            raise ValueError("the n-gram baseline of a wordpiece language model is not implemented")

    def __call__(self, texts: list[str]) -> list[list[str]]:
        tokens = text.normalize_words(self.tokenizer(tf.constant(texts)), self.lowercase)
        return [[t.decode("utf-8") for t in row] for row in tokens.to_list()]

    def documents(self, records) -> list[list[str]]:
        texts = [record["text"] for record in records]
        return [units for start in range(0, len(texts), 256) for units in self(texts[start : start + 256])]


def write_validation_cases(path, model: keras.Model, vocabulary: artifacts.Vocabulary, records, units: Units) -> None:
    """A few held-out texts with the log-probability the model gives them and its greedy continuation of their
    first units, computed with the trained layers here, for export to check the SavedModel against."""
    ids_of = {unit: i for i, unit in enumerate(vocabulary.tokens("units"))}
    names = vocabulary.tokens("units")
    generator = Generator(model)
    ids_spec, lengths_spec = tf.TensorSpec([None, None], tf.int32), tf.TensorSpec([None], tf.int32)
    score = tf.function(generator.score, input_signature=[ids_spec, lengths_spec])
    scalar = tf.TensorSpec([], tf.int32), tf.TensorSpec([], tf.float32)
    generate = tf.function(generator.generate, input_signature=[ids_spec, lengths_spec, *scalar])
    with path.open("w", encoding="utf-8") as stream:
        for count, record in enumerate(records):
            if count == VALIDATION_TEXTS:
                break
            pieces = units([record["text"]])[0][:VALIDATION_UNITS]
            ids = [text.START_ID] + [ids_of.get(u, text.UNK_ID) for u in pieces]
            log_prob = float(score(tf.constant([ids]), tf.constant([len(ids)]))[0])
            prompt = ids[: VALIDATION_PROMPT_UNITS + 1]
            greedy = generate(
                tf.constant([prompt]), tf.constant([len(prompt)]), tf.constant(VALIDATION_GENERATED), tf.constant(0.0)
            )
            case = {
                "units": pieces,
                "log_prob": log_prob,
                "prompt": pieces[:VALIDATION_PROMPT_UNITS],
                "greedy": [names[i] for i in greedy[0].numpy()],
                "joiner": units.joiner,
            }
            stream.write(json.dumps(case, ensure_ascii=False) + "\n")


def bless(results: dict[str, Any], margin: float) -> dict[str, Any]:
    """Blesses the model when its bits per unit on the eval split (else test) are at most the baseline's - margin."""
    split = "eval" if "eval" in results else "test"
    model = results[split]["model"]["bits_per_unit"]
    baseline = results[split]["kneser_ney"]["bits_per_unit"]
    blessed = bool(baseline - model >= margin - 1e-9)
    relation = "beats" if blessed else "does not beat"
    reason = (
        f"{split} {model:.3f} bits per unit {relation} the {NGRAM_ORDER}-gram Kneser-Ney baseline's "
        f"{baseline:.3f} - margin {margin}"
    )
    return {"blessed": blessed, "reason": reason, "split": split, "model": model, "baseline": baseline}


def flat_metrics(results: dict[str, Any]) -> dict[str, float]:
    """`<split>.<metric>` for the model and `baseline.kneser_ney.<split>.<metric>` for the n-gram model."""
    flat = {}
    for split, by_system in results.items():
        for system, scores in by_system.items():
            prefix = f"{split}." if system == "model" else f"baseline.{system}.{split}."
            for name in ("cross_entropy", "bits_per_unit", "perplexity"):
                flat[prefix + name] = scores[name]
    return {k: v for k, v in flat.items() if v is not None and np.isfinite(v)}
