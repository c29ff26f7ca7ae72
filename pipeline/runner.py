"""Runs a task's stages in order, each input read from the stage output it is wired to, reusing cached outputs.

A stage's outputs live in `<output_dir>/<task>/<stage>/<fingerprint>/<output>/`. The fingerprint hashes
the stage's parameters, the code it runs (`pipeline.code`: every project module reachable from its
executor and its kind's parts, and the versions of the libraries they import) and its inputs'
fingerprints, so an unchanged stage
finds its outputs in place and does no work. A stage writes into a temporary folder that is renamed
into place only when every output is complete.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import pathlib
import shutil
import socket
import tempfile
import time
from collections.abc import Mapping, Sequence
from typing import Any

from pipeline import artifacts, code, config, locking, tracking
from pipeline.component import Component, StageContext, stop_watching
from pipeline.errors import SeqpipeError

PROJECT_ROOT = pathlib.Path(__file__).resolve().parent.parent
_FINGERPRINT_CHARS = 16
# The outputs made so far, by (task, stage, output name); the task is None for the task being run, else one
# whose outputs it reads (`upstream`).
Available = dict[tuple[str | None, str, str], artifacts.Artifact]


@dataclasses.dataclass(frozen=True)
class StageResult:
    """What happened to one stage in one execution."""

    stage: str
    status: str  # "ran" or "cached"
    seconds: float
    outputs: dict[str, artifacts.Artifact]


def run_task(
    components: Sequence[Component],
    *,
    task: str,
    task_dir: pathlib.Path,
    seed: int,
    beam: config.BeamConfig,
    tracker: tracking.RunTracker | None,
    force: bool = False,
    upstream: Mapping[str, Sequence[Component]] | None = None,
) -> list[StageResult]:
    """Runs `components` in order and returns what each did.

    Args:
        components: the task's stages, producers before consumers.
        task: the task name, for messages.
        task_dir: `<output_dir>/<task>`.
        seed: the pipeline seed, passed to every executor.
        beam: the Beam runner and options.
        tracker: the MLflow run to log into, or None.
        force: run every stage even when its outputs are cached.
        upstream: the stages of the other tasks whose outputs this one reads (`dag.upstream`), by task: they
            must have run with this config (`run` orders tasks so); their outputs are read, never made, here.
    """
    available = upstream_outputs(upstream or {}, task=task, task_dir=task_dir, seed=seed)
    results = []
    for component in components:
        spec = component.spec
        inputs = _inputs(component, available)
        fingerprint = stage_fingerprint(component, inputs, seed)
        stage_root = task_dir / spec.name
        final = stage_root / fingerprint
        started = time.perf_counter()
        # One process at a time builds a stage's folder (the variants of a sweep, run at once on a cluster,
        # share their task's first stages): the others wait here and then find it cached.
        with stage_lock(stage_root, fingerprint):
            outputs = None if force else _load_outputs(component, final, fingerprint)
            if outputs is not None:
                status = "cached"
                tracking.replay(tracker, final)
            else:
                status = "ran"
                outputs = _execute(component, inputs, fingerprint, stage_root, task, task_dir, seed, beam, tracker)
        seconds = time.perf_counter() - started
        if tracker is not None:
            tracker.log_metrics({f"stage_seconds.{spec.name}": seconds})
        print(f"[{task}] {spec.name:<10} {status:>6} in {seconds:6.1f}s", flush=True)
        available.update({(None, spec.name, name): artifact for name, artifact in outputs.items()})
        results.append(StageResult(spec.name, status, seconds, outputs))
    return results


def upstream_outputs(
    upstream: Mapping[str, Sequence[Component]], *, task: str, task_dir: pathlib.Path, seed: int
) -> Available:
    """The cached outputs of the tasks `task` reads (their stages, by task name), keyed by their task.

    Raises:
        SeqpipeError: one of them has not run with this config.
    """
    available: Available = {}
    for name, components in upstream.items():
        try:
            found = cached_outputs(components, task=name, task_dir=task_dir.parent / name, seed=seed)
        except SeqpipeError:
            raise SeqpipeError(
                f"[{task}] reads the trained model of task {name}, which has not run with this config: run both "
                f"(--tasks {name},{task}), or {name} first"
            ) from None
        available.update({(name, stage, output): artifact for (_, stage, output), artifact in found.items()})
    return available


def stage_lock(stage_root: pathlib.Path, fingerprint: str):
    """Holds an exclusive lock on a stage's fingerprint folder until the block ends (`locking.folder_lock`)."""
    return locking.folder_lock(stage_root, fingerprint)


def cached_outputs(
    components: Sequence[Component],
    *,
    task: str,
    task_dir: pathlib.Path,
    seed: int,
    upstream: Mapping[str, Sequence[Component]] | None = None,
) -> Available:
    """The artifacts that `components` produced in an earlier run with this config, without running anything
    (`upstream`: as for `run_task`).

    Raises:
        SeqpipeError: a stage has no cached outputs for this config (the pipeline has not run with it).
    """
    available = upstream_outputs(upstream or {}, task=task, task_dir=task_dir, seed=seed)
    for component in components:
        spec = component.spec
        inputs = _inputs(component, available)
        fingerprint = stage_fingerprint(component, inputs, seed)
        outputs = _load_outputs(component, task_dir / spec.name / fingerprint, fingerprint)
        if outputs is None:
            raise SeqpipeError(f"[{task}] the {spec.name} stage has not run with this config; run the pipeline first")
        available.update({(None, spec.name, name): artifact for name, artifact in outputs.items()})
    return available


def is_cached(
    components: Sequence[Component],
    *,
    task: str,
    task_dir: pathlib.Path,
    seed: int,
    upstream: Mapping[str, Sequence[Component]] | None = None,
) -> bool:
    """True when every one of `components` has its outputs for this config in place (nothing would run)."""
    try:
        cached_outputs(components, task=task, task_dir=task_dir, seed=seed, upstream=upstream)
    except SeqpipeError:
        return False
    return True


def run_as_worker(
    components: Sequence[Component],
    *,
    stage: str,
    task: str,
    task_dir: pathlib.Path,
    seed: int,
    beam: config.BeamConfig,
    wait_seconds: float,
    poll_seconds: float = 2.0,
    upstream: Mapping[str, Sequence[Component]] | None = None,
) -> str:
    """Runs `stage` as a non-chief worker of a multi-worker cluster; returns "ran" or "cached".

    The chief (`pipeline run`) runs the stages before `stage`; this waits until their outputs are in
    `task_dir` (storage every worker reads), then runs `stage` on the same inputs, side by side with the
    chief. Its own outputs go to a temporary folder and are thrown away: the chief writes the artifacts.
    A stage the chief has already finished (cached) is not run again. `upstream`: as for `run_task`.

    Raises:
        SeqpipeError: the earlier stages' outputs did not appear within `wait_seconds`.
    """
    names = [component.spec.name for component in components]
    position = names.index(stage)
    before, component = components[:position], components[position]
    deadline = time.monotonic() + wait_seconds
    print(f"[{task}] worker: waiting for the chief's {', '.join(names[:position])} stages", flush=True)
    while True:
        try:
            available = cached_outputs(before, task=task, task_dir=task_dir, seed=seed)
            break
        except SeqpipeError:
            if time.monotonic() > deadline:
                raise SeqpipeError(
                    f"[{task}] worker: the chief's stages before {stage} did not finish within {wait_seconds:.0f}s"
                ) from None
            time.sleep(poll_seconds)
    available.update(upstream_outputs(upstream or {}, task=task, task_dir=task_dir, seed=seed))
    inputs = _inputs(component, available)
    fingerprint = stage_fingerprint(component, inputs, seed)
    stage_root = task_dir / stage
    if _load_outputs(component, stage_root / fingerprint, fingerprint) is not None:
        print(f"[{task}] worker: {stage} is cached; nothing to do", flush=True)
        return "cached"
    with tempfile.TemporaryDirectory(prefix=f"seqpipe-{stage}-worker-") as folder:
        scratch = pathlib.Path(folder)
        work_dir = scratch / "work"
        chief_work_dir = stage_root / f".work-{fingerprint}"
        if chief_work_dir.exists():  # resume from the checkpoint the chief resumes from
            shutil.copytree(chief_work_dir, work_dir)
        log = tracking.StageLog(None, scratch)
        context = _context(component, inputs, fingerprint, scratch, log, task, task_dir, seed, beam, work_dir)
        started = time.perf_counter()
        _call_executor(component, context)
    print(f"[{task}] {stage:<10} {'ran':>6} in {time.perf_counter() - started:6.1f}s (worker)", flush=True)
    return "ran"


def fingerprints(
    components: Sequence[Component], seed: int, upstream: Mapping[str, Sequence[Component]] | None = None
) -> dict[str, str]:
    """Each stage's fingerprint, computed without running anything (an output's fingerprint is its stage's);
    `upstream`: the stages of the tasks it reads, as for `run_task`."""
    above = {task: fingerprints(stages, seed) for task, stages in (upstream or {}).items()}
    found: dict[str, str] = {}
    for component in components:
        inputs = {
            name: above[channel.task][channel.stage] if channel.task else found[channel.stage]
            for name, channel in component.inputs.items()
        }
        found[component.spec.name] = _fingerprint(component, inputs, seed)
    return found


def stage_fingerprint(component: Component, inputs: dict[str, artifacts.Artifact], seed: int) -> str:
    """Hashes the parameters, the code and the inputs' fingerprints of a stage."""
    return _fingerprint(component, {name: artifact.fingerprint for name, artifact in inputs.items()}, seed)


def _fingerprint(component: Component, inputs: dict[str, str], seed: int) -> str:
    digest = hashlib.sha256()
    payload = {
        "stage": component.spec.name,
        "parameters": config.to_dict(component.parameters),
        # The files the settings name (word vectors, CNN weights, object boxes), by content: replacing one
        # at the same path reruns the stage.
        "files": {path: code.file_digest(path) for path in config.named_files(component.parameters)},
        "seed": seed,
        "inputs": dict(sorted(inputs.items())),
        "code": stage_code(component).version(),
    }
    digest.update(json.dumps(payload, sort_keys=True, default=str).encode())
    return digest.hexdigest()[:_FINGERPRINT_CHARS]


def stage_code(component: Component) -> code.Code:
    """The code `component` runs: the closure of its executor and the parts of its kind it loads."""
    return code.closure((component.spec.executor, *component.code), PROJECT_ROOT)


def _inputs(component: Component, available: Available) -> dict[str, artifacts.Artifact]:
    """The artifacts `component`'s inputs are wired to, from the stages before it."""
    inputs = {}
    for name, channel in component.inputs.items():
        if channel.key not in available:
            source = f"{channel.task}'s " if channel.task else ""
            raise RuntimeError(
                f"stage {component.spec.name} reads {source}{channel.stage}.{channel.output} for input {name!r}, "
                "which no earlier stage made"
            )
        inputs[name] = available[channel.key]
    return inputs


def _load_outputs(component: Component, folder: pathlib.Path, fingerprint: str) -> dict | None:
    outputs = {}
    for name, kind in component.spec.outputs.items():
        artifact = artifacts.Artifact.load(folder / name)
        if not isinstance(artifact, kind) or artifact.fingerprint != fingerprint:
            return None
        outputs[name] = artifact
    return outputs


def _execute(
    component: Component,
    inputs: dict[str, artifacts.Artifact],
    fingerprint: str,
    stage_root: pathlib.Path,
    task: str,
    task_dir: pathlib.Path,
    seed: int,
    beam: config.BeamConfig,
    tracker: tracking.RunTracker | None,
) -> dict[str, artifacts.Artifact]:
    spec = component.spec
    stage_root.mkdir(parents=True, exist_ok=True)
    _remove_stale_temporaries(stage_root)
    temporary = stage_root / f".tmp-{fingerprint}-{os.getpid()}@{socket.gethostname()}"
    shutil.rmtree(temporary, ignore_errors=True)
    log = tracking.StageLog(tracker, temporary)
    work_dir = stage_root / f".work-{fingerprint}"
    context = _context(component, inputs, fingerprint, temporary, log, task, task_dir, seed, beam, work_dir)
    outputs = context.outputs
    try:
        _call_executor(component, context)
        for artifact in outputs.values():
            artifact.write_metadata()
        log.save(temporary)
        final = stage_root / fingerprint
        if final.exists():  # an incomplete folder from an earlier crash, or a forced rerun
            shutil.rmtree(final)
        temporary.rename(final)
        shutil.rmtree(work_dir, ignore_errors=True)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    return {
        name: type(artifact)(final / name, fingerprint, spec.name, artifact.properties)
        for name, artifact in outputs.items()
    }


def _context(
    component: Component,
    inputs: dict[str, artifacts.Artifact],
    fingerprint: str,
    folder: pathlib.Path,
    log: tracking.StageLog,
    task: str,
    task_dir: pathlib.Path,
    seed: int,
    beam: config.BeamConfig,
    work_dir: pathlib.Path,
) -> StageContext:
    """The context an executor gets: its inputs, and its outputs as empty artifacts, one folder each in `folder`."""
    spec = component.spec
    outputs: dict[str, Any] = {}
    for name, kind in spec.outputs.items():
        (folder / name).mkdir(parents=True)
        outputs[name] = kind(folder / name, fingerprint, spec.name)
    return StageContext(task, spec.name, component.parameters, inputs, outputs, log, seed, beam, task_dir, work_dir)


def _call_executor(component: Component, context: StageContext) -> None:
    try:
        component.spec.load_executor()(context)
    finally:
        stop_watching()


def _remove_stale_temporaries(stage_root: pathlib.Path) -> None:
    """Removes temporary folders left by crashed runs of this machine (their process is gone); another
    machine's, on a shared run folder, are that machine's to judge."""
    for folder in stage_root.glob(".tmp-*"):
        named, _, host = folder.name.partition("@")
        pid = named.rsplit("-", 1)[-1]
        if host and host != socket.gethostname():
            continue
        if pid.isdigit() and not tracking.process_alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)
