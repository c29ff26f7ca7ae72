"""The exported language model as an MLflow pyfunc model: prompts in, continuations out.

Loaded by MLflow as "model from code" (no pickle), with the SavedModel as the artifact `saved_model`.
Served by `mlflow models serve --env-manager local`, a request
`{"inputs": ["It is a truth"], "params": {"max_length": 80, "temperature": 0.7}}` answers
`{"predictions": [{"prompt": "It is a truth", "text": " universally acknowledged..."}]}`.
"""

import mlflow
import tensorflow as tf
import tensorflow_text  # noqa: F401  (registers the tokenizer ops the graph uses)


class LanguageModel(mlflow.pyfunc.PythonModel):
    def load_context(self, context):
        self.model = tf.saved_model.load(context.artifacts["saved_model"])

    def predict(self, context, model_input, params=None):
        params = params or {}
        prompts = _texts(model_input)
        out = self.model.signatures["generate"](
            prompt=tf.constant(prompts, tf.string),
            max_length=tf.constant(int(params.get("max_length", 200)), tf.int32),
            temperature=tf.constant(float(params.get("temperature", 0.8)), tf.float32),
        )
        return [
            {"prompt": prompt, "text": generated.decode("utf-8")}
            for prompt, generated in zip(prompts, out["text"].numpy(), strict=True)
        ]


def _texts(model_input):
    """A list of strings from what pyfunc passes: a DataFrame (column `text` or the first), a list or a str."""
    if hasattr(model_input, "columns"):
        column = "text" if "text" in model_input.columns else model_input.columns[0]
        return [str(t) for t in model_input[column]]
    if isinstance(model_input, str):
        return [model_input]
    return [str(t) for t in model_input]


mlflow.models.set_model(LanguageModel())
