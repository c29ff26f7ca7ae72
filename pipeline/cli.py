"""The command line: parse, load the config, run. `python -m pipeline --help` lists the commands."""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import pathlib
import subprocess
import sys
import tempfile
from collections.abc import Sequence

import yaml

from pipeline import config as config_lib
from pipeline.errors import SeqpipeError

DEFAULT_CONFIG = "pipeline_config.yaml"


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return args.command(args)
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
    run.set_defaults(command=_run)

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
    worker.set_defaults(command=_worker)

    validate = commands.add_parser("validate", help="check a config (keys, types, files) without running anything")
    _config_options(validate)
    validate.set_defaults(command=_validate)

    compare = commands.add_parser("compare", help="print the MLflow runs of a task side by side")
    _config_options(compare)
    compare.add_argument("--task", required=True, help="the task whose runs to compare")
    compare.set_defaults(command=_compare)

    predict = commands.add_parser("predict", help="run an exported model of a task on text")
    _config_options(predict)
    predict.add_argument("--task", required=True, help="the task whose exported model to use")
    predict.add_argument("--version", type=int, help="the serving version (default: the newest)")
    predict.add_argument("--json", action="store_true", help="one JSON object a line instead of plain text")
    predict.add_argument("--length", type=int, default=200, help="language models: units to generate")
    predict.add_argument("--temperature", type=float, default=0.8, help="language models: 0 for greedy decoding")
    predict.add_argument("text", nargs="+", metavar="TEXT", help="texts to tag or classify, or prompts to continue")
    predict.set_defaults(command=_predict)

    cells = commands.add_parser(
        "inspect-cells", help="colour a text by a language model's hidden units (Karpathy et al. 2016)"
    )
    _config_options(cells)
    cells.add_argument("--task", required=True, help="a language-model task that has been trained")
    cells.add_argument("--text", required=True, type=pathlib.Path, help="a UTF-8 text file to read")
    cells.add_argument("--unit", type=int, help="the hidden unit to show (default: the units most tied to a feature)")
    cells.add_argument("--layer", type=int, default=0, help="the recurrent layer of --unit (default: %(default)s)")
    cells.add_argument("--top", type=int, default=5, help="units listed per feature (default: %(default)s)")
    cells.set_defaults(command=_inspect_cells)

    ui = commands.add_parser("ui", help="start the MLflow UI over the configured tracking store")
    _config_options(ui)
    ui.add_argument("--host", default="127.0.0.1", help="address to bind (default: %(default)s, this machine only)")
    ui.add_argument("--port", type=int, default=5000, help="port (default: %(default)s)")
    ui.set_defaults(command=_ui)
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


def load_config(args: argparse.Namespace) -> config_lib.PipelineConfig:
    """The config file with --set, --output-dir and --tracking-uri applied (CLI paths are relative to the cwd)."""
    overrides = list(args.overrides)
    if args.output_dir:
        overrides.append(f"output_dir={pathlib.Path(args.output_dir).resolve()}")
    if args.tracking_uri:
        uri = args.tracking_uri
        if uri.startswith("sqlite:///") and not uri.startswith("sqlite:////"):
            uri = "sqlite:///" + str(pathlib.Path(uri[len("sqlite:///") :]).resolve())
        overrides.append(f"tracking.uri={uri}")
    return config_lib.load(args.config, overrides)


def _selected_tasks(config: config_lib.PipelineConfig, names: str | None) -> list[config_lib.TaskConfig]:
    if not names:
        return list(config.tasks)
    return [config.task(name.strip()) for name in names.split(",") if name.strip()]


def _run(args: argparse.Namespace) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from pipeline import dag, runner, tracking

    config = load_config(args)
    variants = [v for task in _selected_tasks(config, args.tasks) for v in config.variants_of(task.name)]
    pipelines = [dag.build(variant, config) for variant in variants]  # every config error before any work
    threads = _start_tensorflow(config, variants, pipelines, chief=True, force=args.force)
    output_dir = config.resolve(config.output_dir)
    for variant, components in zip(variants, pipelines, strict=True):
        label = variant.name + (f" [{variant.variant}]" if variant.variant else "")
        resolved = {**config_lib.to_dict(variant), "seed": config.seed, "threads": threads}
        slug = hashlib.sha256(variant.variant.encode()).hexdigest()[:8] if variant.variant else "task"
        tracker = tracking.RunTracker.open(
            config.tracking_uri,
            experiment=variant.name,
            run_name=datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
            + (f" {variant.variant}" if variant.variant else ""),
            tags={"kind": variant.kind, "task": variant.name, "variant": variant.variant or "default"},
            params=config_lib.flatten(resolved),
            state_file=output_dir / variant.name / f".mlflow_run-{slug}.json",
            artifact_root=_artifact_root(config),
        )
        status = "FAILED"
        try:
            tracker.log_text(yaml.safe_dump(resolved, sort_keys=False, allow_unicode=True), "config/task.yaml")
            how = "continuing the interrupted" if tracker.continued else "new"
            print(
                f"[{label}] {how} MLflow run {tracker.run_id} in experiment {variant.name!r} at {config.tracking_uri}"
            )
            # Variants share the task's folder: stages whose inputs and parameters they share (ingest,
            # statistics, preprocess) are cached once for all of them.
            results = runner.run_task(
                components,
                task=variant.name,
                task_dir=output_dir / variant.name,
                seed=config.seed,
                beam=config.beam,
                tracker=tracker,
                force=args.force,
            )
            status = "FINISHED"
        finally:
            tracker.finish(status)
        _summarize(label, results)
    return 0


def _start_tensorflow(
    config: config_lib.PipelineConfig,
    variants: Sequence[config_lib.TaskConfig],
    pipelines: Sequence[Sequence],
    *,
    chief: bool,
    force: bool = False,
) -> dict[str, int]:
    """Sets what must be set before TensorFlow runs an op: its thread pools and, when a task will train
    on a cluster, the multi-worker strategy. Returns the thread counts, which runs log as parameters.

    Creating the strategy waits until every worker of TF_CONFIG has created its own, so the chief and
    the workers each create it when they start, unless the training is already done (cached).
    """
    from pipeline import runner, runtime

    intra, inter = runtime.configure_threads(config.threads)
    output_dir = config.resolve(config.output_dir)
    for variant, components in zip(variants, pipelines, strict=True):
        if variant.train.strategy != "multi_worker_mirrored":
            continue
        spec = runtime.cluster()
        if spec is not None and runtime.is_chief() != chief:
            task = spec["task"]
            right = "python -m pipeline worker" if chief else "python -m pipeline run"
            raise SeqpipeError(f"TF_CONFIG makes this process {task['type']} {task['index']}: start it with `{right}`")
        through_train = components[: [c.spec.name for c in components].index("train") + 1]
        task_dir = output_dir / variant.name
        if force or not runner.is_cached(through_train, task=variant.name, task_dir=task_dir, seed=config.seed):
            if spec is not None:
                workers = len(spec["cluster"]["worker"]) + len(spec["cluster"].get("chief", []))
                print(
                    f"[{variant.name}] multi_worker_mirrored: waiting for the {workers} processes of TF_CONFIG",
                    flush=True,
                )
            runtime.start_strategy("multi_worker_mirrored")
            break
    return {"intra_op": intra, "inter_op": inter}


def _worker(args: argparse.Namespace) -> int:
    """A non-chief worker: trains each multi-worker task alongside the chief, writing nothing of its own."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from pipeline import dag, runner, runtime

    config = load_config(args)
    variants = [v for task in _selected_tasks(config, args.tasks) for v in config.variants_of(task.name)]
    variants = [v for v in variants if v.train.strategy == "multi_worker_mirrored"]
    if not variants:
        raise SeqpipeError("worker: no selected task has train.strategy multi_worker_mirrored")
    if runtime.cluster() is None:
        raise SeqpipeError("worker: set TF_CONFIG to the cluster and this worker's task")
    pipelines = [dag.build(variant, config) for variant in variants]
    _start_tensorflow(config, variants, pipelines, chief=False)
    output_dir = config.resolve(config.output_dir)
    for variant, components in zip(variants, pipelines, strict=True):
        runner.run_as_worker(
            components,
            stage="train",
            task=variant.name,
            task_dir=output_dir / variant.name,
            seed=config.seed,
            beam=config.beam,
            wait_seconds=args.wait,
        )
    return 0


def _artifact_root(config: config_lib.PipelineConfig) -> pathlib.Path | None:
    """Where a SQLite store's run files go: `mlruns/` beside the database, whatever the cwd."""
    uri = config.tracking_uri
    if uri.startswith("sqlite:///"):
        return pathlib.Path(uri[len("sqlite:///") :]).parent / "mlruns"
    return None


def _summarize(task: str, results) -> None:
    ran = [r.stage for r in results if r.status == "ran"]
    print(f"[{task}] done: {len(ran)} stage(s) ran ({', '.join(ran) or 'none'}), {len(results) - len(ran)} cached")
    outputs = {name: artifact for r in results for name, artifact in r.outputs.items()}
    if "evaluation" in outputs:
        test = outputs["evaluation"].read().get("test")
        if test and "copy_source" in test:  # a translator
            greedy = f", greedy {test['greedy']['bleu']:.2f}" if "greedy" in test else ""
            print(
                f"[{task}] test BLEU {test['model']['bleu']:.2f}{greedy}, chrF {test['model']['chrf']:.2f}; "
                f"copying the source: BLEU {test['copy_source']['bleu']:.2f}"
            )
        elif test and "kneser_ney" in test:  # a language model
            print(
                f"[{task}] test {test['model']['bits_per_unit']:.3f} bits per unit "
                f"(perplexity {test['model']['perplexity']:.2f}); "
                f"Kneser-Ney n-gram {test['kneser_ney']['bits_per_unit']:.3f}"
            )
        elif test and "tfidf_logreg" in test:  # a classifier
            model = test["model"]
            print(
                f"[{task}] test accuracy {_percent(model['accuracy'])}, macro-F1 {_percent(model['macro_f1'])}; "
                f"TF-IDF + logistic regression {_percent(test['tfidf_logreg']['accuracy'])}, "
                f"majority class {_percent(test['majority']['accuracy'])}"
            )
        elif test:
            model, baseline = test["model"], test["baseline"]
            print(
                f"[{task}] test token accuracy {_percent(model['token_accuracy'])}, "
                f"OOV accuracy {_percent(model['oov_accuracy'])}; "
                f"most-frequent-tag baseline {_percent(baseline['token_accuracy'])}"
            )
    pushed = outputs.get("pushed_model")
    if pushed is not None:
        if pushed.properties.get("pushed"):
            print(f"[{task}] serving: {pushed.properties['serving_dir']}")
        else:
            print(f"[{task}] not exported: {pushed.properties['reason']}")


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2%}"


def _validate(args: argparse.Namespace) -> int:
    from pipeline import dag

    config = load_config(args)
    for task in config.tasks:
        dag.build(task, config)  # expands globs and checks the files exist
    print(f"{args.config}: ok ({len(config.tasks)} task(s): {', '.join(t.name for t in config.tasks)})")
    return 0


def _compare(args: argparse.Namespace) -> int:
    from mlflow.tracking import MlflowClient

    from pipeline import compare, dag

    config = load_config(args)
    task = config.task(args.task)
    client = MlflowClient(tracking_uri=config.tracking_uri)
    experiment = client.get_experiment_by_name(task.name)
    runs = client.search_runs([experiment.experiment_id], max_results=1000) if experiment else []
    if not runs:
        raise SeqpipeError(f"no runs of task {task.name!r} in {config.tracking_uri}; run the pipeline first")
    summaries = [
        compare.RunSummary(
            name=run.info.run_name,
            status=run.info.status,
            variant=run.data.tags.get("variant", ""),
            params=run.data.params,
            metrics=run.data.metrics,
        )
        for run in runs
    ]
    table = compare.comparison_table(
        summaries, dag.METRICS[task.kind], lower_is_better=task.kind in dag.LOWER_IS_BETTER
    )
    print(compare.render(*table))
    return 0


def _predict(args: argparse.Namespace) -> int:
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
    import tensorflow_text  # noqa: F401  (registers the tokenizer ops the graph uses)

    model = tf.saved_model.load(str(serving / str(version)))
    if task.kind == "translator":
        out = model.signatures["serving_default"](text=tf.constant(args.text))
        for source, translation in zip(args.text, out["translation"].numpy(), strict=True):
            translation = translation.decode("utf-8")
            print(
                json.dumps({"text": source, "translation": translation}, ensure_ascii=False)
                if args.json
                else translation
            )
        return 0
    if task.kind == "language_model":
        out = model.signatures["generate"](
            prompt=tf.constant(args.text),
            max_length=tf.constant(args.length),
            temperature=tf.constant(args.temperature),
        )
        for prompt, generated in zip(args.text, out["text"].numpy(), strict=True):
            if args.json:
                print(json.dumps({"prompt": prompt, "text": generated.decode("utf-8")}, ensure_ascii=False))
            else:
                print(prompt + generated.decode("utf-8"))
        return 0
    out = model.signatures["serving_default"](text=tf.constant(args.text))
    if task.kind == "classifier":
        for sentence, label, row in zip(args.text, out["label"].numpy(), out["probabilities"].numpy(), strict=True):
            label, confidence = label.decode("utf-8"), float(row.max())
            if args.json:
                print(json.dumps({"text": sentence, "label": label, "probability": confidence}, ensure_ascii=False))
            else:
                print(f"{label}\t{confidence:.3f}\t{sentence}")
        return 0
    for tokens, tags in zip(out["tokens"].numpy(), out["tags"].numpy(), strict=True):
        pairs = [(t.decode("utf-8"), g.decode("utf-8")) for t, g in zip(tokens, tags, strict=True) if t]
        if args.json:
            print(json.dumps({"tokens": [t for t, _ in pairs], "tags": [g for _, g in pairs]}, ensure_ascii=False))
        else:
            print(" ".join(f"{t}/{g}" for t, g in pairs))
    return 0


def _inspect_cells(args: argparse.Namespace) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    config = load_config(args)
    task = config.task(args.task)
    if task.kind != "language_model":
        raise SeqpipeError(f"inspect-cells: task {task.name!r} is a {task.kind}, not a language_model")
    try:
        text = args.text.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise SeqpipeError(f"inspect-cells: cannot read {args.text}: {error}") from None
    if task.preprocess.tokenizer != "characters":
        raise SeqpipeError("inspect-cells: colours characters; the task's tokenizer must be `characters`")

    import keras
    import mlflow
    import tensorflow as tf

    from components.inspect import cells
    from models import language_model  # noqa: F401  (registers the model's layers)
    from models import text as text_lib
    from pipeline import artifacts, dag, runner

    components = [c for c in dag.build(task, config) if c.spec.name in ("ingest", "statistics", "preprocess", "train")]
    task_dir = config.resolve(config.output_dir) / task.name
    found = runner.cached_outputs(components, task=task.name, task_dir=task_dir, seed=config.seed)
    model = keras.saving.load_model(found[artifacts.Model].path)
    units = found[artifacts.Vocabulary].tokens("units")
    p = task.preprocess
    tokenizer = text_lib.TextTokenizer(p.tokenizer, pattern=p.token_pattern, normalization=p.normalization)
    pieces = text_lib.normalize_words(tokenizer(tf.constant([text])), p.lowercase)[0].numpy()
    lookup = {unit: index for index, unit in enumerate(units)}
    unit_ids = [lookup.get(piece.decode("utf-8"), text_lib.UNK_ID) for piece in pieces]
    shown = "".join(piece.decode("utf-8") for piece in pieces)
    out_dir = task_dir / "inspect" / datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    unit = (args.layer, args.unit) if args.unit is not None else None
    paths = cells.inspect(model, units, unit_ids, shown, out_dir, unit=unit, top=args.top)
    for feature, entries in json.loads(paths["json"].read_text())["features"].items():
        best = entries[0]
        print(f"{feature:<18} layer {best['layer']} unit {best['unit']:<4} r = {best['r']:+.3f}")
    mlflow.set_tracking_uri(config.tracking_uri)
    mlflow.set_experiment(task.name)
    with mlflow.start_run(run_name=f"inspect-cells {args.text.name}", tags={"task": task.name, "kind": "inspect"}):
        mlflow.log_artifacts(str(out_dir), "inspect_cells")
    print(f"wrote {paths['html']} (and logged it to MLflow)")
    return 0


def _ui(args: argparse.Namespace) -> int:
    config = load_config(args)
    command = [
        sys.executable, "-m", "mlflow", "ui",
        "--backend-store-uri", config.tracking_uri,
        "--host", args.host, "--port", str(args.port),
    ]  # fmt: skip
    print(f"MLflow UI on http://{args.host}:{args.port} over {config.tracking_uri}", flush=True)
    with tempfile.TemporaryDirectory() as cwd:  # the UI writes nothing into the project
        return subprocess.call(command, cwd=cwd)
