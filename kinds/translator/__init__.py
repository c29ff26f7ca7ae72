"""Translator: sequence to sequence, an encoder-decoder with attention (Bahdanau et al. 2015, Luong et al. 2015).

The shared recurrent encoder, a recurrent decoder with input feeding and attention over the encoder's
states, one decoder step serving teacher forcing, scheduled sampling (the curriculum stage, Bengio et al.
2015) and every decoder (greedy, sampling, beam search); evaluated by BLEU and chrF (sacrebleu) against
copying the source.
"""

from kinds.base.kind import BlessingRule, Kind, StatisticsLayout
from kinds.translator.settings import TranslatorTask

KIND = Kind(
    name="translator",
    description="a text for each text (sequence to sequence, with attention)",
    formats={"parallel_tsv": "kinds.translator.readers:PARALLEL_TSV"},
    statistics=StatisticsLayout(sequences=(("source", "source", False), ("target", "target", False))),
    layout="kinds.translator.preprocess:TextPairs",
    recipe="kinds.translator.train:TranslatorRecipe",
    evaluator="kinds.translator.evaluate:TranslatorEvaluator",
    export="kinds.translator.export:EXPORT",
    # The bar: `evaluate.bless_margin` x 100 BLEU points above copying the source.
    blessing=BlessingRule(metric="bleu", baselines=("copy_source",), margin_scale=100.0),
    compare_metrics=(
        "test.bleu",
        "test.greedy.bleu",
        "test.wrong_start.bleu",
        "baseline.copy_source.test.bleu",
        "test.chrf",
        "eval.bleu",
    ),
    settings=TranslatorTask,
    curriculum=True,
)
