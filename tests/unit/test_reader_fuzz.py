"""Property-based tests of the corpus readers: random bytes and near-valid corpora, every format.

Whatever the bytes, `read_file` on a regular file yields only `Record` and `Reject` (nothing but
`DataError` may escape it), one of them for each unit (sentence, line or document), in file order.

The units are counted here from the bytes, following the module docstring of
`kinds/base/readers.py`: the file is split on ``\\n``, a BOM at its start and one ``\\r`` at the end of
each line are removed, and a line is blank when it is clean UTF-8 without NUL and only white space. A unit
is then a non-blank line (brown, tsv, parallel_tsv), a maximal run of non-blank lines (conllu, and text
with ``documents="blank_line"``; conll also ends a run at a clean ``-DOCSTART-`` line, a document marker,
so a conll run can hold more than one unit), or the whole file (text with ``documents="file"``).
A gzip file (a name ending in ``.gz``) gives the units of the bytes it holds.
"""

from __future__ import annotations

import gzip
import pathlib
import re
import string

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import kinds
from kinds import read_file
from kinds.base.readers import DOCUMENTS, MAX_REJECT_TEXT, TAG_COLUMNS, Record, Reject
from pipeline.errors import DataError

FORMATS = tuple(kinds.formats())
FIELDS = {name: fmt.fields for name, fmt in kinds.formats().items()}

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
BOM = b"\xef\xbb\xbf"
TAGGED = ("brown", "conllu", "conll")
ONE_LINE = ("brown", "tsv", "parallel_tsv", "image_captions", "vqa_tsv")  # one unit a non-blank line
IMAGES = ("a.png", "b.png")  # real images beside the scratch corpus, for `image_captions` and `vqa_tsv`
# A format and its documents mode: every format once, text in both modes.
READINGS = [(fmt, "file") for fmt in FORMATS] + [("text", "blank_line")]
# What no field may hold: control characters and Unicode line separators; `text` may hold tabs and newlines.
CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
TEXT_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")


@pytest.fixture(scope="module")
def scratch(tmp_path_factory) -> pathlib.Path:
    """One file the examples overwrite (module scope: hypothesis reruns the test body, not the fixtures), beside
    the images that `image_captions` corpora name."""
    folder = tmp_path_factory.mktemp("fuzz")
    for name, shape in zip(IMAGES, ((4, 6, 1), (3, 3, 3)), strict=True):
        (folder / name).write_bytes(tf.io.encode_png(np.full(shape, 7, np.uint8)).numpy())
    return folder / "corpus.txt"


# ----------------------------------------------------------------------------------------------
# The oracle: sentence units counted from the bytes


def _lines(data: bytes) -> list[bytes]:
    if data.startswith(BOM):
        data = data[len(BOM) :]
    return [line.removesuffix(b"\r") for line in data.split(b"\n")]


def _clean_text(line: bytes) -> str | None:
    """The line as text, or None when it holds invalid UTF-8 or a NUL byte."""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return None if "\x00" in text else text


def _is_blank(line: bytes) -> bool:
    text = _clean_text(line)
    return text is not None and not text.strip()


def _is_docstart(line: bytes) -> bool:
    text = _clean_text(line)
    return text is not None and bool(text.split()) and text.split()[0] == "-DOCSTART-"


def _runs(lines: list[bytes], is_separator) -> int:
    """Number of maximal runs of non-separator lines."""
    runs, inside = 0, False
    for line in lines:
        if is_separator(line):
            inside = False
        elif not inside:
            runs, inside = runs + 1, True
    return runs


def non_blank_groups(data: bytes, fmt: str) -> int:
    """Non-blank lines for the one-line formats; runs of non-blank lines for the others."""
    lines = _lines(data)
    if fmt in ONE_LINE:
        return sum(not _is_blank(line) for line in lines)
    return _runs(lines, _is_blank)


def units(data: bytes, fmt: str, documents: str = "file") -> int:
    """How many Records plus Rejects the file must give."""
    if fmt == "conll":
        return _runs(_lines(data), lambda line: _is_blank(line) or _is_docstart(line))
    if fmt == "text" and documents == "file":
        return 1
    return non_blank_groups(data, fmt)


# ----------------------------------------------------------------------------------------------
# The properties


def read_all(
    path: pathlib.Path, data: bytes, fmt: str, tag_column: str = "upos", documents: str = "file"
) -> list[Record | Reject] | None:
    """Writes and reads `data`; None if the reader raised DataError (any other exception fails the test)."""
    path.write_bytes(data)
    try:
        return list(read_file(path, fmt, source="c", tag_column=tag_column, documents=documents))
    except DataError:
        return None


def check_record(record: Record, fmt: str) -> None:
    """The record has its format's fields, none of them empty, none holding a control character."""
    assert list(record.fields) == list(FIELDS[fmt]), record
    if fmt in TAGGED:
        tokens, tags = record.fields["tokens"], record.fields["tags"]
        assert isinstance(tokens, list) and isinstance(tags, list), record
        assert len(tokens) == len(tags) > 0, record
        values = tokens + tags
    else:
        values = list(record.fields.values())
    for value in values:
        assert isinstance(value, str) and value.strip(), record
        assert not (TEXT_CONTROL if fmt == "text" else CONTROL).search(value), record
        if fmt in ("tsv", "parallel_tsv"):
            assert value == value.strip(), record
    if fmt == "text":
        text = record.fields["text"]
        lines = text.split("\n")
        assert lines[0].strip() and lines[-1].strip(), "a document starts and ends with a non-blank line"


def check(
    path: pathlib.Path, data: bytes, fmt: str, tag_column: str = "upos", documents: str = "file"
) -> list[Record | Reject]:
    results = read_all(path, data, fmt, tag_column, documents)
    assert results is not None, "DataError on a regular, readable file"
    line_count = data.count(b"\n") + 1
    for result in results:
        assert type(result) in (Record, Reject), result
        assert result.source == "c"
        assert 1 <= result.line <= line_count, result
        if isinstance(result, Record):
            check_record(result, fmt)
        else:
            assert isinstance(result.reason, str) and result.reason, result
            assert isinstance(result.text, str) and len(result.text) <= MAX_REJECT_TEXT, result
    lines = [r.line for r in results]
    assert lines == sorted(set(lines)), "not in file order, or two units start on one line"
    expected = units(data, fmt, documents)
    assert len(results) == expected, (len(results), expected)
    if fmt != "conll" and (fmt, documents) != ("text", "file"):  # a conll run may hold several documents
        assert len(results) <= non_blank_groups(data, fmt)
    assert read_all(path, data, fmt, tag_column, documents) == results, "reading twice gave different results"
    return results


# ----------------------------------------------------------------------------------------------
# Random bytes


@FUZZ
@given(
    data=st.binary(max_size=600),
    fmt=st.sampled_from(FORMATS),
    tag_column=st.sampled_from(TAG_COLUMNS),
    documents=st.sampled_from(DOCUMENTS),
)
@example(data=b"", fmt="conll", tag_column="upos", documents="file")
@example(data=BOM, fmt="conllu", tag_column="upos", documents="file")
@example(data=b"\r\n\r\n\x00\n\xff", fmt="brown", tag_column="upos", documents="file")
@example(data=b"-DOCSTART-\xff\n-DOCSTART-\na b\n-DOCSTART- x\nc d", fmt="conll", tag_column="upos", documents="file")
@example(data=b"", fmt="text", tag_column="upos", documents="file")
@example(data=b"\x0c\n\t\xc2\x85\n", fmt="text", tag_column="upos", documents="blank_line")
@example(data=b" \t \n\ta\t\nb\t\t\n", fmt="tsv", tag_column="xpos", documents="blank_line")
def test_random_bytes(scratch, data, fmt, tag_column, documents):
    check(scratch, data, fmt, tag_column, documents)


LINE_PIECES = [
    *(b"\n", b"\r\n", b"\r", b"\t", b" ", b"/", b"\x00", b"\xff", b"#", b"-", b".", b"_", b"1", b"a", b"B"),
    *(BOM, b"\xc3\xa9", b"\xc3", b"\xed\xa0\x80", b"1-2", b"1.1", b"-DOCSTART-", b"\n\n", b"\xc2\xa0", b"\x0c"),
    *(b"\xc2\x85", b"\x1b", b"\t\t", b"label\ttext", b"\t \n"),
    b"1\tw\tl\tU\tX\t_\t0\tr\t_\t_",
]


@FUZZ
@given(
    pieces=st.lists(st.sampled_from(LINE_PIECES), max_size=60),
    fmt=st.sampled_from(FORMATS),
    documents=st.sampled_from(DOCUMENTS),
)
def test_random_corpus_like_pieces(scratch, pieces, fmt, documents):
    check(scratch, b"".join(pieces), fmt, documents=documents)


# ----------------------------------------------------------------------------------------------
# Near-valid corpora: valid examples, then random mutations

WORD = st.text(st.characters(categories=["L", "M", "N", "P", "S"]), min_size=1, max_size=6).filter(
    lambda w: w != "-DOCSTART-"
)
TAG = st.text(string.ascii_uppercase + "-.$", min_size=1, max_size=5)
SENTENCE = st.lists(st.tuples(WORD, TAG), min_size=1, max_size=6)


def render(sentences: list[list[tuple[str, str]]], fmt: str) -> bytes:
    """Valid file bytes for `sentences` (lists of (word, tag)) in `fmt`."""
    if fmt == "brown":
        return "".join(" ".join(f"{w}/{t}" for w, t in s) + "\n" for s in sentences).encode()
    if fmt == "conllu":
        rows = [
            "\n".join(f"{i}\t{w}\t_\t{t}\t{t.lower() or '_'}\t_\t0\tdep\t_\t_" for i, (w, t) in enumerate(s, 1))
            for s in sentences
        ]
    else:
        rows = ["\n".join(f"{w} X {t}" for w, t in s) for s in sentences]
    return "\n\n".join(rows).encode() + b"\n"


# tsv and parallel_tsv columns: no tab, no control character, no white space at either end (the reader strips
# it: PAD adds some); text lines: tabs and inner white space too, never a newline or a control character.
PRINTABLE = ["L", "M", "N", "P", "S", "Zs"]
COLUMN = st.text(st.characters(categories=PRINTABLE), min_size=1, max_size=12).filter(lambda v: v == v.strip() != "")
PAD = st.sampled_from(["", " ", "  ", "\u00a0", "\u3000"])
LINE = st.text(st.characters(categories=PRINTABLE, include_characters="\t"), max_size=12)
TEXT_LINE = LINE.filter(str.strip)  # not blank
DOCUMENT = st.lists(TEXT_LINE, min_size=1, max_size=4)
FILE_LINES = st.lists(LINE, min_size=1, max_size=8).filter(lambda lines: any(line.strip() for line in lines))


@st.composite
def corpora(draw, fmt: str, documents: str = "file") -> tuple[bytes, list[dict]]:
    """Valid file bytes in `fmt` (read with `documents`), and the fields of the records they must give."""
    if fmt in TAGGED:
        sentences = draw(st.lists(SENTENCE, min_size=1, max_size=5))
        return render(sentences, fmt), [{"tokens": [w for w, _ in s], "tags": [t for _, t in s]} for s in sentences]
    if fmt == "image_captions":
        pairs = draw(st.lists(st.tuples(st.sampled_from(IMAGES), COLUMN), min_size=1, max_size=5))
        lines = [f"{draw(PAD)}{image}{draw(PAD)}\t{draw(PAD)}{caption}{draw(PAD)}" for image, caption in pairs]
        return "".join(line + "\n" for line in lines).encode(), [{"image": i, "caption": c} for i, c in pairs]
    if fmt == "vqa_tsv":
        rows = draw(st.lists(st.tuples(st.sampled_from(IMAGES), COLUMN, COLUMN), min_size=1, max_size=5))
        lines = [f"{draw(PAD)}{image}\t{question}{draw(PAD)}\t{draw(PAD)}{answer}" for image, question, answer in rows]
        expected = [{"image": i, "question": q, "answer": a} for i, q, a in rows]
        return "".join(line + "\n" for line in lines).encode(), expected
    if fmt in ("tsv", "parallel_tsv"):
        pairs = draw(st.lists(st.tuples(COLUMN, COLUMN), min_size=1, max_size=5))
        lines = [f"{draw(PAD)}{a}{draw(PAD)}\t{draw(PAD)}{b}{draw(PAD)}" for a, b in pairs]
        if fmt == "tsv":
            expected = [{"text": text, "label": label} for label, text in pairs]
        else:
            expected = [{"source": source, "target": target} for source, target in pairs]
        return "".join(line + "\n" for line in lines).encode(), expected
    if documents == "blank_line":
        texts = ["\n".join(document) for document in draw(st.lists(DOCUMENT, min_size=1, max_size=4))]
        return ("\n\n".join(texts) + "\n").encode(), [{"text": text} for text in texts]
    lines = draw(FILE_LINES)
    kept = [i for i, line in enumerate(lines) if line.strip()]
    return ("\n".join(lines) + "\n").encode(), [{"text": "\n".join(lines[kept[0] : kept[-1] + 1])}]


SEPARATORS = [b"\n", b"\t", b" ", b"/", b"\n\n"]
SPECIAL_BYTES = [b"\r", b"\x00", b"\xff", b"\r\n", b"\n", b"\t", BOM, b"#", b"-DOCSTART- O\n", b"1-2\t", b"\xc3"]
SPECIAL_BYTES += [b"\x0c", b"\t\t", b"\n \t\n"]
SURROGATE = st.integers(0xD800, 0xDFFF).map(lambda c: chr(c).encode("utf-8", "surrogatepass"))
UNICODE = st.text(st.characters(), max_size=4).map(lambda t: t.encode("utf-8", "surrogatepass"))


def mutate(data: bytes, draw) -> bytes:
    """Applies one random mutation: delete or duplicate a separator, or insert bytes at a random place."""
    kind = draw(st.sampled_from(["delete", "duplicate", "insert", "insert", "unicode", "surrogate"]))
    if kind in ("delete", "duplicate"):
        separator = draw(st.sampled_from(SEPARATORS))
        places = [i for i in range(len(data)) if data.startswith(separator, i)]
        if not places:
            return data
        at = draw(st.sampled_from(places))
        middle = b"" if kind == "delete" else separator * 2
        return data[:at] + middle + data[at + len(separator) :]
    at = draw(st.integers(0, len(data)))
    if kind == "insert":
        piece = draw(st.sampled_from(SPECIAL_BYTES))
    elif kind == "unicode":
        piece = draw(UNICODE)
    else:
        piece = draw(SURROGATE)
    return data[:at] + piece + data[at:]


@FUZZ
@given(reading=st.sampled_from(READINGS), data=st.data())
def test_near_valid_corpora(scratch, reading, data):
    fmt, documents = reading
    corpus, _ = data.draw(corpora(fmt, documents), label="corpus")
    for _ in range(data.draw(st.integers(1, 6), label="mutations")):
        corpus = mutate(corpus, data.draw)

    check(scratch, corpus, fmt, documents=documents)


@FUZZ
@given(reading=st.sampled_from(READINGS), data=st.data())
def test_valid_corpora_give_back_their_examples(scratch, reading, data):
    fmt, documents = reading
    corpus, expected = data.draw(corpora(fmt, documents), label="corpus")

    results = check(scratch, corpus, fmt, documents=documents)

    assert all(isinstance(r, Record) for r in results), results
    if fmt in ("image_captions", "vqa_tsv"):  # the record holds the resolved path, beside the corpus
        assert {pathlib.Path(r.fields["image"]).parent for r in results} == {scratch.parent.resolve()}
        results = [
            Record(r.source, r.line, {**r.fields, "image": pathlib.Path(r.fields["image"]).name}) for r in results
        ]
    assert [r.fields for r in results] == expected


@FUZZ
@given(reading=st.sampled_from(READINGS), data=st.data())
def test_crlf_and_bom_give_the_same_records(scratch, reading, data):
    fmt, documents = reading
    lf, _ = data.draw(corpora(fmt, documents), label="corpus")

    expected = check(scratch, lf, fmt, documents=documents)

    assert check(scratch, BOM + lf.replace(b"\n", b"\r\n"), fmt, documents=documents) == expected


# Characters at which str.splitlines() ends a line; "\r" is also one for files read in text mode.
LINE_BOUNDARIES = "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"


# A line boundary inside a line: brown and conll split tokens on it (all of these are white space to
# str.split), conllu would keep it inside a column, where downstream line-based files break on it; tsv and
# parallel_tsv keep it inside a column, text inside a line. Only text may hold "\n", between its lines.
@FUZZ
@given(
    reading=st.sampled_from(READINGS),
    boundary=st.sampled_from(list(LINE_BOUNDARIES)),
    data=st.data(),
)
@example(reading=("conllu", "file"), boundary="\r", data=None)
@example(reading=("conllu", "file"), boundary="\u2028", data=None)
def test_records_hold_no_line_boundary(scratch, reading, boundary, data):
    fmt, documents = reading
    if data is None:  # the explicit example: in the middle of the first FORM
        corpus = render([[("The", "DET"), ("old", "ADJ")]], fmt)
        corpus = corpus.replace(b"\told\t", f"\tol{boundary}d\t".encode(), 1)
    else:
        corpus, _ = data.draw(corpora(fmt, documents), label="corpus")
        at = data.draw(st.integers(0, len(corpus)))
        corpus = corpus[:at] + boundary.encode() + corpus[at:]

    results = check(scratch, corpus, fmt, documents=documents)

    boundaries = LINE_BOUNDARIES.replace("\n", "") if fmt == "text" else LINE_BOUNDARIES
    for record in (r for r in results if isinstance(r, Record)):
        values = record.fields["tokens"] + record.fields["tags"] if fmt in TAGGED else record.fields.values()
        assert not any(char in value for char in boundaries for value in values), record


# ----------------------------------------------------------------------------------------------
# gzip


@pytest.fixture(scope="module")
def scratch_gz(scratch) -> pathlib.Path:
    """A file name ending in .gz, next to `scratch`."""
    return scratch.with_name("corpus.txt.gz")


@FUZZ
@given(
    data=st.one_of(st.binary(max_size=400), st.lists(st.sampled_from(LINE_PIECES), max_size=60).map(b"".join)),
    reading=st.sampled_from(READINGS),
    level=st.integers(0, 9),
)
def test_gzip_file_gives_the_results_of_its_content(scratch, scratch_gz, data, reading, level):
    fmt, documents = reading
    plain = check(scratch, data, fmt, documents=documents)

    assert read_all(scratch_gz, gzip.compress(data, compresslevel=level), fmt, documents=documents) == plain


@FUZZ
@given(reading=st.sampled_from(READINGS), data=st.data())
def test_damaged_gzip_file_is_a_data_error_or_gives_its_content(scratch, scratch_gz, reading, data):
    fmt, documents = reading
    corpus, _ = data.draw(corpora(fmt, documents), label="corpus")
    packed = bytearray(gzip.compress(corpus))
    damage = data.draw(st.sampled_from(["truncate", "flip", "append"]), label="damage")
    if damage == "truncate":
        packed = packed[: data.draw(st.integers(0, len(packed) - 1), label="length")]
    elif damage == "flip":
        at = data.draw(st.integers(0, len(packed) - 1), label="at")
        packed[at] ^= data.draw(st.integers(1, 255), label="bits")
    else:
        packed += data.draw(st.binary(min_size=1, max_size=20), label="tail")

    results = read_all(scratch_gz, bytes(packed), fmt, documents=documents)

    # CRC-32 and length in the trailer: damage to the data is always seen; damage to the header's time
    # stamp or flags may not be, and then the content is the same.
    assert results is None or results == check(scratch, corpus, fmt, documents=documents)
