"""MLflow tracking: one experiment per task, one run per pipeline execution of a task.

The run is driven through `MlflowClient` with an explicit run id: no global active run, nothing
started on import. Stages log through a `StageLog`, which forwards to the run and keeps a record in
the stage's folder; when a later execution reuses the stage from the cache, the record is replayed
so that every run carries the same params, metrics and files.
"""

from __future__ import annotations

import json
import math
import pathlib
import time
from collections.abc import Mapping
from typing import Any

RECORD_FILE = "tracking.json"
_BATCH = 100  # MLflow accepts at most 100 params or 1000 metrics per log_batch call.


class RunTracker:
    """One MLflow run of one task."""

    def __init__(
        self,
        uri: str,
        experiment: str,
        run_name: str,
        tags: Mapping[str, str],
        artifact_root: pathlib.Path | None = None,
    ) -> None:
        """Starts a run in `experiment` (created when missing, its files under `artifact_root` if given)."""
        from mlflow.tracking import MlflowClient

        self.client = MlflowClient(tracking_uri=uri)
        found = self.client.get_experiment_by_name(experiment)
        if found:
            experiment_id = found.experiment_id
        else:
            location = (artifact_root / experiment).as_uri() if artifact_root else None
            experiment_id = self.client.create_experiment(experiment, artifact_location=location)
        self.run = self.client.create_run(experiment_id, run_name=run_name, tags=dict(tags))
        self.run_id = self.run.info.run_id

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

    def log_text(self, text: str, artifact_file: str) -> None:
        self.client.log_text(self.run_id, text, artifact_file)

    def set_tags(self, tags: Mapping[str, str]) -> None:
        for key, value in tags.items():
            self.client.set_tag(self.run_id, key, str(value))

    def finish(self, status: str) -> None:
        """Ends the run: `FINISHED` or `FAILED`."""
        self.client.set_terminated(self.run_id, status)


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

    def metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        clean = {key: float(value) for key, value in metrics.items()}
        self._record({"kind": "metrics", "metrics": clean, "step": step})

    def artifact(self, path: pathlib.Path, artifact_path: str | None = None) -> None:
        relative = pathlib.Path(path).resolve().relative_to(self.stage_dir.resolve())
        self._record({"kind": "artifact", "path": str(relative), "artifact_path": artifact_path})

    def save(self, folder: pathlib.Path) -> None:
        (folder / RECORD_FILE).write_text(json.dumps(self.events, indent=1, sort_keys=True) + "\n")

    def _record(self, event: dict[str, Any]) -> None:
        self.events.append(event)
        if self.tracker is not None:
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
