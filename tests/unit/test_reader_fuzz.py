"""Property-based tests of the corpus readers: random bytes and near-valid corpora, every format.

Whatever the bytes, `read_file` on a regular file yields only `Record` and `Reject` (nothing but
`DataError` may escape it), one of them for each sentence unit, in file order.

The sentence units are counted here from the bytes, following the module docstring of
`components/ingest/readers.py`: the file is split on ``\\n``, a BOM at its start and one ``\\r`` at the end of
each line are removed, and a line is blank when it is clean UTF-8 without NUL and only white space. A unit
is then a non-blank line (brown) or a maximal run of non-blank lines (conllu; conll also ends a run at a
clean ``-DOCSTART-`` line, a document marker, so a conll run can hold more than one unit).
"""

from __future__ import annotations

import pathlib
import string

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from components.ingest.readers import FORMATS, MAX_REJECT_TEXT, TAG_COLUMNS, Record, Reject, read_file
from pipeline.errors import DataError

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
BOM = b"\xef\xbb\xbf"


@pytest.fixture(scope="module")
def scratch(tmp_path_factory) -> pathlib.Path:
    """One file the examples overwrite (module scope: hypothesis reruns the test body, not the fixtures)."""
    return tmp_path_factory.mktemp("fuzz") / "corpus.txt"


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
    """Non-blank lines for brown; runs of non-blank lines for the block formats."""
    lines = _lines(data)
    if fmt == "brown":
        return sum(not _is_blank(line) for line in lines)
    return _runs(lines, _is_blank)


def sentence_units(data: bytes, fmt: str) -> int:
    """How many Records plus Rejects the file must give."""
    if fmt == "conll":
        return _runs(_lines(data), lambda line: _is_blank(line) or _is_docstart(line))
    return non_blank_groups(data, fmt)


# ----------------------------------------------------------------------------------------------
# The properties


def read_all(path: pathlib.Path, data: bytes, fmt: str, tag_column: str = "upos") -> list[Record | Reject] | None:
    """Writes and reads `data`; None if the reader raised DataError (any other exception fails the test)."""
    path.write_bytes(data)
    try:
        return list(read_file(path, fmt, source="c", tag_column=tag_column))
    except DataError:
        return None


def check(path: pathlib.Path, data: bytes, fmt: str, tag_column: str = "upos") -> list[Record | Reject]:
    results = read_all(path, data, fmt, tag_column)
    assert results is not None, "DataError on a regular, readable file"
    line_count = data.count(b"\n") + 1
    for result in results:
        assert type(result) in (Record, Reject), result
        assert result.source == "c"
        assert 1 <= result.line <= line_count, result
        if isinstance(result, Record):
            assert len(result.tokens) == len(result.tags) > 0, result
            for value in result.tokens + result.tags:
                assert isinstance(value, str) and value, result
        else:
            assert isinstance(result.reason, str) and result.reason, result
            assert isinstance(result.text, str) and len(result.text) <= MAX_REJECT_TEXT, result
    lines = [r.line for r in results]
    assert lines == sorted(set(lines)), "not in file order, or two units start on one line"
    units = sentence_units(data, fmt)
    assert len(results) == units, (len(results), units)
    if fmt != "conll":  # a conll run may hold several documents' sentences
        assert len(results) <= non_blank_groups(data, fmt)
    assert read_all(path, data, fmt, tag_column) == results, "reading twice gave different results"
    return results


# ----------------------------------------------------------------------------------------------
# Random bytes


@FUZZ
@given(data=st.binary(max_size=600), fmt=st.sampled_from(FORMATS), tag_column=st.sampled_from(TAG_COLUMNS))
@example(data=b"", fmt="conll", tag_column="upos")
@example(data=BOM, fmt="conllu", tag_column="upos")
@example(data=b"\r\n\r\n\x00\n\xff", fmt="brown", tag_column="upos")
@example(data=b"-DOCSTART-\xff\n-DOCSTART-\na b\n-DOCSTART- x\nc d", fmt="conll", tag_column="upos")
def test_random_bytes(scratch, data, fmt, tag_column):
    check(scratch, data, fmt, tag_column)


LINE_PIECES = [
    *(b"\n", b"\r\n", b"\r", b"\t", b" ", b"/", b"\x00", b"\xff", b"#", b"-", b".", b"_", b"1", b"a", b"B"),
    *(BOM, b"\xc3\xa9", b"\xc3", b"\xed\xa0\x80", b"1-2", b"1.1", b"-DOCSTART-", b"\n\n", b"\xc2\xa0"),
    b"1\tw\tl\tU\tX\t_\t0\tr\t_\t_",
]


@FUZZ
@given(pieces=st.lists(st.sampled_from(LINE_PIECES), max_size=60), fmt=st.sampled_from(FORMATS))
def test_random_corpus_like_pieces(scratch, pieces, fmt):
    check(scratch, b"".join(pieces), fmt)


# ----------------------------------------------------------------------------------------------
# Near-valid corpora: valid sentences, then random mutations

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


SEPARATORS = [b"\n", b"\t", b" ", b"/", b"\n\n"]
SPECIAL_BYTES = [b"\r", b"\x00", b"\xff", b"\r\n", b"\n", b"\t", BOM, b"#", b"-DOCSTART- O\n", b"1-2\t", b"\xc3"]
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
@given(sentences=st.lists(SENTENCE, min_size=1, max_size=5), fmt=st.sampled_from(FORMATS), data=st.data())
def test_near_valid_corpora(scratch, sentences, fmt, data):
    corpus = render(sentences, fmt)
    for _ in range(data.draw(st.integers(1, 6), label="mutations")):
        corpus = mutate(corpus, data.draw)

    check(scratch, corpus, fmt)


@FUZZ
@given(sentences=st.lists(SENTENCE, min_size=1, max_size=5), fmt=st.sampled_from(FORMATS))
def test_valid_corpora_give_back_their_sentences(scratch, sentences, fmt):
    results = check(scratch, render(sentences, fmt), fmt)

    assert all(isinstance(r, Record) for r in results), results
    assert [list(zip(r.tokens, r.tags, strict=True)) for r in results] == [list(s) for s in sentences]


@FUZZ
@given(sentences=st.lists(SENTENCE, min_size=1, max_size=5), fmt=st.sampled_from(FORMATS))
def test_crlf_and_bom_give_the_same_records(scratch, sentences, fmt):
    lf = render(sentences, fmt)

    expected = check(scratch, lf, fmt)

    assert check(scratch, BOM + lf.replace(b"\n", b"\r\n"), fmt) == expected


# Characters at which str.splitlines() ends a line; "\r" is also one for files read in text mode.
LINE_BOUNDARIES = "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"


# A line boundary inside a line: brown and conll split tokens on it (all of these are white space to
# str.split), conllu would keep it inside a column, where downstream line-based files break on it.
@FUZZ
@given(
    sentences=st.lists(SENTENCE, min_size=1, max_size=5),
    fmt=st.sampled_from(FORMATS),
    boundary=st.sampled_from(list(LINE_BOUNDARIES)),
    data=st.data(),
)
@example(sentences=[[("The", "DET"), ("old", "ADJ")]], fmt="conllu", boundary="\r", data=None)
@example(sentences=[[("The", "DET"), ("old", "ADJ")]], fmt="conllu", boundary="\u2028", data=None)
def test_records_hold_no_line_boundary(scratch, sentences, fmt, boundary, data):
    corpus = render(sentences, fmt)
    if data is None:  # the explicit example: in the middle of the first FORM
        corpus = corpus.replace(b"\told\t", f"\tol{boundary}d\t".encode(), 1)
    else:
        at = data.draw(st.integers(0, len(corpus)))
        corpus = corpus[:at] + boundary.encode() + corpus[at:]

    results = check(scratch, corpus, fmt)

    for record in (r for r in results if isinstance(r, Record)):
        assert not any(char in value for char in LINE_BOUNDARIES for value in record.tokens + record.tags), record
