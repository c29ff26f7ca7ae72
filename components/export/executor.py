"""Export executor: a blessed model becomes a SavedModel that takes raw strings, validated, then pushed.

The same for every kind, with the kind's hooks (`kinds/<kind>/export.py`) and client (`client.py`):

1. Export: the Keras model, its tokenizer and vocabularies in one SavedModel (the kind's serving module).
2. Infra-validation (as TFX's InfraValidator): the SavedModel runs in a fresh process that imports only
   TensorFlow and tensorflow-text, on the examples the evaluate stage answered, and must answer them as
   the Keras model did there; degenerate inputs must give well-formed outputs. A mismatch fails the
   stage and nothing is pushed.
3. Push (as TFX's Pusher): to `serving/<N>/` (TF Serving's layout), logged to MLflow as a pyfunc
   model, and registered under the task's name. The `champion` alias moves to it only when it beats the
   current champion like for like: both SavedModels scored by the kind's same function on the same
   records (the split blessing was decided on, eval unless there is none) with the same rule (text
   compared case-insensitively when either model is lowercase); and only when the champion's training
   records share no input with those records. Otherwise the alias stays, and a line says why.
"""

from __future__ import annotations

import itertools
import json
import pathlib
import shutil
import tempfile
import warnings
from collections.abc import Callable

import tensorflow as tf

import kinds
from components.export.client_loader import load_client
from components.export.fresh_process import answers_from_a_fresh_process
from kinds.base.export import Export
from kinds.base.kind import BlessingRule
from kinds.base.parameters import ExportParameters
from pipeline import artifacts, locking, tracking
from pipeline.component import StageContext

PYFUNC_MODEL = pathlib.Path(__file__).with_name("pyfunc_model.py")
CLIENT_LOADER = pathlib.Path(__file__).with_name("client_loader.py")
MLFLOW_MODEL = "mlflow_model"


def run(context: StageContext) -> None:
    params: ExportParameters = context.parameters
    blessing: artifacts.Blessing = context.input("blessing")
    pushed: artifacts.PushedModel = context.output("pushed_model")
    if not blessing.blessed:
        pushed.properties.update({"pushed": False, "reason": f"not blessed: {blessing.properties['reason']}"})
        context.progress(f"nothing exported: the model is not blessed ({blessing.properties['reason']})")
        context.progress(blessing.way_out(context.task))
        return

    kind = kinds.get(params.kind)
    hooks: Export = kind.load("export")
    vocabulary: artifacts.Vocabulary = context.input("vocabulary")
    module = hooks.serving_module(context.input("model"), vocabulary, params)
    tf.saved_model.save(module, str(pushed.saved_model_path), signatures=module.signatures())
    evaluation: artifacts.Evaluation = context.input("evaluation")
    split = "eval" if evaluation.predictions_path("eval").exists() else "test"
    expected = list(itertools.islice(evaluation.predictions(split), params.export.validation_examples))
    expected, requests = hooks.requests(expected, params)
    options = {"max_length": params.export.max_length, "batch_size": params.evaluate_batch_size}
    answers = answers_from_a_fresh_process(pushed.saved_model_path, kind.client, requests, options)
    report = hooks.check(expected, answers)
    context.progress(f"infra-validation: {len(expected)} {split} examples answered alike in a fresh process")

    client_args = hooks.client_args(vocabulary) if hooks.client_args else None
    save_pyfunc_model(pushed.saved_model_path, pushed.uri / MLFLOW_MODEL, kind.client, client_args)
    # One push (and registration, and champion judgement) at a time per task: a sweep's variants may export
    # at once on a cluster.
    with locking.folder_lock(context.task_dir, "serving"):
        version = push(pushed.saved_model_path, context.task_dir / "serving")
        serving_dir = context.task_dir / "serving" / str(version)
        pushed.properties.update({"pushed": True, "version": version, "serving_dir": str(serving_dir), **report})
        context.log.artifact(pushed.saved_model_path, "saved_model")
        context.log.artifact(pushed.uri / MLFLOW_MODEL, MLFLOW_MODEL)
        context.progress(f"pushed version {version} to {serving_dir}")
        registry = context.log.registry
        if params.export.register and registry is not None:
            rule = kind.blessing.as_recorded(evaluation.properties)
            register(registry, context, pushed, version, hooks.champion_metric, rule)


def push(saved_model: pathlib.Path, serving_dir: pathlib.Path) -> int:
    """Copies a SavedModel to `serving_dir/<N>/` (TF Serving's layout), N one more than the newest; returns N."""
    serving_dir.mkdir(parents=True, exist_ok=True)
    versions = [int(p.name) for p in serving_dir.iterdir() if p.name.isdigit()]
    version = max(versions, default=0) + 1
    temporary = serving_dir / f".tmp-{version}"
    shutil.rmtree(temporary, ignore_errors=True)
    shutil.copytree(saved_model, temporary)
    temporary.rename(serving_dir / str(version))
    return version


def save_pyfunc_model(
    saved_model: pathlib.Path, path: pathlib.Path, client: pathlib.Path, client_args: dict | None = None
) -> None:
    """The SavedModel as an MLflow pyfunc model (`pyfunc_model.py`, loaded as code, no pickle) that answers
    through the kind's `client` module; `client_args` are keyword arguments of the client's `predict`."""
    import mlflow
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, ParamSchema, ParamSpec, Schema

    # A list of strings; the client's request parameters (a language model's `max_length`, `temperature`).
    defaults = load_client(client).PARAMS
    params = ParamSchema([ParamSpec(name, _param_type(value), value) for name, value in defaults.items()])
    signature = ModelSignature(inputs=Schema([ColSpec("string")]), params=params if defaults else None)
    artifacts_ = {"saved_model": str(saved_model), "client": str(client)}
    if client_args is not None:
        args = path.parent / "client_args.json"
        args.write_text(json.dumps(client_args, ensure_ascii=False))
        artifacts_["client_args"] = str(args)
    requirements = [f"tensorflow=={tf.__version__}", f"tensorflow-text=={_version('tensorflow-text')}"]
    # The signature is given, and an input example would make MLflow load and run the model once more.
    warnings.filterwarnings("ignore", message=".*(Add type hints to the `predict` method|input example was not)")
    mlflow.pyfunc.save_model(
        str(path),
        python_model=str(PYFUNC_MODEL),
        code_paths=[str(CLIENT_LOADER)],  # importable where the model loads, as it is in the infra-validator's
        artifacts=artifacts_,
        signature=signature,
        pip_requirements=requirements,
    )


def _param_type(value) -> str:
    return "integer" if isinstance(value, int) else "float" if isinstance(value, float) else "string"


def register(
    registry: tracking.Registry,
    context: StageContext,
    pushed: artifacts.PushedModel,
    serving_version: int,
    score: Callable[..., float],
    rule: BlessingRule,
) -> None:
    """Registers the pushed model; crowns it `champion` when there is none, or when it beats the champion
    like for like (`judge`)."""
    params: ExportParameters = context.parameters
    name = context.task
    tags = {"serving_version": str(serving_version), "kind": params.kind, "lowercase": str(params.preprocess.lowercase)}
    version = registry.register(name, MLFLOW_MODEL, tags)
    pushed.properties["registered_version"] = version
    champion = registry.champion(name)
    if champion is None:
        crown, verdict = True, "no champion yet"
    else:
        crown, verdict = judge(registry, champion, context, pushed.saved_model_path, score, rule)
    if crown:
        registry.crown(name, version)
    pushed.properties.update({"champion": crown, "champion_verdict": verdict})
    context.progress(f"registered {name} version {version}; {'now' if crown else 'not'} champion ({verdict})")


def judge(
    registry: tracking.Registry,
    champion,
    context: StageContext,
    saved_model: pathlib.Path,
    score: Callable[..., float],
    rule: BlessingRule,
) -> tuple[bool, str]:
    """Whether the new SavedModel beats the champion's, and why (or why they cannot be compared).

    Both are scored by `score` (the kind's `champion_metric`) on the same records: the split blessing was
    decided on. Text is compared case-insensitively when either model is lowercase. They are not compared
    (and the champion stays) when the champion is of another kind, or trained on inputs of those records,
    or its run kept no record hashes to tell.
    """
    params: ExportParameters = context.parameters
    examples: artifacts.Examples = context.input("examples")
    split = "eval" if examples.properties["records"].get("eval") else "test"
    facts = registry.facts(champion)
    who = f"champion version {champion.version}"
    if facts.get("kind", params.kind) != params.kind:
        return False, f"not compared: {who} is a {facts['kind']}, this model a {params.kind}"
    with tempfile.TemporaryDirectory() as folder:
        trained_on = registry.training_inputs(champion, pathlib.Path(folder))
        if trained_on is None:
            return False, f"not compared: {who}'s run kept no record hashes to check its training data against"
        held_out = examples.input_hashes(split)
        shared = len(held_out & trained_on)
        if shared:
            return False, (
                f"not compared: {who} trained on {shared:,} of the {len(held_out):,} {split} inputs it would be "
                "scored on (another split of the data)"
            )
        records = list(examples.read(split))
        lowercase = params.preprocess.lowercase or facts.get("lowercase") == "True"
        new = score(saved_model, records, metric=rule.metric, lowercase=lowercase)
        path = registry.download(champion, f"{MLFLOW_MODEL}/artifacts/saved_model", pathlib.Path(folder) / "model")
        old = score(path, records, metric=rule.metric, lowercase=lowercase)
    crown = new < old if not rule.higher_is_better else new > old
    case = ", case-insensitive" if lowercase else ""
    relation = "beats" if crown else "does not beat"
    on = f"both SavedModels on {len(records):,} {split} records{case}"
    return crown, f"{split} {rule.label} {new:.4f} {relation} {who}'s {old:.4f} ({on})"


def _version(package: str) -> str:
    from importlib.metadata import version

    return version(package)
