"""The language model's client: what a caller of the exported SavedModel does with it. Imports only TensorFlow
and tensorflow-text (no Keras, no project code), so what runs here proves the SavedModel needs nothing else.

Used by infra-validation in a fresh process (`answer`, `check_degenerate_inputs`), by the MLflow pyfunc
model and by `pipeline predict` (`predict`, `line`).
"""

import tensorflow as tf
import tensorflow_text  # noqa: F401  (registers the tokenizer ops the graph uses)

# The request parameters of `predict` (and of the pyfunc model), with their defaults.
PARAMS = {"max_length": 200, "temperature": 0.8}


def predict(model, texts: list[str], params: dict) -> list[dict]:
    """`generate` on prompts: each one's continuation (`params`: `max_length` units, `temperature`, 0 greedy),
    and whether it comes before the prompt (`backward`: a model of reversed text writes what precedes it)."""
    params = {**PARAMS, **(params or {})}
    out = model.signatures["generate"](
        prompt=tf.constant(texts, tf.string),
        max_length=tf.constant(int(params["max_length"]), tf.int32),
        temperature=tf.constant(float(params["temperature"]), tf.float32),
    )
    backward = bool(model.reads_backward.numpy()) if hasattr(model, "reads_backward") else False
    return [
        {"prompt": prompt, "text": generated.decode("utf-8"), "backward": backward}
        for prompt, generated in zip(texts, out["text"].numpy(), strict=True)
    ]


def line(text: str, prediction: dict) -> str:
    """The prompt and its continuation, in reading order: what a backward model wrote comes first."""
    if prediction.get("backward"):
        return prediction["text"] + prediction["prompt"]
    return prediction["prompt"] + prediction["text"]


def answer(model, requests: list[dict], options: dict) -> list[dict]:
    """Each request has a `text` to score and a `prompt` to continue greedily by `generate` units."""
    score, generate = model.signatures["score"], model.signatures["generate"]
    responses = []
    for request in requests:
        scored = score(text=tf.constant([request["text"]]))
        greedy = generate(
            prompt=tf.constant([request["prompt"]]),
            max_length=tf.constant(request["generate"]),
            temperature=tf.constant(0.0),
        )
        responses.append(
            {
                "log_prob": float(scored["log_prob"][0]),
                "length": int(scored["length"][0]),
                "greedy": greedy["text"][0].numpy().decode("utf-8"),
            }
        )
    return responses


def check_degenerate_inputs(model, options: dict) -> str | None:
    """An empty batch, an empty text, a generation of length 0 and sampling must be well formed.

    Returns the first that is not, or None."""
    score, generate = model.signatures["score"], model.signatures["generate"]
    checks = {
        "an empty batch": lambda: score(text=tf.constant([], tf.string))["log_prob"].shape == (0,),
        "an empty text": lambda: float(score(text=tf.constant([""]))["log_prob"][0]) == 0.0,
        "a generation of length 0": lambda: (
            generate(prompt=tf.constant(["a"]), max_length=tf.constant(0), temperature=tf.constant(1.0))["text"]
            .numpy()
            .tolist()
            == [b""]
        ),
        "sampling": lambda: (
            generate(prompt=tf.constant(["", "a"]), max_length=tf.constant(5), temperature=tf.constant(1.0))[
                "text"
            ].shape
            == (2,)
        ),
    }
    for what, passed in checks.items():
        if not passed():
            return f"{what}: malformed output"
    return None


# Units `generate` writes a prompt in the serving benchmark, greedily.
BENCHMARK_GENERATE = 100


def benchmark_calls(model) -> dict:
    """What `benchmarks/serving.py` measures: call name -> (signature, its text input, other inputs, the units
    of a batch's outputs, their name). A language model: `score` (units: the `length` it returns), and greedy
    `generate` of `BENCHMARK_GENERATE` units after each text as a prompt (all of them written)."""
    settings = {"max_length": tf.constant(BENCHMARK_GENERATE), "temperature": tf.constant(0.0)}
    return {
        "score": (model.signatures["score"], "text", {}, lambda batch, out: int(out["length"].sum()), "units"),
        "generate": (
            model.signatures["generate"],
            "prompt",
            settings,
            lambda batch, out: len(out["text"]) * BENCHMARK_GENERATE,
            "units",
        ),
    }
