"""The language model's export: the SavedModel (`generate`, `score`), how infra-validation checks it against the
Keras model, and its bits per unit on a test split."""

from __future__ import annotations

import math
import pathlib
from collections.abc import Sequence

import keras
import tensorflow as tf

from kinds.base.export import Export
from kinds.language_model.settings import direction_of
from models import names, text
from models.language_model import Generator, reverse_rows
from pipeline import artifacts
from pipeline.errors import ValidationError

# The SavedModel's log-probabilities must match the evaluate stage's to this much (nats, summed).
LOG_PROB_TOLERANCE = 1e-3


class LanguageModelServingModule(tf.Module):
    """Wraps a trained language model with its tokenizer and unit vocabulary for `tf.saved_model.save`.

    Signatures (the serving contract):
        generate: `prompt` string [batch], `max_length` int32 [], `temperature` float32 [] -> `text`
            string [batch]: the continuation of each prompt (not the prompt itself); temperature 0 is
            greedy decoding. A backward model (`backward`, saved as the variable `reads_backward`) continues
            leftwards: the text that comes before the prompt, in reading order.
        score: `text` string [batch] -> `log_prob` float32 [batch] (natural log, summed over the units,
            the first one predicted from the start of a document, or its end for a backward model),
            `length` int32 [batch] (units scored).
    """

    def __init__(
        self,
        generator,
        tokenizer: text.TextTokenizer,
        units: list[str],
        *,
        lowercase: bool,
        joiner: str,
        backward: bool = False,
    ):
        super().__init__(name="language_model")
        self.backward = backward
        # Saved, so that a client knows to put what `generate` writes before the prompt.
        self.reads_backward = tf.Variable(backward, trainable=False, name="reads_backward")
        self.generator = generator
        self.tokenizer = tokenizer
        self.unit_table = text.lookup_table(units)
        self.unit_names = tf.constant(units, tf.string)
        self.lowercase = lowercase
        self.joiner = joiner

    def ids(self, texts: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """`[START]` and the unit ids of each text: int32 [batch, time] right padded, and lengths int32 [batch]."""
        tokens = text.normalize_words(self.tokenizer(texts), self.lowercase)
        if self.backward:  # a backward model reads a text from its end
            tokens = reverse_rows(tokens)
        ids = tf.cast(tf.ragged.map_flat_values(self.unit_table.lookup, tokens), tf.int32)
        start = tf.fill([tf.shape(texts)[0], 1], tf.constant(text.START_ID, tf.int32))
        with_start = tf.concat([tf.RaggedTensor.from_tensor(start), ids], axis=1)
        return with_start.to_tensor(0), tf.cast(with_start.row_lengths(), tf.int32)

    @tf.function(
        input_signature=[
            tf.TensorSpec([None], tf.string, name="prompt"),
            tf.TensorSpec([], tf.int32, name="max_length"),
            tf.TensorSpec([], tf.float32, name="temperature"),
        ]
    )
    def generate(self, prompt, max_length, temperature):
        ids, lengths = self.ids(prompt)
        generated = self.generator.generate(ids, lengths, tf.maximum(max_length, 0), temperature)
        if self.backward:  # written from the prompt's start leftwards: in reading order, the text before it
            generated = tf.reverse(generated, axis=[1])
        return {"text": tf.strings.reduce_join(tf.gather(self.unit_names, generated), axis=1, separator=self.joiner)}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
    def score(self, text_batch):
        ids, lengths = self.ids(text_batch)
        return {"log_prob": self.generator.score(ids, lengths), "length": lengths - 1}

    def signatures(self) -> dict:
        return {"generate": self.generate.get_concrete_function(), "score": self.score.get_concrete_function()}


def serving_module(
    model_artifact: artifacts.Model, vocabulary: artifacts.Vocabulary, params
) -> LanguageModelServingModule:
    """The trained language model, as a generator, wrapped with its tokenizer and units."""
    return LanguageModelServingModule(
        Generator(keras.saving.load_model(model_artifact.path)),
        text.TextTokenizer.for_task(params.preprocess, vocabulary.wordpieces()),
        vocabulary.tokens("units"),
        lowercase=params.preprocess.lowercase,
        joiner=names.joiner(params.preprocess.tokenizer),
        backward=direction_of(model_artifact) == "backward",
    )


def requests(expected: Sequence[dict], params) -> tuple[list[dict], list[dict]]:
    """Each validation case of the evaluate stage: its text to score, its prompt to continue greedily."""
    return list(expected), [_request(e) for e in expected]


def check(expected: Sequence[dict], answers: Sequence[dict]) -> dict[str, int]:
    """`score` must give the evaluate stage's log-probabilities and greedy `generate` its continuations.

    Raises:
        ValidationError: a text was scored or continued differently.
    """
    for case, answer in zip(expected, answers, strict=True):
        joined = _joiner(case)
        problems = []
        if answer["length"] != len(case["units"]):
            problems.append(f"length {answer['length']} instead of {len(case['units'])}")
        if not math.isclose(answer["log_prob"], case["log_prob"], abs_tol=LOG_PROB_TOLERANCE):
            problems.append(f"log_prob {answer['log_prob']:.4f} instead of {case['log_prob']:.4f}")
        if answer["greedy"] != joined.join(case["greedy"]):
            problems.append(
                f"greedy continuation {answer['greedy'][:40]!r} instead of {joined.join(case['greedy'])[:40]!r}"
            )
        if problems:
            raise ValidationError(
                f"export: the SavedModel answers {joined.join(case['units'])[:60]!r} unlike the Keras model: "
                f"{'; '.join(problems)}; nothing pushed"
            )
    return {"texts": len(expected)}


def _joiner(case: dict) -> str:
    return case.get("joiner", "")


def _request(case: dict) -> dict:
    joiner = _joiner(case)
    return {"text": joiner.join(case["units"]), "prompt": joiner.join(case["prompt"]), "generate": len(case["greedy"])}


def saved_model_bits_per_unit(
    saved_model: pathlib.Path, examples: Sequence[dict], *, metric: str = "", lowercase: bool = False, batch: int = 16
) -> float:
    """Bits per unit of a SavedModel's `score` on examples with `text` (lower is better; each model reads the
    text as it was trained to, so `lowercase` does not apply)."""
    score = tf.saved_model.load(str(saved_model)).signatures["score"]
    nats, units = 0.0, 0
    for start in range(0, len(examples), batch):
        out = score(text=tf.constant([e["text"] for e in examples[start : start + batch]]))
        nats -= float(tf.reduce_sum(out["log_prob"]))
        units += int(tf.reduce_sum(out["length"]))
    return nats / units / math.log(2) if units else math.nan


EXPORT = Export(serving_module, requests, check, saved_model_bits_per_unit)
