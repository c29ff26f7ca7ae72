"""The tagger's train recipe: sizes from the `words`, `chars` and `tags` vocabularies; batches of tagged
sentences; with `model.output: crf`, the CRF's loss, its Viterbi accuracy and its decoding constraints;
for BIO tags, the eval entity F1 of every epoch, which chooses the best one."""

from __future__ import annotations

import dataclasses
import math
import pathlib

import keras
import tensorflow as tf

from kinds.base import lm_features
from kinds.base.epoch_score import EpochScore
from kinds.base.lm_features import LanguageModelSource
from kinds.base.recipe import Choice, Monitor, Recipe
from kinds.base.word_vectors import Initialiser
from kinds.tagger.metrics import entity_scores, is_bio_tagset
from models import crf, input_pipeline, text
from models.tagger import WORD_EMBEDDING, TaggerSizes, build_tagger, tag_ids

# A corpus whose epoch would be fewer updates than this at the kind's batch size trains in smaller batches
# (halved, down to MIN_BATCH_SIZE). On 1,661 WNUT 2016 tweets, 15 epochs of 52 updates (batch 32) gave a CRF
# tagger test entity F1 0.255; 15 of 208 (batch 8) gave 0.349.
MIN_UPDATES_PER_EPOCH = 200
MIN_BATCH_SIZE = 8


def batch_size_for(sentences: int, batch_size: int) -> int:
    """The batch size, halved until an epoch of `sentences` makes `MIN_UPDATES_PER_EPOCH` updates (at least 8)."""
    while batch_size > MIN_BATCH_SIZE and math.ceil(sentences / batch_size) < MIN_UPDATES_PER_EPOCH:
        batch_size = max(MIN_BATCH_SIZE, batch_size // 2)
    return batch_size


def tag_strings(ids: tf.Tensor, weights: tf.Tensor, tags: list[str]) -> list[list[str]]:
    """Each sentence's tags, int [batch, time] -> strings, cut at its length (its weights' sum)."""
    lengths = weights.numpy().sum(axis=1).astype(int)
    return [[tags[i] for i in row[:length]] for row, length in zip(ids.numpy(), lengths, strict=True)]


class TaggerRecipe(Recipe):
    def __init__(self, params, vocabulary, schedule=None) -> None:
        super().__init__(params, vocabulary, schedule)
        self.tags = vocabulary.tokens("tags")
        self.sizes = TaggerSizes(*(len(vocabulary.tokens(name)) for name in ("words", "chars", "tags")))
        self.bio_tags = is_bio_tagset(self.tags[len(text.RESERVED_TAGS) :])
        output = params.model.output
        self.crf = output == "crf" or (output == "auto" and self.bio_tags)
        self.bio = params.model.constrain_bio and self.bio_tags  # constrained decoding, for a CRF
        self.batch_size = params.train.batch_size
        self.word_vectors = Initialiser(params.model, vocabulary.tokens("words"), len(text.RESERVED_TOKENS))
        self.language_models: list[LanguageModelSource] = []

    def use_upstream(self, upstream) -> list[Choice]:
        """The language models of `model.lm_features`, each to read the tagger's words in their sentence."""
        self.language_models = lm_features.sources(upstream, self.vocabulary.tokens("chars"))
        return [source.choice() for source in self.language_models]

    def fit_to_corpus(self, shards) -> list[Choice]:
        """The output layer for `auto`; the batch size, when the kind chose it, for enough updates an epoch;
        a CRF's BIO constraints, kept only if the training tags obey them (IOB1 data does not); the
        embedding's size from `model.word_vectors`."""
        choices = self.word_vectors.fit()
        if self.params.model.output == "auto":
            reason = "BIO tags: a CRF scores whole tag sequences" if self.bio_tags else "tags that are not BIO"
            choices.append(Choice("model.output", "crf" if self.crf else "softmax", reason))
        sentences, train = shards.manifest()["splits"]["train"]["records"], self.params.train
        updates = math.ceil(sentences / self.batch_size)
        if "batch_size" in self.params.chosen_by_kind and not train.tokens_per_batch:
            self.batch_size = batch_size_for(sentences, train.batch_size)
            if self.batch_size != train.batch_size:
                reason = (
                    f"{sentences:,} training sentences make {updates} updates an epoch in batches of "
                    f"{train.batch_size}; {self.batch_size} make {math.ceil(sentences / self.batch_size)} "
                    "(set train.batch_size to choose)"
                )
                choices.append(Choice("train.batch_size", self.batch_size, reason))
        elif updates < MIN_UPDATES_PER_EPOCH and not train.tokens_per_batch:
            reason = f"{sentences:,} training sentences in batches of {self.batch_size}: a few updates for each epoch"
            choices.append(Choice("train.updates_per_epoch", updates, reason))
        if self.crf and self.bio:
            choices.append(self._check_bio(shards))
        return choices

    def _check_bio(self, shards) -> Choice:
        dataset = input_pipeline.tagger_dataset(shards.files("train"), 256, char_features=False)
        sentences = (sentence for _, gold, weights in dataset for sentence in tag_strings(gold, weights, self.tags))
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
        return Choice("model.constrain_bio", self.bio, reason)

    def facts(self) -> dict[str, bool]:
        """Whether the tags are BIO (`bio_tags`): the evaluator blesses them by entity F1, export ranks by it."""
        return {"bio_tags": self.bio_tags}

    def monitor(self) -> Monitor:
        return Monitor("val_entity_f1") if self.bio_tags else super().monitor()

    def callbacks(self, context, model: keras.Model, eval_files, folder: pathlib.Path) -> list:
        return [eval_entity_f1(self.dataset(eval_files), self.tags)] if self.bio_tags and eval_files else []

    def build(self) -> keras.Model:
        model = dataclasses.replace(self.params.model, output="crf" if self.crf else "softmax")
        constraints = crf.tag_constraints(self.tags, len(text.RESERVED_TAGS), self.bio) if self.crf else None
        readers = [source.layer(trainable=not model.freeze_lm) for source in self.language_models]
        tagger = build_tagger(self.sizes, self.word_vectors.model_config(model), constraints, readers)
        self.word_vectors.apply(tagger.get_layer(WORD_EMBEDDING))
        return tagger

    def loss(self) -> keras.losses.Loss:
        return crf.CRFLoss() if self.crf else super().loss()

    def accuracy(self) -> keras.metrics.Metric:
        return crf.ViterbiAccuracy() if self.crf else super().accuracy()

    @property
    def char_ids(self) -> bool:
        """Whether the model reads each word's characters: for its character features, or its language models."""
        return self.params.model.char_features or bool(self.language_models)

    def dataset(self, files: list[pathlib.Path], seed: int | None = None) -> tf.data.Dataset:
        train = self.params.train
        if seed is None:
            return input_pipeline.tagger_dataset(files, self.batch_size, char_features=self.char_ids)
        return input_pipeline.tagger_dataset(
            files,
            self.batch_size,
            char_features=self.char_ids,
            shuffle_buffer=train.shuffle_buffer,
            seed=seed,
            word_dropout=train.word_dropout,
            tokens_per_batch=train.tokens_per_batch,
        )


def eval_entity_f1(dataset: tf.data.Dataset, tags: list[str]) -> EpochScore:
    """After each epoch, `val_entity_f1`: conlleval's entity F1 on the eval split, tagged as the evaluator tags."""

    def f1(forward) -> float:
        gold, predicted = [], []
        for inputs, tag_batch, weights in dataset:
            gold += tag_strings(tag_batch, weights, tags)
            predicted += tag_strings(forward(inputs), weights, tags)
        return entity_scores(gold, predicted).f1

    return EpochScore("val_entity_f1", tag_ids, f1)
