"""Same config, same seed, same bytes: preprocess and train run twice on the tiny corpus, into separate folders.

The first run of each stage is the session's chain (`preprocessed`, `trained` in conftest); each test here
runs the stage again with a fresh harness, so the two runs share nothing but their inputs.
"""

from __future__ import annotations

import dataclasses
import json
import math
import pathlib

import keras
import numpy as np
import pytest

import models.tagger  # noqa: F401  (registers the custom layers for loading)
from components.train import spec as train
from pipeline import artifacts
from pipeline.config import BeamConfig
from tests.stages.support import SEED, StageHarness, StageRun

# Files that describe a run rather than its content: artifact.json holds the harness's fingerprint.
RUN_FILES = {artifacts.ARTIFACT_FILE}

# Training twice must give the same numbers. Measured on this 2-core CPU (TF 2.21, oneDNN on): two runs of
# the tiny tagger give bit-identical losses, metrics and weights (difference 0.0), because every random
# draw is seeded (keras.utils.set_random_seed(seed), the shuffle and word-dropout seeds) and the CPU
# kernels reduce in a fixed order for fixed shapes and thread counts. The bound still allows for float32
# round-off of a different summation order (another thread count or CPU): float32 has a 6e-8 unit
# round-off, and one epoch of Adam sums a few hundred gradient steps, so 1e-5 relative is far above
# round-off noise yet far below any real change: another seed moves the final loss by about 1e-3 relative
# and the weights by far more (test_another_seed_gives_other_numbers checks the bound can fail).
RELATIVE_TOLERANCE = 1e-5
ABSOLUTE_TOLERANCE = 1e-7


def is_timing(name: str) -> bool:
    """Wall-clock measures (epoch_seconds, tokens_per_second) differ from run to run by nature."""
    return name.endswith("seconds") or name.endswith("per_second")


def files_of(folder: pathlib.Path) -> dict[str, bytes]:
    """Every file under `folder` (relative path -> bytes), without the per-run files."""
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path.name not in RUN_FILES
    }


def assert_same_files(first: artifacts.Artifact, second: artifacts.Artifact) -> None:
    a, b = files_of(first.uri), files_of(second.uri)
    assert sorted(a) == sorted(b)
    assert not [name for name in a if name.endswith(".partial")], "a temporary file was left behind"
    different = [name for name in a if a[name] != b[name]]
    assert not different, f"files differ between the two runs: {different}"
    assert first.properties == second.properties


# ----------------------------------------------------------------------------------------------
# Preprocess


@pytest.fixture(scope="module")
def preprocessed_twice(tmp_path_factory, preprocess_component, ingested, validated) -> StageRun:
    """The preprocess stage again, same config (DirectRunner, 2 worker processes), into a new folder."""
    harness = StageHarness(tmp_path_factory.mktemp("determinism-preprocess"))
    return harness.run(
        preprocess_component, examples=ingested.output("examples"), statistics=validated.output("statistics")
    )


@pytest.fixture(scope="module")
def preprocessed_in_process(tmp_path_factory, preprocess_component, ingested, validated) -> StageRun:
    """The preprocess stage with one in-process worker instead of two worker processes."""
    harness = StageHarness(tmp_path_factory.mktemp("determinism-preprocess-1"), beam=BeamConfig(options={}))
    return harness.run(
        preprocess_component, examples=ingested.output("examples"), statistics=validated.output("statistics")
    )


def test_preprocess_twice_writes_byte_identical_vocabulary_files(preprocessed, preprocessed_twice):
    assert preprocessed.output("vocabulary").uri != preprocessed_twice.output("vocabulary").uri
    assert_same_files(preprocessed.output("vocabulary"), preprocessed_twice.output("vocabulary"))


def test_preprocess_twice_writes_byte_identical_shard_files(preprocessed, preprocessed_twice):
    first, second = preprocessed.output("shards"), preprocessed_twice.output("shards")
    assert first.manifest()["splits"]["train"]["files"], "no train shard to compare"

    assert_same_files(first, second)


def test_preprocess_bytes_do_not_depend_on_the_worker_count(preprocessed, preprocessed_in_process):
    for name in ("vocabulary", "shards"):
        assert_same_files(preprocessed.output(name), preprocessed_in_process.output(name))


# ----------------------------------------------------------------------------------------------
# Train


@pytest.fixture(scope="module")
def trained_twice(tmp_path_factory, tiny_task, tiny_config, preprocessed) -> StageRun:
    """The train stage again with the same seed, on the same shards, into a new folder."""
    harness = StageHarness(tmp_path_factory.mktemp("determinism-train"), seed=SEED)
    return harness.run(
        train.component(tiny_task, tiny_config),
        shards=preprocessed.output("shards"),
        vocabulary=preprocessed.output("vocabulary"),
    )


@pytest.fixture(scope="module")
def trained_other_seed(tmp_path_factory, tiny_task, tiny_config, preprocessed) -> StageRun:
    """The control: the train stage with another seed."""
    harness = StageHarness(tmp_path_factory.mktemp("determinism-train-seed"), seed=SEED + 1)
    return harness.run(
        train.component(tiny_task, tiny_config),
        shards=preprocessed.output("shards"),
        vocabulary=preprocessed.output("vocabulary"),
    )


@pytest.fixture(scope="module")
def trained_with_train_seed(tmp_path_factory, tiny_task, tiny_config, preprocessed) -> StageRun:
    """The pipeline's seed, but `train.seed` set to the control's seed."""
    task = dataclasses.replace(tiny_task, train=dataclasses.replace(tiny_task.train, seed=SEED + 1))
    harness = StageHarness(tmp_path_factory.mktemp("determinism-train-seed-key"), seed=SEED)
    return harness.run(
        train.component(task, tiny_config),
        shards=preprocessed.output("shards"),
        vocabulary=preprocessed.output("vocabulary"),
    )


def history(run: StageRun) -> dict[str, list[float]]:
    return json.loads((run.output("model").uri / "history.json").read_text())


def relative_difference(a: float, b: float) -> float:
    return abs(a - b) / max(abs(a), abs(b), ABSOLUTE_TOLERANCE)


def test_training_twice_with_the_same_seed_gives_the_same_losses_and_metrics(trained, trained_twice):
    first, second = history(trained), history(trained_twice)

    assert sorted(first) == sorted(second)
    assert {"loss", "accuracy", "val_loss", "val_accuracy"} <= set(first)
    for name in (name for name in first if not is_timing(name)):
        assert len(first[name]) == len(second[name]), name
        for epoch, (a, b) in enumerate(zip(first[name], second[name], strict=True), start=1):
            assert math.isfinite(a) and math.isfinite(b), (name, epoch, a, b)
            assert relative_difference(a, b) <= RELATIVE_TOLERANCE, (name, epoch, a, b)


def test_training_twice_with_the_same_seed_gives_the_same_weights(trained, trained_twice):
    first = keras.saving.load_model(trained.output("model").path).get_weights()
    second = keras.saving.load_model(trained_twice.output("model").path).get_weights()

    assert [w.shape for w in first] == [w.shape for w in second]
    for index, (a, b) in enumerate(zip(first, second, strict=True)):
        scale = max(float(np.max(np.abs(a))), ABSOLUTE_TOLERANCE)
        assert float(np.max(np.abs(a - b))) <= RELATIVE_TOLERANCE * scale, f"weight {index}"


def test_the_logged_epoch_metrics_are_the_same_too(trained, trained_twice):
    def epochs(run: StageRun) -> list[dict[str, float]]:
        return [
            {k: v for k, v in event["metrics"].items() if not is_timing(k)}
            for event in run.log.events
            if event["kind"] == "metrics"
        ]

    first, second = epochs(trained), epochs(trained_twice)

    assert len(first) == len(second) > 0
    for a, b in zip(first, second, strict=True):
        assert sorted(a) == sorted(b)
        assert all(relative_difference(a[k], b[k]) <= RELATIVE_TOLERANCE for k in a), (a, b)


def test_another_seed_gives_other_numbers(trained, trained_other_seed):
    first, other = history(trained), history(trained_other_seed)
    weights = keras.saving.load_model(trained.output("model").path).get_weights()
    other_weights = keras.saving.load_model(trained_other_seed.output("model").path).get_weights()

    assert relative_difference(first["loss"][-1], other["loss"][-1]) > 10 * RELATIVE_TOLERANCE
    assert max(float(np.max(np.abs(a - b))) for a, b in zip(weights, other_weights, strict=True)) > 1e-3


def test_train_seed_replaces_the_pipeline_seed_for_training(trained_with_train_seed, trained_other_seed):
    # The same numbers as the run whose pipeline seed is that value: a sweep over train.seed is a sweep
    # over seeds of training alone.
    first, other = history(trained_with_train_seed), history(trained_other_seed)
    assert all(
        relative_difference(a, b) <= RELATIVE_TOLERANCE for a, b in zip(first["loss"], other["loss"], strict=True)
    )
