"""The DAG (`dag.py`): every kind's stages wired by name, and fingerprints that cover only a kind's own code."""

from __future__ import annotations

import pathlib
import shutil
import subprocess
import sys

import pytest

import dag
import kinds
from pipeline import config as config_lib
from pipeline import runner
from pipeline.errors import ConfigError

ROOT = pathlib.Path(__file__).resolve().parents[2]
TINY = ROOT / "tests" / "data" / "tiny"


@pytest.fixture
def config(tmp_path: pathlib.Path) -> config_lib.PipelineConfig:
    """One task of every kind, on tiny files (their content does not matter: nothing runs)."""
    (tmp_path / "pairs.tsv").write_text("a b\tc d\n", encoding="utf-8")
    (tmp_path / "labels.tsv").write_text("pos\ta b\n", encoding="utf-8")
    (tmp_path / "text.txt").write_text("a b c\n", encoding="utf-8")
    shutil.copy(TINY / "brown.txt", tmp_path / "brown.txt")
    raw = {
        "tasks": [
            {"name": "pos", "kind": "tagger", "data": {"format": "brown", "train": "brown.txt"}},
            {"name": "polarity", "kind": "classifier", "data": {"format": "tsv", "train": "labels.tsv"}},
            {"name": "chars", "kind": "language_model", "data": {"format": "text", "train": "text.txt"}},
            {"name": "pairs", "kind": "translator", "data": {"format": "parallel_tsv", "train": "pairs.tsv"}},
        ]
    }
    path = tmp_path / "pipeline_config.yaml"
    path.write_text(__import__("yaml").safe_dump(raw))
    return kinds.load_config(path)


def test_every_input_is_wired_to_an_earlier_output_of_its_type(config):
    for task in config.tasks:
        made = {}
        for component in dag.build(task, config):
            for name, channel in component.inputs.items():
                assert made[(channel.stage, channel.output)] is component.spec.inputs[name]
            made.update({(component.name, name): kind for name, kind in component.spec.outputs.items()})


def test_only_a_kind_with_a_curriculum_gets_the_curriculum_stage(config):
    for task in config.tasks:
        names = [c.name for c in dag.build(task, config)]
        assert ("curriculum" in names) == kinds.get(task.kind).curriculum


@pytest.fixture
def project_copy(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> pathlib.Path:
    """The project's sources copied to a temp folder, which the fingerprints are taken from."""
    copy = tmp_path / "project"
    for folder in ("components", "kinds", "models", "pipeline"):
        shutil.copytree(ROOT / folder, copy / folder, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(runner, "PROJECT_ROOT", copy)
    return copy


def fingerprints(config) -> dict[str, dict[str, str]]:
    return {task.kind: runner.fingerprints(dag.build(task, config), config.seed) for task in config.tasks}


def test_editing_the_translator_reruns_no_stage_of_another_kind(config, project_copy):
    before = fingerprints(config)
    with (project_copy / "models" / "seq2seq.py").open("a") as source:
        source.write("\n# an edit\n")
    after = fingerprints(config)

    for kind in ("tagger", "classifier", "language_model"):
        assert after[kind] == before[kind], kind
    changed = {stage for stage in before["translator"] if after["translator"][stage] != before["translator"][stage]}
    assert changed == {"train", "evaluate", "export"}


def test_editing_a_kind_reruns_its_own_stages_from_the_one_that_reads_the_file(config, project_copy):
    before = fingerprints(config)
    with (project_copy / "kinds" / "tagger" / "evaluate.py").open("a") as source:
        source.write("\n# an edit\n")
    after = fingerprints(config)

    changed = {stage for stage in before["tagger"] if after["tagger"][stage] != before["tagger"][stage]}
    assert changed == {"evaluate", "export"}
    for kind in ("classifier", "language_model", "translator"):
        assert after[kind] == before[kind], kind


def test_editing_shared_stage_code_reruns_that_stage_for_every_kind(config, project_copy):
    before = fingerprints(config)
    with (project_copy / "components" / "evaluate" / "executor.py").open("a") as source:
        source.write("\n# an edit\n")
    after = fingerprints(config)

    for kind in before:
        assert after[kind]["evaluate"] != before[kind]["evaluate"]
        assert after[kind]["train"] == before[kind]["train"]


def test_a_captioners_encoder_weights_are_resolved_against_the_config_file(tmp_path):
    (tmp_path / "captions.tsv").write_text("a.png\ta caption\n", encoding="utf-8")
    task = {
        "name": "captions",
        "kind": "captioner",
        "data": {"train": "captions.tsv"},
        "model": {"encoder": "MobileNetV2", "encoder_weights": "weights/mobilenet.h5"},
    }
    path = tmp_path / "pipeline_config.yaml"
    path.write_text(__import__("yaml").safe_dump({"tasks": [task]}))
    loaded = kinds.load_config(path)
    with pytest.raises(ConfigError) as missing:
        dag.build(loaded.task("captions"), loaded)
    weights = tmp_path.resolve() / "weights" / "mobilenet.h5"
    assert str(missing.value) == f"tasks.captions.model.encoder_weights: no such file '{weights}'"

    weights.parent.mkdir()
    weights.write_bytes(b"weights")
    train = next(c for c in dag.build(loaded.task("captions"), loaded) if c.name == "train")
    assert train.parameters.model.encoder_weights == str(weights)


def test_a_word_vectors_file_replaced_at_the_same_path_reruns_training_and_what_follows(tmp_path):
    (tmp_path / "labels.tsv").write_text("pos\ta b\n", encoding="utf-8")
    vectors = tmp_path / "vectors.txt"
    vectors.write_text("a 0.1 0.2\n", encoding="utf-8")
    task = {"name": "polarity", "kind": "classifier", "data": {"train": "labels.tsv"}}
    task["model"] = {"word_vectors": "vectors.txt"}
    path = tmp_path / "pipeline_config.yaml"
    path.write_text(__import__("yaml").safe_dump({"tasks": [task]}))
    loaded = kinds.load_config(path)
    before = runner.fingerprints(dag.build(loaded.task("polarity"), loaded), loaded.seed)
    vectors.write_text("a 0.3 0.2\n", encoding="utf-8")
    after = runner.fingerprints(dag.build(loaded.task("polarity"), loaded), loaded.seed)
    assert [stage for stage in before if before[stage] != after[stage]] == ["train", "evaluate", "export"]


def test_a_one_line_edit_of_the_length_buckets_reruns_the_taggers_training(config, project_copy):
    before = fingerprints(config)
    source = project_copy / "models" / "buckets.py"
    source.write_text(source.read_text().replace("BUCKET_BOUNDARIES = (", "BUCKET_BOUNDARIES = (  # edited\n", 1))
    after = fingerprints(config)

    assert after["tagger"]["train"] != before["tagger"]["train"]
    assert after["tagger"]["preprocess"] == before["tagger"]["preprocess"]


def test_editing_another_kinds_model_reruns_nothing(config, project_copy):
    before = fingerprints(config)
    with (project_copy / "models" / "captioner.py").open("a") as source:
        source.write("\n# an edit\n")

    assert fingerprints(config) == before


def test_a_stages_code_holds_what_its_executor_imports_inside_functions_and_the_libraries_it_imports(config):
    components = {c.name: c for c in dag.build(config.task("pos"), config)}

    train = runner.stage_code(components["train"])
    preprocess = runner.stage_code(components["preprocess"])

    assert {"models/buckets.py", "kinds/base/plots.py", "kinds/tagger/train.py"} <= set(train.files)
    assert "models/text.py" in preprocess.files  # imported inside the layout's functions
    assert {"tensorflow", "keras", "tensorflow-text"} <= {name for name, _ in train.libraries}
    assert "apache-beam" in {name for name, _ in preprocess.libraries}
    captioner = {name for name in train.files if name.startswith("kinds/captioner/")}
    assert captioner == {"kinds/captioner/__init__.py", "kinds/captioner/settings.py"}  # what the registry imports


def test_loading_a_config_and_building_every_kinds_dag_imports_neither_tensorflow_nor_beam(config):
    script = (
        "import sys, dag, kinds\n"
        f"config = kinds.load_config({str(config.base_dir / 'pipeline_config.yaml')!r})\n"
        "for task in config.variants:\n"
        "    dag.build(task, config)\n"
        "print(sorted(m for m in ('tensorflow', 'keras', 'apache_beam') if m in sys.modules))\n"
    )
    found = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True)
    assert found.stdout.strip() == "[]"
