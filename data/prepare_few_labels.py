#!/usr/bin/env python3
"""Few labels and much raw text: the corpora of the language-model features experiments (issue 33).

`brown` (the default), from the bundled Brown slice, for the tagger (`configs/lm_features.yaml`, the issue's
done-when):

The 19,503 tagged sentences of `data/brown/brown_universal.txt` are ordered by a hash of their text (so the
choice does not follow the corpus's order of genres) and cut into three files under `data/brown/few_labels/`:
- `tagged.txt`: 450 tagged sentences, the tagger's training corpus (its eval split, a tenth, is cut from it);
- `tagged_test.txt`: the next 2,000 tagged sentences, the tagger's test file;
- `raw.txt`: the words of the other 17,053 sentences and nothing else: one sentence a paragraph (blank lines
  between), tokens joined by single spaces, tags dropped, the character language model's corpus.

`movie_reviews`, from `data/movie_reviews/polarity.tsv` (`python data/prepare_movie_reviews.py` makes it), for
the classifier (`configs/lm_features_reviews.yaml`): its 10,568 labelled snippets, ordered the same way, cut into
`data/movie_reviews/few_labels/`:
- `labelled.tsv`: 1,000 snippets, `label<TAB>text`, the classifier's training corpus (with its eval split);
- `labelled_test.tsv`: the next 2,000, its test file;
- `raw.txt`: the text alone of the others, one snippet a paragraph, less any whose text (white space removed)
  is also a labelled one's (the corpus repeats two).

`hebrew_htb`, from UD Hebrew-HTB (`python data/prepare_hebrew_htb.py` makes `data/hebrew_htb/`), for the
tagger in another language and script (`configs/lm_features_hebrew.yaml`): its 4,937 training sentences, ordered
the same way, cut into `data/hebrew_htb/few_labels/`:
- `tagged.conllu`: 450 sentences, unchanged, the tagger's training corpus (with its eval split); its test file
  is the treebank's own `test.conllu`;
- `raw.txt`: the words (the syntactic words a tagger reads, prefixes split off) of the other 4,487, one
  sentence a paragraph, less any whose words (white space removed) are also a tagged, dev or test sentence's
  (the treebank's training set repeats 10 of its test sentences, so 4,477 are kept). Dev and test sentences
  are in no file here.

No sentence is in two files, so the language model never reads the held-out sentences (the train stage checks
that too). Usage: python data/prepare_few_labels.py [brown|movie_reviews|hebrew_htb]
"""

from __future__ import annotations

import argparse
import hashlib
import pathlib

HERE = pathlib.Path(__file__).resolve().parent
SOURCE = HERE / "brown" / "brown_universal.txt"
OUT = HERE / "brown" / "few_labels"
TAGGED, TEST = 450, 2000
REVIEWS = HERE / "movie_reviews" / "polarity.tsv"
REVIEWS_OUT = HERE / "movie_reviews" / "few_labels"
LABELLED = 1000
HEBREW = HERE / "hebrew_htb" / "train.conllu"
HEBREW_OUT = HERE / "hebrew_htb" / "few_labels"


def words(line: str) -> str:
    """A `word/TAG word/TAG` line's words, joined by single spaces."""
    return " ".join(token.rsplit("/", 1)[0] for token in line.split())


def hash_order(lines: list[str]) -> list[int]:
    """The lines' indices ordered by a hash of their text."""
    return sorted(range(len(lines)), key=lambda i: hashlib.sha256(lines[i].encode("utf-8")).hexdigest())


def squeezed(text: str) -> str:
    return "".join(text.split())


def brown() -> None:
    lines = [line for line in SOURCE.read_text(encoding="utf-8").splitlines() if line.strip()]
    order = hash_order(lines)
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


def movie_reviews() -> None:
    if not REVIEWS.exists():
        raise SystemExit(f"error: {REVIEWS} is missing; make it with python data/prepare_movie_reviews.py")
    lines = [line for line in REVIEWS.read_text(encoding="utf-8").splitlines() if line.strip()]
    order = hash_order(lines)
    labelled, test, rest = order[:LABELLED], order[LABELLED : LABELLED + TEST], order[LABELLED + TEST :]
    texts = [line.split("\t", 1)[1] for line in lines]
    held = {squeezed(texts[i]) for i in labelled + test}
    raw = [i for i in sorted(rest) if squeezed(texts[i]) not in held]
    REVIEWS_OUT.mkdir(parents=True, exist_ok=True)
    for name, chosen in (("labelled.tsv", sorted(labelled)), ("labelled_test.tsv", sorted(test))):
        (REVIEWS_OUT / name).write_text("".join(lines[i] + "\n" for i in chosen), encoding="utf-8")
        print(f"{REVIEWS_OUT / name}: {len(chosen):,} snippets")
    (REVIEWS_OUT / "raw.txt").write_text("\n\n".join(texts[i] for i in raw) + "\n", encoding="utf-8")
    print(f"{REVIEWS_OUT / 'raw.txt'}: {len(raw):,} snippets ({len(rest) - len(raw)} left out: a labelled one's text)")


def conllu_sentences(path: pathlib.Path) -> list[list[str]]:
    """Each sentence of a CoNLL-U file, its lines (comments included)."""
    sentences, sentence = [], []
    for line in [*path.read_text(encoding="utf-8").splitlines(), ""]:
        if line.strip():
            sentence.append(line)
        elif sentence:
            sentences.append(sentence)
            sentence = []
    return sentences


def conllu_words(sentence: list[str]) -> str:
    """A CoNLL-U sentence's words (not its multiword tokens' ranges nor empty nodes), joined by single spaces."""
    return " ".join(line.split("\t")[1] for line in sentence if line.split("\t", 1)[0].isdigit())


def hebrew_htb() -> None:
    if not HEBREW.exists():
        raise SystemExit(f"error: {HEBREW} is missing; make it with python data/prepare_hebrew_htb.py")
    sentences = conllu_sentences(HEBREW)
    order = hash_order(["\n".join(sentence) for sentence in sentences])
    tagged, rest = sorted(order[:TAGGED]), sorted(order[TAGGED:])
    held = [sentences[i] for i in tagged] + [
        s for name in ("dev", "test") for s in conllu_sentences(HEBREW.with_name(f"{name}.conllu"))
    ]
    held_words = {squeezed(conllu_words(sentence)) for sentence in held}
    raw = [i for i in rest if squeezed(conllu_words(sentences[i])) not in held_words]
    HEBREW_OUT.mkdir(parents=True, exist_ok=True)
    text = "".join(line + "\n" for i in tagged for line in [*sentences[i], ""])
    (HEBREW_OUT / "tagged.conllu").write_text(text, encoding="utf-8")
    print(f"{HEBREW_OUT / 'tagged.conllu'}: {len(tagged):,} sentences")
    (HEBREW_OUT / "raw.txt").write_text("\n\n".join(conllu_words(sentences[i]) for i in raw) + "\n", encoding="utf-8")
    print(
        f"{HEBREW_OUT / 'raw.txt'}: {len(raw):,} sentences ({len(rest) - len(raw)} left out: held-out sentences' words)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    corpora = {"brown": brown, "movie_reviews": movie_reviews, "hebrew_htb": hebrew_htb}
    parser.add_argument("corpus", nargs="?", choices=tuple(corpora), default="brown")
    corpora[parser.parse_args().corpus]()


if __name__ == "__main__":
    main()
