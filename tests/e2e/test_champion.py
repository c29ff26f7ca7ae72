"""Lineage through the CLI and a real MLflow store: each run's splits as dataset inputs, compare that ranks only
like with like, and a champion alias that moves only for a model better on the same records by the same rule."""

from __future__ import annotations

import json
import pathlib
import re
import shutil

import pytest
import yaml

from tests.e2e.support import TASK, make_workspace, run_cli, write_config
from tests.e2e.test_translator import write_pairs

pytestmark = pytest.mark.slow


def client(workspace: pathlib.Path):
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=f"sqlite:///{workspace / 'mlflow.db'}")


def datasets(workspace: pathlib.Path, experiment: str) -> list[tuple[str, dict[str, tuple[str, str, int]]]]:
    """For each run of `experiment`, oldest first: its id, and split -> (dataset name, digest, records)."""
    store = client(workspace)
    runs = store.search_runs([store.get_experiment_by_name(experiment).experiment_id], order_by=["start_time ASC"])
    found = []
    for run in runs:
        logged = {}
        for entry in run.inputs.dataset_inputs:
            (context,) = [tag.value for tag in entry.tags if tag.key == "mlflow.data.context"]
            dataset = entry.dataset
            logged[context] = (dataset.name, dataset.digest, json.loads(dataset.profile)["num_rows"])
        found.append((run.info.run_id, logged))
    return found


def champion(workspace: pathlib.Path, name: str) -> str:
    return str(client(workspace).get_model_version_by_alias(name, "champion").version)


# ----------------------------------------------------------------------------------------------
# Datasets


def test_two_configs_naming_copies_of_one_corpus_by_other_paths_log_the_same_digests(tmp_path):
    one = make_workspace(tmp_path / "one")
    (one / "configs").mkdir()
    (one / "data").mkdir()
    shutil.move(one / "corpus.txt", one / "data" / "corpus.txt")
    config = yaml.safe_load((one / "pipeline_config.yaml").read_text())
    config["tasks"][0]["data"]["train"] = "../data/corpus.txt"
    config["tracking"]["uri"] = "sqlite:///../mlflow.db"
    config["output_dir"] = "../runs"
    (one / "configs" / "pipeline_config.yaml").write_text(yaml.safe_dump(config))
    two = make_workspace(tmp_path / "two")
    (two / "copy").mkdir()
    shutil.move(two / "corpus.txt", two / "copy" / "renamed.txt")
    config = yaml.safe_load((two / "pipeline_config.yaml").read_text())
    config["tasks"][0]["data"]["train"] = "copy/renamed.txt"
    (two / "pipeline_config.yaml").write_text(yaml.safe_dump(config))

    run_cli(one / "configs", "run", "--through", "ingest")
    run_cli(two, "run", "--through", "ingest")

    ((run_id, first),), ((_, second),) = datasets(one, TASK), datasets(two, TASK)
    assert set(first) == {"train", "eval", "test"} and first == second
    assert all(first[split][0] == f"{TASK}.{split}" for split in first)
    hashes = pathlib.Path(client(one).download_artifacts(run_id, "datasets/test.txt", str(tmp_path)))
    assert len(hashes.read_text().split()) == first["test"][2] > 0


# ----------------------------------------------------------------------------------------------
# The champion of a tagger


@pytest.fixture(scope="module")
def tagger_runs(tmp_path_factory):
    """A good tagger, then a worse one on the same data, then one on another split of the data."""
    workspace = make_workspace(tmp_path_factory.mktemp("champion-tagger"))
    lenient = f"tasks.{TASK}.evaluate.bless_margin=-1"
    good = run_cli(workspace, "run")
    worse = run_cli(
        workspace,
        "run",
        "--set",
        f"tasks.{TASK}.train.epochs=1",
        "--set",
        f"tasks.{TASK}.train.learning_rate=0.0001",
        "--set",
        lenient,
    )
    resplit = run_cli(workspace, "run", "--set", f"tasks.{TASK}.data.split.eval=0.4", "--set", lenient)
    return workspace, good, worse, resplit


def test_a_worse_tagger_is_registered_but_not_crowned(tagger_runs):
    workspace, good, worse, _ = tagger_runs
    assert "version 1; now champion (no champion yet)" in good.stdout
    line = next(line for line in worse.stdout.splitlines() if "registered" in line)
    assert "version 2; not champion (eval token accuracy " in line
    assert "does not beat champion version 1's" in line and "both SavedModels on" in line
    assert champion(workspace, TASK) == "1"


def test_a_champion_trained_on_the_inputs_it_would_be_scored_on_is_not_compared(tagger_runs):
    workspace, _, _, resplit = tagger_runs
    line = next(line for line in resplit.stdout.splitlines() if "registered" in line)
    assert "version 3; not champion (not compared: champion version 1 trained on " in line
    assert "eval inputs it would be scored on" in line
    assert champion(workspace, TASK) == "1"


def test_each_run_logs_its_splits_and_compare_ranks_only_runs_of_one_test_split(tagger_runs):
    workspace, *_ = tagger_runs
    logged = [splits for _, splits in datasets(workspace, TASK)]
    assert len(logged) == 3 and all(set(run) == {"train", "eval", "test"} for run in logged)
    assert logged[0] == logged[1]  # the same data
    assert logged[2]["test"] != logged[0]["test"]  # eval took some of the test inputs

    result = run_cli(workspace, "compare", "--task", TASK)

    assert "these runs were scored on 2 different test splits" in result.stdout
    assert f"test split {logged[0]['test'][1]}: 2 run(s)" in result.stdout
    assert f"test split {logged[2]['test'][1]}: 1 run(s)" in result.stdout


# ----------------------------------------------------------------------------------------------
# The champion of a translator, when the new model is lowercase


def test_a_worse_lowercase_translator_does_not_take_the_alias_from_a_better_cased_one(tmp_path):
    write_pairs(tmp_path / "pairs.tsv", 600, seed=0)
    task = {
        "name": "toy-mt",
        "kind": "translator",
        "data": {"format": "parallel_tsv", "train": "pairs.tsv", "split": {"eval": 0.1, "test": 0.1}},
        "preprocess": {"tokenizer": "regex", "num_shards": 1},
        "model": {"cell": "gru", "embedding_dim": 16, "hidden_dim": 32, "dropout": 0.0},
        "train": {"epochs": 6, "batch_size": 16, "learning_rate": 0.01, "word_dropout": 0.0},
        "decode": {"strategy": "greedy"},
        "evaluate": {"bless_margin": -100.0},
    }
    workspace = write_config(tmp_path, task)
    run_cli(workspace, "run")

    worse = run_cli(
        workspace,
        "run",
        "--set",
        "tasks.toy-mt.preprocess.lowercase=true",
        "--set",
        "tasks.toy-mt.train.epochs=1",
        "--set",
        "tasks.toy-mt.train.learning_rate=0.001",
    )

    line = next(line for line in worse.stdout.splitlines() if "registered" in line)
    verdict = r"version 2; not champion \(eval bleu ([\d.]+) does not beat champion version 1's ([\d.]+) "
    found = re.search(verdict, line)
    assert found and float(found[1]) < float(found[2]), line
    assert line.endswith("case-insensitive))")
    assert champion(workspace, "toy-mt") == "1"
