"""Ingest: raw corpus files -> `Examples` split train/eval/test, plus `Rejects`."""

from __future__ import annotations

import dataclasses
import glob
import hashlib
import os
import pathlib

import kinds
from pipeline import artifacts
from pipeline.component import Component, ComponentSpec
from pipeline.config import PipelineConfig, SplitConfig, TaskConfig
from pipeline.errors import ConfigError

SPEC = ComponentSpec(
    name="ingest",
    inputs={},
    outputs={"examples": artifacts.Examples, "rejects": artifacts.Rejects},
    executor="components.ingest.executor:run",
)


@dataclasses.dataclass(frozen=True)
class InputFile:
    """One corpus file: where its records go, its name as users see it, and its content hash."""

    role: str  # "train" (hash-split into train/eval/test), "eval" or "test"
    name: str  # relative to the config file's folder: the record keys use it, so splits stay stable
    sha256: str
    path: pathlib.Path = dataclasses.field(metadata={"internal": True})  # absolute; not fingerprinted


@dataclasses.dataclass(frozen=True)
class IngestParameters:
    kind: str  # whose format the files are read in
    format: str
    tag_column: str
    documents: str  # `text` format: how a file is cut into documents ("file", "blank_line")
    split: SplitConfig
    files: tuple[InputFile, ...]


def component(task: TaskConfig, config: PipelineConfig) -> Component:
    """The ingest stage of `task`: expands the file globs and hashes the files they name."""
    data = task.data
    files = []
    for role in ("train", "eval", "test"):
        pattern = getattr(data, role)
        if pattern is None:
            continue
        paths = _expand(config, pattern, f"tasks.{task.name}.data.{role}")
        files.extend(InputFile(role, _display_name(config, p), _sha256(p), p) for p in paths)
    split = data.split
    if data.eval is not None:
        split = dataclasses.replace(split, eval=0.0)
    if data.test is not None:
        split = dataclasses.replace(split, test=0.0)
    if split.eval + split.test >= 1.0:
        raise ConfigError(f"tasks.{task.name}.data.split: eval + test must leave something to train on")
    parameters = IngestParameters(task.kind, data.format, data.tag_column, data.documents, split, tuple(files))
    return Component(SPEC, parameters, code=(kinds.get(task.kind).formats[data.format],))


def _expand(config: PipelineConfig, pattern: str, where: str) -> list[pathlib.Path]:
    resolved = config.resolve(pattern)
    paths = sorted(pathlib.Path(p) for p in glob.glob(str(resolved), recursive=True))
    paths = [p for p in paths if p.is_file()]
    if not paths:
        raise ConfigError(f"{where}: no file matches {pattern!r} (looked for {resolved})")
    return paths


def _display_name(config: PipelineConfig, path: pathlib.Path) -> str:
    """The file's path relative to the config's folder (`../data/x.txt` too), so that record keys, and so
    the splits, are the same wherever the project is checked out."""
    return pathlib.Path(os.path.relpath(path, config.base_dir)).as_posix()


def _sha256(path: pathlib.Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
