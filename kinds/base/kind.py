"""What a kind of model declares: everything the stages, the CLI and the benchmarks need of it.

A kind (tagger, classifier, language model, translator...) is one package under `kinds/`. Its
`__init__.py` holds a `Kind`: plain data (formats, tokenizers, the blessing rule, the metrics that
`compare` shows) and `module:attribute` references to the parts that
need TensorFlow (preprocess layout, train recipe, evaluator, export, client), which are imported only
when a stage runs, so that loading a config or printing `--help` imports neither TensorFlow nor Beam.
The registry (`kinds/__init__.py`) maps a config's `kind` to it. Stages never ask a kind's name: they
ask the kind (OpenNMT-tf's model catalog; TFX's `run_fn`).
"""

from __future__ import annotations

import dataclasses
import importlib
import pathlib
from collections.abc import Callable, Mapping
from typing import Any

from models.names import TOKENIZERS
from pipeline.errors import ConfigError

PROJECT_ROOT = pathlib.Path(__file__).resolve().parents[2]


def load(reference: str) -> Any:
    """The object a `module:attribute` reference names, imported now."""
    module, _, attribute = reference.partition(":")
    return getattr(importlib.import_module(module), attribute)


@dataclasses.dataclass(frozen=True)
class BlessingRule:
    """When a model is good enough to export: blessing as data (TFX Evaluator's value thresholds).

    The model is blessed when, on the eval split (the test split when there is none), its `metric` is
    better than the best of `baselines` by at least `margin_scale` x `evaluate.bless_margin`.

    Attributes:
        metric: a key of the model's scores (`token_accuracy`, `bleu`...).
        baselines: the baselines it must beat, by the names the evaluator gives them.
        higher_is_better: False for losses (bits per unit).
        margin_scale: what one unit of `bless_margin` is in the metric's own units (100 for BLEU points).
    """

    metric: str
    baselines: tuple[str, ...]
    higher_is_better: bool = True
    margin_scale: float = 1.0

    @property
    def label(self) -> str:
        """The metric for the console: `token accuracy`, `entity f1`."""
        return self.metric.replace(".", " ").replace("_", " ")

    def as_recorded(self, evaluation_properties: Mapping[str, Any]) -> BlessingRule:
        """This rule with the metric the evaluate stage blessed by (`blessing_metric` of its evaluation),
        which a kind's evaluator may choose for the data (a tagger of BIO tags: entity F1)."""
        return dataclasses.replace(self, metric=evaluation_properties.get("blessing_metric", self.metric))

    def value(self, scores: Mapping[str, Any]) -> Any:
        """The metric in one system's scores; a dotted name (`entity.f1`) reaches into nested scores."""
        for key in self.metric.split("."):
            if not isinstance(scores, Mapping) or key not in scores:
                return None
            scores = scores[key]
        return scores


@dataclasses.dataclass(frozen=True)
class StatisticsLayout:
    """Which fields of a kind's examples the statistics stage summarises.

    Attributes:
        sequences: (name, field, pretokenized) for each sequence: `pretokenized` fields are lists of
            tokens, the others raw text that the task's tokenizer cuts.
        labels: the field holding labels (a tag list or one class), or None.
        checks_length: whether `statistics.max_length` applies (not to documents, which training cuts).
        groups: the field whose value several records share (a captioner's image), counted with the records
            each has; or None.
        columns: a line of the kind's format as messages show it (``label<TAB>text``), when it has columns
            that can be swapped.
    """

    sequences: tuple[tuple[str, str, bool], ...]
    labels: str | None = None
    checks_length: bool = True
    groups: str | None = None
    columns: str = ""


@dataclasses.dataclass(frozen=True)
class Kind:
    """One kind of model: its data, its parts, its rules.

    Attributes:
        name: the config's `kind`.
        description: one line for messages and `--help`.
        formats: the corpus formats it reads (`data.format`; a task of a kind with one needs none): name ->
            its `kinds.base.readers.Format` (`module:attribute`), declared by this kind or shared with another.
        tokenizers: the tokenizers whose units its examples can hold (`preprocess.tokenizer`); by default all.
        statistics: which fields the statistics stage summarises.
        layout: the preprocess layout class (`module:Class`), built from the task's `PreprocessConfig`.
        recipe: the train recipe class (`module:Class`, a `kinds.base.recipe.Recipe`).
        evaluator: the evaluator class (`module:Class`, a `kinds.base.evaluator.Evaluator`).
        export: the export hooks (`module:attribute`, a `kinds.base.export.Export`).
        client: the kind's client module, a file that imports only TensorFlow and tensorflow-text: it
            calls the SavedModel for infra-validation, the pyfunc model and `pipeline predict`; by default
            `client.py` in the kind's package.
        blessing: when a model of this kind is exported.
        compare_metrics: the metrics `pipeline compare` shows, the one runs are sorted by first.
        settings: the kind's settings, a subclass of `pipeline.config.TaskConfig` whose sections hold the
            kind's own keys (`kinds/<kind>/settings.py`): what a task of this kind is read into.
        legacy_metrics: new metric name -> the name older runs logged it under (read by `compare`).
        curriculum: whether a curriculum stage schedules the decoder's teacher forcing before training.
        single_replica: whether training needs one replica (stateful streams).
        inspect_cells: the `pipeline inspect-cells` function (`module:function`), for kinds with cells to
            inspect; None for the others.
        check: extra checks of a task's config beyond its keys' types (raise `ConfigError`).
        defaults: dotted keys inside a task (`preprocess.tokenizer`) and the values a task of this kind
            gets when its config leaves them out; the commands say which were filled in.
        advice: a function (`module:function`) from a task and its config to lines of advice that
            `pipeline validate` prints (a choice that will train slowly, say); None for none.
    """

    name: str
    description: str
    formats: Mapping[str, str]
    statistics: StatisticsLayout
    layout: str
    recipe: str
    evaluator: str
    export: str
    blessing: BlessingRule
    compare_metrics: tuple[str, ...]
    settings: type
    tokenizers: tuple[str, ...] = TOKENIZERS
    client: pathlib.Path = dataclasses.field(default=None)  # type: ignore[assignment]  # set by __post_init__
    legacy_metrics: dict[str, str] = dataclasses.field(default_factory=dict)
    curriculum: bool = False
    single_replica: bool = False
    inspect_cells: str | None = None
    check: Callable[[Any], None] | None = None
    defaults: dict[str, Any] = dataclasses.field(default_factory=dict)
    advice: str | None = None

    def __post_init__(self) -> None:
        if self.client is None:  # a kind's client is `client.py` in its package
            package = self.layout.partition(":")[0].rpartition(".")[0]
            object.__setattr__(self, "client", PROJECT_ROOT.joinpath(*package.split("."), "client.py"))

    def validate(self, task: Any) -> None:
        """Checks what a task of this kind must satisfy beyond its keys' types.

        Raises:
            ConfigError: naming the key path.
        """
        where = f"tasks.{task.name}"
        if task.data.format not in self.formats:
            formats = " or ".join(self.formats)
            given = f"not {task.data.format}" if task.data.format else "say which"
            raise ConfigError(f"{where}.data.format: a {self.name} reads {formats}; {given}")
        if task.preprocess.tokenizer not in self.tokenizers:
            raise ConfigError(f"{where}.preprocess.tokenizer: a {self.name} needs one of {', '.join(self.tokenizers)}")
        if self.single_replica and task.train.strategy != "default":
            raise ConfigError(f"{where}.train.strategy: a {self.name} trains on one replica; use default")
        if self.curriculum:  # what the curriculum stage would reject, rejected before anything runs
            from models import schedules

            try:
                schedules.validate(task.curriculum)
            except ValueError as error:
                raise ConfigError(f"{where}.{error}") from None
        if self.check is not None:
            self.check(task)

    def format(self, name: str) -> Any:
        """The `kinds.base.readers.Format` called `name` that this kind reads, imported now."""
        return load(self.formats[name])

    def load(self, part: str) -> Any:
        """The part (`layout`, `recipe`, `evaluator`, `export`) imported now."""
        return load(getattr(self, part))

    def stage_code(self, *parts: str) -> tuple[str, ...]:
        """The references of `parts` (`layout`, `recipe`, `evaluator`, `export`, `client`): the roots of the code
        a stage loads of this kind, besides its executor (`pipeline.code` follows their imports)."""
        references = []
        for part in parts:
            reference = getattr(self, part)
            if isinstance(reference, pathlib.Path):
                reference = reference.relative_to(PROJECT_ROOT).as_posix()
            references.append(reference)
        return tuple(references)

    @property
    def lower_is_better(self) -> bool:
        return not self.blessing.higher_is_better
