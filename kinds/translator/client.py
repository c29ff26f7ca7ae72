"""The translator's client: what a caller of the exported SavedModel does with it. Imports only TensorFlow
and tensorflow-text (no Keras, no project code), so what runs here proves the SavedModel needs nothing else.

Used by infra-validation in a fresh process (`answer`, `check_degenerate_inputs`), by the MLflow pyfunc
model and by `pipeline predict` (`predict`, `line`).
"""

import tensorflow as tf
import tensorflow_text  # noqa: F401  (registers the tokenizer ops the graph uses)

PARAMS = {}


def predict(model, texts: list[str], params: dict) -> list[dict]:
    """`serving_default` on raw texts: each one's translation, decoded in the graph (and `input_tokens`,
    of which the model read the first `export.max_length`)."""
    out = model.signatures["serving_default"](text=tf.constant(texts, tf.string))
    lengths = out["input_tokens"].numpy().tolist() if "input_tokens" in out else [None] * len(texts)
    return [
        {"text": source, "translation": translation.decode("utf-8"), "input_tokens": n}
        for source, translation, n in zip(texts, out["translation"].numpy(), lengths, strict=True)
    ]


def line(text: str, prediction: dict) -> str:
    return prediction["translation"]


def answer(model, requests: list[dict], options: dict) -> list[dict]:
    """Each request is a source text, sent in batches of `options["batch_size"]`, the evaluate stage's: the
    longest source of a batch sets the most tokens a decoder may write, so the same batches give the same output."""
    texts, batch = [request["text"] for request in requests], options["batch_size"]
    return [
        {"translation": r["translation"]}
        for start in range(0, len(texts), batch)
        for r in predict(model, texts[start : start + batch], {})
    ]


def check_degenerate_inputs(model, options: dict) -> str | None:
    """An empty batch, an empty string and a long text must give one translation each: the first that does not."""
    serve_text = model.signatures["serving_default"]
    for what, batch_texts in {
        "an empty batch": tf.constant([], tf.string),
        "an empty string": tf.constant([""]),
        "a long text": tf.constant(["word " * 300]),
    }.items():
        translation = serve_text(text=batch_texts)["translation"]
        if translation.shape != (batch_texts.shape[0],):
            return f"{what}: translation of shape {translation.shape}"
    return None


def benchmark_calls(model) -> dict:
    """What `benchmarks/serving.py` measures: call name -> (signature, its text input, other inputs, the units
    of a batch's outputs, their name). A translator: `serving_default`, the translations' whitespace tokens."""
    count = lambda batch, out: sum(len(t.split()) for t in out["translation"].tolist())  # noqa: E731
    return {"serving_default": (model.signatures["serving_default"], "text", {}, count, "output_tokens")}
