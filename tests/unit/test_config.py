"""Unit tests of pipeline.config: loading YAML into the frozen, schema-checked config."""

import dataclasses
import pathlib
import textwrap

import pytest

import kinds
from kinds.base.settings import TokenBudgetTrain
from kinds.tagger.settings import TaggerModel, TaggerPreprocess, TaggerTask
from pipeline import config
from pipeline.errors import ConfigError

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]

# The smallest valid config: one task with its required keys only.
MINIMAL = """\
tasks:
  - name: t1
    kind: tagger
    data: {format: brown, train: data/train.txt}
"""


def write(folder: pathlib.Path, text: str, name: str = "pipeline.yaml") -> pathlib.Path:
    path = folder / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def with_task_keys(text: str) -> str:
    """MINIMAL with `text` (YAML at task level, e.g. "train: {epochs: 3}") added to task t1."""
    return MINIMAL + textwrap.indent(textwrap.dedent(text), "    ")


def with_data_keys(text: str) -> str:
    """MINIMAL with `text` (YAML flow entries, e.g. "format: conllu") added to task t1's data section."""
    return MINIMAL.replace("data: {format: brown, train: data/train.txt}", f"data: {{train: data/train.txt, {text}}}")


def load_error(folder: pathlib.Path, text: str, overrides=()) -> str:
    with pytest.raises(ConfigError) as error:
        kinds.load_config(write(folder, text), overrides)
    return str(error.value)


# --------------------------------------------------------------------------- defaults


LANGUAGE_MODEL = """\
tasks:
  - name: lm
    kind: language_model
    data: {train: input.txt}
"""


def test_a_kind_fills_its_own_defaults_and_says_which(tmp_path):
    loaded = kinds.load_config(write(tmp_path, LANGUAGE_MODEL))

    (task,) = loaded.variants
    assert (task.data.format, task.preprocess.tokenizer, task.train.batch_size) == ("text", "characters", 64)
    assert ("preprocess.tokenizer", "characters") in task.kind_defaults
    (line,) = config.kind_default_lines(task)
    assert line.startswith("language_model defaults for what the config leaves out: data.format=text, ")


def test_what_the_config_or_an_override_sets_is_kept_and_not_reported_as_a_default(tmp_path):
    text = LANGUAGE_MODEL.replace(
        "data: {train: input.txt}", "data: {train: input.txt}\n    preprocess: {tokenizer: regex}"
    )

    loaded = kinds.load_config(write(tmp_path, text), ["tasks.lm.train.batch_size=16"])

    (task,) = loaded.variants
    assert (task.preprocess.tokenizer, task.train.batch_size) == ("regex", 16)
    keys = {key for key, _ in task.kind_defaults}
    assert "preprocess.tokenizer" not in keys and "train.batch_size" not in keys and "data.format" in keys


def test_a_tagger_reports_its_one_kind_default_the_batch_size_it_may_fit_to_the_corpus(tmp_path):
    (task,) = kinds.load_config(write(tmp_path, MINIMAL)).variants

    assert task.kind_defaults == (("train.batch_size", 32),)
    assert config.kind_default_lines(task) == [
        "tagger defaults for what the config leaves out: train.batch_size=32, train.epochs=to convergence"
    ]
    (given,) = kinds.load_config(write(tmp_path, MINIMAL + "    train: {batch_size: 16, epochs: 2}\n")).variants
    assert given.kind_defaults == () and config.kind_default_lines(given) == []


def test_minimal_config_gets_the_schema_defaults(tmp_path):
    loaded = kinds.load_config(write(tmp_path, MINIMAL))

    (task,) = loaded.tasks
    assert (task.name, task.kind, task.data.train) == ("t1", "tagger", "data/train.txt")
    assert task.data == config.DataConfig(format="brown", train="data/train.txt")
    assert task == TaggerTask(name="t1", kind="tagger", data=task.data, kind_defaults=task.kind_defaults)
    assert task.preprocess == TaggerPreprocess()
    assert task.model == TaggerModel()
    assert task.train == TokenBudgetTrain()
    assert task.evaluate == config.EvaluateConfig()
    assert task.export == config.ExportConfig()
    assert loaded.output_dir == "runs"
    assert loaded.tracking == config.TrackingConfig()
    assert loaded.beam == config.BeamConfig()
    assert loaded.seed == 8


def test_given_values_replace_the_defaults(tmp_path):
    loaded = kinds.load_config(write(tmp_path, with_task_keys("train: {epochs: 7, clip_norm: null}\n") + "seed: 3\n"))

    assert loaded.seed == 3
    assert loaded.tasks[0].train.epochs == 7
    assert loaded.tasks[0].train.clip_norm is None
    assert loaded.tasks[0].train.batch_size == config.TrainConfig().batch_size


def test_the_repository_config_loads_and_brown_pos_is_a_tagger():
    loaded = kinds.load_config(REPO_ROOT / "pipeline_config.yaml")

    assert loaded.task("brown-pos").kind == "tagger"
    assert loaded.base_dir == REPO_ROOT


@pytest.mark.parametrize("path", sorted((REPO_ROOT / "configs").glob("*.yaml")), ids=lambda path: path.name)
def test_every_shipped_config_loads(path):
    # Loading checks every key and value (the data of some are prepared by a script, so not their files).
    assert kinds.load_config(path).variants


def test_the_scheduled_sampling_experiment_has_three_seeds_of_every_curriculum_on_two_tasks():
    loaded = kinds.load_config(REPO_ROOT / "configs" / "scheduled_sampling.yaml")

    for task in loaded.tasks:
        variants = loaded.variants_of(task.name)
        curricula = {variant.curriculum for variant in variants}
        assert len(curricula) >= 4
        for curriculum in curricula:
            seeds = sorted(variant.train.seed for variant in variants if variant.curriculum == curriculum)
            assert seeds == [1, 2, 3], (task.name, curriculum)
        assert {variant.train.epochs for variant in variants} == {task.train.epochs}  # the same updates
        assert not task.train.keep_best
    assert {task.kind for task in loaded.tasks} == {"translator", "captioner"}


# --------------------------------------------------------------------------- unknown and missing keys


@pytest.mark.parametrize(
    ("text", "path"),
    [
        (MINIMAL + "epochz: 2\n", "epochz"),
        (with_task_keys("epochz: 2\n"), "tasks.t1.epochz"),
        (with_task_keys("train: {epochz: 2}\n"), "tasks.t1.train.epochz"),
        (with_data_keys("split: {evall: 0.1}"), "tasks.t1.data.split.evall"),
        (MINIMAL + "base_dir: /elsewhere\n", "base_dir"),  # internal field, not a YAML key
    ],
)
def test_unknown_key_is_an_error_naming_its_path(tmp_path, text, path):
    message = load_error(tmp_path, text)

    assert message.startswith(f"{path}: unknown key")


def test_unknown_key_error_lists_the_allowed_keys(tmp_path):
    message = load_error(tmp_path, with_task_keys("train: {epochz: 2}\n"))

    assert "epochs" in message and "batch_size" in message


@pytest.mark.parametrize(
    ("text", "path"),
    [
        ("tasks:\n  - name: t1\n    data: {train: x}\n", "tasks.t1.kind"),
        ("tasks:\n  - kind: tagger\n    data: {train: x}\n", "tasks.0.name"),
        ("tasks:\n  - name: t1\n    kind: tagger\n", "tasks.t1.data"),
        ("tasks:\n  - name: t1\n    kind: tagger\n    data: {format: brown}\n", "tasks.t1.data.train"),
        ("seed: 1\n", "tasks"),
    ],
)
def test_missing_required_key_is_an_error_naming_its_path(tmp_path, text, path):
    message = load_error(tmp_path, text)

    assert message.startswith(f"{path}:")


def test_empty_task_list_is_an_error(tmp_path):
    assert load_error(tmp_path, "tasks: []\n").startswith("tasks:")


def test_duplicate_task_names_are_an_error(tmp_path):
    text = MINIMAL + "  - name: t1\n    kind: tagger\n    data: {train: other.txt}\n"

    message = load_error(tmp_path, text)

    assert message.startswith("tasks.t1:")
    assert "share" in message


@pytest.mark.parametrize("name", ["a.b", "a/b", "a b", ""])
def test_task_name_with_a_separator_is_an_error(tmp_path, name):
    text = MINIMAL.replace("name: t1", f"name: {name!r}")

    assert ".name:" in load_error(tmp_path, text)


# --------------------------------------------------------------------------- types


@pytest.mark.parametrize(
    ("value", "expected"),
    [("true", "expected int, got bool"), ('"2"', "expected int, got str"), ("2.0", "expected int, got float")],
)
def test_int_key_rejects_other_types(tmp_path, value, expected):
    message = load_error(tmp_path, with_task_keys(f"train: {{epochs: {value}}}\n"))

    assert message.startswith(f"tasks.t1.train.epochs: {expected}")


def test_int_is_accepted_for_a_float_key_and_becomes_a_float(tmp_path):
    loaded = kinds.load_config(write(tmp_path, with_task_keys("train: {learning_rate: 1}\n")))

    learning_rate = loaded.tasks[0].train.learning_rate
    assert learning_rate == 1.0
    assert type(learning_rate) is float


def test_bool_is_rejected_for_a_float_key(tmp_path):
    message = load_error(tmp_path, with_task_keys("train: {learning_rate: true}\n"))

    assert message.startswith("tasks.t1.train.learning_rate: expected float, got bool")


def test_str_key_rejects_a_number(tmp_path):
    assert load_error(tmp_path, MINIMAL + "output_dir: 3\n").startswith("output_dir: expected str, got int")


def test_bool_key_rejects_a_string(tmp_path):
    message = load_error(tmp_path, with_task_keys("model: {bidirectional: 'yes'}\n"))

    assert message.startswith("tasks.t1.model.bidirectional: expected bool, got str")


def test_null_is_rejected_for_a_key_that_is_not_optional(tmp_path):
    message = load_error(tmp_path, with_task_keys("train: {learning_rate: null}\n"))

    assert message.startswith("tasks.t1.train.learning_rate: expected float, got null")


def test_section_that_is_not_a_mapping_is_an_error(tmp_path):
    message = load_error(tmp_path, with_task_keys("train: 3\n"))

    assert message.startswith("tasks.t1.train: expected a mapping, got int")


def test_tasks_that_is_not_a_list_is_an_error(tmp_path):
    assert load_error(tmp_path, "tasks: {name: t1}\n").startswith("tasks: expected a list, got dict")


# --------------------------------------------------------------------------- choices and bounds


@pytest.mark.parametrize(
    ("section", "key", "value"),
    [("model", "cell", "cnn"), ("preprocess", "tokenizer", "bert"), ("model", "char_encoder", "gru")],
)
def test_value_outside_its_choices_is_an_error(tmp_path, section, key, value):
    message = load_error(tmp_path, with_task_keys(f"{section}: {{{key}: {value}}}\n"))

    assert message.startswith(f"tasks.t1.{section}.{key}: {value!r} is not one of")


def test_a_format_the_kind_does_not_read_is_an_error_naming_those_it_does(tmp_path):
    message = load_error(tmp_path, with_data_keys("format: csv"))

    assert message == "tasks.t1.data.format: a tagger reads brown or conllu or conll; not csv"


def test_a_kind_of_one_format_needs_no_format_and_a_suffix_names_a_taggers(tmp_path):
    text = "tasks:\n  - name: r\n    kind: classifier\n    data: {train: reviews.tsv}\n"
    (task,) = kinds.load_config(write(tmp_path, text)).variants
    assert task.data.format == "tsv" and ("data.format", "tsv") in task.kind_defaults

    conllu = with_data_keys("format: null").replace("data/train.txt", "data/train.conllu.gz")
    assert kinds.load_config(write(tmp_path, conllu)).tasks[0].data.format == "conllu"
    message = load_error(tmp_path, with_data_keys("format: null"))
    assert message == "tasks.t1.data.format: a tagger reads brown or conllu or conll; say which"


def test_kind_outside_its_choices_is_an_error(tmp_path):
    message = load_error(tmp_path, MINIMAL.replace("kind: tagger", "kind: parser"))

    assert message.startswith("tasks.t1.kind: 'parser' is not one of")


@pytest.mark.parametrize(
    ("section", "key", "value", "word"),
    [
        ("train", "epochs", "0", "minimum"),
        ("train", "learning_rate", "-0.1", "minimum"),
        ("preprocess", "max_size", "4", "minimum"),
        ("model", "dropout", "0.96", "maximum"),
        ("evaluate", "bless_margin", "1.5", "maximum"),
    ],
)
def test_value_outside_its_bounds_is_an_error(tmp_path, section, key, value, word):
    message = load_error(tmp_path, with_task_keys(f"{section}: {{{key}: {value}}}\n"))

    assert message.startswith(f"tasks.t1.{section}.{key}: ")
    assert word in message


@pytest.mark.parametrize(
    ("section", "key", "value"),
    [("train", "epochs", 1), ("model", "dropout", 0.95), ("model", "dropout", 0.0), ("preprocess", "max_size", 5)],
)
def test_bounds_are_inclusive(tmp_path, section, key, value):
    loaded = kinds.load_config(write(tmp_path, with_task_keys(f"{section}: {{{key}: {value}}}\n")))

    assert getattr(getattr(loaded.tasks[0], section), key) == value


# --------------------------------------------------------------------------- --set overrides


def test_override_addresses_a_task_by_name(tmp_path):
    text = MINIMAL + "  - name: t2\n    kind: tagger\n    data: {format: brown, train: other.txt}\n"

    loaded = kinds.load_config(write(tmp_path, text), ["tasks.t2.train.epochs=5"])

    assert loaded.task("t2").train.epochs == 5
    assert loaded.task("t1").train.epochs == config.TrainConfig().epochs


@pytest.mark.parametrize(
    ("override", "attribute", "expected"),
    [
        ("tasks.t1.train.epochs=1", "train.epochs", 1),
        ("tasks.t1.train.learning_rate=0.5", "train.learning_rate", 0.5),
        ("tasks.t1.model.bidirectional=false", "model.bidirectional", False),
        ("tasks.t1.train.clip_norm=null", "train.clip_norm", None),
        ("tasks.t1.model.cell=gru", "model.cell", "gru"),
    ],
)
def test_override_value_is_parsed_as_yaml(tmp_path, override, attribute, expected):
    loaded = kinds.load_config(write(tmp_path, MINIMAL), [override])

    section, key = attribute.split(".")
    value = getattr(getattr(loaded.tasks[0], section), key)
    assert value == expected
    assert type(value) is type(expected)


def test_override_of_a_top_level_key(tmp_path):
    assert kinds.load_config(write(tmp_path, MINIMAL), ["seed=3"]).seed == 3


def test_override_creates_a_missing_section(tmp_path):
    loaded = kinds.load_config(write(tmp_path, MINIMAL), ["tracking.uri=http://localhost:5000"])

    assert loaded.tracking.uri == "http://localhost:5000"


def test_override_is_checked_against_the_schema(tmp_path):
    message = load_error(tmp_path, MINIMAL, ["tasks.t1.train.epochs=yes"])

    assert message.startswith("tasks.t1.train.epochs: expected int, got bool")


def test_override_of_an_unknown_task_names_the_known_tasks(tmp_path):
    text = MINIMAL + "  - name: t2\n    kind: tagger\n    data: {format: brown, train: other.txt}\n"

    message = load_error(tmp_path, text, ["tasks.nope.train.epochs=1"])

    assert "'nope'" in message
    assert "t1, t2" in message


@pytest.mark.parametrize("override", ["tasks.t1.train.epochs", "=3", ""])
def test_malformed_override_is_an_error(tmp_path, override):
    assert "expected KEY=VALUE" in load_error(tmp_path, MINIMAL, [override])


def test_override_with_unparsable_value_is_an_error(tmp_path):
    assert "cannot parse value" in load_error(tmp_path, MINIMAL, ["seed=["])


def test_override_cannot_replace_a_whole_task(tmp_path):
    assert "whole task" in load_error(tmp_path, MINIMAL, ["tasks.t1=3"])


def test_apply_override_changes_the_raw_mapping_in_place():
    raw = {"tasks": [{"name": "t1"}], "seed": 8}

    config.apply_override(raw, "tasks.t1.train.epochs=4")

    assert raw == {"tasks": [{"name": "t1", "train": {"epochs": 4}}], "seed": 8}


def test_override_below_a_scalar_is_a_config_error():
    raw = {"tasks": [{"name": "t1"}], "seed": 8}

    with pytest.raises(ConfigError, match="seed"):
        config.apply_override(raw, "seed.x=1")


# --------------------------------------------------------------------------- files


def test_missing_config_file_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        kinds.load_config(tmp_path / "absent.yaml")


def test_invalid_yaml_is_an_error(tmp_path):
    message = load_error(tmp_path, "tasks: [\n")

    assert message.startswith("cannot read config")
    assert "\n" not in message


@pytest.mark.parametrize("text", ["", "- a\n- b\n", "just a string\n"])
def test_top_level_that_is_not_a_mapping_is_an_error(tmp_path, text):
    assert "top level must be a mapping" in load_error(tmp_path, text)


def test_relative_data_path_is_resolved_against_the_config_folder(tmp_path, monkeypatch):
    folder = tmp_path / "project"
    folder.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)

    loaded = kinds.load_config(write(folder, MINIMAL))

    assert loaded.base_dir == folder
    assert loaded.resolve(loaded.tasks[0].data.train) == folder / "data" / "train.txt"


def test_config_given_by_a_relative_path_resolves_against_its_folder(tmp_path, monkeypatch):
    folder = tmp_path / "project"
    folder.mkdir()
    write(folder, MINIMAL)
    monkeypatch.chdir(tmp_path)

    loaded = kinds.load_config("project/pipeline.yaml")

    assert loaded.resolve("data/train.txt") == folder / "data" / "train.txt"


def test_absolute_path_is_left_as_is(tmp_path):
    loaded = kinds.load_config(write(tmp_path, MINIMAL))

    assert loaded.resolve("/srv/data/train.txt") == pathlib.Path("/srv/data/train.txt")


def test_relative_sqlite_tracking_uri_is_resolved_against_the_config_folder(tmp_path, monkeypatch):
    folder = tmp_path / "project"
    folder.mkdir()
    monkeypatch.chdir(tmp_path)

    loaded = kinds.load_config(write(folder, MINIMAL + "tracking: {uri: 'sqlite:///db/mlflow.db'}\n"))

    assert loaded.tracking_uri == f"sqlite:///{folder / 'db' / 'mlflow.db'}"


def test_default_tracking_uri_is_a_database_next_to_the_config(tmp_path):
    loaded = kinds.load_config(write(tmp_path, MINIMAL))

    assert loaded.tracking_uri == f"sqlite:///{tmp_path / 'mlflow.db'}"


@pytest.mark.parametrize("uri", ["sqlite:////var/mlflow.db", "http://localhost:5000", "file:///tmp/mlruns"])
def test_absolute_or_remote_tracking_uri_is_unchanged(tmp_path, uri):
    loaded = kinds.load_config(write(tmp_path, MINIMAL + f"tracking: {{uri: '{uri}'}}\n"))

    assert loaded.tracking_uri == uri


# --------------------------------------------------------------------------- the loaded config


def test_task_looks_up_a_task_by_name(tmp_path):
    loaded = kinds.load_config(write(tmp_path, MINIMAL))

    assert loaded.task("t1") is loaded.tasks[0]


def test_task_of_an_unknown_name_names_the_known_tasks(tmp_path):
    loaded = kinds.load_config(write(tmp_path, MINIMAL))

    with pytest.raises(ConfigError, match=r"'nope'.*t1"):
        loaded.task("nope")


@pytest.mark.parametrize(
    "assign",
    [
        lambda c: setattr(c, "seed", 1),
        lambda c: setattr(c.tasks[0], "name", "t2"),
        lambda c: setattr(c.tasks[0].train, "epochs", 9),
    ],
    ids=["top", "task", "section"],
)
def test_config_is_frozen(tmp_path, assign):
    loaded = kinds.load_config(write(tmp_path, MINIMAL))

    with pytest.raises(dataclasses.FrozenInstanceError):
        assign(loaded)


def test_beam_options_are_read_only(tmp_path):
    loaded = kinds.load_config(write(tmp_path, MINIMAL))

    with pytest.raises(TypeError):
        loaded.beam.options["direct_num_workers"] = 8


# --------------------------------------------------------------------------- from_dict, to_dict, flatten


def test_from_dict_builds_a_section():
    train = config.from_dict(config.TrainConfig, {"epochs": 3}, "tasks.t1.train")

    assert train == config.TrainConfig(epochs=3)


def test_from_dict_names_the_path_it_is_given():
    with pytest.raises(ConfigError, match=r"^tasks\.t1\.train\.epochs: expected int"):
        config.from_dict(config.TrainConfig, {"epochs": "3"}, "tasks.t1.train")


def test_to_dict_round_trips_through_from_dict(tmp_path):
    loaded = kinds.load_config(write(tmp_path, with_task_keys("model: {cell: gru, layers: 2}\n")))

    rebuilt = config.from_dict(config.PipelineConfig, config.to_dict(loaded), "", config.settings_of(kinds))

    assert dataclasses.replace(rebuilt, base_dir=loaded.base_dir, variants=loaded.variants) == loaded


def test_to_dict_leaves_out_internal_fields(tmp_path):
    data = config.to_dict(kinds.load_config(write(tmp_path, MINIMAL + "beam: {options: {direct_num_workers: 3}}\n")))

    assert "base_dir" not in data
    assert data["beam"]["options"] == {"direct_num_workers": 3}
    assert type(data["beam"]["options"]) is dict


def test_beam_options_default_to_the_runners_own():
    assert config.BeamConfig().runner_options() == {"direct_num_workers": 2, "direct_running_mode": "multi_processing"}
    assert config.BeamConfig(runner="DaskRunner").runner_options() == {}
    assert config.BeamConfig(options={"direct_num_workers": 1}).runner_options() == {"direct_num_workers": 1}


def test_flatten_gives_dotted_keys():
    flat = config.flatten({"train": {"epochs": 2, "clip_norm": None}, "seed": 8, "a": {"b": {"c": [1]}}})

    assert flat == {"train.epochs": 2, "train.clip_norm": None, "seed": 8, "a.b.c": [1]}


def test_flatten_of_a_task_has_a_key_per_leaf(tmp_path):
    task = kinds.load_config(write(tmp_path, MINIMAL)).tasks[0]

    flat = config.flatten(config.to_dict(task))

    assert flat["model.cell"] == "lstm"
    assert flat["data.split.eval"] == 0.1
    assert flat["train.epochs"] is None  # to convergence
    assert all(not isinstance(value, dict) for value in flat.values())


# --------------------------------------------------------------------------- sweeps


SWEEP = """
sweeps:
  - task: t1
    grid: {model.cell: [rnn, gru], model.bidirectional: [false, true]}
"""


def test_a_sweep_replaces_its_task_by_the_grid_s_variants_in_order(tmp_path):
    loaded = kinds.load_config(write(tmp_path, MINIMAL + SWEEP))

    variants = loaded.variants_of("t1")
    assert [(v.model.cell, v.model.bidirectional) for v in variants] == [
        ("rnn", False),
        ("rnn", True),
        ("gru", False),
        ("gru", True),
    ]
    assert variants[1].variant == "model.cell=rnn,model.bidirectional=true"
    assert all(v.train == loaded.task("t1").train for v in variants)


def test_a_task_without_a_sweep_runs_as_itself(tmp_path):
    loaded = kinds.load_config(write(tmp_path, MINIMAL))

    # The same task; the variant also records the kind's defaults it was given.
    assert tuple(dataclasses.replace(v, kind_defaults=()) for v in loaded.variants) == loaded.tasks
    assert loaded.variants[0].variant == ""


def test_the_variant_label_is_not_a_param(tmp_path):
    loaded = kinds.load_config(write(tmp_path, MINIMAL + SWEEP))

    assert "variant" not in config.to_dict(loaded.variants[0])


@pytest.mark.parametrize(
    ("sweep", "message"),
    [
        ("sweeps: [{task: nope, grid: {model.cell: [gru]}}]", "no task named 'nope'"),
        ("sweeps: [{task: t1, grid: {model.cell: gru}}]", r"sweeps.0.grid.model.cell: expected a non-empty list"),
        ("sweeps: [{task: t1, grid: {model.cell: [cnn]}}]", r"sweeps.t1\[model.cell=cnn\].model.cell: 'cnn' is not"),
        ("sweeps: [{task: t1, grid: {model.cel: [gru]}}]", r"model.cel: unknown key"),
    ],
)
def test_sweep_errors_name_what_is_wrong(tmp_path, sweep, message):
    with pytest.raises(ConfigError, match=message):
        kinds.load_config(write(tmp_path, MINIMAL + sweep + "\n"))


def test_tokens_per_batch_is_for_taggers_and_classifiers(tmp_path):
    loaded = kinds.load_config(write(tmp_path, with_task_keys("train: {tokens_per_batch: 2048}\n")))
    assert loaded.tasks[0].train.tokens_per_batch == 2048

    text = MINIMAL.replace("kind: tagger", "kind: translator").replace("format: brown", "format: parallel_tsv")
    message = load_error(tmp_path, text + "    train: {tokens_per_batch: 2048}\n")
    allowed = "(allowed: epochs, max_minutes, batch_size, "
    assert message.startswith(f"tasks.t1.train.tokens_per_batch: unknown key {allowed}")


def test_a_kind_reads_only_its_own_keys_and_the_others_are_not_logged(tmp_path):
    message = load_error(tmp_path, with_task_keys("model: {pooling: mean}\n"))
    assert message.startswith("tasks.t1.model.pooling: unknown key (allowed: cell, layers, bidirectional, ")
    message = load_error(tmp_path, with_task_keys("decode: {beam_size: 3}\n"))
    assert message.startswith("tasks.t1.decode: unknown key")

    (task,) = kinds.load_config(write(tmp_path, MINIMAL)).tasks
    params = config.flatten(config.to_dict(task))
    assert {"model.char_encoder", "preprocess.max_word_length", "train.tokens_per_batch"} <= set(params)
    assert not {"model.pooling", "model.attention", "preprocess.image_size", "train.bptt"} & set(params)


def test_yaml_floats_people_write_are_numbers(tmp_path):
    loaded = kinds.load_config(write(tmp_path, with_task_keys("train: {learning_rate: 1e-3, lr_factor: 5E-1}\n")))

    assert (loaded.tasks[0].train.learning_rate, loaded.tasks[0].train.lr_factor) == (0.001, 0.5)
    message = load_error(tmp_path, with_task_keys("train: {learning_rate: fast}\n"))
    assert message == "tasks.t1.train.learning_rate: expected float, got str 'fast'"


def test_a_character_bilstm_of_odd_size_is_a_config_error(tmp_path):
    message = load_error(tmp_path, with_task_keys("model: {char_encoder: lstm, char_filters: 25}\n"))

    assert message.startswith("tasks.t1.model.char_filters: a character BiLSTM needs an even size")


def test_a_captioner_refuses_attention_none(tmp_path):
    text = "tasks:\n  - name: c\n    kind: captioner\n    data: {train: captions.tsv}\n    model: {attention: none}\n"
    assert load_error(tmp_path, text).startswith("tasks.c.model.attention: a captioner attends over the image's grid")


def test_the_readmes_example_config_loads(tmp_path):
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("\n## Config\n") :]
    example = section[section.index("```yaml\n") + len("```yaml\n") : section.index("```\n", section.index("```yaml"))]

    loaded = kinds.load_config(write(tmp_path, example))

    (task,) = loaded.tasks
    assert task.kind == "tagger" and task.model.char_encoder == "cnn" and task.train.tokens_per_batch == 0
    assert [variant.model.cell for variant in loaded.variants] == ["rnn", "gru", "lstm"]


BUILT_IN_KINDS = ("tagger", "classifier", "language_model", "translator", "captioner", "vqa")


def test_the_readmes_own_data_config_is_one_minimal_task_of_each_kind(tmp_path):
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("\n## Train on your own data\n") :]
    example = section[section.index("```yaml\n") + len("```yaml\n") : section.index("```\n", section.index("```yaml"))]

    loaded = kinds.load_config(write(tmp_path, example))

    assert sorted(task.kind for task in loaded.tasks) == sorted(BUILT_IN_KINDS)
    formats = {"conll", "tsv", "text", "parallel_tsv", "image_captions", "vqa_tsv"}
    assert {task.data.format for task in loaded.tasks} == formats
