"""The exported tagger: raw strings in, tokens and tags out, tokenization inside the graph."""

from __future__ import annotations

import keras
import tensorflow as tf

from models import text


class TaggerServingModule(tf.Module):
    """Wraps a trained tagger with its tokenizer and vocabularies for `tf.saved_model.save`.

    Signatures (the serving contract):
        serving_default: `text` string [batch] -> `tokens`, `tags` string [batch, time], "" on padding.
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
        self.max_length = max_length
        self.char_features = char_features

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
    def serve_text(self, text_batch):
        tokens = self.tokenizer.tokenize(text_batch)[:, : self.max_length]
        return {"tokens": tokens.to_tensor(""), "tags": self.tag_ragged(tokens)}

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
        logits = self.model(inputs, training=False)
        reserved = len(text.RESERVED_TAGS)
        best = tf.argmax(logits[..., reserved:], axis=-1, output_type=tf.int32) + reserved
        tags = self.featurizer.tag_strings(best)[:, :width]
        real = tf.sequence_mask(tokens.row_lengths(), width)
        return tf.where(real, tags, tf.constant("", tf.string))

    def signatures(self) -> dict:
        return {
            "serving_default": self.serve_text.get_concrete_function(),
            "tag_tokens": self.tag_tokens.get_concrete_function(),
        }


class ClassifierServingModule(tf.Module):
    """Wraps a trained classifier with its tokenizer and vocabularies for `tf.saved_model.save`.

    Signature (the serving contract):
        serving_default: `text` string [batch] -> `label` string [batch], `probabilities` float32
        [batch, classes] (classes in the order of the `labels` vocabulary).
    """

    def __init__(
        self,
        model: keras.Model,
        tokenizer: text.TextTokenizer,
        words: list[str],
        labels: list[str],
        *,
        lowercase: bool,
        max_length: int,
    ) -> None:
        super().__init__(name="classifier")
        self.model = model
        self.tokenizer = tokenizer
        self.word_table = text.lookup_table(words)
        self.label_names = tf.constant(labels, tf.string)
        self.lowercase = lowercase
        self.max_length = max_length

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
    def serve_text(self, text_batch):
        tokens = self.tokenizer(text_batch)[:, : self.max_length]
        ids = tf.ragged.map_flat_values(self.word_table.lookup, text.normalize_words(tokens, self.lowercase))
        # One padding column more than needed, so that an empty text still has a (masked) time step.
        token_ids = tf.pad(tf.cast(ids.to_tensor(0), tf.int32), [[0, 0], [0, 1]])
        probabilities = tf.nn.softmax(self.model({text.TOKEN_IDS: token_ids}, training=False))
        label = tf.gather(self.label_names, tf.argmax(probabilities, axis=-1))
        return {"label": label, "probabilities": probabilities}

    def signatures(self) -> dict:
        return {"serving_default": self.serve_text.get_concrete_function()}


class LanguageModelServingModule(tf.Module):
    """Wraps a trained language model with its tokenizer and unit vocabulary for `tf.saved_model.save`.

    Signatures (the serving contract):
        generate: `prompt` string [batch], `max_length` int32 [], `temperature` float32 [] -> `text`
            string [batch]: the continuation of each prompt (not the prompt itself); temperature 0 is
            greedy decoding.
        score: `text` string [batch] -> `log_prob` float32 [batch] (natural log, summed over the units,
            the first one predicted from the start of a document), `length` int32 [batch] (units scored).
    """

    def __init__(self, generator, tokenizer: text.TextTokenizer, units: list[str], *, lowercase: bool, joiner: str):
        super().__init__(name="language_model")
        self.generator = generator
        self.tokenizer = tokenizer
        self.unit_table = text.lookup_table(units)
        self.unit_names = tf.constant(units, tf.string)
        self.lowercase = lowercase
        self.joiner = joiner

    def ids(self, texts: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """`[START]` and the unit ids of each text: int32 [batch, time] right padded, and lengths int32 [batch]."""
        tokens = text.normalize_words(self.tokenizer(texts), self.lowercase)
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
        return {"text": tf.strings.reduce_join(tf.gather(self.unit_names, generated), axis=1, separator=self.joiner)}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
    def score(self, text_batch):
        ids, lengths = self.ids(text_batch)
        return {"log_prob": self.generator.score(ids, lengths), "length": lengths - 1}

    def signatures(self) -> dict:
        return {"generate": self.generate.get_concrete_function(), "score": self.score.get_concrete_function()}


class TranslatorServingModule(tf.Module):
    """Wraps a trained translator with its tokenizer, vocabularies and decoder for `tf.saved_model.save`.

    Signature (the serving contract):
        serving_default: `text` string [batch] -> `translation` string [batch], decoded inside the graph by
        the configured strategy (beam search by default) and detokenized.
    """

    def __init__(
        self,
        model: keras.Model,
        tokenizer: text.TextTokenizer,
        source_words: list[str],
        target_words: list[str],
        decode_config,
        *,
        lowercase: bool,
        max_length: int,
    ) -> None:
        super().__init__(name="translator")
        self.model = model
        self.tokenizer = tokenizer
        self.source_table = text.lookup_table(source_words)
        self.target_words = tf.constant(target_words, tf.string)
        self.decode_config = decode_config
        self.lowercase = lowercase
        self.max_length = max_length

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
    def serve_text(self, text_batch):
        from models import seq2seq

        tokens = text.normalize_words(self.tokenizer(text_batch), self.lowercase)[:, : self.max_length]
        ids = tf.cast(tf.ragged.map_flat_values(self.source_table.lookup, tokens), tf.int32)
        # One padding column more than needed, so that an empty text still has a (masked) source step.
        source_ids = tf.pad(ids.to_tensor(0), [[0, 0], [0, 1]])
        output = seq2seq.output_tokens(seq2seq.decode(self.model, source_ids, self.decode_config), self.target_words)
        return {"translation": text.detokenize(output, self.tokenizer.kind)}

    def signatures(self) -> dict:
        return {"serving_default": self.serve_text.get_concrete_function()}
