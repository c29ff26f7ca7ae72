"""Tracking calls wait out another process's SQLite write instead of failing the task (`run --jobs`)."""

from __future__ import annotations

import pytest

from pipeline import tracking


class FlakyClient:
    def __init__(self, failures: int, message: str = "(sqlite3.OperationalError) database is locked") -> None:
        self.failures, self.message, self.calls = failures, message, 0

    def log_batch(self, run_id, metrics=()):
        self.calls += 1
        if self.calls <= self.failures:
            raise RuntimeError(self.message)
        return run_id


@pytest.fixture(autouse=True)
def no_sleeping(monkeypatch):
    monkeypatch.setattr(tracking.time, "sleep", lambda seconds: None)


def test_a_locked_store_is_retried_until_the_write_goes_through():
    client = FlakyClient(failures=3)

    assert tracking._Patient(client).log_batch("run") == "run"
    assert client.calls == 4


def test_other_errors_are_raised_at_once():
    client = FlakyClient(failures=1, message="RESOURCE_DOES_NOT_EXIST")

    with pytest.raises(RuntimeError, match="RESOURCE_DOES_NOT_EXIST"):
        tracking._Patient(client).log_batch("run")
    assert client.calls == 1


def test_patience_runs_out(monkeypatch):
    monkeypatch.setattr(tracking, "LOCKED_PATIENCE_SECONDS", 1.0)
    client = FlakyClient(failures=100)

    with pytest.raises(RuntimeError, match="database is locked"):
        tracking._Patient(client).log_batch("run")
    assert client.calls < 100


def test_prepare_store_switches_a_sqlite_store_to_the_write_ahead_log(tmp_path):
    import sqlite3

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"

    tracking.RunTracker.prepare_store(uri)

    with sqlite3.connect(tmp_path / "mlflow.db") as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("SELECT count(*) FROM experiments").fetchone()[0] >= 1  # MLflow's tables exist


def test_an_experiment_another_process_just_created_is_used_not_created_again(tmp_path):
    # The race of two variants starting at once: both look the experiment up, find none, and create it;
    # the second create fails in the store, and the loser takes the winner's experiment.
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    tracking.RunTracker.prepare_store(uri)
    client = tracking.patient_client(uri)
    winner = client.create_experiment("swept")

    class LateLookup:
        """The client as the losing process sees it: its first lookup ran before the winner's create."""

        def __init__(self) -> None:
            self.lookups = 0

        def get_experiment_by_name(self, name):
            self.lookups += 1
            return None if self.lookups == 1 else client.get_experiment_by_name(name)

        def create_experiment(self, name, artifact_location=None):
            return client.create_experiment(name, artifact_location=artifact_location)

    assert tracking._experiment_id(LateLookup(), "swept", None) == winner
