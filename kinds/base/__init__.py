"""What every kind implements and shares: the contracts the stages call, and the parts two kinds use.

A kind imports from here, from `models/` and from `pipeline/`, never from `components/` (the stages) or
another kind:

- `kind`: the declaration (`Kind`, `BlessingRule`, `StatisticsLayout`) a kind's `__init__.py` fills in;
- `settings`: the settings decoder kinds share (the decoder's attention, decoding, the curriculum), and the
  token budget of taggers and classifiers;
- `readers`: reading corpus files (lines, `Record`s and `Reject`s, tab-separated columns) and `Format`;
- `layout`, `sequence_example`: what a preprocess layout builds on, and the SequenceExample writer;
- `parameters`: what the train, evaluate and export stages hand a kind's parts (without TensorFlow);
- `recipe`: the train recipe (`Recipe`, `Monitor`, `Choice`, the shared compile);
- `scheduled_sampling`: the callback that feeds a decoder its own predictions, by the curriculum;
- `epoch_score`: the eval score of each epoch that picks the best one (a decoder's greedy BLEU);
- `evaluator`: the evaluator (`Evaluator`, `SplitEvaluation`, `EvaluatorInputs`);
- `metrics`: measures several kinds use (aligned corpora, confusion matrices, the most frequent label);
- `plots`: learning curves, confusion matrices, and the figure helpers of a kind's own plots;
- `export`, `serving`: the export hooks, infra-validation's verdict, and the serving module of text-in kinds.
"""
