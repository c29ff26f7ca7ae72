"""Train (Keras): `Shards` + `Vocabulary` (+ the curriculum's `Schedule`) -> `Model` of the task's kind."""

from __future__ import annotations

import dataclasses

import kinds
from pipeline import artifacts
from pipeline.component import Component, ComponentSpec
from pipeline.config import DecodeConfig, ModelConfig, PipelineConfig, TaskConfig, TrainConfig

SPEC = ComponentSpec(
    name="train",
    inputs={"shards": artifacts.Shards, "vocabulary": artifacts.Vocabulary},
    outputs={"model": artifacts.Model},
    executor="components.train.executor:run",
)
# Kinds with a curriculum also read its schedule of teacher forcing (scheduled sampling).
CURRICULUM_SPEC = dataclasses.replace(SPEC, inputs={**SPEC.inputs, "schedule": artifacts.Schedule})


@dataclasses.dataclass(frozen=True)
class TrainParameters:
    kind: str
    model: ModelConfig
    train: TrainConfig
    tokenizer: str = "regex"  # how a language model's samples are joined: characters as they are, words by spaces
    # The keys of `train` the kind chose because the config left them out: a recipe may fit those to the corpus.
    chosen_by_kind: tuple[str, ...] = ()
    # What a decoder's per-epoch eval decoding needs (translators, captioners), and a captioner's image side.
    decode: DecodeConfig = DecodeConfig()
    image_size: int = 64


def component(task: TaskConfig, config: PipelineConfig) -> Component:
    kind = kinds.get(task.kind)
    model = task.model
    if model.encoder_weights is not None:  # a path relative to the config file, resolved as the data files are
        model = dataclasses.replace(model, encoder_weights=str(config.resolve(model.encoder_weights)))
    return Component(
        CURRICULUM_SPEC if kind.curriculum else SPEC,
        TrainParameters(
            task.kind,
            model,
            task.train,
            task.preprocess.tokenizer,
            tuple(key.removeprefix("train.") for key, _ in task.kind_defaults if key.startswith("train.")),
            task.decode,
            task.preprocess.image_size,
        ),
        code=kind.stage_code("recipe"),
    )
