"""The language model's settings: truncated backpropagation through time and the samples of each epoch
(`train:`)."""

from __future__ import annotations

import dataclasses

from pipeline import artifacts
from pipeline.config import ModelConfig, TaskConfig, TrainConfig, at_least, choice


@dataclasses.dataclass(frozen=True)
class LanguageModelTrain(TrainConfig):
    # Steps of truncated backpropagation through time (the window length); `batch_size` is the number of
    # parallel streams whose state is carried from one window to the next.
    bptt: int = dataclasses.field(default=64, metadata=at_least(1))
    # After each epoch, a sample of this many units at this temperature (and a greedy one).
    sample_length: int = dataclasses.field(default=300, metadata=at_least(1))
    sample_temperature: float = dataclasses.field(default=0.8, metadata={"min": 0.0})


@dataclasses.dataclass(frozen=True)
class LanguageModelModel(ModelConfig):
    # `forward` reads each document from its start; `backward` from its end (every document's units reversed in
    # training, evaluation and serving): the second language model of a tagger's features (`model.lm_features`),
    # which then gives each word the state at its first character, its right context read.
    direction: str = dataclasses.field(default="forward", metadata=choice("forward", "backward"))


@dataclasses.dataclass(frozen=True)
class LanguageModelTask(TaskConfig):
    model: LanguageModelModel = LanguageModelModel()
    train: LanguageModelTrain = LanguageModelTrain()


def direction_of(model: artifacts.Model) -> str:
    """Which way a trained language model reads (`model.direction`), from what its train stage saved."""
    return model.args()["model"].get("direction", "forward")
