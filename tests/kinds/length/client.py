"""The length kind's client: imports only TensorFlow and tensorflow-text."""

import tensorflow as tf
import tensorflow_text  # noqa: F401  (registers the tokenizer ops the graph uses)

PARAMS = {}


def predict(model, texts: list[str], params: dict) -> list[dict]:
    out = model.signatures["serving_default"](text=tf.constant(texts, tf.string))
    return [{"length": float(length)} for length in out["length"].numpy()]


def line(text: str, prediction: dict) -> str:
    return f"{prediction['length']:.1f}\t{text}"


def answer(model, requests: list[dict], options: dict) -> list[dict]:
    return predict(model, [request["text"] for request in requests], {})


def check_degenerate_inputs(model, options: dict) -> str | None:
    for texts in ([], [""], ["word " * (options["max_length"] + 100)]):
        found = model.signatures["serving_default"](text=tf.constant(texts, tf.string))["length"]
        if found.shape != (len(texts),):
            return f"{len(texts)} texts: lengths of shape {found.shape}"
    return None
