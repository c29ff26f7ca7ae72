"""`pipeline worker`: a non-chief worker of a multi-worker cluster, training beside the chief (see README)."""

from __future__ import annotations

import argparse

from pipeline.commands import load_config, selected_variants
from pipeline.commands.run import start_tensorflow
from pipeline.errors import SeqpipeError


def main(args: argparse.Namespace) -> int:
    """A non-chief worker: trains each multi-worker task alongside the chief, writing nothing of its own."""
    import dag
    from pipeline import runner, runtime

    config = load_config(args)
    variants = [v for v in selected_variants(config, args.tasks) if v.train.strategy == "multi_worker_mirrored"]
    if not variants:
        raise SeqpipeError("worker: no selected task has train.strategy multi_worker_mirrored")
    if runtime.cluster() is None:
        raise SeqpipeError("worker: set TF_CONFIG to the cluster and this worker's task")
    pipelines = [dag.build(variant, config) for variant in variants]
    start_tensorflow(config, variants, pipelines, chief=False)
    output_dir = config.resolve(config.output_dir)
    for variant, components in zip(variants, pipelines, strict=True):
        runner.run_as_worker(
            components,
            stage="train",
            task=variant.name,
            task_dir=output_dir / variant.name,
            seed=config.seed,
            beam=config.beam,
            wait_seconds=args.wait,
            upstream=dag.upstream(variant, config),
        )
    return 0
