"""`pipeline run --cluster tcp://HOST:PORT`: each task, or each variant of a swept task, as its own
`pipeline run` process on a worker of an existing `dask.distributed` cluster, one at a time per worker.

What the workers need, checked before anything runs, each failure one line:

* the same environment: the versions of Python and of the libraries a stage imports, compared by Dask's
  `get_versions` between this process and every worker;
* the project and the run folder on shared storage: every worker must read this project's source files
  (by their digest) and a file this process writes into the config's `output_dir`.

A unit of work is `python -m pipeline run --config C --tasks NAME [--variant LABEL]` started by a Dask task
on its worker (`Client.submit(..., workers=[address])`): this process keeps one unit in flight per worker,
so each worker runs one at a time whatever its thread count. The unit's console goes to a log file in the
run folder (`<output_dir>/<task>/logs/`), which this process prints as it grows, each line prefixed by its
task as with `--jobs`. The unit's MLflow run is tagged `seqpipe.worker` with the worker's address, and a
failed unit is reported with its worker and its log. The variants of a sweep share their task's first
stages: the runner's stage lock (`runner.stage_lock`) has one of them build each while the others wait.

Beam: a task's statistics and preprocess stages run with the config's runner. If that is the DaskRunner on
this very cluster, a task's Beam job would wait for workers that the tasks hold, so the units run Beam in
their own process instead (the DirectRunner), and the run says so; a DaskRunner on another cluster is kept.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import pathlib
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence

from pipeline import config as config_lib
from pipeline import scheduling
from pipeline.errors import SeqpipeError

PROJECT_ROOT = pathlib.Path(__file__).resolve().parents[1]
# Compared between this process and every worker; a difference in any of them can change what a stage does.
PACKAGES = ("tensorflow", "tensorflow_text", "keras", "apache_beam", "mlflow", "numpy", "distributed")
WORKER_ENVIRONMENT = "SEQPIPE_WORKER"  # the worker's address, which commands/run.py tags the unit's MLflow run with
CONNECT_SECONDS = 30


def connect(address: str, timeout: float = CONNECT_SECONDS):
    """A `distributed.Client` of the cluster at `address`, with at least one worker."""
    import distributed

    try:
        client = distributed.Client(address, timeout=timeout)
    except (OSError, TimeoutError) as error:
        raise SeqpipeError(f"--cluster {address}: no Dask scheduler answers ({error})") from None
    if not client.scheduler_info()["workers"]:
        client.close()
        raise SeqpipeError(f"--cluster {address}: the cluster has no workers")
    return client


def version_differences(versions: dict) -> list[str]:
    """What differs between the client and each worker in `Client.get_versions(packages=PACKAGES)`'s answer:
    `worker tcp://...: tensorflow 2.20.0 there, 2.21.0 here`, one item each."""
    here = {**versions["client"]["packages"], "python": versions["client"]["host"].get("python")}
    found = []
    for address, info in sorted(versions["workers"].items()):
        there = {**info["packages"], "python": info["host"].get("python")}
        for package in ("python", *PACKAGES):
            if there.get(package) != here.get(package):
                found.append(f"worker {address}: {package} {there.get(package)} there, {here.get(package)} here")
    return found


def project_digest(root: str) -> str:
    """A digest of the project's Python files under `root` (their paths and bytes), or `missing`."""
    folder = pathlib.Path(root)
    if not (folder / "pipeline" / "cluster.py").is_file():
        return "missing"
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*.py")):
        relative = path.relative_to(folder)
        if relative.parts[0].startswith(".") or "tests" in relative.parts[:1]:
            continue
        digest.update(relative.as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _read(path: str) -> str | None:
    try:
        return pathlib.Path(path).read_text(encoding="utf-8")
    except OSError:
        return None


def check_workers(client, config: config_lib.PipelineConfig) -> None:
    """Raises SeqpipeError, naming a worker, when one has another environment or cannot see the project or the
    run folder."""
    differences = version_differences(client.get_versions(packages=list(PACKAGES)))
    if differences:
        more = f" (and {len(differences) - 1} more)" if len(differences) > 1 else ""
        raise SeqpipeError(f"--cluster: the workers need this environment; {differences[0]}{more}")
    here = project_digest(str(PROJECT_ROOT))
    try:
        digests = client.run(project_digest, str(PROJECT_ROOT))
    except Exception as error:  # Dask re-raises a worker's error as a plain Exception holding its text
        if "No module named" in str(error):
            raise SeqpipeError(
                f"--cluster: a worker cannot import this project ({error}); start the workers with "
                f"PYTHONPATH={PROJECT_ROOT}"
            ) from None
        raise SeqpipeError(f"--cluster: a worker could not be checked: {error}") from None
    for address, digest in sorted(digests.items()):
        if digest != here:
            state = "does not have it" if digest == "missing" else "has other files there"
            raise SeqpipeError(f"--cluster: worker {address} {state}: the project at {PROJECT_ROOT} must be shared")
    output_dir = config.resolve(config.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    probe = output_dir / f".cluster-probe-{uuid.uuid4().hex}"
    token = uuid.uuid4().hex
    probe.write_text(token, encoding="utf-8")
    try:
        for address, seen in sorted(client.run(_read, str(probe)).items()):
            if seen != token:
                raise SeqpipeError(
                    f"--cluster: worker {address} cannot read the run folder {output_dir}: it must be shared storage"
                )
    finally:
        probe.unlink(missing_ok=True)


def beam_override(config: config_lib.PipelineConfig, address: str) -> tuple[list[str], str]:
    """The `--set` arguments that keep a unit's Beam jobs off the cluster that runs the units, and the line that
    says where Beam runs."""
    beam = config.beam
    options = dict(beam.options or {})
    if beam.runner == "DaskRunner":
        named = options.get("dask_client_address")
        if named and _same_address(named, address):
            line = (
                "Beam runs in each task's process (DirectRunner): beam.options names this cluster, whose workers "
                "the tasks hold"
            )
            return ["--set", "beam.runner=DirectRunner", "--set", "beam.options=null"], line
        if named:
            return [], f"Beam runs on the Dask cluster at {named}"
        return [], "Beam runs on a Dask cluster that each task's process starts for itself"
    return [], f"Beam runs in each task's process ({beam.runner})"


def _same_address(first: str, second: str) -> bool:
    return first.removeprefix("tcp://").rstrip("/") == second.removeprefix("tcp://").rstrip("/")


def _run_unit(command: list[str], log_path: str, cwd: str) -> dict:
    """On a worker: runs one unit's `pipeline run` process with its console going to `log_path`."""
    import distributed

    address = distributed.get_worker().address
    environment = {**os.environ, WORKER_ENVIRONMENT: address, "PYTHONUNBUFFERED": "1", "PYTHONFAULTHANDLER": "1"}
    pathlib.Path(log_path).parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "w", encoding="utf-8") as log:
        code = subprocess.call(
            [sys.executable, *command], cwd=cwd, env=environment, stdout=log, stderr=subprocess.STDOUT
        )
    return {"worker": address, "code": code}


class _Tail:
    """Prints the lines a log file gains, whole lines only; a variant's stage lines, which name its task, get
    the variant's label (`[task [model.cell=rnn]]`), since its siblings' lines interleave with them."""

    def __init__(self, path: pathlib.Path, task: str, label: str) -> None:
        self.path = path
        self.offset = 0
        self.partial = b""
        self.prefix = (f"[{task}] ", f"[{label}] ")

    def print_new(self, final: bool = False) -> None:
        try:
            with self.path.open("rb") as stream:
                stream.seek(self.offset)
                data = stream.read()
        except FileNotFoundError:
            return
        self.offset += len(data)
        lines = (self.partial + data).split(b"\n")
        self.partial = b"" if final else lines.pop()
        for line in lines:
            if line:
                text = line.decode("utf-8", errors="replace")
                if text.startswith(self.prefix[0]):
                    text = self.prefix[1] + text[len(self.prefix[0]) :]
                print(text, flush=True)


def run(args: argparse.Namespace, config: config_lib.PipelineConfig, units: Sequence[tuple[str, str | None]]) -> int:
    """Runs `units` ((task, variant label or None) each) on the cluster at `args.cluster`; 0 when all succeed.

    `args` gives what a unit's command line repeats (the config, --set, --output-dir, --tracking-uri,
    --force, --through, --verbose)."""
    client = connect(args.cluster)
    try:
        check_workers(client, config)
        extra, beam_line = beam_override(config, args.cluster)
        workers = sorted(client.scheduler_info()["workers"])
        print(
            f"[pipeline] {len(units)} unit(s) on the Dask cluster at {args.cluster}, one at a time on each of its "
            f"{len(workers)} worker(s); {beam_line}",
            flush=True,
        )
        # `cluster=null`: the unit runs where it is, even when the config names this cluster.
        command = ["-m", "pipeline", "run", "--config", str(pathlib.Path(args.config).resolve()), *extra]
        command += ["--set", "cluster=null"]
        for override in args.overrides:
            command += ["--set", override]
        output_dir = config.resolve(config.output_dir)
        command += ["--output-dir", str(output_dir)]
        if args.tracking_uri:
            command += ["--tracking-uri", args.tracking_uri]
        command += ["--force"] if args.force else []
        command += ["--through", args.through] if args.through else []
        command += ["--verbose"] if args.verbose else []

        pending = list(units)
        running: dict = {}  # future -> (label, worker, tail, unit)
        idle = list(workers)
        failed, broken = [], set()
        dependencies = {task: config_lib.upstream_tasks(config.task(task)) for task, _ in units}
        while pending or running:
            while idle:
                started = [item[3] for item in running.values()]
                unit, dropped = scheduling.next_unit(pending, lambda u: u[0], dependencies, started, broken)
                failed += [f"{u[0]}{f' [{u[1]}]' if u[1] else ''} ({why})" for u, why in dropped]
                if unit is None:
                    break
                task, variant = unit
                worker = idle.pop(0)
                label = task + (f" [{variant}]" if variant else "")
                slug = hashlib.sha256((variant or "").encode()).hexdigest()[:8] if variant else "task"
                log_path = output_dir / task / "logs" / f"cluster-{slug}.log"
                line = [*command, "--tasks", task, *(["--variant", variant] if variant else [])]
                future = client.submit(_run_unit, line, str(log_path), str(PROJECT_ROOT), workers=[worker], pure=False)
                print(f"[pipeline] {label}: on worker {worker}, its log {log_path}", flush=True)
                running[future] = (label, worker, _Tail(log_path, task, label), unit)
            time.sleep(0.5)
            for _, _, tail, _ in running.values():
                tail.print_new()
            for future in [future for future in running if future.done()]:
                label, worker, tail, (task, _) = running.pop(future)
                tail.print_new(final=True)
                idle.append(worker)
                try:
                    result = future.result()
                except Exception as error:  # the worker died, or the task could not start there
                    failed.append(f"{label} on worker {worker} ({type(error).__name__}: {error}); its log {tail.path}")
                    broken.add(task)
                    continue
                if result["code"]:
                    failed.append(f"{label} on worker {result['worker']} (exit {result['code']}); its log {tail.path}")
                    broken.add(task)
    finally:
        client.close()
    if failed:
        print(f"[pipeline] failed: {'; '.join(failed)}", file=sys.stderr)
        return 1
    return 0
