"""The translator's format, ``parallel_tsv``: one sentence pair a line, ``source<TAB>target`` (the rules of
`kinds.base.readers.read_columns`). A record's fields are ``source`` and ``target``."""

from __future__ import annotations

import functools

from kinds.base.readers import Format, read_columns

PARALLEL_TSV = Format(
    "parallel_tsv",
    ("source", "target"),
    functools.partial(read_columns, columns=("source", "target"), fields=("source", "target")),
)
