"""The question answerer's settings: the CNN, the attention's hops (`model:`), the images' size (`preprocess:`)
and the question-only baseline (`evaluate:`)."""

from __future__ import annotations

import dataclasses

from pipeline.config import PATH, EvaluateConfig, ModelConfig, PreprocessConfig, TaskConfig, at_least, choice


@dataclasses.dataclass(frozen=True)
class VqaModel(ModelConfig):
    # The CNN whose last feature map the question attends over: `cnn`, the captioner's small network trained from
    # scratch (three blocks, `encoder_filters` channels first, 4x that in the grid); or a Keras application
    # (MobileNetV2, ResNet50, EfficientNetB0, VGG16) with the weights file `encoder_weights`.
    encoder: str = dataclasses.field(
        default="cnn", metadata=choice("cnn", "MobileNetV2", "ResNet50", "EfficientNetB0", "VGG16")
    )
    # 16 here (the captioner's 32): the network runs once for each question, and 16 trains a step 3.4 times faster.
    encoder_filters: int = dataclasses.field(default=16, metadata=at_least(1))
    encoder_weights: str | None = dataclasses.field(default=None, metadata=PATH)
    # Add a learned position vector to each location of the grid, so that what the attention gathers says where
    # it looked (questions of "left of", "above").
    grid_positions: bool = True
    # Attention layers over the grid, each refining the question's vector with what it gathered (Yang et al.
    # 2016 found two better than one, and three no better than two).
    attention_hops: int = dataclasses.field(default=2, metadata=at_least(1))
    # The hidden units of each hop's additive attention.
    attention_units: int = dataclasses.field(default=128, metadata=at_least(1))
    # A hidden ReLU layer of this many units between the refined question vector and the answers' softmax; 0:
    # none, the linear softmax of Yang et al.
    answer_hidden: int = dataclasses.field(default=0, metadata=at_least(0))


@dataclasses.dataclass(frozen=True)
class VqaPreprocess(PreprocessConfig):
    # Images are squashed to squares this many pixels a side (stored so in the shards).
    image_size: int = dataclasses.field(default=64, metadata=at_least(16))


@dataclasses.dataclass(frozen=True)
class VqaEvaluate(EvaluateConfig):
    # The question-only ("blind") baseline: the same model and recipe with every image black, trained here for
    # this many epochs on the training split (its time is reported); 0: no blind baseline.
    blind_epochs: int = dataclasses.field(default=5, metadata=at_least(0))
    # A question's type, for accuracy per type, is its first this many words ("how many", "is there").
    question_type_words: int = dataclasses.field(default=2, metadata=at_least(1))


@dataclasses.dataclass(frozen=True)
class VqaTask(TaskConfig):
    preprocess: VqaPreprocess = VqaPreprocess()
    model: VqaModel = VqaModel()
    evaluate: VqaEvaluate = VqaEvaluate()
