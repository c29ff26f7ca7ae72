"""Evaluate: `Model` on `Shards` against the most-frequent-tag baseline -> `Evaluation`, `Blessing`."""

from __future__ import annotations

import dataclasses

from pipeline import artifacts
from pipeline.component import Component, ComponentSpec
from pipeline.config import EvaluateConfig, PipelineConfig, TaskConfig

SPEC = ComponentSpec(
    name="evaluate",
    inputs={
        "model": artifacts.Model,
        "shards": artifacts.Shards,
        "vocabulary": artifacts.Vocabulary,
        "examples": artifacts.Examples,
    },
    outputs={"evaluation": artifacts.Evaluation, "blessing": artifacts.Blessing},
    executor="components.evaluate.executor:run",
    code=("components/evaluate", "models"),
)


@dataclasses.dataclass(frozen=True)
class EvaluateParameters:
    evaluate: EvaluateConfig
    lowercase: bool  # a token is out of vocabulary when its (lowercased) form was not in training


def component(task: TaskConfig, config: PipelineConfig) -> Component:
    return Component(SPEC, EvaluateParameters(task.evaluate, task.preprocess.lowercase))
