"""What the evaluate stage needs of a kind: an `Evaluator` that scores the model and its baselines on a split.

The stage (`executor.py`) is the same for every kind: it asks the kind's evaluator for each held-out
split's scores, predictions and plots, then writes, plots, blesses and logs. An evaluator only measures.
"""

from __future__ import annotations

import dataclasses
import pathlib
from typing import Any

from kinds.base.kind import BlessingRule
from kinds.base.parameters import EvaluateParameters
from pipeline import artifacts

MODEL = "model"


@dataclasses.dataclass
class SplitEvaluation:
    """What an evaluator found on one split.

    Attributes:
        scores: system -> its scores: `model` (the configured model), each baseline by its name, and
            other ways of running the model by theirs (a translator's `greedy`). In a system's scores
            a float is a metric (logged), an int a count (kept in metrics.json only); nested mappings
            are logged with dotted names (`per_tag.NOUN.f1`).
        predictions: the model's answers, one JSON-able record per example, for the export stage to
            check the SavedModel against (None: nothing for export on this split).
        plots: PNG files written under the evaluation folder, logged to the run.
    """

    scores: dict[str, dict[str, Any]]
    predictions: list[dict[str, Any]] | None = None
    plots: list[pathlib.Path] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class EvaluatorInputs:
    """The evaluate stage's inputs and its output folder, as an evaluator reads them."""

    model: artifacts.Model
    shards: artifacts.Shards
    vocabulary: artifacts.Vocabulary
    examples: artifacts.Examples
    folder: pathlib.Path  # where plots go (the Evaluation artifact's folder)


class Evaluator:
    """A kind's evaluator: fits its baselines once, then scores one split at a time.

    Args:
        inputs: the stage's inputs.
        params: the stage's parameters.
        progress: prints a progress line.
    """

    def __init__(self, inputs: EvaluatorInputs, params: EvaluateParameters, progress) -> None:
        self.inputs = inputs
        self.params = params
        self.progress = progress

    def evaluate(self, split: str, deciding: bool) -> SplitEvaluation:
        """Scores the model and the baselines on `split`; `deciding`: the split blessing is decided on."""
        raise NotImplementedError

    def blessing(self, rule: BlessingRule) -> BlessingRule:
        """The rule this task's model is blessed and compared by: the kind's, or one that fits the data
        better (a tagger of BIO tags is judged by entity F1)."""
        return rule

    def finish(self, splits: list[str]) -> list[pathlib.Path]:
        """Plots drawn once all splits are scored (a translator's attention heatmaps); their paths."""
        return []
