"""`pipeline predict`: a task's exported SavedModel on texts, through its kind's client (as a caller would)."""

from __future__ import annotations

import argparse
import json
import os

from pipeline.commands import load_config
from pipeline.errors import SeqpipeError


def main(args: argparse.Namespace) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    config = load_config(args)
    task = config.task(args.task)
    serving = config.resolve(config.output_dir) / task.name / "serving"
    versions = sorted(int(p.name) for p in serving.glob("*") if p.name.isdigit()) if serving.is_dir() else []
    if not versions:
        raise SeqpipeError(f"no exported model of task {task.name!r} in {serving}; run the pipeline first")
    version = args.version if args.version is not None else versions[-1]
    if version not in versions:
        raise SeqpipeError(f"--version {version}: not in {serving} (versions: {', '.join(map(str, versions))})")

    import tensorflow as tf

    import kinds
    from components.export.client_loader import load_client

    client = load_client(kinds.get(task.kind).client)
    model = tf.saved_model.load(str(serving / str(version)))
    # The request parameters a client takes (a language model's), from the flags that set them.
    given = {"max_length": args.length, "temperature": args.temperature}
    params = {name: given[name] for name in client.PARAMS if name in given}
    # The kind's client reads the command line's arguments into its inputs (a captioner's image files, say),
    # each with how the answer is labelled; a text kind's arguments are its inputs.
    try:
        pairs = client.from_arguments(args.text) if hasattr(client, "from_arguments") else [(a, a) for a in args.text]
    except OSError as err:
        raise SeqpipeError(f"{err.filename}: cannot read: {err.strerror}") from None
    shown, inputs = [shown for shown, _ in pairs], [given for _, given in pairs]
    for argument, prediction in zip(shown, client.predict(model, inputs, params), strict=True):
        print(json.dumps(prediction, ensure_ascii=False) if args.json else client.line(argument, prediction))
    return 0
