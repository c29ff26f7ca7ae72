"""Tokens/s of the Beam preprocess stage (Direct and Dask runners, 1 and 2 workers) against a one-process reference.

The corpus (default: the full Brown corpus, 57,340 sentences / 1.16 M tokens, universal tags, prepared
once into ~/.cache/seqpipe/brown_full/ by `data/prepare_brown.py --all`) becomes one tagger task in a
temporary pipeline config. The project's runner (`pipeline.runner.run_task` over `dag.build`)
runs ingest and statistics once, outside the timing, then the preprocess stage (DirectRunner,
multi_processing) fresh for each worker count: its output folder is removed before each run, so the
cache never answers, and the time is the one the runner records for the stage.

The reference does the same work on the same ingested examples without Beam, in this process: reads
and parses the JSON lines, counts words (`text.normalize_words`), characters (`text.split_chars`)
and tags over train, orders them with `layout.ordered_vocabulary`, encodes every split into the
same SequenceExamples (`text.TaggerFeaturizer`), and writes N TFRecord shards per split (a record's
shard by `executor.shard_of` of its input hash, each shard sorted by input hash) plus the vocabularies
and a manifest. It turns ragged ids into lists through numpy and builds the SequenceExamples as `tf.train` objects.
`--stage-like-reference` also times it counting and encoding with the stage's own layout code
(`kinds/tagger/preprocess.py`'s `TaggedSentences`: per-batch counts, SequenceExamples written by `sequence_example`), to
tell Beam's own cost from that of the encoding code. TensorFlow is imported
before the reference's clock starts (`tf_import_seconds`); Beam's workers import it inside the
stage's time. The DaskRunner rows (`--dask-workers`) start a local `dask.distributed` cluster of that
many worker processes inside the stage's time, as `beam: {runner: DaskRunner}` without an address
does. The vocabularies of every run must be equal (the benchmark stops otherwise); whether
the shards are byte-identical is reported too.

Each run reports wall seconds, tokens/s (tokens written, all splits) and CPU seconds (this process
plus Beam's worker processes: steadier than wall time on a busy machine). `ratios` are reference
seconds / Beam seconds, i.e. Beam's tokens/s over the reference's: 1.0 or more meets "Beam at 2
workers at least as fast as the single-process reference". With `--repeats N`, the best of N.

The Beam run at the most workers also runs on the first 25% and 50% of the corpus's lines, to show
how its wall time grows (`scaling`, with a least-squares line: fixed seconds + seconds per M tokens).
Prints one JSON object; progress goes to stderr.

    .venv/bin/python benchmarks/preprocess.py
    .venv/bin/python benchmarks/preprocess.py --stage-like-reference --repeats 2
    .venv/bin/python benchmarks/preprocess.py --corpus data/brown/brown_universal.txt --fractions 1.0
    PYTHONPATH=/tmp/scratch .venv/bin/python benchmarks/preprocess.py --executor my_executor:run

`--executor MODULE:FUNCTION` swaps the stage's executor (a scratch copy with other batch sizes or
options) to measure a change without touching the project; its module must be importable by the
Beam workers (PYTHONPATH).
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import dataclasses
import hashlib
import json
import os
import pathlib
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from typing import Any

import kinds

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CACHE = pathlib.Path.home() / ".cache" / "seqpipe" / "brown_full"
CORPUS_NAME = "brown_universal_full.txt"


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--corpus", type=pathlib.Path, help=f"a brown-format file (default: {CACHE / CORPUS_NAME})")
    p.add_argument("--fractions", default="0.25,0.5,1.0", help="shares of the corpus's lines for the scaling runs")
    p.add_argument("--workers", default="1,2", help="DirectRunner worker counts (direct_num_workers)")
    p.add_argument(
        "--dask-workers",
        default="1,2",
        help="DaskRunner local-cluster worker processes (dask_local_workers); '' for none",
    )
    p.add_argument("--shards", type=int, default=2, help="TFRecord shards per split")
    p.add_argument("--repeats", type=int, default=1, help="runs of each measurement on the full corpus; the best")
    p.add_argument("--reference-batch", type=int, default=4096, help="sentences per TensorFlow call in the reference")
    p.add_argument(
        "--stage-like-reference",
        action="store_true",
        help="also time the reference counting and encoding with the stage's layout code (the tagger's)",
    )
    p.add_argument("--executor", help="MODULE:FUNCTION to run as the preprocess executor instead of the project's")
    args = p.parse_args()
    args.fractions = sorted({float(f) for f in args.fractions.split(",")} | {1.0})
    args.workers = [int(w) for w in args.workers.split(",")]
    args.dask_workers = [int(w) for w in args.dask_workers.split(",") if w.strip()]
    workers = args.workers + args.dask_workers
    if not all(0 < f <= 1 for f in args.fractions) or not all(w > 0 for w in workers) or args.shards < 1:
        p.error("fractions must lie in (0, 1], workers and shards be positive")
    return args


def full_corpus() -> pathlib.Path:
    """The full Brown corpus, prepared once into the cache folder."""
    path = CACHE / CORPUS_NAME
    if not path.exists():
        with tempfile.TemporaryDirectory() as tmp:
            command = [sys.executable, str(ROOT / "data" / "prepare_brown.py"), "--all", "--out", tmp]
            subprocess.run(command, check=True, stdout=sys.stderr)
            CACHE.mkdir(parents=True, exist_ok=True)
            shutil.move(pathlib.Path(tmp) / CORPUS_NAME, path)
    return path


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """The runner's and Beam's progress lines go to stderr (worker processes too): stdout is the JSON."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def cpu_seconds() -> float:
    """User + system CPU seconds of this process and its finished children (Beam's worker processes)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


# ----------------------------------------------------------------------------------------------
# Beam, through the project's runner


@dataclasses.dataclass
class Task:
    """One tagger task over one corpus file, with its stages up to preprocess."""

    name: str
    folder: pathlib.Path
    components: list[Any]
    seed: int

    @property
    def task_dir(self) -> pathlib.Path:
        return self.folder / "runs" / self.name


def make_task(corpus: pathlib.Path, folder: pathlib.Path, name: str, shards: int, executor: str | None) -> Task:
    import dag

    folder.mkdir(parents=True)
    raw = {
        "output_dir": "runs",
        "tracking": {"uri": "sqlite:///mlflow.db"},  # never opened: the runner gets no tracker
        "seed": 8,
        "tasks": [
            {
                "name": name,
                "kind": "tagger",
                "data": {"format": "brown", "train": str(corpus), "split": {"eval": 0.1, "test": 0.1}},
                "preprocess": {"tokenizer": "regex", "lowercase": True, "min_count": 1, "num_shards": shards},
            }
        ],
    }
    path = folder / "pipeline_config.yaml"
    path.write_text(json.dumps(raw, indent=2))  # JSON is YAML
    loaded = kinds.load_config(path)
    (task,) = loaded.variants
    components = dag.build(task, loaded)
    names = [c.spec.name for c in components]
    components = components[: names.index("preprocess") + 1]
    if executor:
        preprocess = components[-1]
        components[-1] = dataclasses.replace(preprocess, spec=dataclasses.replace(preprocess.spec, executor=executor))
    return Task(name, folder, components, loaded.seed)


@dataclasses.dataclass(frozen=True)
class Engine:
    """A Beam runner at a number of worker processes, as the benchmark labels it."""

    runner: str
    workers: int

    @property
    def label(self) -> str:
        name = "beam" if self.runner == "DirectRunner" else "beam_dask"
        return f"{name}_{self.workers}_worker{'s' if self.workers > 1 else ''}"

    def config(self):
        from pipeline import config

        if self.runner == "DirectRunner":
            options = {"direct_num_workers": self.workers, "direct_running_mode": "multi_processing"}
        else:  # a local cluster, started and stopped inside the stage's time
            options = {"dask_local_workers": self.workers}
        return config.BeamConfig(runner=self.runner, options=options)


def run_stages(task: Task, engine: Engine, *, upto_preprocess: bool = True) -> tuple[Any, dict[str, Any]]:
    """Runs the task's stages through the runner; the stages before preprocess come from the cache after the first call.

    Returns the last stage's `StageResult` and every stage's outputs by name.
    """
    from pipeline import runner

    beam = engine.config()
    components = task.components if upto_preprocess else task.components[:-1]
    with stdout_to_stderr():
        results = runner.run_task(
            components, task=task.name, task_dir=task.task_dir, seed=task.seed, beam=beam, tracker=None
        )
    return results[-1], {name: artifact for result in results for name, artifact in result.outputs.items()}


def run_beam(task: Task, engine: Engine) -> dict[str, Any]:
    """Runs the preprocess stage fresh (its cached outputs removed first).

    Returns its seconds as the runner measured them, the CPU seconds of this process and of the stage's
    worker processes, and every stage's outputs by name.
    """
    shutil.rmtree(task.task_dir / "preprocess", ignore_errors=True)
    cpu = cpu_seconds()
    stage, outputs = run_stages(task, engine)
    cpu = cpu_seconds() - cpu
    assert stage.stage == "preprocess" and stage.status == "ran", stage
    return {"seconds": stage.seconds, "cpu_seconds": cpu, "outputs": outputs}


def written_tokens(manifest: dict[str, Any]) -> int:
    return sum(split["tokens"] for split in manifest["splits"].values())


# ----------------------------------------------------------------------------------------------
# The reference: the same work, one process, no Beam


def _bytes_features(values: Sequence[str]) -> list:
    import tensorflow as tf

    return [tf.train.Feature(bytes_list=tf.train.BytesList(value=[v.encode("utf-8")])) for v in values]


def _int_features(values: Sequence[int]) -> list:
    import tensorflow as tf

    return [tf.train.Feature(int64_list=tf.train.Int64List(value=[v])) for v in values]


def _ragged(lists: Sequence[Sequence[str]]):
    import tensorflow as tf

    flat = [value for values in lists for value in values]
    return tf.RaggedTensor.from_row_lengths(tf.constant(flat, tf.string), [len(values) for values in lists])


def _lists(ragged) -> list:
    """A RaggedTensor as nested lists, through numpy (`to_list()` slices it row by row with TensorFlow ops)."""
    values = ragged.flat_values.numpy().tolist()
    for splits in reversed(ragged.nested_row_splits):
        bounds = splits.numpy().tolist()
        values = [values[bounds[i] : bounds[i + 1]] for i in range(len(bounds) - 1)]
    return values


def _batches(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def plain_vocabularies(train: list[dict], params, batch: int) -> dict[str, list[tuple[str, int]]]:
    """Words, characters and tags of the training examples counted with `collections.Counter`, then ordered."""
    from kinds.base.layout import ordered_vocabulary
    from models import text

    counts: dict[str, collections.Counter] = {name: collections.Counter() for name in ("words", "chars", "tags")}
    for chunk in _batches(train, batch):
        tokens = _ragged([r["tokens"] for r in chunk])
        counts["words"].update(text.normalize_words(tokens, params.lowercase).flat_values.numpy().tolist())
        counts["chars"].update(text.split_chars(tokens, params.max_word_length).flat_values.numpy().tolist())
        for r in chunk:
            counts["tags"].update(r["tags"])
    decoded = {name: [(t.decode("utf-8"), n) for t, n in counts[name].items()] for name in ("words", "chars")}
    return {
        "words": ordered_vocabulary(decoded["words"], text.RESERVED_TOKENS, params.min_count, params.max_size),
        "chars": ordered_vocabulary(decoded["chars"], text.RESERVED_TOKENS, params.char_min_count, None),
        "tags": ordered_vocabulary(counts["tags"].items(), text.RESERVED_TAGS, 1, None),
    }


def plain_encoder(vocabularies: dict[str, list[tuple[str, int]]], params):
    """A function from a chunk of examples to (input hash, serialized SequenceExample, tokens): `tf.train` protos."""
    import tensorflow as tf

    from models import text

    featurizer = text.TaggerFeaturizer(
        *([token for token, _ in vocabularies[name]] for name in ("words", "chars", "tags")),
        lowercase=params.lowercase,
        max_word_length=params.max_word_length,
    )

    def encode(chunk: list[dict]) -> Iterator[tuple[str, bytes, int]]:
        tokens = _ragged([r["tokens"] for r in chunk])
        token_ids = _lists(featurizer.token_ids(tokens))
        char_ids = _lists(featurizer.char_ids(tokens))
        tag_ids = _lists(featurizer.tag_ids(_ragged([r["tags"] for r in chunk])))
        for r, words, chars, tags in zip(chunk, token_ids, char_ids, tag_ids, strict=True):
            example = tf.train.SequenceExample(
                context=tf.train.Features(feature={text.KEY: _bytes_features([r["key"]])[0]}),
                feature_lists=tf.train.FeatureLists(
                    feature_list={
                        text.TOKENS: tf.train.FeatureList(feature=_bytes_features(r["tokens"])),
                        text.TAGS: tf.train.FeatureList(feature=_bytes_features(r["tags"])),
                        text.TOKEN_IDS: tf.train.FeatureList(feature=_int_features(words)),
                        text.TAG_IDS: tf.train.FeatureList(feature=_int_features(tags)),
                        text.CHAR_IDS: tf.train.FeatureList(
                            feature=[tf.train.Feature(int64_list=tf.train.Int64List(value=ids)) for ids in chars]
                        ),
                    }
                ),
            )
            yield r["input_hash"], example.SerializeToString(deterministic=True), len(words)

    return encode


def stage_vocabularies(train: list[dict], params, batch: int) -> dict[str, list[tuple[str, int]]]:
    """The vocabularies through the stage's own layout code (`TaggedSentences.unit_counts`)."""
    from kinds.tagger.preprocess import TaggedSentences

    layout = TaggedSentences(params)
    counts = collections.Counter()
    for chunk in _batches(train, batch):
        counts.update(dict(layout.unit_counts(chunk, None)))
    by_name: dict[str, list[tuple[str, int]]] = {name: [] for name in layout.names}
    for (name, unit), count in counts.items():
        by_name[name].append((unit, count))
    return layout.vocabularies(by_name, None)


def stage_encoder(vocabularies: dict[str, list[tuple[str, int]]], params):
    """The stage's own encoding code (`TaggedSentences.encode`, which writes the wire format itself)."""
    from kinds.tagger.preprocess import TaggedSentences

    layout = TaggedSentences(params)
    return lambda chunk: layout.encode(chunk, vocabularies)


def reference(
    examples, splits: Sequence[str], params, out: pathlib.Path, batch: int, stage_like: bool = False
) -> dict[str, Any]:
    """Vocabularies and shards as the preprocess stage writes them; returns the manifest and vocabularies.

    With `stage_like`, the counting and encoding are the stage's own layout code, so that the time
    left to Beam is its own; otherwise, the plain code above.
    """
    import tensorflow as tf

    from components.preprocess.executor import shard_name, shard_of

    out.mkdir(parents=True)
    records = {split: list(examples.read(split)) for split in splits}
    counter, encoder = (stage_vocabularies, stage_encoder) if stage_like else (plain_vocabularies, plain_encoder)
    vocabularies = counter(records["train"], params, batch)
    for name, entries in vocabularies.items():
        (out / f"{name}.tsv").write_text("".join(f"{token}\t{count}\n" for token, count in entries), encoding="utf-8")

    encode = encoder(vocabularies, params)
    manifest: dict[str, dict[str, Any]] = {}
    for split in splits:
        by_shard: list[list[tuple[str, bytes, int]]] = [[] for _ in range(params.num_shards)]
        for chunk in _batches(records[split], batch):
            for input_hash, serialized, length in encode(chunk):
                by_shard[shard_of(input_hash, params.num_shards)].append((input_hash, serialized, length))
        entry = manifest[split] = {"files": [], "records": 0, "tokens": 0}
        for shard, items in enumerate(by_shard):
            items.sort()
            name = shard_name(split, shard, params.num_shards)
            with tf.io.TFRecordWriter(str(out / name)) as writer:
                for _, serialized, _ in items:
                    writer.write(serialized)
            entry["files"].append(name)
            entry["records"] += len(items)
            entry["tokens"] += sum(length for _, _, length in items)
    (out / "manifest.json").write_text(json.dumps({"splits": manifest}, indent=2, sort_keys=True) + "\n")
    return {"splits": manifest, "vocabularies": vocabularies}


# ----------------------------------------------------------------------------------------------


def digest(folder: pathlib.Path, names: Sequence[str]) -> str:
    sha = hashlib.sha256()
    for name in names:
        sha.update((folder / name).read_bytes())
    return sha.hexdigest()


def line_fit(points: list[tuple[float, float]]) -> dict[str, float] | None:
    """Least squares seconds = fixed + per_m_tokens * M tokens."""
    if len(points) < 2:
        return None
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    slope = sum((x - mx) * (y - my) for x, y in points) / sum((x - mx) ** 2 for x, _ in points)
    return {"fixed_seconds": round(my - slope * mx, 2), "seconds_per_m_tokens": round(slope, 2)}


def summary(tokens: int, runs: list[dict[str, float]]) -> dict[str, Any]:
    """The best of some runs (by wall time), with every run's wall time."""
    best = min(runs, key=lambda run: run["seconds"])
    return {
        "seconds": round(best["seconds"], 2),
        "tokens_per_second": round(tokens / best["seconds"]),
        "cpu_seconds": round(best["cpu_seconds"], 2),
        "all_seconds": [round(run["seconds"], 2) for run in runs],
    }


def compare_on_full_corpus(task: Task, args: argparse.Namespace, folder: pathlib.Path) -> dict[str, Any]:
    """Beam at each worker count and the reference(s), `--repeats` times; checks that they did the same work."""
    from pipeline import artifacts

    _, inputs = run_stages(task, Engine("DirectRunner", 1), upto_preprocess=False)  # ingest and statistics, untimed
    sizes = inputs["statistics"].read()["records"]
    splits = [split for split in artifacts.SPLITS if sizes.get(split)]
    params = task.components[-1].parameters.preprocess
    engines = [Engine("DirectRunner", w) for w in args.workers] + [Engine("DaskRunner", w) for w in args.dask_workers]
    references = ["reference"] + (["reference_stage_like"] if args.stage_like_reference else [])
    labels = [engine.label for engine in engines] + references
    runs: dict[str, list[dict[str, float]]] = {label: [] for label in labels}
    vocabularies, digests, tokens = {}, {}, set()
    for _ in range(args.repeats):
        for engine in engines:
            run = run_beam(task, engine)
            runs[engine.label].append(run)
            vocabulary, shards = run["outputs"]["vocabulary"], run["outputs"]["shards"]
            manifest = shards.manifest()
            vocabularies[engine.label] = {name: vocabulary.entries(name) for name in ("words", "chars", "tags")}
            digests[engine.label] = digest(shards.uri, [f for s in splits for f in manifest["splits"][s]["files"]])
            tokens.add(written_tokens(manifest))
        for label in references:
            out = folder / label
            cpu, clock = cpu_seconds(), time.perf_counter()
            written = reference(inputs["examples"], splits, params, out, args.reference_batch, label != "reference")
            runs[label].append({"seconds": time.perf_counter() - clock, "cpu_seconds": cpu_seconds() - cpu})
            vocabularies[label] = written["vocabularies"]
            digests[label] = digest(out, [f for s in splits for f in written["splits"][s]["files"]])
            tokens.add(written_tokens(written))
            shutil.rmtree(out)
    assert len(tokens) == 1, f"different token counts: {tokens}"
    equal = all(v == vocabularies["reference"] for v in vocabularies.values())
    assert equal, "the reference and Beam built different vocabularies"
    (count,) = tokens
    report: dict[str, Any] = {
        "tokens": count,
        "vocabulary_sizes": {name: len(entries) for name, entries in vocabularies["reference"].items()},
        "vocabularies_equal": equal,
        "shards_identical": len(set(digests.values())) == 1,
    }
    report.update({label: summary(count, label_runs) for label, label_runs in runs.items()})
    report["ratios"] = {
        f"{engine.label}/{ref}": round(report[ref]["seconds"] / report[engine.label]["seconds"], 3)
        for ref in references
        for engine in reversed(engines)
    }
    return report


def scaling(full: dict[str, Any], lines: list[str], args: argparse.Namespace, folder: pathlib.Path) -> dict[str, Any]:
    """Wall time of the Beam stage at the most workers on the first `fraction` of the corpus's lines."""
    engine = Engine("DirectRunner", max(args.workers))
    points = {}
    for fraction in args.fractions:
        if fraction == 1.0:
            seconds, tokens = full[engine.label]["seconds"], full["tokens"]
        else:
            part = folder / f"corpus-{fraction}.txt"
            part.write_text("".join(lines[: round(fraction * len(lines))]), encoding="utf-8")
            task = make_task(part, folder / f"part-{fraction}", "brown-part", args.shards, args.executor)
            run_stages(task, engine, upto_preprocess=False)
            runs = [run_beam(task, engine) for _ in range(args.repeats)]
            seconds = min(run["seconds"] for run in runs)
            tokens = written_tokens(runs[0]["outputs"]["shards"].manifest())
        points[str(fraction)] = {"tokens": tokens, "seconds": round(seconds, 2)}
    fit = line_fit([(point["tokens"] / 1e6, point["seconds"]) for point in points.values()])
    return {"workers": engine.workers, "runs": points, "fit": fit}


def main() -> None:
    args = parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    corpus = (args.corpus or full_corpus()).resolve()
    lines = corpus.read_text(encoding="utf-8").splitlines(keepends=True)

    started = time.perf_counter()
    import tensorflow  # noqa: F401  (the reference runs with TensorFlow loaded; Beam's workers load it in the stage)
    import tensorflow_text  # noqa: F401

    report: dict[str, Any] = {
        "corpus": str(corpus),
        "sentences": sum(1 for line in lines if line.strip()),
        "shards": args.shards,
        "executor": args.executor or "components.preprocess.executor:run",
        "cpus": os.cpu_count(),
        "load_before": [round(x, 2) for x in os.getloadavg()],
        "tf_import_seconds": round(time.perf_counter() - started, 2),
    }
    with tempfile.TemporaryDirectory(prefix="seqpipe-preprocess-bench-") as tmp:
        folder = pathlib.Path(tmp)
        task = make_task(corpus, folder / "full", "brown-full", args.shards, args.executor)
        report.update(compare_on_full_corpus(task, args, folder))
        report["scaling"] = scaling(report, lines, args, folder)
    report["load_after"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(report))


if __name__ == "__main__":
    main()
