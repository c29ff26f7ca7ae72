"""Classifier: many to one. One label for a whole text (sentence polarity, topics).

Embeddings, the shared recurrent encoder, then a pooling over its states (the last state, mean, max or
a learned attention, Yang et al. 2016); evaluated by accuracy and macro-F1 against the majority class
and TF-IDF 1-2 grams + logistic regression on the same split and tokens.
"""

from kinds.base.kind import BlessingRule, Kind, StatisticsLayout
from kinds.classifier.settings import ClassifierTask

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
)
