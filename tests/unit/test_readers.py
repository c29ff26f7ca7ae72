"""Tests of the corpus readers, on small hand-written files."""

import pathlib
import random

import pytest

from components.ingest.readers import FORMATS, MAX_REJECT_TEXT, Record, Reject, read_file
from pipeline.errors import DataError

# The same two sentences in every format: "The dog" (DET NOUN) and "barks" (VERB). Each sentence is a
# list of lines; _corpus() joins them with blank lines, which every format accepts between sentences.
CLEAN = {
    "brown": [[b"The/DET dog/NOUN"], [b"barks/VERB"]],
    "conllu": [
        [
            b"# sent_id = 1",
            b"1\tThe\tthe\tDET\tDT\t_\t2\tdet\t_\t_",
            b"2\tdog\tdog\tNOUN\tNN\t_\t0\troot\t_\t_",
        ],
        [b"1\tbarks\tbark\tVERB\tVBZ\t_\t0\troot\t_\t_"],
    ],
    "conll": [[b"The\tDT\tDET", b"dog\tNN\tNOUN"], [b"barks VBZ VERB"]],
}
CLEAN_TOKENS = [("The", "dog"), ("barks",)]
CLEAN_TAGS = [("DET", "NOUN"), ("VERB",)]
# Line where each CLEAN sentence starts: the sentence's line count plus one blank line before the next.
CLEAN_LINES = {"brown": [1, 3], "conllu": [1, 5], "conll": [1, 4]}

# One sentence with a byte-level problem, in every format, and the 1-based line of the problem in it.
INVALID_UTF8 = {
    "brown": [b"caf\xe9/NOUN"],
    "conllu": [b"1\tcaf\xe9\tcafe\tNOUN\tNN\t_\t0\troot\t_\t_"],
    "conll": [b"caf\xe9 NOUN"],
}
WITH_NUL = {
    "brown": [b"ca\x00t/NOUN"],
    "conllu": [b"1\tca\x00t\tcat\tNOUN\tNN\t_\t0\troot\t_\t_"],
    "conll": [b"ca\x00t NOUN"],
}


def _corpus(sentences: list[list[bytes]], eol: bytes = b"\n", trailing: bool = True) -> bytes:
    """Joins sentences (lists of lines) into file bytes, a blank line between two sentences."""
    text = (eol + eol).join(eol.join(lines) for lines in sentences)
    return text + eol if trailing and text else text


def _read(tmp_path: pathlib.Path, data: bytes, fmt: str, **kwargs: str) -> list[Record | Reject]:
    """Writes ``data`` to a file and reads it whole, with source name "c"."""
    path = tmp_path / "corpus.txt"
    path.write_bytes(data)
    return list(read_file(path, fmt, source="c", **kwargs))


def _records(results: list[Record | Reject]) -> list[Record]:
    return [r for r in results if isinstance(r, Record)]


def _rejects(results: list[Record | Reject]) -> list[Reject]:
    return [r for r in results if isinstance(r, Reject)]


def _assert_clean(results: list[Record | Reject], fmt: str) -> None:
    """Asserts ``results`` are exactly the two CLEAN sentences of ``fmt``."""
    assert all(isinstance(r, Record) for r in results), results
    assert [r.tokens for r in results] == CLEAN_TOKENS
    assert [r.tags for r in results] == CLEAN_TAGS
    assert [r.line for r in results] == CLEAN_LINES[fmt]


# --- Every format ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_clean_input(tmp_path: pathlib.Path, fmt: str) -> None:
    results = _read(tmp_path, _corpus(CLEAN[fmt]), fmt)
    _assert_clean(results, fmt)
    assert [r.key for r in results] == [f"c:{line}" for line in CLEAN_LINES[fmt]]


@pytest.mark.parametrize("fmt", FORMATS)
def test_crlf_gives_same_records_as_lf(tmp_path: pathlib.Path, fmt: str) -> None:
    _assert_clean(_read(tmp_path, _corpus(CLEAN[fmt], eol=b"\r\n"), fmt), fmt)


@pytest.mark.parametrize("fmt", FORMATS)
def test_bom_is_stripped(tmp_path: pathlib.Path, fmt: str) -> None:
    _assert_clean(_read(tmp_path, b"\xef\xbb\xbf" + _corpus(CLEAN[fmt]), fmt), fmt)


@pytest.mark.parametrize("fmt", FORMATS)
def test_missing_trailing_newline_still_yields_last_sentence(tmp_path: pathlib.Path, fmt: str) -> None:
    _assert_clean(_read(tmp_path, _corpus(CLEAN[fmt], trailing=False), fmt), fmt)


@pytest.mark.parametrize("fmt", FORMATS)
def test_many_blank_lines_between_and_around_sentences(tmp_path: pathlib.Path, fmt: str) -> None:
    data = b"\n \t\n" + _corpus(CLEAN[fmt]).replace(b"\n\n", b"\n\n  \n\n") + b"\n\n"
    results = _read(tmp_path, data, fmt)
    assert [r.tokens for r in _records(results)] == CLEAN_TOKENS
    assert _rejects(results) == []


@pytest.mark.parametrize("fmt", FORMATS)
def test_empty_file_yields_nothing(tmp_path: pathlib.Path, fmt: str) -> None:
    assert _read(tmp_path, b"", fmt) == []


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("data", [b"\n", b"\n\n\n", b"  \n\t\n\r\n", b"\xef\xbb\xbf\n"])
def test_blank_lines_only_yield_nothing(tmp_path: pathlib.Path, fmt: str, data: bytes) -> None:
    assert _read(tmp_path, data, fmt) == []


@pytest.mark.parametrize("fmt", FORMATS)
def test_invalid_utf8_rejects_sentence_and_reading_goes_on(tmp_path: pathlib.Path, fmt: str) -> None:
    results = _read(tmp_path, _corpus([INVALID_UTF8[fmt], *CLEAN[fmt]]), fmt)
    assert len(results) == 3
    reject = results[0]
    assert isinstance(reject, Reject)
    assert (reject.source, reject.line) == ("c", 1)
    assert "invalid UTF-8 at byte" in reject.reason
    assert "\ufffd" in reject.text  # decoded with errors="replace"
    assert [r.tokens for r in _records(results)] == CLEAN_TOKENS


def test_invalid_utf8_reason_gives_byte_position(tmp_path: pathlib.Path) -> None:
    (reject,) = _read(tmp_path, b"caf\xe9/NOUN\n", "brown")
    assert reject == Reject("c", 1, "invalid UTF-8 at byte 4", "caf\ufffd/NOUN")


@pytest.mark.parametrize("fmt", FORMATS)
def test_nul_byte_rejects_sentence(tmp_path: pathlib.Path, fmt: str) -> None:
    results = _read(tmp_path, _corpus([WITH_NUL[fmt], *CLEAN[fmt]]), fmt)
    assert isinstance(results[0], Reject)
    assert "NUL byte" in results[0].reason
    assert [r.tokens for r in results[1:]] == CLEAN_TOKENS


@pytest.mark.parametrize("fmt", FORMATS)
def test_reject_text_is_cut(tmp_path: pathlib.Path, fmt: str) -> None:
    long_line = {"brown": b"x" * 1000, "conllu": b"1\t" + b"x" * 1000, "conll": b"x" * 1000}[fmt]
    (reject,) = _read(tmp_path, long_line + b"\n", fmt)
    assert isinstance(reject, Reject)
    assert reject.text == long_line.decode()[:MAX_REJECT_TEXT]
    assert len(reject.reason) < 100


@pytest.mark.parametrize("fmt", FORMATS)
def test_source_defaults_to_path(tmp_path: pathlib.Path, fmt: str) -> None:
    path = tmp_path / "corpus.txt"
    path.write_bytes(_corpus(CLEAN[fmt]))
    (first, _) = read_file(path, fmt)
    assert first.source == str(path)
    assert first.key == f"{path}:1"


# --- Files and arguments ----------------------------------------------------------------------------------


def test_missing_file_raises_data_error_at_call(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "nope.txt"
    with pytest.raises(DataError, match="nope.txt.*not found"):
        read_file(path, "brown")  # no iteration: the error comes at the call site


def test_directory_raises_data_error(tmp_path: pathlib.Path) -> None:
    with pytest.raises(DataError, match="directory"):
        read_file(tmp_path, "conll")


def test_unreadable_file_raises_data_error(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "secret.txt"
    path.write_bytes(b"a/B\n")

    def deny(self: pathlib.Path) -> bytes:
        raise PermissionError(13, "Permission denied", str(self))

    # chmod cannot make a file unreadable when the tests run as root, so fake the failure.
    monkeypatch.setattr(pathlib.Path, "read_bytes", deny)
    with pytest.raises(DataError, match="secret.txt: cannot read corpus file: Permission denied"):
        read_file(path, "brown")


def test_unknown_format_raises_data_error(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "corpus.txt"
    path.write_bytes(b"a/B\n")
    with pytest.raises(DataError, match="corpus.txt: unknown corpus format 'tsv'"):
        read_file(path, "tsv")


def test_unknown_tag_column_raises_data_error(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "corpus.txt"
    path.write_bytes(_corpus(CLEAN["conllu"]))
    with pytest.raises(DataError, match="unknown tag column 'deprel'"):
        read_file(path, "conllu", tag_column="deprel")


def test_data_error_message_is_one_line(tmp_path: pathlib.Path) -> None:
    with pytest.raises(DataError) as caught:
        read_file(tmp_path / "nope.txt", "nope")
    assert "\n" not in str(caught.value)


# --- brown ----------------------------------------------------------------------------------------------


def test_brown_tag_follows_last_slash(tmp_path: pathlib.Path) -> None:
    (record,) = _read(tmp_path, b"1/2/NUM and/or/CC a//SYM\n", "brown")
    assert record.tokens == ("1/2", "and/or", "a/")
    assert record.tags == ("NUM", "CC", "SYM")


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b"The/DET foo dog/NOUN", "token without tag: 'foo'"),
        (b"The/DET /NOUN", "empty word: '/NOUN'"),
        (b"The/DET dog/", "empty tag: 'dog/'"),
    ],
)
def test_brown_bad_token_rejects_line(tmp_path: pathlib.Path, line: bytes, reason: str) -> None:
    results = _read(tmp_path, b"a/B\n" + line + b"\nc/D\n", "brown")
    assert results[1] == Reject("c", 2, reason, line.decode())
    assert [r.tokens for r in _records(results)] == [("a",), ("c",)]


def test_brown_tabs_and_runs_of_spaces_separate_tokens(tmp_path: pathlib.Path) -> None:
    (record,) = _read(tmp_path, b"  a/B\t\tc/D   \n", "brown")
    assert record.tokens == ("a", "c")


# --- conllu ---------------------------------------------------------------------------------------------

CONLLU_WITH_RANGE_AND_EMPTY_NODE = _corpus(
    [
        [
            b"# sent_id = 1",
            b"# text = vamonos al mar",
            b"1-2\tvamonos\t_\t_\t_\t_\t_\t_\t_\t_",
            b"1\tvamos\tir\tVERB\tVMIP1P0\t_\t0\troot\t_\t_",
            b"2\tnos\tnosotros\tPRON\tPP1CP00\t_\t1\tobj\t_\t_",
            b"2.1\telided\t_\tVERB\t_\t_\t_\t_\t1:conj\t_",
            b"3-4\tal\t_\t_\t_\t_\t_\t_\t_\t_",
            b"3\ta\ta\tADP\tSPS00\t_\t5\tcase\t_\t_",
            b"4\tel\tel\tDET\tDA0MS0\t_\t5\tdet\t_\t_",
            b"5\tmar\tmar\tNOUN\tNCMS000\t_\t1\tobl\t_\t_",
        ]
    ]
)


def test_conllu_skips_comments_ranges_and_empty_nodes(tmp_path: pathlib.Path) -> None:
    (record,) = _read(tmp_path, CONLLU_WITH_RANGE_AND_EMPTY_NODE, "conllu")
    assert record.tokens == ("vamos", "nos", "a", "el", "mar")
    assert record.tags == ("VERB", "PRON", "ADP", "DET", "NOUN")
    assert record.line == 1  # the block's first line, a comment


def test_conllu_xpos_column(tmp_path: pathlib.Path) -> None:
    (record,) = _read(tmp_path, CONLLU_WITH_RANGE_AND_EMPTY_NODE, "conllu", tag_column="xpos")
    assert record.tags == ("VMIP1P0", "PP1CP00", "SPS00", "DA0MS0", "NCMS000")


def test_conllu_wrong_column_count_rejects_whole_sentence(tmp_path: pathlib.Path) -> None:
    bad = [b"# sent_id = 2", b"1\tThe\tthe\tDET\tDT\t_\t2\tdet\t_\t_", b"2\tdog\tNOUN"]
    results = _read(tmp_path, _corpus([bad, *CLEAN["conllu"]]), "conllu")
    assert results[0] == Reject("c", 1, "line 3: wrong column count: 3 (expected 10)", "2\tdog\tNOUN")
    assert [r.tokens for r in results[1:]] == CLEAN_TOKENS
    assert [r.line for r in results[1:]] == [5, 9]


def test_conllu_spaces_are_not_column_separators(tmp_path: pathlib.Path) -> None:
    (reject,) = _read(tmp_path, b"1 The the DET DT _ 0 root _ _\n", "conllu")
    assert reject.reason == "line 1: wrong column count: 1 (expected 10)"


@pytest.mark.parametrize("token_id", [b"x", b"1a", b"-1", b"1-", b"1.", b"\xd9\xa1"])
def test_conllu_non_integer_id_rejects_sentence(tmp_path: pathlib.Path, token_id: bytes) -> None:
    line = token_id + b"\tThe\tthe\tDET\tDT\t_\t0\troot\t_\t_"
    (reject,) = _read(tmp_path, b"# c\n" + line + b"\n", "conllu")
    assert isinstance(reject, Reject)
    assert reject.line == 1
    assert reject.reason == f"line 2: non-integer ID: {token_id.decode()!r}"


@pytest.mark.parametrize("column", [1, 3])
def test_conllu_empty_form_or_tag_rejects_sentence(tmp_path: pathlib.Path, column: int) -> None:
    fields = [b"1", b"The", b"the", b"DET", b"DT", b"_", b"0", b"root", b"_", b"_"]
    fields[column] = b""
    (reject,) = _read(tmp_path, b"\t".join(fields) + b"\n", "conllu")
    assert reject.reason == f"line 1: empty {'FORM' if column == 1 else 'UPOS'}"


@pytest.mark.parametrize(
    "block",
    [
        b"# sent_id = 9\n# text = nothing\n",
        b"# sent_id = 9\n1-2\tvamonos\t_\t_\t_\t_\t_\t_\t_\t_\n",
        b"1.1\telided\t_\tVERB\t_\t_\t_\t_\t1:conj\t_\n",
    ],
)
def test_conllu_sentence_without_words_is_rejected(tmp_path: pathlib.Path, block: bytes) -> None:
    results = _read(tmp_path, block + b"\n" + _corpus(CLEAN["conllu"]), "conllu")
    assert results[0] == Reject("c", 1, "empty sentence", block.decode().rstrip("\n"))
    assert [r.tokens for r in results[1:]] == CLEAN_TOKENS


# --- conll ----------------------------------------------------------------------------------------------


def test_conll_docstart_is_layout(tmp_path: pathlib.Path) -> None:
    data = (
        b"-DOCSTART- -X- -X- O\n\n"
        b"EU NNP B-NP B-ORG\nrejects VBZ B-VP O\n\n"
        b"-DOCSTART- -X- -X- O\n"  # a document marker right before a sentence, no blank line
        b"Peter NNP B-NP B-PER\n"
    )
    results = _read(tmp_path, data, "conll")
    assert results == [
        Record("c", 3, ("EU", "rejects"), ("B-ORG", "O")),
        Record("c", 7, ("Peter",), ("B-PER",)),
    ]


def test_conll_docstart_only_file_yields_nothing(tmp_path: pathlib.Path) -> None:
    assert _read(tmp_path, b"-DOCSTART- O\n\n-DOCSTART- O\n", "conll") == []


def test_conll_line_with_one_column_rejects_sentence(tmp_path: pathlib.Path) -> None:
    results = _read(tmp_path, b"EU B-ORG\nrejects\n\nPeter B-PER\n", "conll")
    assert results == [
        Reject("c", 1, "line 2: wrong column count: 1 (expected at least 2)", "rejects"),
        Record("c", 4, ("Peter",), ("B-PER",)),
    ]


# --- Invariants -----------------------------------------------------------------------------------------

# Good and bad sentences of each format, mixed; every one must come out as exactly one Record or Reject.
MIXED = {
    "brown": [
        *CLEAN["brown"],
        [b"no tag here"],
        INVALID_UTF8["brown"],
        [b"1/2/NUM"],
        WITH_NUL["brown"],
        [b"x/"],
    ],
    "conllu": [
        *CLEAN["conllu"],
        [b"# only a comment"],
        INVALID_UTF8["conllu"],
        [b"1\ttoo\tfew"],
        WITH_NUL["conllu"],
        [b"one\tThe\tthe\tDET\tDT\t_\t0\troot\t_\t_"],
    ],
    "conll": [*CLEAN["conll"], [b"alone"], INVALID_UTF8["conll"], WITH_NUL["conll"], [b"a b", b"c d"]],
}


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("eol", [b"\n", b"\r\n"])
def test_every_sentence_becomes_one_record_or_reject(tmp_path: pathlib.Path, fmt: str, eol: bytes) -> None:
    sentences = MIXED[fmt]
    results = _read(tmp_path, _corpus(sentences, eol=eol, trailing=False), fmt)
    assert len(results) == len(sentences)
    assert len(_records(results)) >= 2 and len(_rejects(results)) >= 3
    # In file order, each at the line where its sentence starts.
    starts, line = [], 1
    for lines in sentences:
        starts.append(line)
        line += len(lines) + 1
    assert [r.line for r in results] == starts


def _random_bytes(rng: random.Random) -> bytes:
    """Random file content: raw bytes, or pieces that look like (broken) corpus lines."""
    if rng.random() < 0.3:
        return rng.randbytes(rng.randrange(64))
    pieces = [
        *(b"\n", b"\r", b"\t", b" ", b"/", b"\x00", b"\xff", b"#", b"-", b".", b"_", b"1", b"2", b"a", b"B"),
        *(b"\xef\xbb\xbf", b"\xc3\xa9", b"\xc3", b"\r\n", b"\n\n", b"1-2", b"1.1", b"-DOCSTART-"),
        b"1\tw\tl\tU\tX\t_\t0\tr\t_\t_",
    ]
    return b"".join(rng.choice(pieces) for _ in range(rng.randrange(80)))


def test_random_bytes_never_raise(tmp_path: pathlib.Path) -> None:
    rng = random.Random(0)
    for case in range(200):
        data = _random_bytes(rng)
        line_count = data.count(b"\n") + 1
        for fmt in FORMATS:
            for tag_column in ("upos", "xpos"):
                results = _read(tmp_path, data, fmt, tag_column=tag_column)
                for result in results:
                    assert isinstance(result, Record | Reject), (case, data, fmt)
                    assert 1 <= result.line <= line_count, (case, data, fmt)
                    if isinstance(result, Record):
                        assert len(result.tokens) == len(result.tags) > 0, (case, data, fmt)
                        assert all(result.tokens) and all(result.tags), (case, data, fmt)
                    else:
                        assert result.reason and len(result.text) <= MAX_REJECT_TEXT, (case, data, fmt)
