"""The registry of model kinds: the config's `kind` -> its declaration (`kinds.base.kind.Kind`).

Adding a kind is adding its package under `kinds/` and one line here. Importing this module is cheap:
the declarations name their TensorFlow parts by `module:attribute` and import none of them.
"""

from __future__ import annotations

import pathlib
import sys
from collections.abc import Iterator, Sequence
from typing import Any

from kinds import captioner, classifier, language_model, tagger, translator, vqa
from kinds.base import readers
from kinds.base.kind import Kind
from kinds.base.readers import Format, Record, Reject
from pipeline import config
from pipeline.config import PipelineConfig
from pipeline.errors import ConfigError, DataError

REGISTRY: dict[str, Kind] = {}


def register(kind: Kind) -> Kind:
    """Adds `kind` to the registry, under its name: one line for each kind (below), or for a plug-in's.

    Raises:
        ValueError: a kind of that name is registered already, or another kind declares a format of the same
            name with another reader (two kinds may share a format: the same `module:attribute`).
    """
    if kind.name in REGISTRY:
        raise ValueError(f"a kind named {kind.name!r} is registered already")
    for other in REGISTRY.values():
        for fmt, reader in kind.formats.items():
            if other.formats.get(fmt, reader) != reader:
                raise ValueError(f"kind {kind.name!r}: the {other.name} kind reads another format {fmt!r}")
    REGISTRY[kind.name] = kind
    return kind


register(tagger.KIND)
register(classifier.KIND)
register(language_model.KIND)
register(translator.KIND)
register(captioner.KIND)
register(vqa.KIND)


def get(name: str) -> Kind:
    """The kind called `name`.

    Raises:
        ConfigError: no kind has that name (the message lists those that do).
    """
    try:
        return REGISTRY[name]
    except KeyError:
        raise ConfigError(f"unknown kind {name!r} (kinds: {', '.join(REGISTRY)})") from None


def names() -> tuple[str, ...]:
    return tuple(REGISTRY)


def formats() -> dict[str, Format]:
    """Every corpus format a kind reads, by name (imported now)."""
    return {name: kind.format(name) for kind in REGISTRY.values() for name in kind.formats}


def format(name: str) -> Format:
    """The corpus format called `name`, whichever kind declares it.

    Raises:
        ConfigError: no kind reads that format (the message lists those that are read).
    """
    for kind in REGISTRY.values():
        if name in kind.formats:
            return kind.format(name)
    known = sorted({fmt for kind in REGISTRY.values() for fmt in kind.formats})
    raise ConfigError(f"unknown corpus format {name!r} (formats: {', '.join(known)})")


def read_file(path: pathlib.Path | str, fmt: str, **options: Any) -> Iterator[Record | Reject]:
    """`kinds.base.readers.read_file` in the format called `fmt` (see `format`).

    Raises:
        DataError: no kind reads `fmt`, or the file cannot be read (naming it).
    """
    try:
        found = format(fmt)
    except ConfigError as error:
        raise DataError(f"{path}: {error}") from None
    return readers.read_file(pathlib.Path(path), found, **options)


def load_config(path: pathlib.Path | str, overrides: Sequence[str] = ()) -> PipelineConfig:
    """The config file read with every kind's settings (`pipeline.config.load`, with this registry)."""
    return config.load(path, overrides, kinds=sys.modules[__name__])
