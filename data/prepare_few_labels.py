#!/usr/bin/env python3
"""Few labels and much raw text, from the bundled Brown slice: the corpus of the language-model features
experiment (`configs/lm_features.yaml`, issue 33's done-when).

The 19,503 tagged sentences of `data/brown/brown_universal.txt` are ordered by a hash of their text (so the
choice does not follow the corpus's order of genres) and cut into three files under `data/brown/few_labels/`:
- `tagged.txt`: 450 tagged sentences, the tagger's training corpus (its eval split, a tenth, is cut from it);
- `tagged_test.txt`: the next 2,000 tagged sentences, the tagger's test file;
- `raw.txt`: the words of the other 17,053 sentences and nothing else: one sentence a paragraph (blank lines
  between), tokens joined by single spaces, tags dropped, the character language model's corpus.

No sentence is in two files, so the language model never reads the tagger's held-out sentences (the train
stage checks that too). Usage: python data/prepare_few_labels.py
"""

from __future__ import annotations

import hashlib
import pathlib

HERE = pathlib.Path(__file__).resolve().parent
SOURCE = HERE / "brown" / "brown_universal.txt"
OUT = HERE / "brown" / "few_labels"
TAGGED, TEST = 450, 2000


def words(line: str) -> str:
    """A `word/TAG word/TAG` line's words, joined by single spaces."""
    return " ".join(token.rsplit("/", 1)[0] for token in line.split())


def main() -> None:
    lines = [line for line in SOURCE.read_text(encoding="utf-8").splitlines() if line.strip()]
    order = sorted(range(len(lines)), key=lambda i: hashlib.sha256(lines[i].encode("utf-8")).hexdigest())
    parts = {
        "tagged.txt": sorted(order[:TAGGED]),
        "tagged_test.txt": sorted(order[TAGGED : TAGGED + TEST]),
        "raw.txt": sorted(order[TAGGED + TEST :]),
    }
    OUT.mkdir(parents=True, exist_ok=True)
    for name, chosen in parts.items():
        if name == "raw.txt":
            content = "\n\n".join(words(lines[i]) for i in chosen) + "\n"
        else:
            content = "\n".join(lines[i] for i in chosen) + "\n"
        (OUT / name).write_text(content, encoding="utf-8")
        print(f"{OUT / name}: {len(chosen):,} sentences")


if __name__ == "__main__":
    main()
