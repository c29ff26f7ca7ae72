"""The question answerer's client: what a caller of the exported SavedModel does with it. Imports only TensorFlow
and tensorflow-text (no Keras, no project code), so what runs here proves the SavedModel needs nothing else.

A request is one string, ``IMAGE<TAB>QUESTION``: the image file's bytes in base64 (which holds no tab), a tab,
and the question as raw text; the MLflow pyfunc model takes a list of them (its inputs are one column of strings).
`pipeline predict --task T IMAGE "QUESTION" [IMAGE "QUESTION" ...]` takes image files and questions in pairs.
Used by infra-validation in a fresh process (`answer`, `check_degenerate_inputs`), by the pyfunc model and by
`pipeline predict` (`from_arguments`, `predict`, `line`).
"""

import base64
import binascii
import pathlib

import tensorflow as tf
import tensorflow_text  # noqa: F401  (registers the tokenizer ops the graph uses)

BATCH = 64
PARAMS = {}


def from_arguments(arguments: list[str]) -> list[tuple[str, str]]:
    """`pipeline predict`'s arguments, image files and questions in pairs: each pair as the answer is labelled
    (`IMAGE: QUESTION`) and as the request `predict` takes (OSError: an unreadable file). A last image without a
    question is a request `predict` answers with an error."""
    pairs = []
    for index in range(0, len(arguments), 2):
        path, question = arguments[index], (arguments[index + 1] if index + 1 < len(arguments) else "")
        encoded = base64.b64encode(pathlib.Path(path).read_bytes()).decode("ascii")
        pairs.append((f"{path}: {question}" if question else path, f"{encoded}\t{question}"))
    return pairs


def predict(model, requests: list[str], params: dict, answers: list[str] | None = None) -> list[dict]:
    """`serving_default` on requests `BASE64_IMAGE<TAB>QUESTION`: each one's answer and its probabilities (by
    answer when `answers` gives the names, in the order of the `answers` vocabulary). A request whose image does
    not decode or whose question is empty gets `{"error": why}`, and the others are still answered."""
    checked = [_request(request) for request in requests]
    good = [(data, question) for data, question, problem in checked if problem is None]
    results = iter(_serve(model, [d for d, _ in good], [q for _, q in good], answers))
    return [{"error": problem} if problem else next(results) for _, _, problem in checked]


def _serve(model, images: list[bytes], questions: list[str], answers: list[str] | None) -> list[dict]:
    results = []
    for start in range(0, len(images), BATCH):
        out = model.signatures["serving_default"](
            image=tf.constant(images[start : start + BATCH], tf.string),
            question=tf.constant(questions[start : start + BATCH], tf.string),
        )
        rows = zip(out["answer"].numpy(), out["probabilities"].numpy(), out["input_tokens"].numpy(), strict=True)
        for answer, row, tokens in rows:
            probabilities = dict(zip(answers, map(float, row), strict=True)) if answers else [float(p) for p in row]
            results.append(
                {"answer": answer.decode("utf-8"), "probabilities": probabilities, "input_tokens": int(tokens)}
            )
    return results


def _request(request: str) -> tuple[bytes, str, str | None]:
    """A request's image bytes and question, and what is wrong with it (None: the graph can answer it)."""
    image, tab, question = request.partition("\t")
    if not tab:
        return b"", "", "not IMAGE<TAB>QUESTION: a request is an image file's bytes in base64, a tab, and the question"
    if not question.strip():
        return b"", "", "no question: give one after the image"
    try:
        data = base64.b64decode(image, validate=True)
    except (binascii.Error, ValueError):
        return b"", "", "the image is not base64: an image is sent as its file's bytes, base64-encoded"
    if not data:
        return b"", "", "empty image: no bytes"
    try:
        tf.io.decode_image(data, channels=3, expand_animations=False)  # as the graph decodes it
    except tf.errors.OpError:
        return b"", "", f"not an image (JPEG, PNG, GIF or BMP): its bytes start {data[:12]!r}"
    return data, question, None


def line(argument: str, prediction: dict) -> str:
    """A prediction as a person reads it: `answer<TAB>probability<TAB>IMAGE: QUESTION`."""
    probabilities = prediction["probabilities"]
    values = probabilities.values() if isinstance(probabilities, dict) else probabilities
    return f"{prediction['answer']}\t{max(values):.3f}\t{argument}"


def answer(model, requests: list[dict], options: dict) -> list[dict]:
    """Each request is {"image": base64, "question"}: the `answer` and `probabilities` of `serving_default`."""
    data = [base64.b64decode(request["image"]) for request in requests]
    found = _serve(model, data, [request["question"] for request in requests], None)
    return [{"answer": a["answer"], "probabilities": a["probabilities"]} for a in found]


def check_degenerate_inputs(model, options: dict) -> str | None:
    """An empty batch, a one-pixel grey PNG with an empty question and a large JPEG with an over-long question must
    give one answer each, probabilities that sum to 1, and one attention map a hop: the first that does not."""
    serve, attention = model.signatures["serving_default"], model.signatures["attention"]
    pixel = tf.io.encode_png(tf.zeros([1, 1, 1], tf.uint8))
    large = tf.io.encode_jpeg(tf.fill([300, 500, 3], tf.constant(200, tf.uint8)))
    long_question = "is there " * (options["max_length"] + 50)
    for what, (batch, questions) in {
        "an empty batch": (tf.constant([], tf.string), tf.constant([], tf.string)),
        "a one-pixel grey PNG and an empty question": (tf.stack([pixel]), tf.constant([""])),
        "a 500x300 JPEG and an over-long question": (tf.stack([large]), tf.constant([long_question])),
    }.items():
        out = serve(image=batch, question=questions)
        rows = batch.shape[0]
        if out["answer"].shape != (rows,) or out["probabilities"].shape[0] != rows:
            return f"{what}: answer {out['answer'].shape}, probabilities {out['probabilities'].shape}"
        if rows and abs(float(tf.reduce_sum(out["probabilities"])) - rows) > 1e-3:
            return f"{what}: probabilities do not sum to 1"
    maps = attention(image=tf.stack([pixel, large]), question=tf.constant(["is there a seven?", "what?"]))["attention"]
    if maps.shape.rank != 4 or maps.shape[0] != 2 or maps.shape[2] != maps.shape[3]:
        return f"attention of shape {maps.shape} for 2 questions"
    if abs(float(tf.reduce_sum(maps)) - 2 * maps.shape[1]) > 1e-3:
        return "attention maps that do not sum to 1"
    return None
