"""The commands of `python -m pipeline`, one module each; `pipeline/cli.py` parses and dispatches to them.

Each module has `main(args) -> int`. The commands are the one part of `pipeline/` that reads the DAG
(`dag.py`, above the framework) and the kinds (`kinds/`); they import them when they run.
"""

from __future__ import annotations

import argparse

from pipeline import config as config_lib


def selected_tasks(config: config_lib.PipelineConfig, names: str | None) -> list[config_lib.TaskConfig]:
    """The tasks named in `--tasks` (comma-separated), or every task; a task after those whose models it reads."""
    chosen = [task.name for task in config.tasks] if not names else [n.strip() for n in names.split(",") if n.strip()]
    return [config.task(name) for name in config_lib.in_dependency_order(config, chosen)]


def selected_variants(config: config_lib.PipelineConfig, names: str | None) -> list[config_lib.TaskConfig]:
    """The variants (each task, or its sweep's variants) of the selected tasks."""
    return [v for task in selected_tasks(config, names) for v in config.variants_of(task.name)]


def load_config(args: argparse.Namespace) -> config_lib.PipelineConfig:
    """The config file with --set, --output-dir and --tracking-uri applied (CLI paths are relative to the cwd)."""
    from pipeline import tracking

    overrides = list(args.overrides)
    if args.output_dir:
        import pathlib

        overrides.append(f"output_dir={pathlib.Path(args.output_dir).resolve()}")
    if args.tracking_uri:
        overrides.append(f"tracking.uri={tracking.absolute_sqlite_uri(args.tracking_uri, None)}")
    import kinds  # the CLI composes the pipeline: the framework's config with the kinds' settings

    return kinds.load_config(args.config, overrides)
