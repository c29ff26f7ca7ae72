"""The language models a task reads for features of its words (`model.lm_features`): each one's trained model,
read from its task's outputs, as a layer of the reading task's model (`models.lm_features`)."""

from __future__ import annotations

import dataclasses

import keras

from kinds.base.recipe import Choice
from models import lm_features, text
from models.language_model import LanguageModelSizes
from pipeline import artifacts, config
from pipeline.errors import ConfigError


@dataclasses.dataclass
class LanguageModelSource:
    """One language-model task's trained model, and how the reading task's characters map to its units.

    Attributes:
        name: the language-model task.
        reader: its layers from units to the top layer's states (`lm_features.states_reader`).
        table: its unit of each entry of the reading task's character vocabulary.
        space_id: its unit of " ".
        direction: `forward`, or `backward` for a model of reversed text.
        known: how many of the reading task's characters are units of its own.
    """

    name: str
    reader: keras.Model
    table: list[int]
    space_id: int
    direction: str
    known: int

    @classmethod
    def read(
        cls, name: str, model: artifacts.Model, vocabulary: artifacts.Vocabulary, chars: list[str], where: str
    ) -> LanguageModelSource:
        """The language model of task `name` from its train stage's `model` and its `vocabulary`, for a task
        whose character vocabulary is `chars`.

        Raises:
            ConfigError: (at `where`, the key path naming it) the model does not read characters.
        """
        args = model.args()
        preprocess = config.from_dict(
            config.PreprocessConfig, _shared(config.PreprocessConfig, args["preprocess"]), f"{name}.preprocess"
        )
        if preprocess.tokenizer != "characters":
            raise ConfigError(
                f"{where}: {name} is a language model of {preprocess.tokenizer} tokens; its words' features need "
                "one of characters (preprocess.tokenizer: characters)"
            )
        settings = config.from_dict(config.ModelConfig, _shared(config.ModelConfig, args["model"]), f"{name}.model")
        sizes = LanguageModelSizes(**args["sizes"])
        reader = lm_features.states_reader(keras.saving.load_model(model.path), sizes, settings)
        units = vocabulary.tokens("units")
        table = lm_features.unit_table(chars, units, text.TextTokenizer.for_task(preprocess), preprocess.lowercase)
        space_id = units.index(" ") if " " in units else text.UNK_ID
        known = sum(unit != text.UNK_ID for unit in table[len(text.RESERVED_TOKENS) :])
        return cls(name, reader, table, space_id, args["model"].get("direction", "forward"), known)

    def layer(self, trainable: bool) -> lm_features.LanguageModelStates:
        """A new layer of the reading model: this language model's states of its words, frozen unless `trainable`."""
        layer = lm_features.LanguageModelStates(
            self.reader, self.table, self.space_id, self.direction, name=f"language_model_{self.name}"
        )
        layer.trainable = trainable
        return layer

    def choice(self) -> Choice:
        """What the reading task's training is told of this model."""
        chars = len(self.table) - len(text.RESERVED_TOKENS)
        states = self.reader.output.shape[-1]
        at = "last" if self.direction == "forward" else "first"
        reason = (
            f"the {self.direction} language model of task {self.name} gives each word its {states} states at the "
            f"word's {at} character; it has {self.known} of this task's {chars} characters"
        )
        return Choice(f"model.lm_features.{self.name}", states, reason)


def sources(upstream, chars: list[str]) -> list[LanguageModelSource]:
    """The language models of `model.lm_features` (`Recipe.use_upstream`'s `upstream`: each task's outputs, by
    name), for a task whose character vocabulary is `chars`."""
    return [
        LanguageModelSource.read(name, up["model"], up["vocabulary"], chars, "model.lm_features")
        for name, up in upstream.items()
    ]


def _shared(section: type, values: dict) -> dict:
    """The keys of a language model's section that every kind's `section` has (its kind may add others)."""
    keys = {field.name for field in dataclasses.fields(section)}
    return {key: value for key, value in values.items() if key in keys}
