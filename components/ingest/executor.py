"""Ingest executor: reads every corpus file, splits records by the hash of their input, keeps rejects.

Each example is one JSON line, `{"key": ..., "input_hash": ..., **fields}`: `key` says where the record
comes from (`file:line`), `input_hash` what its model reads (`content.py`), and the fields are
the format's `fields`, which the `Examples` artifact records in its `fields` property besides `format`.
A record's split is a function of its input alone, so the same corpus splits the same from any config,
path, file name or file order, and records with the same input (an image's captions, duplicates) share a
split. Each split's records are digested (`content.Digest`), the digests logged to MLflow as the run's
dataset inputs, and each record's input hash kept, one a line, in `hashes/<split>.txt` (an artifact of
the run too), so that the overlap of two runs' data can be counted.

A `text` corpus of a few long documents (one file of a novel, char-rnn's `input.txt`) cannot be split
by document: its eval and test would be empty, or a whole book. Its documents are cut into blocks of
contiguous lines, and the blocks are split by the hash of their text instead; every non-blank line is in
exactly one block. A block ends at a line whose hash, together with the line before it, ends in `level`
zero bits (content-defined chunking, as rsync and restic cut files): where the blocks end depends on the
text around the cut alone, so appending text or joining two files leaves the other blocks, and their
splits, as they were. The level gives about `HELD_OUT_BLOCKS` blocks or up to twice as many; it changes
only when the corpus doubles (or halves), and then each block of the new level is a union of blocks of
the old one. The `split_by` property says which was done.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import math

import kinds
from components.ingest.spec import IngestParameters
from kinds.base import readers
from pipeline import artifacts, content, tracking
from pipeline.component import StageContext
from pipeline.config import SplitConfig


def run(context: StageContext) -> None:
    params: IngestParameters = context.parameters
    examples: artifacts.Examples = context.output("examples")
    rejects: artifacts.Rejects = context.output("rejects")
    digests = {split: content.Digest() for split in artifacts.SPLITS}
    fmt = kinds.get(params.kind).format(params.format)
    input_field = fmt.fields[0]  # the model's input comes first
    rejected = 0
    grouped = False
    level = held_out_level(params)
    split_by = "records" if level is None else f"blocks of about {2**level:,} lines, cut by content"
    if level is not None:
        context.progress(f"fewer than {MIN_SPLIT_DOCUMENTS} documents to split: split by {split_by}")
    examples.hashes_path("train").parent.mkdir()
    with contextlib.ExitStack() as stack:
        writers = {s: stack.enter_context(examples.split_path(s).open("w", encoding="utf-8")) for s in artifacts.SPLITS}
        hashes = {s: stack.enter_context(examples.hashes_path(s).open("w", encoding="utf-8")) for s in artifacts.SPLITS}
        reject_writer = stack.enter_context(rejects.path.open("w", encoding="utf-8"))
        for file in params.files:
            read_before, rejected_before = _total(digests), rejected
            items = readers.read_file(
                file.path, fmt, source=file.name, tag_column=params.tag_column, documents=params.documents
            )
            for item in items:
                if isinstance(item, readers.Reject):
                    reject_writer.write(json.dumps(dataclasses.asdict(item), ensure_ascii=False) + "\n")
                    rejected += 1
                    continue
                held_out = file.role == "train"
                grouped = grouped or item.group is not None
                for record in text_blocks(item, level) if held_out and level is not None else (item,):
                    input_hash = record.group or content.input_hash(record.fields[input_field])
                    split = assign_split(input_hash, params.split) if held_out else file.role
                    line = {"key": record.key, "input_hash": input_hash, **record.fields}
                    writers[split].write(json.dumps(line, ensure_ascii=False) + "\n")
                    hashes[split].write(input_hash + "\n")
                    digests[split].add(content.content_hash(input_hash, record.fields, input_field))
            read, bad = _total(digests) - read_before, rejected - rejected_before
            context.progress(f"{file.name}: {read:,} records, {bad:,} rejected")
    if grouped:
        split_by = "records, those of one image together"
    counts = {split: digest.records for split, digest in digests.items()}
    datasets = {split: {"digest": digest.hexdigest(), "records": digest.records} for split, digest in digests.items()}
    fields = list(fmt.fields)
    examples.properties.update(
        {"records": counts, "format": params.format, "fields": fields, "split_by": split_by, "datasets": datasets}
    )
    rejects.properties.update({"rejects": rejected, "input_records": sum(counts.values()) + rejected})
    context.log.metrics({**{f"records.{s}": n for s, n in counts.items()}, "rejects": rejected})
    sources = [{"name": f.name, "path": str(f.path), "sha256": f.sha256, "role": f.role} for f in params.files]
    for split in artifacts.SPLITS:
        context.log.dataset(f"{context.task}.{split}", split, datasets[split]["digest"], counts[split], sources, fields)
        context.log.artifact(examples.hashes_path(split), tracking.DATASETS)
    shown = ", ".join(f"{split} {dataset['digest']} ({dataset['records']:,})" for split, dataset in datasets.items())
    context.progress(f"dataset digests: {shown}")


def _total(digests: dict[str, content.Digest]) -> int:
    return sum(digest.records for digest in digests.values())


def assign_split(input_hash: str, split: SplitConfig) -> str:
    """The split of a record: where the hash of its input falls in [0, 1), so it never moves as the corpus
    grows, moves or is renamed."""
    position = content.position(input_hash)
    if position < split.eval:
        return "eval"
    if position < split.eval + split.test:
        return "test"
    return "train"


# A `text` corpus with fewer train documents than this is split in blocks, about this many of them.
MIN_SPLIT_DOCUMENTS = 100
HELD_OUT_BLOCKS = 200


def held_out_level(params: IngestParameters) -> int | None:
    """The level of the marks that end held-out blocks (a block ends at a line whose mark has at least this
    many zero bits: about one line in 2^level), or None when the records are split as they are.

    Only `text` corpora with fewer than `MIN_SPLIT_DOCUMENTS` train documents and a fraction to hold out are
    cut; the count stops at the limit, so a corpus of many documents is not read twice. The level is the
    highest that leaves at least `HELD_OUT_BLOCKS` blocks to be expected from the non-blank lines.
    """
    if params.format != "text" or params.split.eval + params.split.test == 0:
        return None
    documents, lines = 0, 0
    for file in params.files:
        if file.role != "train":
            continue
        text = kinds.get(params.kind).format(params.format)
        for item in readers.read_file(file.path, text, source=file.name, documents=params.documents):
            if isinstance(item, readers.Record):
                documents += 1
                lines += sum(1 for line in item.fields["text"].split("\n") if line.strip())
                if documents >= MIN_SPLIT_DOCUMENTS:
                    return None
    if not documents:
        return None
    return max(0, math.floor(math.log2(max(lines, 1) / HELD_OUT_BLOCKS)))


def mark(previous: str, line: str) -> int:
    """The zero bits that end the hash of a non-blank line and the non-blank line before it (0 to 64)."""
    text = content.normalized(previous) + "\n" + content.normalized(line)
    value = int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big")
    return 64 if value == 0 else (value & -value).bit_length() - 1


def text_blocks(record: readers.Record, level: int) -> list[readers.Record]:
    """A `text` document cut into blocks of contiguous lines, each a record of its own (`Record.block`).

    A block starts at a non-blank line and ends at a non-blank line whose `mark` is at least `level` (or
    at the document's end); blank lines between two blocks are dropped, those inside a block kept.
    """
    blocks: list[list[str]] = []
    block: list[str] = []
    previous = ""
    for line in record.fields["text"].split("\n"):
        if not block and not line.strip():
            continue  # a block starts at a non-blank line
        block.append(line)
        if line.strip():
            if mark(previous, line) >= level:
                blocks.append(block)
                block = []
            previous = line
    if block:
        while not block[-1].strip():
            block.pop()
        blocks.append(block)
    return [
        readers.Record(record.source, record.line, {"text": "\n".join(lines)}, block=index)
        for index, lines in enumerate(blocks)
    ]
