"""The command line: parse and dispatch. `python -m pipeline --help` lists the commands.

Each command is a module of `pipeline/commands/`, imported only when it runs (so `--help` imports
neither TensorFlow nor Beam).
"""

from __future__ import annotations

import argparse
import importlib
import pathlib
import sys
from collections.abc import Sequence

from pipeline import console
from pipeline.errors import SeqpipeError

DEFAULT_CONFIG = "pipeline_config.yaml"


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    console.quiet(args.verbose)  # before any library loads
    try:
        return importlib.import_module(f"pipeline.commands.{args.command}").main(args)
    except SeqpipeError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline",
        description="seqpipe: raw text corpus to a trained, evaluated and served recurrent model, tracked in MLflow.",
    )
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="run the pipeline of every task (or of --tasks)")
    _config_options(run)
    run.add_argument("--tasks", metavar="NAME[,NAME]", help="run only these tasks (comma-separated names)")
    run.add_argument("--force", action="store_true", help="rerun every stage, even those whose outputs are cached")
    run.add_argument(
        "--through",
        metavar="STAGE",
        help="stop after this stage (e.g. preprocess: vocabularies and shards only)",
    )
    run.add_argument(
        "--jobs",
        type=int,
        default=1,
        metavar="N",
        help="run up to N tasks at once, each in its own process (default: %(default)s, one after another)",
    )
    run.add_argument(
        "--cluster",
        metavar="tcp://HOST:PORT",
        help="run each task, or each variant of a sweep, on a worker of this Dask cluster (default: cluster of "
        "the config, else this machine)",
    )
    # One variant of a swept task (its label, as printed): what --cluster runs on a worker.
    run.add_argument("--variant", metavar="LABEL", help=argparse.SUPPRESS)
    run.set_defaults(command="run")

    worker = commands.add_parser(
        "worker", help="join the cluster in TF_CONFIG as a training worker for tasks with multi_worker_mirrored"
    )
    _config_options(worker)
    worker.add_argument("--tasks", metavar="NAME[,NAME]", help="only these tasks (as given to `run` on the chief)")
    worker.add_argument(
        "--wait",
        type=float,
        default=3600.0,
        metavar="SECONDS",
        help="how long to wait for the chief's stages before training (default: %(default)s)",
    )
    worker.set_defaults(command="worker")

    validate = commands.add_parser("validate", help="check a config (keys, types, files) without running anything")
    _config_options(validate)
    validate.set_defaults(command="validate")

    compare = commands.add_parser("compare", help="print the MLflow runs of a task side by side")
    _config_options(compare)
    compare.add_argument("--task", required=True, help="the task whose runs to compare")
    compare.add_argument(
        "--over",
        action="append",
        default=[],
        metavar="PARAM",
        help="one row per group of runs that differ only in PARAM (e.g. train.seed): mean ± sd; repeatable",
    )
    compare.set_defaults(command="compare")

    predict = commands.add_parser("predict", help="run an exported model of a task on text")
    _config_options(predict)
    predict.add_argument("--task", required=True, help="the task whose exported model to use")
    predict.add_argument("--version", type=int, help="the serving version (default: the newest)")
    predict.add_argument("--json", action="store_true", help="one JSON object a line instead of plain text")
    predict.add_argument("--length", type=int, default=200, help="language models: units to generate")
    predict.add_argument("--temperature", type=float, default=0.8, help="language models: 0 for greedy decoding")
    predict.add_argument(
        "--file", metavar="PATH", help="also answer each line of this UTF-8 file (- for standard input)"
    )
    predict.add_argument(
        "text",
        nargs="*",
        metavar="TEXT",
        help="texts to tag, classify or translate, prompts to continue, or image files to caption (- reads lines "
        "of standard input)",
    )
    predict.set_defaults(command="predict")

    cells = commands.add_parser(
        "inspect-cells", help="colour a text by a language model's hidden units (Karpathy et al. 2016)"
    )
    _config_options(cells)
    cells.add_argument("--task", required=True, help="a language-model task that has been trained")
    cells.add_argument("--text", required=True, type=pathlib.Path, help="a UTF-8 text file to read")
    cells.add_argument("--unit", type=int, help="the hidden unit to show (default: the units most tied to a feature)")
    cells.add_argument("--layer", type=int, default=0, help="the recurrent layer of --unit (default: %(default)s)")
    cells.add_argument("--top", type=int, default=5, help="units listed per feature (default: %(default)s)")
    cells.add_argument(
        "--max-chars",
        type=int,
        default=20_000,
        metavar="N",
        help="read at most the first N characters of the text (default: %(default)s, a page of about 7 MB)",
    )
    cells.set_defaults(command="inspect_cells")

    ui = commands.add_parser("ui", help="start the MLflow UI over the configured tracking store")
    _config_options(ui)
    ui.add_argument("--host", default="127.0.0.1", help="address to bind (default: %(default)s, this machine only)")
    ui.add_argument("--port", type=int, default=5000, help="port (default: %(default)s)")
    ui.set_defaults(command="ui")
    for command in commands.choices.values():
        command.add_argument(
            "--verbose", action="store_true", help="also show the logs and warnings of TensorFlow, Beam and MLflow"
        )
    return parser


def _config_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", default=DEFAULT_CONFIG, help="pipeline config file (default: %(default)s)")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one config value, e.g. tasks.brown-pos.train.epochs=1 (repeatable; the value is YAML)",
    )
    parser.add_argument("--output-dir", help="where artifacts go (default: output_dir of the config)")
    parser.add_argument("--tracking-uri", help="MLflow tracking URI (default: tracking.uri of the config)")
