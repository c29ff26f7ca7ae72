"""Unit tests of models.text (tokenizers, featurizer) and the preprocess stage's vocabulary helpers."""

import pytest
import tensorflow as tf

from components.preprocess.executor import shard_of
from kinds.base.layout import ordered_vocabulary
from models import text
from pipeline.config import PreprocessConfig

DEFAULT_PATTERN = PreprocessConfig().token_pattern


def tokenize(sentence: str, name: str = "regex") -> list[str]:
    tokens = text.make_tokenizer(name, DEFAULT_PATTERN).tokenize(tf.constant([sentence]))
    return [token.decode("utf-8") for token in tokens.to_list()[0]]


def strings(tensor) -> list:
    """A string tensor (dense or ragged) as nested lists of str."""
    values = tensor.to_list() if isinstance(tensor, tf.RaggedTensor) else tensor.numpy().tolist()

    def decode(value):
        return [decode(v) for v in value] if isinstance(value, list) else value.decode("utf-8")

    return decode(values)


# --------------------------------------------------------------------------- regex tokenizer


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        ("I didn't go", ["I", "didn't", "go"]),
        ("Atlanta's mayor", ["Atlanta's", "mayor"]),
        ("don’t", ["don’t"]),
        ("state-of-the-art", ["state-of-the-art"]),
        ("It cost $3.50 today", ["It", "cost", "$", "3.50", "today"]),
        ("1,000 men", ["1,000", "men"]),
        ("1/2 cup", ["1/2", "cup"]),
        ("at 10:30", ["at", "10:30"]),
        ("``Hello,'' he said", ["``", "Hello", ",", "''", "he", "said"]),
        ("yes -- no", ["yes", "--", "no"]),
        ("x--y", ["x", "--", "y"]),
        ("well...", ["well", "..."]),
        ("a,b;c!?(d)", ["a", ",", "b", ";", "c", "!", "?", "(", "d", ")"]),
        ("end.", ["end", "."]),
        ("It is 3.", ["It", "is", "3", "."]),
        ("  spaced \t out\n", ["spaced", "out"]),
    ],
)
def test_regex_tokenizer_cuts_like_the_brown_corpus(sentence, expected):
    assert tokenize(sentence) == expected


@pytest.mark.parametrize("sentence", ["", " ", " \t\n "])
def test_regex_tokenizer_gives_no_tokens_for_blank_text(sentence):
    assert tokenize(sentence) == []


@pytest.mark.parametrize("word", ["niño", "café", "über", "Zürich's"])
def test_regex_tokenizer_keeps_non_ascii_words_whole(word):
    assert tokenize(f"the {word} ran") == ["the", word, "ran"]


def test_regex_tokenizer_tokenizes_each_string_of_a_batch():
    tokenizer = text.make_tokenizer("regex", DEFAULT_PATTERN)

    tokens = tokenizer.tokenize(tf.constant(["a b.", "", "c"]))

    assert strings(tokens) == [["a", "b", "."], [], ["c"]]


def test_regex_tokenizer_keeps_the_matches_of_the_given_pattern():
    tokenizer = text.make_tokenizer("regex", r"[a-z]+|\d+")

    assert strings(tokenizer.tokenize(tf.constant(["ab 12 cd"]))) == [["ab", "12", "cd"]]


def test_regex_tokenizer_keeps_text_the_pattern_does_not_match():
    tokenizer = text.make_tokenizer("regex", r"[a-z]+")

    assert strings(tokenizer.tokenize(tf.constant(["ab, cd!"]))) == [["ab", ",", "cd", "!"]]


# --------------------------------------------------------------------------- other tokenizers


def test_whitespace_tokenizer_splits_on_white_space_only():
    assert tokenize("Hello,  world!\tdidn't  niño", "whitespace") == ["Hello,", "world!", "didn't", "niño"]


def test_unicode_script_tokenizer_splits_punctuation_and_keeps_words():
    assert tokenize("Hello, world! niño", "unicode_script") == ["Hello", ",", "world", "!", "niño"]


@pytest.mark.parametrize("name", ["whitespace", "unicode_script"])
def test_other_tokenizers_give_no_tokens_for_blank_text(name):
    assert tokenize(" \t ", name) == []


def test_unknown_tokenizer_is_a_value_error():
    with pytest.raises(ValueError, match="unknown tokenizer 'bpe'"):
        text.make_tokenizer("bpe", DEFAULT_PATTERN)


# --------------------------------------------------------------------------- normalize_words, split_chars


def test_normalize_words_keeps_case_unless_asked():
    tokens = tf.constant(["The", "ÑANDÚ"])

    assert strings(text.normalize_words(tokens, lowercase=False)) == ["The", "ÑANDÚ"]


def test_normalize_words_lowercases_unicode():
    assert strings(text.normalize_words(tf.constant(["The", "ÑANDÚ"]), lowercase=True)) == ["the", "ñandú"]


def test_normalize_words_lowercases_ragged_tokens():
    tokens = tf.ragged.constant([["The"], ["ÑANDÚ", "X"]])

    assert strings(text.normalize_words(tokens, lowercase=True)) == [["the"], ["ñandú", "x"]]


def test_split_chars_splits_into_code_points():
    assert strings(text.split_chars(tf.constant(["niño", "a", ""]), 10)) == [["n", "i", "ñ", "o"], ["a"], []]


def test_split_chars_keeps_at_most_max_word_length_chars():
    assert strings(text.split_chars(tf.constant(["abcdef", "ñañaña"]), 2)) == [["a", "b"], ["ñ", "a"]]


def test_split_chars_of_ragged_tokens_adds_a_ragged_dimension():
    chars = text.split_chars(tf.ragged.constant([["ab", "c"], ["d"]]), 5)

    assert strings(chars) == [[["a", "b"], ["c"]], [["d"]]]


# --------------------------------------------------------------------------- TaggerFeaturizer

WORDS = [*text.RESERVED_TOKENS, "the", "dog", "niño"]  # the=4, dog=5, niño=6
CHARS = [*text.RESERVED_TOKENS, "d", "o", "g", "ñ"]  # d=4, o=5, g=6, ñ=7
TAGS = [*text.RESERVED_TAGS, "DET", "NOUN"]  # DET=2, NOUN=3


def featurizer(lowercase: bool = False, max_word_length: int = 10) -> text.TaggerFeaturizer:
    return text.TaggerFeaturizer(WORDS, CHARS, TAGS, lowercase=lowercase, max_word_length=max_word_length)


def test_reserved_ids():
    assert (text.PAD_ID, text.UNK_ID, text.START_ID, text.END_ID) == (0, 1, 2, 3)
    assert text.RESERVED_TAGS == ("[PAD]", "[UNK]")


def test_token_ids_of_known_and_unknown_words():
    ids = featurizer().token_ids(tf.ragged.constant([["the", "dog", "cat"], ["niño"]]))

    assert ids.to_list() == [[4, 5, text.UNK_ID], [6]]


def test_token_ids_give_pad_id_to_empty_strings_of_a_dense_tensor():
    ids = featurizer().token_ids(tf.constant([["the", "cat", ""], ["dog", "", ""]]))

    assert ids.dtype == tf.int64
    assert ids.numpy().tolist() == [[4, text.UNK_ID, text.PAD_ID], [5, text.PAD_ID, text.PAD_ID]]


def test_token_ids_are_case_sensitive_by_default():
    assert featurizer().token_ids(tf.constant(["The", "DOG"])).numpy().tolist() == [text.UNK_ID, text.UNK_ID]


def test_token_ids_with_lowercase_look_words_up_lowercased():
    ids = featurizer(lowercase=True).token_ids(tf.constant(["The", "DOG", "NIÑO", ""]))

    assert ids.numpy().tolist() == [4, 5, 6, text.PAD_ID]


def test_char_ids_of_known_and_unknown_chars():
    ids = featurizer().char_ids(tf.ragged.constant([["dog", "dx"]]))

    assert ids.to_list() == [[[4, 5, 6], [4, text.UNK_ID]]]


def test_char_ids_count_a_non_ascii_char_as_one():
    assert featurizer().char_ids(tf.constant(["ñoño"])).to_list() == [[7, 5, 7, 5]]


def test_char_ids_are_truncated_to_max_word_length():
    ids = featurizer(max_word_length=2).char_ids(tf.constant(["dog", "ñoño", "d"]))

    assert ids.to_list() == [[4, 5], [7, 5], [4]]


def test_char_ids_of_padding_are_empty():
    ids = featurizer().char_ids(tf.constant([["dog", ""]]))

    assert ids.to_list() == [[[4, 5, 6], []]]


def test_char_ids_are_not_lowercased():
    ids = featurizer(lowercase=True).char_ids(tf.constant(["DOG"]))

    assert ids.to_list() == [[text.UNK_ID] * 3]


def test_tag_ids_of_known_and_unknown_tags():
    ids = featurizer().tag_ids(tf.ragged.constant([["DET", "NOUN"], ["VERB"]]))

    assert ids.to_list() == [[2, 3], [text.UNK_ID]]


def test_tag_strings_invert_tag_ids():
    tags = tf.constant([["DET", "NOUN"], ["NOUN", "DET"]])
    tagger_featurizer = featurizer()

    round_trip = tagger_featurizer.tag_strings(tagger_featurizer.tag_ids(tags))

    assert strings(round_trip) == [["DET", "NOUN"], ["NOUN", "DET"]]


def test_tag_strings_of_reserved_ids():
    assert strings(featurizer().tag_strings(tf.constant([0, 1]))) == ["[PAD]", "[UNK]"]


# --------------------------------------------------------------------------- ordered_vocabulary

RESERVED = ("[PAD]", "[UNK]")


def test_ordered_vocabulary_puts_reserved_tokens_first_with_count_zero():
    entries = ordered_vocabulary([("a", 3)], RESERVED, min_count=1, max_size=None)

    assert entries == [("[PAD]", 0), ("[UNK]", 0), ("a", 3)]


def test_ordered_vocabulary_orders_by_count_descending_then_token():
    counts = [("b", 2), ("c", 5), ("a", 2), ("B", 2), ("d", 1)]

    entries = ordered_vocabulary(counts, RESERVED, min_count=1, max_size=None)

    assert entries[len(RESERVED) :] == [("c", 5), ("B", 2), ("a", 2), ("b", 2), ("d", 1)]


def test_ordered_vocabulary_does_not_depend_on_input_order():
    counts = [("b", 2), ("c", 5), ("a", 2), ("d", 1)]

    forward = ordered_vocabulary(counts, RESERVED, min_count=1, max_size=None)
    backward = ordered_vocabulary(reversed(counts), RESERVED, min_count=1, max_size=None)

    assert forward == backward


def test_ordered_vocabulary_leaves_out_tokens_below_min_count():
    entries = ordered_vocabulary([("a", 3), ("b", 2), ("c", 1)], RESERVED, min_count=2, max_size=None)

    assert entries == [("[PAD]", 0), ("[UNK]", 0), ("a", 3), ("b", 2)]


def test_ordered_vocabulary_max_size_counts_the_reserved_entries():
    entries = ordered_vocabulary([("a", 3), ("b", 2), ("c", 1)], RESERVED, min_count=1, max_size=3)

    assert entries == [("[PAD]", 0), ("[UNK]", 0), ("a", 3)]


def test_ordered_vocabulary_does_not_duplicate_a_counted_reserved_token():
    entries = ordered_vocabulary([("[UNK]", 9), ("a", 3)], RESERVED, min_count=1, max_size=None)

    assert entries == [("[PAD]", 0), ("[UNK]", 0), ("a", 3)]


def test_ordered_vocabulary_of_no_counts_is_the_reserved_tokens():
    assert ordered_vocabulary([], text.RESERVED_TOKENS, min_count=1, max_size=None) == [
        (token, 0) for token in text.RESERVED_TOKENS
    ]


# --------------------------------------------------------------------------- shard_of


def test_shard_of_is_the_same_for_the_same_key():
    assert [shard_of("brown/ca01:3", 7) for _ in range(3)] == [shard_of("brown/ca01:3", 7)] * 3


def test_shard_of_does_not_depend_on_the_process():
    # Golden values of a SHA-256 of the key; Python's hash() of a str would change from process to process.
    assert [shard_of(key, 1000) for key in ("a", "b", "brown/ca01:3", "ñ")] == [250, 946, 655, 881]


@pytest.mark.parametrize("num_shards", [1, 2, 3, 16])
def test_shard_of_is_in_range_and_uses_every_shard(num_shards):
    shards = [shard_of(f"doc:{i}", num_shards) for i in range(200)]

    assert set(shards) == set(range(num_shards))
