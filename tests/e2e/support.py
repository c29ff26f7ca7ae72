"""What the end-to-end tests share: a tiny corpus where context matters, a config, and the CLI."""

from __future__ import annotations

import os
import pathlib
import random
import re
import subprocess
import sys
from typing import Any

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
TASK = "toy-pos"
STAGES = ["ingest", "statistics", "preprocess", "train", "evaluate", "export"]


def make_corpus(path: pathlib.Path, sentences: int = 400, seed: int = 0) -> None:
    """A Brown-format corpus in which "run", "fish" and "watch" are nouns after a determiner and verbs
    after a pronoun: the most-frequent-tag baseline cannot tag them all right, a bidirectional tagger can."""
    rng = random.Random(seed)
    ambiguous = ["run", "fish", "watch"]
    nouns = ["dog", "cat", "man", "boat"] + ambiguous
    lines = []
    for _ in range(sentences):
        if rng.random() < 0.5:  # PRON VERB DET NOUN .
            words = [(rng.choice(["we", "they", "I"]), "PRON"), (rng.choice(ambiguous + ["see"]), "VERB")]
            words += [(rng.choice(["the", "a"]), "DET"), (rng.choice(nouns), "NOUN")]
        else:  # DET NOUN VERB .
            words = [(rng.choice(["the", "a"]), "DET"), (rng.choice(nouns), "NOUN"), ("sleeps", "VERB")]
        words.append((".", "."))
        lines.append(" ".join(f"{w}/{t}" for w, t in words))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def make_workspace(folder: pathlib.Path, batch_size: int | None = 16, **train: Any) -> pathlib.Path:
    """A corpus and a `pipeline_config.yaml` with a tiny model in `folder`; `train` overrides train keys.
    `batch_size=None` leaves the batch size to the tagger, which fits it to the corpus (8 here)."""
    folder.mkdir(parents=True, exist_ok=True)
    make_corpus(folder / "corpus.txt")
    task = {
        "name": TASK,
        "kind": "tagger",
        "data": {"format": "brown", "train": "corpus.txt", "split": {"eval": 0.15, "test": 0.15}},
        "model": {"embedding_dim": 8, "hidden_dim": 8, "char_embedding_dim": 4, "char_filters": 4},
        "train": {"epochs": 6, "learning_rate": 0.02, **({"batch_size": batch_size} if batch_size else {}), **train},
        "evaluate": {"bless_margin": 0.02},
    }
    return write_config(folder, task)


def write_config(folder: pathlib.Path, *tasks: dict[str, Any]) -> pathlib.Path:
    """`folder/pipeline_config.yaml` running `tasks`, with runs and a SQLite store inside `folder`; returns `folder`."""
    config = {"output_dir": "runs", "tracking": {"uri": "sqlite:///mlflow.db"}, "seed": 8, "tasks": list(tasks)}
    (folder / "pipeline_config.yaml").write_text(yaml.safe_dump(config))
    return folder


def cli_command(workspace: pathlib.Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "pipeline", *args, "--config", str(workspace / "pipeline_config.yaml")]


def cli_env() -> dict[str, str]:
    """The environment the CLI runs in: the user's, without TensorFlow's log level (the CLI sets its own)."""
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    environment.pop("TF_CPP_MIN_LOG_LEVEL", None)
    return environment


def run_cli(
    workspace: pathlib.Path, *args: str, check: bool = True, stdin: str | None = None
) -> subprocess.CompletedProcess:
    command = cli_command(workspace, *args)
    result = subprocess.run(
        command, cwd=workspace, env=cli_env(), capture_output=True, text=True, timeout=600, input=stdin
    )
    if check:
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def stage_status(stdout: str) -> dict[str, str]:
    """The status (`ran` or `cached`) of each stage, from the runner's console lines."""
    return dict(re.findall(rf"^\[{TASK}\] (\w+)\s+(ran|cached) in", stdout, flags=re.MULTILINE))
