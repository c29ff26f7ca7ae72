"""The captioner's settings: the CNN and the attention penalty (`model:`), the images' size (`preprocess:`),
where the objects are (`evaluate:`), how it decodes (`decode:`) and its curriculum (`curriculum:`)."""

from __future__ import annotations

import dataclasses

from kinds.base.settings import DecoderModel, DecoderTask
from pipeline.config import PATH, EvaluateConfig, PreprocessConfig, at_least, choice


@dataclasses.dataclass(frozen=True)
class CaptionerModel(DecoderModel):
    # The CNN whose last feature map the decoder attends over. `cnn`: a small network trained from scratch
    # (three blocks, `encoder_filters` channels first, 4x that in the grid); or a Keras application
    # (MobileNetV2, ResNet50, EfficientNetB0, VGG16) with the weights file `encoder_weights`.
    encoder: str = dataclasses.field(
        default="cnn", metadata=choice("cnn", "MobileNetV2", "ResNet50", "EfficientNetB0", "VGG16")
    )
    encoder_filters: int = dataclasses.field(default=32, metadata=at_least(1))
    encoder_weights: str | None = dataclasses.field(default=None, metadata=PATH)
    # λ of Xu et al.'s doubly stochastic attention penalty, λ·mean_i (1 − Σ_t α_t,i)²; 0: none.
    attention_penalty: float = dataclasses.field(default=1.0, metadata={"min": 0.0})
    # Add a learned position vector to each location of the grid, so that the attention's context says where
    # it looked (relations such as "left of"); false: the CNN's features alone.
    grid_positions: bool = True


@dataclasses.dataclass(frozen=True)
class CaptionerPreprocess(PreprocessConfig):
    # Images are squashed to squares this many pixels a side (stored so in the shards).
    image_size: int = dataclasses.field(default=64, metadata=at_least(16))


@dataclasses.dataclass(frozen=True)
class CaptionerEvaluate(EvaluateConfig):
    # A TSV of where each image's objects are (`image<TAB>word<TAB>size<TAB>x0<TAB>y0<TAB>x1<TAB>y1`, a header
    # line, image paths as in the captions file and relative to this file, boxes in the original image's
    # pixels), to measure how often the attention at a word that names an object peaks on it.
    objects: str | None = dataclasses.field(default=None, metadata=PATH)


@dataclasses.dataclass(frozen=True)
class CaptionerTask(DecoderTask):
    preprocess: CaptionerPreprocess = CaptionerPreprocess()
    model: CaptionerModel = CaptionerModel()
    evaluate: CaptionerEvaluate = CaptionerEvaluate()
