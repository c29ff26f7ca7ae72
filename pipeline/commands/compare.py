"""`pipeline compare`: the MLflow runs of a task side by side, by the metrics its kind names, best first;
with `--over train.seed`, the mean and spread of the runs that differ only in their seed."""

from __future__ import annotations

import argparse

from pipeline import compare
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
    if not runs:
        raise SeqpipeError(f"no runs of task {task.name!r} in {config.tracking_uri}; run the pipeline first")
    summaries = [
        compare.RunSummary(
            name=run.info.run_name,
            status=run.info.status,
            variant=run.data.tags.get("variant", ""),
            params=run.data.params,
            metrics=compare.with_legacy_names(run.data.metrics, kind.legacy_metrics),
        )
        for run in runs
    ]
    if args.over:
        table = compare.mean_table(summaries, kind.compare_metrics, args.over, lower_is_better=kind.lower_is_better)
        others = sum(summary.status != "FINISHED" for summary in summaries)
        if others:
            print(f"[compare] {others} run(s) not finished, left out of the means")
    else:
        table = compare.comparison_table(summaries, kind.compare_metrics, lower_is_better=kind.lower_is_better)
    print(compare.render(*table))
    return 0
