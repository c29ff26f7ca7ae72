"""The evaluate stage on the session's tiny model (`evaluated` in conftest), and `bless()` by hand."""

from __future__ import annotations

import pytest

from components.evaluate import executor
from kinds import tagger
from kinds.base.kind import BlessingRule
from pipeline.errors import EvaluationError

SYSTEMS = ("model", "most_frequent_tag")
RULE = tagger.KIND.blessing


def bless(results: dict, margin: float) -> dict:
    return executor.bless(results, RULE, margin)


def results(**splits: tuple[float, float]) -> dict:
    """Evaluation results holding only what `bless` reads: split=(model accuracy, baseline accuracy)."""
    return {
        split: {"model": {"token_accuracy": model}, "most_frequent_tag": {"token_accuracy": baseline}}
        for split, (model, baseline) in splits.items()
    }


# ----------------------------------------------------------------------------------------------
# The stage


def test_metrics_hold_model_and_baseline_scores_per_held_out_split(evaluated):
    metrics = evaluated.output("evaluation").read()

    assert set(metrics) == {"eval", "test"}
    for split in metrics:
        assert set(metrics[split]) == set(SYSTEMS)
        for system in SYSTEMS:
            assert 0.0 <= metrics[split][system]["token_accuracy"] <= 1.0


def test_scores_count_every_token_of_the_split(evaluated, preprocessed):
    metrics = evaluated.output("evaluation").read()
    manifest = preprocessed.output("shards").manifest()["splits"]

    for split in metrics:
        for system in SYSTEMS:
            assert metrics[split][system]["tokens"] == manifest[split]["tokens"]


def test_blessing_follows_bless_on_the_written_metrics(evaluated, tiny_task):
    metrics = evaluated.output("evaluation").read()

    verdict = bless(metrics, tiny_task.evaluate.bless_margin)

    assert evaluated.output("blessing").properties == verdict
    assert evaluated.output("blessing").blessed == verdict["blessed"]


def test_a_confusion_matrix_is_plotted_and_logged_per_split(evaluated):
    uri = evaluated.output("evaluation").uri
    logged = [event["path"] for event in evaluated.log.events if event["kind"] == "artifact"]

    for split in ("eval", "test"):
        assert (uri / f"confusion_matrix_{split}.png").is_file()
        assert f"evaluation/confusion_matrix_{split}.png" in logged


def test_model_and_baseline_accuracies_are_logged(evaluated):
    metrics = evaluated.output("evaluation").read()
    (logged,) = [event["metrics"] for event in evaluated.log.events if event["kind"] == "metrics"]

    assert logged["test.token_accuracy"] == pytest.approx(metrics["test"]["model"]["token_accuracy"])
    baseline = metrics["test"]["most_frequent_tag"]["token_accuracy"]
    assert logged["baseline.most_frequent_tag.test.token_accuracy"] == pytest.approx(baseline)
    # Per-tag scores of the model, named after the tag, and counts (ints) left out of the metrics.
    assert logged["test.per_tag.NOUN.f1"] == pytest.approx(metrics["test"]["model"]["per_tag"]["NOUN"]["f1"])
    assert "test.tokens" not in logged


# ----------------------------------------------------------------------------------------------
# bless()


def test_a_model_beating_the_baseline_by_more_than_the_margin_is_blessed():
    assert bless(results(eval=(0.9, 0.5)), margin=0.25)["blessed"]


def test_a_model_exactly_at_the_margin_is_blessed():
    assert bless(results(eval=(0.75, 0.5)), margin=0.25)["blessed"]


def test_a_model_just_below_the_margin_is_not_blessed():
    assert not bless(results(eval=(0.7499, 0.5)), margin=0.25)["blessed"]


def test_a_model_worse_than_the_baseline_is_not_blessed_even_with_zero_margin():
    assert not bless(results(eval=(0.4, 0.5)), margin=0.0)["blessed"]


def test_a_model_exactly_at_a_decimal_margin_is_blessed():
    # 57 of 100 tokens right against the baseline's 56: exactly the default margin 0.01 better.
    assert bless(results(eval=(57 / 100, 56 / 100)), margin=0.01)["blessed"]


def test_eval_decides_over_test():
    verdict = bless(results(eval=(0.5, 0.5), test=(1.0, 0.5)), margin=0.25)

    assert verdict["split"] == "eval"
    assert not verdict["blessed"]


def test_test_decides_when_there_is_no_eval_split():
    verdict = bless(results(test=(1.0, 0.5)), margin=0.25)

    assert verdict["split"] == "test"
    assert verdict["blessed"]


def test_verdict_gives_the_accuracies_and_a_reason():
    verdict = bless(results(eval=(0.5, 0.75)), margin=0.0)

    assert (verdict["model"], verdict["baseline"]) == (0.5, 0.75)
    assert verdict["reason"] == (
        "eval token accuracy 0.5000 does not beat the most_frequent_tag baseline's 0.7500 + margin 0"
    )


def test_a_lower_is_better_metric_is_blessed_below_the_best_baseline_minus_the_margin():
    rule = BlessingRule(metric="bits", baselines=("ngram", "unigram"), higher_is_better=False)
    scores = {"eval": {"model": {"bits": 1.8}, "ngram": {"bits": 2.0}, "unigram": {"bits": 4.0}}}

    assert executor.bless(scores, rule, 0.2)["blessed"]
    verdict = executor.bless(scores, rule, 0.21)
    assert not verdict["blessed"] and verdict["against"] == "ngram"
    assert verdict["reason"] == "eval bits 1.8000 does not beat the ngram baseline's 2.0000 - margin 0.21"


def test_the_margin_is_scaled_to_the_metric_and_the_strongest_baseline_decides():
    rule = BlessingRule(metric="bleu", baselines=("copy", "other"), margin_scale=100.0)
    scores = {"test": {"model": {"bleu": 14.0}, "copy": {"bleu": 3.0}, "other": {"bleu": 8.9}}}

    assert executor.bless(scores, rule, 0.05)["blessed"]  # 5 BLEU points above 8.9
    assert not executor.bless(scores, rule, 0.06)["blessed"]


def test_metric_names_follow_one_scheme_for_every_system():
    results = {
        "test": {
            "model": {"bleu": 10.0, "sentences": 4, "per_tag": {".": {"f1": 0.5}}},
            "greedy": {"bleu": 9.0},
            "copy_source": {"bleu": 1.0, "chrf": float("nan")},
        }
    }

    assert executor.flat_metrics(results, baselines=("copy_source",)) == {
        "test.bleu": 10.0,
        "test.per_tag.PUNCT_DOT.f1": 0.5,
        "test.greedy.bleu": 9.0,
        "baseline.copy_source.test.bleu": 1.0,
    }


def test_a_metric_missing_from_the_model_scores_is_a_one_line_error():
    rule = BlessingRule(metric="bleu", baselines=("copy",))
    scores = {"eval": {"model": {"chrf": 30.0}, "copy": {"bleu": 3.0}}}

    with pytest.raises(EvaluationError, match=r"^evaluate: the eval scores have no bleu for the model to bless by "):
        executor.bless(scores, rule, 0.0)


def test_a_baseline_without_the_metric_is_left_out_and_said():
    rule = BlessingRule(metric="bleu", baselines=("copy", "other"))
    scores = {"eval": {"model": {"bleu": 9.0}, "copy": {"bleu": float("nan")}, "other": {"bleu": 3.0}}}

    verdict = executor.bless(scores, rule, 0.0)

    assert verdict["blessed"] and verdict["against"] == "other"
    assert verdict["reason"].endswith("(no bleu for copy)")
    with pytest.raises(EvaluationError, match="no bleu for the baselines copy, other"):
        executor.bless({"eval": {"model": {"bleu": 9.0}, "copy": {}, "other": {}}}, rule, 0.0)
