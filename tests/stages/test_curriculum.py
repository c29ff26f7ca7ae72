"""The curriculum stage: scheduled sampling's ε_i tabulated into a `Schedule`, plotted and logged."""

from __future__ import annotations

import json
import math
import pathlib

import numpy as np
import pytest

import kinds
from components.curriculum.spec import SPEC, CurriculumParameters
from kinds.base.settings import CurriculumConfig
from models.schedules import teacher_forcing_probability
from pipeline import artifacts
from pipeline.component import Component
from pipeline.errors import ConfigError

PNG = b"\x89PNG\r\n\x1a\n"


def shards(folder: pathlib.Path, lengths: dict[int, int]) -> artifacts.Shards:
    """A Shards artifact whose manifest says the train split holds `lengths` (length -> examples)."""
    folder.mkdir(parents=True, exist_ok=True)
    split = {
        "files": [],
        "records": sum(lengths.values()),
        "tokens": 0,
        "lengths": {str(k): v for k, v in lengths.items()},
    }
    (folder / "manifest.json").write_text(json.dumps({"splits": {"train": split}}))
    artifact = artifacts.Shards(folder, "hand-made", "preprocess")
    artifact.write_metadata()
    return artifact


class Curriculum:
    """Runs the stage for a horizon of `horizon` positions: epochs, or steps of one epoch of batches of one."""

    def __init__(self, harness, tmp_path):
        self.harness, self.tmp_path = harness, tmp_path

    def __call__(self, horizon: int, **config):
        curriculum = CurriculumConfig(**config)
        if curriculum.unit == "epoch":
            component, lengths = Component(SPEC, CurriculumParameters(curriculum, horizon, 32)), {5: 10}
        else:
            component, lengths = Component(SPEC, CurriculumParameters(curriculum, 1, 1)), {5: horizon}
        return self.harness.run(component, shards=shards(self.tmp_path / f"shards-{horizon}", lengths))


@pytest.fixture
def curriculum(harness, tmp_path):
    return Curriculum(harness, tmp_path)


def test_the_schedule_holds_horizon_values_of_the_formula(curriculum):
    run = curriculum(50, schedule="inverse_sigmoid", k=10.0, feed="sample")

    schedule = run.output("schedule")
    table = json.loads(schedule.path.read_text())
    assert table["schedule"] == "inverse_sigmoid"
    assert table["unit"] == "step"
    assert table["feed"] == "sample"
    assert table["parameters"] == {"k": 10.0, "epsilon_min": 0.0}
    assert len(table["values"]) == 50
    assert table["values"][0] == pytest.approx(10 / 11)
    assert table["values"][10] == pytest.approx(10 / (10 + math.e))
    expected = teacher_forcing_probability(CurriculumConfig(schedule="inverse_sigmoid", k=10.0), np.arange(50))
    assert table["values"] == pytest.approx(expected.tolist())


def test_the_written_artifact_reads_back_as_a_schedule(curriculum):
    run = curriculum(4, schedule="linear", k=1.0, c=0.25, epsilon_min=0.1, unit="epoch")

    schedule = artifacts.Artifact.load(run.output("schedule").uri)
    assert isinstance(schedule, artifacts.Schedule)
    assert schedule.unit == "epoch"
    assert schedule.feed == "argmax"
    assert schedule.values == pytest.approx([1.0, 0.75, 0.5, 0.25])
    assert schedule.properties["horizon"] == 4
    assert schedule.properties["epsilon_final"] == pytest.approx(0.25)


def test_epsilon_past_the_end_of_the_table_is_the_last_value(curriculum):
    run = curriculum(3, schedule="exponential", k=0.5)

    schedule = run.output("schedule")
    assert [schedule.epsilon(i) for i in range(3)] == pytest.approx([1.0, 0.5, 0.25])
    assert schedule.epsilon(3) == pytest.approx(0.25)
    assert schedule.epsilon(10_000) == pytest.approx(0.25)
    with pytest.raises(ValueError, match="count from 0"):
        schedule.epsilon(-1)


def test_a_png_plot_is_written_and_logged(curriculum):
    run = curriculum(200, schedule="linear", k=1.0, c=0.01, epsilon_min=0.2)

    plot = run.output("schedule").uri / "schedule.png"
    assert plot.read_bytes()[:8] == PNG
    logged = [event for event in run.log.events if event["kind"] == "artifact"]
    assert [(pathlib.Path(e["path"]).name, e["artifact_path"]) for e in logged] == [("schedule.png", "plots")]


def test_the_schedule_summary_is_logged(curriculum):
    run = curriculum(4, schedule="linear", k=1.0, c=0.25, unit="epoch")

    params = [event["params"] for event in run.log.events if event["kind"] == "params"]
    metrics = [event["metrics"] for event in run.log.events if event["kind"] == "metrics"]
    assert params == [{"curriculum.horizon": 4, "curriculum.steps_per_epoch": 1}]
    # 1, 0.75, 0.5, 0.25: below 0.5 from epoch 3.
    assert metrics == [
        {
            "curriculum.epsilon_initial": 1.0,
            "curriculum.epsilon_final": 0.25,
            "curriculum.epsilon_mean": pytest.approx(0.625),
            "curriculum.half_position": 3.0,
        }
    ]


def test_a_progress_line_is_printed(curriculum, capsys):
    curriculum(10, schedule="exponential", k=0.5)

    out = capsys.readouterr().out
    assert "curriculum" in out and "exponential schedule" in out and "ε from 1.000 to 0.002" in out


def test_reach_fits_the_decay_to_the_real_horizon_and_logs_what_it_chose(curriculum, capsys):
    run = curriculum(200, schedule="inverse_sigmoid", epsilon_min=0.75, reach=0.5)

    table = json.loads(run.output("schedule").path.read_text())
    values = np.array(table["values"])
    assert values[0] > 0.95 and values[98] > 0.75 and np.allclose(values[100:], 0.75)
    k = table["parameters"]["k"]
    assert table["parameters"] == {"k": k, "epsilon_min": 0.75, "reach": 0.5}
    assert k / (k + math.exp(100 / k)) == pytest.approx(0.75)
    params = [event["params"] for event in run.log.events if event["kind"] == "params"]
    assert params[-1] == {"curriculum.fitted_k": k}
    assert "at its floor from step 100" in capsys.readouterr().out


def translator_config(tmp_path: pathlib.Path, **curriculum) -> pathlib.Path:
    (tmp_path / "pairs.tsv").write_text("a\tb\n", encoding="utf-8")
    task = {
        "name": "t",
        "kind": "translator",
        "data": {"format": "parallel_tsv", "train": "pairs.tsv"},
        "curriculum": curriculum,
    }
    path = tmp_path / "pipeline_config.yaml"
    path.write_text(json.dumps({"tasks": [task]}))
    return path


def test_an_invalid_curriculum_fails_when_the_config_loads_with_a_one_line_error_naming_the_key(tmp_path):
    with pytest.raises(ConfigError, match=r"^tasks\.t\.curriculum\.k: .*needs 0 < k < 1, not k = 1\.5") as raised:
        kinds.load_config(translator_config(tmp_path, schedule="exponential", k=1.5))
    assert "\n" not in str(raised.value)


def test_the_horizon_is_the_epochs_or_the_real_steps_of_the_trainers_buckets(harness, tmp_path):
    # 100 examples of length 5 (bucket below 8) and 40 of length 30 (bucket 30-39), batches of 32: 4 + 2 steps.
    lengths = {5: 100, 30: 40}
    for unit, horizon in (("epoch", 3), ("step", 18)):
        component = Component(SPEC, CurriculumParameters(CurriculumConfig(unit=unit), epochs=3, batch_size=32))
        run = harness.run(component, shards=shards(tmp_path / unit, lengths))
        assert run.output("schedule").properties["horizon"] == horizon
        assert run.output("schedule").properties["steps_per_epoch"] == 6
        assert len(run.output("schedule").values) == horizon
    by_tokens = Component(SPEC, CurriculumParameters(CurriculumConfig(), epochs=1, batch_size=32, tokens_per_batch=70))
    # A 70-token budget: 10 sentences of length < 8 (70 // 7), 1 of length 30-39 (70 // 39): 10 + 40 steps.
    assert (
        harness.run(by_tokens, shards=shards(tmp_path / "tokens", lengths)).output("schedule").properties["horizon"]
        == 50
    )


def test_the_curriculum_reads_the_preprocess_stages_shards_in_the_dag(tmp_path):
    import dag

    config = kinds.load_config(translator_config(tmp_path))
    stages = {c.name: c for c in dag.build(config.tasks[0], config)}
    assert stages["curriculum"].inputs["shards"].stage == "preprocess"
    assert stages["train"].inputs["schedule"].stage == "curriculum"
