"""Evaluate executor for classifiers: the model against a majority-class and a TF-IDF + logistic regression
baseline, trained on the same training split and scored on the same held-out splits.

The baselines read the same tokens as the model: the texts are cut by the task's tokenizer (the
`models.text` code of preprocessing and serving) once, and the TF-IDF vectorizer is handed those tokens.
The model is blessed when its eval accuracy is at least the stronger baseline's plus `bless_margin`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf

import models.classifier  # noqa: F401  (registers the custom layers for loading)
from components.evaluate import classification
from components.evaluate.plots import plot_confusion_matrix
from components.evaluate.spec import EvaluateParameters
from models import input_pipeline, text
from pipeline import artifacts
from pipeline.component import StageContext

BASELINES = ("majority", "tfidf_logreg")
_TOKENIZE_BATCH = 512


def run(context: StageContext) -> None:
    params: EvaluateParameters = context.parameters
    model_artifact: artifacts.Model = context.input("model")
    shards: artifacts.Shards = context.input("shards")
    vocabulary: artifacts.Vocabulary = context.input("vocabulary")
    examples: artifacts.Examples = context.input("examples")
    evaluation: artifacts.Evaluation = context.output("evaluation")
    blessing: artifacts.Blessing = context.output("blessing")

    model = keras.saving.load_model(model_artifact.path)
    labels = vocabulary.tokens("labels")
    train = list(examples.read("train"))
    tokens = _Tokens(params, vocabulary)
    tokens.prime([r["text"] for split in artifacts.SPLITS for r in examples.read(split)])
    majority = classification.MajorityClassBaseline().fit([r["label"] for r in train])
    tfidf = classification.TfidfLogisticRegressionBaseline(tokenizer=tokens, lowercase=False)
    tfidf.fit([r["text"] for r in train], [r["label"] for r in train])

    results: dict[str, Any] = {}
    splits = [s for s in ("eval", "test") if s in shards.manifest()["splits"]]
    for split in splits:
        dataset = input_pipeline.classifier_dataset(shards.files(split), params.evaluate.batch_size, with_strings=True)
        texts, gold, predicted, probabilities, lengths = predict(model, dataset, labels)
        write_predictions(evaluation.predictions_path(split), texts, predicted, probabilities, lengths)
        results[split] = {
            "model": classification.classification_scores(gold, predicted, labels),
            "majority": classification.classification_scores(gold, majority.predict(texts), labels),
            "tfidf_logreg": classification.classification_scores(gold, tfidf.predict(texts), labels),
        }
        scores = results[split]
        context.progress(
            f"{split}: accuracy {scores['model']['accuracy']:.4f}, macro-F1 {scores['model']['macro_f1']:.4f} "
            f"(majority {scores['majority']['accuracy']:.4f}, TF-IDF + LR {scores['tfidf_logreg']['accuracy']:.4f})"
        )
        shown = labels + sorted(set(gold) - set(labels))  # a label unseen in training too
        matrix = classification.label_confusion_matrix(gold, predicted, shown)
        png = evaluation.uri / f"confusion_matrix_{split}.png"
        plot_confusion_matrix(matrix, shown, png, title=f"Confusion matrix, {split} split")
        context.log.artifact(png, "plots")

    verdict = bless(results, params.evaluate.bless_margin)
    evaluation.path.write_text(json.dumps(_nan_to_none(results), indent=2, sort_keys=True) + "\n")
    evaluation.properties.update({"primary_metric": "test.accuracy", "splits": splits})
    blessing.properties.update(verdict)
    context.log.metrics(flat_metrics(results))
    context.log.artifact(evaluation.path, "evaluation")
    context.progress(("blessed: " if verdict["blessed"] else "NOT blessed: ") + verdict["reason"])


def predict(model: keras.Model, dataset, labels: Sequence[str]) -> tuple[list, list, list, np.ndarray, list]:
    """Texts, gold labels, predicted labels, class probabilities float [examples, classes], token counts."""
    # One traced graph for every batch width: the recurrent loop run eagerly is several times slower.
    forward = tf.function(
        lambda inputs: tf.nn.softmax(model(inputs, training=False)),
        input_signature=[{text.TOKEN_IDS: tf.TensorSpec([None, None], tf.int32)}],
    )
    texts, gold, probabilities, lengths = [], [], [], []
    for inputs, _ in dataset:
        strings = {key: inputs.pop(key) for key in (text.KEY, text.TEXT, text.LABEL)}
        probabilities.append(forward(inputs).numpy())
        lengths.extend(int(n) for n in tf.reduce_sum(tf.cast(inputs[text.TOKEN_IDS] > 0, tf.int32), axis=1).numpy())
        texts.extend(t.decode("utf-8") for t in strings[text.TEXT].numpy())
        gold.extend(t.decode("utf-8") for t in strings[text.LABEL].numpy())
    stacked = np.concatenate(probabilities) if probabilities else np.zeros((0, len(labels)), np.float32)
    predicted = [labels[i] for i in stacked.argmax(-1)]
    return texts, gold, predicted, stacked, lengths


def write_predictions(path, texts: list[str], predicted: list[str], probabilities: np.ndarray, lengths: list) -> None:
    """The model's label and probabilities for each text (and its tokens), for the export stage to check the
    SavedModel against."""
    with path.open("w", encoding="utf-8") as stream:
        for sentence, label, row, length in zip(texts, predicted, probabilities, lengths, strict=True):
            record = {"text": sentence, "label": label, "probabilities": [float(p) for p in row], "tokens": length}
            stream.write(json.dumps(record, ensure_ascii=False) + "\n")


def bless(results: dict[str, Any], margin: float) -> dict[str, Any]:
    """Blesses the model when its accuracy is at least the stronger baseline's + `margin` on the eval split
    (the test split when there is no eval split)."""
    split = "eval" if "eval" in results else "test"
    model = results[split]["model"]["accuracy"]
    name = max(BASELINES, key=lambda b: results[split][b]["accuracy"])
    baseline = results[split][name]["accuracy"]
    blessed = bool(model - baseline >= margin - 1e-9)
    relation = "clears" if blessed else "does not clear"
    reason = f"{split} accuracy {model:.4f} {relation} the {name} baseline's {baseline:.4f} + margin {margin}"
    return {"blessed": blessed, "reason": reason, "split": split, "model": model, "baseline": baseline}


def flat_metrics(results: dict[str, Any]) -> dict[str, float]:
    """`<split>.<metric>` for the model, `baseline.<name>.<split>.<metric>` for the baselines, `<split>.f1.<label>`."""
    flat = {}
    for split, by_system in results.items():
        for system, scores in by_system.items():
            prefix = f"{split}." if system == "model" else f"baseline.{system}.{split}."
            flat[prefix + "accuracy"] = scores["accuracy"]
            flat[prefix + "macro_f1"] = scores["macro_f1"]
            if system == "model":
                for label, label_scores in scores["per_class"].items():
                    for name in ("precision", "recall", "f1"):
                        flat[f"{split}.{name}.{_metric_name(label)}"] = label_scores[name]
    return {k: v for k, v in flat.items() if v is not None and not np.isnan(v)}


class _Tokens:
    """str -> the task's tokens (lowercased as the model's lookups are), for the TF-IDF vectorizer.

    `prime` tokenizes many texts in a few TensorFlow calls; the vectorizer then finds them cached.
    """

    def __init__(self, params: EvaluateParameters, vocabulary: artifacts.Vocabulary) -> None:
        p = params.preprocess
        self.lowercase = p.lowercase
        self.tokenizer = text.TextTokenizer.for_task(p, vocabulary.wordpieces())
        self.cache: dict[str, list[str]] = {}

    def prime(self, texts: Sequence[str]) -> None:
        texts = sorted(set(texts) - set(self.cache))
        for start in range(0, len(texts), _TOKENIZE_BATCH):
            batch = texts[start : start + _TOKENIZE_BATCH]
            for sentence, tokens in zip(batch, self.tokenizer(tf.constant(batch)).to_list(), strict=True):
                forms = [t.decode("utf-8") for t in tokens]
                self.cache[sentence] = [f.lower() for f in forms] if self.lowercase else forms

    def __call__(self, sentence: str) -> list[str]:
        if sentence not in self.cache:
            self.prime([sentence])
        return self.cache[sentence]


def _metric_name(label: str) -> str:
    return "".join(c if c.isalnum() or c in "_-" else "_" for c in label)


def _nan_to_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _nan_to_none(item) for key, item in value.items()}
    if isinstance(value, float) and np.isnan(value):
        return None
    return value
