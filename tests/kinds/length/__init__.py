"""A deliberately tiny kind, for the tests only: how many words a line of text has (many to one, a regression).

It plugs in as any kind does: this package, and one line, `kinds.register(KIND)`. Its model is an embedding
and a GRU that counts; its baseline predicts the training mean; it is blessed when its mean absolute error
beats the baseline's.
"""

from kinds.base.kind import BlessingRule, Kind, StatisticsLayout
from tests.kinds.length.settings import LengthTask

KIND = Kind(
    name="length",
    description="how many words a line has (a test kind)",
    formats={"lines": "tests.kinds.length.readers:LINES"},
    tokenizers=("whitespace",),  # the target is the count of white-space-separated words
    defaults={"preprocess.tokenizer": "whitespace"},
    statistics=StatisticsLayout(sequences=(("text", "text", False),)),
    layout="tests.kinds.length.preprocess:Lines",
    recipe="tests.kinds.length.train:LengthRecipe",
    evaluator="tests.kinds.length.evaluate:LengthEvaluator",
    export="tests.kinds.length.export:EXPORT",
    blessing=BlessingRule(metric="mae", baselines=("mean_length",), higher_is_better=False),
    compare_metrics=("test.mae", "baseline.mean_length.test.mae"),
    settings=LengthTask,
)
