"""Evaluation plots saved as PNG files: a confusion-matrix heatmap and Keras learning curves.

Figures are built as ``matplotlib.figure.Figure`` objects drawn on an Agg canvas, never through
``pyplot``: pyplot keeps every figure in a process-wide registry (a leak in a long-running
pipeline worker unless each one is closed) and ``matplotlib.use`` would switch the backend for
the whole process, including notebooks that import this module. A bare ``Figure`` is freed like
any other object, needs no display, and is matplotlib's recommended way to render in servers
("Embedding in a web application server", matplotlib gallery).
"""

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

DPI = 120
MAX_ANNOTATED_LABELS = 20
"""Above this many labels the cell counts would not be legible, so they are left out."""

_VALIDATION_PREFIX = "val_"


def _new_figure(width: float, height: float) -> Figure:
    """A figure of ``width`` x ``height`` inches on its own Agg canvas (no pyplot state)."""
    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _save(figure: Figure, path: Path) -> Path:
    """Writes ``figure`` to ``path`` as a PNG, creating the parent directory, and returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png", dpi=DPI)
    return path


# --------------------------------------------------------------------------- confusion matrix


def _row_normalize(counts: np.ndarray) -> np.ndarray:
    """Divides each row by its sum so a cell is the fraction of that gold tag; empty rows stay 0."""
    row_sums = counts.sum(axis=1, keepdims=True)
    return np.divide(counts, row_sums, out=np.zeros(counts.shape, dtype=float), where=row_sums > 0)


def _annotate_cells(axes: Axes, counts: np.ndarray, shades: np.ndarray) -> None:
    """Writes each cell's count on the heatmap, white on dark cells so it stays readable."""
    threshold = shades.max() / 2 if shades.size else 0.0
    integral = np.issubdtype(counts.dtype, np.integer)
    for (row, column), count in np.ndenumerate(counts):
        axes.text(
            column,
            row,
            f"{count:d}" if integral else f"{count:.2g}",
            ha="center",
            va="center",
            fontsize=8,
            color="white" if shades[row, column] > threshold else "black",
        )


def plot_confusion_matrix(
    matrix: np.ndarray,
    labels: Sequence[str],
    path: Path,
    *,
    title: str = "Confusion matrix",
    normalize: bool = True,
) -> Path:
    """Draws a confusion matrix as a heatmap and saves it as a PNG.

    Args:
        matrix: Counts of shape ``[len(labels), len(labels)]``, rows gold and columns predicted,
            as returned by ``metrics.confusion_matrix``.
        labels: Tag names in row/column order, used as tick labels.
        path: Where to write the PNG; missing parent directories are created.
        title: Figure title.
        normalize: Colour each cell by its fraction of the gold row (per-tag recall on the
            diagonal), so rare tags are as visible as frequent ones; otherwise by raw count.

    Returns:
        ``path``.

    Raises:
        ValueError: ``labels`` is empty, or ``matrix`` is not square with one row per label.
    """
    counts = np.asarray(matrix)
    num_labels = len(labels)
    if num_labels == 0 or counts.shape != (num_labels, num_labels):
        raise ValueError(f"matrix of shape {counts.shape} does not match {num_labels} labels")
    shades = _row_normalize(counts) if normalize else counts.astype(float)

    # Grow with the label count so that tick labels do not overlap; cap to keep files small.
    side = min(3.0 + 0.4 * num_labels, 24.0)
    figure = _new_figure(side + 1.5, side)
    axes = figure.subplots()
    image = axes.imshow(shades, cmap="Blues", vmin=0.0, vmax=1.0 if normalize else None)
    figure.colorbar(image, ax=axes, label="fraction of gold row" if normalize else "count")
    ticks = range(num_labels)
    axes.set_xticks(ticks, labels=list(labels), rotation=45, ha="right", rotation_mode="anchor")
    axes.set_yticks(ticks, labels=list(labels))
    axes.set_xlabel("predicted")
    axes.set_ylabel("gold")
    axes.set_title(title)
    if num_labels <= MAX_ANNOTATED_LABELS:
        _annotate_cells(axes, counts, shades)
    return _save(figure, path)


# --------------------------------------------------------------------------- learning curves


def _metric_families(history: Mapping[str, Sequence[float]]) -> dict[str, list[str]]:
    """Groups history keys by metric, training before validation: ``loss`` -> [loss, val_loss].

    Families keep the order in which their first key appears in ``history``.
    """
    families: dict[str, list[str]] = {}
    for key in history:
        families.setdefault(key.removeprefix(_VALIDATION_PREFIX), []).append(key)
    for keys in families.values():
        keys.sort(key=lambda key: key.startswith(_VALIDATION_PREFIX))
    return families


def plot_learning_curves(history: Mapping[str, Sequence[float]], path: Path, *, title: str = "Learning curves") -> Path:
    """Plots per-epoch training and validation metrics, one subplot per metric, as a PNG.

    Args:
        history: Keras ``History.history``-style mapping from metric name to one value per
            epoch, e.g. ``{"loss": [...], "val_loss": [...], "accuracy": [...],
            "val_accuracy": [...]}``. ``name`` and ``val_name`` share a subplot.
        path: Where to write the PNG; missing parent directories are created.
        title: Figure title.

    Returns:
        ``path``.

    Raises:
        ValueError: ``history`` is empty.
    """
    if not history:
        raise ValueError("history has no metrics to plot")
    families = _metric_families(history)
    figure = _new_figure(4.5 * len(families), 3.8)
    figure.suptitle(title)
    all_axes = figure.subplots(1, len(families), squeeze=False)[0]
    for axes, (family, keys) in zip(all_axes, families.items(), strict=True):
        for key in keys:
            values = list(history[key])
            # Epochs are 1-based, as Keras prints them during training.
            axes.plot(range(1, len(values) + 1), values, marker="o", markersize=3, label=key)
        axes.set_title(family)
        axes.set_xlabel("epoch")
        axes.set_ylabel(family)
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.grid(alpha=0.3)
        axes.legend()
    return _save(figure, path)
