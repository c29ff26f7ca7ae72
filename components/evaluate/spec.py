"""Evaluate: `Model` on `Shards` against the most-frequent-tag baseline -> `Evaluation`, `Blessing`."""

from __future__ import annotations

import dataclasses

from pipeline import artifacts
from pipeline.component import Component, ComponentSpec
from pipeline.config import DecodeConfig, EvaluateConfig, PipelineConfig, PreprocessConfig, TaskConfig

SPEC = ComponentSpec(
    name="evaluate",
    inputs={
        "model": artifacts.Model,
        "shards": artifacts.Shards,
        "vocabulary": artifacts.Vocabulary,
        "examples": artifacts.Examples,
    },
    outputs={"evaluation": artifacts.Evaluation, "blessing": artifacts.Blessing},
    executor="components.evaluate.executor:run",
    code=("components/evaluate", "models"),
)


# Classifiers: the model against a majority-class and a TF-IDF + logistic regression baseline.
CLASSIFIER_SPEC = dataclasses.replace(
    SPEC, executor="components.evaluate.classifier:run", code=("components/evaluate", "models")
)

# Language models: bits per unit against an interpolated Kneser-Ney n-gram model.
LANGUAGE_MODEL_SPEC = dataclasses.replace(SPEC, executor="components.evaluate.language_model:run")

# Translators: BLEU and chrF by greedy and the configured decoder, against copying the source.
TRANSLATOR_SPEC = dataclasses.replace(SPEC, executor="components.evaluate.translator:run")


@dataclasses.dataclass(frozen=True)
class EvaluateParameters:
    evaluate: EvaluateConfig
    lowercase: bool  # a token is out of vocabulary when its (lowercased) form was not in training
    # The task's tokenizer: the classifier's baselines read the tokens the model reads.
    preprocess: PreprocessConfig = PreprocessConfig()
    decode: DecodeConfig = DecodeConfig()  # translators: the decoding strategy


def component(task: TaskConfig, config: PipelineConfig) -> Component:
    spec = {"classifier": CLASSIFIER_SPEC, "language_model": LANGUAGE_MODEL_SPEC, "translator": TRANSLATOR_SPEC}.get(
        task.kind, SPEC
    )
    return Component(spec, EvaluateParameters(task.evaluate, task.preprocess.lowercase, task.preprocess, task.decode))
