"""The captioner's train recipe: (image, caption) examples, teacher forced, with the curriculum's scheduled
sampling (the translator's callback) and the attention penalty; the best epoch by the eval images' greedy BLEU."""

from __future__ import annotations

import pathlib

import keras
import tensorflow as tf

from kinds.base.epoch_score import GREEDY_BLEU, EpochScore, fixed_sample
from kinds.base.recipe import Monitor, Recipe
from kinds.base.scheduled_sampling import ScheduledSampling
from kinds.captioner import scores
from models import caption_data, captioner, images
from models.captioner import CaptionerSizes, build_captioner
from pipeline.component import StageContext


class CaptionerRecipe(Recipe):
    """A captioner: sizes from the caption vocabulary and the images' side; batches of (image, caption)."""

    def __init__(self, params, vocabulary, schedule=None) -> None:
        super().__init__(params, vocabulary, schedule)
        self.sizes = CaptionerSizes(len(vocabulary.tokens("target_words")), params.preprocess.image_size)

    def build(self) -> keras.Model:
        return build_captioner(self.sizes, self.params.model, scheduled_sampling=self.feed)

    def monitor(self) -> Monitor:
        return Monitor(GREEDY_BLEU)

    def callbacks(self, context: StageContext, model: keras.Model, eval_files, folder: pathlib.Path) -> list:
        callbacks = [] if self.schedule is None else [ScheduledSampling(self.schedule, model)]
        if eval_files:
            records = context.input("shards").manifest()["splits"]["eval"]["records"]
            batch_size = self.params.train.batch_size
            dataset = fixed_sample(self.batches(eval_files, with_strings=True), batch_size, records, context.progress)
            callbacks.append(greedy_bleu(dataset, self.vocabulary.tokens("target_words"), self.params))
        return callbacks

    def dataset(self, files: list[pathlib.Path], seed: int | None = None) -> tf.data.Dataset:
        if seed is None:
            return self.batches(files)
        return caption_data.captioner_dataset(
            files,
            self.params.train.batch_size,
            self.sizes.image_size,
            shuffle_buffer=self.params.train.shuffle_buffer,
            seed=seed,
        )

    def batches(self, files, with_strings: bool = False) -> tf.data.Dataset:
        """Evaluation batches, in shard order."""
        return caption_data.captioner_dataset(
            files, self.params.train.batch_size, self.sizes.image_size, with_strings=with_strings
        )


def greedy_bleu(dataset: tf.data.Dataset, target_words: list[str], params) -> EpochScore:
    """BLEU-4 of the greedy captions of the eval split's images after each epoch, each against all of its captions."""
    examples, words = scores.images_of(dataset), tf.constant(target_words)

    def bleu(greedy) -> float:
        hypotheses = scores.captions(examples, greedy, words, params.preprocess.tokenizer)
        return scores.score(hypotheses, examples.references, lowercase=True)["bleu"]

    decode = params.sections["decode"]
    greedy = lambda model, pixels: captioner.decode(model, pixels, decode, "greedy")  # noqa: E731
    return EpochScore(GREEDY_BLEU, greedy, bleu, tf.TensorSpec([None, None, None, images.CHANNELS], tf.uint8))
