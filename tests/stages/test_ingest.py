"""The ingest stage: records split by a stable hash of their key, held-out files kept whole, rejects kept."""

from __future__ import annotations

import gzip
import pathlib

import pytest

from components.ingest import executor, readers, spec
from components.ingest.executor import assign_split
from pipeline.config import DataConfig, PipelineConfig, SplitConfig, TaskConfig
from tests.stages.support import StageHarness, StageRun


def write_corpus(path: pathlib.Path, lines: list[str]) -> pathlib.Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def synthetic_lines(count: int, start: int = 0) -> list[str]:
    """`count` distinct one-sentence Brown lines."""
    return [f"word{i}/NOUN runs/VERB ./." for i in range(start, start + count)]


def ingest(harness: StageHarness, folder: pathlib.Path, kind: str = "tagger", **data: object) -> StageRun:
    """Runs ingest on files in `folder` (the paths in `data` are relative to it; the format is brown by default)."""
    data.setdefault("format", "brown")
    task = TaskConfig(name="t", kind=kind, data=DataConfig(**data))
    return harness.run(spec.component(task, PipelineConfig(tasks=(task,), base_dir=folder)))


def splits_by_key(examples) -> dict[str, str]:
    return {record["key"]: split for split in ("train", "eval", "test") for record in examples.read(split)}


# ----------------------------------------------------------------------------------------------
# Hash split


def test_each_record_lands_in_the_split_its_key_hashes_to(harness, tmp_path):
    write_corpus(tmp_path / "corpus.txt", synthetic_lines(200))
    split = SplitConfig(eval=0.2, test=0.1)

    examples = ingest(harness, tmp_path, train="corpus.txt", split=split).output("examples")

    by_key = splits_by_key(examples)
    assert len(by_key) == 200
    assert by_key == {key: assign_split(key, split) for key in by_key}


def test_a_record_keeps_its_split_when_the_corpus_grows(harness, tmp_path):
    small, grown = tmp_path / "small", tmp_path / "grown"
    small.mkdir()
    grown.mkdir()
    write_corpus(small / "corpus.txt", synthetic_lines(300))
    write_corpus(grown / "corpus.txt", synthetic_lines(300) + synthetic_lines(300, start=300))
    split = SplitConfig(eval=0.2, test=0.1)

    before = splits_by_key(ingest(harness, small, train="corpus.txt", split=split).output("examples"))
    after = splits_by_key(ingest(harness, grown, train="corpus.txt", split=split).output("examples"))

    assert len(after) == 600
    assert {key: after[key] for key in before} == before


def test_split_fractions_are_roughly_respected(harness, tmp_path):
    write_corpus(tmp_path / "corpus.txt", synthetic_lines(1000))

    examples = ingest(harness, tmp_path, train="corpus.txt", split=SplitConfig(eval=0.2, test=0.1)).output("examples")

    records = examples.properties["records"]
    assert sum(records.values()) == 1000
    # About three binomial standard deviations either side.
    assert records["eval"] == pytest.approx(200, abs=40)
    assert records["test"] == pytest.approx(100, abs=30)
    assert records["train"] == pytest.approx(700, abs=45)


def test_files_given_as_eval_and_test_go_whole_to_those_splits(harness, tmp_path):
    write_corpus(tmp_path / "train.txt", synthetic_lines(50))
    write_corpus(tmp_path / "dev.txt", synthetic_lines(10, start=100))
    write_corpus(tmp_path / "held.txt", synthetic_lines(7, start=200))

    examples = ingest(harness, tmp_path, train="train.txt", eval="dev.txt", test="held.txt").output("examples")

    by_key = splits_by_key(examples)
    assert {key for key, split in by_key.items() if split == "eval"} == {f"dev.txt:{n}" for n in range(1, 11)}
    assert {key for key, split in by_key.items() if split == "test"} == {f"held.txt:{n}" for n in range(1, 8)}
    assert examples.properties["records"] == {"train": 50, "eval": 10, "test": 7}


def test_a_record_holds_the_tokens_and_tags_of_its_line(harness, tmp_path):
    write_corpus(tmp_path / "corpus.txt", ["The/DET jury/NOUN said/VERB 1/2/NUM ./."])

    examples = ingest(harness, tmp_path, train="corpus.txt", split=SplitConfig(eval=0.0, test=0.0)).output("examples")

    assert list(examples.read("train")) == [
        {
            "key": "corpus.txt:1",
            "tokens": ["The", "jury", "said", "1/2", "."],
            "tags": ["DET", "NOUN", "VERB", "NUM", "."],
        }
    ]


def test_a_tsv_corpus_globbed_over_a_plain_and_a_gzipped_file(harness, tmp_path):
    write_corpus(tmp_path / "a.tsv", ["pos\tA fine film.", "neg\t A dull  film. ", "pos\tone\ttab too many"])
    (tmp_path / "b.tsv.gz").write_bytes(gzip.compress(b"neg\tToo long.\r\n\r\nneg\t \r\npos\tLoved it!\r\n"))
    write_corpus(tmp_path / "notes.txt", ["not\tmatched by the glob"])

    run = ingest(
        harness, tmp_path, kind="classifier", format="tsv", train="*.tsv*", split=SplitConfig(eval=0.0, test=0.0)
    )

    examples, rejects = run.output("examples"), run.output("rejects")
    # Keys name the files as globbed, the gzipped one with its .gz, so its records' splits never move.
    assert list(examples.read("train")) == [
        {"key": "a.tsv:1", "text": "A fine film.", "label": "pos"},
        {"key": "a.tsv:2", "text": "A dull  film.", "label": "neg"},
        {"key": "b.tsv.gz:1", "text": "Too long.", "label": "neg"},
        {"key": "b.tsv.gz:4", "text": "Loved it!", "label": "pos"},
    ]
    assert examples.properties["format"] == "tsv"
    assert examples.properties["fields"] == ["text", "label"]
    assert [(r["source"], r["line"], r["reason"]) for r in rejects.read()] == [
        ("a.tsv", 3, "wrong column count: 3 (expected 2)"),
        ("b.tsv.gz", 3, "empty text"),
    ]
    assert rejects.properties == {"rejects": 2, "input_records": 6}


def test_text_documents_are_cut_as_the_config_says(harness, tmp_path):
    write_corpus(tmp_path / "book.txt", ["Chapter 1.", "", "", "It was  dark.", "\tThe end."])

    options = {
        "kind": "language_model",
        "format": "text",
        "train": "book.txt",
        "split": SplitConfig(eval=0.0, test=0.0),
    }
    whole = ingest(harness, tmp_path, **options)
    cut = ingest(harness, tmp_path, documents="blank_line", **options)

    assert list(whole.output("examples").read("train")) == [
        {"key": "book.txt:1", "text": "Chapter 1.\n\n\nIt was  dark.\n\tThe end."}
    ]
    assert list(cut.output("examples").read("train")) == [
        {"key": "book.txt:1", "text": "Chapter 1."},
        {"key": "book.txt:4", "text": "It was  dark.\n\tThe end."},
    ]
    assert cut.output("examples").properties["fields"] == ["text"]


def verses(count: int) -> list[str]:
    return [f"Verse {i}: and the {i % 7} said unto them, go." for i in range(count)]


def test_one_text_file_is_held_out_in_contiguous_blocks(harness, tmp_path):
    lines = verses(2000)
    write_corpus(tmp_path / "input.txt", lines)
    split = SplitConfig(eval=0.1, test=0.1)

    run = ingest(harness, tmp_path, kind="language_model", format="text", train="input.txt", split=split)

    examples = run.output("examples")
    records = examples.properties["records"]
    assert examples.properties["split_by"].startswith("blocks of about ")
    assert all(records[s] > 0 for s in ("train", "eval", "test"))
    assert sum(records.values()) == pytest.approx(executor.HELD_OUT_BLOCKS, rel=0.05)
    blocks = {r["key"]: r["text"] for s in ("train", "eval", "test") for r in examples.read(s)}
    assert all(splits_by_key(examples)[key] == assign_split(key, split) for key in blocks)
    # The blocks, in order, are the file: every line in exactly one of them.
    ordered = sorted(blocks, key=lambda key: int(key.rsplit("/", 1)[1]))
    assert "\n".join(blocks[key] for key in ordered).split("\n") == lines


def test_a_text_corpus_of_many_documents_is_split_by_document(harness, tmp_path):
    write_corpus(tmp_path / "book.txt", [line for verse in verses(300) for line in (verse, "")])

    run = ingest(harness, tmp_path, kind="language_model", format="text", documents="blank_line", train="book.txt")

    examples = run.output("examples")
    assert examples.properties["split_by"] == "records"
    assert sum(examples.properties["records"].values()) == 300


def test_text_blocks_start_at_a_text_line_and_keep_inner_blank_lines():
    record = readers.Record("a.txt", 1, {"text": "one\n\ntwo\nthree\n\n\nfour"})

    blocks = executor.text_blocks(record, min_chars=8)

    assert [(b.key, b.fields["text"]) for b in blocks] == [
        ("a.txt:1/0", "one\n\ntwo"),
        ("a.txt:1/1", "three"),
        ("a.txt:1/2", "four"),
    ]


# ----------------------------------------------------------------------------------------------
# Rejects


@pytest.fixture
def corpus_with_rejects(tmp_path: pathlib.Path) -> pathlib.Path:
    """Five lines (and a blank one, which is layout): lines 2 and 5 cannot be used."""
    lines = ["a/DET dog/NOUN", "a dog/NOUN", "the/DET cat/NOUN", "", "/NOUN ran/VERB", "it/PRON ran/VERB"]
    return write_corpus(tmp_path / "corpus.txt", lines)


def test_rejects_are_written_with_file_line_and_reason(harness, tmp_path, corpus_with_rejects):
    rejects = ingest(harness, tmp_path, train="corpus.txt").output("rejects")

    found = [(r["source"], r["line"], r["reason"]) for r in rejects.read()]
    assert found == [
        ("corpus.txt", 2, "token without tag: 'a'"),
        ("corpus.txt", 5, "empty word: '/NOUN'"),
    ]


def test_reject_counts_add_up_to_the_input_records(harness, tmp_path, corpus_with_rejects):
    run = ingest(harness, tmp_path, train="corpus.txt")
    examples, rejects = run.output("examples"), run.output("rejects")

    assert sum(examples.properties["records"].values()) == 3
    assert rejects.properties["rejects"] == 2
    assert rejects.properties["input_records"] == 5


def test_ingest_logs_records_per_split_and_rejects(harness, tmp_path, corpus_with_rejects):
    run = ingest(harness, tmp_path, train="corpus.txt", split=SplitConfig(eval=0.0, test=0.0))

    (event,) = run.log.events
    assert event["kind"] == "metrics"
    assert event["metrics"] == {"records.train": 3, "records.eval": 0, "records.test": 0, "rejects": 2}


# ----------------------------------------------------------------------------------------------
# assign_split


# Pinned: a change to the hash would move records between splits across versions of the code.
@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("corpus.txt:1", "train"),  # hashes to 0.665
        ("corpus.txt:2", "eval"),  # 0.061
        ("corpus.txt:3", "test"),  # 0.143
        ("corpus.txt:5", "eval"),  # 0.023
    ],
)
def test_assign_split_is_a_fixed_function_of_the_key(key, expected):
    assert assign_split(key, SplitConfig(eval=0.1, test=0.1)) == expected


def test_a_larger_eval_fraction_only_moves_records_into_eval():
    keys = [f"file.txt:{n}" for n in range(500)]
    small = {k: assign_split(k, SplitConfig(eval=0.1, test=0.0)) for k in keys}
    large = {k: assign_split(k, SplitConfig(eval=0.3, test=0.0)) for k in keys}

    assert all(large[k] == "eval" for k in keys if small[k] == "eval")
    assert sum(s == "eval" for s in large.values()) > sum(s == "eval" for s in small.values())


def test_zero_fractions_put_every_record_in_train():
    split = SplitConfig(eval=0.0, test=0.0)

    assert {assign_split(f"file.txt:{n}", split) for n in range(200)} == {"train"}
