"""The question answerer's train recipe: sizes from the `words` and `answers` vocabularies and the images' side;
batches of (image, question) -> answer; the best epoch by the eval questions' accuracy."""

from __future__ import annotations

import pathlib

import keras
import tensorflow as tf

from kinds.base.recipe import Recipe
from models import vqa_data
from models.vqa import VqaSizes, build_vqa


class VqaRecipe(Recipe):
    def __init__(self, params, vocabulary, schedule=None) -> None:
        super().__init__(params, vocabulary, schedule)
        self.sizes = VqaSizes(
            len(vocabulary.tokens("words")), len(vocabulary.tokens("answers")), params.preprocess.image_size
        )

    def build(self) -> keras.Model:
        return build_vqa(self.sizes, self.params.model)

    def dataset(self, files: list[pathlib.Path], seed: int | None = None) -> tf.data.Dataset:
        train = self.params.train
        if seed is None:
            return vqa_data.vqa_dataset(files, train.batch_size, self.sizes.image_size)
        return vqa_data.vqa_dataset(
            files,
            train.batch_size,
            self.sizes.image_size,
            shuffle_buffer=train.shuffle_buffer,
            seed=seed,
            word_dropout=train.word_dropout,
        )
