"""A sixth kind that lives in the tests (`tests/kinds/length`: how many words a line has) plugs in by its
package and one registry line, and runs the whole DAG: its own format, settings, layout, recipe, evaluator and
export, with no edit to a stage, the framework or another kind. The SavedModel answers in a fresh process."""

from __future__ import annotations

import pathlib
import random
import subprocess
import sys

import pytest
import yaml

import dag
import kinds
from pipeline import runner
from pipeline.errors import ConfigError
from tests.kinds import length

pytestmark = pytest.mark.slow

WORDS = ["the", "dog", "cat", "sees", "runs", "a", "big", "small", "home", "fast"]


@pytest.fixture
def registered(monkeypatch):
    monkeypatch.setattr(kinds, "REGISTRY", dict(kinds.REGISTRY))
    kinds.register(length.KIND)  # the one line


def write_config(folder: pathlib.Path, **model) -> pathlib.Path:
    rng = random.Random(0)
    lines = [" ".join(rng.choices(WORDS, k=rng.randint(1, 9))) for _ in range(400)]
    (folder / "lines.txt").write_text("\n".join(lines) + "\n")
    task = {
        "name": "counts",
        "kind": "length",
        "data": {"train": "lines.txt"},
        "model": {"embedding_dim": 8, "units": 16, **model},
        "train": {"epochs": 4, "batch_size": 16, "learning_rate": 0.02},
        "evaluate": {"bless_margin": 0.0},
    }
    config = {"tasks": [task], "output_dir": "runs", "beam": {"options": {"direct_running_mode": "in_memory"}}}
    (folder / "pipeline.yaml").write_text(yaml.safe_dump(config))
    return folder / "pipeline.yaml"


def test_the_kind_reads_its_own_settings_and_format(registered, tmp_path):
    config = kinds.load_config(write_config(tmp_path))
    (task,) = config.variants
    assert (task.data.format, task.preprocess.tokenizer, task.model.units) == ("lines", "whitespace", 16)
    with pytest.raises(ConfigError, match="model.pooling: unknown key"):
        kinds.load_config(write_config(tmp_path, pooling="mean"))


def test_the_kind_runs_the_whole_dag_and_its_savedmodel_answers_in_a_fresh_process(registered, tmp_path):
    config = kinds.load_config(write_config(tmp_path))
    (task,) = config.variants

    results = runner.run_task(
        dag.build(task, config),
        task=task.name,
        task_dir=tmp_path / "runs" / task.name,
        seed=config.seed,
        beam=config.beam,
        tracker=None,
    )

    outputs = {name: artifact for result in results for name, artifact in result.outputs.items()}
    test = outputs["evaluation"].read()["test"]
    assert test["model"]["mae"] < test["mean_length"]["mae"]
    assert outputs["blessing"].blessed and outputs["pushed_model"].properties["pushed"]
    saved_model = outputs["pushed_model"].saved_model_path
    answer = subprocess.run(
        [sys.executable, "-c", ANSWER, str(saved_model)], capture_output=True, text=True, check=True, timeout=120
    ).stdout.split()
    assert [round(float(value)) for value in answer] == [3, 7]


# What a caller does in a process that imports only TensorFlow and tensorflow-text.
ANSWER = """
import sys
import tensorflow as tf
import tensorflow_text  # noqa: F401
serve = tf.saved_model.load(sys.argv[1]).signatures["serving_default"]
print(*serve(text=tf.constant(["the big dog", "a cat sees the small dog home"]))["length"].numpy())
"""
