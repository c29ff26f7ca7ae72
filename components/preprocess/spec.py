"""Preprocess (Apache Beam): `Examples` -> `Vocabulary` and `Shards` (TFRecords), by the layout of the task's kind."""

from __future__ import annotations

import dataclasses

import kinds
from pipeline import artifacts
from pipeline.component import Component, ComponentSpec
from pipeline.config import PipelineConfig, PreprocessConfig, TaskConfig

SPEC = ComponentSpec(
    name="preprocess",
    # Statistics is an input so that preprocessing never starts on data that failed validation.
    inputs={"examples": artifacts.Examples, "statistics": artifacts.Statistics},
    outputs={"vocabulary": artifacts.Vocabulary, "shards": artifacts.Shards},
    executor="components.preprocess.executor:run",
)


@dataclasses.dataclass(frozen=True)
class PreprocessParameters:
    kind: str
    preprocess: PreprocessConfig


def component(task: TaskConfig, config: PipelineConfig) -> Component:
    kind = kinds.get(task.kind)
    return Component(SPEC, PreprocessParameters(task.kind, task.preprocess), code=kind.stage_code("layout"))
