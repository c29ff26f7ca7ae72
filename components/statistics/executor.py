"""Statistics executor: counts, length histograms, label distribution, OOV rates, and the anomaly checks.

What a record's text is depends on its format: the tokens of a tagged sentence, the raw `text` of a
classifier example or a document (tokenized here by the task's tokenizer, the `models.text` code that
preprocessing and serving run), or the `source` and `target` of a translation pair. Each such field is
a *sequence*, summarised under `sequences.<field>` (the tagged sentence's and the classifier's field is
called `text`). Labels are a tagger's tags or a classifier's classes.
"""

from __future__ import annotations

import collections
import json
import math
from collections.abc import Iterator, Sequence
from typing import Any

from components.statistics import inputs, labels, plots
from components.statistics.spec import StatisticsParameters
from pipeline import artifacts
from pipeline.component import StageContext
from pipeline.errors import DataError

_TOKENIZE_BATCH = 512
_HISTOGRAM_BUCKETS = 30


def run(context: StageContext) -> None:
    params: StatisticsParameters = context.parameters
    examples: artifacts.Examples = context.input("examples")
    rejects: artifacts.Rejects = context.input("rejects")
    check_rejects(rejects, params.max_reject_fraction)

    stats = summarize(examples, params)
    stats["rejects"] = rejects.properties["rejects"]
    stats["split_by"] = examples.properties.get("split_by", "records")  # how ingest held out eval and test
    if not stats["records"]["train"]:
        raise DataError("statistics: the train split is empty: no usable record in the training files")
    statistics: artifacts.Statistics = context.output("statistics")
    splits = [split for split in artifacts.SPLITS if stats["records"][split]]
    stats["inputs"] = inputs.count(examples, splits, context.beam, statistics.uri / "inputs.json")
    anomalies = find_anomalies(stats, params)

    statistics.path.write_text(json.dumps(stats, indent=2, sort_keys=True) + "\n")
    summary = plots.plot_summary(stats, statistics.uri / "summary.png")
    anomalies_artifact: artifacts.Anomalies = context.output("anomalies")
    anomalies_artifact.path.write_text(json.dumps(anomalies, indent=2) + "\n")
    anomalies_artifact.properties["count"] = len(anomalies)

    metrics = {}
    for field, sequence in stats["sequences"].items():
        metrics.update({f"{field}.tokens.{split}": n for split, n in sequence["tokens"].items()})
        metrics.update({f"{field}.oov_rate.{split}": rate for split, rate in sequence["oov_rate"].items()})
    context.log.metrics(metrics)
    context.log.artifact(statistics.path, "statistics")
    context.log.artifact(summary, "statistics")
    context.log.artifact(anomalies_artifact.path, "statistics")
    for field, sequence in stats["sequences"].items():
        oov = ", ".join(f"{split} {rate:.1%}" for split, rate in sequence["oov_rate"].items())
        context.progress(f"{field}: tokens {sequence['tokens']}; OOV rate {oov}")
    context.progress(f"records {stats['records']} (split by {stats['split_by']}); rejects {stats['rejects']}")
    if stats["labels"].get("train"):
        context.progress(labels_line(stats["labels"]["train"]))
    context.progress(inputs_line(stats["inputs"]))
    if "groups" in stats:
        field, counts = stats["groups"]["field"], {s: g for s, g in stats["groups"].items() if s != "field"}
        shown = ", ".join(
            f"{s} {g['count']:,} ({stats['records'][s] / max(g['count'], 1):.1f} each)" for s, g in counts.items()
        )
        context.progress(f"{field}s: {shown}")
    for anomaly in anomalies:
        context.progress(f"warning: {anomaly['message']}")
    failed = [a for a in anomalies if a["action"] == "fail"]
    if failed:
        raise DataError(f"statistics: {failed[0]['message']} (statistics.{failed[0]['check']}: fail)")


def check_rejects(rejects: artifacts.Rejects, max_fraction: float) -> None:
    """Fails when more than `max_fraction` of the input records were rejected, naming the first one."""
    count, total = rejects.properties["rejects"], rejects.properties["input_records"]
    if count and count / total > max_fraction:
        first = next(rejects.read())
        raise DataError(
            f"{count:,} of {total:,} records rejected ({count / total:.1%}, more than data.max_reject_fraction "
            f"{max_fraction:.1%}); first at {first['source']}:{first['line']}: {first['reason']}"
        )


# ----------------------------------------------------------------------------------------------
# Summaries


class _Sequence:
    """Running counts of one sequence field in one split."""

    def __init__(self) -> None:
        self.lengths: collections.Counter[int] = collections.Counter()
        self.char_lengths: collections.Counter[int] = collections.Counter()
        self.tokens = 0
        self.oov = 0
        self.longest: tuple[int, str] = (0, "")  # (length, key) of the longest record

    def add(self, key: str, tokens: Sequence[str], chars: int, vocabulary: set[str] | None, lowercase: bool) -> None:
        self.lengths[len(tokens)] += 1
        self.char_lengths[chars] += 1
        self.tokens += len(tokens)
        self.longest = max(self.longest, (len(tokens), key), key=lambda entry: entry[0])
        forms = [t.lower() for t in tokens] if lowercase else tokens
        if vocabulary is None:
            return
        self.oov += sum(form not in vocabulary for form in forms)


def summarize(examples: artifacts.Examples, params: StatisticsParameters) -> dict[str, Any]:
    """Record counts, label counts and, for each sequence field, token counts, length histograms and OOV
    rates per split (eval and test against the training tokens)."""
    stats: dict[str, Any] = {"records": {}, "labels": {}, "sequences": {}}
    train_forms: dict[str, set[str]] = collections.defaultdict(set)
    too_long: dict[str, dict[str, Any]] = {}
    for split in artifacts.SPLITS:  # train first: the OOV rates of eval and test need its tokens
        sequences: dict[str, _Sequence] = collections.defaultdict(_Sequence)
        labels: collections.Counter[str] = collections.Counter()
        first_unseen: dict[str, str] = {}
        first_seen: dict[str, str] = stats.setdefault("first_label", {})  # over all splits, train first
        groups: collections.Counter[str] = collections.Counter()
        records = 0
        for batch in _batches(examples.read(split)):
            for field, keyed_tokens in _tokenized(batch, params).items():
                for (key, chars), tokens in keyed_tokens:
                    forms = [t.lower() for t in tokens] if params.lowercase else list(tokens)
                    if split == "train":
                        train_forms[field].update(forms)
                    sequences[field].add(
                        key, tokens, chars, None if split == "train" else train_forms[field], params.lowercase
                    )
                    if len(tokens) > params.statistics.max_length:
                        entry = too_long.setdefault(f"{field}.{split}", {"count": 0, "first": key})
                        entry["count"] += 1
            for record in batch:
                records += 1
                if params.layout.groups:
                    groups[record[params.layout.groups]] += 1
                for label in _labels(record, params.layout.labels):
                    labels[label] += 1
                    first_seen.setdefault(label, record["key"])
                    if label not in stats["labels"].get("train", {label: 0}):
                        first_unseen.setdefault(label, record["key"])
                if record["key"].endswith(":1"):  # a file's first line: a header read as a record?
                    stats.setdefault("first_lines", {})[record["key"]] = _first_line(record, params.layout.labels)
        stats["records"][split] = records
        if params.layout.groups:
            per_group = list(groups.values())
            stats.setdefault("groups", {"field": params.layout.groups})[split] = {
                "count": len(groups),
                "records_per_group": {"min": min(per_group), "max": max(per_group)} if groups else {},
            }
        if labels or "train" in stats["labels"]:
            stats["labels"][split] = dict(sorted(labels.items(), key=lambda item: (-item[1], item[0])))
            stats.setdefault("first_unseen_label", {})[split] = first_unseen
        for field, sequence in sequences.items():
            summary = stats["sequences"].setdefault(
                field,
                {"tokens": {}, "length_histogram": {}, "char_length_histogram": {}, "max_length": {}, "oov_rate": {}},
            )
            summary["tokens"][split] = sequence.tokens
            summary["length_histogram"][split] = histogram(sequence.lengths)
            summary["char_length_histogram"][split] = histogram(sequence.char_lengths)
            summary["max_length"][split] = {"length": sequence.longest[0], "key": sequence.longest[1]}
            if split != "train":
                summary["oov_rate"][split] = sequence.oov / sequence.tokens if sequence.tokens else 0.0
    for summary in stats["sequences"].values():  # a split without records has zero counts, not no entry
        for split in artifacts.SPLITS:
            summary["tokens"].setdefault(split, 0)
            summary["length_histogram"].setdefault(split, {})
            summary["char_length_histogram"].setdefault(split, {})
            summary["max_length"].setdefault(split, {"length": 0, "key": ""})
            if split != "train":
                summary["oov_rate"].setdefault(split, 0.0)
    stats["too_long"] = too_long
    return stats


def _batches(records: Iterator[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    batch = []
    for record in records:
        batch.append(record)
        if len(batch) == _TOKENIZE_BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _first_line(record: dict[str, Any], label_field: str | None) -> tuple[list[str], str | None]:
    """The words of a file's first record when it has a few (what a header has), and its label if it has one."""
    values = [value for name, value in record.items() if name not in ("key", "input_hash")]
    words = [str(word) for value in values for word in (value if isinstance(value, list) else [value])]
    label = record.get(label_field) if label_field else None
    return (words if len(words) <= 6 else []), (label if isinstance(label, str) else None)


def _labels(record: dict[str, Any], field: str | None) -> list[str]:
    """The labels of a record: a tag list, or one class."""
    if field is None:
        return []
    labels = record[field]
    return labels if isinstance(labels, list) else [labels]


def _tokenized(batch: list[dict[str, Any]], params: StatisticsParameters) -> dict[str, list]:
    """For each sequence of the kind's layout: ((key, characters), tokens) per record of the batch."""
    sequences = {}
    for name, field, pretokenized in params.layout.sequences:
        if pretokenized:
            sequences[name] = [((r["key"], sum(map(len, r[field]))), r[field]) for r in batch]
        else:
            keys = [(r["key"], len(r[field])) for r in batch]
            sequences[name] = list(zip(keys, _tokenize([r[field] for r in batch], params), strict=True))
    return sequences


def _tokenize(texts: list[str], params: StatisticsParameters) -> list[list[str]]:
    """The words of raw texts, by the task's tokenizer (before any wordpiece split: OOV rates are of words)."""
    import tensorflow as tf

    from models import text

    tokenizer = text.TextTokenizer(params.tokenizer, pattern=params.token_pattern, normalization=params.normalization)
    return [[t.decode("utf-8") for t in row] for row in tokenizer.pretokenize(tf.constant(texts)).to_list()]


def histogram(lengths: collections.Counter[int]) -> dict[str, int]:
    """Counts of lengths in buckets `low-high`: ten wide, or wider (1, 2 or 5 times a power of ten) so that
    there are at most 30 buckets."""
    longest = max(lengths, default=0)
    width = 10
    while longest // width >= _HISTOGRAM_BUCKETS:
        width = _next_round(width)
    buckets: collections.Counter[str] = collections.Counter()
    for length, count in lengths.items():
        low = (length // width) * width
        buckets[f"{low}-{low + width - 1}"] += count
    return dict(sorted(buckets.items(), key=lambda item: int(item[0].split("-")[0])))


def _next_round(width: int) -> int:
    """10 -> 20 -> 50 -> 100 -> 200 ..."""
    power = 10 ** int(math.log10(width))
    return {1: 2, 2: 5, 5: 10}[width // power] * power


def labels_line(counts: dict[str, int], shown: int = 12) -> str:
    """The console line of the training labels' counts, most frequent first (the rest in statistics.json)."""
    listed = ", ".join(f"{labels.cut(label, 24)} {count:,}" for label, count in list(counts.items())[:shown])
    more = f" and {len(counts) - shown:,} more (statistics.json)" if len(counts) > shown else ""
    return f"labels in train: {listed}{more}"


def inputs_line(found: dict[str, Any]) -> str:
    """The console line of the inputs' count: how many distinct, repeated, and shared between splits."""
    repeated = (
        f"{found['repeated']:,} of them in {found['repeated_records']:,} records" if found["repeated"] else "no repeats"
    )
    shared = ", ".join(
        f"{entry['inputs']:,} in {pair} (first at {entry['first']})" for pair, entry in sorted(found["shared"].items())
    )
    return f"inputs: {found['distinct']:,} distinct, {repeated}; {shared or 'none in two splits'}"


# ----------------------------------------------------------------------------------------------
# Anomalies


def find_anomalies(stats: dict[str, Any], params: StatisticsParameters) -> list[dict[str, str]]:
    """The checks of `statistics` in the config that the data breaks, each with its configured action."""
    checks = params.statistics
    anomalies = []

    def add(check: str, message: str) -> None:
        anomalies.append({"check": check, "action": getattr(checks, check), "message": message})

    train_labels = set(stats["labels"].get("train", {}))
    for split in ("eval", "test"):
        unseen = sorted(set(stats["labels"].get(split, {})) - train_labels)
        if unseen:
            first = stats["first_unseen_label"][split][unseen[0]]
            add(
                "unseen_label",
                f"{split} has {len(unseen):,} label(s) never seen in train: "
                f"{', '.join(labels.cut(label, 24) for label in unseen[:5])}{', ...' if len(unseen) > 5 else ''} "
                f"(first {labels.shown(unseen[0])} at {first})",
            )
        if not stats["records"][split]:
            add("empty_split", f"the {split} split is empty")
        shared = stats.get("inputs", {}).get("shared", {}).get(f"train/{split}")
        if shared:
            add(
                "shared_inputs",
                f"{shared['inputs']:,} {split} input(s) are training inputs too (first at {shared['first']}): the "
                f"{split} files repeat records of the train files",
            )
        for field, sequence in stats["sequences"].items():
            rate = sequence["oov_rate"].get(split)
            if rate is not None and rate > checks.max_oov_rate:
                add(
                    "oov_rate",
                    f"{split} {field} OOV rate {rate:.1%} is above statistics.max_oov_rate {checks.max_oov_rate:.1%}",
                )
    counts: collections.Counter[str] = collections.Counter()
    for by_label in stats["labels"].values():
        counts.update(by_label)
    for message in labels.typos(counts, stats.get("first_label", {})):
        add("label_typo", message)
    for message in labels.header(stats.get("first_lines", {}), counts):
        add("header_line", message)
    if params.layout.columns:  # a format of columns, one label a record
        for message in labels.swapped(counts, sum(stats["records"].values()), params.layout.columns):
            add("swapped_columns", message)
    if params.layout.checks_length:
        for where, entry in sorted(stats["too_long"].items()):
            add(
                "too_long",
                f"{entry['count']:,} {where} record(s) longer than statistics.max_length {checks.max_length} tokens "
                f"(first at {entry['first']})",
            )
    return anomalies
