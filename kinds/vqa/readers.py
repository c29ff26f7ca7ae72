"""The question answerer's format, ``vqa_tsv``: one question a line, ``image_path<TAB>question<TAB>answer``, the
rules of `kinds.base.readers.read_columns`. The path is relative to the file's folder (or absolute); the record's
``image`` is the resolved path and its ``group`` the hash of the image's bytes, so that every question about one
image lands in one split, under any name. A missing, empty, unreadable or undecodable image and an empty
question or answer reject their line (with file, line and reason).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator

from kinds.base.readers import (
    MAX_REJECT_TEXT,
    Format,
    Line,
    Options,
    Record,
    Reject,
    check_image,
    example,
    is_blank,
    parse_columns,
)

COLUMNS = ("image", "question", "answer")
_PARSE = functools.partial(parse_columns, columns=COLUMNS, fields=COLUMNS)


def _read_vqa_tsv(lines: Iterable[Line], source: str, options: Options) -> Iterator[Record | Reject]:
    """Yields one Record or Reject for each non-blank line; each image is opened and decoded once."""
    checked: dict = {}  # image -> (its problem, the hash of its bytes)
    for line in lines:
        if is_blank(line):
            continue
        parsed = example(source, line.number, [line], _PARSE, name_line=False)
        if isinstance(parsed, Reject):
            yield parsed
            continue
        written = parsed.fields["image"]
        image = (options.folder / written).resolve()
        if image not in checked:
            checked[image] = check_image(image)
        problem, digest = checked[image]
        if problem is not None:
            yield Reject(source, line.number, f"image {written}: {problem}", line.text[:MAX_REJECT_TEXT])
            continue
        fields = {"image": str(image), "question": parsed.fields["question"], "answer": parsed.fields["answer"]}
        yield Record(source, line.number, fields, group=digest)


VQA_TSV = Format("vqa_tsv", COLUMNS, _read_vqa_tsv)
