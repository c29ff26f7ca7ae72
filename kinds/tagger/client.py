"""The tagger's client: what a caller of the exported SavedModel does with it. Imports only TensorFlow and
tensorflow-text (no Keras, no project code), so what runs here proves the SavedModel needs nothing else.

Used by infra-validation in a fresh process (`answer`, `check_degenerate_inputs`), by the MLflow pyfunc
model and by `pipeline predict` (`predict`, `line`).
"""

import tensorflow as tf
import tensorflow_text  # noqa: F401  (registers the tokenizer ops the graph uses)

BATCH = 64
PARAMS = {}


def predict(model, texts: list[str], params: dict) -> list[dict]:
    """`serving_default` on raw texts: the tokens and tags of each, padding left out (and `input_tokens`,
    of which the model read the first `export.max_length`)."""
    out = model.signatures["serving_default"](text=tf.constant(texts, tf.string))
    lengths = out["input_tokens"].numpy().tolist() if "input_tokens" in out else [None] * len(texts)
    results = []
    for tokens, tags, n in zip(out["tokens"].numpy(), out["tags"].numpy(), lengths, strict=True):
        kept = [(t.decode("utf-8"), g.decode("utf-8")) for t, g in zip(tokens, tags, strict=True) if t]
        results.append({"tokens": [t for t, _ in kept], "tags": [g for _, g in kept], "input_tokens": n})
    return results


def line(text: str, prediction: dict) -> str:
    """A prediction as a person reads it: `word/TAG word/TAG ...`."""
    return " ".join(f"{t}/{g}" for t, g in zip(prediction["tokens"], prediction["tags"], strict=True))


def answer(model, requests: list[dict], options: dict) -> list[dict]:
    """Each request is a pre-tokenized sentence: the tags of `tag_tokens`, and the tokens and tags of
    `serving_default` on the sentence joined by spaces."""
    tag_tokens, serve_text = model.signatures["tag_tokens"], model.signatures["serving_default"]
    responses = []
    for start in range(0, len(requests), BATCH):
        batch = [request["tokens"] for request in requests[start : start + BATCH]]
        width = max(map(len, batch))
        padded = tf.constant([tokens + [""] * (width - len(tokens)) for tokens in batch])
        tags = tag_tokens(tokens=padded)["tags"].numpy()
        served = serve_text(text=tf.constant([" ".join(tokens) for tokens in batch]))
        for i, tokens in enumerate(batch):
            responses.append(
                {
                    "tags": [t.decode("utf-8") for t in tags[i, : len(tokens)]],
                    "text_tokens": [t.decode("utf-8") for t in served["tokens"][i].numpy() if t],
                    "text_tags": [t.decode("utf-8") for t in served["tags"][i].numpy() if t],
                }
            )
    return responses


def check_degenerate_inputs(model, options: dict) -> str | None:
    """Inputs a client will send sooner or later must give well-formed outputs: the first that does not, or None."""
    serve_text, max_length = model.signatures["serving_default"], options["max_length"]
    shapes = {
        "an empty batch": (serve_text(text=tf.constant([], tf.string)), 0),
        "an empty string": (serve_text(text=tf.constant([""])), 1),
        f"a text of {max_length + 100} tokens": (serve_text(text=tf.constant(["word " * (max_length + 100)])), 1),
    }
    for what, (outputs, rows) in shapes.items():
        tokens, tags = outputs["tokens"], outputs["tags"]
        if tokens.shape != tags.shape or tokens.shape[0] != rows or tokens.shape[1] > max_length:
            return f"{what}: tokens {tokens.shape} and tags {tags.shape} (expected {rows} rows of <= {max_length})"
        if any(bool(token) != bool(tag) for token, tag in zip(tokens.numpy().flat, tags.numpy().flat, strict=True)):
            return f"{what}: a token without a tag, or a tag on padding"
    return None


def benchmark_calls(model) -> dict:
    """What `benchmarks/serving.py` measures: call name -> (signature, its text input, other inputs, the units
    of a batch's outputs, their name). A tagger: `serving_default`, the non-empty tokens it returns."""
    count = lambda batch, out: int((out["tokens"] != b"").sum())  # noqa: E731
    return {"serving_default": (model.signatures["serving_default"], "text", {}, count, "tokens")}
