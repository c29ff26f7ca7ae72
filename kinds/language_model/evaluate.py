"""The language model's evaluator: cross-entropy per unit, bits per unit and perplexity on the held-out splits,
against an interpolated Kneser-Ney n-gram model fit on the same training split.

The model reads each split as streams of documents with its state carried across windows, as in
training; the n-gram model reads the same documents, cut into the same units by the task's tokenizer,
each from its start. Both predict every unit of a document, the first one from the document's start.
"""

from __future__ import annotations

import math

import keras
import tensorflow as tf

from kinds.base.evaluator import Evaluator, SplitEvaluation
from kinds.language_model.kneser_ney import KneserNeyLM
from kinds.language_model.settings import direction_of
from models import input_pipeline, names, text
from models.language_model import Generator, oriented, stream_cross_entropy  # (importing it registers the layers)
from pipeline import artifacts

# Windows of the evaluation streams: the state is carried across them, so this only sets the batch shape.
EVAL_WINDOW = 256
NGRAM_ORDER = 5
# The export stage checks the SavedModel's `score` and greedy `generate` against these, computed here.
VALIDATION_TEXTS = 32
VALIDATION_UNITS = 200
VALIDATION_PROMPT_UNITS = 20
VALIDATION_GENERATED = 40


class LanguageModelEvaluator(Evaluator):
    def __init__(self, inputs, params, progress) -> None:
        super().__init__(inputs, params, progress)
        self.model = keras.saving.load_model(inputs.model.path)
        self.streams = self.model.inputs[0].shape[0]
        self.direction = direction_of(inputs.model)
        self.units = Units(params.preprocess, backward=self.direction == "backward")
        self.ngram = KneserNeyLM(order=NGRAM_ORDER).fit(self.units.documents(inputs.examples.read("train")))
        progress(f"{NGRAM_ORDER}-gram Kneser-Ney baseline fit on the train split")

    def evaluate(self, split: str, deciding: bool) -> SplitEvaluation:
        documents = oriented(input_pipeline.read_documents(self.inputs.shards.files(split)), self.direction)
        data = input_pipeline.language_model_streams(documents, self.streams, EVAL_WINDOW)
        nats = stream_cross_entropy(self.model, input_pipeline.language_model_dataset(data, EVAL_WINDOW))
        count = int(data["weights"].sum())
        baseline_nats, baseline_count = self.ngram.score(self.units.documents(self.inputs.examples.read(split)))
        scores = {
            "model": _scores(nats, count),
            "kneser_ney": _scores(-baseline_nats / baseline_count if baseline_count else math.nan, baseline_count),
        }
        records = self.inputs.examples.read(split)
        cases = validation_cases(self.model, self.inputs.vocabulary, records, self.units) if deciding else None
        return SplitEvaluation(scores, cases)


def _scores(nats: float, count: int) -> dict[str, float]:
    """Cross-entropy in nats per unit, bits per unit, perplexity per unit, units scored."""
    return {"cross_entropy": nats, "bits_per_unit": nats / math.log(2), "perplexity": math.exp(nats), "units": count}


class Units:
    """Raw text to the model's units (strings) by the task's tokenizer, for the n-gram baseline."""

    def __init__(self, preprocess, backward: bool = False) -> None:
        p = preprocess
        self.backward = backward
        self.lowercase = p.lowercase
        self.joiner = names.joiner(p.tokenizer)
        self.tokenizer = text.TextTokenizer(p.tokenizer, pattern=p.token_pattern, normalization=p.normalization)
        if p.tokenizer == "wordpiece":
            raise ValueError("the n-gram baseline of a wordpiece language model is not implemented")

    def __call__(self, texts: list[str]) -> list[list[str]]:
        tokens = text.normalize_words(self.tokenizer(tf.constant(texts)), self.lowercase)
        return [[t.decode("utf-8") for t in row] for row in tokens.to_list()]

    def documents(self, records) -> list[list[str]]:
        """Each record's units as the model reads them (from the end, for a backward model)."""
        texts = [record["text"] for record in records]
        found = [units for start in range(0, len(texts), 256) for units in self(texts[start : start + 256])]
        return [units[::-1] for units in found] if self.backward else found


def validation_cases(model: keras.Model, vocabulary: artifacts.Vocabulary, records, units: Units) -> list[dict]:
    """A few held-out texts with the log-probability the model gives them and its greedy continuation of their
    first units, computed with the trained layers here, for export to check the SavedModel against."""
    ids_of = {unit: i for i, unit in enumerate(vocabulary.tokens("units"))}
    names = vocabulary.tokens("units")
    generator = Generator(model)
    ids_spec, lengths_spec = tf.TensorSpec([None, None], tf.int32), tf.TensorSpec([None], tf.int32)
    score = tf.function(generator.score, input_signature=[ids_spec, lengths_spec])
    scalar = tf.TensorSpec([], tf.int32), tf.TensorSpec([], tf.float32)
    generate = tf.function(generator.generate, input_signature=[ids_spec, lengths_spec, *scalar])
    cases = []
    for count, record in enumerate(records):
        if count == VALIDATION_TEXTS:
            break
        pieces = units([record["text"]])[0][:VALIDATION_UNITS]  # in reading order, as the SavedModel is called
        read = pieces[::-1] if units.backward else pieces  # as the model reads them
        ids = [text.START_ID] + [ids_of.get(u, text.UNK_ID) for u in read]
        log_prob = float(score(tf.constant([ids]), tf.constant([len(ids)]))[0])
        prompt = ids[: VALIDATION_PROMPT_UNITS + 1]
        greedy = generate(
            tf.constant([prompt]), tf.constant([len(prompt)]), tf.constant(VALIDATION_GENERATED), tf.constant(0.0)
        )
        written = [names[i] for i in greedy[0].numpy()]
        case = {
            "units": pieces,
            "log_prob": log_prob,
            # A backward model continues a text's end leftwards: its prompt is the end, what it writes comes before.
            "prompt": read[:VALIDATION_PROMPT_UNITS][::-1] if units.backward else read[:VALIDATION_PROMPT_UNITS],
            "greedy": written[::-1] if units.backward else written,
            "joiner": units.joiner,
        }
        cases.append(case)
    return cases
