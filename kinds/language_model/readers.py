"""The language model's format, ``text``: plain text.

With ``data.documents: file`` the whole file is one document; with ``blank_line`` one or more blank lines
separate documents. A document's text (its record's one field, ``text``) is its lines joined with
``"\\n"``, from its first to its last non-blank line: every line is kept as it is (tabs, runs of spaces,
blank lines inside a ``file`` document), but for form feeds (``\\f``, page breaks in old text files),
which are removed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

from kinds.base.readers import Format, Invalid, Line, Options, Record, Reject, blocks, example, is_blank, require_clean

# Control characters and line separators, but for the tab, which plain text keeps, and the form feed, which it
# removes.
_TEXT_CONTROL = re.compile("[\x00-\x08\x0a\x0b\x0d-\x1f\x7f-\x9f\u2028\u2029]")
_FORM_FEED = "\x0c"


# --- text ---------------------------------------------------------------------------------------------


def _read_text(lines: Iterable[Line], source: str, options: Options) -> Iterator[Record | Reject]:
    """Yields one Record or Reject for the whole file (``file``) or for each block of non-blank lines."""
    if options.documents == "blank_line":
        for block in blocks(lines, is_blank):
            yield example(source, block[0].number, block, _parse_text, name_line=True)
        return
    document = _strip_blank_lines(list(lines))
    yield example(source, 1, document, _parse_text, name_line=True)


def _strip_blank_lines(lines: list[Line]) -> list[Line]:
    """The lines from the first non-blank one to the last non-blank one (none if all are blank)."""
    kept = [i for i, line in enumerate(lines) if not is_blank(line)]
    return lines[kept[0] : kept[-1] + 1] if kept else []


def _parse_text(lines: list[Line]) -> dict[str, Any]:
    """The ``text`` of a document: its lines, form feeds removed, joined with ``\\n``."""
    if not lines:
        raise Invalid("empty document")
    for line in lines:
        require_clean(line)
        control = _TEXT_CONTROL.search(line.text)
        if control:
            raise Invalid(f"control character U+{ord(control[0]):04X} at character {control.start() + 1}", line)
    return {"text": "\n".join(line.text.replace(_FORM_FEED, "") for line in lines)}


TEXT = Format("text", ("text",), _read_text)
