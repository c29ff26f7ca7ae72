"""MLflow tracking: one experiment per task, one run per pipeline execution of a task.

The run is driven through `MlflowClient` with an explicit run id: no global active run, nothing
started on import. Stages log through a `StageLog`, which forwards to the run and keeps a record in
the stage's folder; when a later execution reuses the stage from the cache, the record is replayed
so that every run carries the same params, metrics and files.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import pathlib
import time
from collections.abc import Mapping
from typing import Any

RECORD_FILE = "tracking.json"
DATA_CONTEXT = "mlflow.data.context"  # the tag of a dataset input that says what the run used it for
INSPECTION_TAG = "seqpipe.inspection"  # a run that inspected a trained model (inspect-cells), not one that trained
DATASETS = "datasets"  # the run's folder of record hashes, `<split>.txt` (written by the ingest stage)
SQLITE = "sqlite:///"
_BATCH = 100  # MLflow accepts at most 100 params or 1000 metrics per log_batch call.


def absolute_sqlite_uri(uri: str, base: pathlib.Path | None) -> str:
    """A SQLite tracking URI with a relative database path made absolute against `base` (None: the cwd);
    any other URI (an absolute SQLite path, an MLflow server) as it is."""
    if not uri.startswith(SQLITE) or uri.startswith(SQLITE + "/"):
        return uri
    path = pathlib.Path(uri[len(SQLITE) :]).expanduser()
    return SQLITE + str(((base or pathlib.Path.cwd()) / path).resolve())


def artifact_root(uri: str) -> pathlib.Path | None:
    """Where a SQLite store's run files go: `mlruns/` beside the database, whatever the cwd; None for a server."""
    if uri.startswith(SQLITE):
        return pathlib.Path(uri[len(SQLITE) :]).parent / "mlruns"
    return None


class RunTracker:
    """One MLflow run of one task.

    Attributes:
        run_id: the MLflow run.
        continued: True when this execution continues a run that a killed execution left open.
    """

    def __init__(self, client, run_id: str, continued: bool = False) -> None:
        self.client = client
        self.run_id = run_id
        self.continued = continued

    @staticmethod
    def prepare_store(uri: str) -> None:
        """Readies the store for several processes at once (`run --jobs`): a new SQLite file gets MLflow's
        tables now, not in a race, and SQLite's write-ahead log, so that a reader never blocks a writer."""
        patient_client(uri).search_experiments(max_results=1)
        if uri.startswith("sqlite:///"):
            import sqlite3

            with contextlib.closing(sqlite3.connect(uri.removeprefix("sqlite:///"), timeout=60)) as db:
                db.execute("PRAGMA journal_mode=WAL")

    @classmethod
    def open(
        cls,
        uri: str,
        experiment: str,
        run_name: str,
        tags: Mapping[str, str],
        params: Mapping[str, Any],
        state_file: pathlib.Path,
        artifact_root: pathlib.Path | None = None,
    ) -> RunTracker:
        """Continues the run a killed execution of the same params left open, or starts a new run.

        `state_file` names the open run while an execution is under way; `finish` removes it. A run
        whose process died with other params is marked FAILED rather than left RUNNING forever.
        """
        client = patient_client(uri)
        digest = hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode()).hexdigest()
        left = _orphan(client, state_file, uri)
        if left is not None:
            if left["params"] == digest:
                client.set_tag(left["run_id"], "continued_after_crash", "true")
                tracker = cls(client, left["run_id"], continued=True)
                tracker._claim(state_file, uri, digest)
                return tracker
            client.set_terminated(left["run_id"], "FAILED")
        experiment_id = _experiment_id(client, experiment, artifact_root)
        run = client.create_run(experiment_id, run_name=run_name, tags=dict(tags))
        tracker = cls(client, run.info.run_id)
        tracker._claim(state_file, uri, digest)
        tracker.log_params(params)
        return tracker

    def _claim(self, state_file: pathlib.Path, uri: str, digest: str) -> None:
        self.state_file = state_file
        state_file.parent.mkdir(parents=True, exist_ok=True)
        state = {"run_id": self.run_id, "pid": os.getpid(), "uri": uri, "params": digest}
        state_file.write_text(json.dumps(state) + "\n")

    def log_params(self, params: Mapping[str, Any]) -> None:
        from mlflow.entities import Param

        items = [Param(key, _param_value(value)) for key, value in sorted(params.items())]
        for start in range(0, len(items), _BATCH):
            self.client.log_batch(self.run_id, params=items[start : start + _BATCH])

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        items = [
            Metric(key, float(value), now, step or 0)
            for key, value in sorted(metrics.items())
            if value is not None and math.isfinite(float(value))
        ]
        for start in range(0, len(items), 10 * _BATCH):
            self.client.log_batch(self.run_id, metrics=items[start : start + 10 * _BATCH])

    def log_artifact(self, path: pathlib.Path, artifact_path: str | None = None) -> None:
        if path.is_dir():
            self.client.log_artifacts(self.run_id, str(path), artifact_path)
        else:
            self.client.log_artifact(self.run_id, str(path), artifact_path)

    def log_dataset(self, name: str, digest: str, context: str, source: Mapping[str, Any], profile: Mapping) -> None:
        """Logs a dataset the run read (an MLflow dataset input), tagged `mlflow.data.context` = `context`."""
        from mlflow.entities import Dataset, DatasetInput, InputTag

        dataset = Dataset(name, digest, "local", json.dumps(source), profile=json.dumps(profile))
        self.client.log_inputs(self.run_id, [DatasetInput(dataset, [InputTag(DATA_CONTEXT, context)])])

    def log_text(self, text: str, artifact_file: str) -> None:
        self.client.log_text(self.run_id, text, artifact_file)

    def set_tags(self, tags: Mapping[str, str]) -> None:
        for key, value in tags.items():
            self.client.set_tag(self.run_id, key, str(value))

    def finish(self, status: str) -> None:
        """Ends the run: `FINISHED` or `FAILED`."""
        self.client.set_terminated(self.run_id, status)
        self.state_file.unlink(missing_ok=True)


# How long a call waits in all for a SQLite store that another process is writing.
LOCKED_PATIENCE_SECONDS = 300.0


def patient_client(uri: str):
    """An MlflowClient whose calls wait and retry while a SQLite store is locked by another process's
    write (`run --jobs`), instead of failing the task: SQLite lets one writer at a time."""
    from mlflow.tracking import MlflowClient

    return _Patient(MlflowClient(tracking_uri=uri))


class _Patient:
    def __init__(self, client) -> None:
        self._client = client

    def __getattr__(self, name: str):
        method = getattr(self._client, name)
        if not callable(method):
            return method

        def patiently(*args, **kwargs):
            waited, pause = 0.0, 0.25
            while True:
                try:
                    return method(*args, **kwargs)
                except Exception as error:
                    if "database is locked" not in str(error) or waited >= LOCKED_PATIENCE_SECONDS:
                        raise
                time.sleep(pause)
                waited += pause
                pause = min(pause * 2, 8.0)

        return patiently


def _orphan(client, state_file: pathlib.Path, uri: str) -> dict[str, Any] | None:
    """The state of a run left RUNNING by an execution whose process is gone, or None."""
    try:
        state = json.loads(state_file.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    if state.get("uri") != uri or process_alive(state.get("pid", -1)):
        return None
    try:
        status = client.get_run(state["run_id"]).info.status
    except Exception:  # the run was deleted, or the store was replaced
        return None
    return state if status == "RUNNING" else None


def process_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _param_value(value: Any) -> str:
    text = json.dumps(value) if isinstance(value, list | dict) else str(value)
    return text[:6000]


class StageLog:
    """What one stage logs: forwarded to the run (if any) and recorded for replay from the cache.

    Files must lie inside the stage's folder; they are recorded relative to it.
    """

    def __init__(self, tracker: RunTracker | None, stage_dir: pathlib.Path) -> None:
        self.tracker = tracker
        self.stage_dir = stage_dir
        self.events: list[dict[str, Any]] = []

    def params(self, params: Mapping[str, Any]) -> None:
        self._record({"kind": "params", "params": dict(params)})

    @property
    def registry(self) -> Registry | None:
        """The model registry of the run's store; None without a run. Its changes are not replayed."""
        return Registry(self.tracker.client, self.tracker.run_id) if self.tracker is not None else None

    @property
    def continues_run(self) -> bool:
        """True when the run already holds what an earlier, killed attempt of this stage logged."""
        return bool(self.tracker is not None and self.tracker.continued)

    def metrics(self, metrics: Mapping[str, float], step: int | None = None, *, forward: bool = True) -> None:
        """Logs metrics; with `forward=False` they are only recorded (for replay), not sent to the run."""
        clean = {key: float(value) for key, value in metrics.items()}
        self._record({"kind": "metrics", "metrics": clean, "step": step}, forward=forward)

    def dataset(
        self, name: str, split: str, digest: str, records: int, sources: list[dict[str, str]], fields: list[str]
    ) -> None:
        """Logs one split of the task's examples as a dataset input of the run (context: the split).

        Args:
            name: the dataset's name (`<task>.<split>`).
            split: `train`, `eval` or `test`: the input's `mlflow.data.context`.
            digest: the split's digest (`Examples.properties["datasets"]`).
            records: how many records the split holds.
            sources: the corpus files (`name`, `path`, `sha256`, `role`).
            fields: the records' fields.
        """
        folder = os.path.commonpath([source["path"] for source in sources]) if sources else ""
        event = {
            "kind": "dataset",
            "name": name,
            "context": split,
            "digest": digest,
            "source": {"uri": pathlib.Path(folder).as_uri() if folder else "", "files": sources},
            "profile": {"num_rows": records, "fields": fields},
        }
        self._record(event)

    def artifact(self, path: pathlib.Path, artifact_path: str | None = None) -> None:
        relative = pathlib.Path(path).resolve().relative_to(self.stage_dir.resolve())
        self._record({"kind": "artifact", "path": str(relative), "artifact_path": artifact_path})

    def save(self, folder: pathlib.Path) -> None:
        (folder / RECORD_FILE).write_text(json.dumps(self.events, indent=1, sort_keys=True) + "\n")

    def _record(self, event: dict[str, Any], forward: bool = True) -> None:
        self.events.append(event)
        if self.tracker is not None and forward:
            _apply(self.tracker, event, self.stage_dir)


def replay(tracker: RunTracker | None, stage_dir: pathlib.Path) -> None:
    """Logs a cached stage's recorded params, metrics and files into the current run."""
    record = stage_dir / RECORD_FILE
    if tracker is None or not record.exists():
        return
    for event in json.loads(record.read_text()):
        _apply(tracker, event, stage_dir)


def _apply(tracker: RunTracker, event: Mapping[str, Any], stage_dir: pathlib.Path) -> None:
    if event["kind"] == "params":
        tracker.log_params(event["params"])
    elif event["kind"] == "metrics":
        tracker.log_metrics(event["metrics"], event["step"])
    elif event["kind"] == "artifact":
        tracker.log_artifact(stage_dir / event["path"], event["artifact_path"])
    elif event["kind"] == "dataset":
        tracker.log_dataset(event["name"], event["digest"], event["context"], event["source"], event["profile"])


class Registry:
    """The MLflow model registry, as the export stage uses it: register a version, move `champion`."""

    CHAMPION = "champion"

    def __init__(self, client, run_id: str) -> None:
        self.client = client
        self.run_id = run_id

    def register(self, name: str, artifact_path: str, tags: Mapping[str, str]) -> str:
        """Registers the run's model at `artifact_path` as a new version of `name`; returns the version."""
        from mlflow.exceptions import MlflowException

        try:
            self.client.create_registered_model(name)
        except MlflowException as error:
            if error.error_code != "RESOURCE_ALREADY_EXISTS":
                raise
        source = f"runs:/{self.run_id}/{artifact_path}"
        version = self.client.create_model_version(name, source, run_id=self.run_id, tags=dict(tags))
        return version.version

    def champion(self, name: str):
        """The version holding the `champion` alias, or None."""
        from mlflow.exceptions import MlflowException

        try:
            return self.client.get_model_version_by_alias(name, self.CHAMPION)
        except MlflowException:
            return None

    def facts(self, version) -> dict[str, str]:
        """What is known of `version`'s model: its `kind` and `lowercase` ("True" or "False"), from the version's
        tags or else from the run that made it (older versions carry no such tags); a fact unknown is left out."""
        run = self.client.get_run(version.run_id)
        facts = {}
        if "kind" in run.data.tags:
            facts["kind"] = run.data.tags["kind"]
        if "preprocess.lowercase" in run.data.params:
            facts["lowercase"] = run.data.params["preprocess.lowercase"]
        return {**facts, **{key: value for key, value in (version.tags or {}).items() if key in ("kind", "lowercase")}}

    def training_inputs(self, version, folder: pathlib.Path) -> set[str] | None:
        """The input hashes of the training records of the run that made `version` (its `datasets/train.txt`),
        or None when that run kept none."""
        from mlflow.exceptions import MlflowException

        from pipeline import artifacts

        try:
            path = self.download(version, f"{DATASETS}/train.txt", folder / "datasets")
        except (OSError, MlflowException):
            return None
        return artifacts.read_hashes(path)

    def download(self, version, path: str, destination: pathlib.Path) -> pathlib.Path:
        """Downloads `path` from the run that made `version`."""
        destination.mkdir(parents=True, exist_ok=True)
        return pathlib.Path(self.client.download_artifacts(version.run_id, path, str(destination)))

    def crown(self, name: str, version: str) -> None:
        self.client.set_registered_model_alias(name, self.CHAMPION, version)


def _experiment_id(client, experiment: str, artifact_root: pathlib.Path | None) -> str:
    """The id of the experiment named `experiment`, created if there is none. Two processes may create it at
    once (a sweep's variants on a cluster): the one that loses the race uses the winner's."""
    from mlflow.exceptions import MlflowException

    found = client.get_experiment_by_name(experiment)
    if found:
        return found.experiment_id
    location = (artifact_root / experiment).as_uri() if artifact_root else None
    try:
        return client.create_experiment(experiment, artifact_location=location)
    except MlflowException as error:
        if error.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
        return client.get_experiment_by_name(experiment).experiment_id
