"""The quiet console: which lines of stderr are the libraries' noise (real lines from a run on this
machine), and that a process with `quiet()` passes its own errors and drops TensorFlow's start-up lines."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from pipeline import console

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

NOISE = [
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
    "I0000 00:00:1796614008.885216   31704 port.cc:153] oneDNN custom operations are on. You may see slightly "
    "different numerical results due to floating-point round-off errors from different computation orders.",
    "I0000 00:00:1796614008.886172   31704 cudart_stub.cc:31] Could not find cuda drivers on your machine, GPU will "
    "not be used.",
    "E0000 00:00:1796614010.815155   31704 cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error: Failed "
    "call to cuInit: UNKNOWN ERROR (303)",
    "E0000 00:00:1796614139.933725   31704 util.cc:131] oneDNN supports DT_INT32 only on platforms with AVX-512. "
    "Falling back to the default Eigen-based implementation if present.",
    "WARNING:root:apitools not found, and bigquery client libraries are not available despite the import not "
    "raising an ImportError.",
    "/work/main/.venv/lib/python3.11/site-packages/mlflow/pyfunc/utils/data_validation.py:187: UserWarning: "
    "\x1b[33mAdd type hints to the `predict` method to enable data validation\x1b[0m",
]
KEPT = [
    "[brown-pos] train         13.4s  epoch 1/3: batch 100, loss 1.3226",
    "error: tasks.x.train.epochs: expected an integer, got 'ten'",
    "E0000 00:00:1796614010.815155   31704 op_kernel.cc:1857] OP_REQUIRES failed: Out of memory",
    "F0000 00:00:1796614010.815155   31704 logging.cc:43] Check failed: shape mismatch",
    "Traceback (most recent call last):",
    '  File "/work/main/pipeline/cli.py", line 26, in main',
    "/work/main/kinds/tagger/train.py:12: UserWarning: a warning of our own",
]


@pytest.mark.parametrize("line", NOISE)
def test_library_start_up_lines_are_noise(line):
    assert console.is_noise(line)


@pytest.mark.parametrize("line", KEPT)
def test_stage_lines_errors_and_tracebacks_are_kept(line):
    assert not console.is_noise(line)


def test_a_library_warnings_source_line_goes_with_it_and_a_tracebacks_stays():
    lines = [NOISE[-1], "  color_warning(", *KEPT[4:6], "    return main()"]

    assert list(console.noise_filter(lines)) == [*KEPT[4:6], "    return main()"]


SCRIPT = textwrap.dedent(
    """
    import sys
    from pipeline import console
    console.quiet(verbose=VERBOSE)
    import tensorflow as tf
    tf.constant(1) + 1
    print("error: something the user must see", file=sys.stderr)
    """
)


def run(verbose: bool) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("TF_", "MLFLOW_"))}
    return subprocess.run(
        [sys.executable, "-c", SCRIPT.replace("VERBOSE", str(verbose))],
        env={**environment, "PYTHONPATH": ROOT},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


def test_a_quiet_process_prints_its_own_error_and_nothing_of_tensorflows():
    assert run(verbose=False).stderr == "error: something the user must see\n"


def test_verbose_leaves_the_libraries_lines_alone():
    stderr = run(verbose=True).stderr
    assert stderr.endswith("error: something the user must see\n") and len(stderr.splitlines()) > 1
