"""`models.text.TextTokenizer` on hand-written cases: every tokenizer, normalisation, learned wordpieces."""

from __future__ import annotations

import pytest
import tensorflow as tf

from models import text
from pipeline.config import PreprocessConfig

PATTERN = PreprocessConfig.token_pattern


def tokenize(name: str, texts: list[str], **options) -> list[list[str]]:
    tokens = text.TextTokenizer(name, pattern=PATTERN, **options)(tf.constant(texts))
    return [[t.decode("utf-8") for t in row] for row in tokens.to_list()]


def test_characters_keep_white_space_and_count_code_points():
    assert tokenize("characters", ["a b", "né", ""]) == [["a", " ", "b"], ["n", "é"], []]


def test_characters_of_invalid_utf8_are_replacement_characters():
    tokens = text.TextTokenizer("characters", pattern=PATTERN)(tf.constant([b"a\xffb"]))
    assert [t.decode("utf-8") for t in tokens[0].numpy()] == ["a", "\ufffd", "b"]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("regex", ["Don't", "stop", "--", "3.50", "!"]),
        ("whitespace", ["Don't", "stop", "--", "3.50!"]),
        # Digits and punctuation share the Common script: one token.
        ("unicode_script", ["Don", "'", "t", "stop", "--3.50!"]),
    ],
)
def test_word_tokenizers_cut_the_same_text_their_own_way(name, expected):
    assert tokenize(name, ["Don't stop -- 3.50!"]) == [expected]


def test_regex_tokenizer_splits_at_unicode_spaces():
    assert tokenize("regex", ["a\u00a0b\u3000c\u2009d"]) == [["a", "b", "c", "d"]]


def test_nfkc_folds_compatibility_characters_before_tokenizing():
    # U+FB01 LATIN SMALL LIGATURE FI, fullwidth digits, a non-breaking space.
    raw = "\ufb01ne \uff11\uff12\u00a0apples"

    assert tokenize("regex", [raw]) == [["\ufb01ne", "\uff11\uff12", "apples"]]
    assert tokenize("regex", [raw], normalization="nfkc") == [["fine", "12", "apples"]]


def test_nfc_composes_but_keeps_compatibility_characters():
    decomposed = "cafe\u0301 \ufb01"

    assert tokenize("characters", [decomposed], normalization="nfc") == [["c", "a", "f", "é", " ", "\ufb01"]]


def test_unknown_normalization_is_a_value_error():
    with pytest.raises(ValueError, match="unknown normalization 'nfx'"):
        text.TextTokenizer("regex", pattern=PATTERN, normalization="nfx")(tf.constant(["a"]))


def test_only_wordpiece_takes_a_wordpiece_vocabulary():
    with pytest.raises(ValueError, match="the regex tokenizer takes no wordpiece vocabulary"):
        text.TextTokenizer("regex", pattern=PATTERN, wordpieces=["[UNK]"])


def test_wordpiece_without_its_vocabulary_only_pretokenizes():
    tokenizer = text.TextTokenizer("wordpiece", pattern=PATTERN, lowercase=True)

    assert tokenizer.pretokenize(tf.constant(["Hello, World"])).to_list() == [[b"hello", b",", b"world"]]
    with pytest.raises(ValueError, match="needs its learned vocabulary"):
        tokenizer(tf.constant(["Hello"]))


WORDPIECES = [*text.RESERVED_TOKENS, "play", "walk", "s", "##ing", "##ed", "##s", ",", "!"]


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        ("playing", ["play", "##ing"]),
        ("Walked, plays!", ["walk", "##ed", ",", "play", "##s", "!"]),
        ("xylophone", ["[UNK]"]),  # no piece starts it: the whole word is unknown
        ("", []),
    ],
)
def test_wordpiece_splits_each_word_into_the_longest_pieces(sentence, expected):
    assert tokenize("wordpiece", [sentence], lowercase=True, wordpieces=WORDPIECES) == [expected]


def test_wordpiece_keeps_case_unless_lowercase():
    assert tokenize("wordpiece", ["Play"], wordpieces=WORDPIECES) == [["[UNK]"]]


def test_learned_wordpieces_start_with_the_reserved_tokens_and_cover_the_words():
    counts = [("lower", 40), ("lowest", 30), ("newer", 35), ("newest", 25), ("wider", 20), ("widest", 15)]

    pieces = text.learn_wordpieces(counts, vocab_size=40)

    assert pieces[: len(text.RESERVED_TOKENS)] == list(text.RESERVED_TOKENS)
    assert len(pieces) == len(set(pieces)) <= 40
    tokens = tokenize("wordpiece", ["lower newest wider"], wordpieces=pieces)[0]
    assert "[UNK]" not in tokens
    assert "".join(t.removeprefix("##") for t in tokens) == "lowernewestwider"


def test_learned_wordpieces_do_not_depend_on_the_order_of_the_counts():
    counts = [("lower", 40), ("lowest", 30), ("newer", 35), ("newest", 25)]

    assert text.learn_wordpieces(counts, 30) == text.learn_wordpieces(list(reversed(counts)), 30)
