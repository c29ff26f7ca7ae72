"""The statistics stage on hand-built examples: counts, histograms, OOV rates, reject threshold, anomalies."""

from __future__ import annotations

import collections
import json
import pathlib
import tempfile

import hypothesis
import pytest
from hypothesis import strategies as st

import kinds
from components.statistics.executor import histogram
from components.statistics.spec import SPEC, StatisticsParameters
from pipeline.component import Component
from pipeline.config import BeamConfig, StatisticsConfig
from pipeline.errors import DataError
from tests.stages.support import StageHarness, record, write_examples, write_rejects

# Train: 3 sentences of 3, 2 and 12 tokens (17 tokens); words the, dog, runs, a, x.
TRAIN = [
    record("c:1", "the/DET dog/NOUN runs/VERB"),
    record("c:2", "a/DET dog/NOUN"),
    record("c:3", " ".join(["x/NOUN"] * 12)),
]
# Eval: "cat" is the only word not seen in train: OOV rate 1/3.
EVAL = [record("c:4", "the/DET cat/NOUN runs/VERB")]
# Test: "The" (capitalised) and "ran" are not train words as they are: 2/4; lowercased only "ran": 1/4.
TEST = [record("c:5", "The/DET dog/NOUN x/NOUN ran/VERB")]

BAD_LINE = {"source": "bad.txt", "line": 7, "reason": "token without tag: 'foo'", "text": "foo bar/NOUN"}
OTHER_BAD_LINE = {"source": "bad.txt", "line": 9, "reason": "empty word: '/NOUN'", "text": "/NOUN"}


def statistics(max_reject_fraction: float = 0.01, lowercase: bool = False, kind: str = "tagger", **checks) -> Component:
    """The stage with the statistics layout of `kind` (which fields are sequences and labels)."""
    layout = kinds.get(kind).statistics
    return Component(
        SPEC,
        StatisticsParameters(max_reject_fraction, StatisticsConfig(**checks), lowercase=lowercase, layout=layout),
    )


@pytest.fixture
def examples(tmp_path: pathlib.Path):
    return write_examples(tmp_path / "examples", train=TRAIN, eval=EVAL, test=TEST)


@pytest.fixture
def no_rejects(tmp_path: pathlib.Path):
    return write_rejects(tmp_path / "rejects", [], records=5)


def run_statistics(harness: StageHarness, component: Component, examples, rejects) -> dict:
    run = harness.run(component, examples=examples, rejects=rejects)
    return run.output("statistics").read()


# ----------------------------------------------------------------------------------------------
# Counts and rates


def test_records_and_tokens_are_counted_per_split(harness, examples, no_rejects):
    stats = run_statistics(harness, statistics(), examples, no_rejects)

    assert stats["records"] == {"train": 3, "eval": 1, "test": 1}
    assert stats["sequences"]["text"]["tokens"] == {"train": 17, "eval": 3, "test": 4}
    assert stats["rejects"] == 0


def test_length_histogram_buckets_sentences_by_tens(harness, examples, no_rejects):
    stats = run_statistics(harness, statistics(), examples, no_rejects)

    assert stats["sequences"]["text"]["length_histogram"] == {
        "train": {"0-9": 2, "10-19": 1},
        "eval": {"0-9": 1},
        "test": {"0-9": 1},
    }


def test_tags_are_counted_per_split(harness, examples, no_rejects):
    stats = run_statistics(harness, statistics(), examples, no_rejects)

    assert stats["labels"]["train"] == {"NOUN": 14, "DET": 2, "VERB": 1}
    assert stats["labels"]["test"] == {"NOUN": 2, "DET": 1, "VERB": 1}


def test_oov_rate_counts_held_out_tokens_not_seen_in_train(harness, examples, no_rejects):
    stats = run_statistics(harness, statistics(lowercase=False), examples, no_rejects)

    assert stats["sequences"]["text"]["oov_rate"] == {"eval": pytest.approx(1 / 3), "test": pytest.approx(2 / 4)}


def test_oov_rate_compares_lowercased_forms_when_the_model_lowercases(harness, examples, no_rejects):
    stats = run_statistics(harness, statistics(lowercase=True), examples, no_rejects)

    assert stats["sequences"]["text"]["oov_rate"] == {"eval": pytest.approx(1 / 3), "test": pytest.approx(1 / 4)}


def test_token_counts_and_oov_rates_are_logged(harness, examples, no_rejects):
    run = harness.run(statistics(), examples=examples, rejects=no_rejects)

    metrics = [event["metrics"] for event in run.log.events if event["kind"] == "metrics"]
    assert metrics == [
        {
            "text.tokens.train": 17,
            "text.tokens.eval": 3,
            "text.tokens.test": 4,
            "text.oov_rate.eval": pytest.approx(1 / 3),
            "text.oov_rate.test": pytest.approx(1 / 2),
        }
    ]


# ----------------------------------------------------------------------------------------------
# Rejects threshold


def test_rejects_above_the_fraction_fail_naming_the_first_bad_line(harness, examples, tmp_path):
    # 2 rejects of 8 input records is 25%, above 20%.
    rejects = write_rejects(tmp_path / "rejects", [BAD_LINE, OTHER_BAD_LINE], records=6)

    with pytest.raises(DataError, match=r"bad\.txt:7: token without tag: 'foo'") as raised:
        harness.run(statistics(max_reject_fraction=0.2), examples=examples, rejects=rejects)
    assert "2 of 8 records rejected" in str(raised.value)


def test_rejects_at_the_fraction_pass(harness, examples, tmp_path):
    # 2 rejects of 8 input records is exactly 25%.
    rejects = write_rejects(tmp_path / "rejects", [BAD_LINE, OTHER_BAD_LINE], records=6)

    stats = run_statistics(harness, statistics(max_reject_fraction=0.25), examples, rejects)

    assert stats["rejects"] == 2


def test_rejects_below_the_fraction_pass(harness, examples, tmp_path):
    rejects = write_rejects(tmp_path / "rejects", [BAD_LINE], records=99)

    stats = run_statistics(harness, statistics(max_reject_fraction=0.02), examples, rejects)

    assert stats["rejects"] == 1


# ----------------------------------------------------------------------------------------------
# Anomalies and fatal data problems


def test_an_eval_tag_unseen_in_train_is_an_anomaly(harness, tmp_path, no_rejects):
    examples = write_examples(
        tmp_path / "examples", train=TRAIN, eval=[record("c:4", "wow/INTJ the/DET dog/NOUN")], test=TEST
    )

    run = harness.run(statistics(), examples=examples, rejects=no_rejects)

    anomalies = run.output("anomalies")
    assert json.loads(anomalies.path.read_text()) == [
        {
            "check": "unseen_label",
            "action": "warn",
            "message": "eval has 1 label(s) never seen in train: INTJ (first 'INTJ' at c:4)",
        }
    ]
    assert anomalies.properties["count"] == 1


def test_an_unseen_label_fails_the_run_when_configured_to(harness, tmp_path, no_rejects):
    examples = write_examples(
        tmp_path / "examples", train=TRAIN, eval=EVAL, test=[record("t:9", "the/DET wow/INTJ"), *TEST]
    )

    with pytest.raises(DataError, match=r"test has 1 label\(s\) never seen .*INTJ.* at t:9.*unseen_label: fail"):
        harness.run(statistics(unseen_label="fail"), examples=examples, rejects=no_rejects)


def test_an_oov_rate_above_the_bound_warns_or_fails(harness, examples, no_rejects):
    # Test's OOV rate is 2/4: above a bound of 0.4, not above 0.5.
    warned = harness.run(statistics(max_oov_rate=0.4), examples=examples, rejects=no_rejects)
    checks = [a["check"] for a in json.loads(warned.output("anomalies").path.read_text())]
    assert checks == ["oov_rate"]

    with pytest.raises(DataError, match=r"test text OOV rate 50\.0% is above statistics\.max_oov_rate 40\.0%"):
        harness.run(statistics(max_oov_rate=0.4, oov_rate="fail"), examples=examples, rejects=no_rejects)
    assert harness.run(statistics(max_oov_rate=0.5, oov_rate="fail"), examples=examples, rejects=no_rejects)


def test_records_past_the_maximum_length_are_named(harness, examples, no_rejects):
    # c:3 is the only record longer than 3 tokens in train (12); test's c:5 has 4.
    run = harness.run(statistics(max_length=3), examples=examples, rejects=no_rejects)

    messages = [a["message"] for a in json.loads(run.output("anomalies").path.read_text())]
    assert messages == [
        "1 text.test record(s) longer than statistics.max_length 3 tokens (first at c:5)",
        "1 text.train record(s) longer than statistics.max_length 3 tokens (first at c:3)",
    ]
    with pytest.raises(DataError, match="too_long: fail"):
        harness.run(statistics(max_length=3, too_long="fail"), examples=examples, rejects=no_rejects)


def test_an_empty_held_out_split_is_an_anomaly(harness, tmp_path, no_rejects):
    examples = write_examples(tmp_path / "examples", train=TRAIN, eval=EVAL)

    run = harness.run(statistics(), examples=examples, rejects=no_rejects)

    assert [a["message"] for a in json.loads(run.output("anomalies").path.read_text())] == ["the test split is empty"]


def test_classifier_text_is_cut_into_words_by_the_task_tokenizer(harness, tmp_path, no_rejects):
    train = [
        {"key": "r:1", "text": "A fine, fine film.", "label": "positive"},
        {"key": "r:2", "text": "Dull.", "label": "negative"},
    ]
    test = [{"key": "r:3", "text": "A dull film!", "label": "negative"}]
    examples = write_examples(tmp_path / "examples", train=train, test=test)

    stats = run_statistics(harness, statistics(lowercase=True, kind="classifier"), examples, no_rejects)

    text = stats["sequences"]["text"]
    # regex tokens: a fine , fine film . | dull . -> 8 train tokens; a dull film ! -> "!" unseen, 1/4.
    assert text["tokens"] == {"train": 8, "eval": 0, "test": 4}
    assert text["oov_rate"]["test"] == pytest.approx(1 / 4)
    assert text["char_length_histogram"]["train"] == {"0-9": 1, "10-19": 1}
    assert stats["labels"]["train"] == {"negative": 1, "positive": 1}


def test_translation_pairs_are_summarised_per_side(harness, tmp_path, no_rejects):
    train = [{"key": "b:1", "source": "In the beginning", "target": "En el principio"}]
    examples = write_examples(tmp_path / "examples", train=train, test=train)

    stats = run_statistics(harness, statistics(kind="translator"), examples, no_rejects)

    assert set(stats["sequences"]) == {"source", "target"}
    assert stats["sequences"]["target"]["tokens"] == {"train": 3, "eval": 0, "test": 3}
    assert stats["labels"] == {}


def test_a_png_summary_is_written_and_logged(harness, examples, no_rejects):
    run = harness.run(statistics(), examples=examples, rejects=no_rejects)

    summary = run.output("statistics").uri / "summary.png"
    assert summary.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    logged = [event for event in run.log.events if event["kind"] == "artifact"]
    assert any(pathlib.Path(event["path"]).name == "summary.png" for event in logged)


def test_long_documents_get_wider_histogram_buckets():
    lengths = collections.Counter({5: 1, 950: 2, 12_345: 1})

    buckets = histogram(lengths)

    assert buckets == {"0-499": 1, "500-999": 2, "12000-12499": 1}


def test_clean_examples_have_no_anomalies(harness, examples, no_rejects):
    run = harness.run(statistics(), examples=examples, rejects=no_rejects)

    assert json.loads(run.output("anomalies").path.read_text()) == []


def test_an_empty_train_split_is_a_data_error(harness, tmp_path, no_rejects):
    examples = write_examples(tmp_path / "examples", train=[], eval=EVAL, test=TEST)

    with pytest.raises(DataError, match="train split is empty"):
        harness.run(statistics(), examples=examples, rejects=no_rejects)


# ----------------------------------------------------------------------------------------------
# Inputs: repeats, and inputs shared between splits (counted in Beam)


def test_repeated_inputs_are_counted_whatever_their_labels(harness, tmp_path, no_rejects):
    train = [*TRAIN, record("c:6", "the/X dog/X runs/X"), record("c:7", "the/DET dog/NOUN runs/VERB")]
    examples = write_examples(tmp_path / "examples", train=train, eval=EVAL, test=TEST)

    run = harness.run(statistics(), examples=examples, rejects=no_rejects)

    found = run.output("statistics").read()["inputs"]
    assert found == {"distinct": 5, "repeated": 1, "repeated_records": 3, "shared": {}}
    assert json.loads(run.output("anomalies").path.read_text()) == []


def test_a_held_out_input_that_is_a_training_input_is_named(harness, tmp_path, no_rejects):
    test = [*TEST, record("t:9", "a/DET dog/NOUN"), record("t:2", "a/NOUN dog/NOUN")]  # the words of c:2
    examples = write_examples(tmp_path / "examples", train=TRAIN, eval=EVAL, test=test)

    run = harness.run(statistics(), examples=examples, rejects=no_rejects)

    shared = run.output("statistics").read()["inputs"]["shared"]
    assert shared == {"train/test": {"inputs": 1, "first": "c:2"}}
    messages = [a["message"] for a in json.loads(run.output("anomalies").path.read_text())]
    assert messages == [
        "1 test input(s) are training inputs too (first at c:2): the test files repeat records of the train files"
    ]
    with pytest.raises(DataError, match="shared_inputs: fail"):
        harness.run(statistics(shared_inputs="fail"), examples=examples, rejects=no_rejects)


@hypothesis.settings(max_examples=10, deadline=None, suppress_health_check=[hypothesis.HealthCheck.too_slow])
@hypothesis.given(
    splits=st.lists(st.tuples(st.sampled_from(["train", "eval", "test"]), st.integers(0, 30)), min_size=1, max_size=300)
)
def test_the_beam_count_agrees_with_a_count_in_one_process(splits):
    from components.statistics import inputs

    with tempfile.TemporaryDirectory() as folder:
        records = {"train": [], "eval": [], "test": []}
        for number, (split, word) in enumerate(splits):
            records[split].append(record(f"f:{number:04d}", f"w{word}/X"))
        examples = write_examples(pathlib.Path(folder) / "examples", **records)
        found = inputs.count(examples, [s for s in records if records[s]], BeamConfig(), pathlib.Path(folder) / "o")

    where = collections.defaultdict(list)
    for number, (split, word) in enumerate(splits):
        where[word].append((split, f"f:{number:04d}"))
    shared = {}
    for pair in inputs.PAIRS:
        both = [sorted(key for _, key in seen) for seen in where.values() if set(pair) <= {s for s, _ in seen}]
        if both:
            shared["/".join(pair)] = {"inputs": len(both), "first": min(keys[0] for keys in both)}
    repeated = [seen for seen in where.values() if len(seen) > 1]
    expected = {"distinct": len(where), "repeated": len(repeated), "repeated_records": sum(map(len, repeated))}
    assert found == {**expected, "shared": shared}


def test_inputs_counted_from_many_small_runs_agree_with_one_run_and_leave_no_run_behind(tmp_path, monkeypatch):
    from components.beam import sorted_runs
    from components.statistics import inputs

    records = {
        "train": [record(f"a:{n:03d}", f"w{n % 40}/X") for n in range(200)],
        "test": [record(f"b:{n:03d}", f"w{n}/X") for n in range(30, 60)],
    }
    examples = write_examples(tmp_path / "examples", **records)
    whole = inputs.count(examples, ["train", "test"], BeamConfig(), tmp_path / "whole" / "inputs.json")
    spilled, write_run = [], sorted_runs.write_run

    def counted(path, records):
        spilled.append(path)
        write_run(path, records)

    monkeypatch.setattr(sorted_runs, "write_run", counted)
    monkeypatch.setattr(sorted_runs, "SPILL_BYTES", 20 * sorted_runs.RECORD_OVERHEAD)  # a run every ~20 records

    small = inputs.count(examples, ["train", "test"], BeamConfig(), tmp_path / "small" / "inputs.json")

    assert len(spilled) > 2 * inputs.PARTITIONS  # several runs a partition, merged
    assert (
        small
        == whole
        == {
            "distinct": 60,  # w0..w39 in train, w40..w59 in test alone
            "repeated": 40,
            "repeated_records": 200 + 10,  # w30..w39 occur in test as well
            "shared": {"train/test": {"inputs": 10, "first": "a:030"}},
        }
    )
    assert not (tmp_path / "small" / sorted_runs.RUNS_FOLDER).exists()


# ----------------------------------------------------------------------------------------------
# Label mistakes: a typo, a header line, swapped columns


def reviews(count: int, label: str, start: int = 2) -> list[dict]:
    return [{"key": f"reviews.tsv:{start + i}", "text": f"film number {i} .", "label": label} for i in range(count)]


LABEL_CHECKS = {"label_typo", "header_line", "swapped_columns", "unseen_label"}


def anomalies_of(harness, component, train, no_rejects, tmp_path, **splits) -> list[dict]:
    """The anomalies of the label checks."""
    examples = write_examples(tmp_path / "examples", train=train, **splits)
    run = harness.run(component, examples=examples, rejects=no_rejects)
    return [a for a in json.loads(run.output("anomalies").path.read_text()) if a["check"] in LABEL_CHECKS]


def test_a_label_on_two_records_one_letter_from_a_frequent_one_is_named_as_a_typo(harness, tmp_path, no_rejects):
    train = reviews(150, "positive") + reviews(146, "negative", 200) + reviews(2, "postive", 400)

    found = anomalies_of(harness, statistics(kind="classifier"), train, no_rejects, tmp_path)

    assert found == [
        {
            "check": "label_typo",
            "action": "warn",
            "message": "label 'postive' (2 record(s), first at reviews.tsv:400) looks like a typo of 'positive' "
            "(150 records)",
        }
    ]


def test_a_header_line_is_named_whichever_split_it_lands_in(harness, tmp_path, no_rejects):
    header = {"key": "reviews.tsv:1", "text": "review", "label": "sentiment"}
    train = reviews(40, "positive") + reviews(40, "negative", 100)

    found = anomalies_of(harness, statistics(kind="classifier"), train, no_rejects, tmp_path, test=[header])

    messages = {a["check"]: a["message"] for a in found}
    assert (
        messages["header_line"] == "the first line of reviews.tsv looks like a header ('review' 'sentiment'): remove it"
    )


def test_swapped_columns_are_named_with_the_line_the_format_reads(harness, tmp_path, no_rejects):
    texts = [f"A film I saw on day {i} of the festival and would gladly see again, twice." for i in range(40)]
    train = [{"key": f"r.tsv:{i + 2}", "text": "positive", "label": text} for i, text in enumerate(texts[:30])]
    test = [{"key": f"r.tsv:{i + 40}", "text": "negative", "label": text} for i, text in enumerate(texts[30:])]

    found = anomalies_of(harness, statistics(kind="classifier"), train, no_rejects, tmp_path, test=test)

    messages = {a["check"]: a["message"] for a in found}
    assert messages["swapped_columns"] == (
        "40 distinct labels in 40 records (one 'A film I saw on day 10 of the…'): are the columns swapped? the format "
        "reads label<TAB>text"
    )
    assert messages["unseen_label"] == (
        "test has 10 label(s) never seen in train: A film I saw on day 30 …, A film I saw on day 31 …, A film I saw on "
        "day 32 …, A film I saw on day 33 …, A film I saw on day 34 …, ... (first 'A film I saw on day 30 of the "
        "festival …' at r.tsv:40)"
    )


def test_tags_that_differ_by_design_are_not_typos(harness, tmp_path, no_rejects):
    # Rare tags beside frequent ones one letter away: BIO prefixes, short tags of a tagset, another entity.
    train = [record(f"t:{i + 2}", "the/DT dogs/NNS bark/VB Paris/I-LOC") for i in range(200)]
    train += [record("t:300", "the/DT dog/NN barks/VBZ Paris/B-LOC Acme/I-ORG")]

    assert anomalies_of(harness, statistics(), train, no_rejects, tmp_path, test=train[:5]) == []


def test_the_labels_of_train_are_printed_most_frequent_first(harness, tmp_path, no_rejects, capsys):
    train = reviews(150, "positive") + reviews(146, "negative", 200)

    anomalies_of(harness, statistics(kind="classifier"), train, no_rejects, tmp_path)

    assert "labels in train: positive 150, negative 146\n" in capsys.readouterr().out
