"""A CRF tagger (`model.output: crf`) through train, evaluate and export on the session's tiny shards.

Export's infra-validation loads the SavedModel in a fresh process and fails unless its Viterbi tags
equal the Keras model's on every eval sentence; the serving test repeats that from outside.
"""

from __future__ import annotations

import dataclasses
import json

import keras
import pytest

from components.evaluate import spec as evaluate
from components.export import spec as export
from components.train import spec as train
from models import crf
from tests.stages.support import StageHarness, write_blessing
from tests.stages.test_export import SENTENCES, SERVE_SCRIPT, UNIVERSAL_TAGS, run_python, strip_padding


@pytest.fixture(scope="module")
def crf_task(tiny_task):
    return dataclasses.replace(tiny_task, model=dataclasses.replace(tiny_task.model, output="crf"))


@pytest.fixture(scope="module")
def crf_chain(tmp_path_factory, crf_task, tiny_config, ingested, preprocessed):
    """train -> evaluate -> export (blessed by hand) of the CRF tagger."""
    harness = StageHarness(tmp_path_factory.mktemp("crf") / "task")
    vocabulary = preprocessed.output("vocabulary")
    trained = harness.run(
        train.component(crf_task, tiny_config), shards=preprocessed.output("shards"), vocabulary=vocabulary
    )
    evaluated = harness.run(
        evaluate.component(crf_task, tiny_config),
        model=trained.output("model"),
        shards=preprocessed.output("shards"),
        vocabulary=vocabulary,
        examples=ingested.output("examples"),
    )
    exported = harness.run(
        export.component(crf_task, tiny_config),
        model=trained.output("model"),
        vocabulary=vocabulary,
        blessing=write_blessing(harness.root.parent / "blessing", blessed=True, reason="blessed for the test"),
        evaluation=evaluated.output("evaluation"),
        examples=ingested.output("examples"),
    )
    return trained, evaluated, exported


def test_the_crf_tagger_trains_with_its_loss_and_viterbi_accuracy(crf_chain, preprocessed):
    trained, _, _ = crf_chain
    model = keras.saving.load_model(trained.output("model").path)
    history = json.loads((trained.output("model").uri / "history.json").read_text())

    tags = len(preprocessed.output("vocabulary").tokens("tags"))
    assert isinstance(model.get_layer("crf"), crf.CRF) and model.outputs[0].shape[-2:] == (tags, tags)
    assert isinstance(model.loss, crf.CRFLoss)
    assert 0.0 < history["val_accuracy"][0] <= 1.0 and history["loss"][0] > 0.0


def test_the_universal_tags_are_not_bio_so_nothing_is_constrained_but_the_reserved_tags(crf_chain):
    trained, _, _ = crf_chain
    layer = keras.saving.load_model(trained.output("model").path).get_layer("crf")

    assert layer.allowed_start[:2] == [False, False] and all(layer.allowed_start[2:])
    assert all(layer.allowed[i][2:] == [True] * (len(layer.allowed) - 2) for i in range(2, len(layer.allowed)))
    params = [event["params"] for event in trained.log.events if event["kind"] == "params"]
    assert not any("fitted.model.constrain_bio" in p for p in params)


def test_the_crf_tagger_is_evaluated_on_its_viterbi_tags(crf_chain):
    _, evaluated, _ = crf_chain
    predictions = list(evaluated.output("evaluation").predictions("eval"))

    assert predictions and all(set(p["tags"]) <= UNIVERSAL_TAGS for p in predictions)
    assert all(len(p["tags"]) == len(p["tokens"]) for p in predictions)


def test_the_exported_crf_tagger_tags_as_the_keras_model_in_a_fresh_process(crf_chain, tmp_path):
    _, evaluated, exported = crf_chain
    properties = exported.output("pushed_model").properties
    assert properties["pushed"] is True
    assert properties["sentences"] == min(sum(1 for _ in evaluated.output("evaluation").predictions("eval")), 256)

    served = run_python(SERVE_SCRIPT, exported.context.task_dir / "serving" / "1", tmp_path)

    tags = strip_padding(served["tags"])
    assert [len(t) for t in tags] == [len(t) for t in strip_padding(served["tokens"])] and len(tags) == len(SENTENCES)
    assert all(set(t) <= UNIVERSAL_TAGS for t in tags)
    assert served["tag_tokens"] == served["tags"]
