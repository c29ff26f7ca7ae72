"""How long training runs: the config's epochs, or to convergence (a cap from the first epoch's updates, early
stopping, a lower learning rate on plateaus), within a wall-clock budget; and the line that says why it ended."""

from __future__ import annotations

import pytest

from components.train.callbacks import BestEpoch, EpochHistory, TrainingLength
from kinds.base.recipe import Monitor
from pipeline import config
from pipeline.config import TrainConfig, epochs_to_converge
from tests.unit.test_best_epoch import run_epochs, tiny_model


def history_of(tmp_path, *epochs: tuple[int, float]) -> EpochHistory:
    """A history of epochs given as (updates since training began, seconds the epoch took)."""
    history = EpochHistory(tmp_path / "epochs.jsonl")
    for updates, seconds in epochs:
        history.append({"loss": 1.0, "updates": updates, "epoch_seconds": seconds})
    return history


def best_epoch(tmp_path, train: TrainConfig, scores: list[float]) -> BestEpoch:
    best = BestEpoch(Monitor("val_score"), tmp_path, train, progress=lambda line: None)
    run_epochs(best, tiny_model(), scores)
    return best


@pytest.mark.parametrize(("updates", "cap"), [(1, 100), (40, 100), (50, 80), (120, 34), (400, 10), (10_000, 10)])
def test_the_cap_gives_a_few_thousand_updates_and_more_epochs_to_a_small_corpus(updates, cap):
    assert epochs_to_converge(updates) == cap
    assert config.CONVERGENCE_MIN_EPOCHS <= cap <= config.CONVERGENCE_MAX_EPOCHS


def test_leaving_the_epochs_out_trains_to_convergence_with_patience_and_plateaus():
    converging, fixed = TrainConfig(), TrainConfig(epochs=6)

    assert converging.converges and not fixed.converges
    assert (converging.stopping_patience, converging.plateau_patience) == (
        config.CONVERGENCE_PATIENCE,
        config.CONVERGENCE_LR_PATIENCE,
    )
    assert (fixed.stopping_patience, fixed.plateau_patience) == (0, 0)  # a fixed run trains all its epochs
    given = TrainConfig(patience=7, lr_patience=0)
    assert (given.stopping_patience, given.plateau_patience) == (7, 0)


def test_the_cap_is_known_after_the_first_epoch_and_stays_on_resume(tmp_path):
    length = TrainingLength(TrainConfig(), history_of(tmp_path))
    assert length.cap is None

    length.history.append({"loss": 1.0, "updates": 120, "epoch_seconds": 5.0})
    assert length.cap == 34
    assert "train.epochs = 34, the cap of training to convergence: 120 updates an epoch" in length.choice()
    resumed = TrainingLength(TrainConfig(), EpochHistory(tmp_path / "epochs.jsonl"))  # a new process
    resumed.history.append({"loss": 1.0, "updates": 245, "epoch_seconds": 5.0})  # epoch 2 had a few more
    assert resumed.cap == 34


def test_a_fixed_run_has_its_epochs_as_the_cap(tmp_path):
    assert TrainingLength(TrainConfig(epochs=6), history_of(tmp_path)).cap == 6


def test_no_epoch_is_begun_that_would_end_past_the_budget(tmp_path):
    train = TrainConfig(max_minutes=1.0)
    assert not TrainingLength(train, history_of(tmp_path / "a")).out_of_time()  # nothing to go by yet
    assert not TrainingLength(train, history_of(tmp_path / "b", (10, 20.0), (20, 20.0))).out_of_time()  # 40 + 20
    over = TrainingLength(train, history_of(tmp_path / "c", (10, 20.0), (20, 21.0)))  # 41 + 20.5 > 60
    assert over.out_of_time()
    assert not TrainingLength(TrainConfig(), history_of(tmp_path / "d", (10, 9e9))).out_of_time()  # no budget


def test_why_training_stopped(tmp_path):
    history = history_of(tmp_path / "h", (100, 30.0), (200, 30.0), (300, 30.0), (400, 30.0), (500, 30.0))
    patient = TrainConfig(patience=3)
    stopped = best_epoch(tmp_path / "a", patient, [0.5, 0.6, 0.6, 0.55, 0.58])
    assert TrainingLength(patient, history).why_stopped(stopped) == "val_score has not improved for 3 epochs"

    timed = TrainConfig(max_minutes=2.5)
    improving = best_epoch(tmp_path / "b", timed, [0.1, 0.2, 0.3, 0.4, 0.5])
    assert TrainingLength(timed, history).why_stopped(improving) == (
        "another epoch would end past train.max_minutes = 2.5 (2.5 minutes so far)"
    )
    capped = TrainConfig(max_minutes=60.0)
    assert TrainingLength(capped, history).why_stopped(improving) == "the cap of training to convergence, 40 epochs"
    fixed = TrainConfig(epochs=5)
    assert TrainingLength(fixed, history).why_stopped(improving) == "train.epochs = 5"


def test_a_large_eval_split_is_scored_each_epoch_on_a_fixed_sample():
    import tensorflow as tf

    from kinds.base.epoch_score import SAMPLE_EXAMPLES, fixed_sample

    lines = []
    batches = tf.data.Dataset.range(5000).batch(64)
    small = fixed_sample(tf.data.Dataset.range(100).batch(64), 64, 100, lines.append)
    assert sum(int(tf.size(batch)) for batch in small) == 100 and lines == []

    sample = [int(value) for batch in fixed_sample(batches, 64, 5000, lines.append) for value in batch]
    assert sample == list(range(len(sample))) and SAMPLE_EXAMPLES <= len(sample) < SAMPLE_EXAMPLES + 64
    assert lines == [
        "each epoch's val_greedy_bleu scores a fixed sample: the first 2,048 of the 5,000 eval examples in shard "
        "order (which is by content); the evaluate stage scores them all"
    ]


def test_a_resumed_run_goes_on_with_the_lowered_learning_rate(tmp_path):
    from components.train.callbacks import TrainingCheckpoint

    model = tiny_model()
    model.optimizer.build(model.trainable_variables)  # as training has, by the time it checkpoints
    callback = BestEpoch(Monitor("val_score"), tmp_path, TrainConfig(lr_patience=1), progress=lambda line: None)
    run_epochs(callback, model, [0.5, 0.4])  # one epoch without improvement: the rate halves
    TrainingCheckpoint(model, tmp_path).save(2, 0)  # the trainer's checkpoint at that epoch's end

    resumed = tiny_model()  # a new process
    assert TrainingCheckpoint(resumed, tmp_path).restore()
    assert float(resumed.optimizer.learning_rate.numpy()) == pytest.approx(0.005)
    again = BestEpoch(Monitor("val_score"), tmp_path, TrainConfig(lr_patience=1), progress=lambda line: None)
    assert again.best == {"epoch": 1, "value": 0.5, "last": 2} and again.epochs_without_improvement == 1
