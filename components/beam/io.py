"""Reading an artifact's JSON lines in a Beam pipeline, and the process settings a pipeline runs under.

Examples are read in blocks of a file's bytes, each cut at line ends, and handed on in batches of records
(layouts count and encode a batch at a time). Every file gives at least `MIN_BLOCKS` blocks so that each
worker has some of it to read. Written out in full because Beam's Dask runner has no file source (it
skips `Read`).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import os
import pathlib
from collections.abc import Iterator
from typing import Any

BLOCK_BYTES = 4 << 20
MIN_BLOCKS = 16
BATCH_RECORDS = 512
PROJECT_ROOT = pathlib.Path(__file__).resolve().parent.parent.parent


def read_blocks(path: pathlib.Path) -> list[tuple[str, int, int]]:
    """(path, start, end) byte ranges that cover the file: at least `MIN_BLOCKS`, at most `BLOCK_BYTES` each."""
    size = path.stat().st_size
    count = max(MIN_BLOCKS, -(-size // BLOCK_BYTES))
    bounds = [size * i // count for i in range(count + 1)]
    return [(str(path), start, end) for start, end in itertools.pairwise(bounds) if end > start]


def read_block(block: tuple[str, int, int]) -> Iterator[list[dict[str, Any]]]:
    """The JSON lines that start in [start, end), in batches of `BATCH_RECORDS`.

    A line belongs to the block that holds its first byte, so the blocks of a file read every line once.
    """
    path, start, end = block
    batch = []
    with open(path, "rb") as lines:
        if start:
            lines.seek(start - 1)
            lines.readline()  # the rest of a line that started in the block before
        while lines.tell() < end and (line := lines.readline()):
            batch.append(json.loads(line))
            if len(batch) == BATCH_RECORDS:
                yield batch
                batch = []
    if batch:
        yield batch


@contextlib.contextmanager
def quiet_logging() -> Iterator[None]:
    """Beam logs warnings about optional libraries (apitools, BigQuery) on the root logger; errors still show."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)


@contextlib.contextmanager
def project_on_worker_path() -> Iterator[None]:
    """Beam's worker processes import the stage's code by name: they need the project on their path."""
    before = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), before]))
    try:
        yield
    finally:
        if before is None:
            del os.environ["PYTHONPATH"]
        else:
            os.environ["PYTHONPATH"] = before
