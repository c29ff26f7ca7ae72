"""The classifier's train recipe: sizes from the `words` and `labels` vocabularies; batches of labelled texts."""

from __future__ import annotations

import pathlib

import keras
import tensorflow as tf

from kinds.base.recipe import Choice, Recipe
from kinds.base.word_vectors import Initialiser
from models import input_pipeline
from models.classifier import WORD_EMBEDDING, ClassifierSizes, build_classifier
from models.text import RESERVED_TOKENS


class ClassifierRecipe(Recipe):
    def __init__(self, params, vocabulary, schedule=None) -> None:
        super().__init__(params, vocabulary, schedule)
        self.sizes = ClassifierSizes(len(vocabulary.tokens("words")), len(vocabulary.tokens("labels")))
        self.word_vectors = Initialiser(params.model, vocabulary.tokens("words"), len(RESERVED_TOKENS))

    def fit_to_corpus(self, shards) -> list[Choice]:
        """The embedding's size from `model.word_vectors`."""
        return self.word_vectors.fit()

    def build(self) -> keras.Model:
        model = build_classifier(self.sizes, self.word_vectors.model_config(self.params.model))
        self.word_vectors.apply(model.get_layer(WORD_EMBEDDING))
        return model

    def dataset(self, files: list[pathlib.Path], seed: int | None = None) -> tf.data.Dataset:
        train = self.params.train
        if seed is None:
            return input_pipeline.classifier_dataset(files, train.batch_size)
        return input_pipeline.classifier_dataset(
            files,
            train.batch_size,
            shuffle_buffer=train.shuffle_buffer,
            seed=seed,
            word_dropout=train.word_dropout,
            tokens_per_batch=train.tokens_per_batch,
        )
