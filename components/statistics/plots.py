"""A one-page PNG summary of the data: length histograms per split, the label distribution, OOV rates.

Drawn on a bare matplotlib `Figure` with an Agg canvas, never through pyplot (see
`kinds/base/plots.py` for why).
"""

from __future__ import annotations

import pathlib
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

SPLIT_COLOURS = {"train": "tab:blue", "eval": "tab:orange", "test": "tab:green"}
MAX_LABELS = 25


def plot_summary(stats: dict[str, Any], path: pathlib.Path) -> pathlib.Path:
    """Draws the statistics of `statistics.json` on one page and saves it as a PNG at `path`."""
    fields = list(stats["sequences"])
    panels = len(fields) + (1 if stats["labels"] else 0) + 1
    figure = Figure(figsize=(7.5, 2.8 * panels), layout="constrained")
    FigureCanvasAgg(figure)
    axes = iter(figure.subplots(panels, 1, squeeze=False)[:, 0])
    for field in fields:
        _length_histogram(next(axes), field, stats["sequences"][field]["length_histogram"])
    if stats["labels"]:
        _labels(next(axes), stats["labels"])
    _overview(next(axes), stats)
    figure.suptitle("Data statistics")
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png", dpi=110)
    return path


def _length_histogram(axes, field: str, histograms: dict[str, dict[str, int]]) -> None:
    """Share of each split's records per length bucket, the splits side by side."""
    buckets = sorted({b for h in histograms.values() for b in h}, key=lambda b: int(b.split("-")[0]))
    x = np.arange(len(buckets))
    width = 0.8 / max(len(histograms), 1)
    for index, (split, histogram) in enumerate(histograms.items()):
        total = sum(histogram.values()) or 1
        shares = [histogram.get(b, 0) / total for b in buckets]
        axes.bar(x + index * width, shares, width, label=split, color=SPLIT_COLOURS.get(split))
    axes.set_xticks(x + width * (len(histograms) - 1) / 2, buckets, rotation=60, fontsize=7)
    axes.set_ylabel("share of records")
    axes.set_title(f"{field}: length in tokens")
    axes.legend(fontsize=8)


def _labels(axes, labels: dict[str, dict[str, int]]) -> None:
    """Share of each label per split, the most frequent training labels first."""
    names = list(labels.get("train", {}))[:MAX_LABELS]
    x = np.arange(len(names))
    width = 0.8 / max(len(labels), 1)
    for index, (split, counts) in enumerate(labels.items()):
        total = sum(counts.values()) or 1
        axes.bar(
            x + index * width,
            [counts.get(n, 0) / total for n in names],
            width,
            label=split,
            color=SPLIT_COLOURS.get(split),
        )
    axes.set_xticks(x + width * (len(labels) - 1) / 2, names, rotation=60, fontsize=7)
    axes.set_ylabel("share")
    more = len(labels.get("train", {})) - len(names)
    axes.set_title("labels" + (f" (the {MAX_LABELS} most frequent; {more} more)" if more > 0 else ""))
    axes.legend(fontsize=8)


def _overview(axes, stats: dict[str, Any]) -> None:
    """Records per split, and the OOV rate of each held-out split."""
    splits = list(stats["records"])
    bars = axes.bar(splits, [stats["records"][s] for s in splits], color=[SPLIT_COLOURS.get(s) for s in splits])
    axes.bar_label(bars, [f"{stats['records'][s]:,}" for s in splits], fontsize=8)
    axes.set_ylabel("records")
    oov = "; ".join(
        f"{field} OOV " + ", ".join(f"{split} {rate:.1%}" for split, rate in sequence["oov_rate"].items())
        for field, sequence in stats["sequences"].items()
    )
    axes.set_title(f"records ({stats['rejects']:,} rejected); {oov}", fontsize=9)
