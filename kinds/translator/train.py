"""The translator's train recipe: sentence pairs, teacher forced, with the curriculum's scheduled sampling."""

from __future__ import annotations

import pathlib

import keras
import sacrebleu
import tensorflow as tf

from kinds.base.epoch_score import GREEDY_BLEU, EpochScore, fixed_sample
from kinds.base.recipe import Choice, Monitor, Recipe
from kinds.base.scheduled_sampling import ScheduledSampling
from kinds.base.settings import DecodeConfig
from kinds.base.word_vectors import Initialiser
from models import attentional_decoder, input_pipeline, seq2seq, text
from models.seq2seq import TranslatorSizes, build_translator
from pipeline.component import StageContext


class TranslatorRecipe(Recipe):
    """A translator: sizes from the source and target vocabularies; batches of sentence pairs, teacher forced."""

    def __init__(self, params, vocabulary, schedule=None) -> None:
        super().__init__(params, vocabulary, schedule)
        names = ("words", "words") if "words" in vocabulary.names() else ("source_words", "target_words")
        self.sizes = TranslatorSizes(*(len(vocabulary.tokens(name)) for name in names))
        self.word_vectors = Initialiser(params.model, vocabulary.tokens(names[0]), len(text.RESERVED_TOKENS))

    def fit_to_corpus(self, shards) -> list[Choice]:
        """The embeddings' size from `model.word_vectors` (the source's vectors)."""
        return self.word_vectors.fit()

    def build(self) -> keras.Model:
        model = build_translator(
            self.sizes,
            self.word_vectors.model_config(self.params.model),
            attention=self.params.model.attention,
            scheduled_sampling=self.feed,
        )
        self.word_vectors.apply(model.source_embedding)
        return model

    def monitor(self) -> Monitor:
        # BLEU of greedy translations: the eval loss (teacher forced) kept epoch 7 of the default 8, whose
        # beam BLEU was 1.2 below the last epoch's; a beam search of the eval split each epoch is too slow.
        return Monitor(GREEDY_BLEU)

    def callbacks(self, context: StageContext, model: keras.Model, eval_files, folder: pathlib.Path) -> list:
        callbacks = [] if self.schedule is None else [ScheduledSampling(self.schedule, model)]
        if eval_files:
            names = ("words",) if "words" in self.vocabulary.names() else ("target_words",)
            batch_size = self.params.train.batch_size
            records = context.input("shards").manifest()["splits"]["eval"]["records"]
            dataset = input_pipeline.translator_dataset(eval_files, batch_size, with_strings=True)
            dataset = fixed_sample(dataset, batch_size, records, context.progress)
            words = self.vocabulary.tokens(names[0])
            decode = self.params.sections["decode"]
            callbacks.append(greedy_bleu(dataset, words, self.params.preprocess.tokenizer, decode))
        return callbacks

    def dataset(self, files: list[pathlib.Path], seed: int | None = None) -> tf.data.Dataset:
        train = self.params.train
        if seed is None:
            return input_pipeline.translator_dataset(files, train.batch_size)
        return input_pipeline.translator_dataset(
            files, train.batch_size, shuffle_buffer=train.shuffle_buffer, seed=seed
        )


def greedy_bleu(dataset: tf.data.Dataset, target_words: list[str], tokenizer: str, decode: DecodeConfig) -> EpochScore:
    """The eval split's greedy BLEU after each epoch, with the decode config's length limits."""
    words = tf.constant(target_words)

    def bleu(greedy) -> float:
        hypotheses, references = [], []
        for inputs, _, _ in dataset:
            tokens = attentional_decoder.output_tokens(greedy(inputs[text.SOURCE_IDS]), words)
            hypotheses += [t.decode("utf-8") for t in text.detokenize(tokens, tokenizer).numpy()]
            references += [t.decode("utf-8") for t in inputs[text.TARGET].numpy()]
        return sacrebleu.corpus_bleu(hypotheses, [references], lowercase=True).score

    greedy = lambda model, ids: seq2seq.decode(model, ids, decode, "greedy")  # noqa: E731
    return EpochScore(GREEDY_BLEU, greedy, bleu, tf.TensorSpec([None, None], tf.int32))
