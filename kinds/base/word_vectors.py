"""Pretrained word vectors from a file, as the first values of a kind's word embedding (`model.word_vectors`).

The text formats people have, read line by line (a 1 GB GloVe file is streamed, and only the vocabulary's
rows are kept): word2vec's text format and fastText's `.vec` (a header line `count dimension`, then `word
v1 ... vd` a line), and GloVe's (the same lines without the header); any of them gzipped (`.gz`). A word
may hold spaces (GloVe's 840B vectors have some): a line's last `dimension` fields are the vector.

Rows are found by the vocabulary's word as written first, then by its lowercase form against the file's
words lowercased (a corpus that keeps case against vectors of lowercased text, or the other way round);
the others, and the reserved ids past padding, start random with the vectors' own spread, and padding
(id 0) is zeros. A row that cannot be read (ragged, too short, a non-number) is a `DataError` naming the
file and line: a half-read file never initialises a model.

Why not gensim's `KeyedVectors.load_word2vec_format`: it loads every row into memory (GloVe 840B: 2.2
million of 300 floats, about 2.6 GB) where a model needs its vocabulary's few thousand, and it reads
GloVe's header-less files only after a conversion; these formats are a line each, and gensim stays the
tool that makes them (`data/make_word_vectors.py`).
"""

from __future__ import annotations

import dataclasses
import gzip
import io
import math
import pathlib
from collections.abc import Iterator, Sequence

import numpy as np

from kinds.base.recipe import Choice
from pipeline.errors import DataError


@dataclasses.dataclass(frozen=True)
class Found:
    """How the vocabulary's words were found in a vectors file."""

    exact: int
    lowercased: int
    missing: int

    def describe(self, words: int) -> str:
        return (
            f"{self.exact + self.lowercased:,} of {words:,} words found ({self.exact:,} as written, "
            f"{self.lowercased:,} lowercased); the other {self.missing:,} start random"
        )


@dataclasses.dataclass(frozen=True)
class WordVectors:
    """An initial embedding matrix float32 [vocabulary, dimension] and how its rows were found."""

    matrix: np.ndarray
    found: Found

    @property
    def dimension(self) -> int:
        return int(self.matrix.shape[1])


def _open(path: pathlib.Path) -> io.BufferedIOBase:
    if not path.is_file():
        raise DataError(f"{path}: no such word vectors file")
    if path.name.removesuffix(".gz").endswith(".bin"):
        raise DataError(
            f"{path}: word2vec's binary format is not read; write it as text with gensim: "
            "KeyedVectors.load_word2vec_format(PATH, binary=True).save_word2vec_format(OUT, binary=False)"
        )
    return gzip.open(path, "rb") if path.suffix == ".gz" else path.open("rb")


def _first_dimension(fields: list[str]) -> int:
    """A header-less file's dimension, from its first row: the numbers at its end (all but the first when
    every field is one: a word that is a number)."""
    numbers = 0
    for field in reversed(fields):
        if not _is_number(field):
            break
        numbers += 1
    return len(fields) - 1 if numbers == len(fields) else numbers


def _header(fields: list[str]) -> tuple[int, int] | None:
    """(count, dimension) when a first line is word2vec's header, else None."""
    if len(fields) == 2 and all(field.isdigit() for field in fields):
        return int(fields[0]), int(fields[1])
    return None


def read(path: str | pathlib.Path) -> Iterator[tuple[str, np.ndarray]]:
    """Yields (word, vector float32 [dimension]) for each row of a vectors file, in order.

    Raises:
        DataError: the file is missing, not UTF-8, or has a row of another dimension or with a non-number,
            naming its line.
    """
    path = pathlib.Path(path)
    dimension = None
    with _open(path) as lines:
        for line_number, raw in enumerate(lines, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as error:
                raise DataError(f"{path}:{line_number}: not UTF-8 ({error.reason})") from None
            fields = line.rstrip("\r\n").rstrip(" ").split(" ")
            if line_number == 1 and (header := _header(fields)) is not None:
                dimension = header[1]
                continue
            if fields == [""]:
                continue  # a blank line (a trailing one, say)
            if dimension is None:
                dimension = _first_dimension(fields)  # GloVe: the first row says
                if dimension < 1:
                    raise DataError(f"{path}:{line_number}: a word without a vector: {line[:60]!r}")
            if len(fields) < dimension + 1:
                raise DataError(
                    f"{path}:{line_number}: {len(fields) - 1} values where the file's vectors have {dimension}"
                )
            word = " ".join(fields[: len(fields) - dimension])
            try:
                vector = np.asarray(fields[len(fields) - dimension :], dtype=np.float32)
            except ValueError:
                bad = next(field for field in fields[len(fields) - dimension :] if not _is_number(field))
                raise DataError(
                    f"{path}:{line_number}: {bad[:30]!r} is not a number (the vector of {word[:30]!r})"
                ) from None
            if len(fields) > dimension + 1 and not _is_number(fields[0]) and _is_number(fields[1]):
                # `word 0.1 ...` with one value too many: ragged, not a word with a space in it.
                raise DataError(
                    f"{path}:{line_number}: {len(fields) - 1} values where the file's vectors have {dimension}"
                )
            if not np.all(np.isfinite(vector)):
                raise DataError(f"{path}:{line_number}: a vector that is not finite (the vector of {word[:30]!r})")
            yield word, vector


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def dimension(path: str | pathlib.Path) -> int:
    """The vectors' dimension: the header's, or the first row's."""
    for _, vector in read(path):
        return int(vector.shape[0])
    raise DataError(f"{path}: no word vectors in the file")


def initial_embedding(
    path: str | pathlib.Path, words: Sequence[str], *, reserved: int, seed: int, lowercase_fallback: bool = True
) -> WordVectors:
    """The first values of an embedding of `words` (a vocabulary, its `reserved` entries first, padding at 0).

    A word's row is its vector in the file as written, else (with `lowercase_fallback`) that of the first
    file word with the same lowercase form (cased words against lowercased vectors, and the other way round);
    the first row a file gives a word is the one kept. The rows without a vector, and the reserved ones past
    padding, are drawn from a normal distribution with the found vectors' standard deviation; padding is 0.
    """
    index = {word: position for position, word in enumerate(words) if position >= reserved}
    lowered: dict[str, list[int]] = {}
    if lowercase_fallback:
        for word, position in index.items():
            lowered.setdefault(word.lower(), []).append(position)
    rows: dict[int, np.ndarray] = {}
    by_lowercase: dict[int, np.ndarray] = {}
    size = None
    for word, vector in read(path):
        size = vector.shape[0]
        position = index.get(word)
        if position is not None and position not in rows:
            rows[position] = vector
        for position in lowered.get(word.lower(), ()):
            by_lowercase.setdefault(position, vector)
    if size is None:
        raise DataError(f"{path}: no word vectors in the file")
    lowercased = {position: vector for position, vector in by_lowercase.items() if position not in rows}
    found = {**rows, **lowercased}
    spread = float(np.std(np.stack(list(found.values())))) if found else 1.0 / math.sqrt(size)
    rng = np.random.default_rng(seed)
    matrix = rng.normal(0.0, spread or 1.0 / math.sqrt(size), size=(len(words), size)).astype(np.float32)
    matrix[0] = 0.0
    for position, vector in found.items():
        matrix[position] = vector
    counted = Found(len(rows), len(lowercased), len(words) - reserved - len(found))
    return WordVectors(matrix, counted)


class Initialiser:
    """What a recipe does with `model.word_vectors`: reads the file once the vocabulary is known, says what it
    found, sizes the embedding by it, and sets the built embedding's first values (frozen if asked).

    Args:
        model_config: the task's model settings (`word_vectors`, `freeze_vectors`, `embedding_dim`).
        words: the vocabulary the embedding looks up, `reserved` entries first.
    """

    def __init__(self, model_config, words: Sequence[str], reserved: int) -> None:
        self.path = model_config.word_vectors
        self.freeze = model_config.freeze_vectors
        self.words = list(words)
        self.reserved = reserved
        self.vectors: WordVectors | None = None

    def fit(self) -> list[Choice]:
        """Reads the vectors, if a file is named; returns the embedding's size and what was found in it."""
        if self.path is None:
            return []
        # Random rows follow the training seed, which the train stage has given numpy.
        seed = int(np.random.randint(2**31 - 1))
        self.vectors = initial_embedding(self.path, self.words, reserved=self.reserved, seed=seed)
        frozen = "frozen" if self.freeze else "fine-tuned (model.freeze_vectors: true keeps them)"
        reason = (
            f"the word vectors' size ({pathlib.Path(self.path).name}: "
            f"{self.vectors.found.describe(len(self.words) - self.reserved)}; {frozen})"
        )
        return [Choice("model.embedding_dim", self.vectors.dimension, reason)]

    def model_config(self, model_config):
        """`model_config` with the embedding the size of the vectors."""
        if self.vectors is None:
            return model_config
        return dataclasses.replace(model_config, embedding_dim=self.vectors.dimension)

    def apply(self, embedding) -> None:
        """Sets a built Keras `Embedding`'s weights to the vectors, and freezes it if asked."""
        if self.vectors is None:
            return
        embedding.set_weights([self.vectors.matrix])
        if self.freeze:
            embedding.trainable = False
