"""Captioner: an image to a caption, attending over the image (Show, Attend and Tell: Xu et al. 2015).

A CNN's last feature map is the memory of the translator's attentional recurrent decoder (scheduled
sampling through the curriculum stage, greedy / sampled / beam-search decoding, all in the graph), trained
with Xu et al.'s doubly stochastic attention penalty; evaluated by BLEU-1..4 against every caption of an
image (sacrebleu) and exact match, against the most frequent training caption and the caption of the
nearest training image by pixel distance.
"""

from kinds.base.kind import BlessingRule, Kind, StatisticsLayout
from kinds.captioner.settings import CaptionerTask
from pipeline.errors import ConfigError


def _check(task) -> None:
    if task.model.attention == "none":
        raise ConfigError(
            f"tasks.{task.name}.model.attention: a captioner attends over the image's grid; `none` would read one "
            "corner of it (use bahdanau, luong_general or luong_dot)"
        )


KIND = Kind(
    name="captioner",
    description="a caption for each image (a CNN grid, attended by a recurrent decoder)",
    formats={"image_captions": "kinds.captioner.readers:IMAGE_CAPTIONS"},
    statistics=StatisticsLayout(sequences=(("caption", "caption", False),), groups="image"),
    layout="kinds.captioner.preprocess:ImageCaptions",
    recipe="kinds.captioner.train:CaptionerRecipe",
    evaluator="kinds.captioner.evaluate:CaptionerEvaluator",
    export="kinds.captioner.export:EXPORT",
    # The bar: `evaluate.bless_margin` x 100 BLEU points above the better baseline.
    blessing=BlessingRule(metric="bleu", baselines=("frequent_caption", "nearest_image"), margin_scale=100.0),
    compare_metrics=(
        "test.bleu",
        "test.greedy.bleu",
        "test.wrong_start.bleu",
        "baseline.nearest_image.test.bleu",
        "baseline.frequent_caption.test.bleu",
        "test.bleu_1",
        "test.exact_match",
        "test.attention_on_object",
        "eval.bleu",
    ),
    settings=CaptionerTask,
    curriculum=True,
    check=_check,
    # One LSTM of 256 over the grid of a small CNN, as Xu et al.'s decoder (theirs: 1,800 units, VGG's grid).
    defaults={
        "data.format": "image_captions",
        "model.bidirectional": False,
        "model.cell": "lstm",
        "model.embedding_dim": 64,
        "model.hidden_dim": 256,
        "decode.max_length_extra": 24,
    },
)
