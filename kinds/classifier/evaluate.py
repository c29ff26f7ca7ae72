"""The classifier's evaluator: accuracy, macro-F1 and per-class scores of the model against a majority-class
and a TF-IDF + logistic regression baseline, trained on the same training split, on the same held-out splits.

The baselines read the same tokens as the model: the texts are cut by the task's tokenizer (the
`models.text` code of preprocessing and serving) once, and the TF-IDF vectorizer is handed those tokens.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf

import models.classifier  # noqa: F401  (registers the custom layers for loading)
from kinds.base.evaluator import Evaluator, SplitEvaluation
from kinds.base.plots import plot_confusion_matrix
from kinds.classifier import metrics as classification
from models import input_pipeline, text
from pipeline import artifacts

_TOKENIZE_BATCH = 512


class ClassifierEvaluator(Evaluator):
    def __init__(self, inputs, params, progress) -> None:
        super().__init__(inputs, params, progress)
        self.model = keras.saving.load_model(inputs.model.path)
        self.labels = inputs.vocabulary.tokens("labels")
        train = list(inputs.examples.read("train"))
        tokens = _Tokens(params.preprocess, inputs.vocabulary)
        tokens.prime([r["text"] for split in artifacts.SPLITS for r in inputs.examples.read(split)])
        self.majority = classification.MajorityClassBaseline().fit([r["label"] for r in train])
        self.tfidf = classification.TfidfLogisticRegressionBaseline(tokenizer=tokens, lowercase=False)
        self.tfidf.fit([r["text"] for r in train], [r["label"] for r in train])

    def evaluate(self, split: str, deciding: bool) -> SplitEvaluation:
        dataset = input_pipeline.classifier_dataset(
            self.inputs.shards.files(split),
            self.params.evaluate.batch_size,
            char_features=text.CHAR_IDS in {i.name for i in self.model.inputs},  # for its language models
            with_strings=True,
        )
        texts, gold, predicted, probabilities, lengths = predict(self.model, dataset, self.labels)
        labels = self.labels
        scores = {
            "model": classification.classification_scores(gold, predicted, labels),
            "majority": classification.classification_scores(gold, self.majority.predict(texts), labels),
            "tfidf_logreg": classification.classification_scores(gold, self.tfidf.predict(texts), labels),
        }
        shown = labels + sorted(set(gold) - set(labels))  # a label unseen in training too
        matrix = classification.label_confusion_matrix(gold, predicted, shown)
        png = self.inputs.folder / f"confusion_matrix_{split}.png"
        plot_confusion_matrix(matrix, shown, png, title=f"Confusion matrix, {split} split")
        # The model's label and probabilities for each text (and its token count), for export to check against.
        predictions = [
            {"text": sentence, "label": label, "probabilities": [float(p) for p in row], "tokens": length}
            for sentence, label, row, length in zip(texts, predicted, probabilities, lengths, strict=True)
        ]
        return SplitEvaluation(scores, predictions, [png])


def predict(model: keras.Model, dataset, labels: Sequence[str]) -> tuple[list, list, list, np.ndarray, list]:
    """Texts, gold labels, predicted labels, class probabilities float [examples, classes], token counts."""
    # One traced graph for every batch width: the recurrent loop run eagerly is several times slower.
    signature = {i.name: tf.TensorSpec([None] * len(i.shape), tf.int32) for i in model.inputs}
    forward = tf.function(lambda inputs: tf.nn.softmax(model(inputs, training=False)), input_signature=[signature])
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


class _Tokens:
    """str -> the task's tokens (lowercased as the model's lookups are), for the TF-IDF vectorizer.

    `prime` tokenizes many texts in a few TensorFlow calls; the vectorizer then finds them cached.
    """

    def __init__(self, preprocess, vocabulary: artifacts.Vocabulary) -> None:
        self.lowercase = preprocess.lowercase
        self.tokenizer = text.TextTokenizer.for_task(preprocess, vocabulary.wordpieces())
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
