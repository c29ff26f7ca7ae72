"""The compare view on the console: one row per MLflow run of a task, the params that differ, the metrics."""

from __future__ import annotations

import dataclasses
import math
import statistics
from collections.abc import Mapping, Sequence


@dataclasses.dataclass(frozen=True)
class RunSummary:
    """What the table shows of one run; `test_data`: the digest of the test split it was scored on ("" when
    the run logged none)."""

    name: str
    status: str
    variant: str
    params: Mapping[str, str]
    metrics: Mapping[str, float]
    test_data: str = ""


def by_test_data(runs: Sequence[RunSummary]) -> list[tuple[str, list[RunSummary]]]:
    """The runs grouped by the test split they were scored on (its digest), the largest group first: only
    runs of one group are ranked against each other."""
    groups: dict[str, list[RunSummary]] = {}
    for run in runs:
        groups.setdefault(run.test_data, []).append(run)
    return sorted(groups.items(), key=lambda item: (-len(item[1]), item[0] == "", item[0]))


def ranked_by(runs: Sequence[RunSummary], metrics: Sequence[str]) -> list[str]:
    """`metrics` with the test metric the runs were blessed by first (their `blessing.metric` param), when they
    all name the same one; else as they are."""
    blessed = {run.params.get("blessing.metric") for run in runs}
    if len(blessed) != 1 or None in blessed:
        return list(metrics)
    first = f"test.{blessed.pop()}"
    return [first, *(name for name in metrics if name != first)]


def with_legacy_names(metrics: Mapping[str, float], legacy: Mapping[str, str]) -> dict[str, float]:
    """A run's metrics, with each metric that older runs logged under another name (`legacy`: new -> old)
    also under its new name, so that runs from before a rename line up with today's."""
    found = dict(metrics)
    for new, old in legacy.items():
        if new not in found and old in found:
            found[new] = found[old]
    return found


def comparison_table(
    runs: Sequence[RunSummary], metrics: Sequence[str], *, lower_is_better: bool = False
) -> tuple[list[str], list[list[str]]]:
    """Headers and rows: run, variant, each param whose value differs between runs, then `metrics`.

    Rows are sorted by the first metric, best first (highest, or lowest with `lower_is_better`, as bits
    per character); runs without it come last.
    """
    keys = sorted({key for run in runs for key in run.params})
    differing = [key for key in keys if len({run.params.get(key, "") for run in runs}) > 1]

    def order(run: RunSummary) -> tuple[bool, float]:
        value = run.metrics.get(metrics[0], math.nan)
        if math.isnan(value):
            return (True, 0.0)
        return (False, value if lower_is_better else -value)

    rows = []
    for run in sorted(runs, key=order):
        cells = [run.name, run.status, run.variant]
        cells += [run.params.get(key, "") for key in differing]
        cells += [_number(run.metrics.get(name)) for name in metrics]
        rows.append(cells)
    return ["run", "status", "variant", *differing, *metrics], rows


def mean_table(
    runs: Sequence[RunSummary], metrics: Sequence[str], over: Sequence[str], *, lower_is_better: bool = False
) -> tuple[list[str], list[list[str]]]:
    """Headers and rows of the runs' means: runs that differ only in the params `over` (the seeds of a
    sweep over `train.seed`, say) make one row, with how many they are and each metric's mean ± sample
    standard deviation. Only finished runs count. Rows are sorted by the first metric's mean, best first.
    """
    finished = [run for run in runs if run.status == "FINISHED"]
    keys = sorted({key for run in finished for key in run.params} - set(over))
    differing = [key for key in keys if len({run.params.get(key, "") for run in finished}) > 1]
    groups: dict[tuple[str, ...], list[RunSummary]] = {}
    for run in finished:
        groups.setdefault(tuple(run.params.get(key, "") for key in differing), []).append(run)

    def values(group: list[RunSummary], name: str) -> list[float]:
        return [run.metrics[name] for run in group if not math.isnan(run.metrics.get(name, math.nan))]

    def order(item: tuple[tuple[str, ...], list[RunSummary]]) -> tuple[bool, float]:
        found = values(item[1], metrics[0])
        if not found:
            return (True, 0.0)
        mean = statistics.fmean(found)
        return (False, mean if lower_is_better else -mean)

    rows = []
    for labels, group in sorted(groups.items(), key=order):
        cells = [*labels, str(len(group))]
        for name in metrics:
            found = values(group, name)
            spread = statistics.stdev(found) if len(found) > 1 else math.nan
            cells.append("" if not found else f"{statistics.fmean(found):.4f} ± {spread:.4f}")
        rows.append(cells)
    return [*differing, "runs", *(f"{name} (mean ± sd)" for name in metrics)], rows


def render(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain-text table with aligned columns."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=True)]
    lines = [
        "  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)) for row in [headers, *rows]
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(line.rstrip() for line in lines)


def _number(value: float | None) -> str:
    return "" if value is None or math.isnan(value) else f"{value:.4f}"
