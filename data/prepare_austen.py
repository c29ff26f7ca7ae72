#!/usr/bin/env python3
"""Build the character language-model corpus: Jane Austen's six novels, one plain-text file each.

The novels ship in the R package janeaustenr (Julia Silge), packaged by Debian as
``r-cran-janeaustenr`` (1.0.0-1, bookworm). Each novel is an R character vector, one element a line
of the Project Gutenberg text, empty strings for the blank lines, stored in the lazy-load database
``usr/lib/R/site-library/janeaustenr/data/Rdata.rdb`` with its index ``Rdata.rdx``.

This script fetches the ``.deb`` with ``apt-get download`` into a temporary directory, checks its
SHA-256, reads the two files from the package's ``data.tar.xz`` (what ``dpkg -x`` would unpack) and
decodes them with a small reader for R's XDR serialisation:

* ``Rdata.rdx`` is a gzip-compressed serialised list whose ``variables`` element maps each object
  name (``emma``, ``prideprejudice``, ...) to the byte offset and length of its record in the ``.rdb``;
* each ``.rdb`` record is a 4-byte big-endian uncompressed length and a zlib stream holding one
  serialised character vector (STRSXP) of CHARSXP strings, UTF-8 or ASCII.

Every line is written as it stands, in order, followed by LF: the blank lines between paragraphs
are kept, nothing is stripped, and the Gutenberg front matter (title, author) and the closing
lines of each novel stay in. Output: ``data/austen/train/<novel>.txt`` (five novels) and
``data/austen/test/persuasion.txt``, UTF-8.

Usage::

    python data/prepare_austen.py                              # data/austen/{train,test}/*.txt
    python data/prepare_austen.py --deb r-cran-janeaustenr_1.0.0-1_all.deb   # reuse a download
"""

import gzip
import hashlib
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import packages

PACKAGE = "r-cran-janeaustenr"
VERSION = "1.0.0-1"
DEB_SHA256 = "df6bddf211906d1ff404f8ff662c21b34e6660e7f54a311084e749050c019c95"
DATA_DIR = "usr/lib/R/site-library/janeaustenr/data"
RDB, RDX = f"{DATA_DIR}/Rdata.rdb", f"{DATA_DIR}/Rdata.rdx"
RELEASE = packages.Release(
    f"{PACKAGE} {VERSION}",
    "sha256",
    DEB_SHA256,
    lambda dest: packages.apt_get_download(PACKAGE, VERSION, dest, "--deb"),
)
DEFAULT_OUT = Path(__file__).resolve().parent / "austen"
DEB_HELP = f"use this {PACKAGE} .deb instead of running apt-get download"

# R object name -> output file, in order of publication. The last novel is held out as the language
# model's test split, in a folder of its own so that a glob over `train/` names the other five.
NOVELS: dict[str, str] = {
    "sensesensibility": "train/sense_and_sensibility.txt",
    "prideprejudice": "train/pride_and_prejudice.txt",
    "mansfieldpark": "train/mansfield_park.txt",
    "emma": "train/emma.txt",
    "northangerabbey": "train/northanger_abbey.txt",
    "persuasion": "test/persuasion.txt",
}

# R serialisation (R Internals, "Serialization Formats"): SEXP types and flag bits used here.
_SYMSXP, _LISTSXP, _CHARSXP, _LGLSXP, _INTSXP, _REALSXP, _STRSXP, _VECSXP = 1, 2, 9, 10, 13, 14, 16, 19
_REFSXP, _NILVALUE_SXP = 255, 254
_HAS_ATTR, _HAS_TAG = 1 << 9, 1 << 10
_LATIN1, _UTF8, _BYTES, _ASCII = 1 << 2, 1 << 3, 1 << 1, 1 << 6


@dataclass
class RVector:
    """An R vector or list read from a serialised stream.

    Attributes:
        values: The elements (``str``/``None`` for a character vector, ``int`` for an integer vector, ...).
        attributes: The attribute pairlist as a dict, e.g. ``{"names": RVector([...])}``.
    """

    values: list[Any]
    attributes: dict[str, Any] = field(default_factory=dict)

    def named(self) -> dict[str, Any]:
        """The elements keyed by the ``names`` attribute."""
        return dict(zip(self.attributes["names"].values, self.values, strict=True))


class RUnserializer:
    """Reader for the subset of R's XDR serialisation format (version 2 or 3) this package uses.

    It reads character, integer, logical, double and generic vectors, symbols, pairlists (as
    attribute lists) and references; anything else raises ``ValueError``.
    """

    def __init__(self, data: bytes) -> None:
        """Check the header of a serialised stream.

        Args:
            data: The stream, starting with ``X\\n``.

        Raises:
            ValueError: The stream is not XDR format version 2 or 3.
        """
        if data[:2] != b"X\n":
            raise ValueError(f"not an XDR R serialisation: starts with {data[:2]!r}")
        self.data, self.pos, self.refs = data, 2, []
        version = self._int()
        self._int()  # R version that wrote it
        self._int()  # minimal R version to read it
        if version == 3:
            self._take(self._int())  # native encoding name, e.g. UTF-8
        elif version != 2:
            raise ValueError(f"unsupported serialisation version {version}")

    def _int(self) -> int:
        (value,) = struct.unpack_from(">i", self.data, self.pos)
        self.pos += 4
        return value

    def _take(self, size: int) -> bytes:
        chunk = self.data[self.pos : self.pos + size]
        if len(chunk) != size:
            raise ValueError("serialised stream ends early")
        self.pos += size
        return chunk

    def read(self) -> Any:
        """Read the next object.

        Returns:
            ``None`` for NULL, ``str`` for a symbol, an ``RVector`` for a vector, a ``dict`` for a
            pairlist (tag -> value).

        Raises:
            ValueError: An object type outside the supported subset.
        """
        flags = self._int() & 0xFFFFFFFF
        sexp_type = flags & 0xFF
        if sexp_type == _NILVALUE_SXP:
            return None
        if sexp_type == _REFSXP:
            return self.refs[(flags >> 8) - 1]
        if sexp_type == _SYMSXP:
            name = self.read()
            self.refs.append(name)
            return name
        if sexp_type == _LISTSXP:
            return self._pairlist(flags)
        if sexp_type == _CHARSXP:
            return self._charsxp(flags)
        length = self._int()
        if sexp_type == _STRSXP:
            values = [self.read() for _ in range(length)]
        elif sexp_type in (_INTSXP, _LGLSXP):
            values = list(struct.unpack(f">{length}i", self._take(4 * length)))
        elif sexp_type == _REALSXP:
            values = list(struct.unpack(f">{length}d", self._take(8 * length)))
        elif sexp_type == _VECSXP:
            values = [self.read() for _ in range(length)]
        else:
            raise ValueError(f"unsupported R object type {sexp_type} at byte {self.pos - 8}")
        attributes = self.read() if flags & _HAS_ATTR else {}
        return RVector(values, attributes)

    def _pairlist(self, flags: int) -> dict[str, Any]:
        items: dict[str, Any] = {}
        while True:
            if flags & _HAS_ATTR:
                self.read()
            tag = self.read() if flags & _HAS_TAG else str(len(items))
            items[tag] = self.read()
            flags = self._int() & 0xFFFFFFFF
            if flags & 0xFF == _NILVALUE_SXP:
                return items
            if flags & 0xFF != _LISTSXP:
                raise ValueError(f"pairlist ends in object type {flags & 0xFF}")

    def _charsxp(self, flags: int) -> str | None:
        length = self._int()
        if length == -1:
            return None  # NA_character_
        raw = self._take(length)
        levels = flags >> 12
        if levels & _BYTES:
            raise ValueError(f"string marked as bytes: {raw[:40]!r}")
        return raw.decode("latin-1" if levels & _LATIN1 else "utf-8")


def read_novels(rdb: bytes, rdx: bytes) -> dict[str, list[str]]:
    """Decode the novels from the lazy-load database and its index.

    Args:
        rdb: ``Rdata.rdb``: records of a 4-byte big-endian length and a zlib stream.
        rdx: ``Rdata.rdx``: gzip-compressed serialised index.

    Returns:
        R object name -> the novel's lines, in order.

    Raises:
        ValueError: The index lacks a novel, a record's length is off, or a novel is not a
            character vector without NA.
    """
    index = RUnserializer(gzip.decompress(rdx)).read().named()
    variables = index["variables"].named()
    novels = {}
    for name in NOVELS:
        if name not in variables:
            raise ValueError(f"Rdata.rdx has no object {name!r} (has {sorted(variables)})")
        offset, size = variables[name].values
        record = rdb[offset : offset + size]
        (expected,) = struct.unpack(">I", record[:4])
        data = zlib.decompress(record[4:])
        if len(data) != expected:
            raise ValueError(f"{name}: record holds {len(data)} bytes, header says {expected}")
        vector = RUnserializer(data).read()
        if not isinstance(vector, RVector) or not all(isinstance(line, str) for line in vector.values):
            raise ValueError(f"{name}: not a character vector without NA")
        novels[name] = vector.values
    return novels


def read_deb(deb: Path) -> dict[str, list[str]]:
    """Read the novels from the package.

    Args:
        deb: Path of the ``r-cran-janeaustenr`` ``.deb``.

    Returns:
        R object name -> the novel's lines, in order.
    """
    files = packages.read_deb_files(deb, [RDB, RDX])
    return read_novels(files[RDB], files[RDX])


def write_novel(lines: list[str], path: Path) -> None:
    """Write one novel, a line per element, LF line ends, UTF-8.

    Args:
        lines: The novel's lines.
        path: Output file; its directory is created if needed.

    Raises:
        ValueError: A line holds a line break.
    """
    for line_no, line in enumerate(lines, start=1):
        if "\n" in line or "\r" in line:
            raise ValueError(f"{path.name} line {line_no}: line break inside a line")
    packages.write_lines(path, lines)


def print_summary(novels: dict[str, list[str]], out_dir: Path) -> None:
    """Print lines, blank lines, words, characters and bytes per novel.

    Args:
        novels: R object name -> lines, as written.
        out_dir: Where the files were written.
    """
    print(f"wrote {out_dir}")
    print(f"{'file':<26} {'lines':>6} {'blank':>6} {'words':>7} {'chars':>9} {'bytes':>9}  sha256")
    totals = [0, 0, 0, 0, 0]
    for name, file_name in NOVELS.items():
        lines = novels[name]
        data = (out_dir / file_name).read_bytes()
        text = data.decode("utf-8")
        row = [len(lines), sum(1 for line in lines if not line), len(text.split()), len(text), len(data)]
        totals = [total + value for total, value in zip(totals, row, strict=True)]
        digest = hashlib.sha256(data).hexdigest()
        print(f"{file_name:<26} {row[0]:>6} {row[1]:>6} {row[2]:>7} {row[3]:>9} {row[4]:>9}  {digest}")
    print(f"{'total':<26} {totals[0]:>6} {totals[1]:>6} {totals[2]:>7} {totals[3]:>9} {totals[4]:>9}")
    non_ascii = sorted({char for lines in novels.values() for line in lines for char in line if ord(char) > 127})
    print(f"non-ASCII characters: {' '.join(non_ascii) or 'none'}")


def main(argv: list[str] | None = None) -> None:
    """Fetch the package, decode the novels and write one file each.

    Args:
        argv: Arguments, without the program name; ``None`` reads ``sys.argv``.
    """
    args = packages.parse_args(__doc__, DEFAULT_OUT, "--deb", DEB_HELP, argv)
    novels = packages.read_package(RELEASE, args.deb, read_deb)
    for name, file_name in NOVELS.items():
        write_novel(novels[name], args.out / file_name)
    print_summary(novels, args.out)


if __name__ == "__main__":
    main()
