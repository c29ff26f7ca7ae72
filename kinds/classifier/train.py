"""The classifier's train recipe: sizes from the `words` and `labels` vocabularies; batches of labelled texts,
with their words' characters for the language models of `model.lm_features`."""

from __future__ import annotations

import pathlib

import keras
import tensorflow as tf

from kinds.base import lm_features
from kinds.base.lm_features import LanguageModelSource
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
        self.language_models: list[LanguageModelSource] = []

    def use_upstream(self, upstream) -> list[Choice]:
        """The language models of `model.lm_features`, each to read the words of a text in their text."""
        self.language_models = lm_features.sources(upstream, self.vocabulary.tokens("chars"))
        return [source.choice() for source in self.language_models]

    def fit_to_corpus(self, shards) -> list[Choice]:
        """The embedding's size from `model.word_vectors`."""
        return self.word_vectors.fit()

    def build(self) -> keras.Model:
        readers = [source.layer(trainable=not self.params.model.freeze_lm) for source in self.language_models]
        model = build_classifier(self.sizes, self.word_vectors.model_config(self.params.model), readers)
        self.word_vectors.apply(model.get_layer(WORD_EMBEDDING))
        return model

    def dataset(self, files: list[pathlib.Path], seed: int | None = None) -> tf.data.Dataset:
        train, char_features = self.params.train, bool(self.language_models)
        if seed is None:
            return input_pipeline.classifier_dataset(files, train.batch_size, char_features=char_features)
        return input_pipeline.classifier_dataset(
            files,
            train.batch_size,
            char_features=char_features,
            shuffle_buffer=train.shuffle_buffer,
            seed=seed,
            word_dropout=train.word_dropout,
            tokens_per_batch=train.tokens_per_batch,
        )
