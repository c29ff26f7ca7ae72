"""What a stage is: a spec (typed inputs, outputs), its parameters, and an executor that does the work."""

from __future__ import annotations

import dataclasses
import importlib
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
        inputs: input name -> artifact type; the runner finds each input by its type.
        outputs: output name -> artifact type.
        executor: `module:function` of the executor, imported only when the stage runs, so that
            building the DAG (and `--help`) does not import TensorFlow or Beam.
        code: source folders whose files are part of the stage's fingerprint (its code version).
    """

    name: str
    inputs: Mapping[str, type[artifacts.Artifact]]
    outputs: Mapping[str, type[artifacts.Artifact]]
    executor: str
    code: tuple[str, ...]

    def load_executor(self) -> Callable[[StageContext], None]:
        module, _, function = self.executor.partition(":")
        return getattr(importlib.import_module(module), function)


@dataclasses.dataclass(frozen=True)
class Component:
    """A stage of one task's pipeline: a spec plus its (frozen, JSON-able) parameters."""

    spec: ComponentSpec
    parameters: Any


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

    def progress(self, message: str) -> None:
        """Prints one progress line for this stage, with the seconds since it started."""
        elapsed = time.perf_counter() - self._started
        print(f"[{self.task}] {self.stage:<10} {elapsed:7.1f}s  {message}", flush=True)

    def output(self, name: str) -> Any:
        return self.outputs[name]

    def input(self, name: str) -> Any:
        return self.inputs[name]
