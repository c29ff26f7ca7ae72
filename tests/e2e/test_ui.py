"""`pipeline ui` serves the MLflow UI and, stopped, leaves no server behind."""

from __future__ import annotations

import signal
import socket
import subprocess
import time
import urllib.request

import pytest

from tests.e2e.support import cli_command, cli_env, make_workspace


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def _wait_until(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.5)
    return False


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
def test_stopping_the_ui_stops_its_server(tmp_path, stop):
    workspace = make_workspace(tmp_path)
    port = _free_port()
    ui = subprocess.Popen(
        cli_command(workspace, "ui", "--port", str(port)),
        cwd=workspace, env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        if not _wait_until(lambda: _answers(port) or ui.poll() is not None, 90) or ui.poll() is not None:
            pytest.fail(f"the MLflow UI did not answer: {ui.communicate(timeout=30)}")
        ui.send_signal(stop)
        assert ui.wait(timeout=30) == 0
        assert _wait_until(lambda: not _answers(port), 15), "the MLflow server outlived `pipeline ui`"
        out, _ = ui.communicate()
        assert f"MLflow UI on http://127.0.0.1:{port}" in out
    finally:
        if ui.poll() is None:
            ui.kill()
