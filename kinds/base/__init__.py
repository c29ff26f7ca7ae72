"""What every kind implements and shares: the contracts the stages call, and the parts two kinds use.

A kind imports from here, from `models/` and from `pipeline/`, never from `components/` (the stages):

- `kind`: the declaration (`Kind`, `BlessingRule`, `StatisticsLayout`) a kind's `__init__.py` fills in;
- `settings`: the settings classes decoder kinds share (decoding, the curriculum), and mixins;
- `layout`, `sequence_example`: what a preprocess layout builds on, and the SequenceExample writer;
- `recipe`: the train recipe (`Recipe`, `Monitor`, `Choice`, the shared compile);
- `scheduled_sampling`: the callback that feeds a decoder its own predictions, by the curriculum;
- `epoch_score`: the eval score of each epoch that picks the best one (a decoder's greedy BLEU);
- `evaluator`: the evaluator (`Evaluator`, `SplitEvaluation`, `EvaluatorInputs`);
- `metrics`: measures several kinds use (confusion matrices, the most frequent label);
- `plots`: learning curves, confusion matrices, and the figure helpers of a kind's own plots;
- `export`, `serving`: the export hooks, and the serving module of text-in kinds;
- `client_loader`: loads a kind's client module from its file.
"""
