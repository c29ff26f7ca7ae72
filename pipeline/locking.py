"""An exclusive lock between processes on a folder's entry, for what several processes may build at once: a
stage's fingerprint folder (the variants of a sweep on a cluster share their task's first stages) and a
task's serving versions."""

from __future__ import annotations

import contextlib
import fcntl
import pathlib


@contextlib.contextmanager
def folder_lock(folder: pathlib.Path, name: str):
    """Holds an exclusive `flock` on `folder/.lock-<name>` until the block ends; a process that dies lets go
    of it. The file stays: removing it could let two processes lock two files of one name."""
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / f".lock-{name}").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
