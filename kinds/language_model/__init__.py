"""Language model: many to many, shifted by one, autoregressive (min-char-rnn, char-rnn).

The corpus as `batch_size` parallel streams of documents cut into windows of `train.bptt` steps, the
state carried from one window to the next (truncated backpropagation through time) and zeroed where a
document starts; evaluated in bits per unit against an interpolated Kneser-Ney 5-gram model.
"""

from kinds.base.kind import BlessingRule, Kind, StatisticsLayout
from kinds.language_model.settings import LanguageModelTask

KIND = Kind(
    name="language_model",
    description="the next unit of a text (characters or words), autoregressive",
    formats={"text": "kinds.language_model.readers:TEXT"},
    # Not wordpieces: the model's units are joined back into text to score and to generate it, and the
    # n-gram baseline counts them, which wordpieces' continuation marks do not allow yet.
    tokenizers=("regex", "whitespace", "unicode_script", "characters"),
    # Documents are cut into windows by training: `statistics.max_length` does not apply to them.
    statistics=StatisticsLayout(sequences=(("text", "text", False),), checks_length=False),
    layout="kinds.language_model.preprocess:Documents",
    recipe="kinds.language_model.train:LanguageModelRecipe",
    evaluator="kinds.language_model.evaluate:LanguageModelEvaluator",
    export="kinds.language_model.export:EXPORT",
    blessing=BlessingRule(metric="bits_per_unit", baselines=("kneser_ney",), higher_is_better=False),
    compare_metrics=(
        "test.bits_per_unit",
        "baseline.kneser_ney.test.bits_per_unit",
        "test.perplexity",
        "eval.bits_per_unit",
    ),
    settings=LanguageModelTask,
    # Its stateful streams: one replica carries each stream's state from one window to the next.
    single_replica=True,
    inspect_cells="kinds.language_model.cells:inspect",
    # The lectures' char-rnn: characters unless the config says otherwise (words stay
    # available), one LSTM of 256 over 64 streams of 64-step windows: here 64 streams train about 1.3
    # times the units a second that 32 do (benchmarks/lm_throughput.py --batch-size 32 and 64). A corpus
    # too small to give 64 streams 500 updates an epoch gets fewer streams (`train.MIN_UPDATES_PER_EPOCH`).
    defaults={
        "data.format": "text",
        "preprocess.tokenizer": "characters",
        "model.bidirectional": False,
        "model.embedding_dim": 64,
        "model.hidden_dim": 256,
        "model.dropout": 0.1,
        "train.batch_size": 64,
        "train.learning_rate": 0.004,
    },
    advice="kinds.language_model.advice:advice",
)
