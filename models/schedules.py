"""Schedules of teacher forcing for scheduled sampling (Bengio, Vinyals, Jaitly and Shazeer 2015).

While training with scheduled sampling, each input of the decoder is the true previous token with
probability ε_i and the model's own prediction otherwise; i counts training steps or epochs. The paper
("Scheduled Sampling for Sequence Prediction with Recurrent Neural Networks", section 2.4) decreases ε_i
from 1 (teacher forcing: the model always sees the truth) towards 0 (the model always sees its own
predictions, as at inference) by one of three decays, drawn in its figure 2:

* linear decay: ε_i = max(ε, k − c·i), with 0 ≤ ε < 1 the least amount of truth (`epsilon_min`), k ≤ 1
  the offset and c the slope;
* exponential decay: ε_i = k^i, with k < 1;
* inverse sigmoid decay: ε_i = k / (k + exp(i/k)), with k ≥ 1 setting how long the truth is fed.

Here `constant`, ε_i = k, adds the fixed mixtures (k = 1 is plain teacher forcing, the default). Every
value is clipped to [0, 1] (a linear k above 1 keeps ε_i at 1 until k − c·i falls below it), and every
decay stops at its floor ε_min (`epsilon_min`): ε_i = max(ε_min, decay_i).

A decay's parameters can instead follow from the length of training: with `reach` (a fraction of the
horizon) ε_i reaches ε_min at step reach·H of the H steps training will make (`fit_to_horizon`), so that
"keep the truth three times in four from the first third of training on" is one config for any corpus
(linear: k = 1 and c = (1 − ε_min) / (reach·H); exponential: k = ε_min^(1 / (reach·H)); inverse
sigmoid: the k ≥ 1 whose curve crosses ε_min at reach·H).

Only numpy: the training graph reads the tabulated values (the curriculum stage's `Schedule`), not
this module.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Protocol

import numpy as np

SCHEDULES = ("constant", "linear", "exponential", "inverse_sigmoid")

# The formula of each schedule, in the paper's notation (for plot titles and messages).
FORMULAS = {
    "constant": "ε_i = k",
    "linear": "ε_i = max(ε_min, k − c·i)",
    "exponential": "ε_i = max(ε_min, k^i)",
    "inverse_sigmoid": "ε_i = max(ε_min, k / (k + exp(i/k)))",
}

# The config keys each schedule's formula reads; the others must stay at their defaults.
PARAMETERS = {
    "constant": ("k",),
    "linear": ("k", "c", "epsilon_min"),
    "exponential": ("k", "epsilon_min"),
    "inverse_sigmoid": ("k", "epsilon_min"),
}

# The parameters `reach` derives from the horizon, so a config with `reach` leaves them at their defaults.
DERIVED = {"linear": ("k", "c"), "exponential": ("k",), "inverse_sigmoid": ("k",)}


class Curriculum(Protocol):
    """What this module reads of a curriculum config (`pipeline.config.CurriculumConfig`, which models/ does
    not import): the schedule's name and parameters. `validate` also builds `type(config)()`, whose values
    are the defaults."""

    schedule: str
    k: float
    c: float
    epsilon_min: float
    reach: float | None


def validate(config: Curriculum) -> None:
    """Checks that the schedule's parameters make sense together.

    Raises:
        ValueError: a one-line message naming the key (`curriculum.k`) and what it should be.
    """
    if config.schedule not in SCHEDULES:
        raise ValueError(f"curriculum.schedule: {config.schedule!r} is not one of {', '.join(SCHEDULES)}")
    for key in ("k", "c", "epsilon_min"):
        value = getattr(config, key)
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"curriculum.{key}: must be a finite number ≥ 0, not {value}")
    if config.epsilon_min > 1:
        raise ValueError(f"curriculum.epsilon_min: must be at most 1, not {config.epsilon_min}")
    defaults = type(config)()  # the config class's defaults, whatever the class
    for key in ("c", "epsilon_min"):
        if key not in PARAMETERS[config.schedule] and getattr(config, key) != getattr(defaults, key):
            readers = [name for name, keys in PARAMETERS.items() if key in keys]
            who = (
                f"the {readers[0]} schedule reads" if len(readers) == 1 else f"the {', '.join(readers)} schedules read"
            )
            raise ValueError(
                f"curriculum.{key}: only {who} it; the {config.schedule} schedule "
                f"({FORMULAS[config.schedule]}) would ignore {key} = {getattr(config, key)}"
            )
    if config.reach is not None:
        _validate_reach(config, defaults)
        return
    k = config.k
    if config.schedule == "exponential" and not 0 < k < 1:
        hint = " (k = 0 feeds predictions from i = 1 on: use schedule constant with k = 0)" if k == 0 else ""
        raise ValueError(f"curriculum.k: the exponential schedule ε_i = k^i needs 0 < k < 1, not k = {k}{hint}")
    if config.schedule == "inverse_sigmoid" and k < 1:
        raise ValueError(
            f"curriculum.k: the inverse_sigmoid schedule ε_i = k / (k + exp(i/k)) needs k ≥ 1, not k = {k}"
        )
    if config.schedule == "linear" and config.epsilon_min > min(k, 1.0):
        raise ValueError(
            f"curriculum.epsilon_min: {config.epsilon_min} is above the linear schedule's start min(k, 1) = "
            f"{min(k, 1.0)}, so ε_i would never move; lower epsilon_min or raise k"
        )


def _validate_reach(config: Curriculum, defaults: Curriculum) -> None:
    if not math.isfinite(config.reach) or not 0 < config.reach <= 1:
        raise ValueError(f"curriculum.reach: a fraction of training in (0, 1], not {config.reach}")
    if config.schedule == "constant":
        raise ValueError(
            "curriculum.reach: a constant schedule has nothing to reach; use linear, exponential or inverse_sigmoid"
        )
    for key in DERIVED[config.schedule]:
        if getattr(config, key) != getattr(defaults, key):
            raise ValueError(
                f"curriculum.{key}: with curriculum.reach the {config.schedule} schedule's {key} follows from the "
                f"number of training steps; leave {key} out, or leave out reach"
            )
    if config.epsilon_min >= 1:
        raise ValueError(
            f"curriculum.epsilon_min: {config.epsilon_min} leaves nothing to decay; reach needs a floor below 1"
        )
    if config.schedule != "linear" and config.epsilon_min <= 0:
        raise ValueError(
            f"curriculum.epsilon_min: the {config.schedule} decay never reaches 0; with curriculum.reach give it "
            "a floor above 0 (0.75: the truth three times in four)"
        )


def fit_to_horizon(config: Curriculum, horizon: int) -> Curriculum:
    """The config with the parameters `reach` stands for: ε_i reaches `epsilon_min` at position reach·horizon.

    Args:
        config: a validated curriculum config, a dataclass (`reach` None: returned as it is).
        horizon: the positions (steps or epochs) training will go through.

    Returns:
        A copy with `k` (and for linear, `c`) solved and `reach` cleared: the paper's formula with those
        parameters, which `teacher_forcing_probability` tabulates.

    Raises:
        ValueError: the horizon is too short for the inverse sigmoid to reach its floor with k ≥ 1.
    """
    validate(config)
    if config.reach is None:
        return config
    position = max(1.0, config.reach * horizon)
    floor = config.epsilon_min
    if config.schedule == "linear":
        return dataclasses.replace(config, k=1.0, c=(1.0 - floor) / position, reach=None)
    if config.schedule == "exponential":
        return dataclasses.replace(config, k=floor ** (1.0 / position), reach=None)
    return dataclasses.replace(config, k=_inverse_sigmoid_k(floor, position), reach=None)


def _inverse_sigmoid_k(floor: float, position: float) -> float:
    """The k ≥ 1 with k / (k + exp(position / k)) = floor, by bisection.

    Crossing at `position` means position = k·ln(k·(1 − floor) / floor) =: g(k). g grows without bound
    beyond its one minimum, so where g(1) < 0 one root lies above 1; where g(1) ≥ 0 even k = 1, the
    steepest curve, crosses the floor only after `position`.
    """
    odds = (1.0 - floor) / floor

    def excess(k: float) -> float:
        return k * math.log(k * odds) - position

    if excess(1.0) >= 0:
        raise ValueError(
            f"curriculum.reach: with k ≥ 1 the inverse sigmoid falls to {floor} no sooner than position "
            f"{math.log(odds):.2f}, after reach × horizon = {position:g}; raise epsilon_min or reach, or train longer"
        )
    low, high = 1.0, 2.0
    while excess(high) < 0:
        low, high = high, high * 2
    for _ in range(200):
        middle = (low + high) / 2
        low, high = (middle, high) if excess(middle) < 0 else (low, middle)
    return (low + high) / 2


def teacher_forcing_probability(config: Curriculum, i: int | np.ndarray) -> float | np.ndarray:
    """The paper's ε_i: the probability of feeding the decoder the true previous token at step or epoch `i`.

    Args:
        config: the schedule and its parameters (checked by `validate`).
        i: a position (training step or epoch, counted from 0), or an array of them.

    Returns:
        ε_i in [0, 1]: a float for an int `i`, an array of `i`'s shape for an array.

    Raises:
        ValueError: the config fails `validate` or still has a `reach` (`fit_to_horizon` first), or a
            position is negative.
    """
    validate(config)
    if config.reach is not None:
        raise ValueError("teacher_forcing_probability: curriculum.reach needs the horizon; call fit_to_horizon first")
    positions = np.asarray(i, dtype=np.float64)
    if np.any(positions < 0):
        raise ValueError(f"teacher_forcing_probability: positions count from 0, got {np.min(positions):g}")
    k = config.k
    if config.schedule == "constant":  # ε_i = k
        values = np.full(positions.shape, k)
    elif config.schedule == "linear":  # ε_i = max(ε, k − c·i)
        values = np.maximum(config.epsilon_min, k - config.c * positions)
    elif config.schedule == "exponential":  # ε_i = max(ε, k^i), 0 < k < 1
        values = np.maximum(config.epsilon_min, np.power(k, positions))
    else:  # inverse sigmoid: ε_i = max(ε, k / (k + exp(i/k))) = max(ε, 1 / (1 + exp(i/k − ln k))), k ≥ 1
        with np.errstate(over="ignore"):  # exp overflows to inf far into training: ε_i is then 0
            values = np.maximum(config.epsilon_min, 1.0 / (1.0 + np.exp(positions / k - math.log(k))))
    values = np.clip(values, 0.0, 1.0)
    return float(values) if values.ndim == 0 else values
