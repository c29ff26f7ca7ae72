"""Classifier: many to one. One label for a whole text (sentence polarity, topics).

Embeddings, the shared recurrent encoder, then a pooling over its states (the last state, mean, max or
a learned attention, Yang et al. 2016); evaluated by accuracy and macro-F1 against the majority class
and TF-IDF 1-2 grams + logistic regression on the same split and tokens.
"""

from kinds.base.kind import BlessingRule, Kind, StatisticsLayout
from kinds.classifier.settings import ClassifierTask
from models.names import WORD_TOKENIZERS
from pipeline.errors import ConfigError


def check(task) -> None:
    """A language model reads a text's words joined by spaces: its tokens must be words."""
    if task.model.lm_features and task.preprocess.tokenizer not in WORD_TOKENIZERS:
        raise ConfigError(
            f"tasks.{task.name}.model.lm_features: a language model reads a text's words; the "
            f"{task.preprocess.tokenizer} tokenizer does not cut words (use one of {', '.join(WORD_TOKENIZERS)})"
        )


KIND = Kind(
    name="classifier",
    description="a label for each text (many to one)",
    formats={"tsv": "kinds.classifier.readers:TSV"},
    statistics=StatisticsLayout(sequences=(("text", "text", False),), labels="label", columns="label<TAB>text"),
    layout="kinds.classifier.preprocess:LabeledTexts",
    recipe="kinds.classifier.train:ClassifierRecipe",
    evaluator="kinds.classifier.evaluate:ClassifierEvaluator",
    export="kinds.classifier.export:EXPORT",
    # The bar: the stronger of the two baselines, on the same split.
    blessing=BlessingRule(metric="accuracy", baselines=("majority", "tfidf_logreg")),
    compare_metrics=(
        "test.accuracy",
        "baseline.tfidf_logreg.test.accuracy",
        "baseline.majority.test.accuracy",
        "test.macro_f1",
        "eval.accuracy",
    ),
    settings=ClassifierTask,
    check=check,
)
