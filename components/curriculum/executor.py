"""Curriculum executor: counts the positions of training, tabulates ε_i over them, writes `schedule.json` and a plot.

`schedule.json` holds {"schedule", "unit", "parameters", "feed", "values"}; the trainer reads ε_i from it
through `Schedule.epsilon(i)` at each step or epoch (the last value past the end of the table).
"""

from __future__ import annotations

import json

import numpy as np

from components.curriculum import plots
from components.curriculum.spec import CurriculumParameters
from models import buckets, schedules
from pipeline import artifacts
from pipeline.component import StageContext
from pipeline.config import epochs_to_converge


def run(context: StageContext) -> None:
    params: CurriculumParameters = context.parameters
    config = params.curriculum
    shards: artifacts.Shards = context.input("shards")
    steps = steps_per_epoch(shards, params)
    # Training to convergence runs at most the cap of its first epoch's updates, which these steps are.
    epochs = params.epochs or epochs_to_converge(steps)
    horizon = epochs if config.unit == "epoch" else epochs * steps

    fitted = schedules.fit_to_horizon(config, horizon)
    values = schedules.teacher_forcing_probability(fitted, np.arange(horizon))
    parameters = {key: getattr(fitted, key) for key in schedules.PARAMETERS[config.schedule]}
    if config.reach is not None:
        parameters["reach"] = config.reach
    table = {
        "schedule": config.schedule,
        "unit": config.unit,
        "parameters": parameters,
        "feed": config.feed,
        "values": [float(value) for value in values],
    }
    schedule: artifacts.Schedule = context.output("schedule")
    schedule.path.write_text(json.dumps(table) + "\n")
    plot = plots.plot_schedule(
        table["values"],
        schedule.uri / "schedule.png",
        schedule=config.schedule,
        formula=schedules.FORMULAS[config.schedule],
        parameters=parameters,
        unit=config.unit,
    )

    summary = summarize(values)
    schedule.properties.update(
        {
            "schedule": config.schedule,
            "unit": config.unit,
            "feed": config.feed,
            "horizon": horizon,
            "steps_per_epoch": steps,
            **summary,
        }
    )
    # The config's own keys (curriculum.k, ...) are already params of the run; the horizon is not.
    context.log.params({"curriculum.horizon": horizon, "curriculum.steps_per_epoch": steps})
    if config.reach is not None:  # what reach stands for on this corpus, under names the config does not use
        context.log.params(
            {f"curriculum.fitted_{key}": getattr(fitted, key) for key in schedules.DERIVED[config.schedule]}
        )
    context.log.metrics({f"curriculum.{key}": value for key, value in summary.items() if value is not None})
    context.log.artifact(plot, "plots")
    halfway = summary["half_position"]
    floor_at = floor_position(values, fitted)
    context.progress(
        f"{config.schedule} schedule ({schedules.FORMULAS[config.schedule]}"
        + "".join(f", {key} = {parameters[key]:.4g}" for key in schedules.PARAMETERS[config.schedule])
        + f") over {horizon:,} {config.unit}s "
        f"({epochs} epochs of {steps:,} steps{'' if params.epochs else ', the cap of training to convergence'}): "
        f"ε from {summary['epsilon_initial']:.3f} to {summary['epsilon_final']:.3f}, mean {summary['epsilon_mean']:.3f}"
        + (f", below 0.5 from {config.unit} {halfway:,}" if halfway is not None else "")
        + (f", at its floor from {config.unit} {floor_at:,}" if floor_at is not None else "")
        + f"; feeding {config.feed} predictions"
    )


def steps_per_epoch(shards: artifacts.Shards, params: CurriculumParameters) -> int:
    """The optimizer steps of one training epoch: the trainer's length-bucketed batches of the train split."""
    lengths = shards.manifest()["splits"]["train"]["lengths"]
    return buckets.batches_per_epoch(lengths, params.batch_size, params.tokens_per_batch)


def floor_position(values: np.ndarray, config) -> int | None:
    """The first position where a decay is at its floor `epsilon_min` (None: a constant, or never)."""
    if config.schedule == "constant" or config.epsilon_min <= 0:
        return None
    at = np.flatnonzero(values <= config.epsilon_min)
    return int(at[0]) if at.size else None


def summarize(values: np.ndarray) -> dict[str, float | int | None]:
    """First, last and mean ε, and the first position where ε falls below 0.5 (None if it never does)."""
    below = np.flatnonzero(values < 0.5)
    return {
        "epsilon_initial": float(values[0]),
        "epsilon_final": float(values[-1]),
        "epsilon_mean": float(np.mean(values)),
        "half_position": int(below[0]) if below.size else None,
    }
