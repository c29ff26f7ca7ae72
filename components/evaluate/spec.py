"""Evaluate: `Model` on `Shards` against the kind's baselines -> `Evaluation` and, by the kind's rule, `Blessing`."""

from __future__ import annotations

import kinds
from kinds.base.parameters import EvaluateParameters
from pipeline import artifacts
from pipeline.component import Component, ComponentSpec
from pipeline.config import PipelineConfig, TaskConfig, resolve_paths

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
)


def component(task: TaskConfig, config: PipelineConfig) -> Component:
    kind = kinds.get(task.kind)
    # Files the evaluation reads (a captioner's object boxes).
    evaluate = resolve_paths(task.evaluate, config, f"tasks.{task.name}.evaluate")
    parameters = EvaluateParameters(task.kind, evaluate, task.preprocess, task.sections())
    return Component(SPEC, parameters, code=kind.stage_code("evaluator"))
