"""What the export stage needs of a kind: its serving module, how its SavedModel is checked, how it is ranked."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pipeline import artifacts
from pipeline.config import ExportConfig, PreprocessConfig


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


@dataclasses.dataclass(frozen=True)
class Export:
    """A kind's export hooks.

    Attributes:
        serving_module: (model artifact, vocabulary, export parameters) -> the `tf.Module` to save; its
            `signatures()` are the serving contract.
        requests: (the evaluate stage's predictions, export parameters) -> (the predictions kept, the
            requests the client answers for each in a fresh process).
        check: (kept predictions, the client's answers) -> counts for the artifact's properties; raises
            `ValidationError` when the SavedModel answers unlike the Keras model.
        champion_metric: (SavedModel folder, examples, lowercase=...) -> the blessing metric measured on a
            SavedModel, to rank this export against the registered champion by the same code on the same
            records (`lowercase`: compare text case-insensitively, when either model is lowercase).
        client_args: vocabulary -> JSON keyword arguments of the client's `predict` in the pyfunc model
            (a classifier's label names), or None.
    """

    serving_module: Callable[..., Any]
    requests: Callable[[Sequence[dict], Any], tuple[list[dict], list[dict]]]
    check: Callable[[Sequence[dict], Sequence[dict]], dict[str, int]]
    champion_metric: Callable[..., float]
    client_args: Callable[[artifacts.Vocabulary], dict[str, Any]] | None = None
