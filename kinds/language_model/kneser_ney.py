"""Interpolated Kneser-Ney n-gram language model over units: the character-level LM's baseline.

The character-level language model must beat what a practitioner would try first: an
interpolated Kneser-Ney character 5-gram model fitted on the same training split and scored in
bits per character on the same held-out text. :class:`KneserNeyLM` is that model, over any units
(characters, or tokens given as ``str``).

The model (Chen & Goodman 1999, section 3, interpolated Kneser-Ney). For the highest order ``n``
and a history ``h`` of ``n - 1`` units,

    p_n(w | h) = max(c(h w) - D_n, 0) / c(h .)  +  lambda(h) * p_{n-1}(w | h')
    lambda(h)  = D_n * N1+(h .) / c(h .)

where ``c`` are training counts, ``c(h .)`` is their sum over the units following ``h``,
``N1+(h .)`` is the number of distinct units following ``h`` and ``h'`` is ``h`` without its first
unit. Lower orders ``k < n`` have the same form with continuation counts in place of counts:
``N1+(. g)``, the number of distinct units seen before the k-gram ``g``, which is how often ``g``
appears in a *novel* context rather than how often it appears. Order 1 is interpolated with the
uniform distribution over the vocabulary plus one unknown unit:

    p_0(w) = 1 / (|vocabulary| + 1)

so every unit, seen or not, gets a finite probability, and for every history the probabilities of
the vocabulary and the unknown unit sum to 1. A history never seen in training at order ``k``
(``c(h .) = 0``) leaves the lower order's probability unchanged: ``p_k(w | h) = p_{k-1}(w | h')``.

Decisions, each documented where it is made:

* **Document start.** Every document is preceded by ``order - 1`` copies of :data:`BOS`, so the
  first unit is predicted from the document start, as the neural model's first prediction comes
  from its start token. No end-of-document unit is predicted: the neural model scores only real
  units, and both must be scored on the same events.
* **Counts of n-grams starting with BOS.** An n-gram of a lower order that starts with ``BOS`` has
  only one possible left context (another ``BOS``), so its continuation count would be 1 however
  often documents start that way; it keeps its raw count instead, as in KenLM and SRILM
  (Heafield et al. 2013, "adjusted counts").
* **Discounts.** One absolute discount ``D_k`` per order, by default Ney et al.'s (1994) estimate
  ``D_k = n1 / (n1 + 2 n2)`` from the counts used at that order (raw counts at the highest order,
  continuation counts below), where ``n1`` and ``n2`` are the numbers of k-grams counted exactly
  once and exactly twice.
* **Unknown units.** Units never seen in training share the one unknown unit's probability; each
  is scored with it (there is no per-unit spelling model). In a history, an unknown unit simply
  makes the longer histories unseen, so the model backs off to the orders after it.

Fitting is one pass over the training text with ``Counter`` (in C) plus a pass over the distinct
n-grams of each order; queries are a handful of ``dict`` lookups. Nothing is memoized.
"""

import math
from collections import Counter
from collections.abc import Iterable, Sequence

from sklearn.exceptions import NotFittedError

BOS = "<s>"
"""The unit that pads every document's start; it is never predicted and may not appear in a document."""

_FALLBACK_DISCOUNT = 0.5
"""Discount of an order whose Ney estimate is 0 or undefined (no k-gram counted exactly once)."""

# --------------------------------------------------------------------------- helpers


def _check_documents(documents: Iterable[Sequence[str]]) -> None:
    """Raises ``TypeError`` when ``documents`` is a ``str``, which would be read as one-unit documents."""
    if isinstance(documents, str):
        raise TypeError("documents is a str; expected an iterable of documents, e.g. [text]")


def _units(document: Sequence[str], index: int) -> list[str]:
    """The units of one document as a list; raises ``ValueError`` if it contains :data:`BOS`."""
    units = list(document)
    if BOS in units:
        raise ValueError(f"document {index} contains the reserved start unit {BOS!r}")
    return units


def _ngrams(units: list[str], order: int) -> Iterable[tuple[str, ...]]:
    """The ``order``-grams of ``units``, one ending at each of its last ``len(units) - order + 1`` units.

    The ``order`` shifted copies have different lengths on purpose: ``zip`` stops at the shortest.
    """
    return zip(*(units[shift:] for shift in range(order)), strict=False)


def ney_discount(counts: Iterable[int]) -> float:
    """Ney et al.'s (1994) absolute discount ``n1 / (n1 + 2 n2)`` from the counts of one order.

    ``n1`` and ``n2`` are how many of ``counts`` are exactly 1 and exactly 2. The estimate lies in
    ``[0, 1]``; where it is 0 or undefined (no count of 1) the result is 0.5, because a zero
    discount would give the lower orders no weight and an unseen unit zero probability.

    Args:
        counts: One count per distinct k-gram.

    Returns:
        A discount in ``(0, 1]``.
    """
    counts_of_counts = Counter(counts)
    n1, n2 = counts_of_counts[1], counts_of_counts[2]
    if n1 == 0:
        return _FALLBACK_DISCOUNT
    return n1 / (n1 + 2 * n2)


def _lower_order_counts(counts: dict[tuple[str, ...], int]) -> Counter:
    """Adjusted counts of the (k-1)-grams from the counts of the k-grams.

    A (k-1)-gram's count is its continuation count ``N1+(. g)``: the number of distinct k-grams
    ending with it. A (k-1)-gram starting with ``BOS`` can only be preceded by ``BOS``, so its
    one k-gram ``BOS g`` (itself starting with ``BOS``, hence raw-counted) passes on its raw count.
    """
    lower = Counter(gram[1:] for gram in counts if gram[1] != BOS)
    for gram, count in counts.items():
        if gram[1] == BOS:
            lower[gram[1:]] = count
    return lower


def _context_statistics(counts: dict[tuple[str, ...], int]) -> dict[tuple[str, ...], tuple[int, int]]:
    """``{history: (c(h .), N1+(h .))}``: the total count and the number of distinct units after each history."""
    statistics: dict[tuple[str, ...], tuple[int, int]] = {}
    get = statistics.get
    for gram, count in counts.items():  # one pass; the fastest of the pure-Python ways tried
        history = gram[:-1]
        seen = get(history)
        statistics[history] = (count, 1) if seen is None else (seen[0] + count, seen[1] + 1)
    return statistics


# --------------------------------------------------------------------------- model


class KneserNeyLM:
    """Interpolated Kneser-Ney n-gram language model over units (see the module docstring).

    Attributes:
        order: The n of the n-grams: a unit is predicted from at most ``order - 1`` previous units.
        discount: The fixed discount of every order, or ``None`` for Ney's per-order estimate.
        discounts: ``{k: D_k}`` for ``k`` in ``1..order``, the discounts in use; empty until :meth:`fit`.
        vocabulary: The distinct units of the training documents (never :data:`BOS`); empty until fitted.
    """

    def __init__(self, order: int = 5, discount: float | None = None) -> None:
        """Sets the order and the discount; nothing is counted until :meth:`fit`.

        Args:
            order: n, at least 1. Order 1 is a discounted unigram model interpolated with the
                uniform distribution.
            discount: The absolute discount of every order, in ``(0, 1]``; ``None`` estimates one
                per order from the training counts, ``D_k = n1 / (n1 + 2 n2)`` (Ney et al. 1994).

        Raises:
            ValueError: ``order`` is below 1 or ``discount`` is outside ``(0, 1]``.
        """
        if isinstance(order, bool) or not isinstance(order, int) or order < 1:
            raise ValueError(f"order must be an int >= 1; got {order!r}")
        if discount is not None and not 0.0 < discount <= 1.0:
            raise ValueError(f"discount must be in (0, 1] or None; got {discount!r}")
        self.order = order
        self.discount = discount
        self.discounts: dict[int, float] = {}
        self.vocabulary: set[str] = set()
        # Indexed by k in 1..order (index 0 unused): adjusted counts of the k-grams, and
        # {history: (c(h .), N1+(h .))} of their (k-1)-unit histories.
        self._counts: list[dict[tuple[str, ...], int]] = []
        self._contexts: list[dict[tuple[str, ...], tuple[int, int]]] = []
        self._uniform = 0.0

    # ------------------------------------------------------------------ fitting

    def fit(self, documents: Iterable[Sequence[str]]) -> "KneserNeyLM":
        """Counts the n-grams of ``documents`` and derives every order's statistics.

        Each document is padded on the left with ``order - 1`` copies of :data:`BOS` and
        contributes one n-gram per unit (no end-of-document unit). Refitting replaces the model.

        Args:
            documents: Training documents, each a sequence of units (a ``str`` is a sequence of
                characters); iterated once, so a generator is fine.

        Returns:
            ``self``, fitted.

        Raises:
            TypeError: ``documents`` is a ``str``.
            ValueError: A document contains :data:`BOS`, or the documents have no unit at all.
        """
        _check_documents(documents)
        pad = [BOS] * (self.order - 1)
        top: Counter = Counter()
        for index, document in enumerate(documents):
            padded = pad + _units(document, index)
            top.update(_ngrams(padded, self.order))  # one n-gram ending at each real unit
        if not top:
            raise ValueError("cannot fit a language model on documents without units")

        counts: list[dict[tuple[str, ...], int]] = [{} for _ in range(self.order + 1)]
        counts[self.order] = dict(top)
        for k in range(self.order - 1, 0, -1):
            counts[k] = dict(_lower_order_counts(counts[k + 1]))
        self._counts = counts
        self._contexts = [{}] + [_context_statistics(counts[k]) for k in range(1, self.order + 1)]
        self.vocabulary = {gram[0] for gram in counts[1]}
        self._uniform = 1.0 / (len(self.vocabulary) + 1)
        self.discounts = {
            k: self.discount if self.discount is not None else ney_discount(counts[k].values())
            for k in range(1, self.order + 1)
        }
        return self

    def _check_fitted(self) -> None:
        """Raises ``NotFittedError`` before :meth:`fit`."""
        if not self._counts:
            raise NotFittedError(f"{type(self).__name__} is not fitted yet; call fit first")

    # ------------------------------------------------------------------ queries

    def _probability(self, gram: tuple[str, ...]) -> float:
        """p(last unit | the units before it) for a gram of at most ``order`` units.

        Builds the interpolation from the bottom up: uniform, then order 1, 2, ... up to the
        gram's length, stopping at the first unseen history (every longer one is unseen too,
        since a seen history's suffixes are seen histories of the lower orders).
        """
        probability = self._uniform
        length = len(gram)
        for k in range(1, length + 1):
            kgram = gram[length - k :]
            statistics = self._contexts[k].get(kgram[:-1])
            if statistics is None:
                break
            total, types = statistics
            discount = self.discounts[k]
            count = self._counts[k].get(kgram, 0)
            # A seen k-gram has count >= 1 >= discount, so max(count - D, 0) is count - D.
            probability = ((count - discount if count else 0.0) + discount * types * probability) / total
        return probability

    def log_prob(self, context: Sequence[str], unit: str) -> float:
        """Natural log of p(``unit`` | the last ``order - 1`` units of ``context``).

        A ``context`` shorter than ``order - 1`` units is a history whose start is unknown: only
        the orders it fills are used (the empty context gives the order-1 distribution). To ask
        about a document's start, put :data:`BOS` units first, as :meth:`score` does. A ``unit``
        outside :attr:`vocabulary` gets the unknown unit's probability.

        Args:
            context: Preceding units, oldest first.
            unit: The unit to predict.

        Returns:
            A finite log-probability (< 0).

        Raises:
            NotFittedError: :meth:`fit` has not been called.
        """
        self._check_fitted()
        history = tuple(context[len(context) - self.order + 1 :]) if self.order > 1 else ()
        return math.log(self._probability(history + (unit,)))

    def score(self, documents: Iterable[Sequence[str]]) -> tuple[float, int]:
        """Total log-probability of ``documents``, each scored from the document start.

        Every unit of every document is predicted from the ``order - 1`` units before it, with
        :data:`BOS` padding before the first, exactly as in :meth:`fit`.

        Args:
            documents: Held-out documents, each a sequence of units.

        Returns:
            ``(total natural-log probability, number of units scored)``; ``(0.0, 0)`` for no units.

        Raises:
            NotFittedError: :meth:`fit` has not been called.
            TypeError: ``documents`` is a ``str``.
            ValueError: A document contains :data:`BOS`.
        """
        self._check_fitted()
        _check_documents(documents)
        order, probability, log = self.order, self._probability, math.log
        pad = [BOS] * (order - 1)
        total, units_scored = 0.0, 0
        for index, document in enumerate(documents):
            padded = pad + _units(document, index)
            for gram in _ngrams(padded, order):
                total += log(probability(gram))
                units_scored += 1
        return total, units_scored

    def bits_per_unit(self, documents: Iterable[Sequence[str]]) -> float:
        """Cross-entropy of ``documents`` in bits per unit: ``-total / units / ln 2`` of :meth:`score`.

        Returns:
            Bits per unit (bits per character for characters); ``nan`` when there is no unit.
        """
        total, units_scored = self.score(documents)
        if units_scored == 0:
            return math.nan
        return -total / units_scored / math.log(2)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(order={self.order}, discount={self.discount!r}, vocabulary={len(self.vocabulary)})"
        )
