"""Visual question answering: an image and a question in, an answer out (Antol et al. 2015; stacked attention
networks, Yang et al. 2016).

Many to one with two inputs: the question, read by the shared recurrent encoder, steers one or more hops of
attention over a CNN's grid (the captioner's), and a softmax over the training answers reads the refined
question vector. Evaluated by accuracy, per question type and per answer type, against the most frequent answer,
the most frequent answer of each question (the language prior) and a question-only ("blind") model trained on
the same questions with the images black.
"""

from kinds.base.kind import BlessingRule, Kind, StatisticsLayout
from kinds.vqa.settings import VqaTask

KIND = Kind(
    name="vqa",
    description="an answer for each question about an image (a question's LSTM attending over a CNN grid)",
    formats={"vqa_tsv": "kinds.vqa.readers:VQA_TSV"},
    statistics=StatisticsLayout(
        sequences=(("question", "question", False),),
        labels="answer",
        groups="image",
        columns="image<TAB>question<TAB>answer",
    ),
    layout="kinds.vqa.preprocess:QuestionsAboutImages",
    recipe="kinds.vqa.train:VqaRecipe",
    evaluator="kinds.vqa.evaluate:VqaEvaluator",
    export="kinds.vqa.export:EXPORT",
    # The bar: the strongest of the three baselines, on the same questions.
    blessing=BlessingRule(metric="accuracy", baselines=("majority", "question_prior", "blind")),
    compare_metrics=(
        "test.accuracy",
        "baseline.question_prior.test.accuracy",
        "baseline.blind.test.accuracy",
        "baseline.majority.test.accuracy",
        "eval.accuracy",
    ),
    settings=VqaTask,
    # One LSTM over the question; the captioner's small CNN; two hops (Yang et al.'s best).
    defaults={
        "data.format": "vqa_tsv",
        "model.bidirectional": False,
        "model.hidden_dim": 256,
        "model.embedding_dim": 64,
    },
)
