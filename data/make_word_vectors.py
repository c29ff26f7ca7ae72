#!/usr/bin/env python3
"""Make a word-vectors file from text the project has: word2vec (gensim) on the five Austen novels of the
language model's training split, written in word2vec's text format, gzipped.

The file is for `model.word_vectors` in examples and tests, and for trying the feature on a machine that
cannot download GloVe or fastText: English words of the early nineteenth century, a little over 600,000
running words, so its vectors know the frequent words well and the rare ones not at all.

How (the defaults): the text lowercased and cut into words and punctuation marks by a regular
expression (a word may hold an apostrophe or a hyphen), one sentence a line of the novels' paragraphs;
skip-gram with negative sampling, 50 dimensions, a window of 5, words seen at least 5 times, 10 epochs,
one worker thread, a fixed seed and a hash of words that does not change from one process to the next
(gensim's default, Python's `hash`, does), so the same gensim version makes the same vectors.

Needs gensim (a dev dependency in requirements.txt). Usage::

    python data/make_word_vectors.py                      # data/vectors/austen_50d.txt.gz
    python data/make_word_vectors.py --dim 100 --out /tmp/austen_100d.txt.gz
"""

from __future__ import annotations

import argparse
import hashlib
import pathlib
import re
import shutil
import tempfile

HERE = pathlib.Path(__file__).resolve().parent
TOKEN = re.compile(r"\w+(?:['’-]\w+)*|[^\w\s]")


def stable_hash(text: str) -> int:
    """What seeds a word's first vector: the same in every process (Python's `hash` of a str is not)."""
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:4], "big")


def sentences(folder: pathlib.Path) -> list[list[str]]:
    """The novels' paragraphs (blank-line separated), lowercased and tokenized, in file-name order."""
    found = []
    for path in sorted(folder.glob("*.txt")):
        for paragraph in re.split(r"\n\s*\n", path.read_text(encoding="utf-8")):
            tokens = TOKEN.findall(paragraph.lower())
            if tokens:
                found.append(tokens)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--text", type=pathlib.Path, default=HERE / "austen" / "train")
    parser.add_argument("--out", type=pathlib.Path, default=HERE / "vectors" / "austen_50d.txt.gz")
    parser.add_argument("--dim", type=int, default=50)
    parser.add_argument("--min-count", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    from gensim.models import Word2Vec

    corpus = sentences(args.text)
    model = Word2Vec(
        corpus,
        vector_size=args.dim,
        window=5,
        min_count=args.min_count,
        sg=1,
        negative=5,
        epochs=args.epochs,
        workers=1,
        seed=args.seed,
        hashfxn=stable_hash,
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=args.out.parent) as scratch:
        partial = pathlib.Path(scratch) / args.out.name  # gensim gzips by the suffix
        model.wv.save_word2vec_format(str(partial), binary=False)
        shutil.move(partial, args.out)  # only a complete file takes the name
    words = sum(map(len, corpus))
    print(f"{args.out}: {len(model.wv):,} words of {args.dim} dimensions from {words:,} running words")


if __name__ == "__main__":
    main()
