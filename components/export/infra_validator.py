"""Infra-validation: runs a SavedModel the way a client does, in a process of its own.

Run as a script, it imports only TensorFlow and tensorflow-text, so it proves that the exported
model needs nothing else (no Keras, no project code). It reads requests as JSON lines and writes a
response for each:

* tagger: a request is a pre-tokenized sentence; the response has the tags of `tag_tokens`, and the
  tokens and tags of `serving_default` on the sentence joined by spaces;
* classifier: a request is a text; the response has the `label` and `probabilities` of `serving_default`.

    python components/export/infra_validator.py SAVED_MODEL REQUESTS.jsonl RESPONSES.jsonl MAX_LENGTH KIND

It also checks that degenerate inputs (an empty batch, an empty string, a text longer than
MAX_LENGTH tokens) give well-formed outputs, and exits non-zero with the reason otherwise.
"""

import json
import sys

import tensorflow as tf
import tensorflow_text  # noqa: F401  (registers the tokenizer ops the graph uses)

BATCH = 64


def main(
    saved_model: str, requests_path: str, responses_path: str, max_length: str, kind: str = "tagger", batch: str = "64"
) -> None:
    if kind == "translator":
        translator(saved_model, requests_path, responses_path, int(batch))
    elif kind == "classifier":
        classifier(saved_model, requests_path, responses_path, int(max_length))
    elif kind == "language_model":
        language_model(saved_model, requests_path, responses_path)
    else:
        tagger(saved_model, requests_path, responses_path, int(max_length))


def classifier(saved_model: str, requests_path: str, responses_path: str, max_length: int) -> None:
    serve_text = tf.saved_model.load(saved_model).signatures["serving_default"]
    with open(requests_path, encoding="utf-8") as lines:
        texts = [json.loads(line)["text"] for line in lines]
    with open(responses_path, "w", encoding="utf-8") as out:
        for start in range(0, len(texts), BATCH):
            served = serve_text(text=tf.constant(texts[start : start + BATCH]))
            for label, row in zip(served["label"].numpy(), served["probabilities"].numpy(), strict=True):
                response = {"label": label.decode("utf-8"), "probabilities": [float(p) for p in row]}
                out.write(json.dumps(response, ensure_ascii=False) + "\n")
    classes = serve_text(text=tf.constant(["a"]))["probabilities"].shape[1]
    for what, batch in {
        "an empty batch": tf.constant([], tf.string),
        "an empty string": tf.constant([""]),
        f"a text of {max_length + 100} tokens": tf.constant(["word " * (max_length + 100)]),
    }.items():
        outputs = serve_text(text=batch)
        rows = batch.shape[0]
        if outputs["label"].shape != (rows,) or outputs["probabilities"].shape != (rows, classes):
            sys.exit(f"{what}: label {outputs['label'].shape}, probabilities {outputs['probabilities'].shape}")
        if rows and abs(float(tf.reduce_sum(outputs["probabilities"])) - rows) > 1e-3:
            sys.exit(f"{what}: probabilities do not sum to 1")


def translator(saved_model: str, requests_path: str, responses_path: str, batch: int) -> None:
    serve_text = tf.saved_model.load(saved_model).signatures["serving_default"]
    with open(requests_path, encoding="utf-8") as lines:
        texts = [json.loads(line)["text"] for line in lines]
    with open(responses_path, "w", encoding="utf-8") as out:
        for start in range(0, len(texts), batch):
            for translation in serve_text(text=tf.constant(texts[start : start + batch]))["translation"].numpy():
                out.write(json.dumps({"translation": translation.decode("utf-8")}, ensure_ascii=False) + "\n")
    for what, batch_texts in {
        "an empty batch": tf.constant([], tf.string),
        "an empty string": tf.constant([""]),
        "a long text": tf.constant(["word " * 300]),
    }.items():
        translation = serve_text(text=batch_texts)["translation"]
        if translation.shape != (batch_texts.shape[0],):
            sys.exit(f"{what}: translation of shape {translation.shape}")


def language_model(saved_model: str, requests_path: str, responses_path: str) -> None:
    model = tf.saved_model.load(saved_model)
    score, generate = model.signatures["score"], model.signatures["generate"]
    with open(requests_path, encoding="utf-8") as lines:
        requests = [json.loads(line) for line in lines]
    with open(responses_path, "w", encoding="utf-8") as out:
        for request in requests:
            scored = score(text=tf.constant([request["text"]]))
            greedy = generate(
                prompt=tf.constant([request["prompt"]]),
                max_length=tf.constant(request["generate"]),
                temperature=tf.constant(0.0),
            )
            response = {
                "log_prob": float(scored["log_prob"][0]),
                "length": int(scored["length"][0]),
                "greedy": greedy["text"][0].numpy().decode("utf-8"),
            }
            out.write(json.dumps(response, ensure_ascii=False) + "\n")
    checks = {
        "an empty batch": score(text=tf.constant([], tf.string))["log_prob"].shape == (0,),
        "an empty text": float(score(text=tf.constant([""]))["log_prob"][0]) == 0.0,
        "a generation of length 0": generate(
            prompt=tf.constant(["a"]), max_length=tf.constant(0), temperature=tf.constant(1.0)
        )["text"]
        .numpy()
        .tolist()
        == [b""],
        "sampling": generate(prompt=tf.constant(["", "a"]), max_length=tf.constant(5), temperature=tf.constant(1.0))[
            "text"
        ].shape
        == (2,),
    }
    for what, passed in checks.items():
        if not passed:
            sys.exit(f"{what}: malformed output")


def tagger(saved_model: str, requests_path: str, responses_path: str, max_length: int) -> None:
    model = tf.saved_model.load(saved_model)
    tag_tokens = model.signatures["tag_tokens"]
    serve_text = model.signatures["serving_default"]
    with open(requests_path, encoding="utf-8") as lines:
        requests = [json.loads(line)["tokens"] for line in lines]
    with open(responses_path, "w", encoding="utf-8") as out:
        for start in range(0, len(requests), BATCH):
            batch = requests[start : start + BATCH]
            width = max(map(len, batch))
            padded = tf.constant([tokens + [""] * (width - len(tokens)) for tokens in batch])
            tags = tag_tokens(tokens=padded)["tags"].numpy()
            served = serve_text(text=tf.constant([" ".join(tokens) for tokens in batch]))
            for i, tokens in enumerate(batch):
                response = {
                    "tags": [t.decode("utf-8") for t in tags[i, : len(tokens)]],
                    "text_tokens": [t.decode("utf-8") for t in served["tokens"][i].numpy() if t],
                    "text_tags": [t.decode("utf-8") for t in served["tags"][i].numpy() if t],
                }
                out.write(json.dumps(response, ensure_ascii=False) + "\n")
    check_degenerate_inputs(serve_text, max_length)


def check_degenerate_inputs(serve_text, max_length: int) -> None:
    """Inputs a client will send sooner or later must give well-formed outputs, not errors."""
    shapes = {
        "an empty batch": (serve_text(text=tf.constant([], tf.string)), 0),
        "an empty string": (serve_text(text=tf.constant([""])), 1),
        f"a text of {max_length + 100} tokens": (serve_text(text=tf.constant(["word " * (max_length + 100)])), 1),
    }
    for what, (outputs, rows) in shapes.items():
        tokens, tags = outputs["tokens"], outputs["tags"]
        if tokens.shape != tags.shape or tokens.shape[0] != rows or tokens.shape[1] > max_length:
            sys.exit(f"{what}: tokens {tokens.shape} and tags {tags.shape} (expected {rows} rows of <= {max_length})")
        if any(bool(token) != bool(tag) for token, tag in zip(tokens.numpy().flat, tags.numpy().flat, strict=True)):
            sys.exit(f"{what}: a token without a tag, or a tag on padding")


if __name__ == "__main__":
    main(*sys.argv[1:])
