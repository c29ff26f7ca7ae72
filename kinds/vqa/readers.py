"""The question answerer's format, ``vqa_tsv``: one question a line, ``image_path<TAB>question<TAB>answer``, the
rules of `kinds.base.readers.read_columns`. The path is relative to the file's folder (or absolute); the record's
``image`` is the resolved path and its ``group`` the hash of the image's bytes, so that every question about one
image lands in one split, under any name. A missing, empty, unreadable or undecodable image and an empty
question or answer reject their line (with file, line and reason).
"""

from __future__ import annotations

import functools

from kinds.base.readers import Format, parse_columns, read_image_lines

COLUMNS = ("image", "question", "answer")
_PARSE = functools.partial(parse_columns, columns=COLUMNS, fields=COLUMNS)


VQA_TSV = Format("vqa_tsv", COLUMNS, functools.partial(read_image_lines, parse=_PARSE))
