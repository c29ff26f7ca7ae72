"""A quiet console: the stage lines and real errors, not the libraries' start-up noise (unless `--verbose`).

TensorFlow's C++ runtime logs through absl before `TF_CPP_MIN_LOG_LEVEL` takes effect, so its start-up lines
(oneDNN, the CUDA probe of a machine without a GPU, CPU instructions) reach stderr whatever the environment
says; Beam and MLflow warn through Python's `logging` and `warnings` about optional libraries and type hints.
`quiet()` sets what can be set before the libraries load (the environment, the warning filters, the
libraries' loggers), and then filters the lines that still come: file descriptor 2 becomes a pipe that a
thread reads, dropping the known noise line by line and passing everything else to the real stderr. Child
processes (Beam's workers) inherit the pipe, so their noise goes too. Tracebacks, the CLI's `error:` lines
and any TensorFlow error not listed below still reach the user.
"""

from __future__ import annotations

import atexit
import faulthandler
import logging
import os
import re
import sys
import threading
import warnings
from collections.abc import Iterable, Iterator

# Set before TensorFlow loads (here and in every child process, which inherits the environment).
# TensorFlow's level 2 still logs errors (a real one reaches the user; the harmless ones below are dropped);
# an explicit TF_ENABLE_ONEDNN_OPTS (its default) keeps TensorFlow from saying that it is on.
ENVIRONMENT = {
    "TF_CPP_MIN_LOG_LEVEL": "2",
    "TF_ENABLE_ONEDNN_OPTS": "1",
    "GRPC_VERBOSITY": "ERROR",
    "MLFLOW_LOGGING_LEVEL": "ERROR",
}
# A line of absl/glog: severity and date, time (absl writes seconds since the epoch), thread, file:line].
_ABSL = re.compile(r"^(?P<severity>[IWEF])\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ (?P<where>[\w./-]+:\d+)\] ")
# TensorFlow errors that a machine without a GPU, or without AVX-512, always logs: not the user's problem.
_HARMLESS_ERRORS = re.compile(r"cuInit|CUDA error|only on platforms with AVX-512|Local rendezvous is aborting")
_NOISE = re.compile(
    r"^(WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    r"|To enable the following instructions: .* rebuild TensorFlow with the appropriate compiler flags\."
    r"|WARNING:root:apitools not found"
    r"|WARNING:root:Make sure that locally built Python SDK docker image"
    r")"
)
# Libraries whose Python warnings and log records below ERROR are noise on the console.
_LIBRARIES = ("absl", "apache_beam", "distributed", "dask", "keras", "mlflow", "tensorflow", "urllib3", "alembic")
# A Python warning a library printed although the filters said not to (MLflow shows some inside its own
# `catch_warnings`): `.../site-packages/mlflow/x.py:187: UserWarning: ...`, then the source line, indented.
_LIBRARY_WARNING = re.compile(rf"^\S*/site-packages/({'|'.join(_LIBRARIES)})/\S+\.py:\d+: \w*Warning: ")

_started = False
_crash_file = None  # where faulthandler writes, kept open


def is_noise(line: str) -> bool:
    """Whether a line of stderr is noise of a library: an absl INFO or WARNING line, a TensorFlow error a CPU
    machine always logs, a library's Python warning, or a known warning."""
    found = _ABSL.match(line)
    if found:
        severity = found["severity"]
        return severity in "IW" or (severity == "E" and bool(_HARMLESS_ERRORS.search(line)))
    return bool(_NOISE.match(line) or _LIBRARY_WARNING.match(line))


def noise_filter(lines: Iterable[str]) -> Iterator[str]:
    """The lines that are not noise; a library warning's source line (indented, next) goes with it."""
    after_warning = False
    for line in lines:
        if after_warning and line.startswith("  "):
            after_warning = False
            continue
        after_warning = bool(_LIBRARY_WARNING.match(line))
        if not is_noise(line):
            yield line


def quiet(verbose: bool = False) -> None:
    """Keeps the console to the pipeline's own lines and real errors from now on (once per process); with
    `verbose`, leaves everything as the libraries have it."""
    global _started
    if verbose:
        return
    if _started:
        return
    _started = True
    for name, value in ENVIRONMENT.items():  # what the user's environment says wins
        os.environ.setdefault(name, value)
    for library in _LIBRARIES:
        warnings.filterwarnings("ignore", module=rf"{library}(\..*)?$")
        logging.getLogger(library).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message=r".*(Add type hints to the `predict` method|apitools not found)")
    logging.getLogger().setLevel(logging.ERROR)  # Beam warns on the root logger
    _filter_stderr()


def _filter_stderr() -> None:
    """Makes file descriptor 2 a pipe whose lines a thread passes to the real stderr, but for the noise."""
    try:
        real = os.dup(2)
        read_end, write_end = os.pipe()
    except OSError:  # no stderr to filter (a daemon): leave it
        return
    sys.stderr.flush()
    os.dup2(write_end, 2)
    os.close(write_end)
    if faulthandler.is_enabled():  # a crash's stacks go straight out: the thread below dies with the process
        global _crash_file
        _crash_file = os.fdopen(os.dup(real), "w")
        faulthandler.enable(file=_crash_file, all_threads=True)
    thread = threading.Thread(target=_forward, args=(read_end, real), name="stderr filter", daemon=True)
    thread.start()

    def finish() -> None:  # at exit: the last lines through, then stderr as it was
        try:
            sys.stderr.flush()
        except (OSError, ValueError):
            pass
        os.dup2(real, 2)  # closes the pipe's last write end in this process: the thread reads to its end
        thread.join(timeout=5)

    atexit.register(finish)


def _forward(read_end: int, real: int) -> None:
    """Passes the lines of the pipe that are not noise to `real`, as they come, until the pipe closes."""

    def lines() -> Iterator[str]:
        with os.fdopen(read_end, "rb", buffering=0) as pipe:
            pending = b""
            while chunk := pipe.read(65536):
                *complete, pending = (pending + chunk).split(b"\n")
                yield from (line.decode("utf-8", "surrogateescape") + "\n" for line in complete)
            if pending:
                yield pending.decode("utf-8", "surrogateescape")

    for line in noise_filter(lines()):
        os.write(real, line.encode("utf-8", "surrogateescape"))
