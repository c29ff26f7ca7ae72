"""Curriculum: the task's `curriculum` config -> `Schedule`, scheduled sampling's ε_i tabulated over training.

No inputs: the schedule depends only on the config (and, for a schedule in steps, on the estimated
number of training steps), so it is made once and cached until those change.
"""

from __future__ import annotations

import dataclasses

from pipeline import artifacts
from pipeline.component import Component, ComponentSpec
from pipeline.config import CurriculumConfig, PipelineConfig, TaskConfig

SPEC = ComponentSpec(
    name="curriculum",
    inputs={},
    outputs={"schedule": artifacts.Schedule},
    executor="components.curriculum.executor:run",
    code=("components/curriculum", "models/schedules.py"),
)


@dataclasses.dataclass(frozen=True)
class CurriculumParameters:
    curriculum: CurriculumConfig
    # How many values ε_0 .. ε_{horizon-1} to tabulate: the training epochs (unit `epoch`) or an estimate of
    # the training steps (unit `step`). Past the end, `Schedule.epsilon` holds the last value.
    horizon: int


def horizon(task: TaskConfig, steps_per_epoch: int = 1000) -> int:
    """The positions training goes through: `train.epochs`, times `steps_per_epoch` for a schedule in steps."""
    epochs = task.train.epochs
    return epochs if task.curriculum.unit == "epoch" else epochs * max(int(steps_per_epoch), 1)


def component(task: TaskConfig, config: PipelineConfig, steps_per_epoch: int = 1000) -> Component:
    return Component(SPEC, CurriculumParameters(task.curriculum, horizon(task, steps_per_epoch)))
