"""`pipeline inspect-cells`: colour a text by a trained model's hidden units (Karpathy, Johnson and Fei-Fei 2016).

For the kinds that declare cells to inspect (`Kind.inspect_cells`: the character language model).
"""

from __future__ import annotations

import argparse
import datetime
import json
import time

from pipeline.commands import load_config
from pipeline.errors import SeqpipeError
from pipeline.tracking import INSPECTION_TAG


def main(args: argparse.Namespace) -> int:
    import kinds

    config = load_config(args)
    task = config.task(args.task)
    kind = kinds.get(task.kind)
    if kind.inspect_cells is None:
        raise SeqpipeError(f"inspect-cells: task {task.name!r} is a {task.kind}, which has no cells to inspect")
    if args.max_chars < 1:
        raise SeqpipeError(f"inspect-cells: --max-chars {args.max_chars}: at least 1")
    try:
        text = args.text.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise SeqpipeError(f"inspect-cells: cannot read {args.text}: {error}") from None
    if task.preprocess.tokenizer != "characters":
        raise SeqpipeError("inspect-cells: colours characters; the task's tokenizer must be `characters`")
    if getattr(task.model, "direction", "forward") != "forward":
        raise SeqpipeError(
            "inspect-cells: reads a text forwards; this task's model reads it backwards (model.direction)"
        )
    if len(text) > args.max_chars:
        say(f"reading the first {args.max_chars:,} of the {len(text):,} characters of {args.text.name} (--max-chars)")
        text = text[: args.max_chars]

    import keras
    import mlflow
    import tensorflow as tf

    import dag
    from kinds.base.kind import load
    from models import text as text_lib
    from pipeline import artifacts, runner

    load(kind.recipe)  # registers the kind's layers for loading
    inspect = load(kind.inspect_cells)
    components = [c for c in dag.build(task, config) if c.spec.name in ("ingest", "statistics", "preprocess", "train")]
    task_dir = config.resolve(config.output_dir) / task.name
    found = runner.cached_outputs(components, task=task.name, task_dir=task_dir, seed=config.seed)
    model = keras.saving.load_model(found[(None, "train", "model")].path)
    vocabulary: artifacts.Vocabulary = found[(None, "preprocess", "vocabulary")]
    units = vocabulary.tokens("units")
    p = task.preprocess
    tokenizer = text_lib.TextTokenizer(p.tokenizer, pattern=p.token_pattern, normalization=p.normalization)
    pieces = text_lib.normalize_words(tokenizer(tf.constant([text])), p.lowercase)[0].numpy()
    lookup = {unit: index for index, unit in enumerate(units)}
    unit_ids = [lookup.get(piece.decode("utf-8"), text_lib.UNK_ID) for piece in pieces]
    shown = "".join(piece.decode("utf-8") for piece in pieces)
    out_dir = task_dir / "inspect" / datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    unit = (args.layer, args.unit) if args.unit is not None else None
    say(f"running {len(unit_ids):,} characters through the cells of {task.name}'s model and correlating them")
    started = time.perf_counter()
    paths = inspect(model, units, unit_ids, shown, out_dir, unit=unit, top=args.top)
    say(f"done in {time.perf_counter() - started:.1f}s; the units most tied to each feature:")
    for feature, entries in json.loads(paths["json"].read_text())["features"].items():
        best = entries[0]
        print(f"{feature:<18} layer {best['layer']} unit {best['unit']:<4} r = {best['r']:+.3f}")
    mlflow.set_tracking_uri(config.tracking_uri)
    mlflow.set_experiment(task.name)
    # A run of its own, tagged so that `compare` leaves it out of the task's table of trained models.
    tags = {"task": task.name, "kind": task.kind, INSPECTION_TAG: "cells"}
    with mlflow.start_run(run_name=f"inspect-cells {args.text.name}", tags=tags):
        mlflow.log_artifacts(str(out_dir), "inspect_cells")
    size = paths["html"].stat().st_size / 2**20
    say(f"wrote {paths['html']} ({size:.1f} MiB), and logged it to MLflow (run 'inspect-cells {args.text.name}')")
    return 0


def say(message: str) -> None:
    print(f"[inspect-cells] {message}", flush=True)
