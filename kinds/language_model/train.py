"""The language model's train recipe: a stateful model over `batch_size` streams of documents, cut into
windows of `train.bptt` steps (truncated backpropagation through time), and its callbacks.
"""

from __future__ import annotations

import math
import pathlib

import keras
import tensorflow as tf

from kinds.base.recipe import Choice, Monitor, Recipe
from models import input_pipeline, names, text
from models.language_model import (
    Generator,
    LanguageModelSizes,
    build_language_model,
    oriented,
    reset_states,
    stream_cross_entropy,
)
from pipeline.component import StageContext

# A small corpus in the kind's 64 streams makes an epoch of few updates (one 0.7 MB file: 175 of 64-step
# windows), and learns too little in a few epochs. When the kind chose `train.batch_size`, the streams
# are halved, down to `MIN_STREAMS`, until an epoch has at least `MIN_UPDATES_PER_EPOCH` updates: that
# file trains to 1.96 bits a character in 16 streams, against 2.29 in 64, in the same 6 epochs.
MIN_UPDATES_PER_EPOCH = 500
MIN_STREAMS = 8


def updates_per_epoch(units: int, streams: int, bptt: int) -> int:
    """The optimizer steps of an epoch: the corpus cut into `streams` equal streams of `bptt`-step windows."""
    return math.ceil(max(units - 1, 1) / streams / bptt)


def streams_for(units: int, streams: int, bptt: int) -> int:
    """`streams`, halved while an epoch has fewer than `MIN_UPDATES_PER_EPOCH` updates (not below `MIN_STREAMS`)."""
    while streams > MIN_STREAMS and updates_per_epoch(units, streams, bptt) < MIN_UPDATES_PER_EPOCH:
        streams = max(streams // 2, MIN_STREAMS)
    return streams


class LanguageModelRecipe(Recipe):
    """A language model: a stateful model over `batch_size` streams of documents, windows of `train.bptt`.

    Keras's own validation would run through the stateful layers and scramble the streams' states, so
    a callback measures the eval split on a copy of the model, and writes samples, after each epoch.
    """

    def __init__(self, params, vocabulary, schedule=None) -> None:
        super().__init__(params, vocabulary, schedule)
        self.units = vocabulary.tokens("units")
        self.sizes = LanguageModelSizes(len(self.units))
        self.streams = params.train.batch_size

    def fit_to_corpus(self, shards) -> list[Choice]:
        if "batch_size" not in self.params.chosen_by_kind:
            return []  # the config's own number of streams, whatever the corpus
        train = self.params.train
        units = shards.manifest()["splits"]["train"]["tokens"]
        self.streams = streams_for(units, train.batch_size, train.bptt)
        if self.streams == train.batch_size:
            return []
        reason = (
            f"{units:,} training units in {train.batch_size} streams of {train.bptt}-step windows would make "
            f"{updates_per_epoch(units, train.batch_size, train.bptt):,} updates an epoch; {self.streams} make "
            f"{updates_per_epoch(units, self.streams, train.bptt):,} (set train.batch_size to choose)"
        )
        return [Choice("train.streams", self.streams, reason)]

    def build(self) -> keras.Model:
        return build_language_model(self.sizes, self.params.model, batch_size=self.streams, stateful=True)

    def dataset(self, files: list[pathlib.Path], seed: int | None = None) -> tf.data.Dataset:
        train = self.params.train
        documents = oriented(input_pipeline.read_documents(files), self.params.model.direction)
        streams = input_pipeline.language_model_streams(documents, self.streams, train.bptt, seed)
        return input_pipeline.language_model_dataset(streams, train.bptt)

    def validation(self, files: list[pathlib.Path]) -> None:
        return None

    def monitor(self) -> Monitor:
        return Monitor("val_bits_per_unit", higher_is_better=False)  # logged by `StreamEvaluation`

    def callbacks(self, context: StageContext, model: keras.Model, eval_files, folder: pathlib.Path) -> list:
        evaluation = self.dataset(eval_files) if eval_files else None
        return [ResetStates(), StreamEvaluation(self, model, evaluation), Samples(self, context, model, folder)]


class ResetStates(keras.callbacks.Callback):
    """Each epoch starts every stream from a zero state."""

    def on_epoch_begin(self, epoch, logs=None):
        reset_states(self.model)


class StreamEvaluation(keras.callbacks.Callback):
    """After each epoch: `val_loss` (nats per unit) and `val_bits_per_unit` on the eval streams."""

    def __init__(self, recipe: LanguageModelRecipe, model: keras.Model, dataset: tf.data.Dataset | None) -> None:
        super().__init__()
        self.dataset = dataset
        self.copy = recipe.build() if dataset is not None else None
        self.trained = model

    def on_epoch_end(self, epoch, logs=None):
        if self.dataset is None or logs is None:
            return
        self.copy.set_weights(self.trained.get_weights())
        nats = stream_cross_entropy(self.copy, self.dataset)
        logs["val_loss"] = nats
        logs["val_bits_per_unit"] = nats / math.log(2)


class Samples(keras.callbacks.Callback):
    """After each epoch, text the model writes from nothing (sampled and greedy), logged to MLflow.

    The "train more" progression of char-rnn: from noise to words, to punctuation, to dialogue.
    """

    def __init__(self, recipe: LanguageModelRecipe, context: StageContext, model: keras.Model, folder) -> None:
        super().__init__()
        self.context = context
        self.units = recipe.units
        self.train = recipe.params.train
        self.separator = names.joiner(recipe.params.preprocess.tokenizer)
        self.backward = recipe.params.model.direction == "backward"  # its text written from the end
        self.folder = pathlib.Path(folder) / "samples"
        self.generate = tf.function(Generator(model).generate)

    def on_epoch_end(self, epoch, logs=None):
        start = tf.constant([[text.START_ID]], tf.int32)
        lines = []
        for temperature in (self.train.sample_temperature, 0.0):
            ids = self.generate(
                start, tf.constant([1]), tf.constant(self.train.sample_length), tf.constant(temperature), seed=epoch
            )
            written = [self.units[i] for i in ids[0].numpy()]
            sample = self.separator.join(written[::-1] if self.backward else written)
            lines.append(f"--- temperature {temperature}\n{sample}\n")
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"epoch_{epoch + 1:03d}.txt"
        path.write_text("".join(lines), encoding="utf-8")
        self.context.log.artifact(path, "samples")
        first = lines[0].split("\n", 1)[1].replace("\n", " ")[:100]
        self.context.progress(f"sample after epoch {epoch + 1}: {first!r}")
