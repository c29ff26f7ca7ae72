"""Which unit of work (a task, or a variant of a swept task) may start next, when tasks read each other's models.

`run --jobs` and `run --cluster` start units in the config's order, a task only once every task it reads
(`config.upstream_tasks`) has finished all its units; a unit whose upstream task failed is not started.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence


def next_unit(
    pending: list, task_of, dependencies: Mapping[str, Sequence[str]], running: Sequence, failed: set[str]
) -> tuple[object | None, list[tuple[object, str]]]:
    """The first of `pending` whose upstream tasks are done, removed from it, or None; and the units dropped
    because a task they read failed, each with why.

    Args:
        pending: units not started, in order (changed in place).
        task_of: a unit -> its task's name.
        dependencies: task -> the tasks it reads.
        running: units started and not finished.
        failed: tasks of which a unit failed (or was dropped).
    """
    dropped = []
    waiting = {task_of(unit) for unit in [*pending, *running]}
    for unit in list(pending):
        upstream = dependencies.get(task_of(unit), ())
        broken = [name for name in upstream if name in failed]
        if broken:
            pending.remove(unit)
            failed.add(task_of(unit))
            dropped.append((unit, f"not run: it reads {broken[0]}, which failed"))
            continue
        if not any(name in waiting for name in upstream):
            pending.remove(unit)
            return unit, dropped
    return None, dropped
