"""Train executor: fits the task's Keras model (the kind's recipe) on the training shards.

Training survives a crash: every `train.checkpoint_every` steps and at each epoch's end the model,
the optimizer and the position in the data are checkpointed to the stage's work folder, and a rerun
of the same stage resumes there. Each epoch's batches come from a dataset seeded by the epoch, so the
resumed run sees the same batches, in the same order, as one that never stopped. The recipes are the
kinds' (`kinds/<kind>/train.py`); the callbacks every kind shares are in `callbacks.py`.
"""

from __future__ import annotations

import json
import warnings

import keras
import tensorflow as tf

import kinds
from components.train.callbacks import (
    BestEpoch,
    CheckpointEvery,
    EpochHistory,
    EpochLogger,
    NonFiniteLossGuard,
    TrainingCheckpoint,
    TrainingLength,
)
from kinds.base import held_out
from kinds.base.parameters import TrainParameters
from kinds.base.plots import plot_learning_curves
from kinds.base.recipe import compile_model
from pipeline import artifacts, config, runtime
from pipeline.component import StageContext
from pipeline.errors import TrainingError


def run(context: StageContext) -> None:
    params: TrainParameters = context.parameters
    strategy = runtime.start_strategy(params.train.strategy)  # first: a cluster is joined before any op
    shards: artifacts.Shards = context.input("shards")
    vocabulary: artifacts.Vocabulary = context.input("vocabulary")
    model_artifact: artifacts.Model = context.output("model")
    seed = context.seed if params.train.seed is None else params.train.seed
    keras.utils.set_random_seed(seed)

    # The kind's recipe; a kind with a curriculum also gets its scheduled-sampling schedule.
    recipe = kinds.get(params.kind).load("recipe")(params, vocabulary, context.inputs.get("schedule"))
    manifest = shards.manifest()["splits"]
    upstream = upstream_inputs(context.inputs)
    fitted = []
    if upstream:  # the models of other tasks this one reads, which must not have seen its held-out records
        held_out.check(context.task, context.input("examples"), {name: up["examples"] for name, up in upstream.items()})
        fitted += recipe.use_upstream(upstream)
    fitted += recipe.fit_to_corpus(shards)
    for choice in fitted:
        # Under its own name: the config's value of the key is a param of the run already, and MLflow
        # does not let a param change.
        context.log.params({f"fitted.{choice.key}": choice.value})
        context.progress(f"{choice.key} = {choice.value}: {choice.reason}")
    with strategy.scope():  # the model's and the optimizer's variables are placed by the strategy
        model = recipe.build()
        compile_model(model, params.train, loss=recipe.loss(), accuracy=recipe.accuracy())
    _work_around_keras_multi_worker(model, strategy)
    if strategy.num_replicas_in_sync > 1:
        context.progress(f"training on {strategy.num_replicas_in_sync} replicas ({params.train.strategy})")
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
        f"{manifest['train']['tokens']:,} tokens an epoch"
    )
    guard = NonFiniteLossGuard()
    monitor, train_config = recipe.monitor(), params.train
    best = BestEpoch(monitor, context.work_dir, train_config, context.progress)
    length = TrainingLength(train_config, history)
    if train_config.converges and not history.epochs:
        context.progress(
            f"training to convergence (train.epochs left out): early stopping when {monitor.key} has not "
            f"improved for {train_config.stopping_patience} epochs, the learning rate times {train_config.lr_factor:g} "
            f"after each {train_config.plateau_patience} without; the epoch cap follows the first epoch's updates"
        )
    # The recipe's callbacks add their eval scores to the logs before the best epoch is chosen by them; the
    # logger goes before the checkpoint: an epoch is checkpointed as done only once it is logged.
    callbacks = [
        guard,
        *recipe.callbacks(context, model, eval_files, model_artifact.uri),
        best,
        EpochLogger(context, history, manifest["train"]["tokens"], length),
        CheckpointEvery(checkpoint, params.train.checkpoint_every, guard),
    ]
    # The bucketed dataset's length is unknown until the first epoch ends; Keras warns about that.
    warnings.filterwarnings("ignore", message="Your input ran out of data")
    epoch = checkpoint.epoch
    while length.cap is None or epoch < length.cap:
        if best.stopped or length.out_of_time():
            break
        train = recipe.dataset(shards.files("train"), seed=seed + epoch)
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
        epoch += 1
        if train_config.converges and epoch == 1:
            context.log.params({"fitted.train.epochs": length.cap})
            context.progress(length.choice())

    stopped = f"stopped after epoch {len(history.epochs)}: {length.why_stopped(best)}"

    kept = keep_best_epoch(context, model, best, monitor, train_config.keep_best, stopped)
    model.save(model_artifact.path)
    curves = history.as_keras_history()
    (model_artifact.uri / "history.json").write_text(json.dumps(curves, indent=2) + "\n")
    model_args = {"kind": params.kind, "sizes": vars(recipe.sizes), "model": config.to_dict(params.model)}
    model_args["preprocess"] = config.to_dict(params.preprocess)  # how the units were cut, for a task that reads it
    model_args["fitted"] = {choice.key: choice.value for choice in fitted}  # what the recipe chose instead
    (model_artifact.uri / "model_args.json").write_text(json.dumps(model_args, indent=2) + "\n")
    context.log.artifact(plot_learning_curves(curves, model_artifact.uri / "learning_curves.png"), "plots")
    for path in (model_artifact.path, model_artifact.uri / "model_args.json"):
        context.log.artifact(path, "model")
    model_artifact.properties["facts"] = recipe.facts()
    model_artifact.properties.update(
        {"parameters": model.count_params(), "epochs": len(history.epochs), "kept_epoch": kept}
    )


def upstream_inputs(inputs) -> dict[str, dict[str, artifacts.Artifact]]:
    """The inputs named `upstream.TASK.OUTPUT` (outputs of the tasks this one reads, see dag.py), by task and
    output, the tasks in the order the config names them."""
    found: dict[str, dict[str, artifacts.Artifact]] = {}
    for name, artifact in inputs.items():
        if name.startswith("upstream."):
            task, _, output = name.removeprefix("upstream.").rpartition(".")
            found.setdefault(task, {})[output] = artifact
    return found


def keep_best_epoch(
    context: StageContext, model: keras.Model, best: BestEpoch, monitor, keep_best: bool, stopped: str
) -> int | None:
    """Puts the best epoch's weights back when `keep_best`, and says, after why training `stopped`, which epoch
    the model is; the epoch kept."""
    if best.best is None:
        context.progress(f"{stopped}; no eval score ({monitor.key}) to choose an epoch by: the model is the last's")
        return None
    chosen, last = best.best["epoch"], best.best["last"]
    if not keep_best or chosen == last:
        context.log.params({"train.kept_epoch": last})
        why = "its best" if chosen == last else f"the best was epoch {chosen}'s, and train.keep_best is off"
        context.progress(f"{stopped}; the model is the last epoch's ({monitor.key}: {why})")
        return last
    best.restore_best(model)
    context.log.params({"train.kept_epoch": chosen})
    context.progress(
        f"{stopped}; kept epoch {chosen}: its {monitor.key} {best.best['value']:.4f} is the best "
        "(train.keep_best; the last epoch's is in the history)"
    )
    return chosen


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
