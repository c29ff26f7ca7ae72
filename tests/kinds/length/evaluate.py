"""The length kind's evaluator: mean absolute error of the model and of the training mean, on each split."""

from __future__ import annotations

import keras
import numpy as np

from kinds.base.evaluator import Evaluator, SplitEvaluation
from tests.kinds.length.train import batches


class LengthEvaluator(Evaluator):
    def __init__(self, inputs, params, progress) -> None:
        super().__init__(inputs, params, progress)
        self.model = keras.saving.load_model(inputs.model.path)
        _, lengths, _ = self.predict("train")
        self.mean = float(np.mean(lengths))

    def predict(self, split: str) -> tuple[list[str], np.ndarray, np.ndarray]:
        texts, lengths, predicted = [], [], []
        for ids, length, text in batches(self.inputs.shards.files(split), self.params.evaluate.batch_size, True):
            texts += [t.decode("utf-8") for t in text.numpy()]
            lengths += length.numpy().tolist()
            predicted += self.model(ids, training=False).numpy().tolist()
        return texts, np.array(lengths), np.array(predicted)

    def evaluate(self, split: str, deciding: bool) -> SplitEvaluation:
        texts, lengths, predicted = self.predict(split)
        scores = {
            "model": {"mae": float(np.mean(np.abs(predicted - lengths)))},
            "mean_length": {"mae": float(np.mean(np.abs(self.mean - lengths)))},
        }
        answers = [{"text": t, "length": float(p)} for t, p in zip(texts, predicted, strict=True)]
        return SplitEvaluation(scores, answers)
