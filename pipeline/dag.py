"""The pipeline of each task kind: which stages, in which order. Connects stages and nothing else."""

from __future__ import annotations

from components.curriculum import spec as curriculum
from components.evaluate import spec as evaluate
from components.export import spec as export
from components.ingest import spec as ingest
from components.preprocess import spec as preprocess
from components.statistics import spec as statistics
from components.train import spec as train
from pipeline.component import Component
from pipeline.config import IMPLEMENTED_KINDS, PipelineConfig, TaskConfig
from pipeline.errors import ConfigError

_STAGES = {
    "tagger": (ingest, statistics, preprocess, train, evaluate, export),
    "classifier": (ingest, statistics, preprocess, train, evaluate, export),
    "language_model": (ingest, statistics, preprocess, train, evaluate, export),
    "translator": (ingest, statistics, preprocess, curriculum, train, evaluate, export),
}

# The metrics `compare` shows for each kind, the primary one (that runs are sorted by) first.
METRICS = {
    "tagger": ("test.token_accuracy", "baseline.test.token_accuracy", "test.oov_accuracy", "eval.token_accuracy"),
    "classifier": (
        "test.accuracy",
        "baseline.tfidf_logreg.test.accuracy",
        "baseline.majority.test.accuracy",
        "test.macro_f1",
        "eval.accuracy",
    ),
    "translator": (
        "test.bleu",
        "test.greedy.bleu",
        "test.wrong_start.bleu",
        "baseline.copy_source.test.bleu",
        "test.chrf",
        "eval.bleu",
    ),
    "language_model": (
        "test.bits_per_unit",
        "baseline.kneser_ney.test.bits_per_unit",
        "test.perplexity",
        "eval.bits_per_unit",
    ),
}


# Kinds whose primary metric is a loss (bits per unit): lower is better.
LOWER_IS_BETTER = ("language_model",)


def build(task: TaskConfig, config: PipelineConfig) -> list[Component]:
    """The components of `task`'s pipeline, producers before consumers."""
    if task.kind not in IMPLEMENTED_KINDS:
        raise ConfigError(
            f"tasks.{task.name}.kind: {task.kind!r} is not implemented yet (available: {', '.join(IMPLEMENTED_KINDS)})"
        )
    return [stage.component(task, config) for stage in _STAGES[task.kind]]
