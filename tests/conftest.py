"""Shared fixtures: a harness that runs one stage's executor, and a chain of tiny real artifacts.

The chain (ingest -> statistics -> preprocess -> train -> evaluate on `tests/data/tiny/brown.txt`) is
built once per session and lazily: a test that needs only the ingested examples does not train a model.
Stage tests read the chain's artifacts and must not modify them. The harness and the helpers that build
small artifacts by hand are in `tests/stages/support.py`.
"""

from __future__ import annotations

import pathlib

import pytest

from components.evaluate import spec as evaluate
from components.ingest import spec as ingest
from components.preprocess import spec as preprocess
from components.statistics import spec as statistics
from components.train import spec as train
from kinds.base.settings import TokenBudgetTrain
from kinds.tagger.settings import TaggerModel, TaggerTask
from pipeline.component import Component
from pipeline.config import (
    BeamConfig,
    DataConfig,
    ModelConfig,
    PipelineConfig,
    SplitConfig,
    TaskConfig,
)
from tests.stages.support import SEED, StageHarness, StageRun

TINY_DIR = pathlib.Path(__file__).resolve().parent / "data" / "tiny"


@pytest.fixture
def harness(tmp_path: pathlib.Path) -> StageHarness:
    """A stage harness writing under this test's tmp_path."""
    return StageHarness(tmp_path / "task")


# ----------------------------------------------------------------------------------------------
# The tiny task and its chain of real artifacts, built once per session


@pytest.fixture(scope="session")
def tiny_model_config() -> ModelConfig:
    """A model small enough to train one epoch in seconds."""
    return TaggerModel(embedding_dim=8, hidden_dim=6, char_embedding_dim=4, char_filters=6)


@pytest.fixture(scope="session")
def tiny_config(tiny_model_config: ModelConfig) -> PipelineConfig:
    """One tagger task on the tiny Brown corpus, paths relative to its folder."""
    task = TaggerTask(
        name="tiny",
        kind="tagger",
        data=DataConfig(format="brown", train="brown.txt", split=SplitConfig(eval=0.2, test=0.2)),
        model=tiny_model_config,
        train=TokenBudgetTrain(epochs=1, batch_size=32),
    )
    return PipelineConfig(tasks=(task,), seed=SEED, base_dir=TINY_DIR)


@pytest.fixture(scope="session")
def tiny_task(tiny_config: PipelineConfig) -> TaskConfig:
    return tiny_config.tasks[0]


@pytest.fixture(scope="session")
def chain(tmp_path_factory: pytest.TempPathFactory) -> StageHarness:
    """The harness the session's chain of artifacts is written with: Beam's DirectRunner with two worker
    processes, as for a corpus of some size (a tiny one is read in the stage's process by default)."""
    beam = BeamConfig(options={"direct_num_workers": 2, "direct_running_mode": "multi_processing"})
    return StageHarness(tmp_path_factory.mktemp("chain"), beam=beam)


@pytest.fixture(scope="session")
def ingested(chain: StageHarness, tiny_task: TaskConfig, tiny_config: PipelineConfig) -> StageRun:
    return chain.run(ingest.component(tiny_task, tiny_config))


@pytest.fixture(scope="session")
def validated(chain: StageHarness, tiny_task, tiny_config, ingested: StageRun) -> StageRun:
    return chain.run(
        statistics.component(tiny_task, tiny_config),
        examples=ingested.output("examples"),
        rejects=ingested.output("rejects"),
    )


@pytest.fixture(scope="session")
def preprocess_component(tiny_task: TaskConfig, tiny_config: PipelineConfig) -> Component:
    return preprocess.component(tiny_task, tiny_config)


@pytest.fixture(scope="session")
def preprocessed(chain: StageHarness, preprocess_component, ingested: StageRun, validated: StageRun) -> StageRun:
    """The Beam preprocess stage, DirectRunner in multi-processing mode with 2 workers."""
    return chain.run(
        preprocess_component,
        examples=ingested.output("examples"),
        statistics=validated.output("statistics"),
    )


@pytest.fixture(scope="session")
def trained(chain: StageHarness, tiny_task, tiny_config, preprocessed: StageRun) -> StageRun:
    """The tiny model after one epoch."""
    return chain.run(
        train.component(tiny_task, tiny_config),
        shards=preprocessed.output("shards"),
        vocabulary=preprocessed.output("vocabulary"),
    )


@pytest.fixture(scope="session")
def evaluated(chain: StageHarness, tiny_task, tiny_config, ingested, preprocessed, trained: StageRun) -> StageRun:
    return chain.run(
        evaluate.component(tiny_task, tiny_config),
        model=trained.output("model"),
        shards=preprocessed.output("shards"),
        vocabulary=preprocessed.output("vocabulary"),
        examples=ingested.output("examples"),
    )
