"""Loads a kind's client module (`kinds/<kind>/client.py`) from its file, under a name of its own.

A client imports only TensorFlow and tensorflow-text, so the infra-validator, the pyfunc model and
`pipeline predict` can load it by path wherever the SavedModel goes, without the project on sys.path.
This file imports nothing but the standard library, for the same reason.
"""

import hashlib
import importlib.util
import pathlib
import sys


def load_client(path):
    """The client module at `path`, imported once per process (keyed by its path)."""
    path = pathlib.Path(path).resolve()
    name = "seqpipe_client_" + hashlib.sha256(str(path).encode()).hexdigest()[:12]
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]
