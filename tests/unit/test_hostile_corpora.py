"""Hostile corpus files (`tests/data/bad/`) through the readers, then through the ingest and statistics stages.

Every expected count below was made by reading the file's bytes in `tests/data/bad/make_bad.py`, not by
running the reader: a sentence unit is a non-blank line (brown) or a block of non-blank lines between
blank lines (conllu, conll; a ``-DOCSTART-`` line is layout too), and each unit must come out as exactly
one Record or one Reject. The files of the untagged formats (tsv, parallel_tsv, text) are written by this
test from `UNTAGGED_FILES` below; their units are lines (tsv, parallel_tsv) and documents (text). The
statistics stage is run on the tagged formats only.
"""

from __future__ import annotations

import base64
import gzip
import importlib.util
import json
import os
import pathlib
import shutil
import subprocess
import time

import pytest

import kinds
from components.ingest import spec as ingest
from components.preprocess import spec as preprocess
from components.statistics import spec as statistics
from kinds import read_file
from kinds.base.readers import MAX_REJECT_TEXT, Record, Reject
from kinds.tagger.settings import TaggerTask
from pipeline.config import BeamConfig, DataConfig, PipelineConfig, SplitConfig, TaskConfig
from pipeline.errors import DataError
from tests.stages.support import StageHarness, StageRun

FORMATS = tuple(kinds.formats())

BAD = pathlib.Path(__file__).resolve().parents[1] / "data" / "bad"
TINY_BROWN = pathlib.Path(__file__).resolve().parents[1] / "data" / "tiny" / "brown.txt"
TINY_BROWN_SENTENCES = 150  # 150 non-blank lines, all clean
TAGGED = ("brown", "conllu", "conll")
# Formats whose lines name image files (one reader: `kinds.base.readers.read_image_lines`):
# tests/unit/test_readers_images.py writes the images and tests their hostile cases.
IMAGE_FORMATS = ("image_captions", "vqa_tsv")


def _load_generator():
    spec = importlib.util.spec_from_file_location("make_bad", BAD / "make_bad.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


make_bad = _load_generator()

# (file, format) -> what each sentence unit must become, in file order:
#   ("record", start line, tokens)  or  ("reject", start line, substring of the reason).
EXPECTED: dict[tuple[str, str], list[tuple]] = {
    ("invalid_utf8.brown.txt", "brown"): [
        ("record", 1, ("The", "dog", "barks", ".")),
        ("reject", 2, "invalid UTF-8 at byte 4"),  # caf\xe9: the 4th byte
        ("record", 3, ("A", "cat", "sleeps", ".")),
        ("reject", 4, "invalid UTF-8 at byte 1"),  # a surrogate encoded as bytes
        ("reject", 5, "invalid UTF-8 at byte 20"),  # "cut/VERB short/ADJ " is 19 bytes
        ("reject", 6, "invalid UTF-8 at byte 1"),  # overlong "/"
    ],
    ("invalid_utf8.conllu", "conllu"): [
        ("record", 1, ("The", "dog")),
        ("reject", 5, "line 6: invalid UTF-8 at byte 13"),  # in a comment: "# text = caf" is 12 bytes
        ("reject", 9, "line 10: invalid UTF-8 at byte 5"),  # in a FORM: "1\tna" is 4 bytes
        ("record", 12, ("barks",)),
    ],
    ("invalid_utf8.conll", "conll"): [
        ("record", 1, ("EU", "rejects")),
        ("reject", 4, "line 4: invalid UTF-8 at byte 4"),
        ("record", 7, ("Peter",)),
    ],
    ("bom.brown.txt", "brown"): [
        ("record", 1, ("The", "dog", "barks", ".")),
        ("record", 2, ("A", "cat", "sleeps", ".")),
    ],
    ("bom.conllu", "conllu"): [("record", 1, ("The", "dog")), ("record", 5, ("barks",))],
    ("bom.conll", "conll"): [("record", 1, ("EU", "rejects")), ("record", 4, ("Peter",))],
    ("crlf.brown.txt", "brown"): [
        ("record", 1, ("The", "dog", "barks", ".")),
        ("record", 3, ("A", "cat", "sleeps", ".")),
    ],
    ("crlf.conllu", "conllu"): [("record", 1, ("The", "dog")), ("record", 5, ("barks",))],
    # A -DOCSTART- line and a blank line first.
    ("crlf.conll", "conll"): [("record", 3, ("EU", "rejects")), ("record", 6, ("Peter",))],
    # A text file read whole is one document even when empty: an "empty document" reject, not silence.
    **{
        ("empty.txt", fmt): [] if fmt != "text" else [("reject", 1, "empty document")] for fmt in tuple(kinds.formats())
    },
    **{
        ("blank_lines.txt", fmt): [] if fmt != "text" else [("reject", 1, "empty document")]
        for fmt in tuple(kinds.formats())
    },
    ("nul.brown.txt", "brown"): [
        ("record", 1, ("The", "dog", "barks", ".")),
        ("reject", 2, "NUL byte at byte 3"),
        ("reject", 3, "NUL byte at byte 1"),  # a line of one NUL is not blank
        ("record", 4, ("A", "cat", "sleeps", ".")),
    ],
    ("nul.conllu", "conllu"): [
        ("record", 1, ("The", "dog")),
        ("reject", 5, "line 6: NUL byte at byte 5"),
        ("reject", 8, "line 8: NUL byte at byte 1"),
        ("record", 10, ("barks",)),
    ],
    ("nul.conll", "conll"): [
        ("record", 1, ("EU", "rejects")),
        ("reject", 4, "line 4: NUL byte at byte 3"),
        ("reject", 6, "line 6: NUL byte at byte 1"),
        ("record", 8, ("Peter",)),
    ],
    ("wrong_columns.conllu", "conllu"): [
        ("reject", 1, "line 3: wrong column count: 3 (expected 10)"),
        ("reject", 5, "line 5: wrong column count: 11 (expected 10)"),
        ("reject", 7, "line 7: wrong column count: 1 (expected 10)"),
        ("record", 9, ("fine",)),
        ("reject", 11, "line 11: wrong column count: 9 (expected 10)"),
    ],
    # The third sentence (line 7) mixes 4 and 3 columns: see test_conll_sentence_with_mixed_column_counts...
    ("wrong_columns.conll", "conll"): [
        ("reject", 1, "line 2: wrong column count: 1 (expected at least 2)"),
        ("record", 4, ("Peter", "Blackburn")),
        ("reject", 7, "line 8: wrong column count: 3 (expected 4"),
        ("record", 10, ("lamb",)),
    ],
    ("unseen_label.train.brown.txt", "brown"): [
        ("record", 1, ("The", "dog", "barks", ".")),
        ("record", 2, ("A", "cat", "sleeps", ".")),
        ("record", 3, ("I", "see", "the", "boat", ".")),
        ("record", 4, ("They", "run", ".")),
    ],
    ("unseen_label.eval.brown.txt", "brown"): [
        ("record", 1, ("Wow", ",", "the", "dog", "barks", ".")),
        ("record", 2, ("A", "cat", "sleeps", ".")),
    ],
    ("multiword.conllu", "conllu"): [
        ("record", 1, ("Vámos", "nos", "a", "el", "mar")),  # the ranges 1-2 and 3-4 are skipped
        ("record", 11, ("Sue", "likes", "coffee", "and", "Bill", "tea")),  # the empty node 5.1 is skipped
        ("reject", 21, "empty sentence"),  # a range and no word
    ],
    ("comments_only.conllu", "conllu"): [("reject", 1, "empty sentence"), ("reject", 5, "empty sentence")],
    ("no_tag.brown.txt", "brown"): [
        ("record", 1, ("The", "dog", "barks", ".")),
        ("reject", 2, "token without tag: 'The'"),
        ("reject", 3, "empty tag: 'dog/'"),
        ("reject", 4, "empty word: '/NOUN'"),
        ("reject", 5, "token without tag: 'plain'"),
        ("record", 6, ("A", "cat", "sleeps", ".")),
    ],
    # Two sentences with a stray carriage return inside a column: see test_stray_carriage_return...
    ("stray_cr.conllu", "conllu"): [
        ("reject", 1, "control character U+000D"),
        ("reject", 5, "control character U+000D"),
        ("record", 7, ("The", "dog")),
    ]
    + [("record", 11, ("barks",))],
}
CASES = sorted(EXPECTED)


def _read(name: str, fmt: str, **kwargs) -> list[Record | Reject]:
    return list(read_file(BAD / name, fmt, source=name, **kwargs))


def _counts(expected: list[tuple]) -> tuple[int, int]:
    """(records, rejects) that an expectation list stands for; 'any' counts in neither."""
    return sum(kind == "record" for kind, *_ in expected), sum(kind == "reject" for kind, *_ in expected)


# ----------------------------------------------------------------------------------------------
# The files themselves


def test_committed_files_are_what_the_generator_writes(tmp_path):
    make_bad.write(tmp_path)
    for name, content in make_bad.FILES.items():
        assert (BAD / name).read_bytes() == content, f"{name}: run python tests/data/bad/make_bad.py"


def test_every_generated_file_is_listed_in_the_readme_and_tested():
    readme = (BAD / "README.md").read_text(encoding="utf-8")
    tested = {name for name, _ in EXPECTED}
    for name in make_bad.FILES:
        assert f"`{name}`" in readme, name
        assert name in tested, name


def test_committed_files_are_small():
    for name in make_bad.FILES:
        assert (BAD / name).stat().st_size < 1024, name


# ----------------------------------------------------------------------------------------------
# Each file, read in each format it is meant for


@pytest.mark.parametrize(("name", "fmt"), CASES, ids=[f"{n}-{f}" for n, f in CASES])
def test_reader_yields_one_record_or_reject_per_sentence_unit(name, fmt):
    expected = EXPECTED[(name, fmt)]

    results = _read(name, fmt)

    assert all(type(r) in (Record, Reject) for r in results), results
    assert len(results) == len(expected), results
    for result, (kind, line, detail) in zip(results, expected, strict=True):
        assert (result.source, result.line) == (name, line), result
        if kind == "record":
            assert isinstance(result, Record), result
            assert result.fields["tokens"] == list(detail)
            assert len(result.fields["tags"]) == len(result.fields["tokens"])
        elif kind == "reject":
            assert isinstance(result, Reject), result
            assert detail in result.reason, result
            assert len(result.text) <= MAX_REJECT_TEXT


@pytest.mark.parametrize(("name", "fmt"), CASES, ids=[f"{n}-{f}" for n, f in CASES])
def test_tag_column_xpos_changes_tags_not_units(name, fmt):
    assert [(type(r), r.line) for r in _read(name, fmt, tag_column="xpos")] == [
        (type(r), r.line) for r in _read(name, fmt)
    ]


def test_bom_is_not_part_of_the_first_token():
    for name, fmt in [("bom.brown.txt", "brown"), ("bom.conllu", "conllu"), ("bom.conll", "conll")]:
        first = _read(name, fmt)[0]
        assert not first.fields["tokens"][0].startswith("\ufeff"), name


@pytest.mark.parametrize("fmt", TAGGED)
def test_crlf_file_gives_the_same_records_as_the_bom_file(fmt):
    # Same sentences, one file with CRLF line ends (and, for conll, a -DOCSTART- line), one with a BOM.
    crlf = {"brown": "crlf.brown.txt", "conllu": "crlf.conllu", "conll": "crlf.conll"}[fmt]
    bom = {"brown": "bom.brown.txt", "conllu": "bom.conllu", "conll": "bom.conll"}[fmt]

    crlf_records, bom_records = _read(crlf, fmt), _read(bom, fmt)

    assert [r.fields for r in crlf_records] == [r.fields for r in bom_records]
    assert not any("\r" in token for r in crlf_records for token in r.fields["tokens"] + r.fields["tags"])


def test_multiword_ranges_and_empty_nodes_are_skipped_with_either_tag_column():
    upos = [r.fields["tags"] for r in _read("multiword.conllu", "conllu") if isinstance(r, Record)]
    xpos = [r.fields["tags"] for r in _read("multiword.conllu", "conllu", tag_column="xpos") if isinstance(r, Record)]

    assert upos == [["VERB", "PRON", "ADP", "DET", "NOUN"], ["PROPN", "VERB", "NOUN", "CCONJ", "PROPN", "NOUN"]]
    assert xpos[0] == ["VMM01P0", "PP1CP00", "SPS00", "DA0MS0", "NCMS000"]


def test_reject_text_is_decoded_with_replacement_characters():
    rejects = [r for r in _read("invalid_utf8.brown.txt", "brown") if isinstance(r, Reject)]

    assert rejects[0].text == "caf\ufffd/NOUN is/VERB open/ADJ ./."
    assert all("\ufffd" in r.text for r in rejects)


def test_conll_sentence_with_mixed_column_counts_is_rejected():
    third = _read("wrong_columns.conll", "conll")[2]

    assert isinstance(third, Reject), third  # was: Record(tokens=('German', 'call'), tags=('B-MISC', 'I-NP'))
    assert "line 8: wrong column count: 3" in third.reason


def test_stray_carriage_return_in_a_conllu_column_survives_preprocess(tmp_path):
    shutil.copy(BAD / "stray_cr.conllu", tmp_path / "stray_cr.conllu")
    task = TaggerTask(
        name="t",
        kind="tagger",
        data=DataConfig(
            format="conllu", train="stray_cr.conllu", split=SplitConfig(eval=0.0, test=0.0), max_reject_fraction=1.0
        ),
    )
    config = PipelineConfig(tasks=(task,), base_dir=tmp_path)
    harness = StageHarness(tmp_path / "task", beam=BeamConfig(options={}))  # in-process DirectRunner: quick
    ingested = harness.run(ingest.component(task, config))
    validated = _statistics(harness, task, config, ingested)

    preprocessed = harness.run(
        preprocess.component(task, config),
        examples=ingested.output("examples"),
        statistics=validated.output("statistics"),
    )

    train_tokens = {t for r in ingested.output("examples").read("train") for t in r["tokens"]}
    vocabulary = preprocessed.output("vocabulary")
    assert train_tokens <= set(vocabulary.tokens("words"))
    assert all(entry[1] > 0 for entry in vocabulary.entries("chars")[4:])


def test_conllu_rejects_unicode_line_separators_inside_a_form(tmp_path):
    # U+2028 (LINE SEPARATOR) and U+0085 (NEL) are white space to str.split, so brown and conll split tokens
    # on them; CoNLL-U splits columns on tabs only, so a FORM would keep them: the reader rejects it.
    path = tmp_path / "c.conllu"
    path.write_bytes(make_bad.conllu_word(1, "a\u2028b".encode(), b"X") + b"\n")

    (reject,) = read_file(path, "conllu")

    assert isinstance(reject, Reject)
    assert "control character U+2028" in reject.reason


def test_infra_validation_reads_back_tokens_holding_unicode_line_separators(tmp_path, monkeypatch):
    tagger_export = pytest.importorskip("kinds.tagger.export")
    fresh_process = pytest.importorskip("components.export.fresh_process")
    from kinds import tagger

    expected = [{"tokens": ["a\u2028b", "c"], "tags": ["X", "Y"]}, {"tokens": ["d\x85e"], "tags": ["X"]}]

    def fake_validator(command, **kwargs):
        """Writes what components/export/infra_validator.py writes for a model that agrees with Keras."""
        requests, responses = pathlib.Path(command[4]), pathlib.Path(command[5])
        with requests.open(encoding="utf-8") as lines, responses.open("w", encoding="utf-8") as out:
            for line, sentence in zip(lines, expected, strict=True):
                tokens = json.loads(line)["tokens"]
                answer = {"tags": sentence["tags"], "text_tokens": tokens, "text_tags": sentence["tags"]}
                out.write(json.dumps(answer, ensure_ascii=False) + "\n")
        return subprocess.CompletedProcess(command, 0, "", "")

    monkeypatch.setattr(fresh_process.subprocess, "run", fake_validator)
    kept, requests = tagger_export.requests(expected, None)
    answers = fresh_process.answers_from_a_fresh_process(
        tmp_path / "saved_model", tagger.KIND.client, requests, {"max_length": 256}
    )

    assert tagger_export.check(kept, answers) == {"sentences": 2, "text_sentences": 2}


# ----------------------------------------------------------------------------------------------
# Files that cannot be read at all, and the 1 MB line


def test_missing_file_is_a_data_error():
    with pytest.raises(DataError, match="not found"):
        read_file(BAD / "no-such-file.txt", "brown")


def test_directory_is_a_data_error():
    with pytest.raises(DataError, match="is a directory"):
        read_file(BAD, "conllu")


def test_dangling_symlink_is_a_data_error(tmp_path):
    (tmp_path / "link.txt").symlink_to(tmp_path / "gone.txt")
    with pytest.raises(DataError, match="not found"):
        read_file(tmp_path / "link.txt", "conll")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_fifo_is_refused_without_blocking(tmp_path):
    os.mkfifo(tmp_path / "pipe")
    with pytest.raises(DataError, match="not a regular file"):
        read_file(tmp_path / "pipe", "brown")


def _one_megabyte_line(fmt: str, *, valid: bool) -> bytes:
    """`make_bad.one_megabyte_line`, and for the untagged formats a 1 MiB text (valid), or a 1 MiB line without
    a tab (tsv, parallel_tsv) or ending in a control character (text)."""
    if fmt in TAGGED:
        return make_bad.one_megabyte_line(fmt, valid=valid)
    huge = b"x" * make_bad.MEGABYTE
    if fmt == "text":
        return huge + (b"" if valid else b"\x07") + b"\n"
    first = b"a.png\t" if fmt in IMAGE_FORMATS else b"label\t"  # the test writes a.png beside the file
    last = b"\tyes" if fmt == "vqa_tsv" else b""  # its third column, the answer
    return (first + huge + last if valid else huge) + b"\n"


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("valid", [True, False], ids=["usable", "broken"])
def test_one_megabyte_line_is_one_record_or_one_reject(tmp_path, fmt, valid):
    path = tmp_path / "huge.txt"
    path.write_bytes(_one_megabyte_line(fmt, valid=valid))
    (tmp_path / "a.png").write_bytes(base64.b64decode(ONE_PIXEL_PNG))
    assert path.stat().st_size > make_bad.MEGABYTE

    started = time.perf_counter()
    (result,) = list(read_file(path, fmt, source="huge.txt"))
    seconds = time.perf_counter() - started

    assert seconds < 5
    assert result.line == 1
    if valid and fmt in TAGGED:
        assert isinstance(result, Record)
        tokens, tags = result.fields["tokens"], result.fields["tags"]
        assert len(tokens) == len(tags) == (make_bad.MEGABYTE // 4 if fmt == "brown" else 1)
    elif valid:
        assert isinstance(result, Record)
        assert max(len(value) for value in result.fields.values()) == make_bad.MEGABYTE
    else:
        assert isinstance(result, Reject)
        assert len(result.text) == MAX_REJECT_TEXT
        assert len(result.reason) < 100
        reasons = {"brown": "token without tag", "text": "line 1: control character U+0007 at character 1048577"}
        assert reasons.get(fmt, "wrong column count: 1") in result.reason


# ----------------------------------------------------------------------------------------------
# Ingest and statistics on a mix of good and bad files


KINDS = {"tsv": "classifier", "parallel_tsv": "translator", "text": "language_model"}


def _task(fmt: str, train: str, max_reject_fraction: float, **data) -> TaskConfig:
    data.setdefault("split", SplitConfig(eval=0.2, test=0.2))
    kind = KINDS.get(fmt, "tagger")
    return kinds.get(kind).settings(
        name="t",
        kind=kind,
        data=DataConfig(format=fmt, train=train, max_reject_fraction=max_reject_fraction, **data),
    )


def _ingest(harness: StageHarness, folder: pathlib.Path, task: TaskConfig) -> tuple[StageRun, PipelineConfig]:
    config = PipelineConfig(tasks=(task,), base_dir=folder)
    return harness.run(ingest.component(task, config)), config


def _statistics(harness: StageHarness, task: TaskConfig, config: PipelineConfig, ingested: StageRun) -> StageRun:
    return harness.run(
        statistics.component(task, config),
        examples=ingested.output("examples"),
        rejects=ingested.output("rejects"),
    )


def _files_of(fmt: str) -> list[str]:
    """The bad files meant for `fmt` (including the format-less ones), but `stray_cr.conllu`, tested alone."""
    return [name for name, f in CASES if f == fmt and name != "stray_cr.conllu"]


def _mixed_folder(tmp_path: pathlib.Path, fmt: str) -> tuple[pathlib.Path, list[str]]:
    """A folder with every bad file of `fmt` and, for brown, the clean tiny corpus; the names, sorted."""
    folder = tmp_path / "corpus"
    folder.mkdir()
    names = _files_of(fmt)
    for name in names:
        shutil.copy(BAD / name, folder / name)
    if fmt == "brown":
        shutil.copy(TINY_BROWN, folder / "good.brown.txt")
        names.append("good.brown.txt")
    return folder, sorted(names)


def _expected_totals(names: list[str], fmt: str) -> tuple[int, int, str]:
    """Hand-counted (records, rejects, 'file:line: reason' of the first reject in file order) of `names`."""
    records = rejects = 0
    first = None
    for name in names:
        if name == "good.brown.txt":
            records += TINY_BROWN_SENTENCES
            continue
        expected = EXPECTED[(name, fmt)]
        good, bad = _counts(expected)
        records, rejects = records + good, rejects + bad
        if first is None and bad:
            kind, line, reason = next(e for e in expected if e[0] == "reject")
            first = f"{name}:{line}: {reason}"
    return records, rejects, first


@pytest.mark.parametrize("fmt", TAGGED)
def test_ingest_counts_every_input_record_as_accepted_or_rejected(harness, tmp_path, fmt):
    folder, names = _mixed_folder(tmp_path, fmt)
    records, rejects, _ = _expected_totals(names, fmt)

    run, _ = _ingest(harness, folder, _task(fmt, "*", 1.0))

    examples, rejected = run.output("examples"), run.output("rejects")
    accepted = sum(examples.properties["records"].values())
    assert (accepted, rejected.properties["rejects"]) == (records, rejects)
    assert rejected.properties["input_records"] == accepted + rejected.properties["rejects"]
    assert sum(1 for _ in rejected.read()) == rejects
    assert sum(1 for split in ("train", "eval", "test") for _ in examples.read(split)) == accepted
    # Every reject names its file (as the config sees it) and a line inside that file.
    for reject in rejected.read():
        assert reject["source"] in names
        assert 1 <= reject["line"] <= (folder / reject["source"]).read_bytes().count(b"\n") + 1
        assert reject["reason"]


@pytest.mark.parametrize("fmt", TAGGED)
def test_statistics_fails_above_the_reject_fraction_naming_the_first_bad_file_and_line(harness, tmp_path, fmt):
    folder, names = _mixed_folder(tmp_path, fmt)
    records, rejects, first = _expected_totals(names, fmt)
    task = _task(fmt, "*", 0.01)
    ingested, config = _ingest(harness, folder, task)

    with pytest.raises(DataError) as raised:
        _statistics(harness, task, config, ingested)

    message = str(raised.value)
    assert f"{rejects:,} of {records + rejects:,} records rejected" in message
    assert f"first at {first}" in message
    assert "\n" not in message


@pytest.mark.parametrize("fmt", TAGGED)
def test_statistics_passes_below_the_reject_fraction_and_counts_the_rejects(harness, tmp_path, fmt):
    folder, names = _mixed_folder(tmp_path, fmt)
    _, rejects, _ = _expected_totals(names, fmt)
    task = _task(fmt, "*", 0.9)
    ingested, config = _ingest(harness, folder, task)

    stats = _statistics(harness, task, config, ingested).output("statistics").read()

    assert stats["rejects"] == rejects
    assert sum(stats["records"].values()) == sum(ingested.output("examples").properties["records"].values())


def _no_tag_corpus(folder: pathlib.Path, good: int, bad: int) -> None:
    """`good` clean Brown lines, then `bad` lines whose tokens have no tag."""
    folder.mkdir()
    lines = [f"word{i}/NOUN runs/VERB ./." for i in range(good)] + [f"untagged{i} words" for i in range(bad)]
    (folder / "corpus.txt").write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def test_rejects_exactly_at_a_binary_exact_fraction_pass(harness, tmp_path):
    _no_tag_corpus(tmp_path / "c", good=75, bad=25)
    task = _task("brown", "corpus.txt", 0.25)
    ingested, config = _ingest(harness, tmp_path / "c", task)

    assert _statistics(harness, task, config, ingested).output("statistics").read()["rejects"] == 25


def test_one_reject_more_than_the_fraction_fails(harness, tmp_path):
    _no_tag_corpus(tmp_path / "c", good=74, bad=26)
    task = _task("brown", "corpus.txt", 0.25)
    ingested, config = _ingest(harness, tmp_path / "c", task)

    with pytest.raises(DataError, match=r"26 of 100 records rejected .*first at corpus\.txt:75: token without tag"):
        _statistics(harness, task, config, ingested)


def test_rejects_exactly_at_a_decimal_fraction_pass(harness, tmp_path):
    _no_tag_corpus(tmp_path / "c", good=71, bad=29)
    task = _task("brown", "corpus.txt", 0.29)
    ingested, config = _ingest(harness, tmp_path / "c", task)

    assert _statistics(harness, task, config, ingested).output("statistics").read()["rejects"] == 29


def test_a_train_split_of_only_rejects_fails_even_when_rejects_are_allowed(harness, tmp_path):
    folder = tmp_path / "c"
    folder.mkdir()
    shutil.copy(BAD / "comments_only.conllu", folder / "comments_only.conllu")
    task = _task("conllu", "comments_only.conllu", 1.0)
    ingested, config = _ingest(harness, folder, task)

    assert ingested.output("rejects").properties == {"rejects": 2, "input_records": 2}
    with pytest.raises(DataError, match="train split is empty"):
        _statistics(harness, task, config, ingested)


def test_an_eval_label_never_seen_in_train_is_an_anomaly(harness, tmp_path):
    folder = tmp_path / "c"
    folder.mkdir()
    for name in ("unseen_label.train.brown.txt", "unseen_label.eval.brown.txt"):
        shutil.copy(BAD / name, folder / name)
    task = _task(
        "brown",
        "unseen_label.train.brown.txt",
        0.0,
        eval="unseen_label.eval.brown.txt",
        split=SplitConfig(eval=0.0, test=0.0),
    )
    ingested, config = _ingest(harness, folder, task)
    assert ingested.output("examples").properties["records"] == {"train": 4, "eval": 2, "test": 0}

    run = _statistics(harness, task, config, ingested)

    anomalies = json.loads(run.output("anomalies").path.read_text())
    unseen = [a for a in anomalies if a["check"] == "unseen_label"]
    assert [a["message"] for a in unseen] == [
        "eval has 1 label(s) never seen in train: INTJ (first 'INTJ' at unseen_label.eval.brown.txt:1)"
    ]
    assert run.output("anomalies").properties["count"] == len(anomalies)
    assert run.output("statistics").read()["labels"]["eval"]["INTJ"] == 1


# ----------------------------------------------------------------------------------------------
# The untagged formats: files written by the test, read, then ingested

TSV = b"".join(
    [
        b"pos\tA fine film.\r\n",
        b"neg\tcaf\xe9 was cold\r\n",  # Latin-1 e-acute: byte 8
        b"\r\n",
        b"neutral\tNo label\there\r\n",  # a tab inside the text
        b"\tno label\r\n",
        b"pos\t   \r\n",
        b"pos\tbro\x00ken\r\n",
        b"neg\tstray\rreturn\r\n",
        b"pos\tThe \xe2\x80\x9cbest\xe2\x80\x9d  film\r\n",
    ]
)
TSV_EXPECTED = [
    ("record", 1, {"text": "A fine film.", "label": "pos"}),
    ("reject", 2, "invalid UTF-8 at byte 8"),
    ("reject", 4, "wrong column count: 3 (expected 2)"),
    ("reject", 5, "empty label"),
    ("reject", 6, "empty text"),
    ("reject", 7, "NUL byte at byte 8"),
    ("reject", 8, "control character U+000D"),
    ("record", 9, {"text": "The \u201cbest\u201d  film", "label": "pos"}),
]
# A 1x1 grey PNG.
ONE_PIXEL_PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAAAAAA6fptVAAAACklEQVR4nGNgAAAAAgABSK+kcQAAAABJRU5ErkJggg=="
UNTAGGED_FILES: dict[str, bytes] = {
    "hostile.tsv": TSV,
    "hostile.tsv.gz": gzip.compress(TSV, mtime=0),
    "hostile.parallel.tsv": b"".join(
        [
            make_bad.BOM + b"The dog barks.\tDer Hund bellt.\n",
            b"Hello\t\n",
            b"\t\xc2\xa0Hallo\n",  # U+00A0 alone: an empty source
            b"One\tEins\tUn\n",
            b"line\xe2\x80\xa8sep\tZeilen\n",  # U+2028 LINE SEPARATOR
            b"\xed\xa0\x80\tsurrogate\n",  # U+D800 encoded as bytes
            b"Good night.\tGute Nacht.",  # no newline at the end
        ]
    ),
    "hostile.txt": b"".join(
        [
            b"\n   \nFirst document,\n\twith a tab.\n",  # lines 1-4
            b"\n\x0c\n\n",  # a form feed alone: a blank line
            b"Second caf\xe9\ndocument.\n\n",  # lines 8-10
            b"Third \x1b[1mbold\n\n",  # an ANSI escape, lines 11-12
            b"Page\x0c four.\r\n\r\n",  # lines 13-14
            b"Fi\x00fth\n",
        ]
    ),
    "pages.txt": make_bad.BOM + b"\r\n  Title\r\n\r\n\x0c\r\nPage two\tends.  \r\n\r\n",
    "broken.txt": b"Fine line.\n\nbad \xff line\n",
}
# (file, format, documents) -> each unit in file order: ("record", line, fields) or ("reject", line, reason part).
UNTAGGED_EXPECTED: dict[tuple[str, str, str], list[tuple]] = {
    ("hostile.tsv", "tsv", "file"): TSV_EXPECTED,
    ("hostile.tsv.gz", "tsv", "file"): TSV_EXPECTED,
    ("hostile.parallel.tsv", "parallel_tsv", "file"): [
        ("record", 1, {"source": "The dog barks.", "target": "Der Hund bellt."}),
        ("reject", 2, "empty target"),
        ("reject", 3, "empty source"),
        ("reject", 4, "wrong column count: 3 (expected 2)"),
        ("reject", 5, "control character U+2028"),
        ("reject", 6, "invalid UTF-8 at byte 1"),
        ("record", 7, {"source": "Good night.", "target": "Gute Nacht."}),
    ],
    ("hostile.txt", "text", "blank_line"): [
        ("record", 3, {"text": "First document,\n\twith a tab."}),
        ("reject", 8, "line 8: invalid UTF-8 at byte 11"),
        ("reject", 11, "line 11: control character U+001B at character 7"),
        ("record", 13, {"text": "Page four."}),
        ("reject", 15, "line 15: NUL byte at byte 3"),
    ],
    ("pages.txt", "text", "file"): [("record", 1, {"text": "  Title\n\n\nPage two\tends.  "})],
    ("broken.txt", "text", "file"): [("reject", 1, "line 3: invalid UTF-8 at byte 5")],
}
UNTAGGED_CASES = sorted(UNTAGGED_EXPECTED)
READINGS = sorted({(fmt, documents) for _, fmt, documents in UNTAGGED_CASES})


def _write_untagged(folder: pathlib.Path, fmt: str, documents: str) -> dict[str, list[tuple]]:
    """Writes the untagged files read as (`fmt`, `documents`), and the format-less ones; their expectations."""
    folder.mkdir(exist_ok=True)
    expected = {}
    for name, file_fmt, file_documents in UNTAGGED_CASES:
        if (file_fmt, file_documents) == (fmt, documents):
            (folder / name).write_bytes(UNTAGGED_FILES[name])
            expected[name] = UNTAGGED_EXPECTED[(name, fmt, documents)]
    for name in ("empty.txt", "blank_lines.txt"):
        shutil.copy(BAD / name, folder / name)
        expected[name] = [] if documents == "blank_line" else EXPECTED[(name, fmt)]
    return expected


def _check_units(results: list[Record | Reject], expected: list[tuple], name: str, fmt: str) -> None:
    assert [(type(r), r.source, r.line) for r in results] == [
        (Record if kind == "record" else Reject, name, line) for kind, line, _ in expected
    ], results
    for result, (kind, _, detail) in zip(results, expected, strict=True):
        if kind == "record":
            assert result.fields == detail
            assert list(result.fields) == list(kinds.format(fmt).fields)
        else:
            assert detail in result.reason, result
            assert len(result.text) <= MAX_REJECT_TEXT and "\n" not in result.reason


def test_every_untagged_file_is_tested():
    assert {name for name, _, _ in UNTAGGED_CASES} == set(UNTAGGED_FILES)
    assert {fmt for _, fmt, _ in UNTAGGED_CASES} == set(FORMATS) - set(TAGGED) - set(IMAGE_FORMATS)


@pytest.mark.parametrize(("name", "fmt", "documents"), UNTAGGED_CASES, ids=["-".join(c) for c in UNTAGGED_CASES])
def test_untagged_reader_yields_one_record_or_reject_per_unit(tmp_path, name, fmt, documents):
    path = tmp_path / name
    path.write_bytes(UNTAGGED_FILES[name])

    results = list(read_file(path, fmt, source=name, documents=documents))

    _check_units(results, UNTAGGED_EXPECTED[(name, fmt, documents)], name, fmt)


@pytest.mark.parametrize(("fmt", "documents"), READINGS, ids=["-".join(r) for r in READINGS])
def test_ingest_of_untagged_files_counts_every_input_record_as_accepted_or_rejected(harness, tmp_path, fmt, documents):
    folder = tmp_path / "corpus"
    expected = _write_untagged(folder, fmt, documents)
    records = sum(kind == "record" for units in expected.values() for kind, *_ in units)
    rejects = sum(kind == "reject" for units in expected.values() for kind, *_ in units)

    # Nothing held out: a few-document text corpus would otherwise be cut into held-out blocks (more records).
    run, _ = _ingest(harness, folder, _task(fmt, "*", 1.0, documents=documents, split=SplitConfig(eval=0.0, test=0.0)))

    examples, rejected = run.output("examples"), run.output("rejects")
    assert (sum(examples.properties["records"].values()), rejected.properties["rejects"]) == (records, rejects)
    assert rejected.properties["input_records"] == records + rejects
    assert examples.properties["format"] == fmt
    assert examples.properties["fields"] == list(kinds.format(fmt).fields)
    # Each record under its key, "file:line" with the file's name as globbed (hostile.tsv.gz keeps its .gz).
    written = {
        r.pop("key"): r for split in ("train", "eval", "test") for r in examples.read(split) if r.pop("input_hash")
    }
    assert written == {
        f"{name}:{line}": detail for name, units in expected.items() for kind, line, detail in units if kind == "record"
    }
    found = sorted((r["source"], r["line"]) for r in rejected.read())
    assert found == sorted(
        (name, line) for name, units in expected.items() for kind, line, _ in units if kind == "reject"
    )
