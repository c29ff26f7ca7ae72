"""The length kind's settings: its model's one key of its own, `model.units`."""

from __future__ import annotations

import dataclasses

from pipeline.config import ModelConfig, TaskConfig, at_least


@dataclasses.dataclass(frozen=True)
class LengthModel(ModelConfig):
    # The units of the GRU that counts the words.
    units: int = dataclasses.field(default=8, metadata=at_least(1))


@dataclasses.dataclass(frozen=True)
class LengthTask(TaskConfig):
    model: LengthModel = LengthModel()
