"""Infra-validation: runs a SavedModel the way a client does, in a process of its own.

Run as a script, it imports only TensorFlow and tensorflow-text (and the kind's client module, which
imports nothing else), so it proves that the exported model needs no Keras and no project code. It
reads requests as JSON lines and writes the client's response to each, then checks that degenerate
inputs (an empty batch, an empty string, an over-long text) give well-formed outputs, and exits non-zero
with the reason otherwise.

    python components/export/infra_validator.py SAVED_MODEL CLIENT.py REQUESTS.jsonl RESPONSES.jsonl OPTIONS_JSON
"""

import json
import pathlib
import sys

import tensorflow as tf
import tensorflow_text  # noqa: F401  (registers the tokenizer ops the graph uses)

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from client_loader import load_client  # noqa: E402  (beside this file; the project is not on the path)


def main(saved_model: str, client_path: str, requests_path: str, responses_path: str, options: str) -> None:
    client = load_client(client_path)
    settings = json.loads(options)
    model = tf.saved_model.load(saved_model)
    with open(requests_path, encoding="utf-8") as lines:
        requests = [json.loads(line) for line in lines]
    with open(responses_path, "w", encoding="utf-8") as out:
        for response in client.answer(model, requests, settings):
            out.write(json.dumps(response, ensure_ascii=False) + "\n")
    problem = client.check_degenerate_inputs(model, settings)
    if problem:
        sys.exit(problem)


if __name__ == "__main__":
    main(*sys.argv[1:])
