"""Export: a blessed `Model` + `Vocabulary` -> a SavedModel that takes raw strings, pushed to `serving/<version>/`."""

from __future__ import annotations

import dataclasses

import kinds
from pipeline import artifacts
from pipeline.component import Component, ComponentSpec
from pipeline.config import DecodeConfig, ExportConfig, PipelineConfig, PreprocessConfig, TaskConfig

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


@dataclasses.dataclass(frozen=True)
class ExportParameters:
    kind: str
    export: ExportConfig
    preprocess: PreprocessConfig  # the tokenizer and casing of the serving graph
    decode: DecodeConfig = DecodeConfig()  # translators: the decoder inside the graph
    evaluate_batch_size: int = 128  # the evaluate stage's batches (a translator's decoders' length limits)


def component(task: TaskConfig, config: PipelineConfig) -> Component:
    kind = kinds.get(task.kind)
    parameters = ExportParameters(task.kind, task.export, task.preprocess, task.decode, task.evaluate.batch_size)
    return Component(SPEC, parameters, code=kind.stage_code("export", "client"))
