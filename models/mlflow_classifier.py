"""The exported classifier as an MLflow pyfunc model: strings in, label and probabilities out.

Loaded by MLflow as "model from code" (no pickle), with the SavedModel as the artifact `saved_model`.
Served by `mlflow models serve --env-manager local`, a request `{"inputs": ["A fine film."]}` answers
`{"predictions": [{"label": "positive", "probabilities": {"negative": 0.1, "positive": 0.9}}]}`.
"""

import json
import pathlib

import mlflow
import tensorflow as tf
import tensorflow_text  # noqa: F401  (registers the tokenizer ops the graph uses)


class ClassifierModel(mlflow.pyfunc.PythonModel):
    def load_context(self, context):
        self.model = tf.saved_model.load(context.artifacts["saved_model"])
        self.labels = json.loads(pathlib.Path(context.artifacts["labels"]).read_text())

    def predict(self, context, model_input, params=None):
        out = self.model.signatures["serving_default"](text=tf.constant(_texts(model_input), tf.string))
        results = []
        for label, row in zip(out["label"].numpy(), out["probabilities"].numpy(), strict=True):
            probabilities = {name: float(p) for name, p in zip(self.labels, row, strict=True)}
            results.append({"label": label.decode("utf-8"), "probabilities": probabilities})
        return results


def _texts(model_input):
    """A list of strings from what pyfunc passes: a DataFrame (column `text` or the first), a list or a str."""
    if hasattr(model_input, "columns"):
        column = "text" if "text" in model_input.columns else model_input.columns[0]
        return [str(t) for t in model_input[column]]
    if isinstance(model_input, str):
        return [model_input]
    return [str(t) for t in model_input]


mlflow.models.set_model(ClassifierModel())
