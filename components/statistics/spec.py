"""Statistics: `Examples` + `Rejects` -> `Statistics` and `Anomalies`; fails the run on a broken threshold."""

from __future__ import annotations

import dataclasses

import kinds
from kinds.base.kind import StatisticsLayout
from pipeline import artifacts
from pipeline.component import Component, ComponentSpec
from pipeline.config import PipelineConfig, PreprocessConfig, StatisticsConfig, TaskConfig

SPEC = ComponentSpec(
    name="statistics",
    inputs={"examples": artifacts.Examples, "rejects": artifacts.Rejects},
    outputs={"statistics": artifacts.Statistics, "anomalies": artifacts.Anomalies},
    executor="components.statistics.executor:run",
)


@dataclasses.dataclass(frozen=True)
class StatisticsParameters:
    max_reject_fraction: float
    statistics: StatisticsConfig = StatisticsConfig()
    # Raw text is cut into words as the model's tokenizer does, and OOV rates are measured on the
    # forms the model looks up.
    tokenizer: str = "regex"
    token_pattern: str = PreprocessConfig.token_pattern
    normalization: str = "none"
    lowercase: bool = False
    # Which fields of the examples are sequences and labels: the kind's (`Kind.statistics`).
    layout: StatisticsLayout = StatisticsLayout(sequences=(("text", "tokens", True),), labels="tags")


def component(task: TaskConfig, config: PipelineConfig) -> Component:
    p = task.preprocess
    # Wordpieces are learned in preprocessing, after this stage: lengths and OOV rates are of words.
    tokenizer = "regex" if p.tokenizer == "wordpiece" else p.tokenizer
    return Component(
        SPEC,
        StatisticsParameters(
            task.data.max_reject_fraction,
            task.statistics,
            tokenizer,
            p.token_pattern,
            p.normalization,
            p.lowercase,
            kinds.get(task.kind).statistics,
        ),
    )
