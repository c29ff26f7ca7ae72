"""The registry of model kinds: the config's `kind` -> its declaration (`kinds.base.kind.Kind`).

Adding a kind is adding its package under `kinds/` and one line here. Importing this module is cheap:
the declarations name their TensorFlow parts by `module:attribute` and import none of them.
"""

from __future__ import annotations

import pathlib
import sys
from collections.abc import Sequence

from kinds import captioner, classifier, language_model, tagger, translator
from kinds.base.kind import Kind
from pipeline import config
from pipeline.config import PipelineConfig
from pipeline.errors import ConfigError

REGISTRY: dict[str, Kind] = {
    kind.name: kind
    for kind in (
        tagger.KIND,
        classifier.KIND,
        language_model.KIND,
        translator.KIND,
        captioner.KIND,
    )
}


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


def load_config(path: pathlib.Path | str, overrides: Sequence[str] = ()) -> PipelineConfig:
    """The config file read with every kind's settings (`pipeline.config.load`, with this registry)."""
    return config.load(path, overrides, kinds=sys.modules[__name__])
