"""The registry of model kinds: the config's `kind` -> its declaration (`kinds.kind.Kind`).

Adding a kind is adding its package under `kinds/` and one line here. Importing this module is cheap:
the declarations name their TensorFlow parts by `module:attribute` and import none of them.
"""

from __future__ import annotations

from kinds import captioner, classifier, language_model, tagger, translator
from kinds.kind import Kind
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
