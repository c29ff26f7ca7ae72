"""What a stage is: a spec (typed inputs, outputs), its parameters, and an executor that does the work.

A `Component` is one stage of one task's pipeline. Its inputs are wired to the outputs of earlier
stages by name (`Channel`s, set in `dag.py`), never found by globbing another stage's folder.
"""

from __future__ import annotations

import dataclasses
import faulthandler
import importlib
import os
import pathlib
import time
from collections.abc import Callable, Mapping
from typing import Any

from pipeline import artifacts, tracking
from pipeline.config import BeamConfig


@dataclasses.dataclass(frozen=True)
class ComponentSpec:
    """The declaration of a stage.

    Attributes:
        name: the stage name (`ingest`, `train`, ...).
        inputs: input name -> artifact type.
        outputs: output name -> artifact type.
        executor: `module:function` of the executor, imported only when the stage runs, so that
            building the DAG (and `--help`) does not import TensorFlow or Beam. The code it imports is part of
            the stage's fingerprint (`pipeline.code`).
    """

    name: str
    inputs: Mapping[str, type[artifacts.Artifact]]
    outputs: Mapping[str, type[artifacts.Artifact]]
    executor: str

    def load_executor(self) -> Callable[[StageContext], None]:
        module, _, function = self.executor.partition(":")
        return getattr(importlib.import_module(module), function)


@dataclasses.dataclass(frozen=True)
class Channel:
    """One output of one stage, as the input of another: `stage` and `output` name, and its artifact type;
    `task`, for an output of another task of the config (a language model a tagger reads), else None."""

    stage: str
    output: str
    type: type[artifacts.Artifact]
    task: str | None = None

    @property
    def key(self) -> tuple[str | None, str, str]:
        """Where the runner finds the artifact among those made so far (`runner.Available`)."""
        return (self.task, self.stage, self.output)

    def of_task(self, task: str) -> Channel:
        """This output as another task reads it."""
        return dataclasses.replace(self, task=task)


@dataclasses.dataclass(frozen=True)
class Component:
    """A stage of one task's pipeline: a spec plus its (frozen, JSON-able) parameters.

    Attributes:
        spec: what the stage is.
        parameters: what this task's config makes of it.
        code: what the stage loads of the task's kind (`module:attribute` references, or a file relative to the
            project root): with the executor, the roots of the code its fingerprint covers (`pipeline.code`).
        inputs: input name -> the `Channel` it reads; set by `wire`.
    """

    spec: ComponentSpec
    parameters: Any
    code: tuple[str, ...] = ()
    inputs: Mapping[str, Channel] = dataclasses.field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.spec.name

    def output(self, name: str) -> Channel:
        """The channel of this stage's output `name`, to wire into a later stage."""
        if name not in self.spec.outputs:
            raise KeyError(f"stage {self.spec.name} has no output {name!r} (outputs: {', '.join(self.spec.outputs)})")
        return Channel(self.spec.name, name, self.spec.outputs[name])

    def wire(self, **inputs: Channel) -> Component:
        """This component with its inputs connected: every input of the spec, each to a channel of its type.

        Raises:
            TypeError: an input is missing, unknown, or connected to a channel of another artifact type.
        """
        if set(inputs) != set(self.spec.inputs):
            raise TypeError(
                f"stage {self.spec.name} takes inputs {sorted(self.spec.inputs)}, was given {sorted(inputs)}"
            )
        for name, channel in inputs.items():
            if channel.type is not self.spec.inputs[name]:
                raise TypeError(
                    f"stage {self.spec.name}: input {name!r} needs a {self.spec.inputs[name].TYPE_NAME}, "
                    f"not {channel.stage}.{channel.output} ({channel.type.TYPE_NAME})"
                )
        return dataclasses.replace(self, inputs=dict(inputs))


# `SEQPIPE_STALL_SECONDS=N`: a stage silent for N seconds (no progress line) prints the Python stack of
# every thread to stderr, once, to show where a process waits. Off (0) by default.
STALL_SECONDS = float(os.environ.get("SEQPIPE_STALL_SECONDS") or 0)


def stop_watching() -> None:
    """Ends the stall watch of the stage that just finished (`SEQPIPE_STALL_SECONDS`)."""
    if STALL_SECONDS > 0:
        faulthandler.cancel_dump_traceback_later()


@dataclasses.dataclass
class StageContext:
    """Everything an executor gets: its inputs, its (not yet final) outputs, its parameters.

    Executors log metrics, params and files through `log`, never to MLflow directly, so that a cached
    stage can replay what it logged into a later run.

    `work_dir` survives a crash of the stage (it is named by the stage's fingerprint, not by the
    process) and is removed when the stage completes: the place for checkpoints to resume from.
    """

    task: str
    stage: str
    parameters: Any
    inputs: Mapping[str, artifacts.Artifact]
    outputs: Mapping[str, artifacts.Artifact]
    log: tracking.StageLog
    seed: int
    beam: BeamConfig
    task_dir: pathlib.Path
    work_dir: pathlib.Path
    _started: float = dataclasses.field(default_factory=time.perf_counter)

    def __post_init__(self) -> None:
        self._watch()

    def progress(self, message: str) -> None:
        """Prints one progress line for this stage, with the seconds since it started."""
        elapsed = time.perf_counter() - self._started
        print(f"[{self.task}] {self.stage:<10} {elapsed:7.1f}s  {message}", flush=True)
        self._watch()

    def _watch(self) -> None:
        if STALL_SECONDS > 0:  # re-armed by every progress line
            faulthandler.dump_traceback_later(STALL_SECONDS, exit=False)

    def output(self, name: str) -> Any:
        return self.outputs[name]

    def input(self, name: str) -> Any:
        return self.inputs[name]
