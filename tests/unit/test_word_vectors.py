"""Pretrained word vectors read from the formats people have, checked against gensim's own reader and
writer (the outside reference); the rows a vocabulary gets; one-line errors naming the file and line."""

from __future__ import annotations

import gzip

import numpy as np
import pytest
from gensim.models import KeyedVectors, Word2Vec

from kinds.base import word_vectors
from pipeline.errors import DataError

SENTENCES = [
    "the cat sat on the mat".split(),
    "the dog sat on the log".split(),
    "a cat and a dog met on a mat".split(),
    "Paris is in France and Rome is in Italy".split(),
] * 20
RESERVED = 4  # [PAD] [UNK] [START] [END]


@pytest.fixture(scope="module")
def gensim_vectors() -> KeyedVectors:
    model = Word2Vec(SENTENCES, vector_size=12, window=2, min_count=1, workers=1, seed=4, epochs=2)
    return model.wv


@pytest.mark.parametrize(
    ("name", "header"),
    [("vectors.txt", True), ("glove.txt", False), ("vectors.vec", True), ("vectors.txt.gz", True), ("glove.gz", False)],
)
def test_each_format_gives_the_rows_gensim_wrote(tmp_path, gensim_vectors, name, header):
    path = tmp_path / name
    gensim_vectors.save_word2vec_format(str(path), binary=False, write_header=header)
    if name.endswith(".gz"):
        assert gzip.open(path).read(1)  # gensim gzips by the suffix itself
    read_back = KeyedVectors.load_word2vec_format(str(path), binary=False, no_header=not header)
    vocabulary = ["[PAD]", "[UNK]", "[START]", "[END]", "cat", "Paris", "mat", "zebra"]
    loaded = word_vectors.initial_embedding(path, vocabulary, reserved=RESERVED, seed=0)
    assert word_vectors.dimension(path) == 12
    for position, word in enumerate(vocabulary[RESERVED:-1], start=RESERVED):
        np.testing.assert_allclose(loaded.matrix[position], read_back[word], rtol=1e-6)
    assert loaded.found == word_vectors.Found(exact=3, lowercased=0, missing=1)
    np.testing.assert_array_equal(loaded.matrix[0], 0.0)


def test_a_word_is_found_by_its_lowercase_form_when_not_as_written(tmp_path):
    path = tmp_path / "lower.txt"
    path.write_text("paris 1 2\nParis 5 6\nrome 3 4\ndog 7 8\n")
    vocabulary = ["[PAD]", "[UNK]", "[START]", "[END]", "Paris", "Rome", "dog", "Dog", "cat"]
    loaded = word_vectors.initial_embedding(path, vocabulary, reserved=RESERVED, seed=0)
    np.testing.assert_array_equal(loaded.matrix[4], [5, 6])  # as written first
    np.testing.assert_array_equal(loaded.matrix[5], [3, 4])  # by its lowercase form
    np.testing.assert_array_equal(loaded.matrix[6], [7, 8])
    np.testing.assert_array_equal(loaded.matrix[7], [7, 8])
    assert loaded.found == word_vectors.Found(exact=2, lowercased=2, missing=1)
    assert "4 of 5 words found (2 as written, 2 lowercased); the other 1 start random" in loaded.found.describe(5)


def test_rows_without_a_vector_are_random_with_the_vectors_spread_and_follow_the_seed(tmp_path):
    rng = np.random.default_rng(1)
    words = [f"w{i}" for i in range(200)]
    path = tmp_path / "v.txt"
    path.write_text("".join(f"{w} {' '.join(map(str, rng.normal(0, 3.0, 8)))}\n" for w in words))
    vocabulary = ["[PAD]", "[UNK]", "[START]", "[END]", *words, *(f"new{i}" for i in range(200))]
    first = word_vectors.initial_embedding(path, vocabulary, reserved=RESERVED, seed=5).matrix
    again = word_vectors.initial_embedding(path, vocabulary, reserved=RESERVED, seed=5).matrix
    other = word_vectors.initial_embedding(path, vocabulary, reserved=RESERVED, seed=6).matrix
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first[RESERVED + 200 :], other[RESERVED + 200 :])
    assert 2.5 < first[RESERVED + 200 :].std() < 3.5


def test_a_word_with_spaces_keeps_them(tmp_path):
    path = tmp_path / "glove840.txt"
    path.write_text("New York 0.5 0.25\ncity 1 2\n")
    assert list(word_vectors.read(path))[0][0] == "New York"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("2 3\na 1 2 3\nb 1 2\n", ":3: 2 values where the file's vectors have 3"),
        ("a 1 2 3\nb 1 2 3 4\n", ":2: 4 values where the file's vectors have 3"),
        ("a 1 2 3\nb 1 x 3\n", ":2: 'x' is not a number (the vector of 'b')"),
        ("a 1 2 nan\n", ":1: a vector that is not finite"),
        ("lonely\n", ":1: a word without a vector"),
        ("", ": no word vectors in the file"),
    ],
)
def test_a_bad_file_is_one_line_naming_its_line(tmp_path, content, message):
    path = tmp_path / "bad.txt"
    path.write_text(content)
    with pytest.raises(DataError) as raised:
        word_vectors.initial_embedding(path, ["[PAD]", "[UNK]", "[START]", "[END]", "a"], reserved=RESERVED, seed=0)
    assert str(raised.value) == f"{path}{message}" or str(raised.value).startswith(f"{path}{message}")
    assert "\n" not in str(raised.value)


def test_a_file_that_is_not_utf8_or_missing_is_one_line(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes("a 1 2\ncafé 3 4\n".encode("latin-1"))
    with pytest.raises(DataError, match=r"latin1.txt:2: not UTF-8"):
        list(word_vectors.read(path))
    with pytest.raises(DataError, match="no such word vectors file"):
        word_vectors.dimension(tmp_path / "nowhere.txt")


def test_a_binary_word2vec_file_is_refused_with_how_to_convert_it(tmp_path, gensim_vectors):
    path = tmp_path / "vectors.bin"
    gensim_vectors.save_word2vec_format(str(path), binary=True)
    with pytest.raises(DataError, match=r"vectors.bin: word2vec's binary format is not read; write it as text"):
        word_vectors.dimension(path)


class Vocabulary:
    """The part of a `Vocabulary` artifact a recipe reads."""

    def __init__(self, **tables: list[str]) -> None:
        self.tables = tables

    def names(self) -> list[str]:
        return list(self.tables)

    def tokens(self, name: str) -> list[str]:
        return self.tables[name]


class Shards:
    """The part of a `Shards` artifact a recipe's `fit_to_corpus` reads."""

    def manifest(self) -> dict:
        return {"splits": {"train": {"records": 1000, "tokens": 5000}}}


@pytest.mark.parametrize("freeze", [False, True])
def test_each_kind_that_embeds_words_starts_its_embedding_from_the_vectors(tmp_path, freeze):
    from kinds.base.parameters import TrainParameters
    from kinds.base.settings import TokenBudgetTrain
    from kinds.classifier.settings import ClassifierModel
    from kinds.classifier.train import ClassifierRecipe
    from kinds.tagger.settings import TaggerModel
    from kinds.tagger.train import TaggerRecipe
    from kinds.translator.settings import TranslatorModel
    from kinds.translator.train import TranslatorRecipe

    path = tmp_path / "vectors.txt"
    path.write_text("2 3\ncat 0.5 -1 2\nDog 1 2 3\n")
    words = ["[PAD]", "[UNK]", "[START]", "[END]", "cat", "dog", "emu"]
    vocabulary = Vocabulary(
        words=words, chars=["[PAD]", "[UNK]", "c"], tags=["[PAD]", "[UNK]", "N"], labels=["[PAD]", "[UNK]", "a"]
    )
    translator_vocabulary = Vocabulary(source_words=words, target_words=["[PAD]", "[UNK]", "[START]", "[END]", "x"])
    cases = [
        (TaggerRecipe, TaggerModel, vocabulary, "word_embedding"),
        (ClassifierRecipe, ClassifierModel, vocabulary, "word_embedding"),
        (TranslatorRecipe, TranslatorModel, translator_vocabulary, "source_embedding"),
    ]
    for recipe_class, model_class, tables, layer in cases:
        model_config = model_class(embedding_dim=8, hidden_dim=4, word_vectors=str(path), freeze_vectors=freeze)
        recipe = recipe_class(TrainParameters(recipe_class.__name__, model_config, TokenBudgetTrain(epochs=1)), tables)
        (choice,) = [c for c in recipe.fit_to_corpus(Shards()) if c.key == "model.embedding_dim"]
        assert choice.value == 3 and "2 of 3 words found (1 as written, 1 lowercased)" in choice.reason
        model = recipe.build()
        embedding = getattr(model, layer) if layer == "source_embedding" else model.get_layer(layer)
        matrix = embedding.get_weights()[0]
        np.testing.assert_array_equal(matrix[4], [0.5, -1, 2])
        np.testing.assert_array_equal(matrix[5], [1, 2, 3])
        assert embedding.trainable is not freeze, recipe_class.__name__
