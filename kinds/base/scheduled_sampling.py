"""Scheduled sampling's callback, shared by the decoder kinds (translator, captioner): it moves the decoder's
teacher-forcing probability along the schedule the curriculum stage wrote (Bengio et al. 2015)."""

from __future__ import annotations

import keras

from pipeline import artifacts


class ScheduledSampling(keras.callbacks.Callback):
    """Moves the decoder's teacher-forcing probability ε along the curriculum's schedule.

    The position is the optimizer's step count (checkpointed with the optimizer, so a resumed run goes
    on where it was) or the epoch. Each epoch's ε is logged as `teacher_forcing_probability`.

    Args:
        schedule: the curriculum stage's `Schedule`.
        decoder: the model whose `teacher_forcing_probability` variable the decoder reads at each step.
    """

    def __init__(self, schedule: artifacts.Schedule, decoder: keras.Model) -> None:
        super().__init__()
        self.schedule = schedule
        self.decoder = decoder

    def position(self, epoch: int) -> int:
        return int(self.decoder.optimizer.iterations.numpy()) if self.schedule.unit == "step" else epoch

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch
        self.decoder.teacher_forcing_probability.assign(self.schedule.epsilon(self.position(epoch)))

    def on_train_batch_begin(self, batch, logs=None):
        if self.schedule.unit == "step":
            self.decoder.teacher_forcing_probability.assign(self.schedule.epsilon(self.position(self.epoch)))

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["teacher_forcing_probability"] = float(self.decoder.teacher_forcing_probability.numpy())
