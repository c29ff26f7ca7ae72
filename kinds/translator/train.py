"""The translator's train recipe: sentence pairs, teacher forced, with the curriculum's scheduled sampling."""

from __future__ import annotations

import pathlib

import keras
import sacrebleu
import tensorflow as tf

from kinds.base.recipe import Monitor, Recipe
from kinds.base.scheduled_sampling import ScheduledSampling
from kinds.base.settings import DecodeConfig
from models import input_pipeline, seq2seq, text
from models.seq2seq import TranslatorSizes, build_translator
from pipeline.component import StageContext


class TranslatorRecipe(Recipe):
    """A translator: sizes from the source and target vocabularies; batches of sentence pairs, teacher forced."""

    def __init__(self, params, vocabulary, schedule=None) -> None:
        super().__init__(params, vocabulary, schedule)
        names = ("words", "words") if "words" in vocabulary.names() else ("source_words", "target_words")
        self.sizes = TranslatorSizes(*(len(vocabulary.tokens(name)) for name in names))

    def build(self) -> keras.Model:
        return build_translator(
            self.sizes, self.params.model, attention=self.params.model.attention, scheduled_sampling=self.feed
        )

    def monitor(self) -> Monitor:
        # BLEU of greedy translations: the eval loss (teacher forced) kept epoch 7 of the default 8, whose
        # beam BLEU was 1.2 below the last epoch's; a beam search of the eval split each epoch is too slow.
        return Monitor(EvalGreedyBleu.KEY)

    def callbacks(self, context: StageContext, model: keras.Model, eval_files, folder: pathlib.Path) -> list:
        callbacks = [] if self.schedule is None else [ScheduledSampling(self.schedule, model)]
        if eval_files:
            names = ("words",) if "words" in self.vocabulary.names() else ("target_words",)
            dataset = input_pipeline.translator_dataset(eval_files, self.params.train.batch_size, with_strings=True)
            words = self.vocabulary.tokens(names[0])
            callbacks.append(
                EvalGreedyBleu(dataset, words, self.params.preprocess.tokenizer, self.params.sections["decode"])
            )
        return callbacks

    def dataset(self, files: list[pathlib.Path], seed: int | None = None) -> tf.data.Dataset:
        train = self.params.train
        if seed is None:
            return input_pipeline.translator_dataset(files, train.batch_size)
        return input_pipeline.translator_dataset(
            files, train.batch_size, shuffle_buffer=train.shuffle_buffer, seed=seed
        )


class EvalGreedyBleu(keras.callbacks.Callback):
    """After each epoch, `val_greedy_bleu`: corpus BLEU (sacrebleu, case-insensitive) of the eval split's
    greedy translations, the score the best epoch is chosen by. Case-insensitive, since the train stage
    does not know whether the model was trained on lowercased text; the evaluate stage scores like-cased."""

    KEY = "val_greedy_bleu"

    def __init__(self, dataset: tf.data.Dataset, target_words: list[str], tokenizer: str, decode: DecodeConfig) -> None:
        super().__init__()
        self.dataset = dataset
        self.decode = decode  # its length limits; the strategy is greedy whatever the config's
        self.target_words = tf.constant(target_words)
        self.tokenizer = tokenizer
        self.translate = None

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        if self.translate is None:  # traced once, on the trained model
            self.translate = tf.function(
                lambda ids: seq2seq.decode(self.model, ids, self.decode, "greedy"),
                input_signature=[tf.TensorSpec([None, None], tf.int32)],
                autograph=False,  # see models/decoding.py
            )
        hypotheses, references = [], []
        for inputs, _, _ in self.dataset:
            tokens = seq2seq.output_tokens(self.translate(inputs[text.SOURCE_IDS]), self.target_words)
            hypotheses += [t.decode("utf-8") for t in text.detokenize(tokens, self.tokenizer).numpy()]
            references += [t.decode("utf-8") for t in inputs[text.TARGET].numpy()]
        logs[self.KEY] = sacrebleu.corpus_bleu(hypotheses, [references], lowercase=True).score
