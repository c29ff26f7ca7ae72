"""Corpus readers for the ingest stage: corpus files to example records.

Seven formats are understood (see ``FORMATS``; ``FIELDS`` names the fields of each one's records):

* ``brown``: one sentence a line, whitespace-separated ``word/TAG`` tokens. The tag follows the
  *last* ``/``, so words may contain slashes (``1/2/NUM``).
* ``conllu``: CoNLL-U, ten tab-separated columns a token, a blank line between sentences.
* ``conll``: CoNLL-2003 style, whitespace-separated columns a token (token first, tag last),
  a blank line between sentences.
* ``tsv``: one example a line, ``label<TAB>text`` (classifiers), no header line. White space around each
  column is stripped, inner white space is kept. A line of another column count than two (a text holding
  a tab, say) is rejected, and so is a line whose label or text is empty after stripping.
* ``parallel_tsv``: one example a line, ``source<TAB>target`` (translators), the same rules as ``tsv``.
* ``image_captions``: one caption a line, ``image_path<TAB>caption`` (captioners; Flickr8k's
  ``Flickr8k.token.txt`` is such a file once its ``#n`` suffixes are cut), the same rules as ``tsv``. The
  path is relative to the file's folder (or absolute); the record's ``image`` is the resolved path and its
  ``group`` the hash of the image's bytes, so that one image's captions are split together, under any name.
  A missing, empty, unreadable or undecodable image (TensorFlow decodes PNG, JPEG, GIF and BMP) rejects its
  line.
* ``text``: plain text (language models). With ``documents="file"`` the whole file is one document; with
  ``documents="blank_line"`` one or more blank lines separate documents. A document's text is its lines
  joined with ``"\\n"``, from its first to its last non-blank line: every line is kept as it is (tabs,
  runs of spaces, blank lines inside a ``file`` document), but for form feeds (``\\f``, page breaks in old
  text files), which are removed.

A reader turns a file into a stream of ``Record`` (a usable example) and ``Reject`` (an example that
cannot be used, and why). Nothing is dropped silently: the only lines that produce neither are layout
(blank lines, CoNLL-U comments, multiword-token ranges and empty nodes, CoNLL ``-DOCSTART-`` lines). A
``file`` document is one unit even when the file holds nothing but blank lines: it is then rejected as an
"empty document", so an empty file in a language-model corpus shows up in the rejects.
Whatever the bytes of the file, a reader yields only ``Record`` and ``Reject``; ``DataError`` is raised
only for a problem with the file itself (missing, unreadable, corrupt gzip) or with the caller's arguments.

Bytes are turned into lines the same way for every format: a file whose name ends in ``.gz`` is first
decompressed, then the file is split on ``b"\\n"``, a UTF-8 BOM at the start of the file and one trailing
``b"\\r"`` per line (CRLF files) are removed, and each line is decoded as strict UTF-8. A line is blank
when it decodes and is empty or white space only (``str.strip``). A line that does not decode, or that
holds a NUL byte, rejects its example (its whole document, for ``text``); reading then goes on with the
next one. A control character (C0, C1, U+2028, U+2029) in a token, tag or field rejects its example too,
since it would break the line-based files downstream; ``text`` documents may hold tabs (and form feeds,
removed).
"""

import dataclasses
import functools
import gzip
import pathlib
import re
import stat
import zlib
from collections.abc import Callable, Iterable, Iterator
from typing import Any, NamedTuple

from components.ingest import content
from pipeline.errors import DataError

__all__ = ["FORMATS", "FIELDS", "TAG_COLUMNS", "DOCUMENTS", "MAX_REJECT_TEXT", "Record", "Reject", "read_file"]

FORMATS: tuple[str, ...] = ("brown", "conllu", "conll", "tsv", "parallel_tsv", "text", "image_captions")
"""Corpus formats ``read_file`` understands (the same as ``pipeline.config.FORMATS``)."""

FIELDS: dict[str, tuple[str, ...]] = {
    "brown": ("tokens", "tags"),
    "conllu": ("tokens", "tags"),
    "conll": ("tokens", "tags"),
    "tsv": ("text", "label"),
    "parallel_tsv": ("source", "target"),
    "text": ("text",),
    "image_captions": ("image", "caption"),
}
"""The fields of a format's records, in the order of ``Record.fields``: the model's input first, then its targets.

``tokens`` and ``tags`` are lists of strings (one tag per token); the other fields are strings.
"""

TAG_COLUMNS: tuple[str, ...] = ("upos", "xpos")
"""CoNLL-U columns a tag can be taken from."""

DOCUMENTS: tuple[str, ...] = ("file", "blank_line")
"""How a ``text`` file is cut into documents: the whole file is one, or blank lines separate them."""

MAX_REJECT_TEXT = 200
"""``Reject.text`` is cut to this many characters, so one huge bad line cannot flood a reject report."""

_BOM = b"\xef\xbb\xbf"
_GZIP_SUFFIX = ".gz"
_CONLLU_COLUMN_COUNT = 10
_CONLLU_FORM = 1
_CONLLU_TAG_INDEX = {"upos": 3, "xpos": 4}
# ASCII digits only: int() and str.isdigit() would also accept other scripts' digits, which CoNLL-U forbids.
_CONLLU_WORD_ID = re.compile(r"[0-9]+")
_CONLLU_SKIPPED_ID = re.compile(r"[0-9]+(?:-[0-9]+|\.[0-9]+)")  # multiword-token range, or empty node
_DOCSTART = "-DOCSTART-"
_QUOTE_LIMIT = 40
# The two columns of a tsv and a parallel_tsv line, in file order (``FIELDS`` has the model's input first).
_TSV_COLUMNS = {"tsv": ("label", "text"), "parallel_tsv": ("source", "target"), "image_captions": ("image", "caption")}
# The first bytes of the image files TensorFlow's `decode_image` reads.
_IMAGE_SIGNATURES = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"BM")
# Control characters and Unicode line separators: a token holding one (a stray CR inside a CoNLL-U
# column, say) would break the line-based files downstream (vocabularies, JSON lines).
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# The same but for the tab, which plain text keeps, and the form feed, which it removes.
_TEXT_CONTROL = re.compile("[\x00-\x08\x0a\x0b\x0d-\x1f\x7f-\x9f\u2028\u2029]")
_FORM_FEED = "\x0c"


@dataclasses.dataclass(frozen=True)
class Record:
    """One usable example.

    Attributes:
        source: The file's display name, as given to ``read_file``.
        line: 1-based line where the example starts: its line for ``brown``, ``tsv`` and ``parallel_tsv``;
            the first line of its block for ``conllu`` (a ``#`` comment line when the sentence has comments,
            so the key of a sentence is the same whether it is read as a ``Record`` or a ``Reject``) and
            ``conll``; for ``text``, 1 for a ``file`` document and its first line for a ``blank_line`` one.
        fields: The example's fields, named by ``FIELDS[format]`` in that order (the JSON object the
            ingest stage writes, but for its key). The dataclass is frozen, the dict is not: do not
            change it, and do not hash a Record.
    """

    source: str
    line: int
    fields: dict[str, Any]
    block: int | None = None  # a block of a ``text`` document the ingest stage cut (its index), or None
    # Records of one group share their input and are split together (an image's captions: the hash of the
    # image's bytes, ``content.hash_bytes``), or None.
    group: str | None = None

    @property
    def key(self) -> str:
        """Where the record comes from (``source:line``, ``source:line/block``), for messages and lookups."""
        return f"{self.source}:{self.line}" if self.block is None else f"{self.source}:{self.line}/{self.block}"


@dataclasses.dataclass(frozen=True)
class Reject:
    """One example that cannot be used.

    Attributes:
        source: The file's display name, as given to ``read_file``.
        line: 1-based line where the example starts (same rule as ``Record.line``).
        reason: Short, human-readable cause, e.g. ``"token without tag: 'foo'"``. For ``conllu``, ``conll``
            and ``text`` it starts with the number of the offending line (``"line 7: ..."``), because an
            example spans several lines.
        text: The offending line (the whole example when no single line is to blame), decoded with
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
    documents: str = "file",
) -> Iterator[Record | Reject]:
    """Reads a corpus file as a stream of records and rejects.

    The arguments are checked and the file's bytes are read (and decompressed) when this is called, not
    when the first record is asked for, so a bad path, format or gzip file fails at the call site. Records
    are then built one at a time as the returned iterator is consumed.

    Args:
        path: The corpus file; decompressed with gzip when its name ends in ``.gz``.
        fmt: One of ``FORMATS``.
        source: Display name stored in every record and reject (keys are ``source:line``); defaults to
            ``str(path)``. A gzip file's display name keeps its ``.gz``.
        tag_column: CoNLL-U column the tags come from, one of ``TAG_COLUMNS``. Checked for every
            format, so that a typo in a config fails even where the value is not used.
        documents: How a ``text`` file is cut into documents, one of ``DOCUMENTS``. Checked for every
            format, like ``tag_column``.

    Returns:
        An iterator over the file's examples in file order: a ``Record`` for each usable example and a
        ``Reject`` for each other one.

    Raises:
        DataError: ``fmt``, ``tag_column`` or ``documents`` is unknown; or the file is missing, not a
            regular file, cannot be read, or is a corrupt or truncated gzip file.
    """
    path = pathlib.Path(path)
    _check_options(path, fmt, tag_column, documents)
    data = _read_bytes(path)
    if path.name.endswith(_GZIP_SUFFIX):
        data = _gunzip(path, data)
    lines = _iter_lines(data)
    name = str(path) if source is None else source
    if fmt == "brown":
        return _read_brown(lines, name)
    if fmt == "conllu":
        return _read_conllu(lines, name, tag_column)
    if fmt == "conll":
        return _read_conll(lines, name)
    if fmt == "text":
        return _read_text(lines, name, documents)
    if fmt == "image_captions":
        return _read_image_captions(lines, name, path.parent)
    return _read_tsv(lines, name, fmt)


# --- Arguments and bytes ----------------------------------------------------------------------------------


def _check_options(path: pathlib.Path, fmt: str, tag_column: str, documents: str) -> None:
    """Raises DataError naming ``path`` if ``fmt``, ``tag_column`` or ``documents`` is not one we know."""
    if fmt not in FORMATS:
        raise DataError(f"{path}: unknown corpus format {fmt!r} (expected one of: {', '.join(FORMATS)})")
    if tag_column not in TAG_COLUMNS:
        raise DataError(f"{path}: unknown tag column {tag_column!r} (expected one of: {', '.join(TAG_COLUMNS)})")
    if documents not in DOCUMENTS:
        raise DataError(f"{path}: unknown documents mode {documents!r} (expected one of: {', '.join(DOCUMENTS)})")


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


def _gunzip(path: pathlib.Path, data: bytes) -> bytes:
    """Decompresses a gzip file's content, or raises DataError saying in one line why it cannot be."""
    if not data:  # gzip.decompress(b"") is b"", but an empty file is no gzip file: a cut-off download, say
        raise DataError(f"{path}: empty file, not gzip data")
    try:
        return gzip.decompress(data)
    except EOFError as err:
        raise DataError(f"{path}: truncated gzip file") from err
    except (OSError, zlib.error) as err:  # gzip.BadGzipFile is an OSError
        raise DataError(f"{path}: corrupt gzip file: {' '.join(str(err).split())}") from err


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
    """Why no example holding this line can be used (bad bytes), or None."""


def _is_blank(line: _Line) -> bool:
    """Whether a line is empty or white space only: layout between examples (``file`` documents keep inner ones)."""
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


# --- Example building shared by the formats -----------------------------------------------------------


class _Invalid(Exception):
    """An example cannot be used. Raised while parsing one; always caught and turned into a Reject."""

    def __init__(self, problem: str, line: _Line | None = None) -> None:
        """Keeps the cause and, if one line is to blame, that line."""
        super().__init__(problem)
        self.problem = problem
        self.line = line


_Parse = Callable[[list[_Line]], dict[str, Any]]
_ParseTagged = Callable[[list[_Line]], tuple[list[str], list[str]]]


def _example(source: str, start: int, lines: list[_Line], parse: _Parse, *, name_line: bool) -> Record | Reject:
    """Parses the lines of one example into a Record, or a Reject if ``parse`` raises ``_Invalid``.

    Args:
        source: Display name of the file.
        start: The example's line number (``Record.line``).
        lines: The example's lines.
        parse: Returns the example's fields, or raises ``_Invalid``.
        name_line: Whether to prefix the reject reason with the offending line's number (for formats
            where an example spans several lines).
    """
    try:
        fields = parse(lines)
    except _Invalid as err:
        return _reject(source, start, lines, err, name_line=name_line)
    return Record(source, start, fields)


def _sentence(source: str, lines: list[_Line], parse: _ParseTagged, *, name_line: bool) -> Record | Reject:
    """The Record or Reject of a tagged sentence, at its first line; ``parse`` returns its tokens and tags."""
    parse_fields = functools.partial(_tagged_fields, parse=parse)
    return _example(source, lines[0].number, lines, parse_fields, name_line=name_line)


def _tagged_fields(lines: list[_Line], *, parse: _ParseTagged) -> dict[str, Any]:
    """The ``tokens`` and ``tags`` fields of a sentence, from ``parse``; no value may hold a control character."""
    tokens, tags = parse(lines)
    for value in (*tokens, *tags):
        _require_no_control_character(value)
    return {"tokens": tokens, "tags": tags}


def _require_no_control_character(value: str, line: _Line | None = None) -> None:
    """Raises ``_Invalid`` if a token, tag or field holds a control character (``line``: the line to blame)."""
    control = _CONTROL.search(value)
    if control:
        raise _Invalid(f"control character U+{ord(control[0]):04X} in {_quote(value)}", line)


def _reject(source: str, start: int, lines: list[_Line], err: _Invalid, *, name_line: bool) -> Reject:
    """Builds the Reject of an example from the ``_Invalid`` raised while parsing it."""
    reason = err.problem
    if err.line is not None and name_line:
        reason = f"line {err.line.number}: {reason}"
    text = err.line.text if err.line is not None else "\n".join(line.text for line in lines)
    return Reject(source, start, reason, text[:MAX_REJECT_TEXT])


def _require_clean(line: _Line) -> None:
    """Raises ``_Invalid`` if the line's bytes are bad, whatever the line would otherwise mean."""
    if line.problem is not None:
        raise _Invalid(line.problem, line)


def _blocks(lines: Iterable[_Line], is_separator: Callable[[_Line], bool]) -> Iterator[list[_Line]]:
    """Groups lines into blocks: runs of lines between separator lines.

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
        _require_no_control_character(column, line)
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


# --- tsv, parallel_tsv --------------------------------------------------------------------------------


def _read_tsv(lines: Iterable[_Line], source: str, fmt: str) -> Iterator[Record | Reject]:
    """Yields one Record or Reject for each non-blank line of a ``tsv`` or ``parallel_tsv`` file."""
    parse = functools.partial(_parse_tsv, fmt=fmt)
    for line in lines:
        if not _is_blank(line):
            yield _example(source, line.number, [line], parse, name_line=False)


def _parse_tsv(lines: list[_Line], *, fmt: str) -> dict[str, Any]:
    """Splits a line into exactly two tab-separated columns, each stripped of surrounding white space."""
    (line,) = lines
    _require_clean(line)
    values = line.text.split("\t")
    for value in values:  # before the count: a stray CR or NUL says more about the line than its columns
        _require_no_control_character(value, line)
    columns = _TSV_COLUMNS[fmt]
    if len(values) != len(columns):
        raise _Invalid(f"wrong column count: {len(values)} (expected {len(columns)})", line)
    found = {}
    for name, value in zip(columns, values, strict=True):
        found[name] = value.strip()
        if not found[name]:
            raise _Invalid(f"empty {name}", line)
    return {name: found[name] for name in FIELDS[fmt]}


# --- image_captions -----------------------------------------------------------------------------------


def _read_image_captions(lines: Iterable[_Line], source: str, folder: pathlib.Path) -> Iterator[Record | Reject]:
    """Yields one Record or Reject for each non-blank line; each image is opened and decoded once."""
    checked: dict[pathlib.Path, tuple[str | None, str]] = {}  # image -> (its problem, the hash of its bytes)
    for line in lines:
        if _is_blank(line):
            continue
        example = _example(
            source, line.number, [line], functools.partial(_parse_tsv, fmt="image_captions"), name_line=False
        )
        if isinstance(example, Reject):
            yield example
            continue
        written = example.fields["image"]
        image = (folder / written).resolve()
        if image not in checked:
            checked[image] = _check_image(image)
        problem, digest = checked[image]
        if problem is not None:
            yield Reject(source, line.number, f"image {written}: {problem}", line.text[:MAX_REJECT_TEXT])
            continue
        yield Record(source, line.number, {"image": str(image), "caption": example.fields["caption"]}, group=digest)


def _check_image(path: pathlib.Path) -> tuple[str | None, str]:
    """Why an image file cannot be used (missing, not a file, empty, unreadable, not an image TensorFlow
    decodes), or None; and the hash of its bytes ("" when it cannot be read)."""
    try:
        if not stat.S_ISREG(path.stat().st_mode):
            return "not a regular file", ""
        data = path.read_bytes()
    except FileNotFoundError:
        return "not found", ""
    except (OSError, ValueError) as err:
        return f"cannot read: {_os_reason(err)}", ""
    if not data:
        return "empty file", ""
    if not data.startswith(_IMAGE_SIGNATURES):
        return "not a PNG, JPEG, GIF or BMP file", ""
    import tensorflow as tf  # only this format needs it, and only once it has an image to check

    try:
        tf.io.decode_image(data, channels=3, expand_animations=False)
    except (tf.errors.InvalidArgumentError, tf.errors.UnknownError) as err:
        return f"cannot decode: {' '.join(err.message.split())[:100]}", ""
    return None, content.hash_bytes(data)


# --- text ---------------------------------------------------------------------------------------------


def _read_text(lines: Iterable[_Line], source: str, documents: str) -> Iterator[Record | Reject]:
    """Yields one Record or Reject for the whole file (``file``) or for each block of non-blank lines."""
    if documents == "blank_line":
        for block in _blocks(lines, _is_blank):
            yield _example(source, block[0].number, block, _parse_text, name_line=True)
        return
    document = _strip_blank_lines(list(lines))
    yield _example(source, 1, document, _parse_text, name_line=True)


def _strip_blank_lines(lines: list[_Line]) -> list[_Line]:
    """The lines from the first non-blank one to the last non-blank one (none if all are blank)."""
    kept = [i for i, line in enumerate(lines) if not _is_blank(line)]
    return lines[kept[0] : kept[-1] + 1] if kept else []


def _parse_text(lines: list[_Line]) -> dict[str, Any]:
    """The ``text`` of a document: its lines, form feeds removed, joined with ``\\n``."""
    if not lines:
        raise _Invalid("empty document")
    for line in lines:
        _require_clean(line)
        control = _TEXT_CONTROL.search(line.text)
        if control:
            raise _Invalid(f"control character U+{ord(control[0]):04X} at character {control.start() + 1}", line)
    return {"text": "\n".join(line.text.replace(_FORM_FEED, "") for line in lines)}
