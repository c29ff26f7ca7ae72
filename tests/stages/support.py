"""Test support for stage tests: a harness that runs one executor, and hand-built input artifacts."""

from __future__ import annotations

import dataclasses
import json
import pathlib
from collections.abc import Mapping
from typing import Any

from pipeline import artifacts, content, tracking
from pipeline.component import Component, StageContext
from pipeline.config import BeamConfig

SEED = 8


@dataclasses.dataclass
class StageRun:
    """One executed stage: the context it ran with; its outputs carry their `artifact.json`."""

    context: StageContext

    @property
    def outputs(self) -> Mapping[str, Any]:
        return self.context.outputs

    @property
    def log(self) -> tracking.StageLog:
        return self.context.log

    def output(self, name: str) -> Any:
        return self.context.outputs[name]


class StageHarness:
    """Runs an executor the way `pipeline.runner` does, without the cache and the folder renaming.

    Each run gets a fresh folder `<root>/<stage>-<n>/` holding one subfolder per output, and a
    `StageLog` without a tracker (its events stay inspectable in `log.events`). The task folder is
    `root`, so the export stage pushes to `<root>/serving/`.
    """

    def __init__(self, root: pathlib.Path, *, seed: int = SEED, beam: BeamConfig | None = None) -> None:
        self.root = root
        self.seed = seed
        self.beam = beam or BeamConfig()
        self._runs = 0

    def context(self, component: Component, **inputs: artifacts.Artifact) -> StageContext:
        """A context with the given inputs (named as in the spec) and fresh, empty output artifacts."""
        spec = component.spec
        assert set(inputs) == set(spec.inputs), f"{spec.name} takes inputs {sorted(spec.inputs)}"
        for name, artifact in inputs.items():
            assert isinstance(artifact, spec.inputs[name]), f"{spec.name}.{name} must be a {spec.inputs[name]}"
        self._runs += 1
        stage_dir = self.root / f"{spec.name}-{self._runs}"
        outputs = {}
        for name, kind in spec.outputs.items():
            (stage_dir / name).mkdir(parents=True)
            outputs[name] = kind(stage_dir / name, f"fingerprint-{self._runs}", spec.name)
        return StageContext(
            task="tiny",
            stage=spec.name,
            parameters=component.parameters,
            inputs=inputs,
            outputs=outputs,
            log=tracking.StageLog(None, stage_dir),
            seed=self.seed,
            beam=self.beam,
            task_dir=self.root,
            work_dir=stage_dir / "work",
        )

    def run(self, component: Component, **inputs: artifacts.Artifact) -> StageRun:
        """Runs the stage's executor, then writes every output's `artifact.json` (as the runner does)."""
        context = self.context(component, **inputs)
        component.spec.load_executor()(context)
        for artifact in context.outputs.values():
            artifact.write_metadata()
        return StageRun(context)


def write_examples(folder: pathlib.Path, **splits: list[dict[str, Any]]) -> artifacts.Examples:
    """An `Examples` artifact with the given records per split (splits not given are empty)."""
    folder.mkdir(parents=True, exist_ok=True)
    examples = artifacts.Examples(folder, "hand-made", "ingest")
    for split in artifacts.SPLITS:
        lines = [json.dumps(with_input_hash(record)) + "\n" for record in splits.get(split, [])]
        examples.split_path(split).write_text("".join(lines), encoding="utf-8")
    examples.properties["records"] = {split: len(splits.get(split, [])) for split in artifacts.SPLITS}
    examples.write_metadata()
    return examples


def with_input_hash(record: dict[str, Any]) -> dict[str, Any]:
    """The record with an `input_hash` (as ingest writes it), when it has none: the hash of its first field
    after the key, which is its input (`readers.FIELDS`)."""
    if "input_hash" in record:
        return record
    first = next(value for name, value in record.items() if name != "key")
    return {"key": record["key"], "input_hash": content.input_hash(first), **record}


def write_rejects(folder: pathlib.Path, rejects: list[dict[str, Any]], *, records: int) -> artifacts.Rejects:
    """A `Rejects` artifact holding `rejects`, out of `records` usable records plus the rejects."""
    folder.mkdir(parents=True, exist_ok=True)
    artifact = artifacts.Rejects(folder, "hand-made", "ingest")
    artifact.path.write_text("".join(json.dumps(r) + "\n" for r in rejects), encoding="utf-8")
    artifact.properties.update({"rejects": len(rejects), "input_records": records + len(rejects)})
    artifact.write_metadata()
    return artifact


def write_blessing(folder: pathlib.Path, *, blessed: bool, reason: str) -> artifacts.Blessing:
    """A `Blessing` artifact with the given verdict."""
    folder.mkdir(parents=True, exist_ok=True)
    blessing = artifacts.Blessing(folder, "hand-made", "evaluate", {"blessed": blessed, "reason": reason})
    blessing.write_metadata()
    return blessing


def record(key: str, tagged: str) -> dict[str, Any]:
    """An ingested record from `word/TAG` tokens: record("a:1", "the/DET dog/NOUN")."""
    pairs = [token.rsplit("/", 1) for token in tagged.split()]
    return {"key": key, "tokens": [word for word, _ in pairs], "tags": [tag for _, tag in pairs]}
