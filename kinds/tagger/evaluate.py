"""The tagger's evaluator: token accuracy (and OOV accuracy, per-tag and, for BIO tags, conlleval entity
scores) of the model and of the most-frequent-tag baseline, on the same held-out splits."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import keras
import tensorflow as tf

from kinds.base.evaluator import Evaluator, SplitEvaluation
from kinds.base.kind import BlessingRule
from kinds.base.metrics import confusion_matrix
from kinds.base.plots import plot_confusion_matrix
from kinds.tagger import metrics
from models import input_pipeline, text
from models.tagger import tag_ids  # models.tagger also registers the custom layers, for loading

# The scores' entity F1 (conlleval's, over chunks), a tagger's blessing metric on BIO tags.
ENTITY_F1 = "entity.f1"


class TaggerEvaluator(Evaluator):
    def __init__(self, inputs, params, progress) -> None:
        super().__init__(inputs, params, progress)
        self.model = keras.saving.load_model(inputs.model.path)
        self.char_features = text.CHAR_IDS in {i.name for i in self.model.inputs}
        self.tags = inputs.vocabulary.tokens("tags")
        self.bio = bool(inputs.model.properties.get("facts", {}).get("bio_tags"))  # the recipe's decision
        self.known_words = set(inputs.vocabulary.tokens("words")[len(text.RESERVED_TOKENS) :])
        train = list(inputs.examples.read("train"))
        self.baseline = metrics.MostFrequentTagBaseline.fit(
            [self.forms(r["tokens"]) for r in train], [r["tags"] for r in train]
        )

    def blessing(self, rule: BlessingRule) -> BlessingRule:
        """BIO tags are judged by entity F1: nearly every token is `O`, so token accuracy barely moves."""
        if self.bio:
            return dataclasses.replace(rule, metric=ENTITY_F1)
        return rule

    def forms(self, tokens: Sequence[str]) -> list[str]:
        """The forms the word vocabulary looks up (a token is out of vocabulary when its form is unseen)."""
        return [t.lower() for t in tokens] if self.params.lowercase else list(tokens)

    def evaluate(self, split: str, deciding: bool) -> SplitEvaluation:
        dataset = input_pipeline.tagger_dataset(
            self.inputs.shards.files(split),
            self.params.evaluate.batch_size,
            char_features=self.char_features,
            with_strings=True,
        )
        tokens, gold, predicted = predict(self.model, dataset, self.tags)
        forms = [self.forms(sentence) for sentence in tokens]
        oov = [[form not in self.known_words for form in sentence] for sentence in forms]
        scores = {
            "model": score(gold, predicted, oov, self.bio),
            "most_frequent_tag": score(gold, self.baseline.predict(forms), oov, self.bio),
        }
        seen = set(_flat(gold)) | set(_flat(predicted))
        labels = [t for t in self.tags if t in seen] + sorted(seen - set(self.tags))  # a tag unseen in training too
        png = self.inputs.folder / f"confusion_matrix_{split}.png"
        plot_confusion_matrix(
            confusion_matrix(gold, predicted, labels), labels, png, title=f"Confusion matrix, {split} split"
        )
        predictions = [{"tokens": s, "tags": t} for s, t in zip(tokens, predicted, strict=True)]
        return SplitEvaluation(scores, predictions, [png])


def predict(model: keras.Model, dataset, tags: Sequence[str]) -> tuple[list, list, list]:
    """Runs the model over a dataset with strings and returns tokens, gold tags and predicted tags."""
    # One traced graph for every batch: the recurrent loop run eagerly is several times slower.
    forward = tf.function(lambda inputs: tag_ids(model, inputs), reduce_retracing=True)
    tokens, gold, predicted = [], [], []
    for inputs, _, weights in dataset:
        strings = {key: inputs.pop(key) for key in (text.TOKENS, text.TAGS, text.KEY)}
        best = forward(inputs).numpy()
        lengths = weights.numpy().sum(axis=1).astype(int)
        for i, length in enumerate(lengths):
            tokens.append([t.decode("utf-8") for t in strings[text.TOKENS][i, :length].numpy()])
            gold.append([t.decode("utf-8") for t in strings[text.TAGS][i, :length].numpy()])
            predicted.append([tags[j] for j in best[i, :length]])
    return tokens, gold, predicted


def score(gold: list[list[str]], predicted: list[list[str]], oov: list[list[bool]], bio: bool) -> dict[str, Any]:
    """Token accuracy, OOV accuracy, per-tag scores and, for BIO tags (`bio`), conlleval entity scores."""
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
    if bio:
        entities = metrics.entity_scores(gold, predicted)
        result["entity"] = {"precision": entities.precision, "recall": entities.recall, "f1": entities.f1}
    return result


def _flat(sentences: Sequence[Sequence[str]]) -> list[str]:
    return [item for sentence in sentences for item in sentence]
