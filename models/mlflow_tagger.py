"""The exported tagger as an MLflow pyfunc model: strings in, JSON out.

MLflow loads this file as "model from code" (no pickle): it needs only MLflow, TensorFlow and
tensorflow-text, and the SavedModel passed as the artifact `saved_model`. Served by
`mlflow models serve --env-manager local`, a request
`{"inputs": ["The dog barks ."]}` answers `{"predictions": [{"tokens": [...], "tags": [...]}]}`.
"""

import mlflow
import tensorflow as tf
import tensorflow_text  # noqa: F401  (registers the tokenizer ops the graph uses)


class TaggerModel(mlflow.pyfunc.PythonModel):
    def load_context(self, context):
        self.model = tf.saved_model.load(context.artifacts["saved_model"])

    def predict(self, context, model_input, params=None):
        texts = _texts(model_input)
        out = self.model.signatures["serving_default"](text=tf.constant(texts, tf.string))
        results = []
        for tokens, tags in zip(out["tokens"].numpy(), out["tags"].numpy(), strict=True):
            kept = [(t.decode("utf-8"), g.decode("utf-8")) for t, g in zip(tokens, tags, strict=True) if t]
            results.append({"tokens": [t for t, _ in kept], "tags": [g for _, g in kept]})
        return results


def _texts(model_input):
    """A list of strings from what pyfunc passes: a DataFrame (column `text` or the first), a list or a str."""
    if hasattr(model_input, "columns"):
        column = "text" if "text" in model_input.columns else model_input.columns[0]
        return [str(t) for t in model_input[column]]
    if isinstance(model_input, str):
        return [model_input]
    return [str(t) for t in model_input]


mlflow.models.set_model(TaggerModel())
