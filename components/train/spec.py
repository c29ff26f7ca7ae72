"""Train (Keras): `Shards` + `Vocabulary` (+ a translator's `Schedule`) -> `Model` of the task's kind."""

from __future__ import annotations

import dataclasses

from pipeline import artifacts
from pipeline.component import Component, ComponentSpec
from pipeline.config import ModelConfig, PipelineConfig, TaskConfig, TrainConfig

SPEC = ComponentSpec(
    name="train",
    inputs={"shards": artifacts.Shards, "vocabulary": artifacts.Vocabulary},
    outputs={"model": artifacts.Model},
    executor="components.train.executor:run",
    code=("components/train", "models"),
)
# Translators also read the curriculum's schedule of teacher forcing (scheduled sampling).
TRANSLATOR_SPEC = dataclasses.replace(SPEC, inputs={**SPEC.inputs, "schedule": artifacts.Schedule})


@dataclasses.dataclass(frozen=True)
class TrainParameters:
    kind: str
    model: ModelConfig
    train: TrainConfig
    tokenizer: str = "regex"  # how a language model's samples are joined: characters as they are, words by spaces


def component(task: TaskConfig, config: PipelineConfig) -> Component:
    spec = TRANSLATOR_SPEC if task.kind == "translator" else SPEC
    return Component(spec, TrainParameters(task.kind, task.model, task.train, task.preprocess.tokenizer))
