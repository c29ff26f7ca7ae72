"""Ingest executor: reads every corpus file, splits records by a stable hash of their key, keeps rejects.

Each example is one JSON line, `{"key": ..., **fields}`: the fields are `readers.FIELDS[format]`, which the
`Examples` artifact records in its `fields` property besides `format`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json

from components.ingest import readers
from components.ingest.spec import IngestParameters
from pipeline import artifacts
from pipeline.component import StageContext
from pipeline.config import SplitConfig


def run(context: StageContext) -> None:
    params: IngestParameters = context.parameters
    examples: artifacts.Examples = context.output("examples")
    rejects: artifacts.Rejects = context.output("rejects")
    counts = dict.fromkeys(artifacts.SPLITS, 0)
    rejected = 0
    with contextlib.ExitStack() as stack:
        writers = {s: stack.enter_context(examples.split_path(s).open("w", encoding="utf-8")) for s in artifacts.SPLITS}
        reject_writer = stack.enter_context(rejects.path.open("w", encoding="utf-8"))
        for file in params.files:
            before = sum(counts.values()), rejected
            items = readers.read_file(
                file.path, params.format, source=file.name, tag_column=params.tag_column, documents=params.documents
            )
            for item in items:
                if isinstance(item, readers.Reject):
                    reject_writer.write(json.dumps(dataclasses.asdict(item), ensure_ascii=False) + "\n")
                    rejected += 1
                    continue
                split = assign_split(item.key, params.split) if file.role == "train" else file.role
                writers[split].write(json.dumps({"key": item.key, **item.fields}, ensure_ascii=False) + "\n")
                counts[split] += 1
            read, bad = sum(counts.values()) - before[0], rejected - before[1]
            context.progress(f"{file.name}: {read:,} records, {bad:,} rejected")
    fields = list(readers.FIELDS[params.format])
    examples.properties.update({"records": counts, "format": params.format, "fields": fields})
    rejects.properties.update({"rejects": rejected, "input_records": sum(counts.values()) + rejected})
    context.log.metrics({**{f"records.{s}": n for s, n in counts.items()}, "rejects": rejected})


def assign_split(key: str, split: SplitConfig) -> str:
    """The split of a record: a stable hash of its key mapped to [0, 1), so it never moves as the corpus grows."""
    position = int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:8], "big") / 2.0**64
    if position < split.eval:
        return "eval"
    if position < split.eval + split.test:
        return "test"
    return "train"
