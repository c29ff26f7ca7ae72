"""The trainer's own callbacks, the same for every kind: checkpoints to resume from, the NaN guard, epoch logs.

Training survives a crash: every `train.checkpoint_every` steps and at each epoch's end the model,
the optimizer and the position in the data are checkpointed to the stage's work folder, and a rerun
of the same stage resumes there.
"""

from __future__ import annotations

import json
import math
import pathlib
import time

import keras
import tensorflow as tf

from pipeline.component import StageContext
from pipeline.config import CONVERGENCE_MAX_EPOCHS, CONVERGENCE_MIN_EPOCHS, CONVERGENCE_UPDATES, epochs_to_converge


class TrainingCheckpoint:
    """The model, the optimizer and the position in training, saved with `tf.train.CheckpointManager`.

    Attributes:
        epoch: the epoch (0-based) training is in.
        step: batches of that epoch already trained on.
    """

    def __init__(self, model: keras.Model, folder: pathlib.Path) -> None:
        self._epoch = tf.Variable(0, dtype=tf.int64)
        self._step = tf.Variable(0, dtype=tf.int64)
        self.model = model
        self._checkpoint = tf.train.Checkpoint(
            model=model, optimizer=model.optimizer, epoch=self._epoch, step=self._step
        )
        self._manager = tf.train.CheckpointManager(self._checkpoint, str(folder / "checkpoints"), max_to_keep=1)

    @property
    def epoch(self) -> int:
        return int(self._epoch.numpy())

    @property
    def step(self) -> int:
        return int(self._step.numpy())

    @property
    def saved(self) -> bool:
        return self._manager.latest_checkpoint is not None

    def restore(self) -> bool:
        """Restores the latest checkpoint, if any; True when training resumes from one."""
        if self._manager.latest_checkpoint is None:
            return False
        self.model.optimizer.build(self.model.trainable_variables)  # its slots must exist to be restored
        self._checkpoint.restore(self._manager.latest_checkpoint).assert_existing_objects_matched()
        return True

    def save(self, epoch: int, step: int) -> None:
        self._epoch.assign(epoch)
        self._step.assign(step)
        self._manager.save()


class NonFiniteLossGuard(keras.callbacks.Callback):
    """Stops training at the first NaN or infinite loss, remembering where."""

    def __init__(self) -> None:
        super().__init__()
        self.failed_at: tuple[int, int] | None = None
        self.loss = math.nan

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = float(logs["loss"])
        if not math.isfinite(loss) and self.failed_at is None:
            self.failed_at, self.loss = (self.epoch + 1, batch + 1), loss
            self.model.stop_training = True


class CheckpointEvery(keras.callbacks.Callback):
    """Checkpoints every `every` steps and at each epoch's end, never after a non-finite loss."""

    def __init__(self, checkpoint: TrainingCheckpoint, every: int, guard: NonFiniteLossGuard) -> None:
        super().__init__()
        self.checkpoint = checkpoint
        self.every = every
        self.guard = guard

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch
        self.offset = self.checkpoint.step if epoch == self.checkpoint.epoch else 0

    def on_train_batch_end(self, batch, logs=None):
        step = self.offset + batch + 1
        if self.every and step % self.every == 0 and not self.guard.failed_at:
            self.checkpoint.save(self.epoch, step)

    def on_epoch_end(self, epoch, logs=None):
        if not self.guard.failed_at:
            self.checkpoint.save(epoch + 1, 0)


class EpochHistory:
    """Each finished epoch's logs, one JSON line each in the work folder, so a resumed run has them all."""

    def __init__(self, path: pathlib.Path) -> None:
        self.path = path
        self.epochs: list[dict[str, float]] = []
        if path.exists():
            self.epochs = [json.loads(line) for line in path.read_text().splitlines() if line]

    def truncate(self, epochs: int) -> None:
        """Keeps the first `epochs` epochs only."""
        self.epochs = self.epochs[:epochs]
        self._write()

    def append(self, logs: dict[str, float]) -> None:
        self.epochs.append(logs)
        self._write()

    def _write(self) -> None:
        # Written whole and renamed into place: a kill mid-write must not lose the epochs before.
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".partial")
        temporary.write_text("".join(json.dumps(logs) + "\n" for logs in self.epochs))
        temporary.replace(self.path)

    def as_keras_history(self) -> dict[str, list[float]]:
        keys = dict.fromkeys(key for logs in self.epochs for key in logs)
        return {key: [logs.get(key, math.nan) for logs in self.epochs] for key in keys}


class EpochLogger(keras.callbacks.Callback):
    """Prints progress on the console and logs each epoch's metrics (with tokens/s) to the run."""

    def __init__(
        self,
        context: StageContext,
        history: EpochHistory,
        tokens_per_epoch: int,
        length: TrainingLength,
        every: int = 100,
    ) -> None:
        super().__init__()
        self.context = context
        self.history = history
        self.tokens_per_epoch = tokens_per_epoch
        self.length = length
        self.every = every

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch + 1
        self.started = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        if (batch + 1) % self.every == 0:
            self.context.progress(f"epoch {self.epoch}{self._of()}: batch {batch + 1}, loss {logs['loss']:.4f}")

    def on_epoch_end(self, epoch, logs=None):
        seconds = time.perf_counter() - self.started
        metrics = {
            **logs,
            "tokens_per_second": self.tokens_per_epoch / seconds,
            "epoch_seconds": seconds,
            "updates": int(self.model.optimizer.iterations.numpy()),  # since training began
        }
        metrics = {key: float(value) for key, value in metrics.items()}
        self.context.log.metrics(metrics, step=epoch + 1)
        if math.isfinite(metrics["loss"]):  # an epoch stopped by a NaN loss is not history to resume from
            self.history.append(metrics)
        shown = ", ".join(f"{key} {value:.4f}" for key, value in logs.items())
        self.context.progress(f"epoch {epoch + 1}{self._of()} in {seconds:.0f}s: {shown}")

    def _of(self) -> str:
        """ " of N" with the epochs training runs, " of at most N" when it runs to convergence, or nothing
        before the cap of training to convergence is known."""
        cap = self.length.cap
        if cap is None:
            return ""
        return f"/{cap}" if not self.length.converges else f" of at most {cap}"


class BestEpoch(keras.callbacks.Callback):
    """Keeps the weights of the epoch with the best eval score; early stopping and reduce-on-plateau.

    After each epoch the recipe's `Monitor` score (in the epoch's logs) is compared with the best so far;
    a better epoch's weights are saved to the work folder, with what is known of the best in `best.json`,
    both written whole and renamed into place, so a resumed run goes on with the best-so-far. An epoch
    without the score (no eval split) changes nothing.

    Args:
        monitor: the score and its direction (a `kinds.base.recipe.Monitor`).
        folder: the train stage's work folder.
        train: the `TrainConfig`: its `stopping_patience` (stop after this many epochs without a better
            score; 0: never), `plateau_patience` and `lr_factor` (multiply the learning rate by `lr_factor`
            after each `plateau_patience` epochs in a row without a better score; 0: never).
        progress: prints a progress line.

    Attributes:
        best: {"epoch" (1-based), "value", "last" (the last epoch scored)}, or None before any score.
    """

    def __init__(self, monitor, folder: pathlib.Path, train, progress) -> None:
        super().__init__()
        self.monitor = monitor
        self.weights_path = folder / "best.weights.h5"
        self.state_path = folder / "best.json"
        self.patience = train.stopping_patience
        self.lr_patience = train.plateau_patience
        self.lr_factor = train.lr_factor
        self.progress = progress
        self.best = json.loads(self.state_path.read_text()) if self.state_path.exists() else None

    @property
    def epochs_without_improvement(self) -> int:
        return 0 if self.best is None else self.best["last"] - self.best["epoch"]

    @property
    def stopped(self) -> bool:
        """Whether early stopping has ended training: `patience` epochs without a better score."""
        return bool(self.patience) and self.epochs_without_improvement >= self.patience

    def better(self, value: float) -> bool:
        if self.best is None:
            return math.isfinite(value)
        return value > self.best["value"] if self.monitor.higher_is_better else value < self.best["value"]

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor.key)
        if value is None:
            return
        value = float(value)
        if self.best is None and not math.isfinite(value):
            self.progress(f"epoch {epoch + 1}: {self.monitor.key} is {value}: not an epoch to keep")
            return
        if self.better(value):
            self.weights_path.parent.mkdir(parents=True, exist_ok=True)
            partial = self.weights_path.with_name("best.partial.weights.h5")
            self.model.save_weights(partial)
            partial.replace(self.weights_path)
            self.best = {"epoch": epoch + 1, "value": value}
        self.best["last"] = epoch + 1
        self._write_state()
        waited = self.epochs_without_improvement
        if waited and self.lr_patience and waited % self.lr_patience == 0:
            rate = self.model.optimizer.learning_rate
            rate.assign(rate * self.lr_factor)
            self.progress(
                f"{self.monitor.key} has not improved for {waited} epochs: learning rate now {float(rate.numpy()):.3g}"
            )

    def _write_state(self) -> None:
        temporary = self.state_path.with_suffix(".partial")
        temporary.write_text(json.dumps(self.best) + "\n")
        temporary.replace(self.state_path)

    def restore_best(self, model: keras.Model) -> bool:
        """Loads the best epoch's weights into `model`, unless the last epoch is the best; True if it did."""
        if self.best is None or self.best["epoch"] == self.best["last"]:
            return False
        model.load_weights(self.weights_path)
        return True


class TrainingLength:
    """How long training runs: the config's `train.epochs`, or to convergence (`train.epochs` left out), within
    `train.max_minutes`; and, when it ends, why.

    Training to convergence runs at most `epochs_to_converge` of the first epoch's updates (the cap is known
    once an epoch has ended) and stops early on the eval score (the `BestEpoch` callback's patience). The
    state is the epoch history (each epoch's `updates` and `epoch_seconds`), so a resumed run goes on with
    the same cap and the time already spent.

    Args:
        train: the task's `TrainConfig`.
        history: the run's `EpochHistory`.
    """

    def __init__(self, train, history: EpochHistory) -> None:
        self.train = train
        self.history = history

    @property
    def converges(self) -> bool:
        return self.train.converges

    @property
    def cap(self) -> int | None:
        """The most epochs training runs; None until the first epoch of training to convergence has ended."""
        if not self.converges:
            return self.train.epochs
        if not self.history.epochs:
            return None
        return epochs_to_converge(self.updates_per_epoch)

    @property
    def updates_per_epoch(self) -> int:
        return int(self.history.epochs[0]["updates"])

    @property
    def seconds(self) -> float:
        """The seconds the epochs so far took (those of a run before a resume included)."""
        return sum(logs["epoch_seconds"] for logs in self.history.epochs)

    def choice(self) -> str:
        """What training to convergence chose, once the cap is known: for the console."""
        return (
            f"train.epochs = {self.cap}, the cap of training to convergence: {self.updates_per_epoch:,} updates "
            f"an epoch, {self.cap} epochs make {self.cap * self.updates_per_epoch:,} (at least "
            f"{CONVERGENCE_MIN_EPOCHS} epochs or {CONVERGENCE_UPDATES:,} updates, at most {CONVERGENCE_MAX_EPOCHS} "
            "epochs; set train.epochs to choose)"
        )

    def out_of_time(self) -> bool:
        """Whether another epoch, as long as the mean one so far, would end past `train.max_minutes`."""
        done = len(self.history.epochs)
        if self.train.max_minutes is None or not done:
            return False
        return self.seconds + self.seconds / done > self.train.max_minutes * 60

    def why_stopped(self, best: BestEpoch) -> str:
        """Why training ended after the history's last epoch, in words."""
        done = len(self.history.epochs)
        if best.stopped:
            return f"{best.monitor.key} has not improved for {best.epochs_without_improvement} epochs"
        if self.out_of_time() and done < (self.cap or 0):
            minutes = self.seconds / 60
            return (
                f"another epoch would end past train.max_minutes = {self.train.max_minutes:g} "
                f"({minutes:.1f} minutes so far)"
            )
        if self.converges:
            return f"the cap of training to convergence, {self.cap} epochs"
        return f"train.epochs = {self.train.epochs}"
