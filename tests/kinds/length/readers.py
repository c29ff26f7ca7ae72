"""The length kind's format, `lines`: one text a line (a line is one column of `read_columns`)."""

from __future__ import annotations

import functools

from kinds.base.readers import Format, read_columns

LINES = Format("lines", ("text",), functools.partial(read_columns, columns=("text",), fields=("text",)))
