"""The exported translator as an MLflow pyfunc model: sentences in, translations out.

Loaded by MLflow as "model from code" (no pickle), with the SavedModel as the artifact `saved_model`.
Served by `mlflow models serve --env-manager local`, a request `{"inputs": ["In the beginning."]}`
answers `{"predictions": [{"text": "In the beginning.", "translation": "En el principio."}]}`.
"""

import mlflow
import tensorflow as tf
import tensorflow_text  # noqa: F401  (registers the tokenizer ops the graph uses)


class TranslatorModel(mlflow.pyfunc.PythonModel):
    def load_context(self, context):
        self.model = tf.saved_model.load(context.artifacts["saved_model"])

    def predict(self, context, model_input, params=None):
        texts = _texts(model_input)
        out = self.model.signatures["serving_default"](text=tf.constant(texts, tf.string))
        return [
            {"text": source, "translation": translation.decode("utf-8")}
            for source, translation in zip(texts, out["translation"].numpy(), strict=True)
        ]


def _texts(model_input):
    """A list of strings from what pyfunc passes: a DataFrame (column `text` or the first), a list or a str."""
    if hasattr(model_input, "columns"):
        column = "text" if "text" in model_input.columns else model_input.columns[0]
        return [str(t) for t in model_input[column]]
    if isinstance(model_input, str):
        return [model_input]
    return [str(t) for t in model_input]


mlflow.models.set_model(TranslatorModel())
