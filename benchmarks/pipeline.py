"""Wall time of the default pipeline from scratch, then of a second run with everything cached.

Runs `python -m pipeline run` twice on the given config into a fresh temporary output folder and
tracking store, and prints one JSON line:
{"config": ..., "first_run_seconds": ..., "cached_run_seconds": ..., "results": [...], "stages": {...}}

Usage: .venv/bin/python benchmarks/pipeline.py [--config pipeline_config.yaml] [--tasks NAME]
"""

from __future__ import annotations

import argparse
import json
import pathlib
import re
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent


def timed_run(config: str, folder: pathlib.Path, tasks: str | None) -> tuple[float, dict[str, str], list[str]]:
    command = [sys.executable, "-m", "pipeline", "run", "--config", config, "--output-dir", str(folder / "runs")]
    command += ["--tracking-uri", f"sqlite:///{folder / 'mlflow.db'}"] + (["--tasks", tasks] if tasks else [])
    started = time.perf_counter()
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if result.returncode:
        sys.exit(f"pipeline failed:\n{result.stderr[-2000:]}")
    stages = re.findall(r"^\[(\S+)\] (\w+)\s+(ran|cached) in\s+([\d.]+)s", result.stdout, flags=re.MULTILINE)
    results = re.findall(r"^\[\S+\] (test .*)$", result.stdout, flags=re.MULTILINE)
    return seconds, {f"{task}/{stage}": f"{status} {secs}s" for task, stage, status, secs in stages}, results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="pipeline_config.yaml")
    parser.add_argument("--tasks", help="only these tasks")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        first, first_stages, results = timed_run(args.config, pathlib.Path(tmp), args.tasks)
        cached, cached_stages, _ = timed_run(args.config, pathlib.Path(tmp), args.tasks)
    report = {
        "config": args.config,
        "first_run_seconds": round(first, 1),
        "cached_run_seconds": round(cached, 1),
        "results": results,
        "stages": {"first": first_stages, "cached": cached_stages},
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
