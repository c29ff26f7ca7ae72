"""An external sort on Beam: records keyed by a string, partitioned by a stable hash of the key, each
partition's records streamed in key order without any step holding them all.

Each worker buffers the records it is given, at most `SPILL_BYTES` of them, and writes each partition's part
of the buffer out as a sorted run file (`SpillRuns`) in a scratch folder that every worker reaches; only
(partition, run path) pairs go through `GroupByKey`, and `merged` streams a partition's runs in one sorted
order, deleting them as it goes. The preprocess stage writes its shards so, and the statistics stage counts
distinct inputs so.

A record is (key, payload bytes, a count): the input hash, a serialized example and its tokens, say.
"""

from __future__ import annotations

import collections
import hashlib
import heapq
import os
import struct
import uuid
from collections.abc import Iterable, Iterator, Sequence

import apache_beam as beam
from apache_beam.transforms.window import GlobalWindows
from apache_beam.utils.windowed_value import WindowedValue

# The records a worker buffers before it writes them out as sorted runs (one a partition), counted as the
# bytes of their keys and payloads plus `RECORD_OVERHEAD` each (what Python holds for a record). A worker's
# memory then stays within about this much of what it holds besides (~0.5 GB with TensorFlow), whatever the
# corpus size (the DirectRunner runs two workers), while runs stay large enough that a merge reads long
# sequential stretches from few files: the tagger's Brown slice encodes to about 22 MB a copy (1 KB a
# sentence), so at 40 copies (0.87 GB) each shard is merged from about 15 runs, and 1 TB would make about
# 16,000 (merged `MERGE_FANIN` at a time).
SPILL_BYTES = 64 << 20
# Python's cost of one buffered record beyond its bytes: the tuple, the str, the bytes, the int, the list slot.
RECORD_OVERHEAD = 200
# The most runs a merge reads at once (each open file, with a `_READ_BUFFER` of memory); more runs are
# first merged into fewer, `MERGE_FANIN` at a time, which keeps within the usual limit of 1,024 open files.
MERGE_FANIN = 128
_READ_BUFFER = 1 << 18
# The scratch folder of the runs, inside an output folder; removed when the pipeline ends, never left there.
RUNS_FOLDER = ".sort-runs"
_HEADER = struct.Struct("<III")  # a run's record: key bytes, payload bytes, count; then key, payload

Record = tuple[str, bytes, int]


def partition_of(key: str, partitions: int) -> int:
    """The partition of a record: a stable hash of its key, so it does not move when other records change."""
    return int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:8], "big") % partitions


class SpillRuns(beam.DoFn):
    """(key, payload, count) -> (partition, path of a sorted run of the partition's records).

    Buffers a bundle's records by partition and writes every partition's buffer out as a run, sorted by
    (key, payload, count), whenever the buffer holds `spill_bytes` (and when the bundle ends).

    Args:
        folder: where the runs are written (every worker must reach it).
        name: the start of the runs' file names.
        partitions: how many partitions the keys are hashed into.
        spill_bytes: None: `SPILL_BYTES`, read when the DoFn runs (tests lower it).
    """

    def __init__(self, folder: str, name: str, partitions: int, spill_bytes: int | None = None) -> None:
        self.folder = folder
        self.name = name
        self.partitions = partitions
        self.spill_bytes = spill_bytes

    def start_bundle(self) -> None:
        self._buffers: dict[int, list[Record]] = collections.defaultdict(list)
        self._bytes = 0

    def process(self, record: Record) -> Iterator[tuple[int, str]]:
        self._buffers[partition_of(record[0], self.partitions)].append(record)
        self._bytes += len(record[0]) + len(record[1]) + RECORD_OVERHEAD
        if self._bytes >= (SPILL_BYTES if self.spill_bytes is None else self.spill_bytes):
            yield from self._spill()

    def finish_bundle(self) -> Iterator[WindowedValue]:
        for written in self._spill():
            yield GlobalWindows.windowed_value(written)

    def _spill(self) -> list[tuple[int, str]]:
        written = []
        for partition, records in sorted(self._buffers.items()):
            records.sort()
            path = os.path.join(self.folder, f"{self.name}-{partition:05d}-{uuid.uuid4().hex}.run")
            write_run(path, records)
            written.append((partition, path))
        self._buffers.clear()
        self._bytes = 0
        return written


def write_run(path: str, records: Iterable[Record]) -> None:
    """Writes (key, payload, count) records, in the order given, to a run file."""
    with open(path, "wb") as run:
        for key, payload, count in records:
            encoded = key.encode("utf-8")
            run.write(_HEADER.pack(len(encoded), len(payload), count))
            run.write(encoded)
            run.write(payload)


def read_run(path: str) -> Iterator[Record]:
    """The records of a run file, in its order."""
    with open(path, "rb", buffering=_READ_BUFFER) as run:
        while header := run.read(_HEADER.size):
            key_size, size, count = _HEADER.unpack(header)
            yield run.read(key_size).decode("utf-8"), run.read(size), count


def merged(paths: Sequence[str], fanin: int | None = None) -> Iterator[Record]:
    """The records of sorted runs in one sorted stream; each run is deleted once the stream has passed it.

    With more than `fanin` runs (`MERGE_FANIN`), the first are merged into new runs beside them first,
    `fanin` at a time, so that at most `fanin` files are open at once.
    """
    paths, fanin = list(paths), fanin or MERGE_FANIN
    while len(paths) > fanin:
        group, paths = paths[:fanin], paths[fanin:]
        combined = os.path.join(os.path.dirname(group[0]), f"merged-{uuid.uuid4().hex}.run")
        write_run(combined, heapq.merge(*(read_run(path) for path in group)))
        for path in group:
            os.remove(path)
        paths.append(combined)
    yield from heapq.merge(*(read_run(path) for path in paths))
    for path in paths:
        os.remove(path)
