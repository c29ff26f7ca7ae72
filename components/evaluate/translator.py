"""Evaluate executor for translators: BLEU and chrF (sacrebleu) and exact matches of the decoded test
sentences, by greedy decoding and by the configured decoder, against the copy-the-source baseline.

Outputs are detokenized by `models.text.detokenize` (the exported model's own code) and scored against
the raw reference sentences, as a user would score them. The attention `none` variant of a sweep is the
bottleneck baseline; its runs sit beside the attentional ones in the MLflow compare view.
"""

from __future__ import annotations

import json
from typing import Any

import keras
import numpy as np
import sacrebleu
import tensorflow as tf

from components.evaluate.plots import _new_figure, _save
from components.evaluate.spec import EvaluateParameters
from models import input_pipeline, seq2seq, text  # seq2seq: registers the model for loading
from pipeline import artifacts
from pipeline.component import StageContext

HEATMAPS = 4


def run(context: StageContext) -> None:
    params: EvaluateParameters = context.parameters
    model_artifact: artifacts.Model = context.input("model")
    shards: artifacts.Shards = context.input("shards")
    vocabulary: artifacts.Vocabulary = context.input("vocabulary")
    evaluation: artifacts.Evaluation = context.output("evaluation")
    blessing: artifacts.Blessing = context.output("blessing")

    model = keras.saving.load_model(model_artifact.path)
    decoder = Decoder(model, vocabulary, params)
    results: dict[str, Any] = {}
    splits = [s for s in ("eval", "test") if s in shards.manifest()["splits"]]
    for split in splits:
        sources, references, source_ids = [], [], []
        for inputs, _, _ in input_pipeline.translator_dataset(
            shards.files(split), params.evaluate.batch_size, with_strings=True
        ):
            sources += [s.decode("utf-8") for s in inputs[text.SOURCE].numpy()]
            references += [s.decode("utf-8") for s in inputs[text.TARGET].numpy()]
            source_ids.append(inputs[text.SOURCE_IDS])
        # "model": the configured decoder; "greedy" too when that is another one; the copy-the-source baseline.
        outputs = {"model": decoder.translate(source_ids, params.decode.strategy)}
        if params.decode.strategy != "greedy":
            outputs["greedy"] = decoder.translate(source_ids, "greedy")
        # Exposure bias: greedy decoding after a forced wrong first token.
        outputs["wrong_start"] = decoder.translate(source_ids, "wrong_start")
        results[split] = {system: score(hyps, references) for system, hyps in outputs.items()}
        results[split]["copy_source"] = score(sources, references)
        if split == ("eval" if "eval" in splits else "test"):
            write_predictions(evaluation.predictions_path(split), sources, outputs["model"])
        shown = ", ".join(f"{name} BLEU {r['bleu']:.2f}" for name, r in results[split].items())
        context.progress(f"{split}: {shown}")
    if "test" in splits:
        pngs = heatmaps(model, decoder, shards.files("test"), evaluation.uri)
        for png in pngs:
            context.log.artifact(png, "plots")
        context.progress(f"attention heatmaps of {len(pngs)} test sentences (evaluation/attention/)")

    verdict = bless(results, params.decode.strategy, params.evaluate.bless_margin)
    evaluation.path.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    evaluation.properties.update({"primary_metric": "test.bleu", "splits": splits})
    blessing.properties.update(verdict)
    context.log.metrics(flat_metrics(results))
    context.log.artifact(evaluation.path, "evaluation")
    context.progress(("blessed: " if verdict["blessed"] else "NOT blessed: ") + verdict["reason"])


class Decoder:
    """Decodes batches of source ids with the model, in graph mode, and detokenizes the output."""

    def __init__(self, model, vocabulary: artifacts.Vocabulary, params: EvaluateParameters) -> None:
        self.model = model
        self.decode = params.decode
        self.tokenizer = params.preprocess.tokenizer
        shared = "words" in vocabulary.names()
        self.source_words = tf.constant(vocabulary.tokens("words" if shared else "source_words"))
        self.target_words = tf.constant(vocabulary.tokens("words" if shared else "target_words"))
        spec = tf.TensorSpec([None, None], tf.int32)
        self.functions = {
            strategy: tf.function(lambda ids, strategy=strategy: self.ids(ids, strategy), input_signature=[spec])
            for strategy in dict.fromkeys(["greedy", "wrong_start", params.decode.strategy])
        }

    def ids(self, source_ids: tf.Tensor, strategy: str) -> tf.Tensor:
        return seq2seq.decode(self.model, source_ids, self.decode, strategy)

    def tokens(self, ids: tf.Tensor) -> tf.RaggedTensor:
        return seq2seq.output_tokens(ids, self.target_words)

    def translate(self, batches: list[tf.Tensor], strategy: str) -> list[str]:
        out = []
        for source_ids in batches:
            detokenized = text.detokenize(self.tokens(self.functions[strategy](source_ids)), self.tokenizer)
            out += [t.decode("utf-8") for t in detokenized.numpy()]
        return out


def score(hypotheses: list[str], references: list[str]) -> dict[str, float]:
    """Corpus BLEU and chrF (sacrebleu's defaults: 13a tokenization, chrF with n=6) and exact-match rate."""
    return {
        "bleu": sacrebleu.corpus_bleu(hypotheses, [references]).score,
        "chrf": sacrebleu.corpus_chrf(hypotheses, [references]).score,
        "exact_match": float(np.mean([h == r for h, r in zip(hypotheses, references, strict=True)]))
        if references
        else float("nan"),
        "sentences": len(references),
    }


def write_predictions(path, sources: list[str], translations: list[str]) -> None:
    """The model's translation of each source, for the export stage to check the SavedModel against."""
    with path.open("w", encoding="utf-8") as stream:
        for source, translation in zip(sources, translations, strict=True):
            stream.write(json.dumps({"source": source, "translation": translation}, ensure_ascii=False) + "\n")


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


def bless(results: dict[str, Any], strategy: str, margin: float) -> dict[str, Any]:
    """Blesses the model when its eval BLEU (else test) beats copying the source by `margin` x 100 BLEU points."""
    split = "eval" if "eval" in results else "test"
    model, baseline = results[split]["model"]["bleu"], results[split]["copy_source"]["bleu"]
    blessed = bool(model - baseline >= 100 * margin - 1e-9)
    relation = "beats" if blessed else "does not beat"
    reason = f"{split} BLEU {model:.2f} ({strategy}) {relation} copying the source ({baseline:.2f}) + {100 * margin:g}"
    return {"blessed": blessed, "reason": reason, "split": split, "model": model, "baseline": baseline}


def flat_metrics(results: dict[str, Any]) -> dict[str, float]:
    """`<split>.<metric>` for the configured decoder, `<split>.greedy.<metric>`, `baseline.copy_source...`."""
    flat = {}
    for split, by_system in results.items():
        for system, scores in by_system.items():
            if system == "model":
                prefix = f"{split}."
            elif system == "copy_source":
                prefix = f"baseline.copy_source.{split}."
            else:
                prefix = f"{split}.{system}."
            for name in ("bleu", "chrf", "exact_match"):
                flat[prefix + name] = scores[name]
    return {k: v for k, v in flat.items() if np.isfinite(v)}
