"""Curriculum: the task's `curriculum` config + `Shards` -> `Schedule`, scheduled sampling's ε_i over training.

The schedule is tabulated over the positions training goes through: `train.epochs` (when it is left out, the
cap of training to convergence: the ε of a task that stops early never reaches the schedule's end), or for a schedule
in steps the real number of steps, counted from the training split's lengths in the Shards manifest
and the trainer's length buckets. The schedule's keys are checked when the config loads.
"""

from __future__ import annotations

import dataclasses

from kinds.base.settings import CurriculumConfig
from pipeline import artifacts
from pipeline.component import Component, ComponentSpec
from pipeline.config import PipelineConfig, TaskConfig

SPEC = ComponentSpec(
    name="curriculum",
    inputs={"shards": artifacts.Shards},
    outputs={"schedule": artifacts.Schedule},
    executor="components.curriculum.executor:run",
)


@dataclasses.dataclass(frozen=True)
class CurriculumParameters:
    curriculum: CurriculumConfig
    epochs: int | None  # None: to convergence
    # How the trainer batches an epoch, to count its steps: `train.batch_size` and `train.tokens_per_batch`.
    batch_size: int
    tokens_per_batch: int = 0


def component(task: TaskConfig, config: PipelineConfig) -> Component:
    t = task.train
    # A kind whose batches cannot be cut by a token budget has no `tokens_per_batch`: batches of sentences.
    budget = getattr(t, "tokens_per_batch", 0)
    return Component(SPEC, CurriculumParameters(task.sections()["curriculum"], t.epochs, t.batch_size, budget))
