"""The classifier's train recipe: sizes from the `words` and `labels` vocabularies; batches of labelled texts."""

from __future__ import annotations

import pathlib

import keras
import tensorflow as tf

from kinds.base.recipe import Recipe
from models import input_pipeline
from models.classifier import ClassifierSizes, build_classifier


class ClassifierRecipe(Recipe):
    def __init__(self, params, vocabulary, schedule=None) -> None:
        super().__init__(params, vocabulary, schedule)
        self.sizes = ClassifierSizes(len(vocabulary.tokens("words")), len(vocabulary.tokens("labels")))

    def build(self) -> keras.Model:
        return build_classifier(self.sizes, self.params.model)

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
