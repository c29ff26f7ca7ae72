"""The classifier's settings: how the encoder's states become one vector (`model.pooling`), and batches by a
token budget (`train:`)."""

from __future__ import annotations

import dataclasses

from kinds.base.settings import TokenBudgetTrain
from pipeline.config import ModelConfig, TaskConfig, choice


@dataclasses.dataclass(frozen=True)
class ClassifierModel(ModelConfig):
    # `last`: the final state (both directions' for a bidirectional encoder); `mean`, `max`: over the unpadded
    # steps; `attention`: a learned weighting of the steps (Yang et al. 2016).
    pooling: str = dataclasses.field(default="attention", metadata=choice("last", "mean", "max", "attention"))


@dataclasses.dataclass(frozen=True)
class ClassifierTask(TaskConfig):
    model: ClassifierModel = ClassifierModel()
    train: TokenBudgetTrain = TokenBudgetTrain()
