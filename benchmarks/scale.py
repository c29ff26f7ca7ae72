"""Costs at 1, 10 and 40 times the data: wall time and peak memory of each stage of the tagger's pipeline.

The bundled Brown slice (`data/brown/brown_universal.txt`) is copied N times, each copy's sentences made
distinct by one extra token (`copyK/X`, so the vocabulary grows by N words and nothing else), and `python
-m pipeline run --through STAGE` runs a tagger task on it from an empty output folder. A sampler reads
the resident memory of the run's whole process tree (the CLI and every Beam worker it starts) from /proc
every 0.1 s, and each sample is put down to the stage running (the one after the last `ran in` line); the last is
`preprocess` by default (`--through train` adds one epoch, about 37 s a copy here).

`--lm-megabytes M` also runs the character language model's stages (the `austen-chars` task's settings:
`text` files, a document a paragraph, characters, 2 shards) on a text of about M MB: Jane Austen's five
training novels (`data/austen/train`, 3.6 MB) repeated, each paragraph of copy K ending in ` (K)` so that
every copy's documents are distinct (the vocabulary gains at most the digits and the parentheses).
Prints one JSON line (`language_model` only with `--lm-megabytes`; `--copies` with no number runs it alone):

    {"through": "preprocess", "beam_workers": "the stage's",
     "sizes": [{"copies": 1, "megabytes": 4.1,
                "stages": {"ingest": {"seconds": ..., "peak_mb": ..., "peak_pss_mb": ..., "processes": ...}, ...},
                "wall_seconds": ..., "peak_mb": ..., "peak_pss_mb": ...}, ...],
     "peak_mb_ratio_40_to_1": ..., "peak_pss_mb_ratio_40_to_1": ...,
     "language_model": {"megabytes": 50.1, "stages": {...}, "wall_seconds": ..., "peak_mb": ..., ...}}

`peak_mb` is the tree's summed RSS, `peak_pss_mb` its summed PSS (`tree_memory`), and `processes` the most
processes the tree had during the stage.

Usage: .venv/bin/python benchmarks/scale.py [--copies 1 10 40] [--through train] [--lm-megabytes 50] [--beam-workers 2]
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import re
import subprocess
import sys
import tempfile
import threading
import time

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
CORPUS = ROOT / "data" / "brown" / "brown_universal.txt"
NOVELS = ROOT / "data" / "austen" / "train"
STAGES = ("ingest", "statistics", "preprocess", "train")


def make_corpus(copies: int, path: pathlib.Path) -> float:
    """Writes `copies` copies of the Brown slice, each sentence with the copy's own token; returns megabytes."""
    lines = [line for line in CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()]
    with path.open("w", encoding="utf-8") as out:
        for copy in range(copies):
            for line in lines:
                out.write(f"{line} copy{copy}/X\n")
    return path.stat().st_size / 1e6


def make_text(megabytes: float, path: pathlib.Path) -> float:
    """Writes the Austen novels' paragraphs again and again, copy K's marked ` (K)`, to about `megabytes`."""
    paragraphs = [
        paragraph.strip()
        for novel in sorted(NOVELS.glob("*.txt"))
        for paragraph in re.split(r"\n\s*\n", novel.read_text(encoding="utf-8"))
        if paragraph.strip()
    ]
    with path.open("w", encoding="utf-8") as out:
        copy = 0
        while out.tell() < megabytes * 1e6:
            out.write("".join(f"{paragraph} ({copy})\n\n" for paragraph in paragraphs))
            copy += 1
    return path.stat().st_size / 1e6


def tree_memory(root: int) -> dict[str, int]:
    """Process `root` and all its descendants (from /proc): their resident bytes summed (`rss`, each shared
    page counted once per process that maps it), their proportional set sizes summed (`pss`, each shared
    page divided among the processes that map it, so the sum is what the tree costs the machine), and the
    number of processes."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid = int(entry.name)
        children.setdefault(int(fields[1]), []).append(pid)  # field 4: the parent
        rss[pid] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")  # field 24: resident pages
    found = {"rss": 0, "pss": 0, "processes": 0}
    stack = [root]
    while stack:
        pid = stack.pop()
        if pid in rss:
            found["rss"] += rss[pid]
            found["pss"] += proportional_bytes(pid)
            found["processes"] += 1
        stack += children.get(pid, [])
    return found


def proportional_bytes(pid: int) -> int:
    """The proportional set size of process `pid` (its `Pss:` in /proc/PID/smaps_rollup), 0 once it is gone."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as rollup:
            for line in rollup:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def tagger_task(copies: int, folder: pathlib.Path) -> tuple[dict, float]:
    corpus = folder / "corpus.txt"
    megabytes = make_corpus(copies, corpus)
    task = {
        "name": "scale",
        "kind": "tagger",
        "data": {"format": "brown", "train": str(corpus)},
        "preprocess": {"lowercase": True},
        "train": {"epochs": 1},
    }
    return task, megabytes


def language_model_task(megabytes: float, folder: pathlib.Path) -> tuple[dict, float]:
    corpus = folder / "novels.txt"
    written = make_text(megabytes, corpus)
    task = {
        "name": "scale-chars",
        "kind": "language_model",
        "data": {"format": "text", "documents": "blank_line", "train": str(corpus), "split": {"eval": 0.05}},
        "preprocess": {"tokenizer": "characters", "num_shards": 2},
        "train": {"epochs": 1},
    }
    return task, written


def beam_section(workers: int | None) -> dict:
    """The config's `beam` section: the stage's own choice (none), or `workers` DirectRunner workers at every size."""
    if workers is None:
        return {}
    mode = "in_memory" if workers == 1 else "multi_processing"
    return {"beam": {"runner": "DirectRunner", "options": {"direct_num_workers": workers, "direct_running_mode": mode}}}


def measure(task: dict, through: str, folder: pathlib.Path, workers: int | None = None) -> dict:
    """Runs `task` through stage `through` from an empty output folder: each stage's time and peak memory."""
    config = folder / "config.yaml"
    config.write_text(yaml.safe_dump({"output_dir": str(folder / "runs"), "tasks": [task], **beam_section(workers)}))
    command = [sys.executable, "-m", "pipeline", "run", "--config", str(config), "--through", through]
    command += ["--tracking-uri", f"sqlite:///{folder / 'mlflow.db'}"]
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    stages: dict[str, dict] = {}
    current = {"stage": "start"}
    peaks: dict[str, dict[str, int]] = {}
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            stage, found = current["stage"], tree_memory(process.pid)
            peak = peaks.setdefault(stage, {"rss": 0, "pss": 0, "processes": 0})
            peak.update({key: max(peak[key], value) for key, value in found.items()})
            time.sleep(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    output = []
    for line in process.stdout:
        output.append(line)
        if current["stage"] == "start" and "MLflow run" in line:
            current["stage"] = STAGES[0]  # the stages start once the run is open
        timing = re.match(r"^\[\S+\] (\w+)\s+ran in\s+([\d.]+)s", line)
        if timing and timing.group(1) in STAGES:
            stages[timing.group(1)] = {"seconds": float(timing.group(2))}
            following = STAGES.index(timing.group(1)) + 1
            current["stage"] = STAGES[following] if following < len(STAGES) else "end"
    process.wait()
    done.set()
    sampler.join()
    if process.returncode:
        sys.exit(f"the run of task {task['name']} failed:\n{''.join(output[-20:])}")
    for stage, found in stages.items():
        peak = peaks.get(stage, {"rss": 0, "pss": 0, "processes": 0})
        found.update(peak_mb=round(peak["rss"] / 1e6), peak_pss_mb=round(peak["pss"] / 1e6))
        found["processes"] = peak["processes"]
    return {
        "stages": stages,
        "wall_seconds": round(time.perf_counter() - started, 1),
        "peak_mb": round(max(peak["rss"] for peak in peaks.values()) / 1e6),
        "peak_pss_mb": round(max(peak["pss"] for peak in peaks.values()) / 1e6),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, nargs="*", default=[1, 10, 40])
    parser.add_argument("--through", default="preprocess", choices=["ingest", "statistics", "preprocess", "train"])
    parser.add_argument("--lm-megabytes", type=float, help="also the character language model on a text this size")
    parser.add_argument(
        "--beam-workers",
        type=int,
        choices=[1, 2],
        help="DirectRunner workers at every size (default: the stage's choice, none under 16 MB of examples)",
    )
    args = parser.parse_args()
    sizes = []
    for copies in args.copies:
        with tempfile.TemporaryDirectory(prefix=f"seqpipe-scale-{copies}-") as folder:
            task, megabytes = tagger_task(copies, pathlib.Path(folder))
            measured = measure(task, args.through, pathlib.Path(folder), args.beam_workers)
            sizes.append({"copies": copies, "megabytes": round(megabytes, 1), **measured})
            print(json.dumps(sizes[-1]), file=sys.stderr, flush=True)
    result: dict = {"through": args.through, "beam_workers": args.beam_workers or "the stage's", "sizes": sizes}
    if len(sizes) > 1:
        for measure_key in ("peak_mb", "peak_pss_mb"):
            ratio = sizes[-1][measure_key] / sizes[0][measure_key]
            result[f"{measure_key}_ratio_{sizes[-1]['copies']}_to_{sizes[0]['copies']}"] = round(ratio, 2)
    if args.lm_megabytes:
        with tempfile.TemporaryDirectory(prefix="seqpipe-scale-lm-") as folder:
            task, megabytes = language_model_task(args.lm_megabytes, pathlib.Path(folder))
            measured = measure(task, args.through, pathlib.Path(folder), args.beam_workers)
            result["language_model"] = {"megabytes": round(megabytes, 1), **measured}
            print(json.dumps(result["language_model"]), file=sys.stderr, flush=True)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
