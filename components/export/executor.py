"""Export executor: a blessed model becomes a SavedModel that takes raw strings, validated, then pushed.

1. Export: the Keras model, its tokenizer and vocabularies in one SavedModel.
2. Infra-validation (as TFX's InfraValidator): the SavedModel runs in a fresh process that imports only
   TensorFlow and tensorflow-text, on the eval sentences, and must tag them exactly as the Keras model
   did in the evaluate stage. A mismatch fails the stage and nothing is pushed.
3. Push (as TFX's Pusher): to `serving/<N>/` (TF Serving's layout), logged to MLflow as a pyfunc
   model, and registered under the task's name; the `champion` alias moves to it only when it beats
   the current champion on this run's test split.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import json
import pathlib
import shutil
import tempfile
import warnings
from collections.abc import Callable, Sequence

import keras
import tensorflow as tf

import models.tagger  # noqa: F401  (registers the custom layers for loading)
from components.evaluate import metrics
from components.export import classifier, language_model, translator
from components.export.fresh_process import answers_from_a_fresh_process
from components.export.spec import ExportParameters
from models import text
from models.serving import TaggerServingModule
from pipeline import artifacts, tracking
from pipeline.component import StageContext
from pipeline.errors import ValidationError

PYFUNC_MODEL = pathlib.Path(__file__).resolve().parents[2] / "models" / "mlflow_tagger.py"
MLFLOW_MODEL = "mlflow_model"
ACCURACY = "token_accuracy"  # the evaluation metric that ranks taggers against the registered champion


def run(context: StageContext) -> None:
    params: ExportParameters = context.parameters
    blessing: artifacts.Blessing = context.input("blessing")
    pushed: artifacts.PushedModel = context.output("pushed_model")
    if not blessing.blessed:
        pushed.properties.update({"pushed": False, "reason": f"not blessed: {blessing.properties['reason']}"})
        context.progress(f"nothing exported: the model is not blessed ({blessing.properties['reason']})")
        return

    kind = KINDS[params.kind]
    module = kind.serving_module(context.input("model"), context.input("vocabulary"), params)
    tf.saved_model.save(module, str(pushed.saved_model_path), signatures=module.signatures())
    evaluation: artifacts.Evaluation = context.input("evaluation")
    split = "eval" if evaluation.predictions_path("eval").exists() else "test"
    expected = list(itertools.islice(evaluation.predictions(split), params.export.validation_examples))
    validate = kind.infra_validate
    if params.kind == "translator":  # the evaluate stage's batches, which set the decoders' length limits
        validate = functools.partial(validate, batch_size=params.evaluate_batch_size)
    report = validate(pushed.saved_model_path, expected, params.export.max_length)
    context.progress(f"infra-validation: {len(expected)} {split} examples answered alike in a fresh process")

    version = push(pushed.saved_model_path, context.task_dir / "serving")
    serving_dir = context.task_dir / "serving" / str(version)
    pushed.properties.update({"pushed": True, "version": version, "serving_dir": str(serving_dir), **report})
    context.log.artifact(pushed.saved_model_path, "saved_model")
    labels = context.input("vocabulary").tokens("labels") if params.kind == "classifier" else None
    save_pyfunc_model(pushed.saved_model_path, pushed.uri / MLFLOW_MODEL, kind.pyfunc_model, labels)
    context.log.artifact(pushed.uri / MLFLOW_MODEL, MLFLOW_MODEL)
    context.progress(f"pushed version {version} to {serving_dir}")
    registry = context.log.registry
    if params.export.register and registry is not None:
        test = evaluation.read().get("test")
        test_accuracy = test["model"][kind.metric] if test else None
        register(registry, context, pushed, test_accuracy, version, kind.saved_model_metric, kind.metric)


def serving_module(
    model_artifact: artifacts.Model, vocabulary: artifacts.Vocabulary, params: ExportParameters
) -> TaggerServingModule:
    """The trained model wrapped with the tokenizer and lookups of its vocabularies."""
    model = keras.saving.load_model(model_artifact.path)
    featurizer = text.TaggerFeaturizer(
        vocabulary.tokens("words"),
        vocabulary.tokens("chars"),
        vocabulary.tokens("tags"),
        lowercase=params.preprocess.lowercase,
        max_word_length=params.preprocess.max_word_length,
    )
    return TaggerServingModule(
        model,
        featurizer,
        text.make_tokenizer(params.preprocess.tokenizer, params.preprocess.token_pattern),
        max_length=params.export.max_length,
        char_features=text.CHAR_IDS in {i.name for i in model.inputs},
    )


def infra_validate(saved_model: pathlib.Path, expected: Sequence[dict], max_length: int) -> dict[str, int]:
    """Runs the SavedModel in a fresh process on `expected`'s tokens and checks it gives their tags.

    Returns:
        counts: `sentences` checked through `tag_tokens`, and `text_sentences` also checked through
        `serving_default` (those whose text, re-tokenized in the graph, gives back the same tokens).

    Raises:
        ValidationError: the process failed, or a sentence was tagged differently.
    """
    requests = [{"tokens": e["tokens"]} for e in expected]
    answers = answers_from_a_fresh_process(saved_model, requests, max_length, "tagger")
    mismatches = [i for i, (e, a) in enumerate(zip(expected, answers, strict=True)) if e["tags"] != a["tags"]]
    same_tokens = [i for i, (e, a) in enumerate(zip(expected, answers, strict=True)) if e["tokens"] == a["text_tokens"]]
    mismatches += [i for i in same_tokens if expected[i]["tags"] != answers[i]["text_tags"]]
    if mismatches:
        first = mismatches[0]
        raise ValidationError(
            f"export: the SavedModel tags {len(set(mismatches))} of {len(expected)} sentences unlike the Keras model "
            f"(first: {' '.join(expected[first]['tokens'])[:80]!r}: {answers[first]['tags']} instead of "
            f"{expected[first]['tags']}); nothing pushed"
        )
    return {"sentences": len(expected), "text_sentences": len(same_tokens)}


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
    saved_model: pathlib.Path, path: pathlib.Path, code: pathlib.Path, labels: list[str] | None = None
) -> None:
    """The SavedModel as an MLflow pyfunc model (`code`, e.g. `models/mlflow_tagger.py`, loaded as code, no
    pickle); a classifier's model also gets its label names, in the order of its probabilities."""
    import mlflow
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, ParamSchema, ParamSpec, Schema

    # A list of strings; a language model also takes `max_length` and `temperature` as request params.
    params = None
    if code == language_model.PYFUNC_MODEL:
        params = ParamSchema([ParamSpec("max_length", "integer", 200), ParamSpec("temperature", "float", 0.8)])
    signature = ModelSignature(inputs=Schema([ColSpec("string")]), params=params)
    artifacts_ = {"saved_model": str(saved_model)}
    if labels is not None:
        names = path.parent / "labels.json"
        names.write_text(json.dumps(labels, ensure_ascii=False))
        artifacts_["labels"] = str(names)
    requirements = [f"tensorflow=={tf.__version__}", f"tensorflow-text=={_version('tensorflow-text')}"]
    # The signature is given, and an input example would make MLflow load and run the model once more.
    warnings.filterwarnings("ignore", message=".*(Add type hints to the `predict` method|input example was not)")
    mlflow.pyfunc.save_model(
        str(path),
        python_model=str(code),
        artifacts=artifacts_,
        signature=signature,
        pip_requirements=requirements,
    )


def register(
    registry: tracking.Registry,
    context: StageContext,
    pushed: artifacts.PushedModel,
    test_accuracy: float | None,
    serving_version: int,
    accuracy_of: Callable[[pathlib.Path, Sequence[dict]], float],
    metric: str = ACCURACY,
) -> None:
    """Registers the pushed model; crowns it `champion` if it beats the champion on this test split.

    `accuracy_of` measures a SavedModel on the test examples by `metric`; for `bits_per_unit` lower is better.
    """
    lower_is_better = metric == "bits_per_unit"
    name = context.task
    version = registry.register(name, MLFLOW_MODEL, {"serving_version": str(serving_version)})
    pushed.properties["registered_version"] = version
    champion = registry.champion(name)
    if champion is None:
        verdict, crown = "no champion yet", True
    elif test_accuracy is None:
        verdict, crown = "no test split to compare on", False
    else:
        with tempfile.TemporaryDirectory() as folder:
            path = registry.download(champion, f"{MLFLOW_MODEL}/artifacts/saved_model", pathlib.Path(folder))
            examples: artifacts.Examples = context.input("examples")
            champion_accuracy = accuracy_of(path, list(examples.read("test")))
        crown = test_accuracy < champion_accuracy if lower_is_better else test_accuracy > champion_accuracy
        relation = "beats" if crown else "does not beat"
        verdict = (
            f"test {metric} {test_accuracy:.4f} {relation} champion version {champion.version}'s "
            f"{champion_accuracy:.4f} on the same test split"
        )
    if crown:
        registry.crown(name, version)
    pushed.properties.update({"champion": crown, "champion_verdict": verdict})
    context.progress(f"registered {name} version {version}; {'now' if crown else 'not'} champion ({verdict})")


def saved_model_accuracy(saved_model: pathlib.Path, examples: Sequence[dict], batch: int = 256) -> float:
    """Token accuracy of a SavedModel's `tag_tokens` on examples with `tokens` and gold `tags`."""
    model = tf.saved_model.load(str(saved_model))
    gold, predicted = [], []
    for start in range(0, len(examples), batch):
        sentences = examples[start : start + batch]
        width = max(len(e["tokens"]) for e in sentences)
        tokens = tf.constant([e["tokens"] + [""] * (width - len(e["tokens"])) for e in sentences])
        tags = model.signatures["tag_tokens"](tokens=tokens)["tags"].numpy()
        for i, example in enumerate(sentences):
            gold.append(example["tags"])
            predicted.append([t.decode("utf-8") for t in tags[i, : len(example["tokens"])]])
    return metrics.token_accuracy(gold, predicted)


def _version(package: str) -> str:
    from importlib.metadata import version

    return version(package)


@dataclasses.dataclass(frozen=True)
class KindExport:
    """What differs between kinds when exporting.

    Attributes:
        serving_module: builds the `tf.Module` with the serving signatures.
        infra_validate: runs the SavedModel in a fresh process against the evaluate stage's answers.
        saved_model_metric: the ranking metric, measured on the SavedModel.
        pyfunc_model: the MLflow "model from code" file.
        metric: the name of the ranking metric.
    """

    serving_module: Callable
    infra_validate: Callable
    saved_model_metric: Callable
    pyfunc_model: pathlib.Path
    metric: str


KINDS = {
    "tagger": KindExport(serving_module, infra_validate, saved_model_accuracy, PYFUNC_MODEL, ACCURACY),
    "classifier": KindExport(
        classifier.serving_module,
        classifier.infra_validate,
        classifier.saved_model_accuracy,
        classifier.PYFUNC_MODEL,
        "accuracy",
    ),
    "translator": KindExport(
        translator.serving_module,
        translator.infra_validate,
        translator.saved_model_bleu,
        translator.PYFUNC_MODEL,
        "bleu",
    ),
    "language_model": KindExport(
        language_model.serving_module,
        language_model.infra_validate,
        language_model.saved_model_bits_per_unit,
        language_model.PYFUNC_MODEL,
        "bits_per_unit",
    ),
}
