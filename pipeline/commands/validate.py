"""`pipeline validate`: checks a config (keys, types, files, each kind's rules) without running anything."""

from __future__ import annotations

import argparse

from pipeline.commands import load_config


def main(args: argparse.Namespace) -> int:
    import dag

    config = load_config(args)
    for variant in config.variants:
        dag.build(variant, config)  # expands globs and checks the files exist
    print(f"{args.config}: ok ({len(config.tasks)} task(s): {', '.join(t.name for t in config.tasks)})")
    return 0
