"""Corpus readers for the ingest stage: tagged text files to sentence records.

Three formats are understood (see ``FORMATS``):

* ``brown``: one sentence a line, whitespace-separated ``word/TAG`` tokens. The tag follows the
  *last* ``/``, so words may contain slashes (``1/2/NUM``).
* ``conllu``: CoNLL-U, ten tab-separated columns a token, a blank line between sentences.
* ``conll``: CoNLL-2003 style, whitespace-separated columns a token (token first, tag last),
  a blank line between sentences.

A reader turns a file into a stream of ``Record`` (a usable sentence) and ``Reject`` (a sentence that
cannot be used, and why). Nothing is dropped silently: the only lines that produce neither are layout
(blank lines, CoNLL-U comments, multiword-token ranges and empty nodes, CoNLL ``-DOCSTART-`` lines).
Whatever the bytes of the file, a reader yields only ``Record`` and ``Reject``; ``DataError`` is raised
only for a problem with the file itself or with the caller's arguments.

Bytes are turned into lines the same way for every format: the file is split on ``b"\\n"``, a UTF-8 BOM
at the start of the file and one trailing ``b"\\r"`` per line (CRLF files) are removed, and each line is
decoded as strict UTF-8. A line that does not decode, or that holds a NUL byte, rejects its sentence;
reading then goes on with the next sentence.
"""

import dataclasses
import functools
import pathlib
import re
import stat
from collections.abc import Callable, Iterable, Iterator
from typing import NamedTuple

from pipeline.errors import DataError

__all__ = ["FORMATS", "TAG_COLUMNS", "MAX_REJECT_TEXT", "Record", "Reject", "read_file"]

FORMATS: tuple[str, ...] = ("brown", "conllu", "conll")
"""Corpus formats ``read_file`` understands."""

TAG_COLUMNS: tuple[str, ...] = ("upos", "xpos")
"""CoNLL-U columns a tag can be taken from."""

MAX_REJECT_TEXT = 200
"""``Reject.text`` is cut to this many characters, so one huge bad line cannot flood a reject report."""

_BOM = b"\xef\xbb\xbf"
_CONLLU_COLUMN_COUNT = 10
_CONLLU_FORM = 1
_CONLLU_TAG_INDEX = {"upos": 3, "xpos": 4}
# ASCII digits only: int() and str.isdigit() would also accept other scripts' digits, which CoNLL-U forbids.
_CONLLU_WORD_ID = re.compile(r"[0-9]+")
_CONLLU_SKIPPED_ID = re.compile(r"[0-9]+(?:-[0-9]+|\.[0-9]+)")  # multiword-token range, or empty node
_DOCSTART = "-DOCSTART-"
_QUOTE_LIMIT = 40
# Control characters and Unicode line separators: a token holding one (a stray CR inside a CoNLL-U
# column, say) would break the line-based files downstream (vocabularies, JSON lines).
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


@dataclasses.dataclass(frozen=True)
class Record:
    """One usable sentence.

    Attributes:
        source: The file's display name, as given to ``read_file``.
        line: 1-based line where the sentence starts: its line for ``brown``; the first line of its
            block for ``conllu`` (a ``#`` comment line when the sentence has comments, so the key of a
            sentence is the same whether it is read as a ``Record`` or a ``Reject``) and ``conll``.
        tokens: The sentence's words, in order.
        tags: One tag per token.
    """

    source: str
    line: int
    tokens: tuple[str, ...]
    tags: tuple[str, ...]

    @property
    def key(self) -> str:
        """Stable id of the record (``source:line``), used to split records by hash."""
        return f"{self.source}:{self.line}"


@dataclasses.dataclass(frozen=True)
class Reject:
    """One sentence that cannot be used.

    Attributes:
        source: The file's display name, as given to ``read_file``.
        line: 1-based line where the sentence starts (same rule as ``Record.line``).
        reason: Short, human-readable cause, e.g. ``"token without tag: 'foo'"``. For ``conllu`` and
            ``conll`` it starts with the number of the offending line (``"line 7: ..."``), because the
            sentence spans several lines.
        text: The offending line (the whole sentence when no single line is to blame), decoded with
            ``errors="replace"`` and cut to ``MAX_REJECT_TEXT`` characters.
    """

    source: str
    line: int
    reason: str
    text: str


def read_file(
    path: pathlib.Path,
    fmt: str,
    *,
    source: str | None = None,
    tag_column: str = "upos",
) -> Iterator[Record | Reject]:
    """Reads a tagged corpus file as a stream of records and rejects.

    The arguments are checked and the file's bytes are read when this is called, not when the first
    record is asked for, so a bad path or format fails at the call site. Records are then built one at a
    time as the returned iterator is consumed.

    Args:
        path: The corpus file.
        fmt: One of ``FORMATS``.
        source: Display name stored in every record and reject; defaults to ``str(path)``.
        tag_column: CoNLL-U column the tags come from, one of ``TAG_COLUMNS``. Checked for every
            format, so that a typo in a config fails even where the value is not used.

    Returns:
        An iterator over the file's sentences in file order: a ``Record`` for each usable sentence and a
        ``Reject`` for each other one.

    Raises:
        DataError: ``fmt`` or ``tag_column`` is unknown, or the file is missing, not a regular file, or
            cannot be read.
    """
    path = pathlib.Path(path)
    _check_options(path, fmt, tag_column)
    lines = _iter_lines(_read_bytes(path))
    name = str(path) if source is None else source
    if fmt == "brown":
        return _read_brown(lines, name)
    if fmt == "conllu":
        return _read_conllu(lines, name, tag_column)
    return _read_conll(lines, name)


# --- Arguments and bytes ----------------------------------------------------------------------------------


def _check_options(path: pathlib.Path, fmt: str, tag_column: str) -> None:
    """Raises DataError naming ``path`` if ``fmt`` or ``tag_column`` is not one we know."""
    if fmt not in FORMATS:
        raise DataError(f"{path}: unknown corpus format {fmt!r} (expected one of: {', '.join(FORMATS)})")
    if tag_column not in TAG_COLUMNS:
        raise DataError(f"{path}: unknown tag column {tag_column!r} (expected one of: {', '.join(TAG_COLUMNS)})")


def _read_bytes(path: pathlib.Path) -> bytes:
    """Returns the file's content, or raises DataError saying in one line why it cannot be read."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError as err:
        raise DataError(f"{path}: corpus file not found") from err
    except (OSError, ValueError) as err:  # ValueError: a NUL character in the path
        raise DataError(f"{path}: cannot read corpus file: {_os_reason(err)}") from err
    if stat.S_ISDIR(mode):
        raise DataError(f"{path}: is a directory, not a corpus file")
    # A FIFO or a device would block or never end when read; refuse it rather than hang the pipeline.
    if not stat.S_ISREG(mode):
        raise DataError(f"{path}: not a regular file")
    try:
        return path.read_bytes()
    except OSError as err:
        raise DataError(f"{path}: cannot read corpus file: {_os_reason(err)}") from err


def _os_reason(err: Exception) -> str:
    """The cause of an OS error without the path, which the caller's message already names."""
    return getattr(err, "strerror", None) or str(err)


class _Line(NamedTuple):
    """One line of the file, decoded."""

    number: int
    """1-based line number."""
    text: str
    """The line without its end of line, decoded with ``errors="replace"``."""
    problem: str | None
    """Why no sentence holding this line can be used (bad bytes), or None."""


def _is_blank(line: _Line) -> bool:
    """Whether a line is empty or whitespace only: layout, never part of a sentence."""
    return line.problem is None and not line.text.strip()


def _iter_lines(data: bytes) -> Iterator[_Line]:
    """Yields the lines of ``data`` one at a time (no list of all lines is built)."""
    start = len(_BOM) if data.startswith(_BOM) else 0
    number = 1
    while start <= len(data):
        end = data.find(b"\n", start)
        if end == -1:
            end = len(data)
        yield _decode_line(number, data[start:end])
        start = end + 1
        number += 1


def _decode_line(number: int, raw: bytes) -> _Line:
    """Decodes one line (without its ``\\n``), recording bad bytes instead of raising."""
    raw = raw.removesuffix(b"\r")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        # Byte positions are 1-based, like line numbers, and count from the start of the line.
        return _Line(number, raw.decode("utf-8", errors="replace"), f"invalid UTF-8 at byte {err.start + 1}")
    nul = raw.find(b"\x00")
    # NUL is valid UTF-8 but never text: it means a binary or corrupted file, and it breaks C-based tools.
    return _Line(number, text, None if nul == -1 else f"NUL byte at byte {nul + 1}")


# --- Sentence building shared by the formats ----------------------------------------------------------


class _Invalid(Exception):
    """A sentence cannot be used. Raised while parsing one; always caught and turned into a Reject."""

    def __init__(self, problem: str, line: _Line | None = None) -> None:
        """Keeps the cause and, if one line is to blame, that line."""
        super().__init__(problem)
        self.problem = problem
        self.line = line


_Parse = Callable[[list[_Line]], tuple[list[str], list[str]]]


def _sentence(source: str, lines: list[_Line], parse: _Parse, *, name_line: bool) -> Record | Reject:
    """Parses the lines of one sentence into a Record, or a Reject if ``parse`` raises ``_Invalid``.

    Args:
        source: Display name of the file.
        lines: The sentence's lines, at least one.
        parse: Returns the sentence's tokens and tags, or raises ``_Invalid``.
        name_line: Whether to prefix the reject reason with the offending line's number (for formats
            where a sentence spans several lines).
    """
    try:
        tokens, tags = parse(lines)
        _require_no_control_characters(tokens, tags)
    except _Invalid as err:
        return _reject(source, lines, err, name_line=name_line)
    return Record(source, lines[0].number, tuple(tokens), tuple(tags))


def _require_no_control_characters(tokens: list[str], tags: list[str]) -> None:
    for value in (*tokens, *tags):
        control = _CONTROL.search(value)
        if control:
            raise _Invalid(f"control character U+{ord(control[0]):04X} in {_quote(value)}")


def _reject(source: str, lines: list[_Line], err: _Invalid, *, name_line: bool) -> Reject:
    """Builds the Reject of a sentence from the ``_Invalid`` raised while parsing it."""
    reason = err.problem
    if err.line is not None and name_line:
        reason = f"line {err.line.number}: {reason}"
    text = err.line.text if err.line is not None else "\n".join(line.text for line in lines)
    return Reject(source, lines[0].number, reason, text[:MAX_REJECT_TEXT])


def _require_clean(line: _Line) -> None:
    """Raises ``_Invalid`` if the line's bytes are bad, whatever the line would otherwise mean."""
    if line.problem is not None:
        raise _Invalid(line.problem, line)


def _blocks(lines: Iterable[_Line], is_separator: Callable[[_Line], bool]) -> Iterator[list[_Line]]:
    """Groups lines into sentence blocks: runs of lines between separator lines.

    The last block is yielded even when the file does not end with a separator.
    """
    block: list[_Line] = []
    for line in lines:
        if not is_separator(line):
            block.append(line)
        elif block:
            yield block
            block = []
    if block:
        yield block


def _quote(text: str) -> str:
    """``repr`` of a piece of a line for a reject reason, shortened so the reason stays short."""
    if len(text) > _QUOTE_LIMIT:
        text = text[:_QUOTE_LIMIT] + "..."
    return repr(text)


# --- brown --------------------------------------------------------------------------------------------


def _read_brown(lines: Iterable[_Line], source: str) -> Iterator[Record | Reject]:
    """Yields one Record or Reject for each non-blank line."""
    for line in lines:
        if not _is_blank(line):
            yield _sentence(source, [line], _parse_brown, name_line=False)


def _parse_brown(lines: list[_Line]) -> tuple[list[str], list[str]]:
    """Splits a one-line Brown sentence into words and tags."""
    (line,) = lines
    _require_clean(line)
    words: list[str] = []
    tags: list[str] = []
    for token in line.text.split():
        word, tag = _split_brown_token(token, line)
        words.append(word)
        tags.append(tag)
    return words, tags


def _split_brown_token(token: str, line: _Line) -> tuple[str, str]:
    """Splits ``word/TAG`` at its last slash (tags never hold one, words may)."""
    word, slash, tag = token.rpartition("/")
    if not slash:
        raise _Invalid(f"token without tag: {_quote(token)}", line)
    if not word:
        raise _Invalid(f"empty word: {_quote(token)}", line)
    if not tag:
        raise _Invalid(f"empty tag: {_quote(token)}", line)
    return word, tag


# --- conllu -------------------------------------------------------------------------------------------


def _read_conllu(lines: Iterable[_Line], source: str, tag_column: str) -> Iterator[Record | Reject]:
    """Yields one Record or Reject for each block of lines between blank lines."""
    parse = functools.partial(_parse_conllu, tag_column=tag_column)
    for block in _blocks(lines, _is_blank):
        yield _sentence(source, block, parse, name_line=True)


def _parse_conllu(lines: list[_Line], *, tag_column: str) -> tuple[list[str], list[str]]:
    """Takes the FORM and ``tag_column`` of each word line of a CoNLL-U sentence.

    Comments, multiword-token ranges (``1-2``) and empty nodes (``1.1``) are skipped: a tagger is
    trained on the syntactic words, which the ranges would duplicate and the empty nodes do not have.
    """
    forms: list[str] = []
    tags: list[str] = []
    for line in lines:
        _require_clean(line)
        if line.text.startswith("#"):
            continue
        word = _conllu_word(line, tag_column)
        if word is not None:
            forms.append(word[0])
            tags.append(word[1])
    if not forms:
        raise _Invalid("empty sentence")
    return forms, tags


def _conllu_word(line: _Line, tag_column: str) -> tuple[str, str] | None:
    """Returns (FORM, tag) of a CoNLL-U token line, or None for a range or an empty node."""
    columns = line.text.split("\t")
    for column in columns:  # whichever columns are used, so that tag_column never changes what is rejected
        control = _CONTROL.search(column)
        if control:
            raise _Invalid(f"control character U+{ord(control[0]):04X} in {_quote(column)}", line)
    if len(columns) != _CONLLU_COLUMN_COUNT:
        raise _Invalid(f"wrong column count: {len(columns)} (expected {_CONLLU_COLUMN_COUNT})", line)
    token_id = columns[0]
    if _CONLLU_SKIPPED_ID.fullmatch(token_id):
        return None
    if not _CONLLU_WORD_ID.fullmatch(token_id):
        raise _Invalid(f"non-integer ID: {_quote(token_id)}", line)
    form, tag = columns[_CONLLU_FORM], columns[_CONLLU_TAG_INDEX[tag_column]]
    # CoNLL-U writes "_" for an unknown value and never leaves a field empty; an empty one is damage.
    if not form:
        raise _Invalid("empty FORM", line)
    if not tag:
        raise _Invalid(f"empty {tag_column.upper()}", line)
    return form, tag


# --- conll --------------------------------------------------------------------------------------------


def _read_conll(lines: Iterable[_Line], source: str) -> Iterator[Record | Reject]:
    """Yields one Record or Reject for each block of lines between blank or ``-DOCSTART-`` lines."""
    for block in _blocks(lines, _is_conll_separator):
        yield _sentence(source, block, _parse_conll, name_line=True)


def _is_conll_separator(line: _Line) -> bool:
    """Whether a line is layout between CoNLL sentences: blank, or a ``-DOCSTART-`` document marker.

    A document marker ends the sentence before it (a sentence never spans two documents), so a block of
    only markers yields nothing. A marker line with bad bytes is not layout: it rejects its block.
    """
    if _is_blank(line):
        return True
    return line.problem is None and line.text.split(maxsplit=1)[0] == _DOCSTART


def _parse_conll(lines: list[_Line]) -> tuple[list[str], list[str]]:
    """Takes the first column (token) and last column (tag) of each line of a CoNLL sentence."""
    tokens: list[str] = []
    tags: list[str] = []
    expected = None  # every line of a sentence has the columns of its first line
    for line in lines:
        _require_clean(line)
        columns = line.text.split()
        if len(columns) < 2:
            raise _Invalid(f"wrong column count: {len(columns)} (expected at least 2)", line)
        expected = expected or len(columns)
        if len(columns) != expected:
            raise _Invalid(
                f"wrong column count: {len(columns)} (expected {expected}, as the sentence's first line)", line
            )
        tokens.append(columns[0])
        tags.append(columns[-1])
    return tokens, tags
