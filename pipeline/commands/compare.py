"""`pipeline compare`: the MLflow runs of a task side by side, by the metrics its kind names, best first;
with `--over train.seed`, the mean and spread of the runs that differ only in their seed. Runs are ranked
only against runs scored on the same test split (the digest of the dataset input they logged for it)."""

from __future__ import annotations

import argparse

from pipeline import compare, tracking
from pipeline.commands import load_config
from pipeline.errors import SeqpipeError


def main(args: argparse.Namespace) -> int:
    from mlflow.tracking import MlflowClient

    import kinds

    config = load_config(args)
    task = config.task(args.task)
    kind = kinds.get(task.kind)
    client = MlflowClient(tracking_uri=config.tracking_uri)
    experiment = client.get_experiment_by_name(task.name)
    runs = client.search_runs([experiment.experiment_id], max_results=1000) if experiment else []
    runs = [run for run in runs if tracking.INSPECTION_TAG not in run.data.tags]  # inspect-cells runs trained nothing
    if not runs:
        raise SeqpipeError(f"no runs of task {task.name!r} in {config.tracking_uri}; run the pipeline first")
    summaries = [
        compare.RunSummary(
            name=run.info.run_name,
            status=run.info.status,
            variant=run.data.tags.get("variant", ""),
            params=run.data.params,
            metrics=compare.with_legacy_names(run.data.metrics, kind.legacy_metrics),
            test_data=test_digest(run),
        )
        for run in runs
    ]
    groups = compare.by_test_data(summaries)
    if len(groups) > 1:
        print(
            f"[compare] these runs were scored on {len(groups)} different test splits (another config, split or "
            "corpus): each table ranks the runs of one split only"
        )
    for number, (digest, group) in enumerate(groups):
        if len(groups) > 1:
            where = f"test split {digest}" if digest else "no test split logged (runs from before datasets were)"
            print(("\n" if number else "") + f"[compare] {where}: {len(group)} run(s)")
        print(compare.render(*table(group, kind, args.over)))
    return 0


def table(runs: list[compare.RunSummary], kind, over: list[str]) -> tuple[list[str], list[list[str]]]:
    """The comparison table of `runs` ranked by the metric their evaluation blessed by (a tagger of BIO tags:
    entity F1), or with `--over` their means over the params named."""
    metrics = compare.ranked_by(runs, kind.compare_metrics)
    if not over:
        return compare.comparison_table(runs, metrics, lower_is_better=kind.lower_is_better)
    others = sum(run.status != "FINISHED" for run in runs)
    if others:
        print(f"[compare] {others} run(s) not finished, left out of the means")
    return compare.mean_table(runs, metrics, over, lower_is_better=kind.lower_is_better)


def test_digest(run) -> str:
    """The digest of the test split a run logged as a dataset input (`mlflow.data.context` test), or ""."""
    for found in run.inputs.dataset_inputs if run.inputs else ():
        if any(tag.key == tracking.DATA_CONTEXT and tag.value == "test" for tag in found.tags):
            return found.dataset.digest
    return ""
