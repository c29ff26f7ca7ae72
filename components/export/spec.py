"""Export: a blessed `Model` + `Vocabulary` -> a SavedModel that takes raw strings, pushed to `serving/<version>/`."""

from __future__ import annotations

import kinds
from kinds.base.parameters import ExportParameters
from pipeline import artifacts
from pipeline.component import Component, ComponentSpec
from pipeline.config import PipelineConfig, TaskConfig

SPEC = ComponentSpec(
    name="export",
    inputs={
        "model": artifacts.Model,
        "vocabulary": artifacts.Vocabulary,
        "blessing": artifacts.Blessing,
        "evaluation": artifacts.Evaluation,  # the Keras model's answers, to validate the SavedModel against
        "examples": artifacts.Examples,  # the records both it and the champion are scored on
    },
    outputs={"pushed_model": artifacts.PushedModel},
    executor="components.export.executor:run",
)


def component(task: TaskConfig, config: PipelineConfig) -> Component:
    kind = kinds.get(task.kind)
    parameters = ExportParameters(task.kind, task.export, task.preprocess, task.evaluate.batch_size, task.sections())
    return Component(SPEC, parameters, code=kind.stage_code("export", "client"))
