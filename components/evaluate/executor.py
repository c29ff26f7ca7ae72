"""Evaluate executor: the tagger and the most-frequent-tag baseline on the same held-out splits."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf

import models.tagger  # noqa: F401  (registers the custom layers for loading)
from components.evaluate import metrics
from components.evaluate.plots import plot_confusion_matrix
from components.evaluate.spec import EvaluateParameters
from models import input_pipeline, text
from pipeline import artifacts
from pipeline.component import StageContext


def run(context: StageContext) -> None:
    params: EvaluateParameters = context.parameters
    model_artifact: artifacts.Model = context.input("model")
    shards: artifacts.Shards = context.input("shards")
    vocabulary: artifacts.Vocabulary = context.input("vocabulary")
    examples: artifacts.Examples = context.input("examples")
    evaluation: artifacts.Evaluation = context.output("evaluation")
    blessing: artifacts.Blessing = context.output("blessing")

    model = keras.saving.load_model(model_artifact.path)
    char_features = text.CHAR_IDS in {i.name for i in model.inputs}
    tags = vocabulary.tokens("tags")
    known_words = set(vocabulary.tokens("words")[len(text.RESERVED_TOKENS) :])
    train = list(examples.read("train"))
    baseline = metrics.MostFrequentTagBaseline.fit(
        [_forms(r["tokens"], params.lowercase) for r in train], [r["tags"] for r in train]
    )

    results: dict[str, Any] = {}
    splits = [s for s in ("eval", "test") if s in shards.manifest()["splits"]]
    for split in splits:
        dataset = input_pipeline.tagger_dataset(
            shards.files(split), params.evaluate.batch_size, char_features=char_features, with_strings=True
        )
        tokens, gold, predicted = predict(model, dataset, tags)
        write_predictions(evaluation.predictions_path(split), tokens, predicted)
        forms = [_forms(sentence, params.lowercase) for sentence in tokens]
        oov = [[form not in known_words for form in sentence] for sentence in forms]
        results[split] = {
            "model": score(gold, predicted, oov),
            "baseline": score(gold, baseline.predict(forms), oov),
        }
        model_accuracy = results[split]["model"]["token_accuracy"]
        baseline_accuracy = results[split]["baseline"]["token_accuracy"]
        context.progress(f"{split}: token accuracy {model_accuracy:.4f} (baseline {baseline_accuracy:.4f})")
        seen = set(_flat(gold)) | set(_flat(predicted))
        labels = [t for t in tags if t in seen] + sorted(seen - set(tags))  # a tag unseen in training too
        matrix = metrics.confusion_matrix(gold, predicted, labels)
        png = evaluation.uri / f"confusion_matrix_{split}.png"
        plot_confusion_matrix(matrix, labels, png, title=f"Confusion matrix, {split} split")
        context.log.artifact(png, "plots")

    verdict = bless(results, params.evaluate.bless_margin)
    # NaN (no OOV token in a split) is not JSON: write null.
    evaluation.path.write_text(json.dumps(_nan_to_none(results), indent=2, sort_keys=True) + "\n")
    evaluation.properties.update({"primary_metric": "test.token_accuracy", "splits": splits})
    blessing.properties.update(verdict)
    context.log.metrics(flat_metrics(results))
    context.log.artifact(evaluation.path, "evaluation")
    context.progress(("blessed: " if verdict["blessed"] else "NOT blessed: ") + verdict["reason"])


def predict(model: keras.Model, dataset, tags: Sequence[str]) -> tuple[list, list, list]:
    """Runs the model over a dataset with strings and returns tokens, gold tags and predicted tags."""
    reserved = len(text.RESERVED_TAGS)
    # One traced graph for every batch: the recurrent loop run eagerly is several times slower.
    forward = tf.function(lambda inputs: model(inputs, training=False), reduce_retracing=True)
    tokens, gold, predicted = [], [], []
    for inputs, _, weights in dataset:
        strings = {key: inputs.pop(key) for key in (text.TOKENS, text.TAGS, text.KEY)}
        logits = forward(inputs).numpy()
        # Reserved tags are never a right answer: predict only among the real ones.
        best = logits[..., reserved:].argmax(-1) + reserved
        lengths = weights.numpy().sum(axis=1).astype(int)
        for i, length in enumerate(lengths):
            tokens.append([t.decode("utf-8") for t in strings[text.TOKENS][i, :length].numpy()])
            gold.append([t.decode("utf-8") for t in strings[text.TAGS][i, :length].numpy()])
            predicted.append([tags[j] for j in best[i, :length]])
    return tokens, gold, predicted


def write_predictions(path, tokens: list[list[str]], predicted: list[list[str]]) -> None:
    """The model's tags for each sentence, for the export stage to check the SavedModel against."""
    with path.open("w", encoding="utf-8") as stream:
        for sentence, tags in zip(tokens, predicted, strict=True):
            stream.write(json.dumps({"tokens": sentence, "tags": tags}, ensure_ascii=False) + "\n")


def score(gold: list[list[str]], predicted: list[list[str]], oov: list[list[bool]]) -> dict[str, Any]:
    """Token accuracy, OOV accuracy, per-tag scores and, for BIO tag sets, conlleval entity scores."""
    result: dict[str, Any] = {
        "token_accuracy": metrics.token_accuracy(gold, predicted),
        "oov_accuracy": metrics.masked_token_accuracy(gold, predicted, oov),
        "oov_tokens": int(sum(map(sum, oov))),
        "tokens": int(sum(map(len, gold))),
        "per_tag": {
            tag: {"precision": s.precision, "recall": s.recall, "f1": s.f1, "support": s.support}
            for tag, s in sorted(metrics.per_tag_scores(gold, predicted).items())
        },
    }
    if metrics.is_bio_tagset(_flat(gold)):
        entities = metrics.entity_scores(gold, predicted)
        result["entity"] = {"precision": entities.precision, "recall": entities.recall, "f1": entities.f1}
    return result


def bless(results: dict[str, Any], margin: float) -> dict[str, Any]:
    """Blesses the model when it beats the baseline by `margin` token accuracy on the eval split.

    The eval split decides, so that the test split stays untouched by any choice; without an eval
    split the test split decides.
    """
    split = "eval" if "eval" in results else "test"
    model = results[split]["model"]["token_accuracy"]
    baseline = results[split]["baseline"]["token_accuracy"]
    blessed = bool(model - baseline >= margin - 1e-9)  # 0.57 - 0.56 is 0.0099999... in floating point
    relation = "beats" if blessed else "does not beat"
    reason = f"{split} token accuracy {model:.4f} {relation} the baseline {baseline:.4f} + margin {margin}"
    return {"blessed": blessed, "reason": reason, "split": split, "model": model, "baseline": baseline}


def flat_metrics(results: dict[str, Any]) -> dict[str, float]:
    """Metrics named `<split>.<metric>` for the model and `baseline.<split>.<metric>` for the baseline."""
    flat = {}
    for split, by_system in results.items():
        for system, values in by_system.items():
            prefix = f"{split}." if system == "model" else f"baseline.{split}."
            for name in ("token_accuracy", "oov_accuracy"):
                flat[prefix + name] = values[name]
            for name, value in values.get("entity", {}).items():
                flat[f"{prefix}entity_{name}"] = value
            if system == "model":
                for tag, tag_scores in values["per_tag"].items():
                    flat[f"{prefix}f1.{_metric_name(tag)}"] = tag_scores["f1"]
    return {k: v for k, v in flat.items() if v is not None and not np.isnan(v)}


def _metric_name(tag: str) -> str:
    """MLflow metric names allow letters, digits and `_-. /`; other tag characters become their names."""
    names = {".": "PUNCT_DOT", ",": "COMMA", ":": "COLON", "$": "DOLLAR", "(": "LPAREN", ")": "RPAREN"}
    if tag in names:
        return names[tag]
    return "".join(c if c.isalnum() or c in "_-" else "_" for c in tag)


def _nan_to_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _nan_to_none(item) for key, item in value.items()}
    if isinstance(value, float) and np.isnan(value):
        return None
    return value


def _forms(tokens: Sequence[str], lowercase: bool) -> list[str]:
    return [t.lower() for t in tokens] if lowercase else list(tokens)


def _flat(sentences: Sequence[Sequence[str]]) -> list[str]:
    return [item for sentence in sentences for item in sentence]
