"""Statistics: `Examples` + `Rejects` -> `Statistics` and `Anomalies`; fails the run on a broken threshold."""

from __future__ import annotations

import dataclasses

from pipeline import artifacts
from pipeline.component import Component, ComponentSpec
from pipeline.config import PipelineConfig, TaskConfig

SPEC = ComponentSpec(
    name="statistics",
    inputs={"examples": artifacts.Examples, "rejects": artifacts.Rejects},
    outputs={"statistics": artifacts.Statistics, "anomalies": artifacts.Anomalies},
    executor="components.statistics.executor:run",
    code=("components/statistics",),
)


@dataclasses.dataclass(frozen=True)
class StatisticsParameters:
    max_reject_fraction: float
    lowercase: bool  # OOV rates are measured on the tokens the model will see


def component(task: TaskConfig, config: PipelineConfig) -> Component:
    return Component(SPEC, StatisticsParameters(task.data.max_reject_fraction, task.preprocess.lowercase))
