"""The exported SavedModel of a `vqa` task on its test split, as a caller would use it, beside the language prior.

The SavedModel (the task's newest serving version) is fed each test question of the newest ingest run, its image
file as bytes and its raw question; its answers are scored against the gold ones. The language prior is the most
frequent training answer of each question text (case and white space folded; the most frequent answer overall
for a question never asked in training), as the evaluate stage's `question_prior` baseline. Prints one JSON line.

From the repository root, after the task has run:

    .venv/bin/python scripts/vqa_saved_model_accuracy.py --config configs/vqa_shapes.yaml --task vqa-shapes
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

BATCH = 64


def most_frequent(counts: collections.Counter) -> str:
    return min(counts.items(), key=lambda item: (-item[1], item[0]))[0]


def folded(question: str) -> str:
    return " ".join(question.lower().split())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", type=pathlib.Path, required=True)
    parser.add_argument("--task", required=True)
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TensorFlow's start-up lines

    import kinds

    config = kinds.load_config(args.config)
    task_dir = config.resolve(config.output_dir) / args.task
    # The newest ingest run's examples: those the newest model was trained and tested on.
    examples = max(task_dir.glob("ingest/*/examples"), key=lambda path: path.stat().st_mtime)
    read = lambda split: [json.loads(line) for line in (examples / f"{split}.jsonl").open(encoding="utf-8")]  # noqa: E731
    train, test = read("train"), read("test")
    by_question = collections.defaultdict(collections.Counter)
    for record in train:
        by_question[folded(record["question"])][record["answer"]] += 1
    overall = most_frequent(collections.Counter(record["answer"] for record in train))
    prior = [
        most_frequent(by_question[folded(r["question"])]) if folded(r["question"]) in by_question else overall
        for r in test
    ]

    import tensorflow as tf
    import tensorflow_text  # noqa: F401  (the graph's tokenizer ops)

    serving = max((task_dir / "serving").iterdir(), key=lambda path: int(path.name))
    serve = tf.saved_model.load(str(serving)).signatures["serving_default"]
    answers = []
    for start in range(0, len(test), BATCH):
        chunk = test[start : start + BATCH]
        out = serve(
            image=tf.constant([pathlib.Path(r["image"]).read_bytes() for r in chunk]),
            question=tf.constant([r["question"] for r in chunk]),
        )
        answers += [answer.decode("utf-8") for answer in out["answer"].numpy()]
    right = sum(answer == record["answer"] for answer, record in zip(answers, test, strict=True)) / len(test)
    prior_right = sum(answer == record["answer"] for answer, record in zip(prior, test, strict=True)) / len(test)
    print(
        json.dumps(
            {
                "saved_model": str(serving),
                "test_questions": len(test),
                "saved_model_accuracy": round(right, 4),
                "language_prior_accuracy": round(prior_right, 4),
                "points_over_prior": round(100 * (right - prior_right), 2),
            }
        )
    )


if __name__ == "__main__":
    main()
