"""Infra-validation: runs a SavedModel the way a client does, in a process of its own.

Run as a script, it imports only TensorFlow and tensorflow-text, so it proves that the exported
model needs nothing else (no Keras, no project code). It reads requests (pre-tokenized sentences)
as JSON lines and writes, for each, the tags of `tag_tokens` and the tokens and tags of
`serving_default` on the sentence joined by spaces.

    python components/export/infra_validator.py SAVED_MODEL REQUESTS.jsonl RESPONSES.jsonl
"""

import json
import sys

import tensorflow as tf
import tensorflow_text  # noqa: F401  (registers the tokenizer ops the graph uses)

BATCH = 64


def main(saved_model: str, requests_path: str, responses_path: str) -> None:
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
    # Degenerate inputs must give well-formed outputs, not errors.
    for text in ([""], ["x " * 10_000]):
        serve_text(text=tf.constant(text))
    serve_text(text=tf.constant([], tf.string))


if __name__ == "__main__":
    main(*sys.argv[1:])
