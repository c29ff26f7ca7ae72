"""A pipeline killed with SIGKILL while preprocess runs leaves no artifact that looks whole, and a rerun recovers.

The CLI runs in a subprocess on a tiny corpus (like test_pipeline.py) and gets SIGKILL (no handler, no
`finally`, no cleanup can run) at one of two points: as soon as preprocess prints its first progress line
(Beam not started yet), or once Beam's two worker processes have written the vocabularies into the
stage's temporary folder (shards on their way). Then:

* preprocess has no `<fingerprint>/` folder with an `artifact.json` (at most a `.tmp-*` one);
* a rerun reuses ingest and statistics from the cache, runs preprocess and the rest, and leaves no
  `.tmp-*` (or `.work-*`) folder behind;
* the Beam worker processes do not outlive the killed pipeline;
* the killed execution's MLflow run was left RUNNING at the kill (what the rerun does with it is recorded,
  see `test_the_killed_mlflow_run`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import pathlib
import re
import signal
import subprocess
import threading
import time

import pytest
import yaml

from tests.e2e.support import STAGES, TASK, cli_command, cli_env, make_workspace, stage_status

PREPROCESS_PROGRESS = re.compile(rf"^\[{TASK}\] preprocess\s+\d+\.\ds  ")
KILL_DEADLINE_S = 240  # the killed run must reach preprocess well before this
# Beam workers that are past their start-up see their runner gone and exit within ~2 s here. (Killed during
# their start-up, they wait about 2 minutes for the dead runner before exiting: not tested, see the report.)
WORKER_GRACE_S = 20

pytestmark = pytest.mark.slow


def run_id(stdout: str) -> str:
    match = re.search(r"MLflow run ([0-9a-f]+)", stdout)
    assert match, stdout[-2000:]
    return match[1]


def group_members(pgid: int) -> list[str]:
    """Command lines of the live processes of process group `pgid` (Linux /proc; zombies left out)."""
    members = []
    for stat in pathlib.Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, IndexError):
            continue  # the process ended while we looked
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(cmdline)
    return members


def beam_workers(pgid: int) -> list[str]:
    return [cmd for cmd in group_members(pgid) if "sdk_worker_main" in cmd and not cmd.startswith("/bin/sh")]


@dataclasses.dataclass
class Scenario:
    """One kill and its rerun, with what was seen in between."""

    when: str  # the kill point: "first-progress-line" or "vocabulary-written"
    workspace: pathlib.Path
    killed_stdout: str
    seconds_to_kill: float
    workers_at_kill: int  # Beam worker processes alive when the CLI got SIGKILL
    seconds_workers_outlived_it: float | None  # None: still alive after WORKER_GRACE_S (then this test killed them)
    after_kill: dict[str, list[str]]  # the entries of each stage folder right after the kill
    run_status_at_kill: str  # MLflow status of the killed execution's run, before the rerun
    rerun: subprocess.CompletedProcess


def run_and_kill_in_preprocess(workspace: pathlib.Path, when: str) -> tuple[str, float, int, float | None]:
    """Runs the CLI and SIGKILLs it once preprocess has printed its first progress line.

    `when`: "first-progress-line" kills right then (Beam not started yet); "vocabulary-written" waits
    until the Beam workers have written the vocabulary files into the stage's temporary folder (the
    shards are then being encoded).
    """
    stderr_path = workspace / f"killed-{when}.stderr"
    started = time.perf_counter()
    with stderr_path.open("w") as stderr:
        # A session of its own: the Beam worker processes it starts are in its process group, so this test
        # can see whether they outlive it, and clean them up.
        process = subprocess.Popen(
            cli_command(workspace, "run"),
            cwd=workspace,
            env=cli_env(),
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            bufsize=1,
            start_new_session=True,
        )
        watchdog = threading.Timer(KILL_DEADLINE_S, process.kill)
        watchdog.start()
        lines: list[str] = []
        try:
            for line in process.stdout:
                lines.append(line)
                if PREPROCESS_PROGRESS.match(line):
                    break
            if when == "vocabulary-written":
                stage_dir = workspace / "runs" / TASK / "preprocess"
                waited = time.monotonic()
                while not list(stage_dir.glob(".tmp-*/vocabulary/*.tsv")) and time.monotonic() - waited < 60:
                    time.sleep(0.05)
            workers = len(beam_workers(process.pid))
            process.send_signal(signal.SIGKILL)
            seconds = time.perf_counter() - started
            process.wait(timeout=30)
        finally:
            watchdog.cancel()
            killed_at = time.monotonic()
            while group_members(process.pid) and time.monotonic() - killed_at < WORKER_GRACE_S:
                time.sleep(0.2)
            outlived = None if group_members(process.pid) else time.monotonic() - killed_at
            if outlived is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)  # processes this test started
            # Only now: the Beam workers inherited the pipe, so reading to its end waits for them all.
            lines.extend(process.stdout)
            process.stdout.close()
    stdout = "".join(lines)
    assert process.returncode == -signal.SIGKILL, stdout[-3000:] + stderr_path.read_text()[-3000:]
    assert any(PREPROCESS_PROGRESS.match(line) for line in lines), "killed before preprocess started:\n" + stdout
    assert "preprocess" not in stage_status(stdout), "preprocess finished before the kill:\n" + stdout
    return stdout, seconds, workers, outlived


def mlflow_client(workspace: pathlib.Path):
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=f"sqlite:///{workspace / 'mlflow.db'}")


@pytest.fixture(scope="module", params=["first-progress-line", "vocabulary-written"])
def scenario(request, tmp_path_factory) -> Scenario:
    if request.param == "vocabulary-written" and not pathlib.Path("/proc/self/stat").exists():
        pytest.skip("finding the Beam worker processes needs Linux /proc")
    workspace = make_workspace(tmp_path_factory.mktemp(f"crash-{request.param}"), epochs=1)
    # Worker processes, as for a corpus of some size (a tiny one is read in the stage's process by default).
    config = yaml.safe_load((workspace / "pipeline_config.yaml").read_text())
    config["beam"] = {"options": {"direct_num_workers": 2, "direct_running_mode": "multi_processing"}}
    (workspace / "pipeline_config.yaml").write_text(yaml.safe_dump(config))
    stdout, seconds, workers, outlived = run_and_kill_in_preprocess(workspace, request.param)
    task_dir = workspace / "runs" / TASK
    after_kill = {
        stage: sorted(p.name for p in (task_dir / stage).iterdir()) for stage in STAGES if (task_dir / stage).is_dir()
    }
    status = mlflow_client(workspace).get_run(run_id(stdout)).info.status
    rerun = subprocess.run(
        cli_command(workspace, "run"), cwd=workspace, env=cli_env(), capture_output=True, text=True, timeout=400
    )
    assert rerun.returncode == 0, rerun.stdout[-3000:] + rerun.stderr[-3000:]
    return Scenario(request.param, workspace, stdout, seconds, workers, outlived, after_kill, status, rerun)


def complete_folders(stage_dir: pathlib.Path) -> list[pathlib.Path]:
    """Fingerprint folders of a stage holding at least one artifact.json (a complete-looking output)."""
    return [p for p in stage_dir.iterdir() if not p.name.startswith(".") and list(p.glob("*/artifact.json"))]


def test_the_kill_happens_while_preprocess_runs(scenario):
    assert stage_status(scenario.killed_stdout) == {"ingest": "ran", "statistics": "ran"}
    assert "preprocess" in scenario.after_kill
    assert not {"train", "evaluate", "export"} & set(scenario.after_kill)
    if scenario.when == "vocabulary-written":
        assert scenario.workers_at_kill > 0, "the Beam workers were not running at the kill"


def test_a_killed_preprocess_leaves_no_folder_that_looks_complete(scenario):
    names = scenario.after_kill["preprocess"]

    assert [name for name in names if not name.startswith(".")] == [], names
    assert all(name.startswith((".tmp-", ".work-", ".lock-")) for name in names), names


def test_the_stages_before_the_kill_were_complete(scenario):
    for stage in ("ingest", "statistics"):
        (fingerprint,) = [name for name in scenario.after_kill[stage] if not name.startswith(".")]
        folder = scenario.workspace / "runs" / TASK / stage / fingerprint
        assert len(list(folder.glob("*/artifact.json"))) == 2, folder  # both outputs of each stage


def test_the_beam_workers_do_not_outlive_the_killed_process(scenario):
    assert scenario.seconds_workers_outlived_it is not None, (
        f"processes of the killed pipeline still alive {WORKER_GRACE_S}s after SIGKILL"
    )


def test_the_rerun_reuses_what_was_complete_and_runs_the_rest(scenario):
    assert stage_status(scenario.rerun.stdout) == {
        "ingest": "cached",
        "statistics": "cached",
        "preprocess": "ran",
        "train": "ran",
        "evaluate": "ran",
        "export": "ran",
    }
    assert "Traceback" not in scenario.rerun.stderr


def test_no_temporary_folder_remains_after_the_rerun(scenario):
    task_dir = scenario.workspace / "runs" / TASK
    leftovers = [p.relative_to(task_dir).as_posix() for p in task_dir.glob("*/.tmp-*")]
    leftovers += [p.relative_to(task_dir).as_posix() for p in task_dir.glob("*/.work-*")]

    assert leftovers == []
    for stage in STAGES:
        (folder,) = complete_folders(task_dir / stage)
        for output in folder.iterdir():
            if output.is_dir():
                assert (output / "artifact.json").is_file(), output


def test_the_killed_mlflow_run(scenario, record_property):
    """SIGKILL leaves the run RUNNING; the rerun's run finishes. What becomes of the killed run is recorded."""
    client = mlflow_client(scenario.workspace)
    killed_id, rerun_id = run_id(scenario.killed_stdout), run_id(scenario.rerun.stdout)
    runs = client.search_runs([client.get_experiment_by_name(TASK).experiment_id])
    observed = {
        "killed_run_at_kill": scenario.run_status_at_kill,
        "killed_run_after_rerun": client.get_run(killed_id).info.status,
        "rerun_continued_the_killed_run": killed_id == rerun_id,
        "runs_in_experiment": sorted(r.info.status for r in runs),
        "seconds_to_kill": round(scenario.seconds_to_kill, 1),
        "beam_workers_at_kill": scenario.workers_at_kill,
        "seconds_they_outlived_it": scenario.seconds_workers_outlived_it,
    }
    for key, value in observed.items():
        record_property(key, value)
    print("observed:", observed)

    assert scenario.run_status_at_kill == "RUNNING"  # nothing can end a run on SIGKILL
    assert client.get_run(rerun_id).info.status == "FINISHED"
