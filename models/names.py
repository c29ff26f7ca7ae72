"""The names of the tokenizers and normalisations `models.text` implements, importable without TensorFlow (the
config's schema lists them as its choices)."""

TOKENIZERS = ("regex", "whitespace", "unicode_script", "characters", "wordpiece")
# Tokenizers that cut text into words, which a tagger can tag one by one.
WORD_TOKENIZERS = ("regex", "whitespace", "unicode_script")
NORMALIZATIONS = ("none", "nfc", "nfkc")


def joiner(tokenizer: str) -> str:
    """What joins a tokenizer's units back into text, unit for unit (a language model's samples, the texts it
    scores): characters as they are, words by one space. `models.text.detokenize` goes further, for text a
    person reads."""
    return "" if tokenizer == "characters" else " "
