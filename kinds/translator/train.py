"""The translator's train recipe: sentence pairs, teacher forced, with the curriculum's scheduled sampling."""

from __future__ import annotations

import pathlib

import keras
import tensorflow as tf

from components.train.recipe import Monitor, Recipe
from models import input_pipeline
from models.seq2seq import TranslatorSizes, build_translator
from pipeline import artifacts
from pipeline.component import StageContext


class TranslatorRecipe(Recipe):
    """A translator: sizes from the source and target vocabularies; batches of sentence pairs, teacher forced."""

    def __init__(self, params, vocabulary, schedule=None) -> None:
        super().__init__(params, vocabulary, schedule)
        names = ("words", "words") if "words" in vocabulary.names() else ("source_words", "target_words")
        self.sizes = TranslatorSizes(*(len(vocabulary.tokens(name)) for name in names))

    def build(self) -> keras.Model:
        return build_translator(
            self.sizes, self.params.model, attention=self.params.model.attention, scheduled_sampling=self.feed
        )

    @property
    def feed(self) -> str | None:
        """How the decoder is fed its own predictions, or None when the schedule never leaves teacher forcing."""
        if self.schedule is None or self.schedule.teacher_forcing_only:
            return None
        return self.schedule.feed

    def monitor(self) -> Monitor:
        # The eval cross-entropy per target token, teacher forced: BLEU needs a beam search of the whole
        # eval split, too slow to run after every epoch on a CPU.
        return Monitor("val_loss", higher_is_better=False)

    def callbacks(self, context: StageContext, model: keras.Model, eval_files, folder: pathlib.Path) -> list:
        return [] if self.schedule is None else [ScheduledSampling(self.schedule, model)]

    def dataset(self, files: list[pathlib.Path], seed: int | None = None) -> tf.data.Dataset:
        train = self.params.train
        if seed is None:
            return input_pipeline.translator_dataset(files, train.batch_size)
        return input_pipeline.translator_dataset(
            files, train.batch_size, shuffle_buffer=train.shuffle_buffer, seed=seed
        )


class ScheduledSampling(keras.callbacks.Callback):
    """Moves the decoder's teacher-forcing probability ε along the curriculum's schedule.

    The position is the optimizer's step count (checkpointed with the optimizer, so a resumed run goes
    on where it was) or the epoch. Each epoch's ε is logged as `teacher_forcing_probability`.
    """

    def __init__(self, schedule: artifacts.Schedule, model: keras.Model) -> None:
        super().__init__()
        self.schedule = schedule
        self.translator = model

    def position(self, epoch: int) -> int:
        return int(self.translator.optimizer.iterations.numpy()) if self.schedule.unit == "step" else epoch

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch
        self.translator.teacher_forcing_probability.assign(self.schedule.epsilon(self.position(epoch)))

    def on_train_batch_begin(self, batch, logs=None):
        if self.schedule.unit == "step":
            self.translator.teacher_forcing_probability.assign(self.schedule.epsilon(self.position(self.epoch)))

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["teacher_forcing_probability"] = float(self.translator.teacher_forcing_probability.numpy())
