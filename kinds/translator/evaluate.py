"""The translator's evaluator: BLEU and chrF (sacrebleu) and exact matches of the decoded held-out sentences,
by the configured decoder, by greedy decoding and by greedy decoding after a forced wrong first token (the
exposure-bias probe), against the copy-the-source baseline.

Outputs are detokenized by `models.text.detokenize` (the exported model's own code) and scored against
the raw reference sentences, as a user would score them. A model trained on lowercased text
(`preprocess.lowercase`) cannot produce capitals, so it is scored like with like: BLEU, chrF and exact
match ignore case (sacrebleu's `lowercase=True`), for the baselines too; a cased model is scored cased.
The attention `none` variant of a sweep is the bottleneck baseline; its runs sit beside the attentional
ones in the MLflow compare view.
"""

from __future__ import annotations

import keras
import numpy as np
import sacrebleu
import tensorflow as tf

from kinds.base.evaluator import Evaluator, SplitEvaluation
from kinds.base.plots import _new_figure, _save
from models import attentional_decoder, input_pipeline, seq2seq, text  # seq2seq: registers the model for loading
from pipeline import artifacts

HEATMAPS = 4


class TranslatorEvaluator(Evaluator):
    def __init__(self, inputs, params, progress) -> None:
        super().__init__(inputs, params, progress)
        self.model = keras.saving.load_model(inputs.model.path)
        self.decoder = Decoder(self.model, inputs.vocabulary, params)
        self.lowercase = params.preprocess.lowercase
        if self.lowercase:
            progress("scoring case-insensitively (sacrebleu lowercase=True): the model is trained on lowercased text")

    def evaluate(self, split: str, deciding: bool) -> SplitEvaluation:
        sources, references, source_ids = [], [], []
        for inputs, _, _ in input_pipeline.translator_dataset(
            self.inputs.shards.files(split), self.params.evaluate.batch_size, with_strings=True
        ):
            sources += [s.decode("utf-8") for s in inputs[text.SOURCE].numpy()]
            references += [s.decode("utf-8") for s in inputs[text.TARGET].numpy()]
            source_ids.append(inputs[text.SOURCE_IDS])
        # "model": the configured decoder; "greedy" too when that is another one; the copy-the-source baseline.
        strategy = self.params.sections["decode"].strategy
        outputs = {"model": self.decoder.translate(source_ids, strategy)}
        if strategy != "greedy":
            outputs["greedy"] = self.decoder.translate(source_ids, "greedy")
        # Exposure bias: greedy decoding after a forced wrong first token.
        outputs["wrong_start"] = self.decoder.translate(source_ids, "wrong_start")
        scores = {system: score(hypotheses, references, self.lowercase) for system, hypotheses in outputs.items()}
        scores["copy_source"] = score(sources, references, self.lowercase)
        predictions = None
        if deciding:  # the model's translation of each source, for export to check the SavedModel against
            predictions = [
                {"source": source, "translation": translation}
                for source, translation in zip(sources, outputs["model"], strict=True)
            ]
        return SplitEvaluation(scores, predictions)

    def finish(self, splits: list[str]) -> list:
        if "test" not in splits:
            return []
        pngs = heatmaps(self.model, self.decoder, self.inputs.shards.files("test"), self.inputs.folder)
        self.progress(f"attention heatmaps of {len(pngs)} test sentences (evaluation/attention/)")
        return pngs


class Decoder:
    """Decodes batches of source ids with the model, in graph mode, and detokenizes the output."""

    def __init__(self, model, vocabulary: artifacts.Vocabulary, params) -> None:
        self.model = model
        self.decode = params.sections["decode"]
        self.tokenizer = params.preprocess.tokenizer
        shared = "words" in vocabulary.names()
        self.source_words = tf.constant(vocabulary.tokens("words" if shared else "source_words"))
        self.target_words = tf.constant(vocabulary.tokens("words" if shared else "target_words"))
        spec = tf.TensorSpec([None, None], tf.int32)
        self.functions = {
            strategy: tf.function(  # no AutoGraph: see models/decoding.py
                lambda ids, strategy=strategy: self.ids(ids, strategy), input_signature=[spec], autograph=False
            )
            for strategy in dict.fromkeys(["greedy", "wrong_start", params.sections["decode"].strategy])
        }

    def ids(self, source_ids: tf.Tensor, strategy: str) -> tf.Tensor:
        return seq2seq.decode(self.model, source_ids, self.decode, strategy)

    def tokens(self, ids: tf.Tensor) -> tf.RaggedTensor:
        return attentional_decoder.output_tokens(ids, self.target_words)

    def translate(self, batches: list[tf.Tensor], strategy: str) -> list[str]:
        out = []
        for source_ids in batches:
            detokenized = text.detokenize(self.tokens(self.functions[strategy](source_ids)), self.tokenizer)
            out += [t.decode("utf-8") for t in detokenized.numpy()]
        return out


def score(hypotheses: list[str], references: list[str], lowercase: bool = False) -> dict[str, float]:
    """Corpus BLEU and chrF (sacrebleu's defaults: 13a tokenization, chrF with n=6) and exact-match rate,
    all case-insensitive when `lowercase`."""
    if lowercase:
        hypotheses, references = [h.lower() for h in hypotheses], [r.lower() for r in references]
    return {
        "bleu": sacrebleu.corpus_bleu(hypotheses, [references], lowercase=lowercase).score,
        "chrf": sacrebleu.CHRF(lowercase=lowercase).corpus_score(hypotheses, [references]).score,
        "exact_match": float(np.mean([h == r for h, r in zip(hypotheses, references, strict=True)]))
        if references
        else float("nan"),
        "sentences": len(references),
    }


def heatmaps(model, decoder: Decoder, files, folder) -> list:
    """Attention over the source (columns) at each output token (rows), for the first test sentences."""
    (inputs, _, _), *_ = input_pipeline.translator_dataset(files, HEATMAPS, with_strings=True).take(1)
    source_ids = inputs[text.SOURCE_IDS]
    output_ids = decoder.functions["greedy"](source_ids)
    target_in = tf.concat([tf.fill([tf.shape(output_ids)[0], 1], text.START_ID), output_ids[:, :-1]], axis=1)
    weights = model.attention_weights(source_ids, target_in).numpy()
    sources = [
        [t.decode("utf-8") for t in row]
        for row in tf.gather(decoder.source_words, tf.RaggedTensor.from_tensor(source_ids, padding=0)).to_list()
    ]
    paths = []
    for row in range(len(sources)):
        out_tokens = [t.decode("utf-8") for t in decoder.tokens(output_ids[row : row + 1])[0].numpy()] + ["[END]"]
        matrix = weights[row, : len(out_tokens), : len(sources[row])]
        figure = _new_figure(1.0 + 0.35 * len(sources[row]), 1.0 + 0.3 * len(out_tokens))
        axes = figure.add_subplot()
        axes.imshow(matrix, cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto")
        axes.set_xticks(range(len(sources[row])), sources[row], rotation=60, ha="right", fontsize=8)
        axes.set_yticks(range(len(out_tokens)), out_tokens, fontsize=8)
        axes.set_xlabel("source")
        axes.set_ylabel("output")
        axes.set_title(f"Attention, test sentence {row + 1}", fontsize=9)
        paths.append(_save(figure, folder / "attention" / f"attention_{row + 1}.png"))
    return paths
