"""`pipeline ui`: the MLflow UI over the configured tracking store."""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile

from pipeline.commands import load_config


def main(args: argparse.Namespace) -> int:
    config = load_config(args)
    command = [
        sys.executable, "-m", "mlflow", "ui",
        "--backend-store-uri", config.tracking_uri,
        "--host", args.host, "--port", str(args.port),
    ]  # fmt: skip
    print(f"MLflow UI on http://{args.host}:{args.port} over {config.tracking_uri}", flush=True)
    with tempfile.TemporaryDirectory() as cwd:  # the UI writes nothing into the project
        return subprocess.call(command, cwd=cwd)
