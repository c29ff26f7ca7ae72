"""The best-epoch callback: keeps the best eval score's weights, stops early, lowers the learning rate on a
plateau, and a new callback on the same folder (a resumed run) goes on with the best so far."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from components.train.callbacks import BestEpoch
from kinds.base.recipe import Monitor
from pipeline.config import TrainConfig


def tiny_model() -> keras.Model:
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    return model


def run_epochs(callback: BestEpoch, model: keras.Model, scores: list[float | None], first_epoch: int = 0) -> None:
    """Ends one epoch per score, the model's kernel set to the epoch's number (1-based) in that epoch."""
    callback.set_model(model)
    for epoch, score in enumerate(scores, start=first_epoch):
        model.layers[0].kernel.assign(np.full((2, 1), epoch + 1.0, "float32"))
        callback.on_epoch_end(epoch, {} if score is None else {"val_score": score})


def kernel(model: keras.Model) -> float:
    return float(model.layers[0].kernel.numpy()[0, 0])


def best_epoch(tmp_path, higher_is_better: bool = True, **train) -> BestEpoch:
    return BestEpoch(Monitor("val_score", higher_is_better), tmp_path, TrainConfig(**train), progress=lambda line: None)


@pytest.mark.parametrize(("higher", "scores", "best"), [(True, [0.5, 0.7, 0.6], 2), (False, [3.0, 2.0, 2.5], 2)])
def test_the_best_epochs_weights_are_put_back_in_either_direction(tmp_path, higher, scores, best):
    model, callback = tiny_model(), best_epoch(tmp_path, higher)
    run_epochs(callback, model, scores)

    assert callback.best == {"epoch": best, "value": scores[best - 1], "last": 3}
    assert callback.restore_best(model) and kernel(model) == best


def test_nothing_is_restored_when_the_last_epoch_is_the_best_or_nothing_was_scored(tmp_path):
    model, callback = tiny_model(), best_epoch(tmp_path / "a")
    run_epochs(callback, model, [0.1, 0.2])
    assert not callback.restore_best(model) and kernel(model) == 2

    unscored = best_epoch(tmp_path / "b")
    run_epochs(unscored, model, [None, None])
    assert unscored.best is None and not unscored.restore_best(model)


def test_training_stops_after_patience_epochs_without_a_better_score(tmp_path):
    model, callback = tiny_model(), best_epoch(tmp_path, patience=2)
    run_epochs(callback, model, [0.5, 0.6, 0.6])
    assert not callback.stopped  # one epoch without improvement (equal is not better)

    run_epochs(callback, model, [0.55], first_epoch=3)
    assert callback.stopped and callback.best["epoch"] == 2


def test_the_learning_rate_is_multiplied_after_each_plateau(tmp_path):
    model, callback = tiny_model(), best_epoch(tmp_path, lr_patience=2, lr_factor=0.5)
    run_epochs(callback, model, [0.5, 0.4, 0.4, 0.3, 0.3])  # 4 epochs without improvement: two plateaus

    assert float(model.optimizer.learning_rate.numpy()) == pytest.approx(0.0025)


def test_a_resumed_run_keeps_the_best_so_far(tmp_path):
    model = tiny_model()
    run_epochs(best_epoch(tmp_path, patience=3), model, [0.5, 0.9, 0.6])

    resumed = best_epoch(tmp_path, patience=3)  # a new process, the same work folder
    assert resumed.best == {"epoch": 2, "value": 0.9, "last": 3}
    run_epochs(resumed, model, [0.7, 0.8], first_epoch=3)

    assert resumed.stopped and resumed.restore_best(model) and kernel(model) == 2


def test_a_first_score_of_nan_is_not_kept_and_a_later_one_is(tmp_path):
    model, lines = tiny_model(), []
    callback = BestEpoch(Monitor("val_score"), tmp_path, TrainConfig(patience=2), progress=lines.append)
    run_epochs(callback, model, [float("nan")])

    assert callback.best is None and not callback.stopped
    assert lines == ["epoch 1: val_score is nan: not an epoch to keep"]
    run_epochs(callback, model, [0.4, float("nan")], first_epoch=1)
    assert callback.best == {"epoch": 2, "value": 0.4, "last": 3}
