"""Export executor: a blessed model becomes a SavedModel that takes raw strings, pushed to `serving/<N>/`."""

from __future__ import annotations

import pathlib
import shutil

import keras
import tensorflow as tf

import models.tagger  # noqa: F401  (registers the custom layers for loading)
from components.export.spec import ExportParameters
from models import text
from models.serving import TaggerServingModule
from pipeline import artifacts
from pipeline.component import StageContext


def run(context: StageContext) -> None:
    params: ExportParameters = context.parameters
    blessing: artifacts.Blessing = context.input("blessing")
    pushed: artifacts.PushedModel = context.output("pushed_model")
    if not blessing.blessed:
        pushed.properties.update({"pushed": False, "reason": f"not blessed: {blessing.properties['reason']}"})
        context.progress(f"nothing exported: the model is not blessed ({blessing.properties['reason']})")
        return

    module = serving_module(context.input("model"), context.input("vocabulary"), params)
    tf.saved_model.save(module, str(pushed.saved_model_path), signatures=module.signatures())
    version = push(pushed.saved_model_path, context.task_dir / "serving")
    pushed.properties.update(
        {"pushed": True, "version": version, "serving_dir": str(context.task_dir / "serving" / str(version))}
    )
    context.log.artifact(pushed.saved_model_path, "saved_model")
    context.progress(f"pushed version {version} to {context.task_dir / 'serving' / str(version)}")


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
