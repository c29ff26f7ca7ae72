"""The curriculum stage: scheduled sampling's ε_i tabulated into a `Schedule`, plotted and logged."""

from __future__ import annotations

import json
import math
import pathlib

import numpy as np
import pytest

from components.curriculum import spec as curriculum_spec
from components.curriculum.spec import SPEC, CurriculumParameters
from models.schedules import teacher_forcing_probability
from pipeline import artifacts
from pipeline.component import Component
from pipeline.config import CurriculumConfig, DataConfig, PipelineConfig, TaskConfig, TrainConfig
from pipeline.errors import ConfigError

PNG = b"\x89PNG\r\n\x1a\n"


def curriculum(horizon: int, **config) -> Component:
    return Component(SPEC, CurriculumParameters(CurriculumConfig(**config), horizon))


def test_the_schedule_holds_horizon_values_of_the_formula(harness):
    run = harness.run(curriculum(50, schedule="inverse_sigmoid", k=10.0, feed="sample"))

    schedule = run.output("schedule")
    table = json.loads(schedule.path.read_text())
    assert table["schedule"] == "inverse_sigmoid"
    assert table["unit"] == "step"
    assert table["feed"] == "sample"
    assert table["parameters"] == {"k": 10.0}
    assert len(table["values"]) == 50
    assert table["values"][0] == pytest.approx(10 / 11)
    assert table["values"][10] == pytest.approx(10 / (10 + math.e))
    expected = teacher_forcing_probability(CurriculumConfig(schedule="inverse_sigmoid", k=10.0), np.arange(50))
    assert table["values"] == pytest.approx(expected.tolist())


def test_the_written_artifact_reads_back_as_a_schedule(harness):
    run = harness.run(curriculum(4, schedule="linear", k=1.0, c=0.25, epsilon_min=0.1, unit="epoch"))

    schedule = artifacts.Artifact.load(run.output("schedule").uri)
    assert isinstance(schedule, artifacts.Schedule)
    assert schedule.unit == "epoch"
    assert schedule.feed == "argmax"
    assert schedule.values == pytest.approx([1.0, 0.75, 0.5, 0.25])
    assert schedule.properties["horizon"] == 4
    assert schedule.properties["epsilon_final"] == pytest.approx(0.25)


def test_epsilon_past_the_end_of_the_table_is_the_last_value(harness):
    run = harness.run(curriculum(3, schedule="exponential", k=0.5))

    schedule = run.output("schedule")
    assert [schedule.epsilon(i) for i in range(3)] == pytest.approx([1.0, 0.5, 0.25])
    assert schedule.epsilon(3) == pytest.approx(0.25)
    assert schedule.epsilon(10_000) == pytest.approx(0.25)
    with pytest.raises(ValueError, match="count from 0"):
        schedule.epsilon(-1)


def test_a_png_plot_is_written_and_logged(harness):
    run = harness.run(curriculum(200, schedule="linear", k=1.0, c=0.01, epsilon_min=0.2))

    plot = run.output("schedule").uri / "schedule.png"
    assert plot.read_bytes()[:8] == PNG
    logged = [event for event in run.log.events if event["kind"] == "artifact"]
    assert [(pathlib.Path(e["path"]).name, e["artifact_path"]) for e in logged] == [("schedule.png", "plots")]


def test_the_schedule_summary_is_logged(harness):
    run = harness.run(curriculum(4, schedule="linear", k=1.0, c=0.25, unit="epoch"))

    params = [event["params"] for event in run.log.events if event["kind"] == "params"]
    metrics = [event["metrics"] for event in run.log.events if event["kind"] == "metrics"]
    assert params == [{"curriculum.horizon": 4}]
    # 1, 0.75, 0.5, 0.25: below 0.5 from epoch 3.
    assert metrics == [
        {
            "curriculum.epsilon_initial": 1.0,
            "curriculum.epsilon_final": 0.25,
            "curriculum.epsilon_mean": pytest.approx(0.625),
            "curriculum.half_position": 3.0,
        }
    ]


def test_a_progress_line_is_printed(harness, capsys):
    harness.run(curriculum(10, schedule="exponential", k=0.5))

    out = capsys.readouterr().out
    assert "curriculum" in out and "exponential schedule" in out and "ε from 1.000 to 0.002" in out


def test_an_invalid_config_fails_with_a_one_line_error_naming_the_key(harness):
    with pytest.raises(ConfigError, match=r"^tasks\.tiny\.curriculum\.k: .*needs 0 < k < 1, not k = 1\.5") as raised:
        harness.run(curriculum(10, schedule="exponential", k=1.5))
    assert "\n" not in str(raised.value)


def test_a_horizon_below_one_is_a_config_error(harness):
    with pytest.raises(ConfigError, match="horizon must be at least 1"):
        harness.run(curriculum(0))


def test_the_horizon_is_the_epochs_or_the_estimated_steps():
    def task(unit: str) -> TaskConfig:
        return TaskConfig(
            name="t",
            kind="translator",
            data=DataConfig(format="parallel_tsv", train="x.tsv"),
            train=TrainConfig(epochs=3),
            curriculum=CurriculumConfig(unit=unit),
        )

    config = PipelineConfig(tasks=(task("step"),))
    assert curriculum_spec.component(task("epoch"), config).parameters.horizon == 3
    assert curriculum_spec.component(task("step"), config).parameters.horizon == 3000
    assert curriculum_spec.component(task("step"), config, steps_per_epoch=250).parameters.horizon == 750
