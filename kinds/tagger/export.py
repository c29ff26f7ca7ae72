"""The tagger's export: the SavedModel (raw strings in, tokens and tags out, tokenization inside the graph),
how infra-validation checks it against the Keras model, and its token accuracy on a test split."""

from __future__ import annotations

import pathlib
from collections.abc import Sequence

import keras
import tensorflow as tf

from kinds.base.export import Export, require_alike
from kinds.tagger import metrics
from models import text
from models.tagger import tag_ids  # models.tagger also registers the custom layers, for loading
from pipeline import artifacts


class TaggerServingModule(tf.Module):
    """Wraps a trained tagger with its tokenizer and vocabularies for `tf.saved_model.save`.

    Signatures (the serving contract):
        serving_default: `text` string [batch] -> `tokens`, `tags` string [batch, time], "" on padding;
            `input_tokens` int32 [batch], the tokens of each text, of which the first `max_length` (a saved
            variable) are read.
        tag_tokens: `tokens` string [batch, time], "" on padding -> `tags` string [batch, time].
    """

    def __init__(
        self,
        model: keras.Model,
        featurizer: text.TaggerFeaturizer,
        tokenizer,
        *,
        max_length: int,
        char_features: bool,
    ) -> None:
        super().__init__(name="tagger")
        self.model = model
        self.featurizer = featurizer
        self.tokenizer = tokenizer
        self.cut = max_length  # ragged slicing takes a Python int; callers read the saved variable
        self.max_length = tf.Variable(max_length, dtype=tf.int32, trainable=False, name="max_length")
        self.char_features = char_features

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
    def serve_text(self, text_batch):
        tokens = self.tokenizer.tokenize(text_batch)
        read = tokens[:, : self.cut]
        input_tokens = tf.cast(tokens.row_lengths(), tf.int32)
        return {"tokens": read.to_tensor(""), "tags": self.tag_ragged(read), "input_tokens": input_tokens}

    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.string, name="tokens")])
    def tag_tokens(self, tokens):
        ragged = tf.RaggedTensor.from_tensor(tokens, padding="")
        tags = self.tag_ragged(ragged)
        # Same shape as the input, even when trailing columns are all padding.
        width = tf.shape(tokens)[1]
        return {"tags": tf.pad(tags, [[0, 0], [0, width - tf.shape(tags)[1]]], constant_values="")}

    def tag_ragged(self, tokens: tf.RaggedTensor) -> tf.Tensor:
        """Tags of tokens string [batch, (time)] -> string [batch, time], "" on padding."""
        width = tf.cast(tokens.bounding_shape(axis=1), tf.int32)
        # One padding column (and character) more than needed, so that an empty input still has a
        # time step for the recurrent layers; padding is masked, so the real tokens are unaffected.
        token_ids = tf.pad(tf.cast(self.featurizer.token_ids(tokens).to_tensor(0), tf.int32), [[0, 0], [0, 1]])
        inputs = {text.TOKEN_IDS: token_ids}
        if self.char_features:
            char_ids = tf.cast(self.featurizer.char_ids(tokens).to_tensor(0), tf.int32)
            inputs[text.CHAR_IDS] = tf.pad(char_ids, [[0, 0], [0, 1], [0, 1]])
        tags = self.featurizer.tag_strings(tag_ids(self.model, inputs))[:, :width]
        real = tf.sequence_mask(tokens.row_lengths(), width)
        return tf.where(real, tags, tf.constant("", tf.string))

    def signatures(self) -> dict:
        return {
            "serving_default": self.serve_text.get_concrete_function(),
            "tag_tokens": self.tag_tokens.get_concrete_function(),
        }


def serving_module(model_artifact: artifacts.Model, vocabulary: artifacts.Vocabulary, params) -> TaggerServingModule:
    """The trained model wrapped with the tokenizer and lookups of its vocabularies."""
    model = keras.saving.load_model(model_artifact.path)
    featurizer = text.TaggerFeaturizer(
        vocabulary.tokens("words"),
        vocabulary.tokens("chars"),
        vocabulary.tokens("tags"),
        lowercase=params.preprocess.lowercase,
        max_word_length=params.preprocess.max_word_length,
    )
    return TaggerServingModule(
        model,
        featurizer,
        text.make_tokenizer(params.preprocess.tokenizer, params.preprocess.token_pattern),
        max_length=params.export.max_length,
        char_features=text.CHAR_IDS in {i.name for i in model.inputs},
    )


def requests(expected: Sequence[dict], params) -> tuple[list[dict], list[dict]]:
    """Each evaluated sentence's tokens, to tag through `tag_tokens` and, joined by spaces, `serving_default`."""
    return list(expected), [{"tokens": e["tokens"]} for e in expected]


def check(expected: Sequence[dict], answers: Sequence[dict]) -> dict[str, int]:
    """The SavedModel must tag every sentence as the Keras model did: through `tag_tokens`, and through
    `serving_default` for the sentences whose text, re-tokenized in the graph, gives back the same tokens.

    Returns:
        counts: `sentences` checked through `tag_tokens`, and `text_sentences` also through `serving_default`.

    Raises:
        ValidationError: a sentence was tagged differently.
    """
    same_tokens = [e["tokens"] == a["text_tokens"] for e, a in zip(expected, answers, strict=True)]
    require_alike(
        [{**e, "same_tokens": same} for e, same in zip(expected, same_tokens, strict=True)],
        answers,
        lambda e, a: e["tags"] != a["tags"] or (e["same_tokens"] and e["tags"] != a["text_tags"]),
        lambda e, a: f"{' '.join(e['tokens'])[:80]!r}: {a['tags']} instead of {e['tags']}",
        "tags sentences",
    )
    return {"sentences": len(expected), "text_sentences": sum(same_tokens)}


def saved_model_score(
    saved_model: pathlib.Path,
    examples: Sequence[dict],
    *,
    metric: str = "token_accuracy",
    lowercase: bool = False,
    batch: int = 256,
) -> float:
    """A SavedModel's `tag_tokens` on examples with `tokens` and gold `tags`, by the metric the evaluation
    blessed by: `entity.f1` (BIO tags) or `token_accuracy` (`lowercase` does not apply: tags are compared)."""
    model = tf.saved_model.load(str(saved_model))
    gold, predicted = [], []
    for start in range(0, len(examples), batch):
        sentences = examples[start : start + batch]
        width = max(len(e["tokens"]) for e in sentences)
        tokens = tf.constant([e["tokens"] + [""] * (width - len(e["tokens"])) for e in sentences])
        tags = model.signatures["tag_tokens"](tokens=tokens)["tags"].numpy()
        for i, example in enumerate(sentences):
            gold.append(example["tags"])
            predicted.append([t.decode("utf-8") for t in tags[i, : len(example["tokens"])]])
    if metric == "entity.f1":
        return metrics.entity_scores(gold, predicted).f1
    return metrics.token_accuracy(gold, predicted)


EXPORT = Export(serving_module, requests, check, saved_model_score)
