"""Preprocess (Apache Beam): `Examples` -> `Vocabulary` (words, chars, tags) and `Shards` (TFRecords)."""

from __future__ import annotations

import dataclasses

from pipeline import artifacts
from pipeline.component import Component, ComponentSpec
from pipeline.config import PipelineConfig, PreprocessConfig, TaskConfig

SPEC = ComponentSpec(
    name="preprocess",
    # Statistics is an input so that preprocessing never starts on data that failed validation.
    inputs={"examples": artifacts.Examples, "statistics": artifacts.Statistics},
    outputs={"vocabulary": artifacts.Vocabulary, "shards": artifacts.Shards},
    executor="components.preprocess.executor:run",
    code=("components/preprocess", "models/text.py"),
)


@dataclasses.dataclass(frozen=True)
class PreprocessParameters:
    kind: str
    preprocess: PreprocessConfig


def component(task: TaskConfig, config: PipelineConfig) -> Component:
    return Component(SPEC, PreprocessParameters(task.kind, task.preprocess))
