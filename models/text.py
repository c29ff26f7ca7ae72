"""Text to ids, in TensorFlow: the one implementation used by preprocessing, training and serving.

Preprocessing runs these functions inside its Beam workers to write the shards, and the exported
SavedModel runs the same functions in its graph, so a string gets the same ids in both places.
"""

from __future__ import annotations

from collections.abc import Sequence

import tensorflow as tf
import tensorflow_text as tf_text

from models.names import NORMALIZATIONS, TOKENIZERS

RESERVED_TOKENS = ("[PAD]", "[UNK]", "[START]", "[END]")
PAD_ID, UNK_ID, START_ID, END_ID = range(len(RESERVED_TOKENS))
# Tag vocabularies reserve padding and unknown only: a tag is never a sequence boundary.
RESERVED_TAGS = RESERVED_TOKENS[:2]

# Feature keys of the SequenceExample shards.
KEY = "key"
TEXT = "text"
SOURCE = "source"
TARGET = "target"
SOURCE_IDS = "source_ids"
TARGET_IDS = "target_ids"
TARGET_IN = "target_in"  # a decoder's input: the target ids from [START], without the last
TOKENS = "tokens"
TOKEN_IDS = "token_ids"
CHAR_IDS = "char_ids"
TAGS = "tags"
TAG_IDS = "tag_ids"

LABEL = "label"
LABEL_ID = "label_id"

# A wordpiece that continues a word starts with this (`playing` -> `play`, `##ing`), as in BERT.
WORDPIECE_SUFFIX = "##"


class RegexTokenizer(tf_text.Tokenizer):
    """Splits at white space (Unicode's too: RE2's `\\s` is ASCII only) and around every match of `pattern`.

    Every match is a token; text between matches that is not white space stays a token too, so
    nothing but white space is ever dropped. A pattern that matches every non-space character (like
    the default) fully decides how text is cut.
    """

    def __init__(self, pattern: str) -> None:
        super().__init__()
        self.pattern = pattern

    def tokenize(self, input: tf.Tensor) -> tf.RaggedTensor:  # noqa: A002 (the tf_text signature)
        """Splits `input` string [batch] into tokens string [batch, (tokens)]."""
        spaced = tf.strings.regex_replace(input, r"\pZ", " ")  # no-break, thin, ideographic... spaces
        # regex_split drops the empty pieces between adjacent kept delimiters.
        return tf_text.regex_split(spaced, rf"\s+|({self.pattern})", rf"({self.pattern})")


class CharacterTokenizer(tf_text.Tokenizer):
    """Every Unicode character is a token, white space included (what a character model reads)."""

    def tokenize(self, input: tf.Tensor) -> tf.RaggedTensor:  # noqa: A002 (the tf_text signature)
        """Splits `input` string [batch] into characters string [batch, (chars)]."""
        return tf.strings.unicode_split(input, "UTF-8", errors="replace")


def make_tokenizer(name: str, pattern: str) -> tf_text.Tokenizer:
    """The tensorflow-text word tokenizer called `name` (one of `WORD_TOKENIZERS` or `characters`).

    `pattern` is for `regex`. `wordpiece` needs a learned vocabulary: see `TextTokenizer`.
    """
    if name == "regex":
        return RegexTokenizer(pattern)
    if name == "whitespace":
        return tf_text.WhitespaceTokenizer()
    if name == "unicode_script":
        return tf_text.UnicodeScriptTokenizer()
    if name == "characters":
        return CharacterTokenizer()
    raise ValueError(f"unknown tokenizer {name!r} (available: {', '.join(TOKENIZERS)})")


def normalize_text(text: tf.Tensor, normalization: str) -> tf.Tensor:
    """Unicode normalisation of raw text: `none`, `nfc` or `nfkc` (which also folds compatibility forms)."""
    if normalization == "none":
        return text
    if normalization not in NORMALIZATIONS:
        raise ValueError(f"unknown normalization {normalization!r} (available: {', '.join(NORMALIZATIONS)})")
    return tf_text.normalize_utf8(text, normalization.upper())


class TextTokenizer(tf.Module):
    """Raw text to tokens: Unicode normalisation, then the configured tensorflow-text tokenizer.

    The preprocess stage runs this module in its Beam workers and the exported model runs it in its
    graph: there is one implementation of tokenization, so training and serving cannot disagree.

    `wordpiece` first cuts words with the `regex` tokenizer, lowercases them when `lowercase` (the
    pieces were learned from the same words), then splits each word into the longest pieces of
    `wordpieces` (Wu et al. 2016; `tf_text.FastWordpieceTokenizer`); a word that cannot be split
    becomes `[UNK]`.

    Args:
        name: one of `TOKENIZERS`.
        pattern: the `regex` tokenizer's pattern (also the word splitter of `wordpiece`).
        normalization: one of `NORMALIZATIONS`.
        lowercase: lowercase words before `wordpiece` splits them (other tokenizers keep case: the
            word vocabulary lookup lowercases, see `normalize_words`).
        wordpieces: the learned wordpiece vocabulary, reserved tokens included; `wordpiece` only.
            Without it, a `wordpiece` tokenizer can only `pretokenize` (to count the words that the
            vocabulary is learned from).
    """

    def __init__(
        self,
        name: str,
        *,
        pattern: str,
        normalization: str = "none",
        lowercase: bool = False,
        wordpieces: Sequence[str] | None = None,
    ) -> None:
        super().__init__(name="text_tokenizer")
        if name not in TOKENIZERS:
            raise ValueError(f"unknown tokenizer {name!r} (available: {', '.join(TOKENIZERS)})")
        if wordpieces is not None and name != "wordpiece":
            raise ValueError(f"the {name} tokenizer takes no wordpiece vocabulary")
        self.kind = name
        self.normalization = normalization
        self.lowercase = lowercase
        self.words = make_tokenizer("regex" if name == "wordpiece" else name, pattern)
        self.wordpiece = None
        if wordpieces is not None:
            self.wordpiece = tf_text.FastWordpieceTokenizer(
                list(wordpieces),
                suffix_indicator=WORDPIECE_SUFFIX,
                token_out_type=tf.string,
                unknown_token=RESERVED_TOKENS[UNK_ID],
                no_pretokenization=True,
            )

    @classmethod
    def for_task(cls, preprocess, wordpieces: Sequence[str] | None = None) -> TextTokenizer:
        """The tokenizer a task's preprocess config (`PreprocessConfig`) describes.

        Args:
            preprocess: its `tokenizer`, `token_pattern`, `normalization` and `lowercase` are used.
            wordpieces: the learned pieces (`Vocabulary.wordpieces()`), for a `wordpiece` tokenizer.
        """
        return cls(
            preprocess.tokenizer,
            pattern=preprocess.token_pattern,
            normalization=preprocess.normalization,
            lowercase=preprocess.lowercase,
            wordpieces=wordpieces if preprocess.tokenizer == "wordpiece" else None,
        )

    def pretokenize(self, text: tf.Tensor) -> tf.RaggedTensor:
        """The words of `text` string [batch] -> string [batch, (words)], before any wordpiece split."""
        words = self.words.tokenize(normalize_text(text, self.normalization))
        return normalize_words(words, self.lowercase) if self.kind == "wordpiece" else words

    def __call__(self, text: tf.Tensor) -> tf.RaggedTensor:
        """Tokens of `text` string [batch] -> string [batch, (tokens)]."""
        words = self.pretokenize(text)
        if self.kind != "wordpiece":
            return words
        if self.wordpiece is None:
            raise ValueError("the wordpiece tokenizer needs its learned vocabulary to tokenize")
        return self.wordpiece.tokenize(words).merge_dims(1, 2)


def learn_wordpieces(word_counts: Sequence[tuple[str, int]], vocab_size: int) -> list[str]:
    """A wordpiece vocabulary of about `vocab_size` pieces learned from (word, count) pairs.

    tensorflow-text's learner (the one behind `bert_vocab_from_dataset`), with the reserved tokens
    first. The pairs are sorted first, so the same counts always give the same vocabulary.
    """
    from tensorflow_text.tools.wordpiece_vocab import wordpiece_tokenizer_learner_lib as learner

    ordered = sorted(word_counts, key=lambda entry: (-entry[1], entry[0]))
    return learner.learn(ordered, vocab_size, list(RESERVED_TOKENS), joiner=WORDPIECE_SUFFIX)


def normalize_words(tokens: tf.Tensor | tf.RaggedTensor, lowercase: bool) -> tf.Tensor | tf.RaggedTensor:
    """The form of a token that the word vocabulary holds: as is, or lowercased (Unicode-aware)."""
    if not lowercase:
        return tokens
    return tf.ragged.map_flat_values(tf.strings.lower, tokens, encoding="utf-8")


def split_chars(tokens: tf.Tensor | tf.RaggedTensor, max_word_length: int) -> tf.RaggedTensor:
    """Splits tokens into at most `max_word_length` characters (Unicode code points).

    Args:
        tokens: string [...]; dense or ragged.
    Returns:
        string [..., (chars)].
    """
    chars = tf.strings.unicode_split(tokens, "UTF-8", errors="replace")
    return chars[..., :max_word_length]


def char_ids(table: tf.lookup.StaticHashTable, tokens: tf.Tensor | tf.RaggedTensor, max_word_length: int):
    """Character ids of `tokens` string [...] -> int64 [..., (chars)], the first `max_word_length` characters of
    each looked up in `table` (a character vocabulary's `lookup_table`); "" has no characters."""
    return tf.ragged.map_flat_values(table.lookup, split_chars(tokens, max_word_length))


def lookup_table(tokens: Sequence[str], default_id: int = UNK_ID) -> tf.lookup.StaticHashTable:
    """A table from token to its index in `tokens`; anything else maps to `default_id`."""
    initializer = tf.lookup.KeyValueTensorInitializer(
        tf.constant(list(tokens), tf.string), tf.range(len(tokens), dtype=tf.int64)
    )
    return tf.lookup.StaticHashTable(initializer, default_id)


class TaggerFeaturizer(tf.Module):
    """Token and tag strings to the ids a tagger reads and writes.

    Args:
        words: the word vocabulary, reserved tokens first.
        chars: the character vocabulary, reserved tokens first.
        tags: the tag vocabulary, `RESERVED_TAGS` first.
        lowercase: look words up lowercased.
        max_word_length: characters kept per token for the character features.
    """

    def __init__(
        self,
        words: Sequence[str],
        chars: Sequence[str],
        tags: Sequence[str],
        *,
        lowercase: bool,
        max_word_length: int,
    ) -> None:
        super().__init__(name="tagger_featurizer")
        self.lowercase = lowercase
        self.max_word_length = max_word_length
        self.word_table = lookup_table(words)
        self.char_table = lookup_table(chars)
        self.tag_table = lookup_table(tags)
        self.tag_names = tf.constant(list(tags), tf.string)

    def token_ids(self, tokens: tf.Tensor | tf.RaggedTensor) -> tf.Tensor | tf.RaggedTensor:
        """Word ids of `tokens` string [...] -> int64 [...]; "" (padding) becomes `PAD_ID`."""
        ids = tf.ragged.map_flat_values(self.word_table.lookup, normalize_words(tokens, self.lowercase))
        return tf.where(tokens == "", tf.constant(PAD_ID, tf.int64), ids) if isinstance(tokens, tf.Tensor) else ids

    def char_ids(self, tokens: tf.Tensor | tf.RaggedTensor) -> tf.RaggedTensor:
        """Character ids of `tokens` string [...] -> int64 [..., (chars)]; "" has no characters."""
        return char_ids(self.char_table, tokens, self.max_word_length)

    def tag_ids(self, tags: tf.Tensor | tf.RaggedTensor) -> tf.Tensor | tf.RaggedTensor:
        """Ids of tag strings; an unknown tag gets the id of `[UNK]`."""
        return tf.ragged.map_flat_values(self.tag_table.lookup, tags)

    def tag_strings(self, ids: tf.Tensor) -> tf.Tensor:
        """Tag strings of tag ids int [...] -> string [...]."""
        return tf.gather(self.tag_names, ids)


def detokenize(tokens: tf.RaggedTensor, tokenizer: str) -> tf.Tensor:
    """Tokens string [batch, (tokens)] back to text string [batch], for output a person reads (and BLEU).

    Characters are joined as they are; words by single spaces, wordpieces merged into their words, with
    no space before closing punctuation or after opening punctuation ("( God said ." -> "(God said.").
    """
    if tokenizer == "characters":
        return tf.strings.reduce_join(tokens, axis=-1)
    joined = tf.strings.reduce_join(tokens, axis=-1, separator=" ")
    if tokenizer == "wordpiece":
        joined = tf.strings.regex_replace(joined, " " + WORDPIECE_SUFFIX, "")
    joined = tf.strings.regex_replace(joined, r" ([.,;:!?)\]}»”’%]+)", r"\1")
    return tf.strings.regex_replace(joined, r"([(\[{¿¡«“]) ", r"\1")
