"""Scheduled sampling's ε_i (Bengio et al. 2015) against values worked out by hand, clipping and bad configs."""

from __future__ import annotations

import ast
import dataclasses
import math
import pathlib

import numpy as np
import pytest

from models.schedules import teacher_forcing_probability, validate
from pipeline.config import CurriculumConfig


def curriculum(schedule: str, **parameters) -> CurriculumConfig:
    return CurriculumConfig(schedule=schedule, **parameters)


# ----------------------------------------------------------------------------------------------
# Values


def test_the_default_is_teacher_forcing_only():
    assert teacher_forcing_probability(CurriculumConfig(), 0) == 1.0
    assert teacher_forcing_probability(CurriculumConfig(), 10_000) == 1.0


def test_constant_is_k_at_every_position():
    values = teacher_forcing_probability(curriculum("constant", k=0.75), np.arange(5))

    assert values.tolist() == [0.75] * 5


def test_linear_decays_by_c_per_position_down_to_epsilon_min():
    config = curriculum("linear", k=1.0, c=0.25, epsilon_min=0.1)

    values = teacher_forcing_probability(config, np.arange(6))

    # 1 - 0.25 i: 1, 0.75, 0.5, 0.25, then 0 and -0.25 held at the floor 0.1.
    assert values == pytest.approx([1.0, 0.75, 0.5, 0.25, 0.1, 0.1])


def test_linear_with_no_slope_is_constant():
    values = teacher_forcing_probability(curriculum("linear", k=1.0, c=0.0), np.arange(4))

    assert values.tolist() == [1.0] * 4


def test_exponential_is_k_to_the_i():
    values = teacher_forcing_probability(curriculum("exponential", k=0.5), np.arange(4))

    assert values == pytest.approx([1.0, 0.5, 0.25, 0.125])


def test_inverse_sigmoid_is_k_over_k_plus_exp_i_over_k():
    config = curriculum("inverse_sigmoid", k=10.0)

    assert teacher_forcing_probability(config, 0) == pytest.approx(10 / 11)
    assert teacher_forcing_probability(config, 10) == pytest.approx(10 / (10 + math.e))
    assert teacher_forcing_probability(config, 50) == pytest.approx(10 / (10 + math.exp(5)))


def test_inverse_sigmoid_reaches_zero_far_into_training_without_overflow():
    with np.errstate(all="raise"):
        value = teacher_forcing_probability(curriculum("inverse_sigmoid", k=1.0), 100_000)

    assert value == 0.0


def test_every_schedule_decreases_from_its_start():
    configs = [
        curriculum("linear", k=1.0, c=0.01),
        curriculum("exponential", k=0.99),
        curriculum("inverse_sigmoid", k=100.0),
    ]
    for config in configs:
        values = teacher_forcing_probability(config, np.arange(1000))
        assert np.all(np.diff(values) <= 0), config.schedule
        assert values[-1] < values[0], config.schedule


def test_a_scalar_position_gives_a_float_and_an_array_an_array_of_its_shape():
    config = curriculum("exponential", k=0.5)

    assert isinstance(teacher_forcing_probability(config, 3), float)
    assert teacher_forcing_probability(config, np.array([[0, 1], [2, 3]])).shape == (2, 2)


# ----------------------------------------------------------------------------------------------
# Clipping


def test_constant_above_one_is_clipped_to_one():
    assert teacher_forcing_probability(curriculum("constant", k=3.0), 0) == 1.0


def test_linear_above_one_holds_one_until_the_line_falls_below_it():
    values = teacher_forcing_probability(curriculum("linear", k=1.5, c=0.25), np.arange(8))

    # 1.5 - 0.25 i: 1.5, 1.25, 1.0 (clipped to 1), then 0.75, 0.5, 0.25, 0, -0.25 (clipped to 0).
    assert values == pytest.approx([1.0, 1.0, 1.0, 0.75, 0.5, 0.25, 0.0, 0.0])


def test_every_value_lies_in_zero_to_one():
    configs = [
        curriculum("constant", k=0.0),
        curriculum("linear", k=2.0, c=0.5),
        curriculum("exponential", k=0.9),
        curriculum("inverse_sigmoid", k=1.0),
    ]
    for config in configs:
        values = teacher_forcing_probability(config, np.arange(0, 10_000, 7))
        assert values.min() >= 0.0 and values.max() <= 1.0, config.schedule


# ----------------------------------------------------------------------------------------------
# Invalid configs


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (curriculum("exponential", k=1.0), r"curriculum\.k: .*needs 0 < k < 1, not k = 1\.0"),
        (curriculum("exponential", k=1.5), r"curriculum\.k: .*needs 0 < k < 1"),
        (curriculum("exponential", k=0.0), r"curriculum\.k: .*use schedule constant with k = 0"),
        (curriculum("inverse_sigmoid", k=0.5), r"curriculum\.k: .*needs k ≥ 1, not k = 0\.5"),
        (curriculum("linear", k=0.3, c=0.1, epsilon_min=0.5), r"curriculum\.epsilon_min: 0\.5 is above"),
        (curriculum("exponential", k=0.9, c=0.1), r"curriculum\.c: only the linear schedule reads it"),
        (curriculum("inverse_sigmoid", k=10.0, epsilon_min=0.2), r"curriculum\.epsilon_min: only the linear"),
        (curriculum("constant", k=math.inf), r"curriculum\.k: must be a finite number"),
        (curriculum("quadratic"), r"curriculum\.schedule: 'quadratic' is not one of"),
    ],
)
def test_senseless_parameters_are_a_one_line_value_error(config, message):
    with pytest.raises(ValueError, match=message) as raised:
        validate(config)
    assert "\n" not in str(raised.value)
    with pytest.raises(ValueError, match=message):
        teacher_forcing_probability(config, 0)


@pytest.mark.parametrize(
    "config",
    [
        CurriculumConfig(),
        curriculum("constant", k=0.0),
        curriculum("linear", k=1.0, c=0.0),
        curriculum("linear", k=0.5, c=0.01, epsilon_min=0.5),
        curriculum("exponential", k=0.999),
        curriculum("inverse_sigmoid", k=1.0),
    ],
)
def test_sensible_parameters_pass(config):
    validate(config)


def test_a_negative_position_is_a_value_error():
    with pytest.raises(ValueError, match="count from 0"):
        teacher_forcing_probability(CurriculumConfig(), -1)


# ----------------------------------------------------------------------------------------------
# models/ does not depend on pipeline/


@dataclasses.dataclass(frozen=True)
class OtherCurriculum:
    """A curriculum config that is not pipeline.config's, with another default for c."""

    schedule: str = "constant"
    k: float = 1.0
    c: float = 0.5
    epsilon_min: float = 0.0


def test_validate_reads_any_config_and_the_defaults_of_its_class():
    # c = 0.5 is this class's default, so the exponential schedule, which ignores c, accepts it...
    assert teacher_forcing_probability(OtherCurriculum(schedule="exponential", k=0.5), 1) == 0.5
    # ...and rejects any other value of it.
    with pytest.raises(ValueError, match="curriculum.c: only the linear schedule reads it"):
        validate(OtherCurriculum(schedule="exponential", k=0.5, c=0.0))


def test_no_module_of_models_imports_the_pipeline():
    models = pathlib.Path(__file__).resolve().parents[2] / "models"
    importers = []
    for path in sorted(models.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            if any(name == "pipeline" or name.startswith("pipeline.") for name in names):
                importers.append(path.name)
    assert importers == []
