"""Train executor: fits the task's Keras model on the training shards, validating on the eval shards.

Training survives a crash: every `train.checkpoint_every` steps and at each epoch's end the model,
the optimizer and the position in the data are checkpointed to the stage's work folder, and a rerun
of the same stage resumes there. Each epoch's batches come from a dataset seeded by the epoch, so the
resumed run sees the same batches, in the same order, as one that never stopped.
"""

from __future__ import annotations

import json
import math
import pathlib
import time
import warnings

import keras
import tensorflow as tf

from components.evaluate.plots import plot_learning_curves
from components.train.spec import TrainParameters
from models import input_pipeline, text
from models.classifier import ClassifierSizes, build_classifier
from models.language_model import (
    Generator,
    LanguageModelSizes,
    build_language_model,
    reset_states,
    stream_cross_entropy,
)
from models.seq2seq import TranslatorSizes, build_translator
from models.tagger import TaggerSizes, build_tagger
from pipeline import artifacts, config, runtime
from pipeline.component import StageContext
from pipeline.config import TrainConfig
from pipeline.errors import TrainingError


def run(context: StageContext) -> None:
    params: TrainParameters = context.parameters
    strategy = runtime.start_strategy(params.train.strategy)  # first: a cluster is joined before any op
    shards: artifacts.Shards = context.input("shards")
    vocabulary: artifacts.Vocabulary = context.input("vocabulary")
    model_artifact: artifacts.Model = context.output("model")
    keras.utils.set_random_seed(context.seed)

    recipe = RECIPES[params.kind](params, vocabulary)
    recipe.schedule = context.inputs.get("schedule")  # translators: the scheduled-sampling curriculum
    with strategy.scope():  # the model's and the optimizer's variables are placed by the strategy
        model = recipe.build()
        compile_model(model, params.train)
    _work_around_keras_multi_worker(model, strategy)
    if strategy.num_replicas_in_sync > 1:
        context.progress(f"training on {strategy.num_replicas_in_sync} replicas ({params.train.strategy})")
    manifest = shards.manifest()["splits"]
    eval_files = shards.files("eval") if "eval" in manifest else None
    validation = recipe.validation(eval_files) if eval_files else None
    if validation is not None:
        validation = shard_by_batch(validation)

    checkpoint = TrainingCheckpoint(model, context.work_dir)
    history = EpochHistory(context.work_dir / "epochs.jsonl")
    if checkpoint.restore():
        context.progress(f"resuming from the checkpoint at epoch {checkpoint.epoch + 1}, step {checkpoint.step}")
        history.truncate(checkpoint.epoch)  # an epoch logged but not checkpointed is trained again
        for epoch, logs in enumerate(history.epochs, start=1):  # epochs finished before the crash
            context.log.metrics(logs, step=epoch, forward=not context.log.continues_run)
    context.progress(
        f"{model.name}: {model.count_params():,} parameters; {manifest['train']['records']:,} examples, "
        f"{manifest['train']['tokens']:,} tokens a epoch"
    )
    guard = NonFiniteLossGuard()
    # The logger goes before the checkpoint: an epoch is checkpointed as done only once it is logged.
    callbacks = [
        guard,
        *recipe.callbacks(context, model, eval_files, model_artifact.uri),
        EpochLogger(context, history, manifest["train"]["tokens"], params.train.epochs),
        CheckpointEvery(checkpoint, params.train.checkpoint_every, guard),
    ]
    # The bucketed dataset's length is unknown until the first epoch ends; Keras warns about that.
    warnings.filterwarnings("ignore", message="Your input ran out of data")
    for epoch in range(checkpoint.epoch, params.train.epochs):
        train = recipe.dataset(shards.files("train"), seed=context.seed + epoch)
        with strategy.scope():
            model.fit(
                shard_by_batch(train.skip(checkpoint.step)),  # a resumed epoch goes on where it stopped
                validation_data=validation,
                initial_epoch=epoch,
                epochs=epoch + 1,
                shuffle=False,  # the dataset shuffles itself
                verbose=0,
                callbacks=callbacks,
            )
        if guard.failed_at:
            kept = (
                f"the last good checkpoint (epoch {checkpoint.epoch + 1}, step {checkpoint.step}) is kept in "
                f"{context.work_dir}"
                if checkpoint.saved
                else "no checkpoint was saved before it"
            )
            raise TrainingError(
                f"train: the loss became {guard.loss} at epoch {guard.failed_at[0]}, step {guard.failed_at[1]}; "
                f"{kept}; lower train.learning_rate or train.clip_norm"
            )

    model.save(model_artifact.path)
    curves = history.as_keras_history()
    (model_artifact.uri / "history.json").write_text(json.dumps(curves, indent=2) + "\n")
    model_args = {"kind": params.kind, "sizes": vars(recipe.sizes), "model": config.to_dict(params.model)}
    (model_artifact.uri / "model_args.json").write_text(json.dumps(model_args, indent=2) + "\n")
    context.log.artifact(plot_learning_curves(curves, model_artifact.uri / "learning_curves.png"), "plots")
    for path in (model_artifact.path, model_artifact.uri / "model_args.json"):
        context.log.artifact(path, "model")
    model_artifact.properties.update({"parameters": model.count_params(), "epochs": params.train.epochs})


def _work_around_keras_multi_worker(model: keras.Model, strategy: tf.distribute.Strategy) -> None:
    """Two Keras 3.15 failures with a multi-worker strategy, avoided.

    1. Keras builds a model it holds a strategy for from the first batch reduced across replicas,
       which fails for dict inputs of per-replica shapes (keras-team/keras#20329). The model is built
       already; with no strategy of its own, Keras takes the one whose scope `fit` runs in.
    2. Each step's logs are averaged over the workers along axis 0, which fails for scalars; the
       steps return them as one-element vectors instead, which that average turns back into scalars.
    """
    model._distribute_strategy = None
    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        model.train_step = _logs_as_vectors(model.train_step)
        model.test_step = _logs_as_vectors(model.test_step)


def _logs_as_vectors(step):
    def vector_step(data):
        return {name: tf.reshape(value, [1]) for name, value in step(data).items()}

    return vector_step


def shard_by_batch(dataset: tf.data.Dataset) -> tf.data.Dataset:
    """The dataset, split between the workers of a multi-worker strategy batch by batch.

    Every worker reads every shard and keeps its share of the (global) batches, which works for any
    number of shard files; a worker with no batch left waits for the others at the end of an epoch.
    """
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options)


class Recipe:
    """What the trainer needs of a kind: its model, its batches, its extra callbacks."""

    schedule = None  # the curriculum stage's `Schedule`, for kinds that use one

    def build(self) -> keras.Model:
        raise NotImplementedError

    def dataset(self, files: list[pathlib.Path], seed: int | None = None) -> tf.data.Dataset:
        """Training batches when `seed` is given (that epoch's order), else evaluation batches."""
        raise NotImplementedError

    def validation(self, files: list[pathlib.Path]) -> tf.data.Dataset | None:
        """The batches Keras validates on after each epoch; None when a callback does it instead."""
        return self.dataset(files)

    def callbacks(self, context: StageContext, model: keras.Model, eval_files, folder: pathlib.Path) -> list:
        return []


class TaggerRecipe(Recipe):
    """A tagger: sizes from the `words`, `chars` and `tags` vocabularies; batches of tagged sentences."""

    def __init__(self, params: TrainParameters, vocabulary: artifacts.Vocabulary) -> None:
        self.params = params
        self.sizes = TaggerSizes(*(len(vocabulary.tokens(name)) for name in ("words", "chars", "tags")))

    def build(self) -> keras.Model:
        return build_tagger(self.sizes, self.params.model)

    def dataset(self, files: list[pathlib.Path], seed: int | None = None) -> tf.data.Dataset:
        train = self.params.train
        if seed is None:
            return input_pipeline.tagger_dataset(files, train.batch_size, char_features=self.params.model.char_features)
        return input_pipeline.tagger_dataset(
            files,
            train.batch_size,
            char_features=self.params.model.char_features,
            shuffle_buffer=train.shuffle_buffer,
            seed=seed,
            word_dropout=train.word_dropout,
            tokens_per_batch=train.tokens_per_batch,
        )


class ClassifierRecipe(Recipe):
    """A sentence classifier: sizes from the `words` and `labels` vocabularies; batches of labelled texts."""

    def __init__(self, params: TrainParameters, vocabulary: artifacts.Vocabulary) -> None:
        self.params = params
        self.sizes = ClassifierSizes(len(vocabulary.tokens("words")), len(vocabulary.tokens("labels")))

    def build(self) -> keras.Model:
        return build_classifier(self.sizes, self.params.model)

    def dataset(self, files: list[pathlib.Path], seed: int | None = None) -> tf.data.Dataset:
        train = self.params.train
        if seed is None:
            return input_pipeline.classifier_dataset(files, train.batch_size)
        return input_pipeline.classifier_dataset(
            files,
            train.batch_size,
            shuffle_buffer=train.shuffle_buffer,
            seed=seed,
            word_dropout=train.word_dropout,
            tokens_per_batch=train.tokens_per_batch,
        )


class LanguageModelRecipe(Recipe):
    """A language model: a stateful model over `batch_size` streams of documents, windows of `train.bptt`.

    Keras's own validation would run through the stateful layers and scramble the streams' states, so
    a callback measures the eval split on a copy of the model, and writes samples, after each epoch.
    """

    def __init__(self, params: TrainParameters, vocabulary: artifacts.Vocabulary) -> None:
        self.params = params
        self.units = vocabulary.tokens("units")
        self.sizes = LanguageModelSizes(len(self.units))

    def build(self) -> keras.Model:
        return build_language_model(
            self.sizes, self.params.model, batch_size=self.params.train.batch_size, stateful=True
        )

    def dataset(self, files: list[pathlib.Path], seed: int | None = None) -> tf.data.Dataset:
        train = self.params.train
        streams = input_pipeline.language_model_streams(
            input_pipeline.read_documents(files), train.batch_size, train.bptt, seed
        )
        return input_pipeline.language_model_dataset(streams, train.bptt)

    def validation(self, files: list[pathlib.Path]) -> None:
        return None

    def callbacks(self, context: StageContext, model: keras.Model, eval_files, folder: pathlib.Path) -> list:
        evaluation = self.dataset(eval_files) if eval_files else None
        return [ResetStates(), StreamEvaluation(self, model, evaluation), Samples(self, context, model, folder)]


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
        self.separator = "" if recipe.params.tokenizer == "characters" else " "
        self.folder = pathlib.Path(folder) / "samples"
        self.generate = tf.function(Generator(model).generate)

    def on_epoch_end(self, epoch, logs=None):
        start = tf.constant([[text.START_ID]], tf.int32)
        lines = []
        for temperature in (self.train.sample_temperature, 0.0):
            ids = self.generate(
                start, tf.constant([1]), tf.constant(self.train.sample_length), tf.constant(temperature), seed=epoch
            )
            sample = self.separator.join(self.units[i] for i in ids[0].numpy())
            lines.append(f"--- temperature {temperature}\n{sample}\n")
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"epoch_{epoch + 1:03d}.txt"
        path.write_text("".join(lines), encoding="utf-8")
        self.context.log.artifact(path, "samples")
        first = lines[0].split("\n", 1)[1].replace("\n", " ")[:100]
        self.context.progress(f"sample after epoch {epoch + 1}: {first!r}")


class TranslatorRecipe(Recipe):
    """A translator: sizes from the source and target vocabularies; batches of sentence pairs, teacher forced."""

    def __init__(self, params: TrainParameters, vocabulary: artifacts.Vocabulary) -> None:
        self.params = params
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

    def callbacks(self, context: StageContext, model: keras.Model, eval_files, folder: pathlib.Path) -> list:
        return [] if self.schedule is None else [ScheduledSampling(self.schedule, model)]

    def dataset(self, files: list[pathlib.Path], seed: int | None = None) -> tf.data.Dataset:
        train = self.params.train
        if seed is None:
            return input_pipeline.translator_dataset(files, train.batch_size)
        return input_pipeline.translator_dataset(
            files, train.batch_size, shuffle_buffer=train.shuffle_buffer, seed=seed
        )


RECIPES = {
    "tagger": TaggerRecipe,
    "classifier": ClassifierRecipe,
    "language_model": LanguageModelRecipe,
    "translator": TranslatorRecipe,
}


def compile_model(model: keras.Model, train: TrainConfig, jit_compile: bool = False) -> None:
    """Adam with gradients clipped by global norm, (masked) cross-entropy, accuracy.

    `jit_compile` (XLA) is for the throughput benchmark: on this CPU it trains the tagger 12 times
    slower than plain graph mode (benchmarks/train_throughput.py), so the trainer leaves it off.
    """
    model.compile(
        optimizer=keras.optimizers.Adam(train.learning_rate, global_clipnorm=train.clip_norm),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        weighted_metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
        jit_compile=jit_compile,
    )


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
