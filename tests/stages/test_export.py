"""The export stage: nothing pushed unless blessed; a blessed model served from `serving/<N>/` on its own.

The serving tests load the pushed SavedModel in a fresh Python process that imports only tensorflow
and tensorflow_text, with the project off its path, so they show the exported graph needs none of
the project's code.
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import subprocess
import sys

import pytest
import tensorflow as tf

from components.export import spec
from components.export.executor import push
from models import text
from pipeline.errors import ValidationError
from tests.stages.support import StageHarness, StageRun, write_blessing

# The twelve tags of the universal tagset (Petrov et al. 2012), as the tiny corpus writes them.
UNIVERSAL_TAGS = {"ADJ", "ADP", "ADV", "CONJ", "DET", "NOUN", "NUM", "PRT", "PRON", "VERB", ".", "X"}
# Two sentences of different lengths, so that the second is padded in the batch.
SENTENCES = ["The jury didn't say 3.50 dollars -- or ``more''.", "Atlanta's mayor won."]
PROJECT_PACKAGES = ("pipeline", "models", "components", "tests")

# Loads the SavedModel, runs both signatures and reports what it got and which modules it imported.
SERVE_SCRIPT = """
import json, sys
import tensorflow as tf
import tensorflow_text  # registers the ops of the tokenizer

saved_model, sentences = sys.argv[1], json.loads(sys.argv[2])
imported_before_load = set(sys.modules)
model = tf.saved_model.load(saved_model)
served = model.signatures["serving_default"](text=tf.constant(sentences))
retagged = model.signatures["tag_tokens"](tokens=served["tokens"])
strings = lambda tensor: [[s.decode() for s in row] for row in tensor.numpy()]
print(json.dumps({
    "tokens": strings(served["tokens"]),
    "tags": strings(served["tags"]),
    "tag_tokens": strings(retagged["tags"]),
    "modules": sorted(name for name, module in sys.modules.items() if module is not None),
    "imported_by_the_model": sorted(set(sys.modules) - imported_before_load),
}))
"""

# TensorFlow imports Keras whenever it is installed, and tensorflow_text needs it; this script makes
# Keras unimportable and registers the tokenizer's kernels straight from tensorflow_text's library.
SERVE_WITHOUT_KERAS_SCRIPT = """
import importlib.util, json, pathlib, sys
sys.modules["keras"] = sys.modules["tf_keras"] = None  # `import keras` now raises ImportError
import tensorflow as tf

tf_text = pathlib.Path(importlib.util.find_spec("tensorflow_text").submodule_search_locations[0])
tf.load_op_library(str(tf_text / "python" / "ops" / "_regex_split_ops.so"))
saved_model, sentences = sys.argv[1], json.loads(sys.argv[2])
served = tf.saved_model.load(saved_model).signatures["serving_default"](text=tf.constant(sentences))
print(json.dumps({
    "tags": [[s.decode() for s in row] for row in served["tags"].numpy()],
    "keras": [n for n, module in sys.modules.items() if module and n.split(".")[0] in ("keras", "tf_keras")],
}))
"""


def run_python(script: str, saved_model: pathlib.Path, cwd: pathlib.Path) -> dict:
    """Runs `script` in a fresh interpreter whose path holds neither the project nor the tests."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    completed = subprocess.run(
        [sys.executable, "-c", script, str(saved_model), json.dumps(SENTENCES)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return json.loads(completed.stdout.strip().splitlines()[-1])


def strip_padding(rows: list[list[str]]) -> list[list[str]]:
    return [[value for value in row if value] for row in rows]


@pytest.fixture(scope="module")
def export_component(tiny_task, tiny_config):
    return spec.component(tiny_task, tiny_config)


@pytest.fixture(scope="module")
def exported(tmp_path_factory, export_component, trained, preprocessed, evaluated, ingested) -> StageRun:
    """The tiny model exported with a blessing made by hand (one epoch does not beat the baseline)."""
    root = tmp_path_factory.mktemp("export")
    blessing = write_blessing(root / "blessing", blessed=True, reason="blessed for the test")
    return StageHarness(root / "task").run(
        export_component,
        model=trained.output("model"),
        vocabulary=preprocessed.output("vocabulary"),
        blessing=blessing,
        evaluation=evaluated.output("evaluation"),
        examples=ingested.output("examples"),
    )


@pytest.fixture(scope="module")
def serving_dir(exported) -> pathlib.Path:
    return exported.context.task_dir / "serving"


@pytest.fixture(scope="module")
def served(tmp_path_factory, serving_dir) -> dict:
    """What the pushed model answers for SENTENCES in a fresh Python process."""
    return run_python(SERVE_SCRIPT, serving_dir / "1", tmp_path_factory.mktemp("serve"))


# ----------------------------------------------------------------------------------------------
# Pushing


def test_an_unblessed_model_pushes_nothing(
    harness, tmp_path, export_component, trained, preprocessed, evaluated, ingested
):
    blessing = write_blessing(tmp_path / "blessing", blessed=False, reason="eval token accuracy too low")

    run = harness.run(
        export_component,
        model=trained.output("model"),
        vocabulary=preprocessed.output("vocabulary"),
        blessing=blessing,
        evaluation=evaluated.output("evaluation"),
        examples=ingested.output("examples"),
    )

    pushed = run.output("pushed_model")
    assert pushed.properties == {"pushed": False, "reason": "not blessed: eval token accuracy too low"}
    assert not (run.context.task_dir / "serving").exists()
    assert not pushed.saved_model_path.exists()


def test_a_blessed_model_is_pushed_as_version_1(exported, serving_dir):
    pushed = exported.output("pushed_model")

    assert pushed.properties["pushed"] is True
    assert pushed.properties["version"] == 1
    assert pushed.properties["serving_dir"] == str(serving_dir / "1")
    assert sorted(p.name for p in serving_dir.iterdir()) == ["1"]
    assert (serving_dir / "1" / "saved_model.pb").is_file()


def test_the_pushed_version_is_a_copy_of_the_exported_saved_model(exported, serving_dir):
    saved_model = exported.output("pushed_model").saved_model_path

    assert (serving_dir / "1" / "saved_model.pb").read_bytes() == (saved_model / "saved_model.pb").read_bytes()


def test_the_saved_model_is_logged(exported):
    files = [(event["path"], event["artifact_path"]) for event in exported.log.events if event["kind"] == "artifact"]

    assert files == [("pushed_model/saved_model", "saved_model"), ("pushed_model/mlflow_model", "mlflow_model")]


def test_infra_validation_checks_every_eval_prediction_in_a_fresh_process(exported, evaluated):
    properties = exported.output("pushed_model").properties
    eval_sentences = sum(1 for _ in evaluated.output("evaluation").predictions("eval"))

    assert properties["sentences"] == min(eval_sentences, 256)
    assert 0 < properties["text_sentences"] <= properties["sentences"]


def test_a_saved_model_that_disagrees_with_the_keras_model_is_not_pushed(
    harness, tmp_path, export_component, trained, preprocessed, evaluated, ingested
):
    evaluation = evaluated.output("evaluation")
    tampered = shutil.copytree(evaluation.uri, tmp_path / "evaluation")
    predictions = [json.loads(line) for line in (tampered / "predictions_eval.jsonl").read_text().splitlines()]
    predictions[0]["tags"] = ["X" if tag != "X" else "NOUN" for tag in predictions[0]["tags"]]
    (tampered / "predictions_eval.jsonl").write_text("".join(json.dumps(p) + "\n" for p in predictions))
    blessing = write_blessing(tmp_path / "blessing", blessed=True, reason="blessed for the test")

    with pytest.raises(ValidationError, match=r"tags 1 of \d+ sentences unlike the Keras model.*nothing pushed"):
        harness.run(
            export_component,
            model=trained.output("model"),
            vocabulary=preprocessed.output("vocabulary"),
            blessing=blessing,
            evaluation=type(evaluation)(tampered, evaluation.fingerprint, "evaluate", evaluation.properties),
            examples=ingested.output("examples"),
        )
    assert not (harness.root / "serving").exists()


def test_the_mlflow_model_answers_strings_with_tokens_and_tags(exported):
    import mlflow

    model = mlflow.pyfunc.load_model(str(exported.output("pushed_model").uri / "mlflow_model"))
    (answer,) = model.predict(["The dog sleeps ."])

    assert answer["tokens"] == ["The", "dog", "sleeps", "."]
    assert len(answer["tags"]) == 4


def test_a_second_push_gets_version_2(exported, serving_dir, tmp_path):
    serving = shutil.copytree(serving_dir, tmp_path / "serving")

    version = push(exported.output("pushed_model").saved_model_path, serving)

    assert version == 2
    assert sorted(p.name for p in serving.iterdir()) == ["1", "2"]
    assert (serving / "2" / "saved_model.pb").is_file()


def test_push_numbers_after_the_newest_version_ignoring_other_entries(tmp_path):
    saved_model = tmp_path / "saved_model"
    saved_model.mkdir()
    (saved_model / "saved_model.pb").write_bytes(b"graph")
    serving = tmp_path / "serving"
    for name in ("1", "5", ".tmp-9", "notes"):
        (serving / name).mkdir(parents=True)

    assert push(saved_model, serving) == 6
    assert (serving / "6" / "saved_model.pb").read_bytes() == b"graph"


# ----------------------------------------------------------------------------------------------
# Serving in a fresh process


def test_serving_tokens_equal_the_regex_tokenizer_output(served, tiny_task):
    tokenizer = text.make_tokenizer("regex", tiny_task.preprocess.token_pattern)

    expected = [[t.decode() for t in row] for row in tokenizer.tokenize(tf.constant(SENTENCES)).to_list()]

    assert strip_padding(served["tokens"]) == expected
    assert expected[0][:4] == ["The", "jury", "didn't", "say"]


def test_serving_gives_a_universal_tag_to_every_token_and_none_to_padding(served):
    for tokens, tags in zip(served["tokens"], served["tags"], strict=True):
        assert len(tags) == len(tokens)
        assert all(tag in UNIVERSAL_TAGS for token, tag in zip(tokens, tags, strict=True) if token)
        assert all(tag == "" for token, tag in zip(tokens, tags, strict=True) if not token)


def test_tag_tokens_on_the_served_tokens_gives_the_served_tags(served):
    assert served["tag_tokens"] == served["tags"]


def test_the_serving_process_loads_no_project_module(served):
    assert [name for name in served["modules"] if name.split(".")[0] in PROJECT_PACKAGES] == []


def test_loading_and_calling_the_saved_model_imports_no_module(served):
    # Keras is in sys.modules only because `import tensorflow` itself imports it when it is installed.
    assert served["imported_by_the_model"] == []


def test_the_saved_model_serves_with_keras_unimportable(serving_dir, served, tmp_path):
    without_keras = run_python(SERVE_WITHOUT_KERAS_SCRIPT, serving_dir / "1", tmp_path)

    assert without_keras["keras"] == []
    assert without_keras["tags"] == served["tags"]
