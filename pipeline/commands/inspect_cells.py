"""`pipeline inspect-cells`: colour a text by a trained model's hidden units (Karpathy, Johnson and Fei-Fei 2016).

For the kinds that declare cells to inspect (`Kind.inspect_cells`: the character language model).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os

from pipeline.commands import load_config
from pipeline.errors import SeqpipeError


def main(args: argparse.Namespace) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import kinds

    config = load_config(args)
    task = config.task(args.task)
    kind = kinds.get(task.kind)
    if kind.inspect_cells is None:
        raise SeqpipeError(f"inspect-cells: task {task.name!r} is a {task.kind}, which has no cells to inspect")
    try:
        text = args.text.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise SeqpipeError(f"inspect-cells: cannot read {args.text}: {error}") from None
    if task.preprocess.tokenizer != "characters":
        raise SeqpipeError("inspect-cells: colours characters; the task's tokenizer must be `characters`")

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
    model = keras.saving.load_model(found[("train", "model")].path)
    vocabulary: artifacts.Vocabulary = found[("preprocess", "vocabulary")]
    units = vocabulary.tokens("units")
    p = task.preprocess
    tokenizer = text_lib.TextTokenizer(p.tokenizer, pattern=p.token_pattern, normalization=p.normalization)
    pieces = text_lib.normalize_words(tokenizer(tf.constant([text])), p.lowercase)[0].numpy()
    lookup = {unit: index for index, unit in enumerate(units)}
    unit_ids = [lookup.get(piece.decode("utf-8"), text_lib.UNK_ID) for piece in pieces]
    shown = "".join(piece.decode("utf-8") for piece in pieces)
    out_dir = task_dir / "inspect" / datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    unit = (args.layer, args.unit) if args.unit is not None else None
    paths = inspect(model, units, unit_ids, shown, out_dir, unit=unit, top=args.top)
    for feature, entries in json.loads(paths["json"].read_text())["features"].items():
        best = entries[0]
        print(f"{feature:<18} layer {best['layer']} unit {best['unit']:<4} r = {best['r']:+.3f}")
    mlflow.set_tracking_uri(config.tracking_uri)
    mlflow.set_experiment(task.name)
    with mlflow.start_run(run_name=f"inspect-cells {args.text.name}", tags={"task": task.name, "kind": "inspect"}):
        mlflow.log_artifacts(str(out_dir), "inspect_cells")
    print(f"wrote {paths['html']} (and logged it to MLflow)")
    return 0
