"""The typed pipeline config: YAML in, frozen dataclasses out.

Defaults live only here and in the kinds' settings. Loading checks every key against the schema, so an
unknown key, a wrong type or a value outside its allowed set is a `ConfigError` that names the key path
(`tasks.brown-pos.train.epochs`). Relative paths in the file are resolved against the file's folder.

This module holds what every task shares. A task's own settings are its kind's: each kind declares a
subclass of `TaskConfig` whose sections subclass the shared ones (a tagger's `model` has `char_encoder`,
a translator has a `decode` section), and `load` takes the kinds from whoever composes the pipeline (the
CLI hands in `kinds`), so the framework imports no kind.
"""

from __future__ import annotations

import copy
import dataclasses
import itertools
import math
import pathlib
import re
import types
import typing
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any, Protocol

import yaml

from models.names import NORMALIZATIONS, TOKENIZERS
from pipeline import tracking
from pipeline.errors import ConfigError

# tf.distribute strategies for training (`train.strategy`).
STRATEGIES = ("default", "mirrored", "multi_worker_mirrored")


def choice(*values: str) -> dict[str, Any]:
    """Field metadata: the value must be one of `values`."""
    return {"choices": values}


def at_least(bound: float) -> dict[str, Any]:
    """Field metadata: the value must be at least `bound`."""
    return {"min": bound}


def fraction() -> dict[str, Any]:
    """Field metadata: the value must be in [0, 1]."""
    return {"min": 0.0, "max": 1.0}


# Field metadata: a path relative to the config file's folder, resolved by the stage that reads it
# (`resolve_paths`); the config and the run's params keep it as written.
PATH = {"path": True}


def tasks_of(kind: str) -> dict[str, Any]:
    """Field metadata: names of other tasks of the same config, each of `kind`, whose trained outputs this task
    reads (a tagger's language-model features). The task runs after them and its stages take their outputs
    as inputs (`upstream_tasks`)."""
    return {"tasks": kind}


@dataclasses.dataclass(frozen=True)
class SplitConfig:
    """Fractions of the `train` files hashed into eval and test when those are not given as files."""

    eval: float = dataclasses.field(default=0.1, metadata=fraction())
    test: float = dataclasses.field(default=0.1, metadata=fraction())


@dataclasses.dataclass(frozen=True)
class DataConfig:
    # How the files are read: one of the formats the task's kind reads (`pipeline validate` lists them).
    # Tagged sentences: brown, conllu, conll. `tsv`: label<TAB>text a line (classifiers). `parallel_tsv`:
    # source<TAB>target a line (translators). `text`: plain text (language models), see `documents`.
    # `image_captions`: image_path<TAB>caption a line (captioners). Left out: the kind's only format, for a
    # kind that reads one. Every format also reads gzip files (a name ending in .gz).
    format: str | None = None
    # Files (each a glob, relative to the config file). Without `eval` or `test` files, those splits are
    # hashed out of `train` by `split`.
    train: str = ""
    eval: str | None = None
    test: str | None = None
    split: SplitConfig = SplitConfig()
    tag_column: str = dataclasses.field(default="upos", metadata=choice("upos", "xpos"))
    # `text` format: a whole file is one document (`file`), or blank lines separate documents (`blank_line`).
    documents: str = dataclasses.field(default="file", metadata=choice("file", "blank_line"))
    # The run fails when more than this fraction of the input records is rejected.
    max_reject_fraction: float = dataclasses.field(default=0.01, metadata=fraction())


_ACTION = choice("warn", "fail")


@dataclasses.dataclass(frozen=True)
class StatisticsConfig:
    """Anomaly checks on the ingested data. Each check either warns (printed, kept in `Anomalies`) or fails the run."""

    # A label (tag, class) in eval or test that train never has.
    unseen_label: str = dataclasses.field(default="warn", metadata=_ACTION)
    # The share of eval or test tokens missing from the training data.
    max_oov_rate: float = dataclasses.field(default=0.5, metadata=fraction())
    oov_rate: str = dataclasses.field(default="warn", metadata=_ACTION)
    # Records longer than this many tokens (characters for `text` documents: those are cut into sequences).
    max_length: int = dataclasses.field(default=512, metadata=at_least(1))
    too_long: str = dataclasses.field(default="warn", metadata=_ACTION)
    # A split with no records.
    empty_split: str = dataclasses.field(default="warn", metadata=_ACTION)
    # An eval or test input that is a training input too (held-out files that repeat training records;
    # records split by hash never do).
    shared_inputs: str = dataclasses.field(default="warn", metadata=_ACTION)
    # A label on a few records that is one slip away from a label on many (`postive` beside `positive`).
    label_typo: str = dataclasses.field(default="warn", metadata=_ACTION)
    # A file whose first line looks like a header (column names, or a label seen nowhere else).
    header_line: str = dataclasses.field(default="warn", metadata=_ACTION)
    # Nearly as many distinct labels as records: the text is read as the label.
    swapped_columns: str = dataclasses.field(default="warn", metadata=_ACTION)


@dataclasses.dataclass(frozen=True)
class PreprocessConfig:
    """How every kind's text becomes units; a kind's settings add its own keys (`kinds/<kind>/settings.py`)."""

    # Splits raw text into tokens, in preprocessing (formats of untokenized text) and in the exported graph.
    # `wordpiece` learns its subword vocabulary from the training split (Beam), `wordpiece_vocab_size` pieces.
    tokenizer: str = dataclasses.field(default="regex", metadata=choice(*TOKENIZERS))
    # The `regex` tokenizer keeps every match of this RE2 pattern as a token. The default cuts text the
    # way the Brown corpus and the Penn Treebank do: a contraction or possessive stays with its word
    # ("didn't", "Atlanta's"), a number keeps its inner separators ("3.50", "1,000", "1/2"), quote
    # pairs and dashes are one token, any other punctuation one character each. Letters and digits
    # are Unicode classes (\pL, \pN, \pM): RE2's \w and \d are ASCII only.
    token_pattern: str = r"\pN+(?:[.,:/]\pN+)*|[\pL\pN\pM_]+(?:['’.-][\pL\pN\pM_]+)*|''|``|--|\.\.\.|[^\s\pL\pN\pM_]"
    lowercase: bool = False
    # Unicode normalisation applied to text before tokenizing (NFKC folds compatibility forms: "ﬁ" -> "fi").
    normalization: str = dataclasses.field(default="none", metadata=choice(*NORMALIZATIONS))
    wordpiece_vocab_size: int = dataclasses.field(default=8000, metadata=at_least(16))
    min_count: int = dataclasses.field(default=1, metadata=at_least(1))
    max_size: int | None = dataclasses.field(default=None, metadata=at_least(5))
    num_shards: int = dataclasses.field(default=2, metadata=at_least(1))


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """The recurrent encoder every kind builds on; a kind's settings add its own keys (a tagger's character
    features, a classifier's pooling, a decoder's attention)."""

    cell: str = dataclasses.field(default="lstm", metadata=choice("rnn", "gru", "lstm"))
    layers: int = dataclasses.field(default=1, metadata=at_least(1))
    bidirectional: bool = True
    embedding_dim: int = dataclasses.field(default=100, metadata=at_least(1))
    hidden_dim: int = dataclasses.field(default=128, metadata=at_least(1))
    dropout: float = dataclasses.field(default=0.25, metadata={"min": 0.0, "max": 0.95})


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    # The number of epochs; null (left out): train to convergence, up to `epochs_to_converge` of the updates
    # an epoch makes, stopping early on the eval score (`patience`) and lowering the learning rate on its
    # plateaus (`lr_patience`).
    epochs: int | None = dataclasses.field(default=None, metadata=at_least(1))
    # A wall-clock budget for training, in minutes: no epoch is begun that would end past it (the mean epoch
    # so far says how long one takes); null: none.
    max_minutes: float | None = dataclasses.field(default=None, metadata={"min": 0.0})
    batch_size: int = dataclasses.field(default=32, metadata=at_least(1))
    learning_rate: float = dataclasses.field(default=2e-3, metadata={"min": 0.0})
    # Gradients are rescaled so that their global norm is at most this (Pascanu et al. 2013).
    clip_norm: float | None = dataclasses.field(default=5.0, metadata={"min": 0.0})
    shuffle_buffer: int = dataclasses.field(default=4096, metadata=at_least(1))
    # Save a checkpoint every this many steps (and at each epoch's end); a rerun after a crash resumes
    # from the last one. 0: only at epoch ends.
    checkpoint_every: int = dataclasses.field(default=200, metadata=at_least(0))
    # Probability of replacing a training word by [UNK], so that the unknown-word embedding is learned.
    word_dropout: float = dataclasses.field(default=0.05, metadata={"min": 0.0, "max": 1.0})
    # After each epoch the model is scored on the eval split by its kind's metric (`Recipe.monitor`: token
    # accuracy, or entity F1 for BIO tags; accuracy; bits per unit; a translator's greedy BLEU).
    # keep_best: the model evaluated and exported is the best epoch's, not the last one's.
    keep_best: bool = True
    # Stop once that metric has not improved for this many epochs (`epochs` stays the cap); 0: never;
    # null: 0 when `epochs` is given, CONVERGENCE_PATIENCE when it is not.
    patience: int | None = dataclasses.field(default=None, metadata=at_least(0))
    # Multiply the learning rate by `lr_factor` whenever the metric has not improved for this many
    # epochs in a row (reduce on plateau); 0: never; null: 0 when `epochs` is given,
    # CONVERGENCE_LR_PATIENCE when it is not.
    lr_patience: int | None = dataclasses.field(default=None, metadata=at_least(0))
    lr_factor: float = dataclasses.field(default=0.5, metadata={"min": 0.0, "max": 1.0})
    # How training is spread over devices and machines: `default` (this process's CPU or one GPU),
    # `mirrored` (every local GPU), `multi_worker_mirrored` (the workers of the cluster in TF_CONFIG;
    # see `pipeline worker`). `batch_size` stays the global batch.
    strategy: str = dataclasses.field(default="default", metadata=choice(*STRATEGIES))
    # The seed of training alone (initial weights, batch order, dropout, sampled feeding); null: the
    # pipeline's `seed`. Splits and vocabularies keep the pipeline's seed, so a sweep over train.seed
    # trains one model several times on the same data.
    seed: int | None = None

    @property
    def converges(self) -> bool:
        """Whether training runs to convergence (the config leaves `epochs` out), not a fixed number of epochs."""
        return self.epochs is None

    @property
    def stopping_patience(self) -> int:
        """`patience` as training uses it: the config's, or what training to convergence waits by default."""
        if self.patience is not None:
            return self.patience
        return CONVERGENCE_PATIENCE if self.converges else 0

    @property
    def plateau_patience(self) -> int:
        """`lr_patience` as training uses it: the config's, or what training to convergence waits by default."""
        if self.lr_patience is not None:
            return self.lr_patience
        return CONVERGENCE_LR_PATIENCE if self.converges else 0


# Training to convergence (`train.epochs` left out): at most enough epochs for CONVERGENCE_UPDATES updates,
# between CONVERGENCE_MIN_EPOCHS and CONVERGENCE_MAX_EPOCHS; stop after CONVERGENCE_PATIENCE epochs without a
# better eval score, halve the learning rate after each CONVERGENCE_LR_PATIENCE of them.
CONVERGENCE_UPDATES = 4000
CONVERGENCE_MIN_EPOCHS = 10
CONVERGENCE_MAX_EPOCHS = 100
CONVERGENCE_PATIENCE = 4
CONVERGENCE_LR_PATIENCE = 2


def epochs_to_converge(updates_per_epoch: float) -> int:
    """The epoch cap of training to convergence, for epochs of `updates_per_epoch` updates: enough for
    CONVERGENCE_UPDATES updates (more epochs of a small corpus), within the bounds above."""
    wanted = math.ceil(CONVERGENCE_UPDATES / max(updates_per_epoch, 1))
    return min(max(wanted, CONVERGENCE_MIN_EPOCHS), CONVERGENCE_MAX_EPOCHS)


@dataclasses.dataclass(frozen=True)
class EvaluateConfig:
    # The model is blessed only when its eval token accuracy beats the baseline's by this much.
    # (Classifiers: accuracy at least the stronger baseline's + margin; language models: bits per unit at
    # most the baseline's - margin.) A negative margin lets a model that much worse through (for trials).
    bless_margin: float = dataclasses.field(default=0.01, metadata={"min": -100.0, "max": 1.0})
    batch_size: int = dataclasses.field(default=128, metadata=at_least(1))


@dataclasses.dataclass(frozen=True)
class ExportConfig:
    # Raw text is cut to this many tokens in the serving graph.
    max_length: int = dataclasses.field(default=256, metadata=at_least(1))
    # Infra-validation runs the SavedModel in a fresh process on this many eval sentences and checks
    # that it tags them exactly as the Keras model did.
    validation_examples: int = dataclasses.field(default=256, metadata=at_least(1))
    # Register the exported model in the MLflow model registry under the task's name.
    register: bool = True


@dataclasses.dataclass(frozen=True)
class TaskConfig:
    """The sections every task has. A kind's settings subclass this (`kinds/<kind>/settings.py`): they narrow
    the sections to the kind's own classes and may add sections of their own (a decoder's `decode`)."""

    name: str
    # One of the registry's kinds (`kinds/`): what the task's model is, and every rule that comes with it.
    kind: str
    data: DataConfig
    statistics: StatisticsConfig = StatisticsConfig()
    preprocess: PreprocessConfig = PreprocessConfig()
    model: ModelConfig = ModelConfig()
    train: TrainConfig = TrainConfig()
    evaluate: EvaluateConfig = EvaluateConfig()
    export: ExportConfig = ExportConfig()
    # A sweep variant's label, e.g. "model.cell=gru,model.bidirectional=false"; "" for the task itself.
    # An MLflow tag, not a param, so every run of a task has the same param names.
    variant: str = dataclasses.field(default="", metadata={"internal": True})
    # The keys the task's kind filled in because the config left them out (`Kind.defaults`), with their values.
    kind_defaults: tuple[tuple[str, Any], ...] = dataclasses.field(default=(), metadata={"internal": True})

    def sections(self) -> dict[str, Any]:
        """The sections the task's kind adds to those every task has (a decoder's `decode`, `curriculum`)."""
        shared = {field.name for field in dataclasses.fields(TaskConfig)}
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in shared}


class KindRegistry(Protocol):
    """What loading a config needs of the kinds (the `kinds` package is one): each kind's settings class
    (`settings`, a `TaskConfig` subclass), the keys it fills in (`defaults`), its formats (`formats`),
    and its checks (`validate(task)`, raising `ConfigError`)."""

    def get(self, name: str) -> Any: ...

    def names(self) -> tuple[str, ...]: ...


@dataclasses.dataclass(frozen=True)
class SweepConfig:
    """Expands a task into one variant per point of `grid` (dotted keys inside the task -> values)."""

    task: str
    grid: Mapping[str, Any]


@dataclasses.dataclass(frozen=True)
class TrackingConfig:
    uri: str = "sqlite:///mlflow.db"


@dataclasses.dataclass(frozen=True)
class BeamConfig:
    """The Beam runner of the statistics and preprocess stages, and its options, passed to Beam as they are.

    Without `options`, the DirectRunner runs two worker processes, or none for examples smaller than
    `SMALL_INPUT_BYTES` (starting two workers that import the stage's code costs about two seconds, more
    than counting a small corpus in the stage's own process); other runners get no options.
    """

    runner: str = "DirectRunner"
    options: Mapping[str, Any] | None = None

    SMALL_INPUT_BYTES: typing.ClassVar[int] = 16 << 20

    def runner_options(self, input_bytes: int | None = None) -> dict[str, Any]:
        """The options the runner gets for a pipeline over `input_bytes` of examples (None: not known)."""
        if self.options is not None:
            return dict(self.options)
        if self.runner == "DirectRunner":
            if input_bytes is not None and input_bytes < self.SMALL_INPUT_BYTES:
                return {"direct_num_workers": 1, "direct_running_mode": "in_memory"}
            return {"direct_num_workers": 2, "direct_running_mode": "multi_processing"}
        return {}


@dataclasses.dataclass(frozen=True)
class ThreadsConfig:
    """TensorFlow's two thread pools, set once for the whole process when the pipeline starts.

    `intra_op` threads share the work of one op (a matrix product); `inter_op` threads run independent
    ops at once, such as the two directions of a bidirectional layer. Unset (null): seqpipe's choice,
    two ops at once with half the cores each (benchmarks/train_throughput.py); 0: TensorFlow's default.
    """

    intra_op: int | None = dataclasses.field(default=None, metadata=at_least(0))
    inter_op: int | None = dataclasses.field(default=None, metadata=at_least(0))


@dataclasses.dataclass(frozen=True)
class PipelineConfig:
    tasks: tuple[TaskConfig, ...]
    output_dir: str = "runs"
    tracking: TrackingConfig = TrackingConfig()
    beam: BeamConfig = BeamConfig()
    threads: ThreadsConfig = ThreadsConfig()
    # A dask.distributed scheduler (tcp://HOST:PORT) whose workers run the tasks and sweep variants, one at a
    # time each (`run --cluster`, see pipeline/cluster.py); null: this machine.
    cluster: str | None = None
    seed: int = 8
    sweeps: tuple[SweepConfig, ...] = ()
    # The folder relative paths are resolved against: the config file's folder. Not a YAML key.
    base_dir: pathlib.Path = dataclasses.field(default=pathlib.Path("."), metadata={"internal": True})

    # What runs: each task, or the variants of its sweep in its place. Filled by `load`.
    variants: tuple[TaskConfig, ...] = dataclasses.field(default=(), metadata={"internal": True})

    def variants_of(self, name: str) -> list[TaskConfig]:
        return [variant for variant in self.variants if variant.name == name]

    def task(self, name: str) -> TaskConfig:
        for task in self.tasks:
            if task.name == name:
                return task
        raise ConfigError(f"no task named {name!r} (tasks: {', '.join(t.name for t in self.tasks)})")

    def resolve(self, path: str) -> pathlib.Path:
        """Returns `path` resolved against the config file's folder (absolute paths unchanged)."""
        return (self.base_dir / pathlib.Path(path).expanduser()).resolve()

    @property
    def tracking_uri(self) -> str:
        """The tracking URI, with a relative SQLite path resolved against the config file's folder."""
        return tracking.absolute_sqlite_uri(self.tracking.uri, self.base_dir.resolve())


# ----------------------------------------------------------------------------------------------
# Loading


def load(path: pathlib.Path | str, overrides: Sequence[str] = (), *, kinds: KindRegistry) -> PipelineConfig:
    """Loads a config file, applies `KEY=VALUE` overrides, and checks it against the schema: the shared
    sections here, and each task's own by the settings class of its kind in `kinds`.

    Raises:
        ConfigError: the file is missing or not YAML, or a key is unknown, missing or mistyped.
    """
    path = pathlib.Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        reason = str(error).replace("\n", " ")
        raise ConfigError(f"cannot read config {path}: {reason}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"config {path}: the top level must be a mapping")
    for override in overrides:
        apply_override(raw, override)
    filled = _apply_kind_defaults(raw, kinds)
    settings = settings_of(kinds)
    config = from_dict(PipelineConfig, raw, "", settings)
    _check_tasks(config)
    variants = tuple(
        dataclasses.replace(variant, kind_defaults=filled.get(variant.name, ()))
        for variant in expand_sweeps(config, raw, settings)
    )
    for variant in variants:
        if not variant.data.train:
            raise ConfigError(f"tasks.{variant.name}.data.train: a file or glob is needed")
        kinds.get(variant.kind).validate(variant)
    _check_upstream(config, variants)
    return dataclasses.replace(config, base_dir=path.resolve().parent, variants=variants)


def upstream_fields(task: TaskConfig) -> list[tuple[str, str, tuple[str, ...]]]:
    """(key path, kind, task names) of each field of `task` marked `tasks_of`, in its sections."""
    found = []
    for section in dataclasses.fields(task):
        value = getattr(task, section.name)
        if section.metadata.get("internal") or not dataclasses.is_dataclass(value):
            continue
        for field in dataclasses.fields(value):
            if "tasks" in field.metadata:
                where = f"tasks.{task.name}.{section.name}.{field.name}"
                found.append((where, field.metadata["tasks"], tuple(getattr(value, field.name))))
    return found


def upstream_tasks(task: TaskConfig) -> tuple[str, ...]:
    """The tasks whose trained outputs `task` reads (fields marked `tasks_of`), in the order named."""
    return tuple(dict.fromkeys(name for _, _, names in upstream_fields(task) for name in names))


def in_dependency_order(config: PipelineConfig, names: Sequence[str]) -> list[str]:
    """`names` reordered so that a task comes after the tasks it reads (of those in `names`), else as given."""
    ordered: list[str] = []
    wanted = set(names)

    def visit(name: str) -> None:
        if name in ordered:
            return
        for upstream in upstream_tasks(config.task(name)):
            if upstream in wanted:
                visit(upstream)
        ordered.append(name)

    for name in names:
        visit(name)
    return ordered


def _check_upstream(config: PipelineConfig, variants: Sequence[TaskConfig]) -> None:
    """Each task named by a `tasks_of` field exists, is of the kind it needs, is not the task itself, is not
    swept (one model feeds the task, not one of several), and reads no task in turn (no chain to order)."""
    swept = {sweep.task for sweep in config.sweeps}
    for variant in variants:
        for where, kind, names in upstream_fields(variant):
            for name in names:
                if name == variant.name:
                    raise ConfigError(f"{where}: {name!r} is this task; name a {kind} task of the config")
                upstream = next((task for task in config.tasks if task.name == name), None)
                if upstream is None:
                    known = ", ".join(t.name for t in config.tasks if t.kind == kind) or "none"
                    raise ConfigError(f"{where}: no task named {name!r} (the {kind} tasks: {known})")
                if upstream.kind != kind:
                    raise ConfigError(f"{where}: {name!r} is a {upstream.kind} task; a {kind} task is needed")
                if name in swept:
                    raise ConfigError(
                        f"{where}: {name!r} is swept (sweeps); a swept task cannot feed another, which of its "
                        "variants would? Make the variant you want a task of its own"
                    )
                if upstream_tasks(upstream):
                    raise ConfigError(f"{where}: {name!r} reads other tasks itself; chains are not supported")


# Resolves the class a raw task is read into: its kind's settings (a `TaskConfig` subclass).
_Settings = Callable[[Any, str], type]


def settings_of(kinds: KindRegistry) -> _Settings:
    """What `from_dict` reads a raw task into: its kind's settings class (from `kinds`)."""

    def settings(raw: Any, where: str) -> type:
        name = raw.get("kind") if isinstance(raw, dict) else None
        if name is None:
            return TaskConfig  # the schema check says the key is missing
        if name not in kinds.names():
            raise ConfigError(f"{where}.kind: {name!r} is not one of {', '.join(kinds.names())}")
        return kinds.get(name).settings

    return settings


def _apply_kind_defaults(raw: dict[str, Any], kinds: KindRegistry) -> dict[str, tuple[tuple[str, Any], ...]]:
    """Fills in each raw task the keys its kind sets by default (`Kind.defaults`, and the format of a kind
    that reads one) that it leaves out.

    Returns:
        task name -> the (dotted key, value) pairs filled in, for the commands to say what was chosen.
    """
    filled = {}
    tasks = raw.get("tasks")
    for task in tasks if isinstance(tasks, list) else ():
        if not isinstance(task, dict) or task.get("kind") not in kinds.names():
            continue  # the schema check names what is wrong with it
        kind = kinds.get(task["kind"])
        defaults = dict(kind.defaults)
        named = _format_of(task.get("data"), kind.formats)
        if named is not None:
            defaults.setdefault("data.format", named)
        chosen = []
        for key, value in defaults.items():
            if not _has_key(task, key) and not _blocked(task, key):
                set_key(task, key, value)
                chosen.append((key, value))
        filled[str(task.get("name"))] = tuple(chosen)
    return filled


def _format_of(data: Any, formats: Collection[str]) -> str | None:
    """The format a task leaves out but means: its kind's only one, or the one its train files' suffix names
    (`*.conllu`, `*.conll.gz`); None when neither says."""
    if len(formats) == 1:
        return next(iter(formats))
    train = data.get("train") if isinstance(data, dict) else None
    if isinstance(train, str):
        suffix = train.removesuffix(".gz").rpartition(".")[2]
        if suffix in formats:
            return suffix
    return None


def own_settings(task: TaskConfig) -> dict[str, Any]:
    """The keys of a task that its kind's settings add to those every task has, dotted, with their values."""
    shared = typing.get_type_hints(TaskConfig)
    found: dict[str, Any] = {}
    for field in dataclasses.fields(task):
        section = getattr(task, field.name)
        if field.metadata.get("internal") or not dataclasses.is_dataclass(section):
            continue
        base = shared.get(field.name)
        known = {f.name for f in dataclasses.fields(base)} if dataclasses.is_dataclass(base) else set()
        for key, value in flatten(to_dict(section), field.name).items():
            if key.split(".")[1] not in known:
                found[key] = value
    return found


def kind_default_lines(task: TaskConfig) -> list[str]:
    """What the task's kind chose for it, and whether it trains to convergence, in one line (none when the
    config leaves nothing to the kind)."""
    chosen = [f"{key}={label(value)}" for key, value in task.kind_defaults]
    if task.train.converges:
        chosen.append("train.epochs=to convergence")
    if not chosen:
        return []
    return [f"{task.kind} defaults for what the config leaves out: {', '.join(chosen)}"]


def _has_key(raw: dict[str, Any], key: str) -> bool:
    node: Any = raw
    for part in key.split("."):
        if not isinstance(node, dict) or node.get(part) is None:
            return False
        node = node[part]
    return True


def _blocked(raw: dict[str, Any], key: str) -> bool:
    """Whether a section on the way to `key` is there but not a mapping (the schema check says so)."""
    node: Any = raw
    for part in key.split(".")[:-1]:
        node = node.get(part) if isinstance(node, dict) else None
        if node is not None and not isinstance(node, dict):
            return True
    return False


def expand_sweeps(config: PipelineConfig, raw: dict[str, Any], settings: _Settings) -> tuple[TaskConfig, ...]:
    """Every task, with a swept task replaced by its variants (the grid's cartesian product, in order)."""
    sweeps: dict[str, SweepConfig] = {}
    for index, sweep in enumerate(config.sweeps):
        config.task(sweep.task)  # an unknown task is an error naming the known ones
        if sweep.task in sweeps:
            raise ConfigError(f"sweeps.{index}.task: a second sweep of {sweep.task!r}; put both grids in one")
        for key, values in sweep.grid.items():
            if not isinstance(values, list) or not values:
                raise ConfigError(f"sweeps.{index}.grid.{key}: expected a non-empty list of values")
        sweeps[sweep.task] = sweep
    variants = []
    for position, task in enumerate(config.tasks):
        sweep = sweeps.get(task.name)
        if sweep is None:
            variants.append(task)
            continue
        keys = list(sweep.grid)
        for values in itertools.product(*(sweep.grid[key] for key in keys)):
            task_raw = copy.deepcopy(raw["tasks"][position])
            for key, value in zip(keys, values, strict=True):
                set_key(task_raw, key, value)
            shown = ",".join(f"{key}={label(value)}" for key, value in zip(keys, values, strict=True))
            variant = from_dict(TaskConfig, task_raw, f"sweeps.{task.name}[{shown}]", settings)
            variants.append(dataclasses.replace(variant, variant=shown))
    return tuple(variants)


def label(value: Any) -> str:
    """A value as a sweep variant's label and the console write it, as YAML would (`true`, `null`)."""
    if value is None:
        return "null"
    return str(value).lower() if isinstance(value, bool) else str(value)


def _check_tasks(config: PipelineConfig) -> None:
    if not config.tasks:
        raise ConfigError("tasks: at least one task is needed")
    seen = set()
    for task in config.tasks:
        if task.name in seen:
            raise ConfigError(f"tasks.{task.name}: two tasks share this name")
        seen.add(task.name)
        if not task.name or any(c in task.name for c in "/\\. "):
            raise ConfigError(f"tasks.{task.name}.name: use letters, digits, '-' and '_' only")


def apply_override(raw: dict[str, Any], override: str) -> None:
    """Applies one `a.b.c=value` override to the raw config; `tasks.<name>` addresses a task by name.

    The value is parsed as YAML, so `3`, `0.5`, `true`, `null` and `[a, b]` get their types.
    """
    key, sep, text = override.partition("=")
    if not sep or not key:
        raise ConfigError(f"--set {override!r}: expected KEY=VALUE")
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        raise ConfigError(f"--set {key}: cannot parse value {text!r}") from None
    set_key(raw, key, value)


def set_key(raw: dict[str, Any], key: str, value: Any) -> None:
    """Sets the dotted `key` of the raw config to `value`; `tasks.<name>` addresses a task by name."""
    parts = key.split(".")
    node: Any = raw
    for depth, part in enumerate(parts[:-1]):
        where = ".".join(parts[: depth + 1])
        if isinstance(node, list):
            node = _task_by_name(node, part, where)
        elif isinstance(node, dict):
            if node.get(part) is None:  # a missing or empty (`train:`) section
                node[part] = {}
            node = node[part]
        if not isinstance(node, dict | list):
            raise ConfigError(f"--set {key}: {where} is not a mapping")
    if isinstance(node, list):
        raise ConfigError(f"--set {key}: cannot replace a whole task")
    node[parts[-1]] = value


def _task_by_name(tasks: list[Any], name: str, where: str) -> dict[str, Any]:
    for task in tasks:
        if isinstance(task, dict) and task.get("name") == name:
            return task
    names = ", ".join(str(t.get("name")) for t in tasks if isinstance(t, dict))
    raise ConfigError(f"--set {where}: no task named {name!r} (tasks: {names})")


def from_dict(cls: type, raw: Any, where: str, settings: _Settings | None = None) -> Any:
    """Builds dataclass `cls` from `raw`, checking keys and types; `where` is the key path so far. A task is
    read into its kind's class, which `settings` gives (without it, the shared `TaskConfig`)."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{where or 'config'}: expected a mapping, got {_type_name(raw)}")
    if settings is not None and isinstance(cls, type) and issubclass(cls, TaskConfig):
        cls = settings(raw, where)
    fields = {f.name: f for f in dataclasses.fields(cls) if not f.metadata.get("internal")}
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        raise ConfigError(f"{_join(where, str(unknown[0]))}: unknown key (allowed: {', '.join(fields)})")
    hints = typing.get_type_hints(cls)
    values = {}
    for name, field in fields.items():
        path = _join(where, name)
        if name not in raw:
            if field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
                raise ConfigError(f"{path}: required key is missing")
            continue
        values[name] = _convert(hints[name], raw[name], path, field.metadata, settings)
    return cls(**values)


def _convert(hint: Any, value: Any, path: str, metadata: Mapping[str, Any], settings: _Settings | None) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _convert(inner, value, path, metadata, settings)
    if origin is tuple:
        if not isinstance(value, list):
            raise ConfigError(f"{path}: expected a list, got {_type_name(value)}")
        item = args[0]
        converted = []
        for i, element in enumerate(value):
            name = element.get("name") if isinstance(element, dict) else None
            converted.append(_convert(item, element, _join(path, str(name or i)), {}, settings))
        return tuple(converted)
    if origin is Mapping or hint is Mapping:
        if not isinstance(value, dict):
            raise ConfigError(f"{path}: expected a mapping, got {_type_name(value)}")
        return types.MappingProxyType(dict(value))
    if dataclasses.is_dataclass(hint):
        return from_dict(hint, value, path, settings)
    return _check_scalar(hint, value, path, metadata)


# What YAML 1.1 (PyYAML) reads as a string although people mean a number: `1e-3`, `2E5` (no dot, or no sign
# after the `e`).
_FLOAT = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")


def _check_scalar(hint: type, value: Any, path: str, metadata: Mapping[str, Any]) -> Any:
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if hint is float and isinstance(value, str) and _FLOAT.fullmatch(value.strip()):
        value = float(value)
    if hint is pathlib.Path and isinstance(value, str):
        value = pathlib.Path(value)
    # bool is an int in Python; `epochs: true` must still be an error.
    if not isinstance(value, hint) or (hint is not bool and isinstance(value, bool)):
        raise ConfigError(f"{path}: expected {hint.__name__}, got {_type_name(value)} {value!r}")
    choices = metadata.get("choices")
    if choices and value not in choices:
        raise ConfigError(f"{path}: {value!r} is not one of {', '.join(choices)}")
    if "min" in metadata and value < metadata["min"]:
        raise ConfigError(f"{path}: {value!r} is below the minimum {metadata['min']}")
    if "max" in metadata and value > metadata["max"]:
        raise ConfigError(f"{path}: {value!r} is above the maximum {metadata['max']}")
    return value


def _join(where: str, name: str) -> str:
    return f"{where}.{name}" if where else name


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


# ----------------------------------------------------------------------------------------------
# Flattening, for MLflow params and fingerprints


def to_dict(config: Any) -> Any:
    """The config as plain YAML-ready data (internal fields left out)."""
    if dataclasses.is_dataclass(config):
        return {
            f.name: to_dict(getattr(config, f.name))
            for f in dataclasses.fields(config)
            if not f.metadata.get("internal")
        }
    if isinstance(config, tuple | list):
        return [to_dict(item) for item in config]
    if isinstance(config, Mapping):
        return {key: to_dict(value) for key, value in config.items()}
    return config


def flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    """Flattens nested mappings into dotted keys: {"train": {"epochs": 2}} -> {"train.epochs": 2}."""
    if isinstance(data, Mapping):
        flat: dict[str, Any] = {}
        for key, value in data.items():
            flat.update(flatten(value, _join(prefix, str(key))))
        return flat
    return {prefix: data}


def named_files(value: Any) -> list[str]:
    """The files that `value`'s fields marked `PATH` name, in nested dataclasses too (a stage's parameters)."""
    if not dataclasses.is_dataclass(value) or isinstance(value, type):
        if isinstance(value, list | tuple):
            return [path for item in value for path in named_files(item)]
        return []
    found = []
    for field in dataclasses.fields(value):
        item = getattr(value, field.name)
        if field.metadata.get("path"):
            found += [item] if item is not None else []
        else:
            found += named_files(item)
    return found


def resolve_paths(section: Any, config: PipelineConfig, where: str) -> Any:
    """`section` with each field marked `PATH` (a file the config names) resolved against the config's folder.

    Raises:
        ConfigError: a named file does not exist (`where` is the section's key path, `tasks.NAME.model`), so
            that a run stops before its first stage rather than at the stage that reads the file.
    """
    changes = {}
    for field in dataclasses.fields(section):
        if field.metadata.get("path") and getattr(section, field.name) is not None:
            resolved = config.resolve(getattr(section, field.name))
            if not resolved.is_file():
                raise ConfigError(f"{where}.{field.name}: no such file {str(resolved)!r}")
            changes[field.name] = str(resolved)
    return dataclasses.replace(section, **changes) if changes else section
