"""A CRF tagger on BIO named-entity tags (300 tweets of WNUT 2016, `tests/data/tiny/wnut16.conll`):
decoding constrained to IOB2, unless the training tags are IOB1; blessing and comparing by entity F1."""

from __future__ import annotations

import pathlib

import keras
import pytest

import kinds
from components.evaluate import spec as evaluate
from components.ingest import spec as ingest
from components.preprocess import spec as preprocess
from components.statistics import spec as statistics
from components.train import spec as train
from kinds.base.settings import TokenBudgetTrain
from kinds.tagger.settings import TaggerModel, TaggerTask
from models import crf
from pipeline.config import BeamConfig, DataConfig, PipelineConfig, SplitConfig, TaskConfig
from tests.stages.support import StageHarness

TINY_DIR = pathlib.Path(__file__).resolve().parents[1] / "data" / "tiny"
IN_PROCESS = BeamConfig(options={})  # the DirectRunner in this process, one worker: fastest for a tiny corpus


def ner_task(train_file: str = "wnut16.conll") -> TaskConfig:
    return TaggerTask(
        name="ner",
        kind="tagger",
        data=DataConfig(format="conll", train=train_file, split=SplitConfig(eval=0.2, test=0.2)),
        model=TaggerModel(embedding_dim=8, hidden_dim=8, char_embedding_dim=4, char_filters=6, output="crf"),
        train=TokenBudgetTrain(epochs=2, batch_size=16),
    )


def preprocessed(harness: StageHarness, task: TaskConfig, config: PipelineConfig):
    ingested = harness.run(ingest.component(task, config))
    validated = harness.run(
        statistics.component(task, config), examples=ingested.output("examples"), rejects=ingested.output("rejects")
    )
    examples, summary = ingested.output("examples"), validated.output("statistics")
    return ingested, harness.run(preprocess.component(task, config), examples=examples, statistics=summary)


@pytest.fixture(scope="module")
def ner_chain(tmp_path_factory):
    task = ner_task()
    config = PipelineConfig(tasks=(task,), seed=8, base_dir=TINY_DIR)
    harness = StageHarness(tmp_path_factory.mktemp("ner") / "task", beam=IN_PROCESS)
    ingested, prepared = preprocessed(harness, task, config)
    trained = harness.run(
        train.component(task, config), shards=prepared.output("shards"), vocabulary=prepared.output("vocabulary")
    )
    evaluated = harness.run(
        evaluate.component(task, config),
        model=trained.output("model"),
        shards=prepared.output("shards"),
        vocabulary=prepared.output("vocabulary"),
        examples=ingested.output("examples"),
    )
    return trained, evaluated


def logged_params(run) -> dict:
    events = [event for event in run.log.events if event["kind"] == "params"]
    return {key: value for event in events for key, value in event["params"].items()}


def test_iob2_training_tags_keep_the_constraints(ner_chain):
    trained, _ = ner_chain

    assert logged_params(trained)["fitted.model.constrain_bio"] is True


def test_the_constrained_crf_predicts_only_valid_iob2_sequences(ner_chain):
    trained, evaluated = ner_chain
    layer = keras.saving.load_model(trained.output("model").path).get_layer("crf")
    predictions = [p["tags"] for split in ("eval", "test") for p in evaluated.output("evaluation").predictions(split)]

    assert not all(layer.allowed_start)
    assert crf.bio_violations(predictions) == (0, None)


def test_bio_tags_are_blessed_and_compared_by_entity_f1(ner_chain):
    _, evaluated = ner_chain
    evaluation, blessing = evaluated.output("evaluation"), evaluated.output("blessing")
    scores = evaluation.read()["eval"]

    assert evaluation.properties["blessing_metric"] == "entity.f1"
    assert evaluation.properties["primary_metric"] == "test.entity.f1"
    assert blessing.properties["model"] == scores["model"]["entity"]["f1"]
    assert blessing.properties["baseline"] == scores["most_frequent_tag"]["entity"]["f1"]
    assert blessing.properties["reason"].startswith("eval entity f1 ")
    assert "token_accuracy" in scores["model"]  # still reported


def as_iob1(lines: list[str]) -> list[str]:
    """IOB1: a chunk starts with I- unless it follows a chunk of its own type."""
    converted, previous = [], "O"
    for line in lines:
        if not line.strip():
            converted.append(line)
            previous = "O"
            continue
        token, tag = line.split("\t")
        if tag.startswith("B-") and previous[2:] != tag[2:]:
            tag = "I-" + tag[2:]
        converted.append(f"{token}\t{tag}")
        previous = tag
    return converted


def test_iob1_training_tags_leave_decoding_unconstrained_and_say_why(tmp_path):
    lines = (TINY_DIR / "wnut16.conll").read_text(encoding="utf-8").split("\n")
    (tmp_path / "iob1.conll").write_text("\n".join(as_iob1(lines)), encoding="utf-8")
    task = ner_task("iob1.conll")
    config = PipelineConfig(tasks=(task,), seed=8, base_dir=tmp_path)
    _, prepared = preprocessed(StageHarness(tmp_path / "task", beam=IN_PROCESS), task, config)
    recipe = kinds.get("tagger").load("recipe")(train.component(task, config).parameters, prepared.output("vocabulary"))

    choices = {choice.key: choice for choice in recipe.fit_to_corpus(prepared.output("shards"))}

    choice = choices["model.constrain_bio"]
    assert choice.value is False
    assert "break IOB2" in choice.reason and "(first O -> I-" in choice.reason
    assert all(recipe.build().get_layer("crf").allowed_start[2:])  # every real tag may start a sentence
