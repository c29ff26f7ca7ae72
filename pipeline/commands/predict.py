"""`pipeline predict`: a task's exported SavedModel on texts, through its kind's client (as a caller would).

Inputs are the arguments, or the lines of `--file` (`-` for standard input, as is an argument `-`). Each
is checked before the model runs: text must be UTF-8 (the argument or line that is not is named); a
captioner's image that does not decode is named in one line and the other images are still captioned. A
text longer than the model reads (`export.max_length` tokens) is answered, and the cut is said.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys
from collections.abc import Iterable

from pipeline import artifacts
from pipeline.commands import load_config
from pipeline.errors import SeqpipeError

STDIN = "-"


def main(args: argparse.Namespace) -> int:
    config = load_config(args)
    task = config.task(args.task)
    texts = inputs(args.text, args.file)
    task_dir = config.resolve(config.output_dir) / task.name
    serving = task_dir / "serving"
    versions = sorted(int(p.name) for p in serving.glob("*") if p.name.isdigit()) if serving.is_dir() else []
    verdict = last_verdict(task_dir)
    if not versions:
        raise SeqpipeError(no_model(task.name, serving, verdict))
    version = args.version if args.version is not None else versions[-1]
    if version not in versions:
        raise SeqpipeError(f"--version {version}: not in {serving} (versions: {', '.join(map(str, versions))})")
    if args.version is None and verdict is not None and not verdict.blessed:
        print(
            f"note: answering with version {version}, from an earlier run: the last run's model was not blessed "
            f"({verdict.properties['reason']})",
            file=sys.stderr,
        )

    import tensorflow as tf

    import kinds
    from components.export.client_loader import load_client

    client = load_client(kinds.get(task.kind).client)
    model = tf.saved_model.load(str(serving / str(version)))
    # The request parameters a client takes (a language model's), from the flags that set them.
    given = {"max_length": args.length, "temperature": args.temperature}
    params = {name: given[name] for name in client.PARAMS if name in given}
    # The kind's client reads the inputs into what its model takes (a captioner's image files, say), each
    # with how the answer is labelled; a text kind's inputs are its texts.
    try:
        pairs = client.from_arguments(texts) if hasattr(client, "from_arguments") else [(t, t) for t in texts]
    except OSError as err:
        raise SeqpipeError(f"{err.filename}: cannot read: {err.strerror}") from None
    shown, requests = [shown for shown, _ in pairs], [request for _, request in pairs]
    limit = int(model.max_length.numpy()) if hasattr(model, "max_length") else None  # where a text is cut
    failed = 0
    for number, (argument, prediction) in enumerate(zip(shown, client.predict(model, requests, params), strict=True)):
        if "error" in prediction:
            failed += 1
            print(f"error: {argument}: {prediction['error']}", file=sys.stderr)
        elif limit is not None and (prediction.get("input_tokens") or 0) > limit:
            print(
                f"note: input {number + 1} ({_quoted(argument)}) has {prediction['input_tokens']:,} tokens; the "
                f"model read the first {limit:,} (export.max_length)",
                file=sys.stderr,
            )
        if args.json:
            print(json.dumps(prediction, ensure_ascii=False))
        elif "error" not in prediction:
            print(client.line(argument, prediction))
    return 1 if failed else 0


def inputs(arguments: Iterable[str], file: str | None) -> list[str]:
    """The texts to answer: the arguments, each `-` standing for the lines of standard input, then the lines
    of `file` (`-`: standard input). Blank lines are skipped. Text that is not UTF-8 is an error naming the
    argument or the line."""
    texts: list[str] = []
    for number, argument in enumerate(arguments, 1):
        if argument == STDIN:
            texts += _lines(sys.stdin.buffer.read(), "standard input")
            continue
        try:
            argument.encode("utf-8")
        except UnicodeEncodeError as err:  # the bytes the shell gave, which Python kept as surrogates
            raw = argument.encode("utf-8", "surrogateescape")
            raise SeqpipeError(
                f"argument {number} is not UTF-8 text ({_undecodable(raw, err.start)}): "
                f"{raw.decode('utf-8', 'backslashreplace')[:60]}"
            ) from None
        texts.append(argument)
    if file is not None:
        if file == STDIN:
            texts += _lines(sys.stdin.buffer.read(), "standard input")
        else:
            try:
                data = pathlib.Path(file).read_bytes()
            except OSError as err:
                raise SeqpipeError(f"--file {file}: cannot read: {err.strerror}") from None
            texts += _lines(data, file)
    if not texts:
        raise SeqpipeError("nothing to answer: give texts as arguments, in --file, or on standard input (-)")
    return texts


def _lines(data: bytes, name: str) -> list[str]:
    """The non-blank lines of a file's bytes, decoded as UTF-8 (a byte-order mark is dropped)."""
    texts = []
    for number, line in enumerate(data.removeprefix(b"\xef\xbb\xbf").splitlines(), 1):
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as err:
            raise SeqpipeError(f"{name}:{number}: not UTF-8 text ({_undecodable(line, err.start)})") from None
        if text.strip():
            texts.append(text)
    return texts


def _undecodable(raw: bytes, character: int) -> str:
    """Where the first byte that is not UTF-8 is, as a person reads it."""
    position = len(raw.decode("utf-8", "surrogateescape")[:character].encode("utf-8", "surrogateescape"))
    return f"byte 0x{raw[position]:02x} at position {position + 1}"


def _quoted(text: str, width: int = 40) -> str:
    return repr(text if len(text) <= width else text[: width - 1] + "…")


def last_verdict(task_dir: pathlib.Path) -> artifacts.Blessing | None:
    """The blessing of the task's newest evaluation, or None when it was never evaluated."""
    found = [
        artifacts.Artifact.load(path.parent) for path in task_dir.glob(f"evaluate/*/blessing/{artifacts.ARTIFACT_FILE}")
    ]
    blessings = [b for b in found if isinstance(b, artifacts.Blessing)]
    return max(blessings, key=lambda b: (b.uri / artifacts.ARTIFACT_FILE).stat().st_mtime, default=None)


def no_model(task: str, serving: pathlib.Path, verdict: artifacts.Blessing | None) -> str:
    """Why a task has nothing to answer with: never run, or its model did not beat its baselines."""
    if verdict is None or verdict.blessed:
        return (
            f"no exported model of task {task!r} in {serving}: run its pipeline first "
            f"(python -m pipeline run --tasks {task})"
        )
    return (
        f"task {task!r} has no exported model: its model was not blessed ({verdict.properties['reason']}); "
        + verdict.way_out(task)
    )
