"""The classifier's format, ``tsv``: one example a line, ``label<TAB>text``, no header line (the rules of
`kinds.base.readers.read_columns`). A record's fields are ``text`` and ``label``."""

from __future__ import annotations

import functools

from kinds.base.readers import Format, read_columns

TSV = Format(
    "tsv", ("text", "label"), functools.partial(read_columns, columns=("label", "text"), fields=("text", "label"))
)
