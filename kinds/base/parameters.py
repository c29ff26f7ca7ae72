"""What the train, evaluate and export stages hand a kind's parts: the settings of the task that each reads.

Plain data, importable without TensorFlow (the stages' specs build them when the DAG is built).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from pipeline.config import EvaluateConfig, ExportConfig, ModelConfig, PreprocessConfig, TrainConfig


@dataclasses.dataclass(frozen=True)
class TrainParameters:
    """What the train stage hands a kind's recipe: the settings of the task that training reads.

    Attributes:
        kind: the task's kind.
        model: the kind's model settings.
        train: the kind's train settings.
        preprocess: how the units were made (a language model joins its samples as its tokenizer cut them; a
            captioner's images are `image_size` pixels a side).
        chosen_by_kind: the keys of `train` the kind chose because the config left them out: a recipe may fit
            those to the corpus.
        sections: the kind's own sections of the task (a decoder's `decode`, for its per-epoch scores).
    """

    kind: str
    model: ModelConfig
    train: TrainConfig
    preprocess: PreprocessConfig = PreprocessConfig()
    chosen_by_kind: tuple[str, ...] = ()
    sections: Mapping[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class EvaluateParameters:
    """What the evaluate stage hands a kind's evaluator: the settings of the task that evaluation reads.

    Attributes:
        kind: the task's kind.
        evaluate: the kind's evaluate settings.
        preprocess: the task's tokenizer and casing: baselines read the tokens the model reads, and a token is
            out of vocabulary when its (lowercased) form was not in training.
        sections: the kind's own sections of the task (a decoder's `decode`: its decoding strategy).
    """

    kind: str
    evaluate: EvaluateConfig
    preprocess: PreprocessConfig = PreprocessConfig()
    sections: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def lowercase(self) -> bool:
        return self.preprocess.lowercase


@dataclasses.dataclass(frozen=True)
class ExportParameters:
    """What the export stage hands a kind's hooks: the settings of the task that exporting reads.

    Attributes:
        kind: the task's kind.
        export: the export settings.
        preprocess: the tokenizer and casing of the serving graph.
        evaluate_batch_size: the evaluate stage's batches (a decoder's length limits follow each batch's longest
            input, so the SavedModel is checked in the same batches).
        sections: the kind's own sections of the task (a decoder's `decode`: the decoder inside the graph).
    """

    kind: str
    export: ExportConfig
    preprocess: PreprocessConfig
    evaluate_batch_size: int = 128
    sections: Mapping[str, Any] = dataclasses.field(default_factory=dict)
