"""The captioner's client: what a caller of the exported SavedModel does with it. Imports only TensorFlow
and tensorflow-text (no Keras, no project code), so what runs here proves the SavedModel needs nothing else.

Images travel as their encoded files' bytes in base64 (JSON and the MLflow pyfunc model carry strings).
Used by infra-validation in a fresh process (`answer`, `check_degenerate_inputs`), by the MLflow pyfunc
model and by `pipeline predict` (`from_arguments`, `predict`, `line`).
"""

import base64
import binascii
import pathlib

import tensorflow as tf
import tensorflow_text  # noqa: F401  (the graph's detokenizer may use its ops)

PARAMS = {}


def from_arguments(paths: list[str]) -> list[tuple[str, str]]:
    """`pipeline predict`'s arguments, image files: each file's name, and its bytes as the base64 string `predict`
    takes (OSError: unreadable)."""
    return [(path, base64.b64encode(pathlib.Path(path).read_bytes()).decode("ascii")) for path in paths]


def predict(model, images: list[str], params: dict) -> list[dict]:
    """`serving_default` on base64-encoded image files: each one's caption, decoded in the graph. Each image
    is checked first: one that is not an image gets `{"error": why}` and the others are still captioned."""
    checked = [image_bytes(image) for image in images]
    good = [data for data, problem in checked if problem is None]
    captions = iter(model.signatures["serving_default"](image=tf.constant(good, tf.string))["caption"].numpy())
    return [{"error": problem} if problem else {"caption": next(captions).decode("utf-8")} for _, problem in checked]


def image_bytes(image: str) -> tuple[bytes, str | None]:
    """The bytes of a base64-encoded image file, and what is wrong with them (None: an image the graph decodes)."""
    try:
        data = base64.b64decode(image, validate=True)
    except (binascii.Error, ValueError, TypeError):
        return b"", "not base64: an image is sent as its file's bytes, base64-encoded"
    if not data:
        return data, "empty: no bytes"
    try:
        tf.io.decode_image(data, channels=3, expand_animations=False)  # as the graph decodes it
    except tf.errors.OpError:
        return data, f"not an image (JPEG, PNG, GIF or BMP): its bytes start {data[:12]!r}"
    return data, None


def line(argument: str, prediction: dict) -> str:
    return prediction["caption"]


def answer(model, requests: list[dict], options: dict) -> list[dict]:
    """Each request is an image (base64), sent in batches of `options["batch_size"]`."""
    images, batch = [request["image"] for request in requests], options["batch_size"]
    return [r for start in range(0, len(images), batch) for r in predict(model, images[start : start + batch], {})]


def check_degenerate_inputs(model, options: dict) -> str | None:
    """An empty batch, a one-pixel grey PNG and a large colour JPEG must give one caption each, and the
    attention signature one map a word: the first that does not."""
    serve, attention = model.signatures["serving_default"], model.signatures["attention"]
    pixel = tf.io.encode_png(tf.zeros([1, 1, 1], tf.uint8))
    large = tf.io.encode_jpeg(tf.fill([300, 500, 3], tf.constant(200, tf.uint8)))
    for what, batch in {
        "an empty batch": tf.constant([], tf.string),
        "a one-pixel grey PNG": tf.stack([pixel]),
        "a 500x300 JPEG": tf.stack([large]),
    }.items():
        caption = serve(image=batch)["caption"]
        if caption.shape != (batch.shape[0],):
            return f"{what}: caption of shape {caption.shape}"
    out = attention(image=tf.stack([pixel, large]))
    if out["attention"].shape[:2] != out["words"].shape or out["attention"].shape[2] != out["attention"].shape[3]:
        return f"attention of shape {out['attention'].shape} for words of shape {out['words'].shape}"
    return None


def benchmark_calls(model) -> dict:
    """What `benchmarks/serving.py` measures: call name -> (signature, its input, other inputs, the units of a
    batch's outputs, their name). A captioner: `serving_default`, the captions' whitespace tokens."""
    count = lambda batch, out: sum(len(t.split()) for t in out["caption"].tolist())  # noqa: E731
    return {"serving_default": (model.signatures["serving_default"], "image", {}, count, "output_tokens")}
