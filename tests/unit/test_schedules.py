"""Scheduled sampling's ε_i (Bengio et al. 2015) against values worked out by hand, clipping and bad configs."""

from __future__ import annotations

import ast
import dataclasses
import math
import pathlib

import numpy as np
import pytest

from kinds.base.settings import CurriculumConfig
from models.schedules import fit_to_horizon, teacher_forcing_probability, validate


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


def test_exponential_and_inverse_sigmoid_stop_at_their_floor():
    for config in (
        curriculum("exponential", k=0.99, epsilon_min=0.75),
        curriculum("inverse_sigmoid", k=50.0, epsilon_min=0.75),
    ):
        values = teacher_forcing_probability(config, np.arange(5_000))
        assert values.min() == 0.75 and values[0] > 0.75, config.schedule


@pytest.mark.parametrize("schedule", ["linear", "exponential", "inverse_sigmoid"])
@pytest.mark.parametrize(("horizon", "reach"), [(1_000, 0.5), (7_301, 0.25), (40, 1.0)])
def test_reach_puts_the_floor_at_that_fraction_of_the_horizon(schedule, horizon, reach):
    fitted = fit_to_horizon(curriculum(schedule, epsilon_min=0.75, reach=reach), horizon)
    assert fitted.reach is None and fitted.schedule == schedule
    values = teacher_forcing_probability(fitted, np.arange(horizon))
    at = reach * horizon
    assert values[0] > 0.9
    assert np.all(np.diff(values) <= 1e-12)  # never rises
    # Above the floor before reach·H, at it (to float precision) from there on.
    assert values[int(at) - 2] > 0.75 + 1e-6
    assert np.allclose(values[int(math.ceil(at)) :], 0.75, atol=1e-9)


def test_reach_derives_the_papers_parameters():
    assert fit_to_horizon(curriculum("linear", epsilon_min=0.5, reach=0.5), 1_000).c == pytest.approx(0.001)
    assert fit_to_horizon(curriculum("exponential", epsilon_min=0.5, reach=1.0), 100).k == pytest.approx(0.5**0.01)
    k = fit_to_horizon(curriculum("inverse_sigmoid", epsilon_min=0.75, reach=0.5), 1_000).k
    assert k / (k + math.exp(500 / k)) == pytest.approx(0.75)  # the paper's formula crosses the floor there
    assert fit_to_horizon(CurriculumConfig(), 1_000) == CurriculumConfig()  # nothing to fit


def test_reach_without_the_horizon_is_a_value_error():
    with pytest.raises(ValueError, match="call fit_to_horizon first"):
        teacher_forcing_probability(curriculum("linear", epsilon_min=0.75, reach=0.5), 0)


def test_an_inverse_sigmoid_too_slow_for_its_reach_says_so():
    # The steepest curve, k = 1, is 1 / (1 + e^i): it falls to 0.1 at i = ln 9 = 2.2, so not by step 1.
    with pytest.raises(ValueError, match=r"curriculum.reach: .* falls to 0.1 no sooner than position 2.20"):
        fit_to_horizon(curriculum("inverse_sigmoid", epsilon_min=0.1, reach=0.001), 1_000)


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
        (curriculum("constant", k=0.5, epsilon_min=0.2), r"curriculum\.epsilon_min: only the linear, exponential"),
        (curriculum("constant", reach=0.5), r"curriculum\.reach: a constant schedule has nothing to reach"),
        (curriculum("linear", c=0.1, reach=0.5), r"curriculum\.c: with curriculum\.reach .* leave c out"),
        (curriculum("inverse_sigmoid", k=5.0, epsilon_min=0.5, reach=0.5), r"curriculum\.k: with curriculum\.reach"),
        (
            curriculum("inverse_sigmoid", reach=0.5),
            r"curriculum\.epsilon_min: the inverse_sigmoid decay never reaches 0",
        ),
        (curriculum("linear", epsilon_min=1.0, reach=0.5), r"curriculum\.epsilon_min: 1\.0 leaves nothing to decay"),
        (curriculum("linear", reach=0.0), r"curriculum\.reach: a fraction of training in \(0, 1\]"),
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
    reach: float | None = None


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
