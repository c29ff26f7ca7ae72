"""Ingest executor: reads every corpus file, splits records by a stable hash of their key (of their group, for
an image's captions), keeps rejects.

Each example is one JSON line, `{"key": ..., **fields}`: the fields are `readers.FIELDS[format]`, which the
`Examples` artifact records in its `fields` property besides `format`.

A `text` corpus of a few long documents (one file of a novel, char-rnn's `input.txt`) cannot be split
by document: its eval and test would be empty, or a whole book. Its documents are cut at line breaks
into contiguous blocks, about `HELD_OUT_BLOCKS` of them, and the blocks are split by the hash of their
key instead; every non-blank line is in exactly one block. The `split_by` property says which was done.
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
    grouped = False
    block_chars = held_out_block_size(params)
    split_by = "records" if block_chars is None else f"blocks of about {block_chars:,} characters"
    if block_chars is not None:
        context.progress(f"fewer than {MIN_SPLIT_DOCUMENTS} documents to split: split by {split_by}")
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
                held_out = file.role == "train"
                grouped = grouped or item.group is not None
                for record in text_blocks(item, block_chars) if held_out and block_chars else (item,):
                    split = assign_split(record.split_key, params.split) if held_out else file.role
                    writers[split].write(json.dumps({"key": record.key, **record.fields}, ensure_ascii=False) + "\n")
                    counts[split] += 1
            read, bad = sum(counts.values()) - before[0], rejected - before[1]
            context.progress(f"{file.name}: {read:,} records, {bad:,} rejected")
    if grouped:
        split_by = "records, those of one image together"
    fields = list(readers.FIELDS[params.format])
    examples.properties.update({"records": counts, "format": params.format, "fields": fields, "split_by": split_by})
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


# A `text` corpus with fewer train documents than this is split in blocks, about this many of them.
MIN_SPLIT_DOCUMENTS = 100
HELD_OUT_BLOCKS = 200


def held_out_block_size(params: IngestParameters) -> int | None:
    """Characters a held-out block holds at least, or None when the records are split as they are.

    Only `text` corpora with fewer than `MIN_SPLIT_DOCUMENTS` train documents and a fraction to hold
    out are cut; the count stops at the limit, so a corpus of many documents is not read twice.
    """
    if params.format != "text" or params.split.eval + params.split.test == 0:
        return None
    documents, characters = 0, 0
    for file in params.files:
        if file.role != "train":
            continue
        for item in readers.read_file(file.path, params.format, source=file.name, documents=params.documents):
            if isinstance(item, readers.Record):
                documents += 1
                characters += len(item.fields["text"])
                if documents >= MIN_SPLIT_DOCUMENTS:
                    return None
    return max(characters // HELD_OUT_BLOCKS, 1) if documents else None


def text_blocks(record: readers.Record, min_chars: int) -> list[readers.Record]:
    """A `text` document cut at line breaks into blocks of at least `min_chars` characters (the last may
    be shorter), each a record of its own (`Record.block`); blank lines between two blocks are dropped."""
    blocks: list[list[str]] = []
    block: list[str] = []
    size = 0
    for line in record.fields["text"].split("\n"):
        if not block and not line.strip():
            continue  # a block starts at a non-blank line
        block.append(line)
        size += len(line) + 1
        if size >= min_chars:
            blocks.append(block)
            block, size = [], 0
    if block:
        blocks.append(block)
    for lines in blocks:
        while not lines[-1].strip():
            lines.pop()
    return [
        readers.Record(record.source, record.line, {"text": "\n".join(lines)}, block=index)
        for index, lines in enumerate(blocks)
    ]
