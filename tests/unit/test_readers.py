"""Tests of the corpus readers, on small hand-written files.

The tests of the first part run in every format; those of `text` read it with `documents="blank_line"`
(see `_read`), so that a file holds several examples as in the other formats. The rules particular to `tsv`,
`parallel_tsv` and `text` are tested in `test_readers_text_formats.py`.
"""

import base64
import gzip
import pathlib
import random

import pytest

import kinds
from kinds import read_file
from kinds.base.readers import DOCUMENTS, MAX_REJECT_TEXT, Record, Reject
from pipeline import config
from pipeline.errors import DataError

FORMATS = tuple(kinds.formats())
FIELDS = {name: fmt.fields for name, fmt in kinds.formats().items()}

TAGGED = ("brown", "conllu", "conll")

# Two examples in every format: for the tagged ones the sentences "The dog" (DET NOUN) and "barks" (VERB).
# Each example is a list of lines; _corpus() joins them with blank lines, which every format accepts
# between examples.
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
    "tsv": [[b"pets\tThe dog  barks ."], [b" weather \tIt rains"]],
    "parallel_tsv": [[b"The dog\tDer Hund"], [b"barks\t bellt "]],
    "text": [[b"The dog", b"\tbarks  loudly. "], [b"It rains."]],
    "image_captions": [[b"a.png\tA dog  barks ."], [b" b.png \tIt rains"]],  # _read writes the images
    "vqa_tsv": [[b"a.png\tIs there a  dog ?\tyes"], [b" b.png \tHow many?\t 2 "]],
}
TAGGED_FIELDS = [
    {"tokens": ["The", "dog"], "tags": ["DET", "NOUN"]},
    {"tokens": ["barks"], "tags": ["VERB"]},
]
CLEAN_FIELDS = {
    **dict.fromkeys(TAGGED, TAGGED_FIELDS),
    "tsv": [{"text": "The dog  barks .", "label": "pets"}, {"text": "It rains", "label": "weather"}],
    "parallel_tsv": [{"source": "The dog", "target": "Der Hund"}, {"source": "barks", "target": "bellt"}],
    "text": [{"text": "The dog\n\tbarks  loudly. "}, {"text": "It rains."}],
    "image_captions": [{"image": "a.png", "caption": "A dog  barks ."}, {"image": "b.png", "caption": "It rains"}],
    "vqa_tsv": [
        {"image": "a.png", "question": "Is there a  dog ?", "answer": "yes"},
        {"image": "b.png", "question": "How many?", "answer": "2"},
    ],
}
# Line where each CLEAN example starts: the example's line count plus one blank line before the next.
CLEAN_LINES = {
    "brown": [1, 3],
    "conllu": [1, 5],
    "conll": [1, 4],
    "tsv": [1, 3],
    "parallel_tsv": [1, 3],
    "text": [1, 4],
    "image_captions": [1, 3],
    "vqa_tsv": [1, 3],
}
# A 1x1 grey PNG.
PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAAAAAA6fptVAAAACklEQVR4nGNgAAAAAgABSK+kcQAAAABJRU5ErkJggg==")
# Options of read_file in the tests of every format: `text` cut into documents at blank lines.
OPTIONS = {"text": {"documents": "blank_line"}}

# One example with a byte-level problem, in every format.
INVALID_UTF8 = {
    "brown": [b"caf\xe9/NOUN"],
    "conllu": [b"1\tcaf\xe9\tcafe\tNOUN\tNN\t_\t0\troot\t_\t_"],
    "conll": [b"caf\xe9 NOUN"],
    "tsv": [b"food\tcaf\xe9 au lait"],
    "parallel_tsv": [b"caf\xe9\tcoffee"],
    "text": [b"A line.", b"caf\xe9 au lait"],
    "image_captions": [b"a.png\tcaf\xe9 au lait"],
    "vqa_tsv": [b"a.png\tcaf\xe9 au lait?\tyes"],
}
WITH_NUL = {
    "brown": [b"ca\x00t/NOUN"],
    "conllu": [b"1\tca\x00t\tcat\tNOUN\tNN\t_\t0\troot\t_\t_"],
    "conll": [b"ca\x00t NOUN"],
    "tsv": [b"pets\tca\x00t"],
    "parallel_tsv": [b"cat\tKa\x00tze"],
    "text": [b"A line.", b"ca\x00t"],
    "image_captions": [b"a.png\tca\x00t"],
    "vqa_tsv": [b"a.png\tca\x00t?\tno"],
}


def _corpus(sentences: list[list[bytes]], eol: bytes = b"\n", trailing: bool = True) -> bytes:
    """Joins sentences (lists of lines) into file bytes, a blank line between two sentences."""
    text = (eol + eol).join(eol.join(lines) for lines in sentences)
    return text + eol if trailing and text else text


def _read(tmp_path: pathlib.Path, data: bytes, fmt: str, **kwargs: str) -> list[Record | Reject]:
    """Writes ``data`` to a file and reads it whole, with source name "c" and ``OPTIONS`` unless overridden."""
    path = tmp_path / "corpus.txt"
    path.write_bytes(data)
    return list(read_file(path, fmt, source="c", **{**OPTIONS.get(fmt, {}), **kwargs}))


def _records(results: list[Record | Reject]) -> list[Record]:
    return [r for r in results if isinstance(r, Record)]


def _rejects(results: list[Record | Reject]) -> list[Reject]:
    return [r for r in results if isinstance(r, Reject)]


def _fields(results: list[Record | Reject]) -> list[dict]:
    """Each record's fields; an image by its file name (the record holds its resolved path)."""
    return [
        {**r.fields, "image": pathlib.Path(r.fields["image"]).name} if "image" in r.fields else r.fields
        for r in results
    ]


def _assert_clean(results: list[Record | Reject], fmt: str) -> None:
    """Asserts ``results`` are exactly the two CLEAN examples of ``fmt``."""
    assert all(isinstance(r, Record) for r in results), results
    assert _fields(results) == CLEAN_FIELDS[fmt]
    assert [list(r.fields) for r in results] == [list(FIELDS[fmt])] * 2  # every field, in FIELDS order
    assert [r.line for r in results] == CLEAN_LINES[fmt]


@pytest.fixture(autouse=True)
def _images(tmp_path: pathlib.Path) -> None:
    """The images that image_captions lines name, beside every test's corpus."""
    for name in ("a.png", "b.png"):
        (tmp_path / name).write_bytes(PNG)


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
    assert _fields(_records(results)) == CLEAN_FIELDS[fmt]
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
    assert _fields(_records(results)) == CLEAN_FIELDS[fmt]


def test_invalid_utf8_reason_gives_byte_position(tmp_path: pathlib.Path) -> None:
    (reject,) = _read(tmp_path, b"caf\xe9/NOUN\n", "brown")
    assert reject == Reject("c", 1, "invalid UTF-8 at byte 4", "caf\ufffd/NOUN")


@pytest.mark.parametrize("fmt", FORMATS)
def test_nul_byte_rejects_sentence(tmp_path: pathlib.Path, fmt: str) -> None:
    results = _read(tmp_path, _corpus([WITH_NUL[fmt], *CLEAN[fmt]]), fmt)
    assert isinstance(results[0], Reject)
    assert "NUL byte" in results[0].reason
    assert _fields(results[1:]) == CLEAN_FIELDS[fmt]


@pytest.mark.parametrize("fmt", FORMATS)
def test_reject_text_is_cut(tmp_path: pathlib.Path, fmt: str) -> None:
    long_line = {"conllu": b"1\t" + b"x" * 1000, "text": b"\x01" + b"x" * 1000}.get(fmt, b"x" * 1000)
    (reject,) = _read(tmp_path, long_line + b"\n", fmt)
    assert isinstance(reject, Reject)
    assert reject.text == long_line.decode()[:MAX_REJECT_TEXT]
    assert len(reject.reason) < 100


@pytest.mark.parametrize("fmt", FORMATS)
def test_source_defaults_to_path(tmp_path: pathlib.Path, fmt: str) -> None:
    path = tmp_path / "corpus.txt"
    path.write_bytes(_corpus(CLEAN[fmt]))
    (first, _) = read_file(path, fmt, **OPTIONS.get(fmt, {}))
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
    with pytest.raises(DataError, match="corpus.txt: unknown corpus format 'csv'"):
        read_file(path, "csv")


def test_unknown_tag_column_raises_data_error(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "corpus.txt"
    path.write_bytes(_corpus(CLEAN["conllu"]))
    with pytest.raises(DataError, match="unknown tag column 'deprel'"):
        read_file(path, "conllu", tag_column="deprel")


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("documents", ["lines", "File", ""])
def test_unknown_documents_raises_data_error_in_every_format(tmp_path: pathlib.Path, fmt: str, documents: str) -> None:
    path = tmp_path / "corpus.txt"
    path.write_bytes(_corpus(CLEAN[fmt]))
    with pytest.raises(DataError, match=f"corpus.txt: unknown documents mode {documents!r} .*file, blank_line"):
        read_file(path, fmt, documents=documents)  # no iteration: checked at the call site


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("documents", DOCUMENTS)
def test_documents_changes_nothing_but_text(tmp_path: pathlib.Path, fmt: str, documents: str) -> None:
    results = _read(tmp_path, _corpus(CLEAN[fmt]), fmt, documents=documents)
    if fmt == "text" and documents == "file":
        assert _fields(results) == [{"text": "The dog\n\tbarks  loudly. \n\nIt rains."}]
    else:
        _assert_clean(results, fmt)


def test_formats_are_the_kinds() -> None:
    assert set(FORMATS) == {fmt for kind in kinds.REGISTRY.values() for fmt in kind.formats}
    assert tuple(FIELDS) == FORMATS
    assert DOCUMENTS == tuple(config.DataConfig.__dataclass_fields__["documents"].metadata["choices"])


def test_data_error_message_is_one_line(tmp_path: pathlib.Path) -> None:
    with pytest.raises(DataError) as caught:
        read_file(tmp_path / "nope.txt", "nope")
    assert "\n" not in str(caught.value)


# --- gzip -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_gzip_file_gives_the_same_results_as_its_plain_version(tmp_path: pathlib.Path, fmt: str) -> None:
    data = _corpus([*MIXED[fmt]], eol=b"\r\n")
    plain, packed = tmp_path / "corpus.txt", tmp_path / "corpus.txt.gz"
    plain.write_bytes(data)
    packed.write_bytes(gzip.compress(data))
    options = OPTIONS.get(fmt, {})
    assert list(read_file(packed, fmt, source="c", **options)) == list(read_file(plain, fmt, source="c", **options))


@pytest.mark.parametrize("fmt", FORMATS)
def test_gzip_file_keys_keep_the_gz_name(tmp_path: pathlib.Path, fmt: str) -> None:
    path = tmp_path / "corpus.txt.gz"
    path.write_bytes(gzip.compress(b"\xef\xbb\xbf" + _corpus(CLEAN[fmt])))
    results = list(read_file(path, fmt, **OPTIONS.get(fmt, {})))
    assert [r.key for r in results] == [f"{path}:{line}" for line in CLEAN_LINES[fmt]]
    assert [r.key for r in read_file(path, fmt, source="data/c.gz", **OPTIONS.get(fmt, {}))][0] == "data/c.gz:1"


def test_gzip_file_of_several_members_is_read_whole(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "corpus.tsv.gz"
    path.write_bytes(gzip.compress(b"a\tone\n") + gzip.compress(b"b\ttwo\n"))
    assert _fields(read_file(path, "tsv")) == [{"text": "one", "label": "a"}, {"text": "two", "label": "b"}]


def test_gzip_data_in_a_file_not_named_gz_is_not_decompressed(tmp_path: pathlib.Path) -> None:
    (reject,) = _read(tmp_path, gzip.compress(b"a/B\n"), "brown")  # the gzip header is not UTF-8
    assert isinstance(reject, Reject)
    assert "invalid UTF-8" in reject.reason


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (gzip.compress(b"a/B\n" * 100)[:-10], "corpus.txt.gz: truncated gzip file"),
        (gzip.compress(b"a/B\n" * 100)[:5], "corpus.txt.gz: truncated gzip file"),
        (b"a/B\n", "corpus.txt.gz: corrupt gzip file: Not a gzipped file"),
        (gzip.compress(b"a/B\n") + b"trailing junk", "corpus.txt.gz: corrupt gzip file: Not a gzipped file"),
        (b"", "corpus.txt.gz: empty file, not gzip data"),
    ],
    ids=["cut-in-the-data", "cut-in-the-header", "not-gzip", "trailing-junk", "empty"],
)
@pytest.mark.parametrize("fmt", FORMATS)
def test_corrupt_gzip_file_raises_one_line_data_error_at_call(
    tmp_path: pathlib.Path, fmt: str, content: bytes, message: str
) -> None:
    path = tmp_path / "corpus.txt.gz"
    path.write_bytes(content)
    with pytest.raises(DataError, match=message) as caught:
        read_file(path, fmt)  # no iteration: the error comes at the call site
    assert "\n" not in str(caught.value)


def test_gzip_file_with_a_bad_checksum_raises_data_error(tmp_path: pathlib.Path) -> None:
    content = bytearray(gzip.compress(b"a/B c/D\n" * 50))
    content[-8] ^= 0xFF  # the CRC-32 of the trailer
    path = tmp_path / "corpus.txt.gz"
    path.write_bytes(bytes(content))
    with pytest.raises(DataError, match="corpus.txt.gz: corrupt gzip file: CRC check failed"):
        read_file(path, "brown")


def test_gzip_file_with_damaged_data_raises_data_error(tmp_path: pathlib.Path) -> None:
    content = bytearray(gzip.compress(random.Random(1).randbytes(2000)))
    content[12] ^= 0xFF  # the first byte of the deflate stream, after the 10-byte header: a bad block type
    path = tmp_path / "corpus.txt.gz"
    path.write_bytes(bytes(content))
    with pytest.raises(DataError, match="corpus.txt.gz: corrupt gzip file: "):
        read_file(path, "text")


# --- brown ----------------------------------------------------------------------------------------------


def test_brown_tag_follows_last_slash(tmp_path: pathlib.Path) -> None:
    (record,) = _read(tmp_path, b"1/2/NUM and/or/CC a//SYM\n", "brown")
    assert record.fields == {"tokens": ["1/2", "and/or", "a/"], "tags": ["NUM", "CC", "SYM"]}


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
    assert [r.fields["tokens"] for r in _records(results)] == [["a"], ["c"]]


def test_brown_tabs_and_runs_of_spaces_separate_tokens(tmp_path: pathlib.Path) -> None:
    (record,) = _read(tmp_path, b"  a/B\t\tc/D   \n", "brown")
    assert record.fields["tokens"] == ["a", "c"]


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
    assert record.fields["tokens"] == ["vamos", "nos", "a", "el", "mar"]
    assert record.fields["tags"] == ["VERB", "PRON", "ADP", "DET", "NOUN"]
    assert record.line == 1  # the block's first line, a comment


def test_conllu_xpos_column(tmp_path: pathlib.Path) -> None:
    (record,) = _read(tmp_path, CONLLU_WITH_RANGE_AND_EMPTY_NODE, "conllu", tag_column="xpos")
    assert record.fields["tags"] == ["VMIP1P0", "PP1CP00", "SPS00", "DA0MS0", "NCMS000"]


def test_conllu_wrong_column_count_rejects_whole_sentence(tmp_path: pathlib.Path) -> None:
    bad = [b"# sent_id = 2", b"1\tThe\tthe\tDET\tDT\t_\t2\tdet\t_\t_", b"2\tdog\tNOUN"]
    results = _read(tmp_path, _corpus([bad, *CLEAN["conllu"]]), "conllu")
    assert results[0] == Reject("c", 1, "line 3: wrong column count: 3 (expected 10)", "2\tdog\tNOUN")
    assert _fields(results[1:]) == TAGGED_FIELDS
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
    assert _fields(results[1:]) == TAGGED_FIELDS


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
        Record("c", 3, {"tokens": ["EU", "rejects"], "tags": ["B-ORG", "O"]}),
        Record("c", 7, {"tokens": ["Peter"], "tags": ["B-PER"]}),
    ]


def test_conll_docstart_only_file_yields_nothing(tmp_path: pathlib.Path) -> None:
    assert _read(tmp_path, b"-DOCSTART- O\n\n-DOCSTART- O\n", "conll") == []


def test_conll_line_with_one_column_rejects_sentence(tmp_path: pathlib.Path) -> None:
    results = _read(tmp_path, b"EU B-ORG\nrejects\n\nPeter B-PER\n", "conll")
    assert results == [
        Reject("c", 1, "line 2: wrong column count: 1 (expected at least 2)", "rejects"),
        Record("c", 4, {"tokens": ["Peter"], "tags": ["B-PER"]}),
    ]


# --- Invariants -----------------------------------------------------------------------------------------

# Good and bad examples of each format, mixed; every one must come out as exactly one Record or Reject.
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
    "tsv": [*CLEAN["tsv"], [b"no label"], INVALID_UTF8["tsv"], [b"a\tb\tc"], WITH_NUL["tsv"], [b"pets\t  "]],
    "parallel_tsv": [
        *CLEAN["parallel_tsv"],
        [b"\tno source"],
        INVALID_UTF8["parallel_tsv"],
        [b"a\tb\tc"],
        WITH_NUL["parallel_tsv"],
        [b"a\tb\x85"],
    ],
    "text": [*CLEAN["text"], [b"bell\x07"], INVALID_UTF8["text"], [b"ok", b"\x1b[0m"], WITH_NUL["text"]],
    "image_captions": [
        *CLEAN["image_captions"],
        [b"missing.png\ta caption"],
        INVALID_UTF8["image_captions"],
        [b"a.png\tb\tc"],
        WITH_NUL["image_captions"],
        [b"corpus.txt\tnot an image"],
    ],
    "vqa_tsv": [
        *CLEAN["vqa_tsv"],
        [b"missing.png\tis it?\tyes"],
        INVALID_UTF8["vqa_tsv"],
        [b"a.png\tno answer"],
        WITH_NUL["vqa_tsv"],
        [b"a.png\t \tyes"],
        [b"corpus.txt\tnot an image?\tno"],
    ],
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


def _assert_record_shape(record: Record, fmt: str) -> None:
    """Asserts the record has its format's fields: aligned non-empty tokens and tags, or non-empty strings."""
    assert list(record.fields) == list(FIELDS[fmt])
    if fmt in TAGGED:
        tokens, tags = record.fields["tokens"], record.fields["tags"]
        assert len(tokens) == len(tags) > 0
        assert all(tokens) and all(tags)
    else:
        assert all(isinstance(value, str) and value.strip() for value in record.fields.values())


def test_random_bytes_never_raise(tmp_path: pathlib.Path) -> None:
    rng = random.Random(0)
    for case in range(200):
        data = _random_bytes(rng)
        line_count = data.count(b"\n") + 1
        for fmt in FORMATS:
            for tag_column, documents in (("upos", "file"), ("xpos", "blank_line")):
                results = _read(tmp_path, data, fmt, tag_column=tag_column, documents=documents)
                for result in results:
                    assert isinstance(result, Record | Reject), (case, data, fmt)
                    assert 1 <= result.line <= line_count, (case, data, fmt)
                    if isinstance(result, Record):
                        _assert_record_shape(result, fmt)
                    else:
                        assert result.reason and len(result.text) <= MAX_REJECT_TEXT, (case, data, fmt)
