"""Serving latency and throughput of the exported SavedModels, each measured in a fresh client process.

For every SavedModel, this script starts a new Python process (`sys.executable -I benchmarks/serving.py
--child`) that imports only TensorFlow and tensorflow-text, as a client does, and loads the model with
`tf.saved_model.load`. The child tells the model's kind from its signatures and their outputs (the
"Serving contract" of the README) and measures what a client of that kind calls, on raw sentences:

* latency: one sentence a call, `--repeats` calls (cycling through the sentences), p50, p99 and mean;
* throughput: batches of 64 sentences, called back to back for `--seconds`, in sentences per second and
  in the kind's own units per second (below).

Per kind:

* tagger: `serving_default`; tokens are the non-empty `tokens` the model returns (after its own
  tokenization and truncation);
* classifier: `serving_default`; tokens are counted from the input, by splitting each sentence on
  whitespace (`input_tokens_per_second`): the model does not return its tokens;
* translator: `serving_default` (the decoding, beam search by default, runs in the graph); tokens are
  those of the translations, split on whitespace (`output_tokens_per_second`);
* language_model: `score` on the sentences, its units being the `length` it returns; and `generate` with
  the sentences as prompts, `max_length` 100 at temperature 0 (greedy), for latency (one prompt a call)
  and throughput (batches of 64 prompts, in prompts and in units generated per second: `generate` writes
  exactly `max_length` units a prompt). Each of the two throughput loops runs for `--seconds`.

Both come after `--warmup` untimed calls (the first calls of a loaded function set up its graph).
Each timed call includes reading its outputs back as NumPy arrays, as a client would. The unit counts
come from an untimed first pass over the batches (the outputs of every kind are deterministic, greedy
generation included). The child checks, before reporting, that no module of the project (`pipeline`,
`components`, `models`) was loaded, so the numbers are those of the SavedModel alone.

    .venv/bin/python benchmarks/serving.py                     # the newest version under runs/*/serving/
    .venv/bin/python benchmarks/serving.py --saved-model runs/brown-pos/serving/1 --seconds 5 --threads 1

One JSON line per model on stdout, with a `kind` field and the kind's own fields:
{"saved_model": ..., "kind": "tagger", "latency_ms": {"p50": .., "p99": .., "mean": ..}, "batch": 64,
 "throughput": {"sentences_per_second": .., "tokens_per_second": ..}, "threads": ..}
{"saved_model": ..., "kind": "classifier", "latency_ms": {..}, "batch": 64,
 "throughput": {"sentences_per_second": .., "input_tokens_per_second": ..}, "threads": ..}
{"saved_model": ..., "kind": "translator", "latency_ms": {..}, "batch": 64,
 "throughput": {"sentences_per_second": .., "output_tokens_per_second": ..}, "threads": ..}
{"saved_model": ..., "kind": "language_model", "batch": 64,
 "score": {"latency_ms": {..}, "throughput": {"sentences_per_second": .., "units_per_second": ..}},
 "generate": {"max_length": 100, "temperature": 0.0, "latency_ms": {..},
              "throughput": {"prompts_per_second": .., "units_per_second": ..}}, "threads": ..}
where `threads` is the child's intra-op thread count: `--threads`, or by default the number of CPUs the
process may run on (what TensorFlow sizes its intra-op pool to).

Sentences come from `--sentences FILE` (one raw sentence a line, for every model) or, by default, by kind:
taggers and classifiers, the first 512 lines of the Brown corpus in `data/` (each `word/TAG` token without
its tag, joined by spaces); translators, the source side of the first 512 lines of the Bible in `data/`;
language models, the first 512 non-empty lines of the Austen test text in `data/`.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # only for annotations: nothing is imported at run time until the child needs it
    import tensorflow as tf

ROOT = pathlib.Path(__file__).resolve().parent.parent
BROWN = ROOT / "data" / "brown" / "brown_universal.txt"
BIBLE = ROOT / "data" / "bible" / "kjv_rv1909.tsv"
AUSTEN = ROOT / "data" / "austen" / "test" / "persuasion.txt"
DEFAULT_LINES = 512
BROWN_LINES = DEFAULT_LINES
BATCH = 64
GENERATE_LENGTH = 100  # language models: units `generate` writes a prompt
GENERATE_TEMPERATURE = 0.0  # greedy
PROJECT_PACKAGES = ("pipeline", "components", "models")
KINDS = ("tagger", "classifier", "translator", "language_model")


# --- parent: arguments, models, sentences, one child per model ---------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--saved-model",
        action="append",
        type=pathlib.Path,
        metavar="DIR",
        help="a SavedModel folder (repeatable); default: the newest version under every runs/*/serving/",
    )
    p.add_argument(
        "--sentences",
        type=pathlib.Path,
        metavar="FILE",
        help=f"one raw sentence a line, for every model; default, by kind, {DEFAULT_LINES} sentences from: "
        f"{BROWN.relative_to(ROOT)} (tagger, classifier), the source side of {BIBLE.relative_to(ROOT)} "
        f"(translator), the non-empty lines of {AUSTEN.relative_to(ROOT)} (language model)",
    )
    p.add_argument("--warmup", type=int, default=20, help="untimed calls before each measurement (default 20)")
    p.add_argument("--repeats", type=int, default=200, help="latency samples, one sentence each (default 200)")
    p.add_argument("--seconds", type=float, default=10.0, help="duration of each throughput loop (default 10)")
    p.add_argument("--threads", type=int, default=0, help="intra-op threads in the child; 0: TensorFlow's default")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)  # internal: the measuring process
    args = p.parse_args(argv)
    if args.warmup < 0 or args.threads < 0:
        p.error("--warmup and --threads must be >= 0")
    if args.repeats < 2:
        p.error("--repeats must be >= 2 (percentiles need two samples)")
    if args.seconds <= 0:
        p.error("--seconds must be > 0")
    return args


def default_saved_models(root: pathlib.Path = ROOT) -> list[pathlib.Path]:
    """The newest version (highest number) under every `runs/<task>/serving/`, as `make run` pushes them."""
    newest = []
    for serving in sorted((root / "runs").glob("*/serving")):
        versions = [d for d in serving.iterdir() if d.name.isdigit() and (d / "saved_model.pb").is_file()]
        if versions:
            newest.append(max(versions, key=lambda d: int(d.name)))
    return newest


def brown_sentences(path: pathlib.Path, lines: int = BROWN_LINES) -> list[str]:
    """Raw sentences from the first `lines` lines of a Brown-format file: each `word/TAG` token's word."""
    sentences = []
    with path.open(encoding="utf-8") as corpus:
        for number, line in enumerate(corpus):
            if number >= lines:
                break
            words = [token.rpartition("/")[0] or token for token in line.split()]
            if words:
                sentences.append(" ".join(words))
    return sentences


def source_sentences(path: pathlib.Path, lines: int = DEFAULT_LINES) -> list[str]:
    """The source side (first tab-separated field) of the first `lines` lines of a parallel `.tsv` file."""
    sentences = []
    with path.open(encoding="utf-8") as corpus:
        for number, line in enumerate(corpus):
            if number >= lines:
                break
            source = line.rstrip("\n").partition("\t")[0].strip()
            if source:
                sentences.append(source)
    return sentences


def text_lines(path: pathlib.Path, lines: int = DEFAULT_LINES) -> list[str]:
    """The first `lines` non-empty lines of a plain text, stripped."""
    sentences = []
    with path.open(encoding="utf-8") as text:
        for line in text:
            if len(sentences) >= lines:
                break
            if line.strip():
                sentences.append(line.strip())
    return sentences


def default_sentences(kind: str) -> tuple[list[str], pathlib.Path]:
    """The sentences a model of `kind` is measured on without `--sentences`, and the file they come from."""
    if kind == "translator":
        return source_sentences(BIBLE), BIBLE
    if kind == "language_model":
        return text_lines(AUSTEN), AUSTEN
    return brown_sentences(BROWN), BROWN


def read_sentences(path: pathlib.Path) -> list[str]:
    """One raw sentence a line (split on newlines only); blank lines are skipped."""
    text = path.read_text(encoding="utf-8")
    return [line.strip() for line in text.split("\n") if line.strip()]


def measure_in_child(
    saved_model: pathlib.Path, sentences: list[str] | None, args: argparse.Namespace
) -> dict[str, Any]:
    """Runs the measurement in a fresh, isolated interpreter and returns its report.

    `-I` keeps PYTHONPATH, the user site and the script's folder off `sys.path`, so the child could not
    import the project even by accident; the job travels as JSON on stdin, the report comes back as the
    last line of stdout. Without `sentences`, the child reads the default ones of the model's kind.
    """
    job = {
        "saved_model": str(saved_model.resolve()),
        "sentences": sentences,
        "warmup": args.warmup,
        "repeats": args.repeats,
        "seconds": args.seconds,
        "threads": args.threads,
    }
    result = subprocess.run(
        [sys.executable, "-I", str(pathlib.Path(__file__).resolve()), "--child"],
        input=json.dumps(job),
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode:
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        sys.exit(f"error: measuring {saved_model} failed: {last}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    if args.child:
        print(json.dumps(child(json.load(sys.stdin))))
        return
    saved_models = args.saved_model or default_saved_models()
    if not saved_models:
        sys.exit(f"error: no SavedModel found under {ROOT / 'runs'}/*/serving/; run `make run` first")
    for saved_model in saved_models:
        if not (saved_model / "saved_model.pb").is_file():
            sys.exit(f"error: {saved_model} is not a SavedModel (no saved_model.pb)")
    sentences = None  # by default, the child picks them by the model's kind
    if args.sentences:
        try:
            sentences = read_sentences(args.sentences)
        except (OSError, UnicodeDecodeError) as err:
            sys.exit(f"error: cannot read sentences: {err}")
        if not sentences:
            sys.exit(f"error: no sentences in {args.sentences}")
    for saved_model in saved_models:
        print(f"measuring {saved_model} ...", file=sys.stderr, flush=True)
        report = measure_in_child(saved_model, sentences, args)
        source = report.pop("sentences")
        print(f"  {report['kind']}, on {source['count']} sentences from {source['file']}", file=sys.stderr, flush=True)
        print(json.dumps({"saved_model": str(saved_model), **report}), flush=True)


# --- child: imports only tensorflow and tensorflow_text ----------------------------------------------


def child(job: dict[str, Any]) -> dict[str, Any]:
    """Loads the SavedModel and measures it as a client of its kind; refuses to report if a project module
    got loaded. The report's `sentences` (count and file) is for the parent's log, not its JSON line."""
    import tensorflow as tf
    import tensorflow_text  # noqa: F401  (registers the tokenizer ops the graph uses)

    if job["threads"]:
        tf.config.threading.set_intra_op_parallelism_threads(job["threads"])
    model = tf.saved_model.load(job["saved_model"])
    kind = model_kind(model)
    sentences: list[str] | None = job["sentences"]
    source = "--sentences"
    if sentences is None:
        try:
            sentences, path = default_sentences(kind)
        except (OSError, UnicodeDecodeError) as err:
            raise SystemExit(f"cannot read the default sentences of a {kind}: {err}") from None
        if not sentences:
            raise SystemExit(f"no sentences in {path}")
        source = str(path.relative_to(ROOT))

    measure = {
        "tagger": measure_tagger,
        "classifier": measure_classifier,
        "translator": measure_translator,
        "language_model": measure_language_model,
    }[kind]
    report = measure(model, sentences, job["warmup"], job["repeats"], job["seconds"])

    loaded = sorted(name for name in sys.modules if name.partition(".")[0] in PROJECT_PACKAGES)
    if loaded:
        raise SystemExit(f"the client process loaded project modules: {', '.join(loaded)}")
    return {
        "kind": kind,
        **report,
        "threads": job["threads"] or available_cpus(),
        "sentences": {"count": len(sentences), "file": source},
    }


def model_kind(model: Any) -> str:
    """The kind of model (one of `KINDS`), from the signatures it serves, their inputs and their outputs."""

    def serves(name: str, inputs: set[str], outputs: set[str]) -> bool:
        if name not in model.signatures:
            return False
        signature = model.signatures[name]
        return inputs <= set(signature.structured_input_signature[1]) and outputs <= set(signature.structured_outputs)

    if serves("serving_default", {"text"}, {"tokens", "tags"}) and serves("tag_tokens", {"tokens"}, {"tags"}):
        return "tagger"
    if serves("serving_default", {"text"}, {"label", "probabilities"}):
        return "classifier"
    if serves("serving_default", {"text"}, {"translation"}):
        return "translator"
    if serves("generate", {"prompt", "max_length", "temperature"}, {"text"}) and serves(
        "score", {"text"}, {"log_prob", "length"}
    ):
        return "language_model"
    described = ", ".join(
        f"{name} -> {', '.join(sorted(signature.structured_outputs))}" for name, signature in model.signatures.items()
    )
    raise SystemExit(f"not a SavedModel of a known kind ({', '.join(KINDS)}); signatures: {described or 'none'}")


# Each `measure_<kind>` returns the kind's fields of the report, in their order in the JSON line.


def measure_serving_default(
    count: Callable[[dict, dict], int], tokens_key: str
) -> Callable[[Any, list[str], int, int, float], dict[str, Any]]:
    """A `measure_<kind>` of `serving_default`: tokens are `count(batch, outputs)`, reported as `tokens_key`."""

    def measure(model: Any, sentences: list[str], warmup: int, repeats: int, seconds: float) -> dict[str, Any]:
        serve = model.signatures["serving_default"]
        latencies = latency_ms(serve, text_requests("text", sentences, repeats), warmup, repeats)
        per_second, tokens_per_second = throughput(serve, text_batches("text", sentences), count, warmup, seconds)
        return {
            "latency_ms": summary(latencies),
            "batch": BATCH,
            "throughput": {"sentences_per_second": round(per_second, 1), tokens_key: round(tokens_per_second, 1)},
        }

    return measure


# Tagger: the non-empty `tokens` it returns; classifier: the input's, split on whitespace; translator:
# the translation's, split on whitespace.
measure_tagger = measure_serving_default(lambda batch, out: int((out["tokens"] != b"").sum()), "tokens_per_second")
measure_classifier = measure_serving_default(
    lambda batch, out: whitespace_tokens(batch["text"]), "input_tokens_per_second"
)
measure_translator = measure_serving_default(
    lambda batch, out: whitespace_tokens(out["translation"]), "output_tokens_per_second"
)


def measure_language_model(
    model: Any, sentences: list[str], warmup: int, repeats: int, seconds: float
) -> dict[str, Any]:
    """`score` on the sentences (units: the `length` it returns), and greedy `generate` of `GENERATE_LENGTH`
    units after each sentence as a prompt (units: `GENERATE_LENGTH` a prompt, all of them written)."""
    import tensorflow as tf

    score, generate = model.signatures["score"], model.signatures["generate"]
    score_latencies = latency_ms(score, text_requests("text", sentences, repeats), warmup, repeats)
    scored_per_second, scored_units_per_second = throughput(
        score, text_batches("text", sentences), lambda batch, out: int(out["length"].sum()), warmup, seconds
    )

    settings = {
        "max_length": tf.constant(GENERATE_LENGTH, tf.int32),
        "temperature": tf.constant(GENERATE_TEMPERATURE, tf.float32),
    }
    prompts = [{**request, **settings} for request in text_requests("prompt", sentences, repeats)]
    generate_latencies = latency_ms(generate, prompts, warmup, repeats)
    batches = [{**batch, **settings} for batch in text_batches("prompt", sentences)]
    generated_per_second, generated_units_per_second = throughput(
        generate, batches, lambda batch, out: len(out["text"]) * GENERATE_LENGTH, warmup, seconds
    )
    return {
        "batch": BATCH,
        "score": {
            "latency_ms": summary(score_latencies),
            "throughput": {
                "sentences_per_second": round(scored_per_second, 1),
                "units_per_second": round(scored_units_per_second, 1),
            },
        },
        "generate": {
            "max_length": GENERATE_LENGTH,
            "temperature": GENERATE_TEMPERATURE,
            "latency_ms": summary(generate_latencies),
            "throughput": {
                "prompts_per_second": round(generated_per_second, 1),
                "units_per_second": round(generated_units_per_second, 1),
            },
        },
    }


def text_requests(name: str, sentences: list[str], repeats: int) -> list[dict[str, tf.Tensor]]:
    """One-sentence requests (input `name`), as many distinct ones as the latency loop cycles through."""
    import tensorflow as tf

    return [{name: tf.constant([sentences[i % len(sentences)]])} for i in range(min(repeats, len(sentences)))]


def text_batches(name: str, sentences: list[str]) -> list[dict[str, tf.Tensor]]:
    """Requests of `BATCH` sentences (input `name`) covering the sentences in order, the last one wrapping
    around to the first sentences."""
    import tensorflow as tf

    return [
        {name: tf.constant([sentences[(start + j) % len(sentences)] for j in range(BATCH)])}
        for start in range(0, len(sentences), BATCH)
    ]


def whitespace_tokens(texts: Any) -> int:
    """Whitespace-separated tokens in a string tensor or array (of bytes)."""
    values = texts.numpy() if hasattr(texts, "numpy") else texts
    return sum(len(text.split()) for text in values.tolist())


def call(function: Any, request: dict[str, tf.Tensor]) -> dict[str, Any]:
    """One request as a client makes it: the signature's outputs, read back as NumPy arrays."""
    return {name: tensor.numpy() for name, tensor in function(**request).items()}


def latency_ms(function: Any, requests: list[dict[str, tf.Tensor]], warmup: int, repeats: int) -> list[float]:
    """Milliseconds of `repeats` calls, cycling through the requests, after `warmup` calls."""
    for i in range(max(warmup, 1)):
        call(function, requests[i % len(requests)])
    samples = []
    for i in range(repeats):
        request = requests[i % len(requests)]
        start = time.perf_counter()
        call(function, request)
        samples.append((time.perf_counter() - start) * 1000.0)
    return samples


def summary(latencies: list[float]) -> dict[str, float]:
    """p50, p99 and mean of latency samples, in milliseconds."""
    cut = statistics.quantiles(latencies, n=100, method="inclusive")  # cut[k - 1] is the k-th percentile
    return {"p50": round(cut[49], 3), "p99": round(cut[98], 3), "mean": round(statistics.fmean(latencies), 3)}


def throughput(
    function: Any,
    batches: list[dict[str, tf.Tensor]],
    units: Callable[[dict[str, tf.Tensor], dict[str, Any]], int],
    warmup: int,
    seconds: float,
) -> tuple[float, float]:
    """Rows and units per second of back-to-back batches of `BATCH` rows for about `seconds`.

    An untimed first pass over the batches counts each one's units, `units(batch, outputs)`, and warms
    the function up (the outputs being deterministic, the counts hold for every later call).
    """
    counts = [units(batch, call(function, batch)) for batch in batches]
    for i in range(warmup):
        call(function, batches[i % len(batches)])
    done_batches = done_units = 0
    start = time.perf_counter()
    elapsed = 0.0
    while elapsed < seconds:
        call(function, batches[done_batches % len(batches)])
        done_units += counts[done_batches % len(batches)]
        done_batches += 1
        elapsed = time.perf_counter() - start
    return done_batches * BATCH / elapsed, done_units / elapsed


def available_cpus() -> int:
    """CPUs this process may run on: TensorFlow's default intra-op thread count."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


if __name__ == "__main__":
    main()
