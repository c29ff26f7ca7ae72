"""What the train stage needs of a kind: the `Recipe` each kind's `train.py` fills in, and the shared compile."""

from __future__ import annotations

import dataclasses
import pathlib
from typing import Any

import keras
import tensorflow as tf

from kinds.base.parameters import TrainParameters
from pipeline import artifacts
from pipeline.component import StageContext
from pipeline.config import TrainConfig


@dataclasses.dataclass(frozen=True)
class Choice:
    """A training setting a recipe fitted to the corpus (or a fact of the corpus that bears on training):
    the config's `key` (the run's param `fitted.<key>`), its value, and why."""

    key: str
    value: Any
    reason: str


@dataclasses.dataclass(frozen=True)
class Monitor:
    """The per-epoch eval score that picks the best epoch: its key in the epoch's logs and its direction."""

    key: str
    higher_is_better: bool = True


class Recipe:
    """A kind's model, its batches and its extra callbacks.

    Args:
        params: the train stage's parameters.
        vocabulary: the preprocess stage's vocabularies (the model's sizes come from them).
        schedule: the curriculum stage's `Schedule`, for kinds that train with one.

    Attributes:
        sizes: a dataclass of what the model's shape takes from the data, saved beside the model.
    """

    sizes = None

    def __init__(
        self, params: TrainParameters, vocabulary: artifacts.Vocabulary, schedule: artifacts.Schedule | None = None
    ) -> None:
        self.params = params
        self.vocabulary = vocabulary
        self.schedule = schedule

    def use_upstream(self, upstream: dict[str, dict[str, artifacts.Artifact]]) -> list[Choice]:
        """Takes the outputs of the tasks this one reads (`model`, `vocabulary`, `examples` of each, by task name,
        in the order the config names them), before `build`; what it made of them. A kind whose settings name
        no other task never gets any."""
        raise NotImplementedError(f"{type(self).__name__} reads no other task's outputs")

    def fit_to_corpus(self, shards: artifacts.Shards) -> list[Choice]:
        """Fits settings to the corpus before `build`: those the kind chose (`params.chosen_by_kind`), and
        those that the corpus contradicts.

        Args:
            shards: the preprocess stage's shards (their manifest: records, tokens, lengths per split).

        Returns:
            what it chose, for the run's params and the console; by default nothing.
        """
        return []

    @property
    def feed(self) -> str | None:
        """How a decoder is fed its own predictions (the schedule's `feed`), or None without a schedule or when
        it never leaves teacher forcing."""
        if self.schedule is None or self.schedule.teacher_forcing_only:
            return None
        return self.schedule.feed

    def facts(self) -> dict[str, Any]:
        """What the recipe decided about the data that later stages must read the same way (a tagger: whether
        its tags are BIO), kept in the Model artifact's `facts` property; by default nothing."""
        return {}

    def build(self) -> keras.Model:
        raise NotImplementedError

    def dataset(self, files: list[pathlib.Path], seed: int | None = None) -> tf.data.Dataset:
        """Training batches when `seed` is given (that epoch's order), else evaluation batches."""
        raise NotImplementedError

    def validation(self, files: list[pathlib.Path]) -> tf.data.Dataset | None:
        """The batches Keras validates on after each epoch; None when a callback does it instead."""
        return self.dataset(files)

    def loss(self) -> keras.losses.Loss:
        """What training minimises; by default cross-entropy per real token (`token_loss`)."""
        return token_loss()

    def accuracy(self) -> keras.metrics.Metric:
        """The per-token accuracy logged each epoch as `accuracy`."""
        return keras.metrics.SparseCategoricalAccuracy(name="accuracy")

    def monitor(self) -> Monitor:
        """The eval score of each epoch that the best epoch is chosen by; by default Keras's `val_accuracy`."""
        return Monitor("val_accuracy")

    def callbacks(self, context: StageContext, model: keras.Model, eval_files, folder: pathlib.Path) -> list:
        """Callbacks of this kind besides the trainer's own (checkpoints, logging, the NaN guard)."""
        return []


def token_loss() -> keras.losses.Loss:
    """Cross-entropy per real token: the weighted sum over a batch divided by the sum of its weights.

    Every kind's batches weight padding (and a language model's `[START]` targets) 0, so the loss is
    the mean over the tokens that are predicted, whatever the padding fraction of a batch; Keras's
    default (`sum_over_batch_size`) would divide by every position, padding included.
    """
    return keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction="mean_with_sample_weight")


def compile_model(
    model: keras.Model,
    train: TrainConfig,
    jit_compile: bool = False,
    loss: keras.losses.Loss | None = None,
    accuracy: keras.metrics.Metric | None = None,
) -> None:
    """Adam with gradients clipped by global norm, the recipe's loss (default: cross-entropy per real
    token, `token_loss`) and accuracy (default: of the highest-scoring class).

    `jit_compile` (XLA) is for the throughput benchmark: on this CPU it trains the tagger 12 times
    slower than plain graph mode (benchmarks/train_throughput.py), so the trainer leaves it off.
    """
    model.compile(
        optimizer=keras.optimizers.Adam(train.learning_rate, global_clipnorm=train.clip_norm),
        loss=loss or token_loss(),
        weighted_metrics=[accuracy or keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
        jit_compile=jit_compile,
    )
