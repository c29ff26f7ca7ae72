"""An exported model as an MLflow pyfunc model: strings in, JSON out, for every kind.

MLflow loads this file as "model from code" (no pickle), with `client_loader.py` as the model's code, the
SavedModel as the artifact `saved_model` and the kind's client module as the artifact `client` (plus
`client_args`, JSON keyword arguments of its `predict`, such as a classifier's label names). It needs only
MLflow, TensorFlow and tensorflow-text. Served by `mlflow models serve --env-manager local`, a request
`{"inputs": ["The dog barks ."]}` answers `{"predictions": [...]}`, one JSON object per input, as the
client's `predict` makes it; request `params` (a language model's `max_length`, `temperature`) go to the
client too.
"""

import json
import pathlib

import mlflow
import tensorflow as tf
import tensorflow_text  # noqa: F401  (registers the tokenizer ops the graph uses, before it loads)


class SeqpipeModel(mlflow.pyfunc.PythonModel):
    def load_context(self, context):
        self.model = tf.saved_model.load(context.artifacts["saved_model"])
        # The model's code (`code_paths`), on the path where the model loads, as it is in infra-validation.
        from client_loader import load_client

        self.client = load_client(context.artifacts["client"])
        extra = context.artifacts.get("client_args")
        self.client_args = json.loads(pathlib.Path(extra).read_text()) if extra else {}

    def predict(self, context, model_input, params=None):
        return self.client.predict(self.model, _texts(model_input), params or {}, **self.client_args)


def _texts(model_input):
    """A list of strings from what pyfunc passes: a DataFrame (column `text` or the first), a list or a str."""
    if hasattr(model_input, "columns"):
        column = "text" if "text" in model_input.columns else model_input.columns[0]
        return [str(t) for t in model_input[column]]
    if isinstance(model_input, str):
        return [model_input]
    return [str(t) for t in model_input]


mlflow.models.set_model(SeqpipeModel())
