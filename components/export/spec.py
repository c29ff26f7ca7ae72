"""Export: a blessed `Model` + `Vocabulary` -> a SavedModel that takes raw strings, pushed to `serving/<version>/`."""

from __future__ import annotations

import dataclasses

from pipeline import artifacts
from pipeline.component import Component, ComponentSpec
from pipeline.config import ExportConfig, PipelineConfig, PreprocessConfig, TaskConfig

SPEC = ComponentSpec(
    name="export",
    inputs={
        "model": artifacts.Model,
        "vocabulary": artifacts.Vocabulary,
        "blessing": artifacts.Blessing,
        "evaluation": artifacts.Evaluation,  # the Keras model's predictions, to validate the SavedModel against
        "examples": artifacts.Examples,  # the test split, to compare with the registered champion
    },
    outputs={"pushed_model": artifacts.PushedModel},
    executor="components.export.executor:run",
    code=("components/export", "models"),
)


@dataclasses.dataclass(frozen=True)
class ExportParameters:
    export: ExportConfig
    preprocess: PreprocessConfig  # the tokenizer and casing of the serving graph
    kind: str = "tagger"


def component(task: TaskConfig, config: PipelineConfig) -> Component:
    return Component(SPEC, ExportParameters(task.export, task.preprocess, task.kind))
