"""Runs `infra_validator.py` on a SavedModel in a process of its own and returns its answers."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence

from pipeline.errors import ValidationError

VALIDATOR = pathlib.Path(__file__).with_name("infra_validator.py")


def answers_from_a_fresh_process(
    saved_model: pathlib.Path, client: pathlib.Path, requests: Sequence[dict], options: Mapping
) -> list[dict]:
    """The kind's client's response to each request, from a process that sees only PATH (nothing leaks in).

    Raises:
        ValidationError: the process failed; its last line of error output is the reason.
    """
    with tempfile.TemporaryDirectory() as folder:
        requests_path = pathlib.Path(folder) / "requests.jsonl"
        responses_path = pathlib.Path(folder) / "responses.jsonl"
        requests_path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in requests), encoding="utf-8")
        command = [sys.executable, str(VALIDATOR), str(saved_model), str(client), str(requests_path)]
        result = subprocess.run(
            [*command, str(responses_path), json.dumps(dict(options))],
            cwd=folder,
            env={"PATH": "/usr/bin:/bin", "HOME": folder, "TF_CPP_MIN_LOG_LEVEL": "3"},
            capture_output=True,
            text=True,
        )
        if result.returncode:
            last = (result.stderr.strip().splitlines() or ["no output"])[-1]
            raise ValidationError(f"export: the SavedModel failed in a fresh process: {last}; nothing pushed")
        # split("\n"), not splitlines(): a token may hold U+2028 and the like, which JSON leaves as they are.
        return [json.loads(line) for line in responses_path.read_text(encoding="utf-8").split("\n") if line]
