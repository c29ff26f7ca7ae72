"""The translator's export: the SavedModel (`serving_default`: text -> translation, decoded in the graph), how
infra-validation checks it against the Keras model, and its BLEU on a test split."""

from __future__ import annotations

import pathlib
from collections.abc import Sequence

import keras
import sacrebleu
import tensorflow as tf

from kinds.base.export import Export, require_alike
from kinds.base.serving import TextServingModule
from models import attentional_decoder, seq2seq, text  # seq2seq: registers the model for loading
from pipeline import artifacts


class TranslatorServingModule(TextServingModule):
    """Wraps a trained translator with its tokenizer, vocabularies and decoder for `tf.saved_model.save`.

    Signature (the serving contract):
        serving_default: `text` string [batch] -> `translation` string [batch], decoded inside the graph by
        the configured strategy (beam search by default) and detokenized; `input_tokens` int32 [batch].
    """

    def __init__(
        self, model, tokenizer, source_words, target_words, decode_config, *, lowercase: bool, max_length: int
    ) -> None:
        super().__init__("translator", model, tokenizer, source_words, lowercase=lowercase, max_length=max_length)
        self.target_words = tf.constant(target_words, tf.string)
        self.decode_config = decode_config

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")], autograph=False)
    def serve_text(self, text_batch):
        token_ids, input_tokens = self.read(text_batch)
        ids = seq2seq.decode(self.model, token_ids, self.decode_config)
        words = attentional_decoder.output_tokens(ids, self.target_words)
        return {"translation": text.detokenize(words, self.tokenizer.kind), "input_tokens": input_tokens}


def serving_module(
    model_artifact: artifacts.Model, vocabulary: artifacts.Vocabulary, params
) -> TranslatorServingModule:
    p = params.preprocess
    shared = "words" in vocabulary.names()
    tokenizer = text.TextTokenizer.for_task(p, vocabulary.wordpieces())
    return TranslatorServingModule(
        keras.saving.load_model(model_artifact.path),
        tokenizer,
        vocabulary.tokens("words" if shared else "source_words"),
        vocabulary.tokens("words" if shared else "target_words"),
        params.sections["decode"],
        lowercase=p.lowercase,
        max_length=params.export.max_length,
    )


def requests(expected: Sequence[dict], params) -> tuple[list[dict], list[dict]]:
    """Each evaluated source; the client sends them in the evaluate stage's batches (see its `answer`)."""
    return list(expected), [{"text": e["source"]} for e in expected]


def check(expected: Sequence[dict], answers: Sequence[dict]) -> dict[str, int]:
    """The SavedModel must translate every source as the Keras model did.

    Raises:
        ValidationError: a source was translated differently.
    """
    require_alike(expected, answers, "translation", "source", "translates sources")
    return {"sources": len(expected)}


def saved_model_bleu(
    saved_model: pathlib.Path, examples: Sequence[dict], *, metric: str = "", lowercase: bool = False, batch: int = 128
) -> float:
    """Corpus BLEU of a SavedModel's translations of examples with `source` and reference `target`, ignoring
    case when `lowercase` (as the evaluate stage scores a lowercase model)."""
    serve = tf.saved_model.load(str(saved_model)).signatures["serving_default"]
    hypotheses = []
    for start in range(0, len(examples), batch):
        out = serve(text=tf.constant([e["source"] for e in examples[start : start + batch]]))
        hypotheses += [t.decode("utf-8") for t in out["translation"].numpy()]
    return sacrebleu.corpus_bleu(hypotheses, [[e["target"] for e in examples]], lowercase=lowercase).score


EXPORT = Export(serving_module, requests, check, saved_model_bleu)
