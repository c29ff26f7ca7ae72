"""Train executor: fits the Keras tagger on the training shards, validating on the eval shards."""

from __future__ import annotations

import json
import time
import warnings

import keras

from components.evaluate.plots import plot_learning_curves
from components.train.spec import TrainParameters
from models import input_pipeline, text
from models.tagger import TaggerSizes, build_tagger
from pipeline import artifacts, config
from pipeline.component import StageContext


def run(context: StageContext) -> None:
    params: TrainParameters = context.parameters
    shards: artifacts.Shards = context.input("shards")
    vocabulary: artifacts.Vocabulary = context.input("vocabulary")
    model_artifact: artifacts.Model = context.output("model")
    keras.utils.set_random_seed(context.seed)

    sizes = TaggerSizes(*(len(vocabulary.tokens(name)) for name in ("words", "chars", "tags")))
    model = build_tagger(sizes, params.model)
    optimizer = keras.optimizers.Adam(params.train.learning_rate, global_clipnorm=params.train.clip_norm)
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        weighted_metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
    )
    manifest = shards.manifest()["splits"]
    train = input_pipeline.tagger_dataset(
        shards.files("train"),
        params.train.batch_size,
        char_features=params.model.char_features,
        shuffle_buffer=params.train.shuffle_buffer,
        seed=context.seed,
        word_dropout=params.train.word_dropout,
    )
    validation = None
    if "eval" in manifest:
        validation = input_pipeline.tagger_dataset(
            shards.files("eval"), params.train.batch_size, char_features=params.model.char_features
        )
    context.progress(
        f"{model.name}: {model.count_params():,} parameters; {manifest['train']['records']:,} sentences, "
        f"{manifest['train']['tokens']:,} tokens a epoch"
    )
    # The bucketed dataset's length is unknown until the first epoch ends; Keras warns about that.
    warnings.filterwarnings("ignore", message="Your input ran out of data")
    history = model.fit(
        train,
        validation_data=validation,
        epochs=params.train.epochs,
        shuffle=False,  # the dataset shuffles itself
        verbose=0,
        callbacks=[EpochLogger(context, manifest["train"]["tokens"], params.train.epochs)],
    )

    model.save(model_artifact.path)
    (model_artifact.uri / "history.json").write_text(json.dumps(history.history, indent=2) + "\n")
    model_args = {
        "sizes": vars(sizes),
        "model": config.to_dict(params.model),
        "reserved_tags": list(text.RESERVED_TAGS),
    }
    (model_artifact.uri / "model_args.json").write_text(json.dumps(model_args, indent=2) + "\n")
    curves = plot_learning_curves(history.history, model_artifact.uri / "learning_curves.png")
    context.log.artifact(curves, "plots")
    for path in (model_artifact.path, model_artifact.uri / "model_args.json"):
        context.log.artifact(path, "model")
    model_artifact.properties.update({"parameters": model.count_params(), "epochs": params.train.epochs})


class EpochLogger(keras.callbacks.Callback):
    """Prints progress on the console and logs each epoch's metrics (with tokens/s) to the run."""

    def __init__(self, context: StageContext, tokens_per_epoch: int, epochs: int, every: int = 100) -> None:
        super().__init__()
        self.context = context
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
        self.context.log.metrics(metrics, step=epoch + 1)
        shown = ", ".join(f"{key} {value:.4f}" for key, value in logs.items())
        self.context.progress(f"epoch {epoch + 1}/{self.epochs} in {seconds:.0f}s: {shown}")
