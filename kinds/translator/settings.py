"""The translator's settings: the decoder's attention (`model:`), one vocabulary or two (`preprocess:`), how
it decodes (`decode:`) and its curriculum (`curriculum:`)."""

from __future__ import annotations

import dataclasses

from kinds.base.settings import DecoderModel, DecoderTask, WordVectorsModel
from pipeline.config import PreprocessConfig


@dataclasses.dataclass(frozen=True)
class TranslatorModel(DecoderModel, WordVectorsModel):
    """The decoder's settings and pretrained vectors of the source language (`word_vectors`), which start the
    source embedding (the target's starts random: the file is in one language)."""


@dataclasses.dataclass(frozen=True)
class TranslatorPreprocess(PreprocessConfig):
    # One vocabulary for source and target (`words`) instead of `source_words` and `target_words`.
    shared_vocabulary: bool = False


@dataclasses.dataclass(frozen=True)
class TranslatorTask(DecoderTask):
    preprocess: TranslatorPreprocess = TranslatorPreprocess()
    model: TranslatorModel = TranslatorModel()
