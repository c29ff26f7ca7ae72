"""The tagger's train recipe: sizes from the `words`, `chars` and `tags` vocabularies; batches of tagged sentences."""

from __future__ import annotations

import pathlib

import keras
import tensorflow as tf

from components.train.recipe import Recipe
from models import input_pipeline
from models.tagger import TaggerSizes, build_tagger


class TaggerRecipe(Recipe):
    def __init__(self, params, vocabulary, schedule=None) -> None:
        super().__init__(params, vocabulary, schedule)
        self.sizes = TaggerSizes(*(len(vocabulary.tokens(name)) for name in ("words", "chars", "tags")))

    def build(self) -> keras.Model:
        return build_tagger(self.sizes, self.params.model)

    def dataset(self, files: list[pathlib.Path], seed: int | None = None) -> tf.data.Dataset:
        train = self.params.train
        if seed is None:
            return input_pipeline.tagger_dataset(files, train.batch_size, char_features=self.params.model.char_features)
        return input_pipeline.tagger_dataset(
            files,
            train.batch_size,
            char_features=self.params.model.char_features,
            shuffle_buffer=train.shuffle_buffer,
            seed=seed,
            word_dropout=train.word_dropout,
            tokens_per_batch=train.tokens_per_batch,
        )
