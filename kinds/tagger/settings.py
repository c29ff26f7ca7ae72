"""The tagger's settings: character features and the output layer (`model:`), its vocabularies of
characters (`preprocess:`), and batches by a token budget (`train:`)."""

from __future__ import annotations

import dataclasses

from kinds.base.settings import CharactersPreprocess, LanguageModelFeaturesModel, TokenBudgetTrain
from pipeline.config import TaskConfig, at_least, choice


@dataclasses.dataclass(frozen=True)
class TaggerModel(LanguageModelFeaturesModel):
    # A word's features: its embedding, and features of its characters (Ma and Hovy 2016).
    char_features: bool = True
    # `softmax`, a tag per token on its own; `crf`, a linear-chain CRF that scores the whole sequence
    # (learned transitions, Viterbi decoding; Lample et al. 2016, Ma and Hovy 2016); `auto`, a CRF for BIO
    # tags (where a tag depends most on its neighbours), else a softmax.
    output: str = dataclasses.field(default="auto", metadata=choice("auto", "softmax", "crf"))
    # A CRF on BIO tags: decoding never chooses what IOB2 forbids (`O` then `I-X`, `B-X` then `I-Y`). Turned
    # off, and said so, when the training tags themselves break IOB2 (IOB1 data).
    constrain_bio: bool = True
    # How a word's characters become its character features. `cnn`: a convolution and a max over the word
    # (Ma and Hovy 2016); `lstm`: a bidirectional LSTM's final states (Lample et al. 2016).
    char_encoder: str = dataclasses.field(default="cnn", metadata=choice("cnn", "lstm"))
    char_embedding_dim: int = dataclasses.field(default=24, metadata=at_least(1))
    # The size of a word's character features: the convolution's filters, or both LSTM directions (even).
    char_filters: int = dataclasses.field(default=48, metadata=at_least(1))
    char_kernel_size: int = dataclasses.field(default=3, metadata=at_least(1))


# The tagger's vocabulary of characters.
TaggerPreprocess = CharactersPreprocess


@dataclasses.dataclass(frozen=True)
class TaggerTask(TaskConfig):
    preprocess: TaggerPreprocess = TaggerPreprocess()
    model: TaggerModel = TaggerModel()
    train: TokenBudgetTrain = TokenBudgetTrain()
