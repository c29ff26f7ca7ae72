"""Statistics executor: counts, length histograms, tag distribution, OOV rates; fails on too many rejects."""

from __future__ import annotations

import collections
import json
from typing import Any

from components.statistics.spec import StatisticsParameters
from pipeline import artifacts
from pipeline.component import StageContext
from pipeline.errors import DataError


def run(context: StageContext) -> None:
    params: StatisticsParameters = context.parameters
    examples: artifacts.Examples = context.input("examples")
    rejects: artifacts.Rejects = context.input("rejects")
    check_rejects(rejects, params.max_reject_fraction)

    stats = summarize(examples, params.lowercase)
    stats["rejects"] = rejects.properties["rejects"]
    anomalies = find_anomalies(stats)
    if not stats["records"]["train"]:
        raise DataError("statistics: the train split is empty: no usable record in the training files")
    statistics: artifacts.Statistics = context.output("statistics")
    statistics.path.write_text(json.dumps(stats, indent=2, sort_keys=True) + "\n")
    anomalies_artifact: artifacts.Anomalies = context.output("anomalies")
    anomalies_artifact.path.write_text(json.dumps(anomalies, indent=2) + "\n")
    anomalies_artifact.properties["count"] = len(anomalies)
    for anomaly in anomalies:
        context.progress(f"warning: {anomaly}")
    context.log.metrics(
        {
            **{f"tokens.{s}": n for s, n in stats["tokens"].items()},
            **{f"oov_rate.{s}": r for s, r in stats["oov_rate"].items()},
        }
    )
    context.log.artifact(statistics.path, "statistics")
    oov = ", ".join(f"{split} {rate:.1%}" for split, rate in stats["oov_rate"].items())
    context.progress(f"records {stats['records']}; OOV rate {oov}")


def check_rejects(rejects: artifacts.Rejects, max_fraction: float) -> None:
    """Fails when more than `max_fraction` of the input records were rejected, naming the first one."""
    count, total = rejects.properties["rejects"], rejects.properties["input_records"]
    if count and count / total > max_fraction:
        first = next(rejects.read())
        raise DataError(
            f"{count:,} of {total:,} records rejected ({count / total:.1%}, more than data.max_reject_fraction "
            f"{max_fraction:.1%}); first at {first['source']}:{first['line']}: {first['reason']}"
        )


def summarize(examples: artifacts.Examples, lowercase: bool) -> dict[str, Any]:
    """Record and token counts, length histograms and tag counts per split, OOV rates against train."""
    stats: dict[str, Any] = {"records": {}, "tokens": {}, "length_histogram": {}, "tags": {}, "oov_rate": {}}
    train_words: set[str] = set()
    for split in artifacts.SPLITS:  # train first: the OOV rates of eval and test need its words
        lengths: collections.Counter[int] = collections.Counter()
        tags: collections.Counter[str] = collections.Counter()
        oov = tokens = 0
        for record in examples.read(split):
            words = [w.lower() for w in record["tokens"]] if lowercase else record["tokens"]
            lengths[len(words)] += 1
            tags.update(record["tags"])
            tokens += len(words)
            if split == "train":
                train_words.update(words)
            else:
                oov += sum(w not in train_words for w in words)
        stats["records"][split] = sum(lengths.values())
        stats["tokens"][split] = tokens
        stats["length_histogram"][split] = _histogram(lengths)
        stats["tags"][split] = dict(tags.most_common())
        if split != "train":
            stats["oov_rate"][split] = oov / tokens if tokens else 0.0
    return stats


def find_anomalies(stats: dict[str, Any]) -> list[str]:
    """What looks wrong but does not stop the run: tags never seen in training, empty held-out splits."""
    anomalies = []
    train_tags = set(stats["tags"]["train"])
    for split in ("eval", "test"):
        unseen = sorted(set(stats["tags"][split]) - train_tags)
        if unseen:
            anomalies.append(f"{split} has tags never seen in train: {', '.join(unseen[:10])}")
        if not stats["records"][split]:
            anomalies.append(f"{split} split is empty")
    return anomalies


def _histogram(lengths: collections.Counter[int], width: int = 10) -> dict[str, int]:
    buckets: collections.Counter[str] = collections.Counter()
    for length, count in lengths.items():
        low = (length // width) * width
        buckets[f"{low}-{low + width - 1}"] += count
    return dict(sorted(buckets.items(), key=lambda item: int(item[0].split("-")[0])))
