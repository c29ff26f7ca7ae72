"""The tagger's train recipe: sizes from the `words`, `chars` and `tags` vocabularies; batches of tagged
sentences; with `model.output: crf`, the CRF's loss, its Viterbi accuracy and its decoding constraints."""

from __future__ import annotations

import pathlib

import keras
import tensorflow as tf

from components.evaluate.metrics import is_bio_tagset
from components.train.recipe import Choice, Recipe
from models import crf, input_pipeline, text
from models.tagger import TaggerSizes, build_tagger


class TaggerRecipe(Recipe):
    def __init__(self, params, vocabulary, schedule=None) -> None:
        super().__init__(params, vocabulary, schedule)
        self.tags = vocabulary.tokens("tags")
        self.sizes = TaggerSizes(*(len(vocabulary.tokens(name)) for name in ("words", "chars", "tags")))
        real_tags = self.tags[len(text.RESERVED_TAGS) :]
        self.bio = params.model.constrain_bio and is_bio_tagset(real_tags)

    @property
    def crf(self) -> bool:
        return self.params.model.output == "crf"

    def fit_to_corpus(self, shards) -> list[Choice]:
        """A CRF's BIO constraints are kept only if the training tags obey them (IOB1 data does not)."""
        if not (self.crf and self.bio):
            return []
        sentences = (
            [self.tags[i] for i in ids[: int(length)]]
            for batch_ids, batch_weights in self._tag_ids(shards.files("train"))
            for ids, length in zip(batch_ids, batch_weights.sum(axis=1), strict=True)
        )
        count, first = crf.bio_violations(sentences)
        if count:
            self.bio = False
            reason = (
                f"the training tags break IOB2 {count:,} times (first {first}): IOB1 or inconsistent tags, so "
                "decoding is left unconstrained"
            )
        else:
            types = {tag[2:] for tag in self.tags if tag[:2] in ("B-", "I-")}
            reason = f"IOB2 tags of {len(types)} types: decoding never puts I-X after O or after another type"
        return [Choice("model.constrain_bio", self.bio, reason)]

    def _tag_ids(self, files: list[pathlib.Path]):
        dataset = input_pipeline.tagger_dataset(files, 256, char_features=False)
        return ((tags.numpy(), weights.numpy()) for _, tags, weights in dataset)

    def build(self) -> keras.Model:
        constraints = crf.tag_constraints(self.tags, len(text.RESERVED_TAGS), self.bio) if self.crf else None
        return build_tagger(self.sizes, self.params.model, constraints)

    def loss(self) -> keras.losses.Loss:
        return crf.CRFLoss() if self.crf else super().loss()

    def accuracy(self) -> keras.metrics.Metric:
        return crf.ViterbiAccuracy() if self.crf else super().accuracy()

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
