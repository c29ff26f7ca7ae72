"""Evaluate executor: the model and its kind's baselines on the held-out splits, then the blessing.

The same for every kind: the kind's evaluator (`kinds/<kind>/evaluate.py`) scores each split; this
stage writes `metrics.json` and the predictions, logs metrics and plots, and blesses by the kind's rule
(`Kind.blessing`: metric, direction, baselines, margin), deciding on the eval split so that the test
split stays untouched by any choice.

Metric names follow one scheme for every kind: `<split>.<metric>` for the model, `<split>.<way>.<metric>`
for other ways of running it (`test.greedy.bleu`), `baseline.<name>.<split>.<metric>` for a baseline.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

import kinds
from kinds.base.evaluator import MODEL, EvaluatorInputs
from kinds.base.kind import BlessingRule
from kinds.base.parameters import EvaluateParameters
from pipeline import artifacts
from pipeline.component import StageContext
from pipeline.errors import EvaluationError


def run(context: StageContext) -> None:
    params: EvaluateParameters = context.parameters
    kind = kinds.get(params.kind)
    shards: artifacts.Shards = context.input("shards")
    evaluation: artifacts.Evaluation = context.output("evaluation")
    blessing: artifacts.Blessing = context.output("blessing")
    inputs = EvaluatorInputs(
        context.input("model"), shards, context.input("vocabulary"), context.input("examples"), evaluation.uri
    )
    evaluator = kind.load("evaluator")(inputs, params, context.progress)
    rule = evaluator.blessing(kind.blessing)
    if rule != kind.blessing:
        context.progress(f"blessing by {rule.label} (the kind's default: {kind.blessing.label})")

    splits = [s for s in ("eval", "test") if s in shards.manifest()["splits"]]
    deciding = deciding_split(splits)
    results: dict[str, Any] = {}
    for split in splits:
        found = evaluator.evaluate(split, deciding=split == deciding)
        results[split] = found.scores
        if found.predictions is not None:
            write_jsonl(evaluation.predictions_path(split), found.predictions)
        for png in found.plots:
            context.log.artifact(png, "plots")
        context.progress(f"{split}: {headline(found.scores, rule)}")
    for png in evaluator.finish(splits):
        context.log.artifact(png, "plots")

    verdict = bless(results, rule, params.evaluate.bless_margin)
    evaluation.path.write_text(json.dumps(_nan_to_none(results), indent=2, sort_keys=True) + "\n")
    evaluation.properties.update(
        {"primary_metric": f"test.{rule.metric}", "blessing_metric": rule.metric, "splits": splits}
    )
    blessing.properties.update(verdict)
    context.log.params({"blessing.metric": rule.metric})  # what `compare` ranks runs by
    context.log.metrics(flat_metrics(results, rule.baselines))
    context.log.artifact(evaluation.path, "evaluation")
    context.progress(("blessed: " if verdict["blessed"] else "NOT blessed: ") + verdict["reason"])


def deciding_split(splits: list[str]) -> str:
    """The split blessing is decided on: eval, or test when there is no eval split."""
    return "eval" if "eval" in splits else "test"


def headline(scores: Mapping[str, Mapping[str, Any]], rule: BlessingRule) -> str:
    """The blessing metric of every system of a split, for the console: `bleu: model 14.48, greedy 13.13, ...`."""
    shown = ", ".join(f"{system} {_number(rule.value(values))}" for system, values in scores.items())
    return f"{rule.label}: {shown}"


def bless(results: Mapping[str, Any], rule: BlessingRule, margin: float) -> dict[str, Any]:
    """The verdict: blessed when the model beats the best of the rule's baselines by `margin` (x the rule's scale).

    The eval split decides (the test split when there is none). For a lower-is-better metric the model must
    be at most the best baseline's value minus the margin.
    """
    split = deciding_split(list(results))
    scores = results[split]
    model = _known(rule.value(scores.get(MODEL, {})))
    found = {name: _known(rule.value(scores.get(name, {}))) for name in rule.baselines}
    missing = [name for name, value in found.items() if value is None]
    if model is None or len(missing) == len(found):
        systems = ("the model" if model is None else "") or f"the baselines {', '.join(missing)}"
        raise EvaluationError(
            f"evaluate: the {split} scores have no {rule.metric} for {systems} to bless by "
            f"(scored: {', '.join(sorted(scores))}; the model's metrics: {', '.join(sorted(scores.get(MODEL, {})))})"
        )
    sign = 1.0 if rule.higher_is_better else -1.0
    name = max((b for b in rule.baselines if found[b] is not None), key=lambda b: sign * found[b])
    baseline = found[name]
    needed = rule.margin_scale * margin
    blessed = bool(sign * (model - baseline) >= needed - 1e-9)  # 0.57 - 0.56 is 0.0099999... in floating point
    relation = "beats" if blessed else "does not beat"
    bar = f"{'+' if rule.higher_is_better else '-'} margin {needed:g}"
    reason = f"{split} {rule.label} {model:.4f} {relation} the {name} baseline's {baseline:.4f} {bar}"
    if missing:
        reason += f" (no {rule.metric} for {', '.join(missing)})"
    # The bless_margin at which this model would pass, rounded down (the way out a user may take for a trial).
    passing = math.floor(sign * (model - baseline) / rule.margin_scale * 10_000) / 10_000
    return {
        "blessed": blessed,
        "reason": reason,
        "split": split,
        "model": model,
        "baseline": baseline,
        "against": name,
        "margin_to_pass": passing,
    }


def _known(value: Any) -> float | None:
    """A metric's value, or None when it is missing or NaN (nothing to compare)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return value


def flat_metrics(results: Mapping[str, Any], baselines: tuple[str, ...]) -> dict[str, float]:
    """Every float of the results under its metric name (see the module's docstring); counts and NaN left out."""
    flat: dict[str, float] = {}
    for split, by_system in results.items():
        for system, values in by_system.items():
            if system == MODEL:
                prefix = split
            elif system in baselines:
                prefix = f"baseline.{system}.{split}"
            else:
                prefix = f"{split}.{system}"
            for name, value in _floats(values):
                if math.isfinite(value):
                    flat[f"{prefix}.{name}"] = value
    return flat


def _floats(values: Mapping[str, Any], prefix: str = ""):
    """(dotted name, value) of every float in nested mappings; names made safe for MLflow."""
    for key, value in values.items():
        name = f"{prefix}{metric_name(str(key))}"
        if isinstance(value, Mapping):
            yield from _floats(value, f"{name}.")
        elif isinstance(value, float):
            yield name, value


# Characters that MLflow metric names do not allow but tags and labels hold, by name.
_NAMED = {".": "PUNCT_DOT", ",": "COMMA", ":": "COLON", "$": "DOLLAR", "(": "LPAREN", ")": "RPAREN"}


def metric_name(label: str) -> str:
    """A tag or label as part of an MLflow metric name (letters, digits and `_-` kept; punctuation tags named)."""
    if label in _NAMED:
        return _NAMED[label]
    return re.sub(r"[^\w-]", "_", label)


def write_jsonl(path, records) -> None:
    with path.open("w", encoding="utf-8") as stream:
        for record in records:
            stream.write(json.dumps(record, ensure_ascii=False) + "\n")


def _number(value: Any) -> str:
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.4f}"


def _nan_to_none(value: Any) -> Any:
    """NaN (no OOV token in a split, say) is not JSON: written as null."""
    if isinstance(value, dict):
        return {key: _nan_to_none(item) for key, item in value.items()}
    if isinstance(value, float) and math.isnan(value):
        return None
    return value
