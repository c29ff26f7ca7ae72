"""The schedule of teacher forcing as a PNG: ε_i over training.

Drawn on a bare matplotlib `Figure` with an Agg canvas, never through pyplot (see
`kinds/base/plots.py` for why).
"""

from __future__ import annotations

import pathlib
from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

DPI = 110


def plot_schedule(
    values: Sequence[float],
    path: pathlib.Path,
    *,
    schedule: str,
    formula: str,
    parameters: Mapping[str, float],
    unit: str,
) -> pathlib.Path:
    """Draws ε_i for i = 0 .. len(values) - 1 (x in `unit`s, y from 0 to 1) and saves it as a PNG at `path`."""
    figure = Figure(figsize=(7.0, 3.6), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots()
    positions = np.arange(len(values))
    epsilon = np.asarray(values, dtype=float)
    if unit == "epoch":  # a value per epoch: each holds for the whole epoch
        axes.step(positions, epsilon, where="post", marker="o", markersize=4, color="tab:blue")
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    else:
        axes.plot(positions, epsilon, color="tab:blue")
    axes.fill_between(positions, epsilon, step="post" if unit == "epoch" else None, alpha=0.15, color="tab:blue")
    axes.set_ylim(-0.02, 1.02)
    axes.set_xlim(0, max(len(values) - 1, 1))
    axes.set_xlabel(f"training {unit} i")
    axes.set_ylabel("ε_i: P(feed the true token)")
    axes.grid(alpha=0.3)
    shown = ", ".join(f"{key} = {value:g}" for key, value in parameters.items())
    axes.set_title(f"{schedule}: {formula}  ({shown})", fontsize=10)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png", dpi=DPI)
    return path
