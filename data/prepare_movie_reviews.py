#!/usr/bin/env python3
"""Build the sentence-polarity corpus: movie-review snippets rated by people, labelled positive/negative.

The snippets are the 10,605 sentence-level movie-review snippets of Hutto and Gilbert (2014), cut from
the 2,000 Rotten Tomatoes reviews of Pang and Lee (2004) and each rated for sentiment by at least 20
people (mean valence, -4 to +4). They ship inside the source distribution of ``vaderSentiment==3.3.2``
on PyPI (the wheel lacks them), in ``additional_resources/hutto_ICWSM_2014.tar.gz``, file
``movieReviewSnippets_GroundTruth.txt``: ``id<TAB>mean valence<TAB>text``, CRLF line ends.

This script fetches the sdist with ``pip download`` into a temporary directory, checks its SHA-256,
reads the snippet file straight from the nested tarballs and writes one snippet a line,
``label<TAB>text``, in the file's (id) order:

* the label is ``positive`` if the mean valence is above 0 and ``negative`` if below; the snippets
  rated exactly 0 are left out;
* each line is decoded as UTF-8; in a line that is not valid UTF-8, the stray bytes are decoded as
  cp1252 (latin-1 for the bytes cp1252 leaves undefined); the number of such lines is printed;
* the XML entities ``&amp; &lt; &gt; &quot; &apos;`` are unescaped (the file has ``PB&amp; J``);
* white space inside the text (runs of spaces, TABs, CRs) is folded to single spaces, and the ends trimmed.

Output: ``data/movie_reviews/polarity.tsv``, UTF-8, LF line ends, no header. Every non-zero snippet
is written (there is no slice: the file is about 1.3 MB).

Usage::

    python data/prepare_movie_reviews.py                  # data/movie_reviews/polarity.tsv
    python data/prepare_movie_reviews.py --sdist vaderSentiment-3.3.2.tar.gz   # reuse a download
"""

import codecs
import hashlib
import io
import re
import tarfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import packages

RELEASE = packages.pypi_sdist(
    "vaderSentiment-3.3.2.tar.gz", "5d7c06e027fc8b99238edb0d53d970cf97066ef97654009890b83703849632f9"
)
INNER_TARBALL = "vaderSentiment-3.3.2/additional_resources/hutto_ICWSM_2014.tar.gz"
SNIPPETS = "hutto_ICWSM_2014/movieReviewSnippets_GroundTruth.txt"
DEFAULT_OUT = Path(__file__).resolve().parent / "movie_reviews"
OUT_NAME = "polarity.tsv"

_ENTITIES = {"amp": "&", "lt": "<", "gt": ">", "quot": '"', "apos": "'"}
_ENTITY = re.compile(r"&(amp|lt|gt|quot|apos);")


@dataclass(frozen=True)
class Snippet:
    """One rated snippet.

    Attributes:
        snippet_id: The id in the source file (1 ... 10605).
        valence: Mean sentiment rating of the raters, -4 to +4.
        text: The snippet, white space folded, entities unescaped.
    """

    snippet_id: int
    valence: float
    text: str


@dataclass
class ReadStats:
    """What reading the source file ran into.

    Attributes:
        lines: Snippet lines read.
        fallback_lines: Lines that were not valid UTF-8 and were decoded as cp1252 or latin-1.
        non_ascii_lines: Lines holding any non-ASCII character.
        entities: XML entities unescaped.
        folded_lines: Lines whose text had white space folded (runs of spaces, TAB or CR inside).
    """

    lines: int = 0
    fallback_lines: int = 0
    non_ascii_lines: int = 0
    entities: int = 0
    folded_lines: int = 0


def read_snippet_file(sdist: Path) -> bytes:
    """Read ``movieReviewSnippets_GroundTruth.txt`` from the tarball nested in the sdist.

    Args:
        sdist: Path of ``vaderSentiment-3.3.2.tar.gz``.

    Returns:
        The raw bytes of the snippet file.
    """
    with tarfile.open(sdist, "r:gz") as outer:
        inner_bytes = packages.read_member(outer, INNER_TARBALL)
    with tarfile.open(fileobj=io.BytesIO(inner_bytes), mode="r:gz") as inner:
        return packages.read_member(inner, SNIPPETS)


def _single_byte(byte: int) -> str:
    """Decode one byte as cp1252, or as latin-1 where cp1252 leaves it undefined (0x81, 0x8D, ...)."""
    try:
        return bytes([byte]).decode("cp1252")
    except UnicodeDecodeError:
        return bytes([byte]).decode("latin-1")


def _legacy_fallback(err: UnicodeError) -> tuple[str, int]:
    """Codec error handler: decode the bytes that are not valid UTF-8 one by one as cp1252/latin-1."""
    if not isinstance(err, UnicodeDecodeError):
        raise err
    return "".join(_single_byte(byte) for byte in err.object[err.start : err.end]), err.end


codecs.register_error("seqpipe-cp1252-fallback", _legacy_fallback)


def decode_line(raw: bytes, stats: ReadStats) -> str:
    """Decode one line as UTF-8; where a line is not valid UTF-8, decode its stray bytes as cp1252.

    The valid UTF-8 sequences of such a line stay UTF-8, and each byte that is not part of one is
    read as cp1252 (latin-1 for the five bytes cp1252 leaves undefined), so a line that mixes the
    two encodings comes out right.

    Args:
        raw: The line's bytes, without its line end.
        stats: Counters to update.

    Returns:
        The decoded line.
    """
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        stats.fallback_lines += 1
        return raw.decode("utf-8", errors="seqpipe-cp1252-fallback")


def clean_text(text: str, stats: ReadStats) -> str:
    """Unescape the XML entities and fold white space.

    Args:
        text: Snippet text as it stands in the file.
        stats: Counters to update.

    Returns:
        The cleaned text: no TAB, CR or LF, single spaces, no space at either end.
    """
    text, n_entities = _ENTITY.subn(lambda match: _ENTITIES[match.group(1)], text)
    stats.entities += n_entities
    folded = " ".join(text.split())
    if folded != text.strip(" "):
        stats.folded_lines += 1
    return folded


def parse_snippets(raw: bytes) -> tuple[list[Snippet], ReadStats]:
    """Parse the snippet file: ``id<TAB>valence<TAB>text`` a line, any line end.

    Args:
        raw: The file's bytes.

    Returns:
        The snippets in file order, and what reading them ran into.

    Raises:
        ValueError: A line lacks a field, has a bad id or valence, or an empty text; ids are not 1, 2, ...
    """
    stats = ReadStats()
    snippets = []
    for line_no, raw_line in enumerate(raw.split(b"\n"), start=1):
        raw_line = raw_line.rstrip(b"\r")
        if not raw_line.strip():
            continue
        line = decode_line(raw_line, stats)
        stats.lines += 1
        if any(ord(char) > 127 for char in line):
            stats.non_ascii_lines += 1
        fields = line.split("\t", 2)
        if len(fields) != 3:
            raise ValueError(f"line {line_no}: expected id, valence and text, got {line[:80]!r}")
        snippet_id, valence, text = int(fields[0]), float(fields[1]), clean_text(fields[2], stats)
        if snippet_id != len(snippets) + 1:
            raise ValueError(f"line {line_no}: id {snippet_id}, expected {len(snippets) + 1}")
        if not text:
            raise ValueError(f"line {line_no}: empty text")
        snippets.append(Snippet(snippet_id, valence, text))
    return snippets, stats


def label(valence: float) -> str | None:
    """Polarity label of a mean valence.

    Args:
        valence: Mean rating.

    Returns:
        ``positive`` above 0, ``negative`` below 0, ``None`` for exactly 0.
    """
    if valence > 0:
        return "positive"
    if valence < 0:
        return "negative"
    return None


def write_corpus(snippets: list[Snippet], path: Path) -> Counter[str]:
    """Write ``label<TAB>text`` lines for the snippets with a non-zero valence (UTF-8, LF).

    Args:
        snippets: All snippets, in file order.
        path: Output file; its directory is created if needed.

    Returns:
        Lines written per label.
    """
    labelled = [(label(snippet.valence), snippet.text) for snippet in snippets]
    kept = [(polarity, text) for polarity, text in labelled if polarity is not None]
    packages.write_lines(path, (f"{polarity}\t{text}" for polarity, text in kept))
    return Counter(polarity for polarity, _ in kept)


def print_summary(snippets: list[Snippet], stats: ReadStats, counts: Counter[str], path: Path) -> None:
    """Print what was read and written.

    Args:
        snippets: All snippets read.
        stats: What reading them ran into.
        counts: Lines written per label.
        path: The file written.
    """
    data = path.read_bytes()
    zero = sum(1 for snippet in snippets if snippet.valence == 0)
    texts = Counter(snippet.text for snippet in snippets if snippet.valence != 0)
    words = [len(snippet.text.split()) for snippet in snippets if snippet.valence != 0]
    print(f"wrote {path}: {len(data)} bytes, SHA-256 {hashlib.sha256(data).hexdigest()}")
    print(
        f"{stats.lines} snippets read, valence {min(s.valence for s in snippets)} .. {max(s.valence for s in snippets)}"
    )
    print(f"  {counts['positive']} positive, {counts['negative']} negative written; {zero} with valence 0 left out")
    print(f"  {stats.fallback_lines} lines needed the cp1252/latin-1 fallback (not valid UTF-8)")
    print(f"  {stats.non_ascii_lines} lines hold non-ASCII characters")
    print(f"  {stats.entities} XML entities unescaped; {stats.folded_lines} lines had white space folded")
    repeated = [n for n in texts.values() if n > 1]
    print(f"  {sum(repeated) - len(repeated)} repeated texts ({len(repeated)} distinct texts occur more than once)")
    print(f"  words a snippet: min {min(words)}, mean {sum(words) / len(words):.1f}, max {max(words)}")


def main(argv: list[str] | None = None) -> None:
    """Fetch the sdist, read the snippets and write the labelled corpus.

    Args:
        argv: Arguments, without the program name; ``None`` reads ``sys.argv``.
    """
    args = packages.parse_args(__doc__, DEFAULT_OUT, "--sdist", packages.sdist_help(RELEASE), argv)
    snippets, stats = parse_snippets(packages.read_package(RELEASE, args.sdist, read_snippet_file))
    path = args.out / OUT_NAME
    counts = write_corpus(snippets, path)
    print_summary(snippets, stats, counts, path)


if __name__ == "__main__":
    main()
