"""Reading corpus files: bytes to lines, lines to `Record`s and `Reject`s, the same for every format.

A format is a `Format` declared by the kind that reads it (`kinds/<kind>/readers.py`: brown, conllu and
conll by the tagger, tsv by the classifier, parallel_tsv by the translator, text by the language model,
image_captions by the captioner); `kinds.format(name)` finds one, and `read_file` reads a file in it. A
format names the fields of its records, the model's input first, and parses lines with the helpers here.

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

from __future__ import annotations

import dataclasses
import functools
import gzip
import pathlib
import re
import stat
import zlib
from collections.abc import Callable, Iterable, Iterator
from typing import Any, NamedTuple

from pipeline import content
from pipeline.errors import DataError

__all__ = [
    "TAG_COLUMNS",
    "DOCUMENTS",
    "MAX_REJECT_TEXT",
    "Format",
    "Options",
    "Record",
    "Reject",
    "read_file",
    "read_columns",
]

TAG_COLUMNS: tuple[str, ...] = ("upos", "xpos")
"""CoNLL-U columns a tag can be taken from."""

DOCUMENTS: tuple[str, ...] = ("file", "blank_line")
"""How a ``text`` file is cut into documents: the whole file is one, or blank lines separate them."""

MAX_REJECT_TEXT = 200
"""``Reject.text`` is cut to this many characters, so one huge bad line cannot flood a reject report."""

_BOM = b"\xef\xbb\xbf"
_GZIP_SUFFIX = ".gz"
_QUOTE_LIMIT = 40
# Control characters and Unicode line separators: a token holding one (a stray CR inside a CoNLL-U
# column, say) would break the line-based files downstream (vocabularies, JSON lines).
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


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


@dataclasses.dataclass(frozen=True)
class Options:
    """What a format may need besides the lines: the data section's options, and the file's folder.

    Attributes:
        tag_column: CoNLL-U column the tags come from, one of ``TAG_COLUMNS``.
        documents: How a ``text`` file is cut into documents, one of ``DOCUMENTS``.
        folder: The file's folder (paths in the file are relative to it).
    """

    tag_column: str = "upos"
    documents: str = "file"
    folder: pathlib.Path = pathlib.Path(".")


@dataclasses.dataclass(frozen=True)
class Format:
    """A corpus format: its name (`data.format`), the fields of its records, and how its lines are read.

    Attributes:
        name: the format's name.
        fields: the fields of its records, in the order of ``Record.fields``: the model's input first, then
            its targets (lists of strings for tokens and tags; strings otherwise).
        read: (lines, display name, options) -> the records and rejects of the file, in file order.
    """

    name: str
    fields: tuple[str, ...]
    read: Callable[[Iterable[Line], str, Options], Iterator[Record | Reject]]


def read_file(
    path: pathlib.Path,
    fmt: Format,
    *,
    source: str | None = None,
    tag_column: str = "upos",
    documents: str = "file",
) -> Iterator[Record | Reject]:
    """Reads a corpus file as a stream of records and rejects.

    The arguments are checked and the file's bytes are read (and decompressed) when this is called, not
    when the first record is asked for, so a bad path, option or gzip file fails at the call site. Records
    are then built one at a time as the returned iterator is consumed.

    Args:
        path: The corpus file; decompressed with gzip when its name ends in ``.gz``.
        fmt: The format (``kinds.format(name)``).
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
        DataError: ``tag_column`` or ``documents`` is unknown; or the file is missing, not a regular file,
            cannot be read, or is a corrupt or truncated gzip file.
    """
    path = pathlib.Path(path)
    _check_options(path, tag_column, documents)
    data = _read_bytes(path)
    if path.name.endswith(_GZIP_SUFFIX):
        data = _gunzip(path, data)
    name = str(path) if source is None else source
    return fmt.read(_iter_lines(data), name, Options(tag_column, documents, path.parent))


# --- Arguments and bytes ----------------------------------------------------------------------------------


def _check_options(path: pathlib.Path, tag_column: str, documents: str) -> None:
    """Raises DataError naming ``path`` if ``tag_column`` or ``documents`` is not one we know."""
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
        raise DataError(f"{path}: cannot read corpus file: {os_reason(err)}") from err
    if stat.S_ISDIR(mode):
        raise DataError(f"{path}: is a directory, not a corpus file")
    # A FIFO or a device would block or never end when read; refuse it rather than hang the pipeline.
    if not stat.S_ISREG(mode):
        raise DataError(f"{path}: not a regular file")
    try:
        return path.read_bytes()
    except OSError as err:
        raise DataError(f"{path}: cannot read corpus file: {os_reason(err)}") from err


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


def os_reason(err: Exception) -> str:
    """The cause of an OS error without the path, which the caller's message already names."""
    return getattr(err, "strerror", None) or str(err)


class Line(NamedTuple):
    """One line of the file, decoded."""

    number: int
    """1-based line number."""
    text: str
    """The line without its end of line, decoded with ``errors="replace"``."""
    problem: str | None
    """Why no example holding this line can be used (bad bytes), or None."""


def is_blank(line: Line) -> bool:
    """Whether a line is empty or white space only: layout between examples (``file`` documents keep inner ones)."""
    return line.problem is None and not line.text.strip()


def _iter_lines(data: bytes) -> Iterator[Line]:
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


def _decode_line(number: int, raw: bytes) -> Line:
    """Decodes one line (without its ``\\n``), recording bad bytes instead of raising."""
    raw = raw.removesuffix(b"\r")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        # Byte positions are 1-based, like line numbers, and count from the start of the line.
        return Line(number, raw.decode("utf-8", errors="replace"), f"invalid UTF-8 at byte {err.start + 1}")
    nul = raw.find(b"\x00")
    # NUL is valid UTF-8 but never text: it means a binary or corrupted file, and it breaks C-based tools.
    return Line(number, text, None if nul == -1 else f"NUL byte at byte {nul + 1}")


# --- Example building shared by the formats -----------------------------------------------------------


class Invalid(Exception):
    """An example cannot be used. Raised while parsing one; always caught and turned into a Reject."""

    def __init__(self, problem: str, line: Line | None = None) -> None:
        """Keeps the cause and, if one line is to blame, that line."""
        super().__init__(problem)
        self.problem = problem
        self.line = line


Parse = Callable[[list[Line]], dict[str, Any]]
ParseTagged = Callable[[list[Line]], tuple[list[str], list[str]]]


def example(source: str, start: int, lines: list[Line], parse: Parse, *, name_line: bool) -> Record | Reject:
    """Parses the lines of one example into a Record, or a Reject if ``parse`` raises ``Invalid``.

    Args:
        source: Display name of the file.
        start: The example's line number (``Record.line``).
        lines: The example's lines.
        parse: Returns the example's fields, or raises ``Invalid``.
        name_line: Whether to prefix the reject reason with the offending line's number (for formats
            where an example spans several lines).
    """
    try:
        fields = parse(lines)
    except Invalid as err:
        return _reject(source, start, lines, err, name_line=name_line)
    return Record(source, start, fields)


def sentence(source: str, lines: list[Line], parse: ParseTagged, *, name_line: bool) -> Record | Reject:
    """The Record or Reject of a tagged sentence, at its first line; ``parse`` returns its tokens and tags."""
    parse_fields = functools.partial(_tagged_fields, parse=parse)
    return example(source, lines[0].number, lines, parse_fields, name_line=name_line)


def _tagged_fields(lines: list[Line], *, parse: ParseTagged) -> dict[str, Any]:
    """The ``tokens`` and ``tags`` fields of a sentence, from ``parse``; no value may hold a control character."""
    tokens, tags = parse(lines)
    for value in (*tokens, *tags):
        require_no_control_character(value)
    return {"tokens": tokens, "tags": tags}


def require_no_control_character(value: str, line: Line | None = None) -> None:
    """Raises ``Invalid`` if a token, tag or field holds a control character (``line``: the line to blame)."""
    control = _CONTROL.search(value)
    if control:
        raise Invalid(f"control character U+{ord(control[0]):04X} in {quote(value)}", line)


def _reject(source: str, start: int, lines: list[Line], err: Invalid, *, name_line: bool) -> Reject:
    """Builds the Reject of an example from the ``Invalid`` raised while parsing it."""
    reason = err.problem
    if err.line is not None and name_line:
        reason = f"line {err.line.number}: {reason}"
    text = err.line.text if err.line is not None else "\n".join(line.text for line in lines)
    return Reject(source, start, reason, text[:MAX_REJECT_TEXT])


def require_clean(line: Line) -> None:
    """Raises ``Invalid`` if the line's bytes are bad, whatever the line would otherwise mean."""
    if line.problem is not None:
        raise Invalid(line.problem, line)


def blocks(lines: Iterable[Line], is_separator: Callable[[Line], bool]) -> Iterator[list[Line]]:
    """Groups lines into blocks: runs of lines between separator lines.

    The last block is yielded even when the file does not end with a separator.
    """
    block: list[Line] = []
    for line in lines:
        if not is_separator(line):
            block.append(line)
        elif block:
            yield block
            block = []
    if block:
        yield block


def quote(text: str) -> str:
    """``repr`` of a piece of a line for a reject reason, shortened so the reason stays short."""
    if len(text) > _QUOTE_LIMIT:
        text = text[:_QUOTE_LIMIT] + "..."
    return repr(text)


# --- columns (tsv, parallel_tsv, image_captions) ----------------------------------------------------


def read_columns(
    lines: Iterable[Line], source: str, options: Options, *, columns: tuple[str, ...], fields: tuple[str, ...]
) -> Iterator[Record | Reject]:
    """One Record or Reject for each non-blank line of tab-separated `columns` (in file order), no header:
    white space around each column is stripped, inner white space kept; a line of another column count (a
    text holding a tab, say), or with an empty column, is rejected. The record's fields are `fields`."""
    parse = functools.partial(parse_columns, columns=columns, fields=fields)
    for line in lines:
        if not is_blank(line):
            yield example(source, line.number, [line], parse, name_line=False)


def parse_columns(lines: list[Line], *, columns: tuple[str, ...], fields: tuple[str, ...]) -> dict[str, Any]:
    """Splits a line into exactly `columns` tab-separated columns, each stripped of surrounding white space."""
    (line,) = lines
    require_clean(line)
    values = line.text.split("\t")
    for value in values:  # before the count: a stray CR or NUL says more about the line than its columns
        require_no_control_character(value, line)
    if len(values) != len(columns):
        raise Invalid(f"wrong column count: {len(values)} (expected {len(columns)})", line)
    found = {}
    for name, value in zip(columns, values, strict=True):
        found[name] = value.strip()
        if not found[name]:
            raise Invalid(f"empty {name}", line)
    return {name: found[name] for name in fields}


# The first bytes of the image files TensorFlow's `decode_image` reads.
IMAGE_SIGNATURES = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"BM")


def check_image(path: pathlib.Path) -> tuple[str | None, str]:
    """Why an image file cannot be used (missing, not a file, empty, unreadable, not an image TensorFlow decodes),
    or None; and the hash of its bytes ("" when it cannot be read). One rule for every kind that reads images."""
    try:
        if not stat.S_ISREG(path.stat().st_mode):
            return "not a regular file", ""
        data = path.read_bytes()
    except FileNotFoundError:
        return "not found", ""
    except (OSError, ValueError) as err:
        return f"cannot read: {os_reason(err)}", ""
    if not data:
        return "empty file", ""
    if not data.startswith(IMAGE_SIGNATURES):
        return "not a PNG, JPEG, GIF or BMP file", ""
    import tensorflow as tf  # only this format needs it, and only once it has an image to check

    try:
        tf.io.decode_image(data, channels=3, expand_animations=False)
    except (tf.errors.InvalidArgumentError, tf.errors.UnknownError) as err:
        return f"cannot decode: {' '.join(err.message.split())[:100]}", ""
    return None, content.hash_bytes(data)


def read_image_lines(
    lines: Iterable[Line], source: str, options: Options, *, parse: Parse
) -> Iterator[Record | Reject]:
    """The reader of a format of one example a line whose `image` field is an image file's path (relative to the
    corpus file's folder, or absolute), such as `image_path<TAB>caption`: one Record or Reject for each non-blank
    line, each image opened and decoded once (`check_image`). The record's `image` is the resolved path and its
    `group` the hash of the image's bytes, so that the lines of one image are split together, under any name."""
    checked: dict[pathlib.Path, tuple[str | None, str]] = {}  # image -> (its problem, the hash of its bytes)
    for line in lines:
        if is_blank(line):
            continue
        parsed = example(source, line.number, [line], parse, name_line=False)
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
        yield Record(source, line.number, {**parsed.fields, "image": str(image)}, group=digest)
