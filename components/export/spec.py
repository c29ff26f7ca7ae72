"""Export: a blessed `Model` + `Vocabulary` -> a SavedModel that takes raw strings, pushed to `serving/<version>/`."""

from __future__ import annotations

import dataclasses

from pipeline import artifacts
from pipeline.component import Component, ComponentSpec
from pipeline.config import DecodeConfig, ExportConfig, PipelineConfig, PreprocessConfig, TaskConfig

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
    decode: DecodeConfig = DecodeConfig()  # translators: the decoder inside the graph
    evaluate_batch_size: int = 128  # translators: the evaluate stage's batches, for infra-validation


def component(task: TaskConfig, config: PipelineConfig) -> Component:
    return Component(
        SPEC, ExportParameters(task.export, task.preprocess, task.kind, task.decode, task.evaluate.batch_size)
    )
