"""Settings that several kinds share, as mixins of the framework's sections (`pipeline.config`).

Kinds whose examples hold each word's characters (tagger, classifier) share their vocabulary's settings
(`preprocess:`) and the language models that read them (`model.lm_features`). Decoder kinds (translator,
captioner) share an attentional decoder, how it decodes (`decode:`) and the curriculum that feeds it its own
predictions (`curriculum:`); kinds whose batches can be cut by a token budget (tagger, classifier) share
`train.tokens_per_batch`.
"""

from __future__ import annotations

import dataclasses

from pipeline.config import (
    PATH,
    ModelConfig,
    PreprocessConfig,
    TaskConfig,
    TrainConfig,
    at_least,
    choice,
    fraction,
    tasks_of,
)


@dataclasses.dataclass(frozen=True)
class WordVectorsModel(ModelConfig):
    # A file of pretrained word vectors whose rows start the word embedding (`kinds.base.word_vectors`):
    # word2vec or fastText text with its header line, GloVe text without one, either gzipped; the embedding
    # takes the file's size (embedding_dim is ignored). null: the embedding starts random.
    word_vectors: str | None = dataclasses.field(default=None, metadata=PATH)
    # Keep the vectors as they are (true) or train them with the rest of the model (false).
    freeze_vectors: bool = False


@dataclasses.dataclass(frozen=True)
class CharactersPreprocess(PreprocessConfig):
    # Characters seen fewer times in training are [UNK]; words are cut to this many characters.
    char_min_count: int = dataclasses.field(default=1, metadata=at_least(1))
    max_word_length: int = dataclasses.field(default=20, metadata=at_least(1))


@dataclasses.dataclass(frozen=True)
class LanguageModelFeaturesModel(WordVectorsModel):
    # Character language-model tasks of the same config whose hidden states become features of each word
    # (Akbik et al. 2018): the top layer's state at the word's last character, the sentence read from the
    # language model's start state (`models.lm_features`). The tasks train first; retraining one retrains this.
    lm_features: tuple[str, ...] = dataclasses.field(default=(), metadata=tasks_of("language_model"))
    # Keep the language models' weights as they are (true) or train them with the rest of the model (false).
    freeze_lm: bool = True


@dataclasses.dataclass(frozen=True)
class DecoderModel(ModelConfig):
    # The decoder's attention over the encoder's states (or an image's grid). `bahdanau`: additive, vᵀ tanh(W₁s +
    # W₂h) (Bahdanau et al. 2015); `luong_dot`, `luong_general`: multiplicative (Luong et al. 2015); `none`: the
    # encoder's final state is all the decoder sees (the bottleneck of plain seq2seq).
    attention: str = dataclasses.field(
        default="bahdanau", metadata=choice("bahdanau", "luong_dot", "luong_general", "none")
    )


@dataclasses.dataclass(frozen=True)
class DecodeConfig:
    """How a decoder's output is decoded, in evaluation and inside the exported SavedModel."""

    strategy: str = dataclasses.field(default="beam", metadata=choice("greedy", "sample", "beam"))
    beam_size: int = dataclasses.field(default=4, metadata=at_least(1))
    # GNMT length penalty ((5 + |Y|) / 6) ** alpha (Wu et al. 2016); 0 compares raw log-probabilities.
    length_penalty: float = dataclasses.field(default=0.6, metadata={"min": 0.0})
    temperature: float = dataclasses.field(default=1.0, metadata={"min": 0.0})
    top_k: int = dataclasses.field(default=0, metadata=at_least(0))  # 0: sample from every token
    # Output stops at [END] or after `max_length_ratio` x source tokens + `max_length_extra`.
    max_length_ratio: float = dataclasses.field(default=2.0, metadata={"min": 0.0})
    max_length_extra: int = dataclasses.field(default=10, metadata=at_least(1))


@dataclasses.dataclass(frozen=True)
class CurriculumConfig:
    """Scheduled sampling (Bengio, Vinyals, Jaitly and Shazeer 2015). At decoder step inputs, the true previous
    token is fed with probability ε_i and the model's own prediction otherwise, where i counts training steps
    or epochs (`unit`) and ε_i follows `schedule` with the paper's parameters:

    constant: ε_i = k; linear: ε_i = max(epsilon_min, k − c·i); exponential: ε_i = max(epsilon_min, k^i)
    (k < 1); inverse_sigmoid: ε_i = max(epsilon_min, k / (k + exp(i / k))) (k ≥ 1). The default, constant 1,
    is teacher forcing only. With `reach`, a decay's k (and c) follow from the real number of training steps:
    ε_i reaches epsilon_min at that fraction of training and stays there.
    """

    schedule: str = dataclasses.field(
        default="constant", metadata=choice("constant", "linear", "exponential", "inverse_sigmoid")
    )
    unit: str = dataclasses.field(default="step", metadata=choice("step", "epoch"))
    k: float = dataclasses.field(default=1.0, metadata={"min": 0.0})
    c: float = dataclasses.field(default=0.0, metadata={"min": 0.0})
    epsilon_min: float = dataclasses.field(default=0.0, metadata=fraction())
    # The fraction of training at which a decay reaches epsilon_min (0 < reach ≤ 1); null: k and c as given.
    reach: float | None = dataclasses.field(default=None, metadata=fraction())
    # What replaces a true token: the model's most likely token, or one sampled from its softmax.
    feed: str = dataclasses.field(default="argmax", metadata=choice("argmax", "sample"))


@dataclasses.dataclass(frozen=True)
class TokenBudgetTrain(TrainConfig):
    # Training batches by a token budget instead of `batch_size` sentences: each length bucket's batches hold
    # as many sentences as fit this many padded tokens. 0: off.
    tokens_per_batch: int = dataclasses.field(default=0, metadata=at_least(0))


@dataclasses.dataclass(frozen=True)
class DecoderTask(TaskConfig):
    """A task of a decoder kind: its model has an attentional decoder (`model.attention`), which decodes by
    `decode:` and learns by the curriculum of `curriculum:`."""

    model: DecoderModel = DecoderModel()
    decode: DecodeConfig = DecodeConfig()
    curriculum: CurriculumConfig = CurriculumConfig()
