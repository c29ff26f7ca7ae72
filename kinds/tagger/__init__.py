"""Tagger: many to many, aligned. A tag for every token of a sentence (part of speech, named entities in BIO).

Word embeddings plus character features (Ma and Hovy 2016), the shared recurrent encoder, a tag per
token from a softmax or a linear-chain CRF (`model.output`); evaluated against the most-frequent-tag
baseline by token accuracy or, for BIO tag sets, by conlleval's entity F1, which is then what blesses
(the evaluator's `blessing`).
"""

from kinds.base.kind import BlessingRule, Kind, StatisticsLayout
from kinds.tagger.settings import TaggerTask
from models.names import WORD_TOKENIZERS
from pipeline.errors import ConfigError


def check(task) -> None:
    """A character BiLSTM splits its `char_filters` between its two directions."""
    if task.model.char_features and task.model.char_encoder == "lstm" and task.model.char_filters % 2:
        raise ConfigError(
            f"tasks.{task.name}.model.char_filters: a character BiLSTM needs an even size (half a direction), "
            f"got {task.model.char_filters}"
        )


KIND = Kind(
    name="tagger",
    description="a tag for each token (many to many, aligned)",
    formats={
        "brown": "kinds.tagger.readers:BROWN",
        "conllu": "kinds.tagger.readers:CONLLU",
        "conll": "kinds.tagger.readers:CONLL",
    },
    tokenizers=WORD_TOKENIZERS,
    statistics=StatisticsLayout(sequences=(("text", "tokens", True),), labels="tags"),
    layout="kinds.tagger.preprocess:TaggedSentences",
    recipe="kinds.tagger.train:TaggerRecipe",
    evaluator="kinds.tagger.evaluate:TaggerEvaluator",
    export="kinds.tagger.export:EXPORT",
    blessing=BlessingRule(metric="token_accuracy", baselines=("most_frequent_tag",)),
    compare_metrics=(
        "test.token_accuracy",
        "baseline.most_frequent_tag.test.token_accuracy",
        "test.oov_accuracy",
        "eval.token_accuracy",
        "test.entity.f1",
        "baseline.most_frequent_tag.test.entity.f1",
    ),
    settings=TaggerTask,
    legacy_metrics={"baseline.most_frequent_tag.test.token_accuracy": "baseline.test.token_accuracy"},
    check=check,
    # 32 sentences a batch, unless the corpus is too small for that to make `train.MIN_UPDATES_PER_EPOCH`
    # updates an epoch: then fewer (down to 8), and the run says so.
    defaults={"train.batch_size": 32},
)
