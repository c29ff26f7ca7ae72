"""The question answerer's evaluator: accuracy overall, per question type (its first words) and per answer type
(yes/no, number, other: the VQA paper's three), against the baselines the VQA papers report, all on the same
questions:

* `majority`: the most frequent training answer, for every question;
* `question_prior`: the most frequent training answer of each question text (case and spacing folded), the
  language prior; a question never asked in training gets the most frequent answer;
* `blind`: the question-only model (the "blind" LSTM of Antol et al. 2015), the same network trained here for
  `evaluate.blind_epochs` epochs on the training questions with one learned grid for every image in place of the
  CNN's, all that a CNN can give of black images (without running it), its time reported.

An answer never seen in training cannot be predicted: its questions are scored wrong and counted
(`unseen_answers`). Pictures of each hop's attention for a few test questions about where things are go under
`attention/`.
"""

from __future__ import annotations

import collections
import time
import types
from collections.abc import Iterable, Sequence

import keras
import numpy as np
import tensorflow as tf

from kinds.base import metrics
from kinds.base.evaluator import Evaluator, SplitEvaluation
from kinds.base.plots import _new_figure, _save
from models import images, text, vqa, vqa_data  # vqa: registers the layers for loading
from pipeline.config import TrainConfig

PICTURES = 4
# Words that make a question one about where things are, for the attention's pictures.
WHERE_WORDS = frozenset({"left", "right", "above", "below", "under", "behind", "next", "near", "where"})


def answer_type(answer: str) -> str:
    """`yes/no`, `number` (a numeral) or `other`, as the VQA data set types its answers (it writes numbers as
    numerals: "2", not "two")."""
    folded = answer.strip().lower()
    if folded in ("yes", "no"):
        return "yes/no"
    if folded.replace(".", "", 1).isdigit():
        return "number"
    return "other"


def question_type(question: str, words: int) -> str:
    """A question's first `words` words, lowercased, without punctuation: its type (`how many`, `is there`)."""
    tokens = "".join(c if c.isalnum() or c.isspace() else " " for c in question.lower()).split()
    return " ".join(tokens[:words]) or "(empty)"


def folded(question: str) -> str:
    """A question as the language prior looks it up: case and white space folded."""
    return " ".join(question.lower().split())


def accuracy_scores(gold: Sequence[str], predicted: Sequence[str], questions: Sequence[str], words: int) -> dict:
    """Accuracy over all questions, per question type and per answer type (of the gold answer)."""
    hits = [g == p for g, p in zip(gold, predicted, strict=True)]

    def per(keys: Iterable[str]) -> dict[str, float]:
        groups = collections.defaultdict(list)
        for key, hit in zip(keys, hits, strict=True):
            groups[key.replace(" ", "_").replace("/", "_")].append(hit)
        return {key: float(np.mean(found)) for key, found in sorted(groups.items())}

    return {
        "accuracy": float(np.mean(hits)) if hits else float("nan"),
        "per_question_type": per(question_type(q, words) for q in questions),
        "per_answer_type": per(answer_type(g) for g in gold),
        "questions": len(hits),
    }


class VqaEvaluator(Evaluator):
    def __init__(self, inputs, params, progress) -> None:
        super().__init__(inputs, params, progress)
        self.model = keras.saving.load_model(inputs.model.path)
        self.answers = inputs.vocabulary.tokens("answers")
        self.image_size = int(self.model.inputs[0].shape[1])
        train = list(inputs.examples.read("train"))
        counts = collections.Counter(r["answer"] for r in train)
        self.majority = metrics.most_frequent(counts) if counts else ""
        by_question = collections.defaultdict(collections.Counter)
        for record in train:
            by_question[folded(record["question"])][record["answer"]] += 1
        self.prior = {question: metrics.most_frequent(found) for question, found in by_question.items()}
        progress(
            f"baselines from {len(train):,} training questions: the most frequent answer {self.majority!r} "
            f"({counts[self.majority]:,} times), the most frequent answer of each of {len(self.prior):,} questions"
            + (
                f", a question-only model ({params.evaluate.blind_epochs} epochs)"
                if params.evaluate.blind_epochs
                else ""
            )
        )
        self.blind, self.blind_seconds = self.train_blind() if params.evaluate.blind_epochs else (None, 0.0)
        # One traced graph for every question length: the recurrent loop run eagerly is several times slower.
        spec = {
            images.IMAGE: tf.TensorSpec([None, self.image_size, self.image_size, images.CHANNELS], tf.uint8),
            text.TOKEN_IDS: tf.TensorSpec([None, None], tf.int32),
        }
        probabilities = lambda inputs: tf.nn.softmax(self.model(inputs, training=False))  # noqa: E731
        self.forward = tf.function(probabilities, input_signature=[spec])
        if self.blind is not None:
            self.forward_blind = tf.function(lambda inputs: self.blind(inputs, training=False), input_signature=[spec])
        self.outputs: dict[str, dict] = {}

    def train_blind(self) -> tuple[keras.Model, float]:
        """The question-only model: the trained model's network (its settings in `model_args.json`) with one learned
        grid for every image in place of the CNN's (`models.vqa.BlindGrid`, all the CNN can give of a black image),
        the trained model's optimizer settings, fresh weights, the training questions in the training batches."""
        started = time.perf_counter()
        args = self.inputs.model.args()
        keras.utils.set_random_seed(0)
        blind = vqa.build_vqa(vqa.VqaSizes(**args["sizes"]), types.SimpleNamespace(**args["model"]), blind=True)
        blind.compile(
            optimizer=type(self.model.optimizer).from_config(self.model.optimizer.get_config()),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        )
        files = self.inputs.shards.files("train")
        batch_size = args["fitted"].get("train.batch_size", TrainConfig().batch_size)
        for epoch in range(self.params.evaluate.blind_epochs):
            batches = vqa_data.vqa_dataset(files, batch_size, self.image_size, shuffle_buffer=4096, seed=epoch)
            blind.fit(batches, verbose=0)
        seconds = time.perf_counter() - started
        self.progress(f"question-only baseline trained: {self.params.evaluate.blind_epochs} epochs in {seconds:.0f} s")
        return blind, seconds

    def run(self, split: str) -> dict:
        """The model's (and the blind model's) answers to the questions of `split`, in shard order."""
        if split not in self.outputs:
            batches = vqa_data.vqa_dataset(
                self.inputs.shards.files(split), self.params.evaluate.batch_size, self.image_size, with_strings=True
            )
            found = collections.defaultdict(list)
            for inputs, _ in batches:
                strings = {key: inputs.pop(key) for key in vqa_data.STRINGS}
                found["probabilities"].append(self.forward(inputs).numpy())
                if self.blind is not None:
                    found["blind"].append(np.argmax(self.forward_blind(inputs).numpy(), axis=-1))
                for key, values in strings.items():
                    found[key].extend(v.decode("utf-8") for v in values.numpy())
            classes = len(self.answers)
            found["probabilities"] = (
                np.concatenate(found["probabilities"]) if found["probabilities"] else np.zeros((0, classes), np.float32)
            )
            found["blind"] = np.concatenate(found["blind"]) if found["blind"] else np.zeros([0], np.int64)
            self.outputs[split] = dict(found)
        return self.outputs[split]

    def evaluate(self, split: str, deciding: bool) -> SplitEvaluation:
        out = self.run(split)
        questions, gold = out[vqa_data.QUESTION], out[vqa_data.ANSWER]
        predicted = [self.answers[i] for i in out["probabilities"].argmax(-1)]
        systems = {
            "model": predicted,
            "majority": [self.majority] * len(gold),
            "question_prior": [self.prior.get(folded(q), self.majority) for q in questions],
        }
        if self.blind is not None:
            systems["blind"] = [self.answers[i] for i in out["blind"]]
        words = self.params.evaluate.question_type_words
        scores = {name: accuracy_scores(gold, answers, questions, words) for name, answers in systems.items()}
        known = set(self.answers)
        scores["model"]["unseen_answers"] = sum(answer not in known for answer in gold)
        scores["model"]["unseen_questions"] = sum(folded(q) not in self.prior for q in questions)
        if self.blind is not None:
            scores["blind"]["train_seconds"] = round(self.blind_seconds, 1)
        predictions = None
        if deciding:  # each question's answer and probabilities, for export to check the SavedModel against
            predictions = [
                {"image_path": path, "question": question, "answer": answer, "probabilities": [float(p) for p in row]}
                for path, question, answer, row in zip(
                    out[vqa_data.IMAGE_PATH], questions, predicted, out["probabilities"], strict=True
                )
            ]
        return SplitEvaluation(scores, predictions)

    def finish(self, splits: list[str]) -> list:
        if "test" not in splits:
            return []
        pngs = pictures(self, self.inputs.folder / "attention")
        self.progress(
            f"attention of each hop for {len(pngs)} test questions about where things are (evaluation/attention/)"
        )
        return pngs


def pictures(evaluator: VqaEvaluator, folder) -> list:
    """The first test questions about where things are (or the first ones, when none is), each as its image and
    one panel per hop with that hop's attention over it, titled with the question and both answers."""
    out = evaluator.run("test")
    questions = out[vqa_data.QUESTION]
    where = [i for i, q in enumerate(questions) if WHERE_WORDS & set(question_type(q, 100).split())]
    chosen = (where or list(range(len(questions))))[:PICTURES]
    if not chosen:
        return []
    pixels, token_ids = rows_of(evaluator, "test", chosen)
    maps = vqa.attention_model(evaluator.model)({images.IMAGE: pixels, text.TOKEN_IDS: token_ids}, training=False)
    maps = np.asarray(maps["attention"])
    paths = []
    for row, index in enumerate(chosen):
        hops = maps.shape[1]
        figure = _new_figure(1.9 * (hops + 1), 2.3)
        panels = figure.subplots(1, hops + 1, squeeze=False)[0]
        panels[0].imshow(pixels[row])
        panels[0].set_title("image", fontsize=8)
        for hop, panel in enumerate(panels[1:]):
            panel.imshow(pixels[row])
            size = evaluator.image_size
            panel.imshow(maps[row, hop], cmap="magma", alpha=0.6, extent=(0, size, size, 0), interpolation="bilinear")
            panel.set_title(f"hop {hop + 1}", fontsize=8)
        for panel in panels:
            panel.set_axis_off()
        answer = evaluator.answers[int(out["probabilities"][index].argmax())]
        figure.suptitle(f"{questions[index]}  model: {answer}  (gold: {out[vqa_data.ANSWER][index]})", fontsize=8)
        paths.append(_save(figure, folder / f"attention_{row + 1}.png"))
    return paths


def rows_of(evaluator: VqaEvaluator, split: str, rows: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """The stored pixels uint8 [n, size, size, 3] and token ids int32 [n, time] of the questions at `rows` (in
    shard order) of `split`: what the model read when it answered them."""
    batch_size = evaluator.params.evaluate.batch_size
    files = evaluator.inputs.shards.files(split)  # every question, as `run` reads them (unseen answers too)
    batches = vqa_data.vqa_dataset(files, batch_size, evaluator.image_size, with_strings=True)
    wanted, pixels, token_ids = set(rows), {}, {}
    for number, (inputs, _) in enumerate(batches):
        for offset in range(len(inputs[images.IMAGE])):
            if number * batch_size + offset in wanted:
                pixels[number * batch_size + offset] = inputs[images.IMAGE][offset].numpy()
                token_ids[number * batch_size + offset] = inputs[text.TOKEN_IDS][offset].numpy()
        if len(pixels) == len(wanted):
            break
    width = max(len(token_ids[row]) for row in rows)
    padded = [np.pad(token_ids[row], [0, width - len(token_ids[row])]) for row in rows]
    return np.stack([pixels[row] for row in rows]), np.stack(padded).astype(np.int32)
