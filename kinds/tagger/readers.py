"""The tagger's formats: tagged sentences.

* ``brown``: one sentence a line, whitespace-separated ``word/TAG`` tokens. The tag follows the
  *last* ``/``, so words may contain slashes (``1/2/NUM``).
* ``conllu``: CoNLL-U, ten tab-separated columns a token, a blank line between sentences; the tag from
  ``data.tag_column`` (UPOS or XPOS).
* ``conll``: CoNLL-2003 style, whitespace-separated columns a token (token first, tag last),
  a blank line between sentences.

Each sentence's record has the fields ``tokens`` and ``tags`` (lists of strings, one tag per token).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator

from kinds.base.readers import (
    Format,
    Invalid,
    Line,
    Options,
    Record,
    Reject,
    blocks,
    is_blank,
    quote,
    require_clean,
    require_no_control_character,
    sentence,
)

_CONLLU_COLUMN_COUNT = 10
_CONLLU_FORM = 1
_CONLLU_TAG_INDEX = {"upos": 3, "xpos": 4}
# ASCII digits only: int() and str.isdigit() would also accept other scripts' digits, which CoNLL-U forbids.
_CONLLU_WORD_ID = re.compile(r"[0-9]+")
_CONLLU_SKIPPED_ID = re.compile(r"[0-9]+(?:-[0-9]+|\.[0-9]+)")  # multiword-token range, or empty node
_DOCSTART = "-DOCSTART-"


# --- brown --------------------------------------------------------------------------------------------


def _read_brown(lines: Iterable[Line], source: str, options: Options) -> Iterator[Record | Reject]:
    """Yields one Record or Reject for each non-blank line."""
    for line in lines:
        if not is_blank(line):
            yield sentence(source, [line], _parse_brown, name_line=False)


def _parse_brown(lines: list[Line]) -> tuple[list[str], list[str]]:
    """Splits a one-line Brown sentence into words and tags."""
    (line,) = lines
    require_clean(line)
    words: list[str] = []
    tags: list[str] = []
    for token in line.text.split():
        word, tag = _split_brown_token(token, line)
        words.append(word)
        tags.append(tag)
    return words, tags


def _split_brown_token(token: str, line: Line) -> tuple[str, str]:
    """Splits ``word/TAG`` at its last slash (tags never hold one, words may)."""
    word, slash, tag = token.rpartition("/")
    if not slash:
        raise Invalid(f"token without tag: {quote(token)}", line)
    if not word:
        raise Invalid(f"empty word: {quote(token)}", line)
    if not tag:
        raise Invalid(f"empty tag: {quote(token)}", line)
    return word, tag


# --- conllu -------------------------------------------------------------------------------------------


def _read_conllu(lines: Iterable[Line], source: str, options: Options) -> Iterator[Record | Reject]:
    """Yields one Record or Reject for each block of lines between blank lines."""
    parse = functools.partial(_parse_conllu, tag_column=options.tag_column)
    for block in blocks(lines, is_blank):
        yield sentence(source, block, parse, name_line=True)


def _parse_conllu(lines: list[Line], *, tag_column: str) -> tuple[list[str], list[str]]:
    """Takes the FORM and ``tag_column`` of each word line of a CoNLL-U sentence.

    Comments, multiword-token ranges (``1-2``) and empty nodes (``1.1``) are skipped: a tagger is
    trained on the syntactic words, which the ranges would duplicate and the empty nodes do not have.
    """
    forms: list[str] = []
    tags: list[str] = []
    for line in lines:
        require_clean(line)
        if line.text.startswith("#"):
            continue
        word = _conllu_word(line, tag_column)
        if word is not None:
            forms.append(word[0])
            tags.append(word[1])
    if not forms:
        raise Invalid("empty sentence")
    return forms, tags


def _conllu_word(line: Line, tag_column: str) -> tuple[str, str] | None:
    """Returns (FORM, tag) of a CoNLL-U token line, or None for a range or an empty node."""
    columns = line.text.split("\t")
    for column in columns:  # whichever columns are used, so that tag_column never changes what is rejected
        require_no_control_character(column, line)
    if len(columns) != _CONLLU_COLUMN_COUNT:
        raise Invalid(f"wrong column count: {len(columns)} (expected {_CONLLU_COLUMN_COUNT})", line)
    token_id = columns[0]
    if _CONLLU_SKIPPED_ID.fullmatch(token_id):
        return None
    if not _CONLLU_WORD_ID.fullmatch(token_id):
        raise Invalid(f"non-integer ID: {quote(token_id)}", line)
    form, tag = columns[_CONLLU_FORM], columns[_CONLLU_TAG_INDEX[tag_column]]
    # CoNLL-U writes "_" for an unknown value and never leaves a field empty; an empty one is damage.
    if not form:
        raise Invalid("empty FORM", line)
    if not tag:
        raise Invalid(f"empty {tag_column.upper()}", line)
    return form, tag


# --- conll --------------------------------------------------------------------------------------------


def _read_conll(lines: Iterable[Line], source: str, options: Options) -> Iterator[Record | Reject]:
    """Yields one Record or Reject for each block of lines between blank or ``-DOCSTART-`` lines."""
    for block in blocks(lines, _is_conll_separator):
        yield sentence(source, block, _parse_conll, name_line=True)


def _is_conll_separator(line: Line) -> bool:
    """Whether a line is layout between CoNLL sentences: blank, or a ``-DOCSTART-`` document marker.

    A document marker ends the sentence before it (a sentence never spans two documents), so a block of
    only markers yields nothing. A marker line with bad bytes is not layout: it rejects its block.
    """
    if is_blank(line):
        return True
    return line.problem is None and line.text.split(maxsplit=1)[0] == _DOCSTART


def _parse_conll(lines: list[Line]) -> tuple[list[str], list[str]]:
    """Takes the first column (token) and last column (tag) of each line of a CoNLL sentence."""
    tokens: list[str] = []
    tags: list[str] = []
    expected = None  # every line of a sentence has the columns of its first line
    for line in lines:
        require_clean(line)
        columns = line.text.split()
        if len(columns) < 2:
            raise Invalid(f"wrong column count: {len(columns)} (expected at least 2)", line)
        expected = expected or len(columns)
        if len(columns) != expected:
            raise Invalid(
                f"wrong column count: {len(columns)} (expected {expected}, as the sentence's first line)", line
            )
        tokens.append(columns[0])
        tags.append(columns[-1])
    return tokens, tags


FIELDS = ("tokens", "tags")
BROWN = Format("brown", FIELDS, _read_brown)
CONLLU = Format("conllu", FIELDS, _read_conllu)
CONLL = Format("conll", FIELDS, _read_conll)
