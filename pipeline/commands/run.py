"""`pipeline run`: every selected task's pipeline, each an MLflow run (a sweep: one run a variant)."""

from __future__ import annotations

import argparse
import datetime
import hashlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence

import yaml

from pipeline import cluster, scheduling
from pipeline import config as config_lib
from pipeline.commands import load_config, selected_tasks, selected_variants
from pipeline.errors import SeqpipeError


def main(args: argparse.Namespace) -> int:
    import dag
    from pipeline import runner, tracking

    config = load_config(args)
    if args.jobs < 1:
        raise SeqpipeError(f"--jobs {args.jobs}: at least 1")
    tasks = selected_tasks(config, args.tasks)
    args.cluster = args.cluster or config.cluster
    if args.cluster and not args.variant:
        variants = selected_variants(config, args.tasks)
        for variant in variants:
            through(dag.build(variant, config), args.through)  # every config error before any work
        tracking.RunTracker.prepare_store(config.tracking_uri)
        return cluster.run(args, config, [(variant.name, variant.variant) for variant in variants])
    if args.jobs > 1 and len(tasks) > 1:
        for variant in selected_variants(config, args.tasks):
            through(dag.build(variant, config), args.through)  # every config error before any work
        tracking.RunTracker.prepare_store(config.tracking_uri)  # created once, not raced by the processes
        dependencies = {task.name: config_lib.upstream_tasks(task) for task in tasks}
        return run_in_parallel(args, [task.name for task in tasks], dependencies)
    variants = selected_variants(config, args.tasks)
    if args.variant:
        variants = [variant for variant in variants if variant.variant == args.variant]
        if not variants:
            raise SeqpipeError(f"--variant {args.variant}: no variant of the selected tasks has this label")
    pipelines = [through(dag.build(variant, config), args.through) for variant in variants]  # errors before any work
    threads = start_tensorflow(config, variants, pipelines, chief=True, force=args.force)
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
            tags={
                "kind": variant.kind,
                "task": variant.name,
                "variant": variant.variant or "default",
                # The Dask worker that ran it, under `run --cluster`.
                **(
                    {"seqpipe.worker": os.environ[cluster.WORKER_ENVIRONMENT]}
                    if os.environ.get(cluster.WORKER_ENVIRONMENT)
                    else {}
                ),
            },
            params=config_lib.flatten(resolved),
            state_file=output_dir / variant.name / f".mlflow_run-{slug}.json",
            artifact_root=tracking.artifact_root(config.tracking_uri),
        )
        status = "FAILED"
        try:
            tracker.log_text(yaml.safe_dump(resolved, sort_keys=False, allow_unicode=True), "config/task.yaml")
            how = "continuing the interrupted" if tracker.continued else "new"
            print(
                f"[{label}] {how} MLflow run {tracker.run_id} in experiment {variant.name!r} at {config.tracking_uri}"
            )
            for line in config_lib.kind_default_lines(variant):
                print(f"[{label}] {line}")
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
                upstream=dag.upstream(variant, config),
            )
            status = "FINISHED"
        finally:
            tracker.finish(status)
        summarize(label, variant.kind, results)
    return 0


def through(components: Sequence, stage: str | None) -> Sequence:
    """The stages up to and including `stage` (all of them when None)."""
    names = [component.spec.name for component in components]
    if stage is None:
        return components
    if stage not in names:
        raise SeqpipeError(f"--through {stage}: not a stage of this task; its stages are {', '.join(names)}")
    return components[: names.index(stage) + 1]


def run_in_parallel(
    args: argparse.Namespace, names: Sequence[str], dependencies: Mapping[str, Sequence[str]] | None = None
) -> int:
    """Each task's pipeline in its own `pipeline run --tasks NAME` process, up to `--jobs` at once, in the
    config's order (put the longest task first for the shortest wall time); a task starts once the tasks it
    reads (`dependencies`) have finished, and not at all when one of them failed.

    A process trains with the config's thread pools, so a model that keeps one core busy (a language
    model's single recurrence) leaves the other to the next task. The tasks' lines, each prefixed by
    its name, interleave on the console; the MLflow runs are the same as one after another.
    """
    command = [sys.executable, "-m", "pipeline", "run", "--config", args.config]
    for override in args.overrides:
        command += ["--set", override]
    for option, value in (("--output-dir", args.output_dir), ("--tracking-uri", args.tracking_uri)):
        if value:
            command += [option, value]
    command += ["--force"] if args.force else []
    command += ["--through", args.through] if args.through else []
    command += ["--verbose"] if args.verbose else []
    # Whole lines as they come; a crash in native code prints the Python stack of every thread.
    environment = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONFAULTHANDLER": "1"}
    pending, running, failed, broken = list(names), {}, [], set()
    print(f"[pipeline] {len(names)} tasks, up to {args.jobs} at once: {', '.join(names)}", flush=True)
    try:
        while pending or running:
            while len(running) < args.jobs:
                name, dropped = scheduling.next_unit(pending, str, dependencies or {}, list(running), broken)
                failed += [f"{unit} ({why})" for unit, why in dropped]
                if name is None:
                    break
                running[name] = subprocess.Popen([*command, "--tasks", name], env=environment)
            for name, process in list(running.items()):
                if process.poll() is not None:
                    del running[name]
                    if process.returncode:
                        failed.append(f"{name} ({_exit_status(process.returncode)})")
                        broken.add(name)
            time.sleep(0.2)
    finally:
        for process in running.values():
            process.terminate()
    if failed:
        print(f"[pipeline] failed: {', '.join(failed)}; their lines above say why", file=sys.stderr)
        return 1
    return 0


def _exit_status(code: int) -> str:
    """`exit 1`, or the signal that killed a process (`killed by SIGKILL`: out of memory, say)."""
    if code >= 0:
        return f"exit {code}"
    try:
        return f"killed by {signal.Signals(-code).name}"
    except ValueError:
        return f"killed by signal {-code}"


def start_tensorflow(
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
    import dag
    from pipeline import runner, runtime

    intra, inter = runtime.configure_threads(config.threads)
    output_dir = config.resolve(config.output_dir)
    for variant, components in zip(variants, pipelines, strict=True):
        if variant.train.strategy != "multi_worker_mirrored" or "train" not in [c.spec.name for c in components]:
            continue
        spec = runtime.cluster()
        if spec is not None and runtime.is_chief() != chief:
            task = spec["task"]
            right = "python -m pipeline worker" if chief else "python -m pipeline run"
            raise SeqpipeError(f"TF_CONFIG makes this process {task['type']} {task['index']}: start it with `{right}`")
        through_train = components[: [c.spec.name for c in components].index("train") + 1]
        task_dir = output_dir / variant.name
        upstream = dag.upstream(variant, config)
        cached = runner.is_cached(
            through_train, task=variant.name, task_dir=task_dir, seed=config.seed, upstream=upstream
        )
        if force or not cached:
            if spec is not None:
                workers = len(spec["cluster"]["worker"]) + len(spec["cluster"].get("chief", []))
                print(
                    f"[{variant.name}] multi_worker_mirrored: waiting for the {workers} processes of TF_CONFIG",
                    flush=True,
                )
            runtime.start_strategy("multi_worker_mirrored")
            break
    return {"intra_op": intra, "inter_op": inter}


def summarize(label: str, kind_name: str, results) -> None:
    """The run's last lines: which stages ran, the test scores by the kind's blessing metric, where the model went."""
    import kinds

    ran = [r.stage for r in results if r.status == "ran"]
    print(f"[{label}] done: {len(ran)} stage(s) ran ({', '.join(ran) or 'none'}), {len(results) - len(ran)} cached")
    outputs = {name: artifact for r in results for name, artifact in r.outputs.items()}
    test = outputs["evaluation"].read().get("test") if "evaluation" in outputs else None
    if test:
        rule = kinds.get(kind_name).blessing.as_recorded(outputs["evaluation"].properties)
        systems = sorted(test, key=lambda system: system != "model")  # the model first, then the others
        shown = ", ".join(f"{system} {_number(rule.value(test[system]))}" for system in systems)
        print(f"[{label}] test {rule.label}: {shown}")
    pushed = outputs.get("pushed_model")
    if pushed is not None:
        if pushed.properties.get("pushed"):
            print(f"[{label}] serving: {pushed.properties['serving_dir']}")
        else:
            print(f"[{label}] not exported: {pushed.properties['reason']}")


def _number(value) -> str:
    return "n/a" if value is None else f"{value:.4f}"
