"""`pipeline validate`: checks a config (keys, types, files, each kind's rules) without running anything."""

from __future__ import annotations

import argparse

from pipeline.commands import load_config


def main(args: argparse.Namespace) -> int:
    import dag
    import kinds
    from kinds.base import kind as kind_lib
    from pipeline import config as config_lib

    config = load_config(args)
    for variant in config.variants:
        dag.build(variant, config)  # expands globs and checks the files exist
    print(f"{args.config}: ok ({len(config.tasks)} task(s): {', '.join(t.name for t in config.tasks)})")
    for task in (config.variants_of(t.name)[0] for t in config.tasks):
        kind = kinds.get(task.kind)
        advice = kind_lib.load(kind.advice)(task, config) if kind.advice else []
        own = ", ".join(f"{key}={config_lib.label(value)}" for key, value in config_lib.own_settings(task).items())
        settings = [f"{task.kind} settings: {own}"] if own else []
        for line in [*settings, *config_lib.kind_default_lines(task), *advice]:
            print(f"[{task.name}] {line}")
    return 0
