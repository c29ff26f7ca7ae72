"""Serving latency and throughput of the exported SavedModels, each measured in a fresh client process.

For every SavedModel, this script starts a new Python process (`sys.executable -I benchmarks/serving.py
--child`) that imports only TensorFlow and tensorflow-text, as a client does, loads the model with
`tf.saved_model.load` and calls its `serving_default` signature on raw sentences:

* latency: one sentence a call, `--repeats` calls (cycling through the sentences), p50, p99 and mean;
* throughput: batches of 64 sentences, called back to back for `--seconds`, in sentences and in
  tokens (the non-empty `tokens` the model returns, i.e. after its own tokenization and truncation)
  per second.

Both come after `--warmup` untimed calls (the first calls of a loaded function set up its graph).
Each timed call includes reading its outputs back as NumPy arrays, as a client would. The child
checks, before reporting, that no module of the project (`pipeline`, `components`, `models`) was
loaded, so the numbers are those of the SavedModel alone.

    .venv/bin/python benchmarks/serving.py                     # the newest version under runs/*/serving/
    .venv/bin/python benchmarks/serving.py --saved-model runs/brown-pos/serving/1 --seconds 5 --threads 1

One JSON line per model on stdout:
{"saved_model": ..., "kind": "tagger", "latency_ms": {"p50": .., "p99": .., "mean": ..}, "batch": 64,
 "throughput": {"sentences_per_second": .., "tokens_per_second": ..}, "threads": ..}
where `threads` is the child's intra-op thread count: `--threads`, or by default the number of CPUs the
process may run on (what TensorFlow sizes its intra-op pool to).

Sentences come from `--sentences FILE` (one raw sentence a line) or, by default, are rebuilt from the
first 512 lines of the Brown corpus in `data/` (each `word/TAG` token without its tag, joined by spaces).
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
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # only for annotations: nothing is imported at run time until the child needs it
    import tensorflow as tf

ROOT = pathlib.Path(__file__).resolve().parent.parent
BROWN = ROOT / "data" / "brown" / "brown_universal.txt"
BROWN_LINES = 512
BATCH = 64
PROJECT_PACKAGES = ("pipeline", "components", "models")


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
        help=f"one raw sentence a line; default: the first {BROWN_LINES} sentences of {BROWN.relative_to(ROOT)}",
    )
    p.add_argument("--warmup", type=int, default=20, help="untimed calls before each measurement (default 20)")
    p.add_argument("--repeats", type=int, default=200, help="latency samples, one sentence each (default 200)")
    p.add_argument("--seconds", type=float, default=10.0, help="duration of the throughput loop (default 10)")
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


def read_sentences(path: pathlib.Path) -> list[str]:
    """One raw sentence a line (split on newlines only); blank lines are skipped."""
    text = path.read_text(encoding="utf-8")
    return [line.strip() for line in text.split("\n") if line.strip()]


def measure_in_child(saved_model: pathlib.Path, sentences: list[str], args: argparse.Namespace) -> dict[str, Any]:
    """Runs the measurement in a fresh, isolated interpreter and returns its report.

    `-I` keeps PYTHONPATH, the user site and the script's folder off `sys.path`, so the child could not
    import the project even by accident; the job travels as JSON on stdin, the report comes back as the
    last line of stdout.
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
    try:
        sentences = read_sentences(args.sentences) if args.sentences else brown_sentences(BROWN)
    except (OSError, UnicodeDecodeError) as err:
        sys.exit(f"error: cannot read sentences: {err}")
    if not sentences:
        sys.exit(f"error: no sentences in {args.sentences or BROWN}")
    for saved_model in saved_models:
        print(f"measuring {saved_model} on {len(sentences)} sentences ...", file=sys.stderr, flush=True)
        report = measure_in_child(saved_model, sentences, args)
        print(json.dumps({"saved_model": str(saved_model), **report}), flush=True)


# --- child: imports only tensorflow and tensorflow_text ----------------------------------------------


def child(job: dict[str, Any]) -> dict[str, Any]:
    """Loads the SavedModel and measures it; refuses to report if a project module got loaded."""
    import tensorflow as tf
    import tensorflow_text  # noqa: F401  (registers the tokenizer ops the graph uses)

    if job["threads"]:
        tf.config.threading.set_intra_op_parallelism_threads(job["threads"])
    model = tf.saved_model.load(job["saved_model"])
    kind = model_kind(model)
    serve = model.signatures["serving_default"]
    sentences: list[str] = job["sentences"]

    latencies = latency_ms(serve, sentences, job["warmup"], job["repeats"])
    sentences_per_second, tokens_per_second = throughput(serve, sentences, job["warmup"], job["seconds"])

    loaded = sorted(name for name in sys.modules if name.partition(".")[0] in PROJECT_PACKAGES)
    if loaded:
        raise SystemExit(f"the client process loaded project modules: {', '.join(loaded)}")
    cut = statistics.quantiles(latencies, n=100, method="inclusive")  # cut[k - 1] is the k-th percentile
    mean = statistics.fmean(latencies)
    return {
        "kind": kind,
        "latency_ms": {"p50": round(cut[49], 3), "p99": round(cut[98], 3), "mean": round(mean, 3)},
        "batch": BATCH,
        "throughput": {
            "sentences_per_second": round(sentences_per_second, 1),
            "tokens_per_second": round(tokens_per_second, 1),
        },
        "threads": job["threads"] or available_cpus(),
    }


def model_kind(model: Any) -> str:
    """The kind of model, from the signatures it serves (only taggers are exported today)."""
    signatures = set(model.signatures.keys())
    if {"serving_default", "tag_tokens"} <= signatures:
        outputs = set(model.signatures["serving_default"].structured_outputs)
        if {"tokens", "tags"} <= outputs:
            return "tagger"
    raise SystemExit(f"not a tagger SavedModel (signatures: {', '.join(sorted(signatures)) or 'none'})")


def call(serve: Any, text: tf.Tensor) -> dict[str, Any]:
    """One request as a client makes it: the signature's outputs, read back as NumPy arrays."""
    return {name: tensor.numpy() for name, tensor in serve(text=text).items()}


def latency_ms(serve: Any, sentences: list[str], warmup: int, repeats: int) -> list[float]:
    """Milliseconds of `repeats` one-sentence calls, cycling through the sentences, after `warmup` calls."""
    import tensorflow as tf

    requests = [tf.constant([sentences[i % len(sentences)]]) for i in range(min(repeats, len(sentences)))]
    for i in range(max(warmup, 1)):
        call(serve, requests[i % len(requests)])
    samples = []
    for i in range(repeats):
        request = requests[i % len(requests)]
        start = time.perf_counter()
        call(serve, request)
        samples.append((time.perf_counter() - start) * 1000.0)
    return samples


def throughput(serve: Any, sentences: list[str], warmup: int, seconds: float) -> tuple[float, float]:
    """Sentences and tokens per second of back-to-back batches of `BATCH` sentences for about `seconds`.

    The batches cover the sentences in order (the last one wrapping around to the first sentences);
    an untimed first pass over them counts the tokens the model returns for each and warms it up.
    """
    import tensorflow as tf

    batches = [
        tf.constant([sentences[(start + j) % len(sentences)] for j in range(BATCH)])
        for start in range(0, len(sentences), BATCH)
    ]
    tokens = [int((call(serve, batch)["tokens"] != b"").sum()) for batch in batches]
    for i in range(warmup):
        call(serve, batches[i % len(batches)])
    done_batches = done_tokens = 0
    start = time.perf_counter()
    elapsed = 0.0
    while elapsed < seconds:
        call(serve, batches[done_batches % len(batches)])
        done_tokens += tokens[done_batches % len(batches)]
        done_batches += 1
        elapsed = time.perf_counter() - start
    return done_batches * BATCH / elapsed, done_tokens / elapsed


def available_cpus() -> int:
    """CPUs this process may run on: TensorFlow's default intra-op thread count."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


if __name__ == "__main__":
    main()
