"""Evaluate: `Model` on `Shards` against the kind's baselines -> `Evaluation` and, by the kind's rule, `Blessing`."""

from __future__ import annotations

import dataclasses

import kinds
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
)


@dataclasses.dataclass(frozen=True)
class EvaluateParameters:
    kind: str
    evaluate: EvaluateConfig
    # The task's tokenizer and casing: baselines read the tokens the model reads, and a token is out of
    # vocabulary when its (lowercased) form was not in training.
    preprocess: PreprocessConfig = PreprocessConfig()
    decode: DecodeConfig = DecodeConfig()  # translators: the decoding strategy

    @property
    def lowercase(self) -> bool:
        return self.preprocess.lowercase


def component(task: TaskConfig, config: PipelineConfig) -> Component:
    kind = kinds.get(task.kind)
    evaluate = task.evaluate
    if evaluate.objects is not None:  # a path relative to the config file, resolved as the data files are
        evaluate = dataclasses.replace(evaluate, objects=str(config.resolve(evaluate.objects)))
    parameters = EvaluateParameters(task.kind, evaluate, task.preprocess, task.decode)
    return Component(SPEC, parameters, code=kind.stage_code("evaluator"))
