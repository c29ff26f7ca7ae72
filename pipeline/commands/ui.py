"""`pipeline ui`: the MLflow UI over the configured tracking store, stopped with it.

`mlflow ui` starts a server of its own (uvicorn and its workers). It runs here in its own process group, and
SIGINT, SIGTERM or SIGHUP to `pipeline ui` stop that whole group: killing `pipeline ui` leaves no server behind.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile

from pipeline.commands import load_config

_FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
_GRACE_SECONDS = 10


def main(args: argparse.Namespace) -> int:
    config = load_config(args)
    command = [
        sys.executable, "-m", "mlflow", "ui",
        "--backend-store-uri", config.tracking_uri,
        "--host", args.host, "--port", str(args.port),
    ]  # fmt: skip
    print(f"MLflow UI on http://{args.host}:{args.port} over {config.tracking_uri} (Ctrl-C stops it)", flush=True)
    with tempfile.TemporaryDirectory() as cwd:  # the UI writes nothing into the project
        server = subprocess.Popen(command, cwd=cwd, start_new_session=True)
        return _serve(server)


def _serve(server: subprocess.Popen) -> int:
    """Waits for the server, passing it the stop signals; whatever ends the wait, no process of its group stays."""

    def forward(signum, frame):
        _signal_group(server, signum)

    previous = {signum: signal.signal(signum, forward) for signum in _FORWARDED}
    try:
        returncode = server.wait()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if server.poll() is None:  # an exception from here: the server is still up
            _signal_group(server, signal.SIGTERM)
            try:
                server.wait(timeout=_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                _signal_group(server, signal.SIGKILL)
        _signal_group(server, signal.SIGTERM)  # the server's workers, if its main process left them
    return 0 if returncode in (-signal.SIGINT, -signal.SIGTERM, -signal.SIGHUP) else returncode


def _signal_group(server: subprocess.Popen, signum: int) -> None:
    try:
        os.killpg(server.pid, signum)
    except ProcessLookupError:  # the group has gone already
        pass
