"""What the export stage needs of a kind: its serving module, how its SavedModel is checked, how it is ranked."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

from pipeline import artifacts
from pipeline.errors import ValidationError


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
        champion_metric: (SavedModel folder, examples, metric=..., lowercase=...) -> the blessing metric (the one
            the evaluation blessed by, `metric`) measured on a SavedModel, to rank this export against the
            registered champion by the same code on the same records (`lowercase`: compare text
            case-insensitively, when either model is lowercase).
        client_args: vocabulary -> JSON keyword arguments of the client's `predict` in the pyfunc model
            (a classifier's label names), or None.
    """

    serving_module: Callable[..., Any]
    requests: Callable[[Sequence[dict], Any], tuple[list[dict], list[dict]]]
    check: Callable[[Sequence[dict], Sequence[dict]], dict[str, int]]
    champion_metric: Callable[..., float]
    client_args: Callable[[artifacts.Vocabulary], dict[str, Any]] | None = None


def require_alike(
    expected: Sequence[dict],
    answers: Sequence[dict],
    differs: str | Callable[[dict, dict], bool],
    first: str | Callable[[dict, dict], str],
    doing: str,
) -> None:
    """Infra-validation's verdict: the SavedModel must answer every example as the Keras model did.

    Args:
        expected: the evaluate stage's answers (the Keras model's), one per example.
        answers: the SavedModel's, from a fresh process, in the same order.
        differs: (expected, answer) -> whether they disagree; or the key whose values must be equal.
        first: (expected, answer) -> how the first disagreement reads (the example and both answers); or the
            key of the example's input (a `differs` key's two values are shown beside it).
        doing: what the model does and to what, for the message (`tags sentences`, `translates sources`).

    Raises:
        ValidationError: an example was answered differently (nothing is pushed).
    """
    if isinstance(differs, str):
        differs, first = _by_key(differs, first)
    mismatches = [i for i, (e, a) in enumerate(zip(expected, answers, strict=True)) if differs(e, a)]
    if mismatches:
        does, what = doing.split(" ", 1)
        shown = first(expected[mismatches[0]], answers[mismatches[0]])
        raise ValidationError(
            f"export: the SavedModel {does} {len(mismatches)} of {len(expected)} {what} unlike the Keras model "
            f"(first: {shown}); nothing pushed"
        )


def _by_key(key: str, first: str | Callable[[dict, dict], str]) -> tuple[Callable, Callable]:
    """`require_alike`'s comparison of one key's values, and the message showing the input under `first`."""

    def differs(expected: dict, answer: dict) -> bool:
        return expected[key] != answer[key]

    def shown(expected: dict, answer: dict) -> str:
        return f"{expected[first]!r:.60}: {answer[key]!r:.60} instead of {expected[key]!r:.60}"

    return differs, shown if isinstance(first, str) else first
