"""Every stage of every kind, run on a tiny corpus: each project file whose code ran during the stage (traced
by a profile hook, in every thread it starts) or that it imported is in the code its fingerprint covers
(`pipeline.code`). A file missing from a closure would let an edit of it reuse stale artifacts."""

from __future__ import annotations

import pathlib
import random
import subprocess
import sys
import threading

import pytest
import yaml

import dag
import kinds
from pipeline import config as config_lib
from pipeline import runner
from pipeline.component import ComponentSpec

pytestmark = pytest.mark.slow

ROOT = pathlib.Path(__file__).resolve().parents[2]
TINY = ROOT / "tests" / "data" / "tiny"
# Let every model through, however little it learned in one epoch: the export stage's code must run too.
LENIENT = {"bless_margin": -100.0}
ONE_EPOCH = {"epochs": 1, "batch_size": 8}


def corpora(folder: pathlib.Path) -> list[dict]:
    """A task of every kind on a small corpus written into `folder`."""
    rng = random.Random(0)
    words = ["the", "dog", "cat", "sees", "runs", "a", "big", "small"]
    (folder / "reviews.tsv").write_text(
        "".join(f"{rng.choice(['pos', 'neg'])}\t{' '.join(rng.choices(words, k=5))}.\n" for _ in range(120))
    )
    (folder / "pairs.tsv").write_text(
        "".join(f"{' '.join(s)}\t{' '.join(reversed(s))}\n" for s in (rng.choices(words, k=4) for _ in range(120)))
    )
    (folder / "book.txt").write_text("\n".join(" ".join(rng.choices(words, k=8)) for _ in range(400)) + "\n")
    subprocess.run(
        [sys.executable, str(ROOT / "data" / "prepare_digit_captions.py"), "--images", "60", "--out", "scenes"],
        cwd=folder,
        check=True,
        capture_output=True,
        timeout=120,
    )
    tiny = {"embedding_dim": 4, "hidden_dim": 4}
    return [
        {
            "name": "tags",
            "kind": "tagger",
            "data": {"format": "brown", "train": str(TINY / "brown.txt")},
            "model": {**tiny, "char_embedding_dim": 2, "char_filters": 2},
        },
        {"name": "reviews", "kind": "classifier", "data": {"format": "tsv", "train": "reviews.tsv"}, "model": tiny},
        {
            "name": "chars",
            "kind": "language_model",
            "data": {"train": "book.txt"},
            "model": {"embedding_dim": 4, "hidden_dim": 8},
            "train": {"bptt": 16, "sample_length": 10},
        },
        {
            "name": "pairs",
            "kind": "translator",
            "data": {"format": "parallel_tsv", "train": "pairs.tsv"},
            "model": tiny,
            "decode": {"beam_size": 2},
        },
        {
            "name": "captions",
            "kind": "captioner",
            "data": {"train": "scenes/captions.tsv"},
            "preprocess": {"tokenizer": "whitespace", "image_size": 16},
            "model": {**tiny, "encoder_filters": 2},
            "decode": {"beam_size": 2},
            "evaluate": {"objects": "scenes/objects.tsv"},
        },
    ]


@pytest.fixture(scope="module")
def config(tmp_path_factory) -> config_lib.PipelineConfig:
    folder = tmp_path_factory.mktemp("closure")
    tasks = corpora(folder)
    for task in tasks:
        task["train"] = {**ONE_EPOCH, **task.get("train", {})}
        task["evaluate"] = {**LENIENT, **task.get("evaluate", {})}
    raw = {"tasks": tasks, "output_dir": "runs", "beam": {"options": {"direct_running_mode": "in_memory"}}}
    (folder / "pipeline_config.yaml").write_text(yaml.safe_dump(raw))
    return kinds.load_config(folder / "pipeline_config.yaml")


class Tracer:
    """Wraps every stage's executor: records the project files whose code runs while it does, in this thread
    and in the threads it starts, and those it imports."""

    def __init__(self) -> None:
        self.ran: dict[str, set[pathlib.Path]] = {}
        self._load = ComponentSpec.load_executor

    def load_executor(self, spec: ComponentSpec):
        executor = self._load(spec)

        def traced(context) -> None:
            files: set[str] = set()

            def hook(frame, event, arg):
                if event == "call":
                    files.add(frame.f_code.co_filename)

            before = set(sys.modules)
            threading.setprofile(hook)
            sys.setprofile(hook)
            try:
                executor(context)
            finally:
                sys.setprofile(None)
                threading.setprofile(None)
            imported = {getattr(sys.modules[name], "__file__", None) for name in set(sys.modules) - before}
            self.ran[spec.name] = {project_file(name) for name in files | imported if project_file(name)}

        return traced


def project_file(name: str | None) -> pathlib.Path | None:
    """A source file of the project (not a test), or None."""
    if not name or not name.endswith(".py"):
        return None
    path = pathlib.Path(name).resolve()
    if not path.is_relative_to(ROOT) or path.is_relative_to(ROOT / "tests") or ".venv" in path.parts:
        return None
    return path


@pytest.mark.parametrize("task", ["tags", "reviews", "chars", "pairs", "captions"])
def test_every_file_a_stage_runs_or_imports_is_in_its_fingerprint(config, task, monkeypatch):
    tracer = Tracer()
    monkeypatch.setattr(ComponentSpec, "load_executor", lambda spec: tracer.load_executor(spec))
    components = dag.build(config.task(task), config)
    output_dir = config.resolve(config.output_dir)

    runner.run_task(components, task=task, task_dir=output_dir / task, seed=config.seed, beam=config.beam, tracker=None)

    assert set(tracer.ran) == {component.name for component in components}, "every stage ran"
    for component in components:
        covered = {ROOT / name for name in runner.stage_code(component).files}
        missing = sorted(path.relative_to(ROOT).as_posix() for path in tracer.ran[component.name] - covered)
        assert not missing, f"{task} {component.name} ran code its fingerprint misses: {missing}"
