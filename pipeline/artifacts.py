"""Typed artifacts: folders that describe themselves with an `artifact.json`.

Each artifact type knows its own file layout, so a stage reads another stage's output through the
type's accessors, never by globbing its folder. A stage writes its outputs into a temporary folder;
the runner writes `artifact.json` last and renames the folder into place, so a folder with an
`artifact.json` is always complete.
"""

from __future__ import annotations

import json
import pathlib
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

ARTIFACT_FILE = "artifact.json"
SPLITS = ("train", "eval", "test")


class Artifact:
    """A folder of files plus its metadata.

    Attributes:
        uri: the folder.
        fingerprint: hash of the producing stage's parameters, code and inputs.
        producer: the name of the stage that wrote it.
        properties: small JSON-able facts about the content (counts, sizes, flags).
    """

    TYPE_NAME: ClassVar[str] = "Artifact"
    _registry: ClassVar[dict[str, type[Artifact]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        Artifact._registry[cls.TYPE_NAME] = cls

    def __init__(
        self,
        uri: pathlib.Path,
        fingerprint: str = "",
        producer: str = "",
        properties: Mapping[str, Any] | None = None,
    ) -> None:
        self.uri = pathlib.Path(uri)
        self.fingerprint = fingerprint
        self.producer = producer
        self.properties: dict[str, Any] = dict(properties or {})

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.uri})"

    def write_metadata(self) -> None:
        """Writes `artifact.json`; called last, when every file of the artifact is in place."""
        metadata = {
            "type": self.TYPE_NAME,
            "fingerprint": self.fingerprint,
            "producer": self.producer,
            "properties": self.properties,
        }
        (self.uri / ARTIFACT_FILE).write_text(json.dumps(metadata, indent=2, sort_keys=True) + "\n")

    @staticmethod
    def load(uri: pathlib.Path) -> Artifact | None:
        """Reads the artifact at `uri`, or None when there is no complete artifact there."""
        try:
            metadata = json.loads((pathlib.Path(uri) / ARTIFACT_FILE).read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None
        cls = Artifact._registry.get(metadata.get("type"), Artifact)
        return cls(uri, metadata["fingerprint"], metadata["producer"], metadata["properties"])


class Examples(Artifact):
    """Normalised records split into train/eval/test: one JSON object a line, `<split>.jsonl`; and the hash of
    each record's input, one a line in the same order, `hashes/<split>.txt`.

    Properties: `records` (per split), `format`, `fields`, `split_by`, and `datasets`: per split, the
    `digest` of its records (order-free, `pipeline.content.Digest`) and their count.
    """

    TYPE_NAME = "Examples"

    def split_path(self, split: str) -> pathlib.Path:
        return self.uri / f"{split}.jsonl"

    def hashes_path(self, split: str) -> pathlib.Path:
        return self.uri / "hashes" / f"{split}.txt"

    def input_hashes(self, split: str) -> set[str]:
        """The distinct input hashes of a split's records."""
        return read_hashes(self.hashes_path(split))

    def read(self, split: str) -> Iterator[dict[str, Any]]:
        with self.split_path(split).open(encoding="utf-8") as lines:
            for line in lines:
                yield json.loads(line)


def read_hashes(path: pathlib.Path) -> set[str]:
    """The distinct hashes of a hashes file (`Examples.hashes_path`, or a run's `datasets/<split>.txt`)."""
    with pathlib.Path(path).open(encoding="utf-8") as lines:
        return {line.strip() for line in lines if line.strip()}


class Rejects(Artifact):
    """Every input record that could not be used, with file, line and reason (`rejects.jsonl`)."""

    TYPE_NAME = "Rejects"

    @property
    def path(self) -> pathlib.Path:
        return self.uri / "rejects.jsonl"

    def read(self) -> Iterator[dict[str, Any]]:
        with self.path.open(encoding="utf-8") as lines:
            for line in lines:
                yield json.loads(line)


class Statistics(Artifact):
    """Counts and histograms of the examples (`statistics.json`) and plots."""

    TYPE_NAME = "Statistics"

    @property
    def path(self) -> pathlib.Path:
        return self.uri / "statistics.json"

    def read(self) -> dict[str, Any]:
        return json.loads(self.path.read_text())


class Anomalies(Artifact):
    """What the statistics stage found suspicious but not fatal (`anomalies.json`)."""

    TYPE_NAME = "Anomalies"

    @property
    def path(self) -> pathlib.Path:
        return self.uri / "anomalies.json"


_ESCAPES = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_UNESCAPES = {escaped[1]: raw for raw, escaped in _ESCAPES.items()}


def escape_token(token: str) -> str:
    """A token as a vocabulary file holds it: backslash, newline, carriage return and tab escaped (`\\n`)."""
    return "".join(_ESCAPES.get(char, char) for char in token)


def unescape_token(text: str) -> str:
    """The token that `escape_token` wrote as `text`."""
    chars, escaped = [], False
    for char in text:
        if escaped:
            chars.append(_UNESCAPES.get(char, char))
            escaped = False
        elif char == "\\":
            escaped = True
        else:
            chars.append(char)
    return "".join(chars)


class Vocabulary(Artifact):
    """Vocabularies, one `<name>.tsv` each: `token<TAB>count` a line, the line number is the id.

    Reserved tokens come first with count 0. Names: `words`, `chars`, `tags` (taggers), `labels`
    (classifiers), `wordpieces` (the learned pieces of the wordpiece tokenizer). Tokens are written
    with `escape_token`, so a character vocabulary can hold the newline and the tab.
    """

    TYPE_NAME = "Vocabulary"

    def path(self, name: str) -> pathlib.Path:
        return self.uri / f"{name}.tsv"

    def names(self) -> list[str]:
        """The vocabularies this artifact holds."""
        return sorted(path.stem for path in self.uri.glob("*.tsv"))

    def tokens(self, name: str) -> list[str]:
        return [token for token, _ in self.entries(name)]

    def wordpieces(self) -> list[str] | None:
        """The learned wordpiece vocabulary, or None when the task's tokenizer learns none."""
        return self.tokens("wordpieces") if "wordpieces" in self.names() else None

    def entries(self, name: str) -> list[tuple[str, int]]:
        entries = []
        with self.path(name).open(encoding="utf-8") as lines:
            for line in lines:
                token, _, count = line.rstrip("\n").rpartition("\t")
                entries.append((unescape_token(token), int(count)))
        return entries


class Shards(Artifact):
    """TFRecord files of `tf.train.SequenceExample`, N shards per split, plus `manifest.json`."""

    TYPE_NAME = "Shards"

    def files(self, split: str) -> list[pathlib.Path]:
        manifest = self.manifest()
        return [self.uri / name for name in manifest["splits"][split]["files"]]

    def manifest(self) -> dict[str, Any]:
        return json.loads((self.uri / "manifest.json").read_text())


class Schedule(Artifact):
    """Scheduled sampling's teacher-forcing probability ε_i, tabulated for i = 0 .. N-1 (`schedule.json`).

    The file holds `schedule`, `unit` (what i counts: `step` or `epoch`), the formula's `parameters`,
    `feed` (what replaces a true token: `argmax` or `sample`) and `values` [ε_0, ε_1, ...]; plus a plot.
    """

    TYPE_NAME = "Schedule"

    @property
    def path(self) -> pathlib.Path:
        return self.uri / "schedule.json"

    def read(self) -> dict[str, Any]:
        """The whole `schedule.json`, read once (the trainer asks for ε at every step)."""
        cached = self.__dict__.get("_schedule")
        if cached is None:
            cached = self.__dict__["_schedule"] = json.loads(self.path.read_text())
        return cached

    @property
    def unit(self) -> str:
        return self.read()["unit"]

    @property
    def feed(self) -> str:
        return self.read()["feed"]

    @property
    def values(self) -> list[float]:
        return self.read()["values"]

    @property
    def teacher_forcing_only(self) -> bool:
        """Whether ε is 1 throughout: plain teacher forcing, nothing to mix in."""
        return all(value >= 1.0 for value in self.values)

    def epsilon(self, i: int) -> float:
        """ε_i: the tabulated value at position `i`, or the last one past the end of the table."""
        if i < 0:
            raise ValueError(f"Schedule.epsilon: positions count from 0, got {i}")
        values = self.values
        return float(values[min(i, len(values) - 1)])


class Model(Artifact):
    """A trained Keras model (`model.keras`), its training history and the model arguments."""

    TYPE_NAME = "Model"

    @property
    def path(self) -> pathlib.Path:
        return self.uri / "model.keras"

    def args(self) -> dict[str, Any]:
        """What the model was built from (`model_args.json`): its sizes and its task's sections."""
        return json.loads((self.uri / "model_args.json").read_text(encoding="utf-8"))


class Evaluation(Artifact):
    """Metrics of the model and its baselines per split (`metrics.json`) and plots."""

    TYPE_NAME = "Evaluation"

    @property
    def path(self) -> pathlib.Path:
        return self.uri / "metrics.json"

    def read(self) -> dict[str, Any]:
        return json.loads(self.path.read_text())

    def predictions_path(self, split: str) -> pathlib.Path:
        """The model's predictions on a split, one JSON object a line (`tokens`, `tags`)."""
        return self.uri / f"predictions_{split}.jsonl"

    def predictions(self, split: str) -> Iterator[dict[str, Any]]:
        with self.predictions_path(split).open(encoding="utf-8") as lines:
            for line in lines:
                yield json.loads(line)


class Blessing(Artifact):
    """The evaluator's verdict: `properties["blessed"]` and the reason."""

    TYPE_NAME = "Blessing"

    @property
    def blessed(self) -> bool:
        return bool(self.properties.get("blessed"))

    def way_out(self, task: str) -> str:
        """How to export a model that was not blessed anyway: the margin it would pass with, as a command."""
        margin = self.properties.get("margin_to_pass")
        if margin is None:  # a verdict from before the margin was kept
            return f"to export it anyway, lower tasks.{task}.evaluate.bless_margin (below 0 lets a worse model through)"
        return (
            f"to export it anyway: python -m pipeline run --tasks {task} "
            f"--set tasks.{task}.evaluate.bless_margin={margin:g}"
        )


class PushedModel(Artifact):
    """The exported SavedModel and, when blessed, the serving version it was pushed to."""

    TYPE_NAME = "PushedModel"

    @property
    def saved_model_path(self) -> pathlib.Path:
        return self.uri / "saved_model"
