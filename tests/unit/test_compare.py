"""The console compare view: params that differ, metrics, best first."""

from pipeline.compare import RunSummary, by_test_data, comparison_table, mean_table, ranked_by, render


def run(name, cell, accuracy=None, layers="1"):
    metrics = {} if accuracy is None else {"test.token_accuracy": accuracy, "baseline.test.token_accuracy": 0.9}
    return RunSummary(name, "FINISHED", f"model.cell={cell}", {"model.cell": cell, "model.layers": layers}, metrics)


def test_only_params_that_differ_are_columns():
    headers, _ = comparison_table([run("a", "rnn", 0.95), run("b", "gru", 0.97)], ["test.token_accuracy"])

    assert headers == ["run", "status", "variant", "model.cell", "test.token_accuracy"]


def test_rows_are_sorted_best_first_and_runs_without_the_metric_last():
    runs = [run("a", "rnn", 0.95), run("b", "gru"), run("c", "lstm", 0.97)]

    _, rows = comparison_table(runs, ["test.token_accuracy", "baseline.test.token_accuracy"])

    assert [row[0] for row in rows] == ["c", "a", "b"]
    assert rows[0][-2:] == ["0.9700", "0.9000"]
    assert rows[2][-2:] == ["", ""]


def test_a_param_missing_from_a_run_counts_as_different():
    runs = [run("a", "rnn", 0.9), RunSummary("b", "FAILED", "", {"model.cell": "rnn"}, {})]

    headers, rows = comparison_table(runs, ["test.token_accuracy"])

    assert "model.layers" in headers
    assert rows[1][headers.index("model.layers")] == ""


def test_render_aligns_columns_under_a_rule():
    text = render(["run", "accuracy"], [["long-run-name", "0.9"], ["b", "0.95"]])

    lines = text.splitlines()
    assert lines[1] == "-------------  --------"
    assert lines[2].index("0.9") == lines[0].index("accuracy") == lines[3].index("0.95")


def test_metrics_of_older_runs_are_read_under_their_new_names():
    from pipeline.compare import with_legacy_names

    old_run = {"test.token_accuracy": 0.95, "baseline.test.token_accuracy": 0.9}
    legacy = {"baseline.most_frequent_tag.test.token_accuracy": "baseline.test.token_accuracy"}

    assert with_legacy_names(old_run, legacy)["baseline.most_frequent_tag.test.token_accuracy"] == 0.9
    new_run = {"baseline.most_frequent_tag.test.token_accuracy": 0.8, "baseline.test.token_accuracy": 0.9}
    assert with_legacy_names(new_run, legacy)["baseline.most_frequent_tag.test.token_accuracy"] == 0.8


def seeded(name, schedule, seed, bleu, status="FINISHED"):
    params = {"curriculum.schedule": schedule, "train.seed": str(seed), "train.epochs": "6"}
    return RunSummary(name, status, f"curriculum.schedule={schedule},train.seed={seed}", params, {"test.bleu": bleu})


def test_mean_table_makes_one_row_of_the_seeds_of_each_variant_best_first():
    runs = [
        seeded("a", "constant", 1, 10.0),
        seeded("b", "constant", 2, 12.0),
        seeded("c", "constant", 3, 14.0),
        seeded("d", "linear", 1, 15.0),
        seeded("e", "linear", 2, 17.0),
        seeded("f", "linear", 3, 0.0, status="FAILED"),  # left out of the mean
    ]

    headers, rows = mean_table(runs, ["test.bleu"], over=["train.seed"])

    assert headers == ["curriculum.schedule", "runs", "test.bleu (mean ± sd)"]
    assert rows == [["linear", "2", "16.0000 ± 1.4142"], ["constant", "3", "12.0000 ± 2.0000"]]


def test_mean_table_of_one_run_has_no_spread_and_lower_can_be_better():
    runs = [seeded("a", "constant", 1, 2.0), seeded("b", "linear", 1, 1.5)]

    _, rows = mean_table(runs, ["test.bleu"], over=["train.seed"], lower_is_better=True)

    assert rows == [["linear", "1", "1.5000 ± nan"], ["constant", "1", "2.0000 ± nan"]]


def test_runs_are_grouped_by_the_test_split_they_were_scored_on_the_largest_group_first():
    runs = [
        RunSummary("a", "FINISHED", "", {}, {}, test_data="d1"),
        RunSummary("b", "FINISHED", "", {}, {}, test_data="d2"),
        RunSummary("c", "FINISHED", "", {}, {}, test_data="d2"),
        RunSummary("old", "FINISHED", "", {}, {}),
    ]

    groups = by_test_data(runs)

    assert [(digest, [run.name for run in group]) for digest, group in groups] == [
        ("d2", ["b", "c"]),
        ("d1", ["a"]),
        ("", ["old"]),
    ]


def test_runs_are_ranked_by_the_metric_they_were_blessed_by():
    metrics = ["test.token_accuracy", "test.entity.f1"]
    bio = [RunSummary(n, "FINISHED", "", {"blessing.metric": "entity.f1"}, {}) for n in "ab"]
    older = [*bio, RunSummary("c", "FINISHED", "", {}, {})]

    assert ranked_by(bio, metrics) == ["test.entity.f1", "test.token_accuracy"]
    assert ranked_by(older, metrics) == metrics
