"""Tests of the readers of untagged text: `tsv`, `parallel_tsv` and `text`, on small hand-written files.

The rules every format shares (BOM, CRLF, invalid UTF-8, NUL, gzip, arguments) are tested in every format in
`test_readers.py`; here are the rules of these three: columns, empty fields, white space, documents.
"""

import gzip
import pathlib

import pytest

from kinds import read_file
from kinds.base.readers import Record, Reject

BOM = b"\xef\xbb\xbf"


def _read(tmp_path: pathlib.Path, data: bytes, fmt: str, **kwargs: str) -> list[Record | Reject]:
    """Writes ``data`` to a file and reads it whole, with source name "c"."""
    path = tmp_path / "corpus.txt"
    path.write_bytes(data)
    return list(read_file(path, fmt, source="c", **kwargs))


# --- tsv ------------------------------------------------------------------------------------------------

TSV = b"".join(
    [
        b"pets\tThe dog barks.\n",
        b"weather\tIt rains  \t\n",  # a trailing tab: a third, empty column
        b"\n",
        b"weather\t It  rains, it pours. \n",
        b"food \t caf\xc3\xa9\xc2\xa0\n",  # U+00A0 at the end: white space, stripped
    ]
)


def test_tsv_clean_file(tmp_path: pathlib.Path) -> None:
    results = _read(tmp_path, TSV.replace(b"rains  \t\n", b"rains  \n"), "tsv")
    assert results == [
        Record("c", 1, {"text": "The dog barks.", "label": "pets"}),
        Record("c", 2, {"text": "It rains", "label": "weather"}),
        Record("c", 4, {"text": "It  rains, it pours.", "label": "weather"}),  # inner spaces kept
        Record("c", 5, {"text": "café", "label": "food"}),
    ]
    assert [r.key for r in results] == ["c:1", "c:2", "c:4", "c:5"]


def test_tsv_crlf_and_bom_give_the_same_records(tmp_path: pathlib.Path) -> None:
    lf = _read(tmp_path, TSV, "tsv")
    assert _read(tmp_path, BOM + TSV.replace(b"\n", b"\r\n"), "tsv") == lf


def test_tsv_text_holding_a_tab_is_a_wrong_column_count(tmp_path: pathlib.Path) -> None:
    results = _read(tmp_path, TSV, "tsv")
    assert results[1] == Reject("c", 2, "wrong column count: 3 (expected 2)", "weather\tIt rains  \t")
    assert len(results) == 4


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b"no tab at all", "wrong column count: 1 (expected 2)"),
        (b"a\tb\tc", "wrong column count: 3 (expected 2)"),
        (b"\tThe dog barks.", "empty label"),
        (b"  \tThe dog barks.", "empty label"),
        (b"pets\t", "empty text"),
        (b"pets\t \xe3\x80\x80 ", "empty text"),  # U+3000, the ideographic space, is white space too
        (b"pets\tcaf\xe9", "invalid UTF-8 at byte 9"),
        (b"pe\x00ts\tThe dog", "NUL byte at byte 3"),
        (b"pets\tThe\rdog", "control character U+000D in 'The\\rdog'"),
        (b"pets\tThe\x0cdog", "control character U+000C in 'The\\x0cdog'"),
        (b"pets\x1b\tThe dog", "control character U+001B in 'pets\\x1b'"),
        (b"pets\tThe dog\xc2\x85", "control character U+0085 in 'The dog\\x85'"),
        (b"pets\tThe\xe2\x80\xa8dog", "control character U+2028 in 'The\\u2028dog'"),
        (b"a\tb\tc\x01", "control character U+0001 in 'c\\x01'"),  # the control character is named first
    ],
)
def test_tsv_bad_line_is_rejected_and_reading_goes_on(tmp_path: pathlib.Path, line: bytes, reason: str) -> None:
    results = _read(tmp_path, b"a\tone\n" + line + b"\nb\ttwo\n", "tsv")
    assert results == [
        Record("c", 1, {"text": "one", "label": "a"}),
        Reject("c", 2, reason, line.decode("utf-8", errors="replace")),
        Record("c", 3, {"text": "two", "label": "b"}),
    ]


@pytest.mark.parametrize("line", [b"\t", b" \t ", b"\t\t", b"\xc2\xa0\t"])
def test_tsv_line_of_white_space_and_tabs_is_blank(tmp_path: pathlib.Path, line: bytes) -> None:
    assert _read(tmp_path, b"a\tone\n" + line + b"\nb\ttwo\n", "tsv") == [
        Record("c", 1, {"text": "one", "label": "a"}),
        Record("c", 3, {"text": "two", "label": "b"}),
    ]


def test_tsv_has_no_header_line(tmp_path: pathlib.Path) -> None:
    (header, _) = _read(tmp_path, b"label\ttext\npets\tThe dog\n", "tsv")
    assert header == Record("c", 1, {"text": "text", "label": "label"})  # data like any other line


def test_tsv_gzip_file(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "corpus.tsv.gz"
    path.write_bytes(gzip.compress(TSV))
    packed = list(read_file(path, "tsv", source="corpus.tsv.gz"))
    assert packed[0] == Record("corpus.tsv.gz", 1, {"text": "The dog barks.", "label": "pets"})
    assert [r.line for r in packed] == [r.line for r in _read(tmp_path, TSV, "tsv")]


# --- parallel_tsv ---------------------------------------------------------------------------------------


def test_parallel_tsv_clean_file(tmp_path: pathlib.Path) -> None:
    data = b"The dog barks.\tDer Hund bellt.\n\n  Good  morning \t Guten  Morgen\n"
    assert _read(tmp_path, data, "parallel_tsv") == [
        Record("c", 1, {"source": "The dog barks.", "target": "Der Hund bellt."}),
        Record("c", 3, {"source": "Good  morning", "target": "Guten  Morgen"}),
    ]


def test_parallel_tsv_crlf_and_bom_give_the_same_records(tmp_path: pathlib.Path) -> None:
    data = b"a b\tc d\n\ne\tf\n"
    assert _read(tmp_path, BOM + data.replace(b"\n", b"\r\n"), "parallel_tsv") == _read(tmp_path, data, "parallel_tsv")


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b"Hello", "wrong column count: 1 (expected 2)"),
        (b"Hello\tHallo\tSalut", "wrong column count: 3 (expected 2)"),
        (b"Hello\tHallo\t", "wrong column count: 3 (expected 2)"),
        (b"\tHallo", "empty source"),
        (b"Hello\t", "empty target"),
        (b"Hello\t   ", "empty target"),
        (b"Hello\tHall\xf6", "invalid UTF-8 at byte 11"),
        (b"Hello\x00\tHallo", "NUL byte at byte 6"),
        (b"Hel\x7flo\tHallo", "control character U+007F in 'Hel\\x7flo'"),
    ],
)
def test_parallel_tsv_bad_line_is_rejected(tmp_path: pathlib.Path, line: bytes, reason: str) -> None:
    results = _read(tmp_path, b"a\tb\n" + line + b"\nc\td\n", "parallel_tsv")
    assert results[1] == Reject("c", 2, reason, line.decode("utf-8", errors="replace"))
    assert [r.fields for r in results if isinstance(r, Record)] == [
        {"source": "a", "target": "b"},
        {"source": "c", "target": "d"},
    ]


# --- text: the whole file is one document ----------------------------------------------------------------


def test_text_file_is_one_document_from_its_first_to_its_last_non_blank_line(tmp_path: pathlib.Path) -> None:
    data = b"\n  \n  Chapter 1\n\n\tIt was  a dark night. \n \nThe end.\n\n\n"
    assert _read(tmp_path, data, "text") == [
        Record("c", 1, {"text": "  Chapter 1\n\n\tIt was  a dark night. \n \nThe end."}),
    ]


def test_text_file_crlf_and_bom_give_the_same_document(tmp_path: pathlib.Path) -> None:
    data = b"One.\n\n\tTwo  three.\n"
    expected = [Record("c", 1, {"text": "One.\n\n\tTwo  three."})]
    assert _read(tmp_path, data, "text") == expected
    assert _read(tmp_path, BOM + data.replace(b"\n", b"\r\n"), "text") == expected
    assert _read(tmp_path, data.rstrip(b"\n"), "text") == expected  # no newline at the end


@pytest.mark.parametrize("data", [b"", b"\n", b"  \n\t\n\r\n", BOM, b"\x0c\n\x0c"])
def test_text_file_without_content_is_an_empty_document(tmp_path: pathlib.Path, data: bytes) -> None:
    assert _read(tmp_path, data, "text") == [Reject("c", 1, "empty document", "")]


def test_text_file_with_invalid_utf8_is_rejected_whole(tmp_path: pathlib.Path) -> None:
    data = b"A good line.\n\nAnother one.\nna\xefve\nThe end.\n"
    assert _read(tmp_path, data, "text") == [Reject("c", 1, "line 4: invalid UTF-8 at byte 3", "na\ufffdve")]


def test_text_file_with_a_nul_byte_is_rejected_whole(tmp_path: pathlib.Path) -> None:
    assert _read(tmp_path, b"\n\nA good line.\n\x00\n", "text") == [
        Reject("c", 1, "line 4: NUL byte at byte 1", "\x00")
    ]


# --- text: documents separated by blank lines -------------------------------------------------------------


def test_text_documents_separated_by_blank_lines(tmp_path: pathlib.Path) -> None:
    data = b"\n \n\nFirst doc,\n  second line.\n\n\n\t\n\nSecond\tdoc.\n \n\n\nThird.\n\n\n"
    results = _read(tmp_path, data, "text", documents="blank_line")
    assert results == [
        Record("c", 4, {"text": "First doc,\n  second line."}),
        Record("c", 10, {"text": "Second\tdoc."}),
        Record("c", 14, {"text": "Third."}),
    ]


def test_text_documents_crlf_and_bom_give_the_same_records(tmp_path: pathlib.Path) -> None:
    data = b"a  b\nc\n\n\nd\te \n"
    lf = _read(tmp_path, data, "text", documents="blank_line")
    assert [r.fields for r in lf] == [{"text": "a  b\nc"}, {"text": "d\te "}]
    assert _read(tmp_path, BOM + data.replace(b"\n", b"\r\n"), "text", documents="blank_line") == lf


@pytest.mark.parametrize("data", [b"", b"\n", b"  \n\t\n\r\n", BOM])
def test_text_documents_of_a_file_without_content_are_none(tmp_path: pathlib.Path, data: bytes) -> None:
    assert _read(tmp_path, data, "text", documents="blank_line") == []


def test_text_document_with_invalid_utf8_is_rejected_and_reading_goes_on(tmp_path: pathlib.Path) -> None:
    data = b"Good.\n\nStill good,\nbut caf\xe9\nis not.\n\nGood again.\n"
    assert _read(tmp_path, data, "text", documents="blank_line") == [
        Record("c", 1, {"text": "Good."}),
        Reject("c", 3, "line 4: invalid UTF-8 at byte 8", "but caf\ufffd"),
        Record("c", 7, {"text": "Good again."}),
    ]


def test_text_document_with_a_nul_byte_is_rejected(tmp_path: pathlib.Path) -> None:
    data = b"Good.\n\nA\x00B\n\nGood again.\n"
    assert _read(tmp_path, data, "text", documents="blank_line")[1] == Reject(
        "c", 3, "line 3: NUL byte at byte 2", "A\x00B"
    )


# --- text: control characters --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b"\x1b[1mbold\x1b[0m", "line 2: control character U+001B at character 1"),
        (b"carriage\rreturn", "line 2: control character U+000D at character 9"),
        (b"vertical\x0btab", "line 2: control character U+000B at character 9"),
        (b"next\xc2\x85line", "line 2: control character U+0085 at character 5"),
        (b"line\xe2\x80\xa8separator", "line 2: control character U+2028 at character 5"),
        (b"\x0cpage\x07", "line 2: control character U+0007 at character 6"),  # counted in the line as read
    ],
)
@pytest.mark.parametrize("documents", ["file", "blank_line"])
def test_text_control_character_rejects_its_document(
    tmp_path: pathlib.Path, documents: str, line: bytes, reason: str
) -> None:
    data = b"Before,\n" + line + b"\nafter.\n"
    assert _read(tmp_path, data, "text", documents=documents) == [Reject("c", 1, reason, line.decode())]


def test_text_keeps_tabs(tmp_path: pathlib.Path) -> None:
    (record,) = _read(tmp_path, b"\tname\tvalue\t\n", "text")
    assert record.fields == {"text": "\tname\tvalue\t"}


def test_text_removes_form_feeds(tmp_path: pathlib.Path) -> None:
    data = b"Page one.\n\x0c\nPage\x0c two.\x0c\n"
    assert _read(tmp_path, data, "text") == [Record("c", 1, {"text": "Page one.\n\nPage two."})]


def test_text_line_of_form_feeds_separates_documents(tmp_path: pathlib.Path) -> None:
    data = b"Page one.\n\x0c\nPage two.\n"
    assert _read(tmp_path, data, "text", documents="blank_line") == [
        Record("c", 1, {"text": "Page one."}),
        Record("c", 3, {"text": "Page two."}),
    ]
