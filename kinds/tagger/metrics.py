"""Metrics for sequence labelling: token accuracy, per-tag scores, confusion matrix and chunk F1.

Every function takes a corpus as a sequence of sentences, each a sequence of ``str`` tags, with
the gold and the predicted corpus aligned token by token. The functions are pure (standard
library and numpy only, no TensorFlow) so that they can be unit-tested by hand and reused on
predictions from any model, or from :class:`MostFrequentTagBaseline`.

Chunk (entity) scores follow ``conlleval``, the evaluation script of the CoNLL-2000 shared task
on chunking (Tjong Kim Sang & Buchholz, 2000), also used for CoNLL-2002/2003 NER (Tjong Kim Sang
& De Meulder, 2003); see :func:`entity_chunks` for the exact rules.

All scores are fractions in ``[0, 1]``; conlleval prints the same numbers as percentages.
"""

import math
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from kinds.base.metrics import check_aligned, most_frequent

OUTSIDE = "O"
"""The tag of a token outside every chunk."""


@dataclass(frozen=True)
class TagScore:
    """Precision, recall and F1 of one tag (or one chunk type).

    Attributes:
        precision: correct / predicted; 0.0 when nothing was predicted.
        recall: correct / gold; 0.0 when there is nothing in gold.
        f1: Harmonic mean of precision and recall; 0.0 when both are 0.0.
        support: Number of gold occurrences (tokens for tags, chunks for chunk types).
    """

    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True)
class Chunk:
    """A labelled span of a sentence, such as a named entity.

    Attributes:
        type: Chunk type, the tag without its prefix (``"PER"`` for ``"B-PER"``); may be ``""``.
        start: Index of the first token.
        end: Index one past the last token (exclusive), so ``end - start`` is the length.
    """

    type: str
    start: int
    end: int


@dataclass(frozen=True)
class EntityScores:
    """Chunk-level scores over a corpus, the numbers conlleval reports.

    Attributes:
        precision: Micro-averaged ``num_correct / num_pred``.
        recall: Micro-averaged ``num_correct / num_gold``.
        f1: Harmonic mean of ``precision`` and ``recall``.
        num_gold: Chunks in the gold corpus ("phrases" in conlleval's output).
        num_pred: Chunks in the predicted corpus ("found").
        num_correct: Predicted chunks whose type, start and end all equal a gold chunk's.
        per_type: Scores per chunk type seen in gold or predictions, in sorted type order;
            ``support`` is the number of gold chunks of that type.
    """

    precision: float
    recall: float
    f1: float
    num_gold: int
    num_pred: int
    num_correct: int
    per_type: dict[str, TagScore]


# --------------------------------------------------------------------------- helpers


def _aligned_pairs(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> Iterator[tuple[str, str]]:
    """Checks alignment eagerly, then returns the (gold, pred) tag pairs of the whole corpus."""
    check_aligned(gold, pred)
    return (
        pair for gold_tags, pred_tags in zip(gold, pred, strict=True) for pair in zip(gold_tags, pred_tags, strict=True)
    )


def _ratio(numerator: int, denominator: int) -> float:
    """``numerator / denominator``, with 0/0 defined as 0.0 as in conlleval and scikit-learn."""
    return numerator / denominator if denominator else 0.0


def _score(num_correct: int, num_pred: int, num_gold: int) -> TagScore:
    """Builds a :class:`TagScore` from counts of correct, predicted and gold items."""
    precision = _ratio(num_correct, num_pred)
    recall = _ratio(num_correct, num_gold)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return TagScore(precision=precision, recall=recall, f1=f1, support=num_gold)


def _accuracy(hits: Iterable[bool]) -> float:
    """Fraction of true values in ``hits``; NaN when it is empty (accuracy of nothing is undefined)."""
    total = correct = 0
    for hit in hits:
        total += 1
        correct += hit
    return correct / total if total else math.nan


# --------------------------------------------------------------------------- token-level metrics


def token_accuracy(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> float:
    """Fraction of tokens whose predicted tag equals the gold tag.

    Args:
        gold: Gold tags, ``[num_sentences][sentence_length]``.
        pred: Predicted tags, aligned with ``gold``.

    Returns:
        Accuracy in ``[0, 1]``; ``nan`` when the corpus has no tokens.

    Raises:
        ValueError: The corpora are not aligned; the message names the sentence index.
    """
    return _accuracy(gold_tag == pred_tag for gold_tag, pred_tag in _aligned_pairs(gold, pred))


def masked_token_accuracy(
    gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]], mask: Sequence[Sequence[bool]]
) -> float:
    """Token accuracy over the tokens selected by ``mask``, e.g. only out-of-vocabulary words.

    Args:
        gold: Gold tags, ``[num_sentences][sentence_length]``.
        pred: Predicted tags, aligned with ``gold``.
        mask: Truthy for the tokens to score, aligned with ``gold``.

    Returns:
        Accuracy in ``[0, 1]`` over the selected tokens; ``nan`` when the mask selects nothing,
        so that "no OOV tokens" is not reported as 0% or 100%.

    Raises:
        ValueError: ``pred`` or ``mask`` is not aligned with ``gold``.
    """
    pairs = _aligned_pairs(gold, pred)
    check_aligned(gold, mask, names=("gold", "mask"))
    flat_mask = (selected for sentence_mask in mask for selected in sentence_mask)
    return _accuracy(
        gold_tag == pred_tag for (gold_tag, pred_tag), selected in zip(pairs, flat_mask, strict=True) if selected
    )


def per_tag_scores(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> dict[str, TagScore]:
    """Token-level precision, recall and F1 of every tag.

    Args:
        gold: Gold tags, ``[num_sentences][sentence_length]``.
        pred: Predicted tags, aligned with ``gold``.

    Returns:
        One :class:`TagScore` per tag seen in gold or predictions, in sorted tag order. A tag
        only ever predicted has ``support == 0`` and recall 0.0; 0/0 is 0.0 throughout.

    Raises:
        ValueError: The corpora are not aligned.
    """
    gold_counts: Counter[str] = Counter()
    pred_counts: Counter[str] = Counter()
    correct_counts: Counter[str] = Counter()
    for gold_tag, pred_tag in _aligned_pairs(gold, pred):
        gold_counts[gold_tag] += 1
        pred_counts[pred_tag] += 1
        if gold_tag == pred_tag:
            correct_counts[gold_tag] += 1
    return {
        tag: _score(correct_counts[tag], pred_counts[tag], gold_counts[tag])
        for tag in sorted(gold_counts.keys() | pred_counts.keys())
    }


# --------------------------------------------------------------------------- chunks (conlleval)

# Chunk boundaries follow the startOfChunk/endOfChunk subroutines of conlleval (version
# 2004-01-26, Erik Tjong Kim Sang, written for the CoNLL-2000 shared task, Tjong Kim Sang &
# Buchholz 2000). They look at the previous and the current tag, each split into a prefix and
# a type. The pair tables below are conlleval's ``$prevTag eq X and $tag eq Y`` tests verbatim,
# including those for the E- (IOE) tags of Tjong Kim Sang & Veenstra (EACL 1999).
_END_PAIRS = frozenset({("B", "B"), ("B", "O"), ("I", "B"), ("I", "O"), ("E", "E"), ("E", "I"), ("E", "O")})
_START_PAIRS = frozenset({("B", "B"), ("I", "B"), ("O", "B"), ("O", "I"), ("E", "E"), ("E", "I"), ("O", "E")})
# Prefixes whose type is ignored: a type change next to them neither ends nor starts a chunk.
_TYPELESS_PREFIXES = frozenset({"O", "."})
# "[" and "]" mark chunks of length one (conlleval's "corrected 1998-12-22" rules).
_SINGLE_TOKEN_PREFIXES = frozenset({"[", "]"})
# conlleval reads an empty line or a "-X-" line as a sentence boundary and tags it O; here the
# sentence lists carry the boundaries, so every sentence starts after (and ends before) this.
_BOUNDARY = (OUTSIDE, "")


def _split_tag(tag: str) -> tuple[str, str]:
    """Splits a tag at its first hyphen into (prefix, type), as conlleval's ``/^([^-]*)-(.*)$/``.

    ``"B-PER"`` gives ``("B", "PER")``, ``"I-NP-X"`` gives ``("I", "NP-X")`` (types may contain
    hyphens), and a tag without a hyphen such as ``"O"`` gives ``("O", "")``.
    """
    prefix, hyphen, chunk_type = tag.partition("-")
    return (prefix, chunk_type) if hyphen else (tag, "")


def _chunk_ends(previous: tuple[str, str], current: tuple[str, str]) -> bool:
    """conlleval's endOfChunk: does a chunk end between the previous and the current token?"""
    (previous_prefix, previous_type), (prefix, chunk_type) = previous, current
    return (
        (previous_prefix, prefix) in _END_PAIRS
        or (previous_prefix not in _TYPELESS_PREFIXES and previous_type != chunk_type)
        or previous_prefix in _SINGLE_TOKEN_PREFIXES
    )


def _chunk_starts(previous: tuple[str, str], current: tuple[str, str]) -> bool:
    """conlleval's startOfChunk: does a chunk start at the current token?"""
    (previous_prefix, previous_type), (prefix, chunk_type) = previous, current
    return (
        (previous_prefix, prefix) in _START_PAIRS
        or (prefix not in _TYPELESS_PREFIXES and previous_type != chunk_type)
        or prefix in _SINGLE_TOKEN_PREFIXES
    )


def is_bio_tagset(tags: Iterable[str]) -> bool:
    """Whether ``tags`` look like IOB1/IOB2 chunk tags, i.e. whether chunk scores make sense.

    Args:
        tags: Tags, e.g. the tag vocabulary of a corpus; consumed once.

    Returns:
        True when every tag is ``"O"`` or ``"B-TYPE"`` / ``"I-TYPE"`` with a non-empty type, and
        at least one tag is not ``"O"``. IOBES/IOE tags (``E-``, ``S-``) and plain tags such as
        POS tags give False.
    """
    has_chunk_tag = False
    for tag in tags:
        if tag == OUTSIDE:
            continue
        prefix, chunk_type = _split_tag(tag)
        if prefix not in ("B", "I") or not chunk_type:
            return False
        has_chunk_tag = True
    return has_chunk_tag


def entity_chunks(tags: Sequence[str]) -> list[Chunk]:
    """Chunks (entities) of one sentence, as conlleval finds them.

    The rules are conlleval's startOfChunk/endOfChunk (CoNLL-2000 shared task script, Tjong Kim
    Sang & Buchholz 2000). For IOB1/IOB2 tags they amount to:

    * a chunk starts at ``B-X``; at ``I-X`` after ``O`` or at the sentence start (IOB1); and at
      any ``B-X``/``I-X`` whose type differs from the previous token's;
    * ``B-X`` right after ``B-X`` or ``I-X`` ends that chunk and starts a new one;
    * a chunk ends before the next token unless that token is ``I-`` of the same type, and
      always at the end of the sentence.

    So ``B-PER I-PER O B-LOC`` has ``PER[0:2]`` and ``LOC[3:4]``; ``B-PER B-PER`` is two chunks;
    ``I-PER I-LOC`` is two chunks. conlleval's other rules are kept too: ``E-`` tags (IOE),
    ``[``/``]`` one-token chunks, ``"."`` behaving like ``O`` for type changes, and types split
    at the first hyphen. Sentence boundaries (conlleval's empty or ``-X-`` lines, tagged ``O``)
    are implied by the sentence lists: every sentence starts as if after an ``O``.

    Two deviations, reachable only with tags outside IOB1/IOB2/IOE: where conlleval starts a
    chunk without ending the open one (``[-X`` right after ``B-X``), the open chunk ends there
    (conlleval counts it but can never score it correct); and a chunk always ends with its
    sentence (conlleval lets one opened by an untyped tag such as ``S`` run past the boundary).

    Args:
        tags: Tags of one sentence, ``[sentence_length]``.

    Returns:
        The chunks in order of their start; ``end`` is exclusive.

    Raises:
        TypeError: ``tags`` is a ``str`` instead of a sequence of tags.
    """
    if isinstance(tags, str):
        raise TypeError("tags must be a sequence of tags, not a str")
    chunks: list[Chunk] = []
    open_start: int | None = None
    open_type = ""
    previous = _BOUNDARY
    for position, tag in enumerate(tags):
        current = _split_tag(tag)
        starts = _chunk_starts(previous, current)
        if open_start is not None and (starts or _chunk_ends(previous, current)):
            chunks.append(Chunk(open_type, open_start, position))
            open_start = None
        if starts:
            open_start, open_type = position, current[1]
        previous = current
    if open_start is not None:
        chunks.append(Chunk(open_type, open_start, len(tags)))
    return chunks


def entity_scores(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> EntityScores:
    """Chunk precision, recall and F1 as conlleval reports them (CoNLL-2000/2003 evaluation).

    A predicted chunk is correct when a gold chunk of the same sentence has the same type, start
    and end (:func:`entity_chunks`); a wrong boundary or a wrong type is a false positive and a
    false negative at once. For IOB1/IOB2/IOE tags these are exactly conlleval's counts (see
    :func:`entity_chunks` for the exotic tags where they are not).

    Args:
        gold: Gold chunk tags, ``[num_sentences][sentence_length]``.
        pred: Predicted chunk tags, aligned with ``gold``.

    Returns:
        Micro-averaged scores, the chunk counts, and per-type scores.

    Raises:
        ValueError: The corpora are not aligned; the message names the sentence index.
    """
    check_aligned(gold, pred)
    gold_counts: Counter[str] = Counter()
    pred_counts: Counter[str] = Counter()
    correct_counts: Counter[str] = Counter()
    for gold_tags, pred_tags in zip(gold, pred, strict=True):
        gold_chunks, pred_chunks = entity_chunks(gold_tags), entity_chunks(pred_tags)
        gold_counts.update(chunk.type for chunk in gold_chunks)
        pred_counts.update(chunk.type for chunk in pred_chunks)
        # Chunks of one sentence have distinct starts, so the set intersection loses nothing.
        correct_counts.update(chunk.type for chunk in set(gold_chunks).intersection(pred_chunks))
    num_gold, num_pred, num_correct = (sum(counts.values()) for counts in (gold_counts, pred_counts, correct_counts))
    overall = _score(num_correct, num_pred, num_gold)
    per_type = {
        chunk_type: _score(correct_counts[chunk_type], pred_counts[chunk_type], gold_counts[chunk_type])
        for chunk_type in sorted(gold_counts.keys() | pred_counts.keys())
    }
    return EntityScores(
        precision=overall.precision,
        recall=overall.recall,
        f1=overall.f1,
        num_gold=num_gold,
        num_pred=num_pred,
        num_correct=num_correct,
        per_type=per_type,
    )


# --------------------------------------------------------------------------- baseline


class MostFrequentTagBaseline:
    """Tags each word with its most frequent training tag; unknown words get the overall most frequent tag.

    The floor every sequence model must beat. Words are matched exactly (case-sensitive), the
    same way the tokens were given to :meth:`fit`. Ties are broken deterministically: higher
    count first, then the tag string in ascending order.

    Attributes:
        default_tag: Tag for words not seen in training: the most frequent tag overall.
        vocabulary: The words seen in training.
    """

    def __init__(self, word_tags: Mapping[str, str], default_tag: str) -> None:
        """Creates a baseline from a ready word-to-tag table; use :meth:`fit` to learn one.

        Args:
            word_tags: The tag to predict for each known word.
            default_tag: The tag to predict for any other word.
        """
        self._word_tags = dict(word_tags)
        self.default_tag = default_tag
        self.vocabulary: frozenset[str] = frozenset(self._word_tags)

    @classmethod
    def fit(cls, tokens: Sequence[Sequence[str]], tags: Sequence[Sequence[str]]) -> "MostFrequentTagBaseline":
        """Learns the most frequent tag of every word.

        Args:
            tokens: Training words, ``[num_sentences][sentence_length]``.
            tags: Their tags, aligned with ``tokens``.

        Returns:
            The fitted baseline.

        Raises:
            ValueError: ``tokens`` and ``tags`` are not aligned, or there are no tokens.
        """
        check_aligned(tokens, tags, names=("tokens", "tags"))
        # One Counter over (word, tag) pairs: counting happens in C, linear in the corpus size.
        pair_counts = Counter(
            pair for words, word_tags in zip(tokens, tags, strict=True) for pair in zip(words, word_tags, strict=True)
        )
        if not pair_counts:
            raise ValueError("cannot fit a baseline on a corpus without tokens")
        tags_by_word: dict[str, dict[str, int]] = {}
        tag_counts: Counter[str] = Counter()
        for (word, tag), count in pair_counts.items():
            tags_by_word.setdefault(word, {})[tag] = count
            tag_counts[tag] += count
        word_tags = {word: most_frequent(counts) for word, counts in tags_by_word.items()}
        return cls(word_tags, most_frequent(tag_counts))

    def predict(self, tokens: Sequence[Sequence[str]]) -> list[list[str]]:
        """Tags every word of every sentence.

        Args:
            tokens: Words, ``[num_sentences][sentence_length]``.

        Returns:
            Tags with the same shape as ``tokens``.
        """
        lookup, default = self._word_tags.get, self.default_tag
        return [[lookup(word, default) for word in sentence] for sentence in tokens]

    def __repr__(self) -> str:
        words = len(self.vocabulary)
        return f"{type(self).__name__}(vocabulary={words} words, default_tag={self.default_tag!r})"
