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
        self, context: StageContext, history: EpochHistory, tokens_per_epoch: int, epochs: int, every: int = 100
    ) -> None:
        super().__init__()
        self.context = context
        self.history = history
        self.tokens_per_epoch = tokens_per_epoch
        self.epochs = epochs
        self.every = every

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch + 1
        self.started = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        if (batch + 1) % self.every == 0:
            self.context.progress(f"epoch {self.epoch}/{self.epochs}: batch {batch + 1}, loss {logs['loss']:.4f}")

    def on_epoch_end(self, epoch, logs=None):
        seconds = time.perf_counter() - self.started
        metrics = {**logs, "tokens_per_second": self.tokens_per_epoch / seconds, "epoch_seconds": seconds}
        metrics = {key: float(value) for key, value in metrics.items()}
        self.context.log.metrics(metrics, step=epoch + 1)
        if math.isfinite(metrics["loss"]):  # an epoch stopped by a NaN loss is not history to resume from
            self.history.append(metrics)
        shown = ", ".join(f"{key} {value:.4f}" for key, value in logs.items())
        self.context.progress(f"epoch {epoch + 1}/{self.epochs} in {seconds:.0f}s: {shown}")
