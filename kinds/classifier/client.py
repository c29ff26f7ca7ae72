"""The classifier's client: what a caller of the exported SavedModel does with it. Imports only TensorFlow
and tensorflow-text (no Keras, no project code), so what runs here proves the SavedModel needs nothing else.

Used by infra-validation in a fresh process (`answer`, `check_degenerate_inputs`), by the MLflow pyfunc
model and by `pipeline predict` (`predict`, `line`).
"""

import tensorflow as tf
import tensorflow_text  # noqa: F401  (registers the tokenizer ops the graph uses)

BATCH = 64
PARAMS = {}


def predict(model, texts: list[str], params: dict, labels: list[str] | None = None) -> list[dict]:
    """`serving_default` on raw texts: each one's label and its probabilities (by label name when `labels`
    gives the names, in the order of the `labels` vocabulary), and `input_tokens`, of which the model read
    the first `export.max_length`."""
    out = model.signatures["serving_default"](text=tf.constant(texts, tf.string))
    lengths = out["input_tokens"].numpy().tolist() if "input_tokens" in out else [None] * len(texts)
    results = []
    rows = zip(texts, out["label"].numpy(), out["probabilities"].numpy(), lengths, strict=True)
    for text, label, row, n in rows:
        probabilities = dict(zip(labels, map(float, row), strict=True)) if labels else [float(p) for p in row]
        results.append(
            {"text": text, "label": label.decode("utf-8"), "probabilities": probabilities, "input_tokens": n}
        )
    return results


def line(text: str, prediction: dict) -> str:
    """A prediction as a person reads it: `label<TAB>probability<TAB>text`."""
    probabilities = prediction["probabilities"]
    values = probabilities.values() if isinstance(probabilities, dict) else probabilities
    return f"{prediction['label']}\t{max(values):.3f}\t{text}"


def answer(model, requests: list[dict], options: dict) -> list[dict]:
    """Each request is a text: the `label` and `probabilities` of `serving_default`."""
    texts = [request["text"] for request in requests]
    answers = [r for start in range(0, len(texts), BATCH) for r in predict(model, texts[start : start + BATCH], {})]
    return [{"label": a["label"], "probabilities": a["probabilities"]} for a in answers]


def check_degenerate_inputs(model, options: dict) -> str | None:
    """An empty batch, an empty string and an over-long text must give well-formed outputs: the first that does not."""
    serve_text, max_length = model.signatures["serving_default"], options["max_length"]
    classes = serve_text(text=tf.constant(["a"]))["probabilities"].shape[1]
    for what, batch in {
        "an empty batch": tf.constant([], tf.string),
        "an empty string": tf.constant([""]),
        f"a text of {max_length + 100} tokens": tf.constant(["word " * (max_length + 100)]),
    }.items():
        outputs = serve_text(text=batch)
        rows = batch.shape[0]
        if outputs["label"].shape != (rows,) or outputs["probabilities"].shape != (rows, classes):
            return f"{what}: label {outputs['label'].shape}, probabilities {outputs['probabilities'].shape}"
        if rows and abs(float(tf.reduce_sum(outputs["probabilities"])) - rows) > 1e-3:
            return f"{what}: probabilities do not sum to 1"
    return None


def benchmark_calls(model) -> dict:
    """What `benchmarks/serving.py` measures: call name -> (signature, its text input, other inputs, the units
    of a batch's outputs, their name). A classifier: `serving_default`, the input's whitespace tokens."""
    count = lambda batch, out: sum(len(t.split()) for t in batch["text"].numpy().tolist())  # noqa: E731
    return {"serving_default": (model.signatures["serving_default"], "text", {}, count, "input_tokens")}
