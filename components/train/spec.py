"""Train (Keras): `Shards` + `Vocabulary` (+ the curriculum's `Schedule`) -> `Model` of the task's kind."""

from __future__ import annotations

import dataclasses

import kinds
from kinds.base.parameters import TrainParameters
from pipeline import artifacts
from pipeline.component import Component, ComponentSpec
from pipeline.config import PipelineConfig, TaskConfig, resolve_paths, upstream_tasks

SPEC = ComponentSpec(
    name="train",
    inputs={"shards": artifacts.Shards, "vocabulary": artifacts.Vocabulary},
    outputs={"model": artifacts.Model},
    executor="components.train.executor:run",
)
# Kinds with a curriculum also read its schedule of teacher forcing (scheduled sampling).
CURRICULUM_SPEC = dataclasses.replace(SPEC, inputs={**SPEC.inputs, "schedule": artifacts.Schedule})
# What a task reads of each task whose model it uses (`upstream.TASK.OUTPUT`, see dag.py), and its own examples,
# whose held-out records those tasks must not have seen.
UPSTREAM_INPUTS = {"model": artifacts.Model, "vocabulary": artifacts.Vocabulary, "examples": artifacts.Examples}


def component(task: TaskConfig, config: PipelineConfig) -> Component:
    kind = kinds.get(task.kind)
    parameters = TrainParameters(
        task.kind,
        # Files the model reads (a captioner's CNN weights, word vectors).
        resolve_paths(task.model, config, f"tasks.{task.name}.model"),
        task.train,
        task.preprocess,
        tuple(key.removeprefix("train.") for key, _ in task.kind_defaults if key.startswith("train.")),
        task.sections(),
    )
    spec = CURRICULUM_SPEC if kind.curriculum else SPEC
    if upstream_tasks(task):
        inputs = {
            f"upstream.{name}.{output}": artifact
            for name in upstream_tasks(task)
            for output, artifact in UPSTREAM_INPUTS.items()
        }
        spec = dataclasses.replace(spec, inputs={**spec.inputs, "examples": artifacts.Examples, **inputs})
    return Component(spec, parameters, code=kind.stage_code("recipe"))
