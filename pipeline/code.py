"""The code a stage runs, found from its roots: the closure of the project modules they import.

A stage's fingerprint covers the code it runs (`runner.py`), derived rather than listed by hand. From the
stage's roots (its executor, and the parts of the task's kind that it loads, named by `module:attribute`
references) every import of a project module is followed, at a module's top or inside a function, with
the packages above each module. At the roots, `module:attribute` strings and the names of `.py` files
beside them (a client module the stage loads from its file) are followed too; elsewhere strings are not,
since the kinds' declarations name every part of their kind and a stage loads only its own. The versions
of the installed libraries that the closure imports (TensorFlow, Keras, tensorflow-text, Beam, ...) are
part of the code as well: a new TensorFlow reruns training.

`tests/stages/test_code_closure.py` runs every stage of every kind and checks that each project file whose
code ran is in the stage's closure.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import hashlib
import importlib.metadata
import pathlib
import re
import sys
from collections.abc import Iterable

PROJECT_ROOT = pathlib.Path(__file__).resolve().parent.parent
# `package.module:attribute`, as kinds name their parts and specs their executors.
_REFERENCE = re.compile(r"([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*):[A-Za-z_]\w*")


@dataclasses.dataclass(frozen=True)
class Code:
    """What a stage runs: project files (relative to the project root) and the libraries they import.

    Attributes:
        files: the project's source files, relative POSIX paths, sorted.
        libraries: (distribution, version) of each installed library the files import, sorted; a library
            imported but not installed has the version "absent".
    """

    files: tuple[str, ...]
    libraries: tuple[tuple[str, str], ...]
    root: pathlib.Path = PROJECT_ROOT

    def version(self) -> str:
        """A hash of every file's path and bytes and of the libraries' versions."""
        digest = hashlib.sha256()
        for name in self.files:
            digest.update(name.encode() + b"\0" + _file_digest(self.root / name) + b"\0")
        for library, version in self.libraries:
            digest.update(f"{library}=={version}\0".encode())
        return digest.hexdigest()


def closure(roots: Iterable[str], root: pathlib.Path = PROJECT_ROOT) -> Code:
    """The code reachable from `roots`: module names (`components.train.executor`), `module:attribute`
    references, or file paths relative to `root` (`kinds/tagger/client.py`).

    Raises:
        FileNotFoundError: a root names no file of the project (its code would never be fingerprinted).
    """
    root = root.resolve()
    pending: list[tuple[pathlib.Path, bool]] = []
    for reference in roots:
        found = _resolve_root(reference, root)
        if not found:
            raise FileNotFoundError(f"fingerprinted code {reference!r} is not in {root}")
        *packages, module = found  # the packages above a root module run, but only its own strings are followed
        pending += [(path, False) for path in packages] + [(module, True)]
    files: set[pathlib.Path] = set()
    libraries: set[str] = set()
    followed_strings: set[pathlib.Path] = set()
    while pending:
        path, is_root = pending.pop()
        if path in files and (not is_root or path in followed_strings):
            continue
        files.add(path)
        parsed = _parse(path, root, *_stamp(path))
        libraries.update(parsed.libraries)
        for name in parsed.modules:
            pending += [(found, False) for found in _module_and_packages(name, root)]
        if is_root:
            followed_strings.add(path)
            for text in parsed.strings:
                pending += [(found, False) for found in _string_reference(text, path, root)]
    return Code(
        tuple(sorted(path.relative_to(root).as_posix() for path in files)),
        tuple(sorted(_versions(libraries, root))),
        root,
    )


# ----------------------------------------------------------------------------------------------
# Reading one file


@dataclasses.dataclass(frozen=True)
class _Parsed:
    modules: tuple[str, ...]  # absolute names of the modules it imports that may be the project's
    libraries: tuple[str, ...]  # top-level names of the other modules it imports (not the standard library's)
    strings: tuple[str, ...]  # its string constants, for the references of a root


def _stamp(path: pathlib.Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_mtime_ns, stat.st_size


@functools.lru_cache(maxsize=4096)
def _file_digest_at(path: pathlib.Path, mtime_ns: int, size: int) -> bytes:
    digest = hashlib.sha256()
    with path.open("rb") as stream:  # in blocks: a named file may be a gigabyte of word vectors
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.digest()


def _file_digest(path: pathlib.Path) -> bytes:
    return _file_digest_at(path, *_stamp(path))


def file_digest(path: str | pathlib.Path) -> str:
    """A file's SHA-256 (hex; read again only when its size or modification time changes), or `missing`."""
    path = pathlib.Path(path)
    return _file_digest(path).hex() if path.is_file() else "missing"


@functools.lru_cache(maxsize=4096)
def _parse(path: pathlib.Path, root: pathlib.Path, mtime_ns: int, size: int) -> _Parsed:
    """The imports and strings of one source file of the project at `root` (cached while it is unchanged)."""
    tree = ast.parse(path.read_bytes(), filename=str(path))
    package = ".".join(path.relative_to(root).parent.parts)
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".") if package else []
                parts = parts[: len(parts) - node.level + 1]
                base = ".".join([*parts, *([base] if base else [])])
            # `from a import b`: b may be a module of package a, or a name defined in a.
            names += [base, *(f"{base}.{alias.name}" for alias in node.names if alias.name != "*")]
    strings = tuple(
        node.value for node in ast.walk(tree) if isinstance(node, ast.Constant) and isinstance(node.value, str)
    )
    tops = {name.split(".")[0] for name in names if name}
    libraries = tuple(sorted(top for top in tops if top not in sys.stdlib_module_names and top != "__future__"))
    return _Parsed(tuple(dict.fromkeys(name for name in names if name)), libraries, strings)


def project_imports(path: pathlib.Path, root: pathlib.Path = PROJECT_ROOT) -> list[pathlib.Path]:
    """The project modules the module at `path` names in its imports, at its top or inside a function (a
    name that is an attribute of a module, `from a import b`, counts as `a`)."""
    root = root.resolve()
    path = path.resolve()
    found: dict[pathlib.Path, None] = {}
    for name in _parse(path, root, *_stamp(path)).modules:
        module = _module_file(name, root)
        if module is not None:
            found[module] = None
    return list(found)


# ----------------------------------------------------------------------------------------------
# Names to files


def _module_file(name: str, root: pathlib.Path) -> pathlib.Path | None:
    base = root.joinpath(*name.split("."))
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py")
    return None


def _module_and_packages(name: str, root: pathlib.Path) -> list[pathlib.Path]:
    """The files that importing `name` runs, when it is the project's: each package above it, then itself."""
    parts = name.split(".")
    found = [_module_file(".".join(parts[:end]), root) for end in range(1, len(parts) + 1)]
    return [path for path in found if path is not None]


def _resolve_root(reference: str, root: pathlib.Path) -> list[pathlib.Path]:
    if reference.endswith(".py"):
        path = root / reference
        return [path.resolve()] if path.is_file() else []
    module = reference.partition(":")[0]
    found = _module_and_packages(module, root)
    return found if _module_file(module, root) is not None else []


def _string_reference(text: str, source: pathlib.Path, root: pathlib.Path) -> list[pathlib.Path]:
    """The project files a string constant of a root names: a `module:attribute`, or a `.py` file beside it."""
    match = _REFERENCE.fullmatch(text)
    if match:
        return _module_and_packages(match[1], root)
    if text.endswith(".py") and "/" not in text and (source.parent / text).is_file():
        return [(source.parent / text).resolve()]
    return []


@functools.cache
def _distributions() -> dict[str, list[str]]:
    return importlib.metadata.packages_distributions()


def _versions(tops: Iterable[str], root: pathlib.Path) -> set[tuple[str, str]]:
    """(distribution, version) of the installed libraries that provide the top-level modules `tops`."""
    found = set()
    for top in tops:
        if _module_file(top, root) is not None:
            continue  # a project package
        for distribution in _distributions().get(top, [top]):
            try:
                found.add((distribution, importlib.metadata.version(distribution)))
            except importlib.metadata.PackageNotFoundError:
                found.add((distribution, "absent"))
    return found
