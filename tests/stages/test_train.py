"""The train stage: one epoch of the tiny tagger on the session's shards (`trained` in conftest)."""

from __future__ import annotations

import json

import keras

import models.tagger  # noqa: F401  (registers the custom layers for loading)
from models import text

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
EPOCH_METRICS = {"loss", "accuracy", "val_loss", "val_accuracy"}


def test_train_writes_a_loadable_keras_model(trained):
    model = keras.saving.load_model(trained.output("model").path)

    assert {i.name for i in model.inputs} == {text.TOKEN_IDS, text.CHAR_IDS}


def test_model_output_has_one_logit_per_tag_of_the_vocabulary(trained, preprocessed):
    model = keras.saving.load_model(trained.output("model").path)

    assert model.outputs[0].shape[-1] == len(preprocessed.output("vocabulary").tokens("tags"))


def test_history_has_one_value_per_epoch_for_training_and_validation(trained):
    history = json.loads((trained.output("model").uri / "history.json").read_text())

    assert EPOCH_METRICS <= set(history)
    assert all(len(history[name]) == 1 for name in EPOCH_METRICS)


def test_learning_curves_are_a_png(trained):
    curves = trained.output("model").uri / "learning_curves.png"

    assert curves.read_bytes()[:8] == PNG_MAGIC


def test_model_args_record_the_vocabulary_sizes_and_model_config(trained, preprocessed, tiny_model_config):
    args = json.loads((trained.output("model").uri / "model_args.json").read_text())

    vocabulary = preprocessed.output("vocabulary")
    assert args["sizes"] == {name: len(vocabulary.tokens(name)) for name in ("words", "chars", "tags")}
    assert args["model"]["hidden_dim"] == tiny_model_config.hidden_dim
    assert args["kind"] == "tagger"


def test_each_epoch_logs_its_metrics_with_the_epoch_as_step(trained):
    epochs = [event for event in trained.log.events if event["kind"] == "metrics"]

    assert [event["step"] for event in epochs] == [1]
    assert EPOCH_METRICS | {"tokens_per_second", "epoch_seconds"} <= set(epochs[0]["metrics"])


def test_logged_epoch_metrics_match_the_history(trained):
    history = json.loads((trained.output("model").uri / "history.json").read_text())
    (epoch,) = [event["metrics"] for event in trained.log.events if event["kind"] == "metrics"]

    assert {name: epoch[name] for name in EPOCH_METRICS} == {name: history[name][0] for name in EPOCH_METRICS}


def logged_files(trained) -> list[tuple[str, str]]:
    return [(event["path"], event["artifact_path"]) for event in trained.log.events if event["kind"] == "artifact"]


def test_learning_curves_are_logged_as_a_plot(trained):
    assert ("model/learning_curves.png", "plots") in logged_files(trained)


def test_the_keras_model_is_logged(trained):
    assert ("model/model.keras", "model") in logged_files(trained)


def test_model_properties_give_parameters_and_epochs(trained):
    properties = trained.output("model").properties

    assert properties["epochs"] == 1
    assert properties["parameters"] > 0


def test_the_tagger_trains_on_token_budget_batches_when_asked(tiny_task, tiny_config, preprocessed):
    import dataclasses

    import kinds
    from components.train import spec

    def batch_shapes(**train) -> list[tuple[int, int]]:
        task = dataclasses.replace(tiny_task, train=dataclasses.replace(tiny_task.train, batch_size=4, **train))
        parameters = spec.component(task, tiny_config).parameters
        recipe = kinds.get("tagger").load("recipe")(parameters, preprocessed.output("vocabulary"))
        batches = recipe.dataset(preprocessed.output("shards").files("train"), seed=1)
        return [tuple(inputs[text.TOKEN_IDS].shape) for inputs, _, _ in batches]

    assert max(rows for rows, _ in batch_shapes()) == 4
    by_tokens = batch_shapes(tokens_per_batch=4096)
    assert max(rows for rows, _ in by_tokens) > 4
    assert max(rows * width for rows, width in by_tokens) <= 4096


def train_with(chain, tiny_task, tiny_config, preprocessed, **train):
    import dataclasses

    from components.train import spec

    task = dataclasses.replace(tiny_task, train=dataclasses.replace(tiny_task.train, **train))
    return chain.run(
        spec.component(task, tiny_config),
        shards=preprocessed.output("shards"),
        vocabulary=preprocessed.output("vocabulary"),
    )


def test_left_out_epochs_train_until_the_score_stops_improving_and_say_why(
    chain, tiny_task, tiny_config, preprocessed, capsys
):
    # A learning rate of 0: the eval score of every epoch is the first's, so patience 2 ends epoch 3.
    run = train_with(chain, tiny_task, tiny_config, preprocessed, epochs=None, patience=2, learning_rate=0.0)

    out = capsys.readouterr().out
    assert "training to convergence (train.epochs left out)" in out
    params = [event["params"] for event in run.log.events if event["kind"] == "params"]
    (cap,) = [logged["fitted.train.epochs"] for logged in params if "fitted.train.epochs" in logged]
    assert f"train.epochs = {cap}, the cap of training to convergence" in out and cap >= 10
    assert "stopped after epoch 3: val_accuracy has not improved for 2 epochs; kept epoch 1" in out
    assert run.output("model").properties["epochs"] == 3


def test_a_time_budget_ends_training_at_an_epochs_end(chain, tiny_task, tiny_config, preprocessed, capsys):
    run = train_with(chain, tiny_task, tiny_config, preprocessed, epochs=5, max_minutes=0.0001)

    assert "stopped after epoch 1: another epoch would end past train.max_minutes = 0.0001" in capsys.readouterr().out
    assert run.output("model").properties["epochs"] == 1
