"""Encoder-decoder translator with attention (Sutskever et al. 2014; Bahdanau et al. 2015; Luong et al. 2015).

* Encoder: source embedding (padding id 0 masked) -> the shared `RecurrentEncoder`; its final state
  (`models.pooling.LastStatePooling`) sets the decoder's initial state through a learned bridge.
* Decoder: the `AttentionalDecoder` of `models.attentional_decoder`, which the captioner shares, attending
  over the encoder's outputs.
* Attention: one of `ATTENTIONS` (`models.attention`): additive (Bahdanau, Cho and Bengio 2015),
  multiplicative `dot` or `general` (Luong, Pham and Manning 2015), or `none`, the encoder's final state
  (Sutskever et al. 2014; Cho et al. 2014).
* `decode` decodes by a decode config's strategy, at most `max_length_ratio` x the longest source +
  `max_length_extra` tokens.
"""

from __future__ import annotations

import dataclasses

import keras
import tensorflow as tf

from models.attention import ATTENTIONS
from models.attentional_decoder import AttentionalDecoder, EncoderMemory, decode_by, decoder_arguments
from models.encoder import RecurrentEncoder
from models.pooling import LastStatePooling
from models.text import PAD_ID

# Config keys of translators saved before `Seq2Seq`'s arguments were renamed: old key -> argument.
_RENAMED_CONFIG_KEYS = {"layers": "num_layers", "attention": "attention_type"}


# --------------------------------------------------------------------------- the translator


@keras.saving.register_keras_serializable(package="seqpipe")
class Seq2Seq(AttentionalDecoder):
    """An RNN encoder-decoder with attention (Sutskever et al. 2014; Bahdanau et al. 2015; Luong et al. 2015).

    Encoder: source embedding (id 0 masked) -> dropout -> `RecurrentEncoder` (stacked, optionally
    bidirectional). Its final state is read from its outputs: `LastStatePooling` takes the output at the
    last real step (forward half) and at step 0 (backward half) and concatenates them. For RNN and GRU
    cells the output is the state; an LSTM's cell state c is not among the outputs (the shared encoder does
    not return states), so both the decoder's h and c come from the encoder's final h. The decoder is
    `AttentionalDecoder`'s.

    Args:
        source_words: source vocabulary size, reserved tokens included.
        target_words: target vocabulary size, reserved tokens included ([PAD] 0, [START] 2, [END] 3).
        cell: `rnn`, `gru` or `lstm`, for the encoder and the decoder.
        num_layers: recurrent layers in the encoder, and cells in the decoder (`layers` in a model config;
            not `layers` here, which is Keras's list of a model's sublayers).
        bidirectional: a bidirectional encoder.
        embedding_dim: size of source and target embeddings.
        hidden_dim: units per recurrent layer and direction; also the attentional vector's size.
        dropout: on embeddings, between recurrent layers and on the attentional vector, in training.
        attention_type: one of `ATTENTIONS` (not `attention`, the attention layer itself).
        scheduled_sampling: None (teacher forcing), or the feed of scheduled sampling, `argmax` or `sample`.

    Every constructor argument is an attribute of the same name and a key of `get_config`; a config saved
    before the two renames (with `layers` and `attention`) still loads through `from_config`.

    Call args: {"source_ids": int [batch, src], "target_in": int [batch, tgt]}; see `AttentionalDecoder`.
    """

    def __init__(
        self,
        source_words: int,
        target_words: int,
        cell: str = "lstm",
        num_layers: int = 1,
        bidirectional: bool = True,
        embedding_dim: int = 100,
        hidden_dim: int = 128,
        dropout: float = 0.0,
        attention_type: str = "bahdanau",
        scheduled_sampling: str | None = None,
        **kwargs,
    ) -> None:
        if attention_type == "luong_dot" and bidirectional:
            raise ValueError(
                "luong_dot attention needs encoder outputs as wide as the decoder's state: a bidirectional "
                "encoder's are twice as wide (use luong_general, or a unidirectional encoder)"
            )
        super().__init__(
            target_words,
            key_dim=hidden_dim * (2 if bidirectional else 1),
            cell=cell,
            num_layers=num_layers,
            bidirectional=bidirectional,
            embedding_dim=embedding_dim,
            hidden_dim=hidden_dim,
            dropout=dropout,
            attention_type=attention_type,
            scheduled_sampling=scheduled_sampling,
            **kwargs,
        )
        self.source_words = source_words
        self.bidirectional = bidirectional
        self.source_embedding = keras.layers.Embedding(
            source_words, embedding_dim, mask_zero=True, name="source_embedding"
        )
        self.source_dropout = keras.layers.Dropout(dropout, name="source_dropout")
        self.encoder = RecurrentEncoder(cell, num_layers, hidden_dim, bidirectional, dropout, name="encoder")
        self.final_state = LastStatePooling(bidirectional, name="final_state")

    # ------------------------------------------------------------------ building and config

    def build(self, input_shape=None):
        """Creates every weight; the shapes come from the constructor, so `input_shape` is not read."""
        if self.built:
            return
        self.source_embedding.build((None, None))
        self.encoder.build((None, None, self.embedding_dim))
        self.build_decoder()
        self.built = True

    def get_config(self):
        return {
            **keras.Model.get_config(self),
            "source_words": self.source_words,
            "target_words": self.target_words,
            "cell": self.cell,
            "num_layers": self.num_layers,
            "bidirectional": self.bidirectional,
            "embedding_dim": self.embedding_dim,
            "hidden_dim": self.hidden_dim,
            "dropout": self.dropout,
            "attention_type": self.attention_type,
            "scheduled_sampling": self.scheduled_sampling,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        # Models saved before the keys were renamed after their constructor arguments.
        for old, new in _RENAMED_CONFIG_KEYS.items():
            if old in config:
                config[new] = config.pop(old)
        return cls(**config)

    def encode(self, source_ids, training=None) -> EncoderMemory:
        """The encoder's outputs, mask, final state and the decoder's initial state, for source_ids int [batch, src]."""
        self.build()
        source_ids = tf.cast(source_ids, tf.int32)
        mask = tf.not_equal(source_ids, PAD_ID)
        features = self.source_dropout(self.source_embedding(source_ids), training=training)
        outputs = self.encoder(features, mask=mask, training=training)
        return self.memory(outputs, mask, self.final_state(outputs, mask=mask))


@dataclasses.dataclass(frozen=True)
class TranslatorSizes:
    """What the model's shape takes from the data: the vocabulary sizes (read from the Vocabulary artifact)."""

    source_words: int
    target_words: int


def build_translator(
    sizes: TranslatorSizes, model_config, attention: str = "bahdanau", scheduled_sampling: str | None = None
) -> Seq2Seq:
    """An attentional RNN encoder-decoder (`Seq2Seq`), built (its weights exist).

    Args:
        sizes: vocabulary sizes, reserved entries included.
        model_config: a `pipeline.config.ModelConfig`; reads cell, layers, bidirectional, embedding_dim,
            hidden_dim and dropout.
        attention: one of `ATTENTIONS`.
        scheduled_sampling: None (teacher forcing), or the feed of scheduled sampling, `argmax` or `sample`.

    Returns:
        A model from {"source_ids": int [batch, src], "target_in": int [batch, tgt]} to logits
        float [batch, tgt, target_words]; see `Seq2Seq` for decoding.
    """
    if attention not in ATTENTIONS:  # fail fast, before any layer is made
        raise ValueError(f"unknown attention {attention!r} (available: {', '.join(ATTENTIONS)})")
    c = model_config
    model = Seq2Seq(
        sizes.source_words,
        sizes.target_words,
        bidirectional=c.bidirectional,
        **decoder_arguments(c, scheduled_sampling, attention),
        name=f"{'bi' if c.bidirectional else ''}{c.cell}_{attention}_translator",
    )
    model.build()
    return model


def decode(model: Seq2Seq, source_ids: tf.Tensor, config, strategy: str | None = None) -> tf.Tensor:
    """Output ids int32 [batch, time] of `model` for source ids int [batch, src] (0 padding).

    Args:
        config: a `pipeline.config.DecodeConfig`: the strategy and its settings, and the maximum output
            length `max_length_ratio` x the longest source + `max_length_extra`.
        strategy: `greedy`, `sample`, `beam`, or `wrong_start` (greedy after a forced wrong first token);
            default `config.strategy`.

    Returns:
        ids int32 [batch, time]: each output up to its [END], then padding.
    """
    # An empty batch has no longest source: its reduce_max is -inf.
    longest = tf.maximum(tf.reduce_max(tf.reduce_sum(tf.cast(source_ids > 0, tf.float32), axis=1)), 0.0)
    max_length = tf.cast(longest * config.max_length_ratio, tf.int32) + config.max_length_extra
    return decode_by(model, source_ids, max_length, config, strategy)
