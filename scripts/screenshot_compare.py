"""Screenshots the MLflow UI's compare view of a task's runs, for the README.

Starts `python -m pipeline ui` on a free port of 127.0.0.1, finds the task's experiment and runs through
the MLflow REST API (the latest finished run of each sweep variant), opens the UI's compare-runs page
for them in headless Chromium (Debian's `chromium` package) and saves a PNG. The UI process it started
is always stopped.

From the repository root, after running the sweep (or pass --run-first to run it here):

    .venv/bin/python -m pipeline run --config configs/brown_sweep.yaml
    .venv/bin/python scripts/screenshot_compare.py          # writes docs/compare_view.png

Chromium's one-shot `--screenshot` mode cannot be used: the compare page lists every param and metric
(43 and 56 here) in boxes 500 pixels high, so the ones that differ (model.cell, test.token_accuracy)
are scrolled out of sight whatever the window size. The script therefore drives the same headless
Chromium over the DevTools protocol (`--remote-debugging-pipe`, JSON messages on file descriptors 3
and 4): it turns on "Show diff only" for params and metrics, collapses the plot section, scrolls the
metrics box to --metric, fits the viewport to the page and captures it.

Only the standard library is used; the pipeline runs in the repository's .venv (see --python).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import fcntl
import json
import os
import pathlib
import select
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Sequence
from typing import Any

REPO = pathlib.Path(__file__).resolve().parent.parent
CHROMIUM = pathlib.Path("/usr/bin/chromium")
HOST = "127.0.0.1"
# The name the browser uses for the UI, mapped to HOST inside Chromium only. On a page whose hostname is
# localhost or 127.0.0.1 the UI opens its "MLflow Assistant" side panel by itself, covering a third of
# the screenshot; under another name it stays closed. The UI is told to accept this name (mlflow_ui).
BROWSER_HOST = "seqpipe-mlflow-ui"

# JavaScript run in the page. READY: the compare page has rendered the runs' params and metrics.
READY_JS = """
!!document.querySelector('[aria-label="Metrics - Show diff only"]')
  && !!document.querySelector('a[title="Plot chart"]')
"""

# ARRANGE_JS(metric): shows only the params and metrics that differ, collapses "Visualizations", scrolls
# the metrics box (a virtualized grid that renders only its visible rows) until `metric` is in its middle,
# and returns {height: the page's full height in pixels, found: whether `metric` was found}.
ARRANGE_JS = """
(async (metric) => {
  const frame = () => new Promise((resolve) => setTimeout(resolve, 150));
  for (const section of ["Parameters", "Metrics"]) {
    const diffOnly = document.querySelector(`[aria-label="${section} - Show diff only"]`);
    if (diffOnly && diffOnly.getAttribute("aria-checked") !== "true") diffOnly.click();
  }
  for (const header of document.querySelectorAll('[aria-expanded="true"]')) {
    if (header.textContent.trim() === "Visualizations") header.click();
  }
  await frame();
  const cell = () => [...document.querySelectorAll('a[title="Plot chart"]')]
    .find((link) => link.textContent.trim() === metric);
  // The metric names and their values are two grids of equal height. The values grid is the one that
  // scrolls; the page moves the names grid after it, but one scroll event late (it reads the grid's state
  // before React has updated it), so the names grid is moved here too, to the same position.
  const names = [...document.querySelectorAll(".ReactVirtualized__Grid")]
    .find((grid) => grid.querySelector('a[title="Plot chart"]'));
  let box = names;
  while (box && box.querySelectorAll(".ReactVirtualized__Grid").length < 2) box = box.parentElement;
  const values = box && [...box.querySelectorAll(".ReactVirtualized__Grid")]
    .find((grid) => grid !== names && grid.scrollHeight === names.scrollHeight);
  const scrollTo = async (top) => {
    values.scrollTop = top;
    await frame();
    names.scrollTop = values.scrollTop;
    await frame();
  };
  let found = false;
  if (values) {
    for (let step = 0; step < 500 && !cell(); step++) {
      const before = values.scrollTop;
      await scrollTo(before + values.clientHeight / 2);
      if (values.scrollTop === before) break;  // at the bottom
    }
    const link = cell();
    if (link) {
      const row = link.parentElement;  // the grid's absolutely positioned cell
      await scrollTo(Math.max(0, row.offsetTop - (values.clientHeight - row.offsetHeight) / 2));
      found = names.scrollTop === values.scrollTop;  // names and values line up
    }
  }
  const main = document.querySelector("main");
  const height = main ? main.getBoundingClientRect().top + main.scrollHeight + 24 : document.body.scrollHeight;
  return {height: Math.ceil(height), found};
})
"""


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse_args(argv)
    if not args.chromium.is_file():
        print(
            f"error: {args.chromium} not found; install Debian's Chromium with\n"
            "  apt-get update && apt-get install -y chromium",
            file=sys.stderr,
        )
        return 1
    config = args.config.resolve()
    if not config.is_file():
        print(f"error: config file not found: {args.config}", file=sys.stderr)
        return 1
    if args.run_first:
        print(f"running the pipeline on {args.config} ...", flush=True)
        status = subprocess.call([args.python, "-m", "pipeline", "run", "--config", str(config)], cwd=REPO)
        if status != 0:
            print(f"error: the pipeline run exited with status {status}", file=sys.stderr)
            return 1

    port = free_port()
    with mlflow_ui(args.python, config, port) as ui:
        api_url = f"http://{HOST}:{port}"
        wait_until_up(api_url, ui, timeout=args.ui_timeout)
        experiment_id, run_ids = latest_runs(api_url, args.task)
        url = compare_url(f"http://{BROWSER_HOST}:{port}", experiment_id, run_ids)
        print(f"compare view of {len(run_ids)} run(s) of {args.task!r}: {url}", flush=True)
        png = screenshot(args.chromium, url, args.window_size, args.metric, timeout=args.page_timeout)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(png)
    print(f"wrote {args.out} ({len(png):,} bytes)")
    return 0


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    venv_python = REPO / ".venv" / "bin" / "python"
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--config",
        type=pathlib.Path,
        default=REPO / "configs" / "brown_sweep.yaml",
        help="pipeline config whose tracking store to show (default: configs/brown_sweep.yaml)",
    )
    parser.add_argument("--task", default="brown-pos", help="task (MLflow experiment) whose runs to compare")
    parser.add_argument(
        "--out",
        type=pathlib.Path,
        default=REPO / "docs" / "compare_view.png",
        help="PNG to write (default: docs/compare_view.png)",
    )
    parser.add_argument(
        "--run-first", action="store_true", help="run the pipeline on --config before taking the screenshot"
    )
    parser.add_argument(
        "--python",
        default=str(venv_python) if venv_python.exists() else sys.executable,
        help="interpreter that runs `-m pipeline` (default: the repository's .venv)",
    )
    parser.add_argument("--chromium", type=pathlib.Path, default=CHROMIUM, help="Chromium binary")
    parser.add_argument(
        "--window-size",
        type=_size,
        default=(1600, 1000),
        help="viewport WIDTH,HEIGHT in pixels; the height grows to fit the page (default: 1600,1000)",
    )
    parser.add_argument("--metric", default="test.token_accuracy", help="metric scrolled into view in the metrics box")
    parser.add_argument("--ui-timeout", type=float, default=90.0, help="seconds to wait for the UI to answer")
    parser.add_argument("--page-timeout", type=float, default=60.0, help="seconds to wait for the page's data")
    return parser.parse_args(argv)


def _size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTH,HEIGHT, got {text!r}") from None
    return width, height


# ----------------------------------------------------------------------------------------------
# The MLflow UI


def free_port() -> int:
    """Returns a TCP port of 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def mlflow_ui(python: str, config: pathlib.Path, port: int) -> Iterator[subprocess.Popen[bytes]]:
    """Runs `python -m pipeline ui` in its own process group; stops the whole group on exit.

    Besides HOST, the UI accepts requests for BROWSER_HOST on this port: MLflow's DNS-rebinding (Host
    header) and CORS checks otherwise refuse a name other than localhost's.
    """
    env = {
        **os.environ,
        "MLFLOW_SERVER_ALLOWED_HOSTS": f"{HOST}:{port},{BROWSER_HOST}:{port}",
        "MLFLOW_SERVER_CORS_ALLOWED_ORIGINS": f"http://{BROWSER_HOST}:{port}",
    }
    log = tempfile.TemporaryFile()
    process = subprocess.Popen(
        [python, "-m", "pipeline", "ui", "--config", str(config), "--host", HOST, "--port", str(port)],
        cwd=REPO,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # the UI's server and workers share this new group: one kill stops them all
    )
    try:
        yield process
    except UIStartError:
        log.seek(0)
        tail = log.read().decode("utf-8", "replace").strip().splitlines()[-20:]
        if tail:
            print("MLflow UI output (last lines):\n  " + "\n  ".join(tail), file=sys.stderr)
        raise
    finally:
        stop_group(process)
        log.close()


def stop_group(
    process: subprocess.Popen[Any],
    signals: Sequence[signal.Signals] = (signal.SIGINT, signal.SIGTERM),
    grace: float = 10.0,
) -> None:
    """Stops the process group led by `process`: each of `signals` in turn, then SIGKILL for what is left.

    SIGINT first lets `pipeline ui` clean up (its subprocess call kills the server, its temp folder goes).
    """
    for sig in signals:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            process.wait(timeout=grace)
            break
        except subprocess.TimeoutExpired:
            continue
    time.sleep(0.2)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # any member of the group still there (workers, helpers)
    process.wait()


class UIStartError(RuntimeError):
    """The MLflow UI exited or did not answer."""


def wait_until_up(base_url: str, process: subprocess.Popen[bytes], timeout: float) -> None:
    """Polls the server's /health until it answers 200; fails if the process exits or `timeout` passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise UIStartError(f"the MLflow UI exited with status {process.returncode} before answering")
        try:
            with urllib.request.urlopen(f"{base_url}/health", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.5)
    raise UIStartError(f"the MLflow UI did not answer on {base_url} within {timeout:.0f}s")


def api(base_url: str, endpoint: str, query: dict[str, str] | None = None, body: Any = None) -> dict[str, Any]:
    """Calls an MLflow REST endpoint (GET with `query`, or POST with a JSON `body`) and returns its JSON."""
    url = f"{base_url}/api/2.0/mlflow/{endpoint}"
    if query:
        url += "?" + urllib.parse.urlencode(query)
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.load(response)
    except urllib.error.HTTPError as error:
        detail = error.read().decode("utf-8", "replace")
        raise RuntimeError(f"{endpoint}: HTTP {error.code}: {detail}") from None


def latest_runs(base_url: str, task: str) -> tuple[str, list[str]]:
    """The task's experiment id and, oldest first, the newest finished run of each sweep variant.

    The pipeline tags every run with its `variant` ("model.cell=gru", or "default"); running the sweep
    again adds new runs, so only the latest of each variant is compared.
    """
    try:
        experiment = api(base_url, "experiments/get-by-name", query={"experiment_name": task})["experiment"]
    except RuntimeError as error:
        raise RuntimeError(f"no MLflow experiment for task {task!r}; run the pipeline first ({error})") from None
    experiment_id = experiment["experiment_id"]
    runs: list[dict[str, Any]] = []
    page_token = None
    while True:
        body: dict[str, Any] = {
            "experiment_ids": [experiment_id],
            "filter": "attributes.status = 'FINISHED'",
            "order_by": ["attributes.start_time DESC"],
            "max_results": 1000,
        }
        if page_token:
            body["page_token"] = page_token
        page = api(base_url, "runs/search", body=body)
        runs.extend(page.get("runs", []))
        page_token = page.get("next_page_token")
        if not page_token:
            break
    latest: dict[str, dict[str, Any]] = {}
    for run in runs:  # newest first, so the first run seen of a variant is its latest
        tags = {tag["key"]: tag["value"] for tag in run.get("data", {}).get("tags", [])}
        latest.setdefault(tags.get("variant", ""), run)
    if not latest:
        raise RuntimeError(f"no finished runs in experiment {task!r}; run the pipeline first")
    chosen = sorted(latest.values(), key=lambda run: int(run["info"]["start_time"]))
    return experiment_id, [run["info"]["run_id"] for run in chosen]


def compare_url(base_url: str, experiment_id: str, run_ids: Sequence[str]) -> str:
    """The MLflow UI's compare-runs page (a hash route): #/compare-runs?runs=[...]&experiments=[...]."""
    runs = urllib.parse.quote(json.dumps(list(run_ids), separators=(",", ":")), safe="")
    experiments = urllib.parse.quote(json.dumps([experiment_id]), safe="")
    return f"{base_url}/#/compare-runs?runs={runs}&experiments={experiments}"


# ----------------------------------------------------------------------------------------------
# Headless Chromium


class DevTools:
    """A minimal Chrome DevTools protocol client over `--remote-debugging-pipe` (NUL-terminated JSON)."""

    def __init__(self, to_browser: int, from_browser: int, timeout: float) -> None:
        self._out, self._in, self._timeout = to_browser, from_browser, timeout
        self._buffer = b""
        self._last_id = 0

    def call(self, method: str, params: dict[str, Any] | None = None, session: str | None = None) -> dict[str, Any]:
        """Sends one command and returns its result; events that arrive meanwhile are dropped."""
        self._last_id += 1
        message: dict[str, Any] = {"id": self._last_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._out, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + self._timeout
        while True:
            reply = self._receive(deadline)
            if reply.get("id") == self._last_id:
                if "error" in reply:
                    raise RuntimeError(f"Chromium: {method}: {reply['error'].get('message', reply['error'])}")
                return reply.get("result", {})

    def _receive(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([self._in], [], [], remaining)[0]:
                raise RuntimeError("Chromium did not answer in time")
            chunk = os.read(self._in, 1 << 20)
            if not chunk:
                raise RuntimeError("Chromium closed its DevTools pipe (it exited)")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(raw)


@contextlib.contextmanager
def headless_chromium(chromium: pathlib.Path, size: tuple[int, int], timeout: float) -> Iterator[DevTools]:
    """Starts headless Chromium with a fresh profile and DevTools on fds 3 and 4; stops its process group."""
    to_browser_r, to_browser_w = os.pipe()
    from_browser_r, from_browser_w = os.pipe()

    def connect_pipes() -> None:  # in the child, before exec: the browser reads fd 3 and writes fd 4
        reads = fcntl.fcntl(to_browser_r, fcntl.F_DUPFD, 10)  # above 4, so neither dup2 clobbers the other
        writes = fcntl.fcntl(from_browser_w, fcntl.F_DUPFD, 10)
        os.dup2(reads, 3)
        os.dup2(writes, 4)
        os.close(reads)
        os.close(writes)

    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        command = [
            str(chromium), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--hide-scrollbars", f"--host-resolver-rules=MAP {BROWSER_HOST} {HOST}", f"--user-data-dir={profile}",
            f"--window-size={size[0]},{size[1]}", "--remote-debugging-pipe", "about:blank",
        ]  # fmt: skip
        browser = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=connect_pipes,  # safe: this script starts no threads
            close_fds=False,  # Python's own fds are close-on-exec anyway; fds 3 and 4 must survive exec
            start_new_session=True,
        )
        os.close(to_browser_r)
        os.close(from_browser_w)
        try:
            yield DevTools(to_browser_w, from_browser_r, timeout)
        finally:
            os.close(to_browser_w)  # the browser exits when its DevTools pipe closes
            os.close(from_browser_r)
            stop_group(browser, signals=(signal.SIGTERM,), grace=5.0)  # renderer and helpers included


def screenshot(chromium: pathlib.Path, url: str, size: tuple[int, int], metric: str, timeout: float) -> bytes:
    """Loads the compare page `url`, arranges it (ARRANGE_JS) and returns a PNG of the whole page."""
    with headless_chromium(chromium, size, timeout) as devtools:
        page = next(t for t in devtools.call("Target.getTargets")["targetInfos"] if t["type"] == "page")
        session = devtools.call("Target.attachToTarget", {"targetId": page["targetId"], "flatten": True})["sessionId"]

        def viewport(height: int) -> None:
            metrics = {"width": size[0], "height": height, "deviceScaleFactor": 1, "mobile": False}
            devtools.call("Emulation.setDeviceMetricsOverride", metrics, session)

        def evaluate(expression: str) -> Any:
            params = {"expression": expression, "returnByValue": True, "awaitPromise": True}
            reply = devtools.call("Runtime.evaluate", params, session)
            if "exceptionDetails" in reply:
                raise RuntimeError(f"script error in the page: {reply['exceptionDetails'].get('text')}")
            return reply["result"].get("value")

        viewport(size[1])
        devtools.call("Page.navigate", {"url": url}, session)
        deadline = time.monotonic() + timeout
        while not evaluate(READY_JS):
            if time.monotonic() > deadline:
                raise RuntimeError(f"the compare page showed no runs within {timeout:.0f}s: {url}")
            time.sleep(0.5)
        time.sleep(1.0)  # let the remaining requests and renders settle
        arranged = evaluate(f"{ARRANGE_JS}({json.dumps(metric)})")
        if not arranged["found"]:
            print(f"warning: metric {metric!r} is not among the metrics that differ", file=sys.stderr)
        viewport(max(size[1], arranged["height"]))
        time.sleep(1.0)
        data = devtools.call("Page.captureScreenshot", {"format": "png"}, session)["data"]
    return base64.b64decode(data)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except RuntimeError as failure:
        print(f"error: {failure}", file=sys.stderr)
        sys.exit(1)
