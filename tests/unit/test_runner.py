"""Unit tests of pipeline.runner: the fingerprint cache, input wiring, atomic outputs and tracking replay.

The stages here are fakes: their executors are functions of this module, imported by the runner as
`tests.unit.test_runner:<function>`. That import may give a second copy of this module, so executors
keep no state in module globals: each call appends the stage name to `calls.log` in a work folder named
by the parameters. The stand-in artifact types are the pipeline's own (fake classes defined here would be
distinct classes in the two copies of the module, and `isinstance` would fail). The stages' code folder
(what their fingerprints read) is a stand-in file in a scratch project root in tmp_path, so that edits to
the project's sources cannot change a fingerprint while a test runs.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import socket
import subprocess
import sys
import time
from typing import Any

import pytest

from pipeline import artifacts, runner, tracking
from pipeline.component import Channel, Component, ComponentSpec, StageContext
from pipeline.config import BeamConfig

MODULE = "tests.unit.test_runner"
# Where the fingerprints read the executors' code: a stand-in for this module in a scratch project root.
CODE_FILE = "tests/unit/test_runner.py"
# Stand-ins: the runner does not look inside an artifact, only at its type.
FIRST, SECOND, THIRD = artifacts.Examples, artifacts.Statistics, artifacts.Model


@dataclasses.dataclass(frozen=True)
class FakeParameters:
    workdir: str  # where calls are counted and failures are switched on
    value: int = 0
    scratch: str = dataclasses.field(default="", metadata={"internal": True})  # not fingerprinted


# ----------------------------------------------------------------------------------------------
# Executors, run by the runner


def write_value(context: StageContext) -> None:
    """Records the call, fails if `fail-<stage>` exists, else writes value + the inputs' values."""
    params: FakeParameters = context.parameters
    workdir = pathlib.Path(params.workdir)
    with (workdir / "calls.log").open("a") as log:
        log.write(context.stage + "\n")
    for artifact in context.outputs.values():
        (artifact.uri / "partial.txt").write_text("output written before a failure")
    if (workdir / f"fail-{context.stage}").exists():
        raise RuntimeError(f"{context.stage} failed")
    total = params.value + sum(artifact.properties["value"] for artifact in context.inputs.values())
    for artifact in context.outputs.values():
        artifact.properties["value"] = total
        artifact.properties["inputs"] = {name: str(a.uri) for name, a in context.inputs.items()}


def log_everything(context: StageContext) -> None:
    """Writes its output and logs a param, a metric and a file through the StageLog."""
    write_value(context)
    (output,) = context.outputs.values()
    report = output.uri / "report.txt"
    report.write_text("a report")
    context.log.params({"stage.alpha": 1})
    context.log.metrics({"stage.score": 0.5}, step=3)
    context.log.artifact(report, "reports")


# ----------------------------------------------------------------------------------------------
# Helpers


class FakeTracker:
    """Duck-typed RunTracker that remembers what it was given."""

    def __init__(self) -> None:
        self.params: list[dict[str, Any]] = []
        self.metrics: list[tuple[dict[str, float], int | None]] = []
        self.artifacts: list[tuple[pathlib.Path, str | None]] = []

    def log_params(self, params):
        self.params.append(dict(params))

    def log_metrics(self, metrics, step=None):
        self.metrics.append((dict(metrics), step))

    def log_artifact(self, path, artifact_path=None):
        self.artifacts.append((pathlib.Path(path), artifact_path))

    def stage_metrics(self) -> list[tuple[dict[str, float], int | None]]:
        """The metrics the stages logged, without the runner's own `stage_seconds.*` timings."""
        return [(m, step) for m, step in self.metrics if not any(k.startswith("stage_seconds.") for k in m)]


def stage(
    name: str,
    workdir: pathlib.Path,
    *,
    inputs: dict[str, Channel] | None = None,
    outputs: dict[str, type[artifacts.Artifact]],
    value: int = 0,
    executor: str = "write_value",
) -> Component:
    """A fake stage whose inputs are wired to `inputs` (name -> the channel it reads)."""
    inputs = inputs or {}
    spec = ComponentSpec(
        name=name,
        inputs={key: channel.type for key, channel in inputs.items()},
        outputs=outputs,
        executor=f"{MODULE}:{executor}",
    )
    return Component(spec, FakeParameters(str(workdir), value)).wire(**inputs)


def out(stage_name: str, kind: type[artifacts.Artifact], output: str = "out") -> Channel:
    return Channel(stage_name, output, kind)


@pytest.fixture(autouse=True)
def code_root(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> pathlib.Path:
    """A project root holding only a stand-in for the fake stages' module."""
    root = tmp_path / "project"
    (root / CODE_FILE).parent.mkdir(parents=True)
    (root / CODE_FILE).write_text("VERSION = 1\n")
    monkeypatch.setattr(runner, "PROJECT_ROOT", root)
    return root


@pytest.fixture
def workdir(tmp_path: pathlib.Path) -> pathlib.Path:
    folder = tmp_path / "work"
    folder.mkdir()
    return folder


@pytest.fixture
def task_dir(tmp_path: pathlib.Path) -> pathlib.Path:
    return tmp_path / "runs" / "task"


@pytest.fixture
def pipeline(workdir: pathlib.Path) -> list[Component]:
    """a -> b -> c, each passing on its value plus its own."""
    return [
        stage("a", workdir, outputs={"out": FIRST}, value=1),
        stage("b", workdir, inputs={"src": out("a", FIRST)}, outputs={"out": SECOND}, value=10),
        stage("c", workdir, inputs={"src": out("b", SECOND)}, outputs={"out": THIRD}, value=100),
    ]


def run(components, task_dir, *, seed=8, tracker=None, force=False) -> list[runner.StageResult]:
    return runner.run_task(
        components, task="task", task_dir=task_dir, seed=seed, beam=BeamConfig(), tracker=tracker, force=force
    )


def calls(workdir: pathlib.Path) -> dict[str, int]:
    log = workdir / "calls.log"
    names = log.read_text().split() if log.exists() else []
    return {name: names.count(name) for name in sorted(set(names))}


def statuses(results: list[runner.StageResult]) -> dict[str, str]:
    return {result.stage: result.status for result in results}


def with_value(component: Component, value: int) -> Component:
    return dataclasses.replace(component, parameters=dataclasses.replace(component.parameters, value=value))


@pytest.fixture
def dead_pid() -> int:
    """The id of a process that has exited."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


# ----------------------------------------------------------------------------------------------
# Running and caching


def test_a_first_run_executes_every_stage_once(pipeline, task_dir, workdir):
    results = run(pipeline, task_dir)

    assert statuses(results) == {"a": "ran", "b": "ran", "c": "ran"}
    assert calls(workdir) == {"a": 1, "b": 1, "c": 1}


def test_outputs_are_complete_artifacts_in_their_fingerprint_folder(pipeline, task_dir):
    results = run(pipeline, task_dir)

    for result in results:
        (artifact,) = result.outputs.values()
        assert artifact.uri == task_dir / result.stage / artifact.fingerprint / "out"
        loaded = artifacts.Artifact.load(artifact.uri)
        assert (type(loaded), loaded.fingerprint, loaded.producer) == (
            type(artifact),
            artifact.fingerprint,
            result.stage,
        )
    assert results[-1].outputs["out"].properties["value"] == 111


def test_a_second_run_reuses_every_stage_without_calling_it(pipeline, task_dir, workdir):
    first = run(pipeline, task_dir)

    second = run(pipeline, task_dir)

    assert statuses(second) == {"a": "cached", "b": "cached", "c": "cached"}
    assert calls(workdir) == {"a": 1, "b": 1, "c": 1}
    assert [r.outputs["out"].uri for r in second] == [r.outputs["out"].uri for r in first]
    assert second[-1].outputs["out"].properties["value"] == 111


def test_a_changed_parameter_reruns_its_stage_and_downstream_only(pipeline, task_dir, workdir):
    run(pipeline, task_dir)
    a, b, c = pipeline

    results = run([a, with_value(b, 20), c], task_dir)

    assert statuses(results) == {"a": "cached", "b": "ran", "c": "ran"}
    assert calls(workdir) == {"a": 1, "b": 2, "c": 2}
    assert results[-1].outputs["out"].properties["value"] == 121


def test_a_changed_internal_parameter_does_not_rerun(pipeline, task_dir, workdir):
    run(pipeline, task_dir)
    a, b, c = pipeline
    moved = dataclasses.replace(a, parameters=dataclasses.replace(a.parameters, scratch="/elsewhere"))

    results = run([moved, b, c], task_dir)

    assert statuses(results) == {"a": "cached", "b": "cached", "c": "cached"}


def test_changed_stage_code_reruns_every_stage_using_it(pipeline, task_dir, workdir, code_root):
    run(pipeline, task_dir)
    (code_root / CODE_FILE).write_text("VERSION = 2\n")

    results = run(pipeline, task_dir)

    assert statuses(results) == {"a": "ran", "b": "ran", "c": "ran"}


def test_a_changed_seed_reruns_every_stage(pipeline, task_dir, workdir):
    run(pipeline, task_dir, seed=8)

    results = run(pipeline, task_dir, seed=9)

    assert statuses(results) == {"a": "ran", "b": "ran", "c": "ran"}


def test_force_reruns_every_stage(pipeline, task_dir, workdir):
    first = run(pipeline, task_dir)

    results = run(pipeline, task_dir, force=True)

    assert statuses(results) == {"a": "ran", "b": "ran", "c": "ran"}
    assert calls(workdir) == {"a": 2, "b": 2, "c": 2}
    assert [r.outputs["out"].uri for r in results] == [r.outputs["out"].uri for r in first]


# ----------------------------------------------------------------------------------------------
# Inputs


def test_an_input_is_the_output_it_is_wired_to(workdir, task_dir):
    components = [
        stage("a", workdir, outputs={"first": FIRST, "second": SECOND}, value=1),
        stage("a2", workdir, outputs={"first": FIRST}, value=5),
        # Names differ from the producer's, and two stages make a FIRST: the wiring says which is read.
        stage(
            "b",
            workdir,
            inputs={"x": out("a", SECOND, "second"), "y": out("a", FIRST, "first")},
            outputs={"out": THIRD},
        ),
    ]

    a, _, b = run(components, task_dir)

    assert b.outputs["out"].properties["inputs"] == {
        "x": str(a.outputs["second"].uri),
        "y": str(a.outputs["first"].uri),
    }


def test_an_input_wired_to_no_earlier_output_is_an_error_naming_the_stage_and_input(workdir, task_dir):
    components = [stage("b", workdir, inputs={"model": out("train", THIRD, "model")}, outputs={"out": SECOND})]

    with pytest.raises(RuntimeError, match="stage b reads train.model for input 'model', which no earlier stage made"):
        run(components, task_dir)


def test_wiring_an_input_to_an_output_of_another_type_is_an_error(workdir):
    spec = ComponentSpec(name="b", inputs={"src": FIRST}, outputs={"out": SECOND}, executor="x:y")

    with pytest.raises(TypeError, match="input 'src' needs a Examples, not a.out"):
        Component(spec, FakeParameters(str(workdir))).wire(src=out("a", THIRD))
    with pytest.raises(TypeError, match="takes inputs"):
        Component(spec, FakeParameters(str(workdir))).wire()


def test_fingerprints_are_known_before_anything_runs(pipeline, task_dir):
    planned = runner.fingerprints(pipeline, seed=8)

    results = run(pipeline, task_dir)

    assert planned == {r.stage: next(iter(r.outputs.values())).fingerprint for r in results}


# ----------------------------------------------------------------------------------------------
# Failures and temporary folders


def test_a_failing_stage_leaves_no_output_folder(pipeline, task_dir, workdir):
    (workdir / "fail-b").touch()

    with pytest.raises(RuntimeError, match="b failed"):
        run(pipeline, task_dir)

    # Neither the final folder nor the temporary one: only the stage's lock file.
    assert [p.name for p in (task_dir / "b").iterdir() if not p.name.startswith(".lock-")] == []
    assert not (task_dir / "c").exists()


def test_a_failing_stage_writes_no_artifact_json(pipeline, task_dir, workdir):
    (workdir / "fail-b").touch()

    with pytest.raises(RuntimeError):
        run(pipeline, task_dir)

    assert list((task_dir / "b").rglob(artifacts.ARTIFACT_FILE)) == []


def test_a_failed_stage_runs_again_next_time(pipeline, task_dir, workdir):
    (workdir / "fail-b").touch()
    with pytest.raises(RuntimeError):
        run(pipeline, task_dir)
    (workdir / "fail-b").unlink()

    results = run(pipeline, task_dir)

    assert statuses(results) == {"a": "cached", "b": "ran", "c": "ran"}
    assert calls(workdir) == {"a": 1, "b": 2, "c": 1}


def test_a_folder_without_artifact_json_is_not_a_cache_hit(pipeline, task_dir, workdir):
    first = run(pipeline, task_dir)
    (first[1].outputs["out"].uri / artifacts.ARTIFACT_FILE).unlink()

    results = run(pipeline, task_dir)

    assert statuses(results) == {"a": "cached", "b": "ran", "c": "cached"}


def test_a_temporary_folder_of_a_dead_process_is_removed(pipeline, task_dir, dead_pid):
    stale = task_dir / "a" / f".tmp-0123456789abcdef-{dead_pid}"
    (stale / "out").mkdir(parents=True)

    run(pipeline, task_dir)

    assert not stale.exists()


def test_a_temporary_folder_of_another_machine_is_kept_and_one_of_this_machine_removed(pipeline, task_dir, dead_pid):
    elsewhere = task_dir / "a" / f".tmp-0123456789abcdef-{dead_pid}@another-host.example"
    here = task_dir / "a" / f".tmp-0123456789abcdef-{dead_pid}@{socket.gethostname()}"
    for folder in (elsewhere, here):
        (folder / "out").mkdir(parents=True)

    run(pipeline, task_dir)

    assert elsewhere.exists() and not here.exists()


def test_concurrent_runs_of_one_stage_build_it_once(pipeline, task_dir):
    # Two processes that need the same stage: the second waits for the first's lock, then finds it cached.
    first = run(pipeline, task_dir)
    stage_root = task_dir / "a"
    fingerprint = first[0].outputs["out"].fingerprint
    with runner.stage_lock(stage_root, fingerprint):
        waiter = subprocess.Popen(
            [sys.executable, "-c", LOCK_PROBE, str(stage_root), fingerprint], stdout=subprocess.PIPE, text=True
        )
        time.sleep(1.0)
        assert waiter.poll() is None  # still waiting for the lock
    assert waiter.communicate(timeout=30)[0].strip() == "locked"


LOCK_PROBE = """
import pathlib, sys
from pipeline import runner
with runner.stage_lock(pathlib.Path(sys.argv[1]), sys.argv[2]):
    print("locked")
"""


def test_a_temporary_folder_of_a_live_process_is_kept(pipeline, task_dir):
    running = task_dir / "a" / f".tmp-0123456789abcdef-{os.getpid()}"
    (running / "out").mkdir(parents=True)

    run(pipeline, task_dir)

    assert running.exists()


# ----------------------------------------------------------------------------------------------
# stage_fingerprint


@pytest.fixture
def fingerprint_inputs(tmp_path: pathlib.Path) -> dict[str, artifacts.Artifact]:
    return {"src": FIRST(tmp_path / "src", fingerprint="f" * 16, producer="a")}


def test_stage_fingerprint_is_stable(workdir, fingerprint_inputs):
    component = stage("b", workdir, inputs={"src": out("a", FIRST)}, outputs={"out": SECOND})

    assert runner.stage_fingerprint(component, fingerprint_inputs, 8) == runner.stage_fingerprint(
        component, dict(fingerprint_inputs), 8
    )


def test_stage_fingerprint_changes_with_the_parameters(workdir, fingerprint_inputs):
    component = stage("b", workdir, inputs={"src": out("a", FIRST)}, outputs={"out": SECOND}, value=1)

    assert runner.stage_fingerprint(component, fingerprint_inputs, 8) != runner.stage_fingerprint(
        with_value(component, 2), fingerprint_inputs, 8
    )


def test_stage_fingerprint_changes_with_the_seed(workdir, fingerprint_inputs):
    component = stage("b", workdir, inputs={"src": out("a", FIRST)}, outputs={"out": SECOND})

    assert runner.stage_fingerprint(component, fingerprint_inputs, 8) != runner.stage_fingerprint(
        component, fingerprint_inputs, 9
    )


def test_stage_fingerprint_changes_with_an_input_fingerprint(workdir, fingerprint_inputs, tmp_path):
    component = stage("b", workdir, inputs={"src": out("a", FIRST)}, outputs={"out": SECOND})
    other = {"src": FIRST(tmp_path / "src", fingerprint="e" * 16, producer="a")}

    assert runner.stage_fingerprint(component, fingerprint_inputs, 8) != runner.stage_fingerprint(component, other, 8)


def test_stage_fingerprint_ignores_where_an_input_lives(workdir, fingerprint_inputs, tmp_path):
    component = stage("b", workdir, inputs={"src": out("a", FIRST)}, outputs={"out": SECOND})
    moved = {"src": FIRST(tmp_path / "elsewhere", fingerprint="f" * 16, producer="a")}

    assert runner.stage_fingerprint(component, fingerprint_inputs, 8) == runner.stage_fingerprint(component, moved, 8)


# ----------------------------------------------------------------------------------------------
# Tracking and replay


@pytest.fixture
def logging_pipeline(workdir: pathlib.Path) -> list[Component]:
    return [stage("a", workdir, outputs={"out": FIRST}, executor="log_everything")]


def test_a_stage_records_what_it_logged_in_its_folder(logging_pipeline, task_dir):
    (result,) = run(logging_pipeline, task_dir, tracker=FakeTracker())

    record = json.loads((result.outputs["out"].uri.parent / tracking.RECORD_FILE).read_text())
    assert [event["kind"] for event in record] == ["params", "metrics", "artifact"]
    assert record[2] == {"kind": "artifact", "path": "out/report.txt", "artifact_path": "reports"}


def test_a_running_stage_logs_to_the_tracker(logging_pipeline, task_dir):
    tracker = FakeTracker()

    run(logging_pipeline, task_dir, tracker=tracker)

    assert tracker.params == [{"stage.alpha": 1}]
    assert tracker.stage_metrics() == [({"stage.score": 0.5}, 3)]
    assert [(path.name, where) for path, where in tracker.artifacts] == [("report.txt", "reports")]


def test_a_cached_stage_replays_its_record_into_the_tracker(logging_pipeline, task_dir, workdir):
    (first,) = run(logging_pipeline, task_dir, tracker=FakeTracker())
    tracker = FakeTracker()

    (cached,) = run(logging_pipeline, task_dir, tracker=tracker)

    assert cached.status == "cached"
    assert calls(workdir) == {"a": 1}
    assert tracker.params == [{"stage.alpha": 1}]
    assert tracker.stage_metrics() == [({"stage.score": 0.5}, 3)]
    assert tracker.artifacts == [(first.outputs["out"].uri / "report.txt", "reports")]
    assert tracker.artifacts[0][0].read_text() == "a report"


def test_every_stage_reports_its_seconds_to_the_tracker(pipeline, task_dir):
    tracker = FakeTracker()

    run(pipeline, task_dir, tracker=tracker)

    timed = [key for metrics, _ in tracker.metrics for key in metrics]
    assert timed == ["stage_seconds.a", "stage_seconds.b", "stage_seconds.c"]


STALLING_STAGE = """
import time
from pipeline.component import StageContext, stop_watching
context = StageContext("t", "evaluate", None, {}, {}, None, 0, None, None, None)
context.progress("started")
def waiting_in_a_stage():
    time.sleep(1.5)
waiting_in_a_stage()
stop_watching()
time.sleep(1.5)  # after the stage: no second dump
"""


@pytest.mark.parametrize("seconds", ["0.5", ""])
def test_a_silent_stage_prints_its_stacks_once_when_asked(seconds):
    environment = {**os.environ, "SEQPIPE_STALL_SECONDS": seconds}
    done = subprocess.run(
        [sys.executable, "-c", STALLING_STAGE], env=environment, capture_output=True, text=True, timeout=60
    )

    assert done.returncode == 0, done.stderr
    assert "[t] evaluate" in done.stdout
    if seconds:
        assert done.stderr.count("waiting_in_a_stage") == 1  # where the stage waits, once
    else:
        assert "waiting_in_a_stage" not in done.stderr
