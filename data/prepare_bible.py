#!/usr/bin/env python3
"""Build the translation corpus: King James (English) to Reina-Valera 1909 (Spanish) verse pairs.

Both Bibles ship as CrossWire SWORD modules packaged by Debian: ``sword-text-kjv`` (module
``engKJV2006eb``, 14.3) and ``sword-text-sparv`` (``spaRV1909eb``, 2.60). Both are zText modules
in KJV versification, so index entry i of one is the same slot (heading or verse) in the other.

This script fetches the two ``.deb`` files with ``apt-get download`` into a temporary directory,
checks their SHA-256, reads the module files from each package's ``data.tar.xz`` (what ``dpkg -x``
would unpack) and decodes the zText format: ``{ot,nt}.bzs`` holds 12-byte records (offset, size,
uncompressed size; little-endian uint32) of zlib blocks in ``.bzz``; ``.bzv`` holds 10-byte records
(block, offset: uint32; size: uint16) of entries inside the uncompressed blocks.

Each testament's entries are: an empty entry, the testament heading, then per book a book heading
(``<div type="book" sID=...>``) and per chapter a chapter heading (``<chapter sID="Gen.1">``)
followed by the chapter's verses. The script walks that structure to give every verse its
reference (``Gen.1.1``) and checks the two modules agree on it (66 books, 1,189 chapters, 31,102 verses).

Verse text is cleaned: ``<note>...</note>`` and the ``<title>...</title>`` headings are dropped,
the other tags stripped (their text kept), the USFM ``\\nd`` marker that leaked into 27 KJV verses
and the KJV paragraph sign ``¶`` removed, XML entities unescaped and white space folded. The 116
canonical psalm titles (``<title canonical="true" type="psalm">A Psalm of David.</title>``) are
kept as the start of verse 1: they are scripture, and the Spanish has them as plain verse text.
Where the Spanish sets an added word (``<transChange>``) flush against the next word, a space goes
in (``engendróun`` -> ``engendró un``) unless it is an enclitic pronoun (``sácalo``). The capitals
that open every Spanish chapter (``EN el principio``) are re-cased (``En el principio``), see
``recase_chapter_openings``.

A verse becomes a pair unless (the first rule that applies is counted):

1. a side is empty (the Spanish lacks 18 verses: its numbering puts their text elsewhere);
2. the next verse of the chapter is empty on one side (there the Spanish often merges the two);
3. the KJV marks a section title or subscription at it (the 22 acrostic letters of Psalm 119, the
   subscriptions of 14 epistles), which the Spanish has as verse text ("ALEPH. BIENAVENTURADOS ...");
4. it is in a *shifted chapter*. Both modules tag words with Strong's numbers; a Spanish verse is
   *out of place* when it shares clearly more of them (Dice coefficient higher by over 0.15) with
   a KJV verse up to 8 slots away than with its own, and a chapter with two or more such verses is
   shifted: the Spanish follows another (Hebrew) verse numbering there (Num 13, 1 Sam 24, Job 39-40,
   Hos 12, Jonah 2, ...) and most of its verses are paired with a neighbour's translation;
5. it is out of place itself (a lone one, elsewhere);
6. the same (English, Spanish) pair came earlier (short formulaic verses repeat).

Slice rule: keep the pairs whose English side has at most 16 words and Spanish side at most 20
(words = white-space separated), in canonical order (Old Testament, then New, book, chapter, verse).
``--all`` writes every pair, whatever its length, to ``kjv_rv1909_full.tsv`` instead (not committed).

Output: ``data/bible/kjv_rv1909.tsv``, ``English<TAB>Spanish`` a line, UTF-8, LF line ends, no header.

Usage::

    python data/prepare_bible.py                         # data/bible/kjv_rv1909.tsv
    python data/prepare_bible.py --all --out /tmp/bible  # /tmp/bible/kjv_rv1909_full.tsv
    python data/prepare_bible.py --debs sword-text-kjv_14.3-1_all.deb sword-text-sparv_2.60-1_all.deb
"""

import argparse
import hashlib
import html
import re
import struct
import unicodedata
import zlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import packages


@dataclass(frozen=True)
class Module:
    """A SWORD module and the Debian package that ships it.

    Attributes:
        package: Debian package name.
        version: Debian version.
        sha256: SHA-256 of the ``.deb``.
        module_dir: The module's directory inside the package.
    """

    package: str
    version: str
    sha256: str
    module_dir: str

    @property
    def release(self) -> packages.Release:
        """The package release, fetched with ``apt-get download``."""
        return packages.Release(
            f"{self.package} {self.version}",
            "sha256",
            self.sha256,
            lambda dest: packages.apt_get_download(self.package, self.version, dest, "--debs"),
        )


KJV = Module(
    "sword-text-kjv",
    "14.3-1",
    "9f463f28ce665f6f528fc723179722bced880a4c5485f7a41bf742838315de57",
    "usr/share/sword/modules/texts/ztext/engKJV2006eb",
)
RV1909 = Module(
    "sword-text-sparv",
    "2.60-1",
    "5c87f9b2bc97457e8a872f5bae7ea7ce59cb3de1dcee73e4d4740451863694cf",
    "usr/share/sword/modules/texts/ztext/spaRV1909eb",
)
TESTAMENTS = ("ot", "nt")
EXPECTED_BOOKS, EXPECTED_CHAPTERS, EXPECTED_VERSES = 66, 1189, 31102

DEFAULT_OUT = Path(__file__).resolve().parent / "bible"
DEBS_HELP = "use these sword-text-kjv and sword-text-sparv .deb files instead of running apt-get download"
MAX_SOURCE_WORDS = 16
MAX_TARGET_WORDS = 20
SHIFT_WINDOW = 8
SHIFT_MARGIN = 0.15
SHIFTED_VERSES_PER_CHAPTER = 2

_NOTE = re.compile(r"<note\b[^>]*/>|<note\b.*?</note>", re.S)
_TITLE = re.compile(
    r"<title\b(?![^>]*\scanonical=\"true\")[^>]*/>|<title\b(?![^>]*\scanonical=\"true\").*?</title>", re.S
)
_TITLE_TAG = re.compile(r"<title\b[^>]*>")
_TAG = re.compile(r"<[^>]*>")
_TAG_RUN_IN_WORD = re.compile(r"(?<=\w)((?:<[^>]*>)+)(?=(\w[^<]*))")
_LAST_WORD = re.compile(r"\w+$")
_ENCLITIC_HOST = re.compile(r"(?:[rd]|ndo|[áéíóú]\w*)$")
_WORD = re.compile(r"[^\W\d_]+")
_SENTENCE_END = tuple(".!?¡¿")
CLITICS = frozenset("lo la le los las les me te se nos os".split())
_USFM_MARKER = re.compile(r"\\\+?[a-z]+\d*\*?")
_CHAPTER_START = re.compile(r"<chapter\b[^>]*\ssID=\"([^\"]+)\"")
_BOOK_START = re.compile(r"<div\b(?=[^>]*\stype=\"book\")(?=[^>]*\ssID=)[^>]*\sosisID=\"([^\"]+)\"")
_LEMMA = re.compile(r"lemma=\"([^\"]*)\"")
_STRONG = re.compile(r"strong:([GH])0*(\d+)")


@dataclass
class Verse:
    """One verse slot of the KJV versification, in both Bibles.

    Attributes:
        ref: OSIS reference, e.g. ``Gen.1.1``.
        english: Cleaned KJV text ('' if empty).
        spanish: Cleaned Reina-Valera text ('' if empty).
        english_strongs: Strong's numbers tagged in the KJV verse, with multiplicity.
        spanish_strongs: Strong's numbers tagged in the Spanish verse.
        titled: The KJV marks a section title or subscription at this verse (a ``<title>`` that is
            neither a psalm's canonical title nor a book's main title), which the Spanish has as verse text.
    """

    ref: str
    english: str
    spanish: str
    english_strongs: Counter[str]
    spanish_strongs: Counter[str]
    titled: bool = False

    @property
    def chapter(self) -> str:
        """The chapter reference, e.g. ``Gen.1``."""
        return self.ref.rsplit(".", 1)[0]


def read_ztext(bzs: bytes, bzv: bytes, bzz: bytes) -> list[str]:
    """Decode one testament of a zText module into its entries.

    Args:
        bzs: Block index: 12-byte records (offset, compressed size, uncompressed size), little-endian.
        bzv: Entry index: 10-byte records (block number, offset in block, size), little-endian.
        bzz: The zlib-compressed blocks.

    Returns:
        The entries in index order, as OSIS markup (UTF-8 decoded).

    Raises:
        ValueError: A block does not decompress to its recorded size.
    """
    blocks = list(struct.iter_unpack("<III", bzs))
    cache: dict[int, bytes] = {}
    entries = []
    for block, offset, size in struct.iter_unpack("<IIH", bzv):
        if block not in cache:
            start, compressed, uncompressed = blocks[block]
            cache[block] = zlib.decompress(bzz[start : start + compressed])
            if len(cache[block]) != uncompressed:
                raise ValueError(f"block {block}: {len(cache[block])} bytes, index says {uncompressed}")
        entries.append(cache[block][offset : offset + size].decode("utf-8"))
    return entries


def read_module(deb: Path, module: Module) -> dict[str, list[str]]:
    """Read both testaments of a module from its package.

    Args:
        deb: The package.
        module: Which module it holds.

    Returns:
        ``ot`` and ``nt`` mapped to their entries.
    """
    names = [f"{module.module_dir}/{t}.{ext}" for t in TESTAMENTS for ext in ("bzs", "bzv", "bzz")]
    files = packages.read_deb_files(deb, names)
    return {
        t: read_ztext(*(files[f"{module.module_dir}/{t}.{ext}"] for ext in ("bzs", "bzv", "bzz"))) for t in TESTAMENTS
    }


def _space_added_word(match: re.Match[str]) -> str:
    """Put a space before a run of tags that opens or closes an added word between two letters.

    The Spanish module often sets ``<transChange type="added">`` (words the translators added)
    flush against the next word: ``engendró</w><transChange ...>un</transChange>`` reads
    "engendróun". An enclitic pronoun after a verb form (ending in -r, -d, -ndo, or bearing a written
    accent) stays attached: ``sáca</w><transChange ...>lo</transChange>`` is "sácalo".
    """
    run, following = match.group(1), match.group(2)
    if "transChange" not in run:
        return run  # a tag inside a word, e.g. give</w>n
    if "<transChange" in run and following.strip() in CLITICS:
        host = _LAST_WORD.search(match.string, 0, match.start())
        if host and _ENCLITIC_HOST.search(host.group()):
            return run
    return " " + run


def clean_verse(markup: str) -> str:
    """Turn a verse's OSIS markup into plain text.

    Args:
        markup: The entry as stored.

    Returns:
        The text: notes and titles dropped (each leaves a space), tags removed (leaving nothing, as
        a tag may sit inside a word: ``LORD</w></divineName>’s``, except that an added word set flush
        against its neighbour gets a space, see ``_space_added_word``), USFM markers and ``¶``
        removed, entities unescaped, white space folded; '' if nothing is left.
    """
    text = _TITLE.sub(" ", _NOTE.sub(" ", markup))
    text = _TAG.sub("", _TAG_RUN_IN_WORD.sub(_space_added_word, text))
    text = html.unescape(_USFM_MARKER.sub(" ", text)).replace("\N{PILCROW SIGN}", " ")
    return " ".join(text.split())


def has_section_title(markup: str) -> bool:
    """Whether an entry holds a title other than a book's main title or a psalm's canonical title.

    In the KJV these are the acrostic letters of Psalm 119 (``<title>א ALEPH.</title>``) and the
    subscriptions of the epistles ("Written from Rome ..."); the Spanish has them as verse text.

    Args:
        markup: The entry as stored.

    Returns:
        True if it holds such a title.
    """
    return any('canonical="true"' not in tag and 'type="main"' not in tag for tag in _TITLE_TAG.findall(markup))


def strongs(markup: str) -> Counter[str]:
    """The Strong's numbers tagged in a verse, normalised (``strong:H0430`` -> ``H430``).

    Args:
        markup: The entry as stored.

    Returns:
        Each number with the times it is tagged.
    """
    return Counter(
        f"{testament}{number}" for lemma in _LEMMA.findall(markup) for testament, number in _STRONG.findall(lemma)
    )


def pair_verses(english: dict[str, list[str]], spanish: dict[str, list[str]]) -> list[Verse]:
    """Walk both modules' entries in step, giving each verse slot its reference.

    Args:
        english: KJV entries per testament.
        spanish: Reina-Valera entries per testament.

    Returns:
        Every verse slot of the KJV versification, in canonical order.

    Raises:
        ValueError: The modules disagree on the structure, a heading holds text, or the counts are off.
    """
    verses: list[Verse] = []
    books: list[str] = []
    chapters = 0
    for testament in TESTAMENTS:
        en_entries, es_entries = english[testament], spanish[testament]
        if len(en_entries) != len(es_entries):
            raise ValueError(f"{testament}: {len(en_entries)} KJV entries, {len(es_entries)} Spanish")
        chapter, number, title_pending = None, 0, False
        for index, (en_markup, es_markup) in enumerate(zip(en_entries, es_entries, strict=True)):
            en_text, es_text = clean_verse(en_markup), clean_verse(es_markup)
            en_chapter, es_chapter = _CHAPTER_START.search(en_markup), _CHAPTER_START.search(es_markup)
            en_book, es_book = _BOOK_START.search(en_markup), _BOOK_START.search(es_markup)
            where = f"{testament} entry {index}"
            if en_chapter or es_chapter or en_book or es_book:
                if en_text or es_text:
                    raise ValueError(f"{where}: heading with text {en_text[:60]!r} | {es_text[:60]!r}")
            if en_chapter or es_chapter:
                if not (en_chapter and es_chapter and en_chapter.group(1) == es_chapter.group(1)):
                    raise ValueError(f"{where}: chapter headings differ")
                chapter, number = en_chapter.group(1), 0
                title_pending = has_section_title(en_markup)
                chapters += 1
            elif en_book or es_book:
                if not (en_book and es_book and en_book.group(1) == es_book.group(1)):
                    raise ValueError(f"{where}: book headings differ")
                chapter = None
                books.append(en_book.group(1))
            elif chapter is None:
                if en_text or es_text:
                    raise ValueError(f"{where}: text outside a chapter")
            else:
                number += 1
                ref = f"{chapter}.{number}"
                titled = title_pending or has_section_title(en_markup)
                verses.append(Verse(ref, en_text, es_text, strongs(en_markup), strongs(es_markup), titled))
                title_pending = False
    counts = (len(books), chapters, len(verses))
    if counts != (EXPECTED_BOOKS, EXPECTED_CHAPTERS, EXPECTED_VERSES):
        raise ValueError(f"books, chapters, verses: {counts}, expected the KJV's 66, 1189, 31102")
    return verses


def _sentence_initial(text: str, start: int) -> bool:
    """Whether the word at ``start`` opens a sentence (nothing before it, or ``. ! ? ¡ ¿``)."""
    before = text[:start].rstrip()
    return not before or before.endswith(_SENTENCE_END)


def _fold(word: str) -> str:
    """Lower case without diacritics: ``Achâb`` -> ``achab``."""
    return "".join(c for c in unicodedata.normalize("NFD", word.lower()) if not unicodedata.combining(c))


def recase_chapter_openings(verses: list[Verse]) -> int:
    """Undo the capitals of the Spanish chapter openings ("EN el principio", "Y HABLÓ Jehová").

    The Spanish module prints the first word (or two) of every chapter in capitals, a drop-cap
    convention, which makes "HABLÓ" and "habló" different words to a model. In the first verse of
    each chapter, the first run of all-capital words (two or more letters each) is put in lower
    case, except the words that elsewhere in the Spanish text, inside a sentence, are mostly
    capitalised (``JEHOVÁ`` -> ``Jehová``; a word found nowhere else is looked up without its
    accents, ``ACHAB`` as ``Achâb``, and else lowered); the run's first letter is a capital again
    if it opens a sentence (``EN el`` -> ``En el``, ``¡OH`` -> ``¡Oh``).

    Args:
        verses: All verse slots; the Spanish text of first verses is changed in place.

    Returns:
        The number of verses re-cased.
    """
    capitalised: dict[str, Counter[bool]] = {}
    capitalised_folded: dict[str, Counter[bool]] = {}
    for verse in verses:
        for match in _WORD.finditer(verse.spanish):
            word = match.group()
            if not word.isupper() and not _sentence_initial(verse.spanish, match.start()):
                capitalised.setdefault(word.lower(), Counter())[word[0].isupper()] += 1
                capitalised_folded.setdefault(_fold(word), Counter())[word[0].isupper()] += 1
    recased = 0
    for verse in verses:
        if not verse.ref.endswith(".1"):
            continue
        text, run = verse.spanish, []
        for match in _WORD.finditer(text):
            caps = len(match.group()) > 1 and match.group().isupper()
            if run and (not caps or text[run[-1].end() : match.start()].strip()):
                break
            if caps:
                run.append(match)
        if not run:
            continue
        pieces, last = [], 0
        for number, match in enumerate(run):
            word = match.group().lower()
            votes = capitalised.get(word) or capitalised_folded.get(_fold(word)) or Counter()
            if votes[True] > votes[False] or (number == 0 and _sentence_initial(text, match.start())):
                word = word[0].upper() + word[1:]
            pieces += [text[last : match.start()], word]
            last = match.end()
        verse.spanish = "".join(pieces) + text[last:]
        recased += 1
    return recased


def dice(first: Counter[str], second: Counter[str]) -> float:
    """Dice coefficient of two multisets (0 when both are empty)."""
    total = sum(first.values()) + sum(second.values())
    return 2 * sum((first & second).values()) / total if total else 0.0


def out_of_place_verses(verses: list[Verse]) -> list[int]:
    """Find the verses whose Spanish side sits in the wrong slot.

    A Spanish verse is out of place when a KJV verse up to ``SHIFT_WINDOW`` slots away shares
    clearly more Strong's numbers with it (Dice higher by over ``SHIFT_MARGIN``) than its own.

    Args:
        verses: All verse slots, in canonical order.

    Returns:
        Indices into ``verses``, ascending.
    """
    found = []
    for index, verse in enumerate(verses):
        own = dice(verse.english_strongs, verse.spanish_strongs)
        for other in range(max(0, index - SHIFT_WINDOW), min(len(verses), index + SHIFT_WINDOW + 1)):
            if other != index and dice(verses[other].english_strongs, verse.spanish_strongs) > own + SHIFT_MARGIN:
                found.append(index)
                break
    return found


def shifted_chapters(verses: list[Verse], out_of_place: list[int]) -> Counter[str]:
    """Find the chapters where the Spanish follows another verse numbering.

    Args:
        verses: All verse slots, in canonical order.
        out_of_place: What ``out_of_place_verses`` found.

    Returns:
        Chapter -> number of out-of-place verses, for the chapters with at least
        ``SHIFTED_VERSES_PER_CHAPTER`` of them, in canonical order.
    """
    counts = Counter(verses[index].chapter for index in out_of_place)
    return Counter({chapter: n for chapter, n in counts.items() if n >= SHIFTED_VERSES_PER_CHAPTER})


DROP_REASONS = {
    "empty": "empty on one side",
    "merged": "the next verse is empty on one side",
    "titled": "a section title or subscription in the KJV",
    "shifted": "in a shifted chapter",
    "out_of_place": "Spanish side out of place",
    "duplicate": "repeats an earlier pair",
    "too_long": "over the length limits",
}


def drop_reasons(
    verses: list[Verse], out_of_place: list[int], max_source: int | None, max_target: int | None
) -> list[str | None]:
    """Decide, verse by verse, whether it becomes a pair, and if not, why.

    Args:
        verses: All verse slots, in canonical order.
        out_of_place: What ``out_of_place_verses`` found.
        max_source: Most English words a pair may have; ``None`` for no limit.
        max_target: Most Spanish words a pair may have; ``None`` for no limit.

    Returns:
        For each verse, ``None`` if it is kept, else the first rule (a key of ``DROP_REASONS``) that drops it.
    """
    shifted = shifted_chapters(verses, out_of_place)
    misplaced = set(out_of_place)
    empty = [not (verse.english and verse.spanish) for verse in verses]
    seen: set[tuple[str, str]] = set()
    reasons: list[str | None] = []
    for index, verse in enumerate(verses):
        pair = (verse.english, verse.spanish)
        if empty[index]:
            reason = "empty"
        elif index + 1 < len(verses) and empty[index + 1] and verses[index + 1].chapter == verse.chapter:
            reason = "merged"
        elif verse.titled:
            reason = "titled"
        elif verse.chapter in shifted:
            reason = "shifted"
        elif index in misplaced:
            reason = "out_of_place"
        elif pair in seen:
            reason = "duplicate"
        elif (max_source is not None and len(pair[0].split()) > max_source) or (
            max_target is not None and len(pair[1].split()) > max_target
        ):
            reason = "too_long"
        else:
            reason = None
        seen.add(pair)
        reasons.append(reason)
    return reasons


def write_pairs(pairs: list[tuple[str, str]], path: Path) -> None:
    """Write ``english<TAB>spanish`` lines (UTF-8, LF).

    Args:
        pairs: The pairs, in order.
        path: Output file; its directory is created if needed.
    """
    packages.write_lines(path, (f"{english}\t{spanish}" for english, spanish in pairs))


def print_summary(verses: list[Verse], out_of_place: list[int], reasons: list[str | None], path: Path) -> None:
    """Print what was dropped and why, and the size of what was written.

    Args:
        verses: All verse slots.
        out_of_place: What ``out_of_place_verses`` found.
        reasons: Their drop reasons (``None``: kept).
        path: The file written.
    """
    data = path.read_bytes()
    pairs = [(verse.english, verse.spanish) for verse, reason in zip(verses, reasons, strict=True) if reason is None]
    dropped = Counter(reason for reason in reasons if reason is not None)
    print(f"wrote {path}: {len(pairs)} pairs, {len(data)} bytes, SHA-256 {hashlib.sha256(data).hexdigest()}")
    print(f"{len(verses)} verse slots (KJV versification), {len(verses) - len(pairs)} dropped:")
    for reason, text in DROP_REASONS.items():
        print(f"  {dropped[reason]:>6}  {text}")
    both_empty = sum(1 for verse in verses if not (verse.english or verse.spanish))
    print(f"  ({both_empty} verses are empty on both sides)")
    shifted = shifted_chapters(verses, out_of_place)
    print("shifted chapters (out-of-place Spanish verses): " + ", ".join(f"{c} ({n})" for c, n in shifted.items()))
    lone = [verses[i].ref for i in out_of_place if verses[i].chapter not in shifted]
    print("other out-of-place verses: " + ", ".join(lone))
    en_words = [len(english.split()) for english, _ in pairs]
    es_words = [len(spanish.split()) for _, spanish in pairs]
    print(f"English words: {sum(en_words)} (mean {sum(en_words) / len(pairs):.1f}, max {max(en_words)})")
    print(f"Spanish words: {sum(es_words)} (mean {sum(es_words) / len(pairs):.1f}, max {max(es_words)})")
    print(
        f"distinct words: English {len({w for e, _ in pairs for w in e.split()})}, "
        f"Spanish {len({w for _, s in pairs for w in s.split()})}"
    )
    books: Counter[str] = Counter()
    for verse, reason in zip(verses, reasons, strict=True):
        if reason is None:
            books[verse.ref.split(".", 1)[0]] += 1
    print("pairs per book: " + " ".join(f"{book}:{n}" for book, n in books.items()))


def add_options(parser: argparse.ArgumentParser) -> None:
    """Add the options besides ``--out`` and ``--debs``: ``--all``.

    Args:
        parser: The command-line parser.
    """
    parser.add_argument(
        "--all", action="store_true", help="write every pair, whatever its length, to kjv_rv1909_full.tsv"
    )


def main(argv: list[str] | None = None) -> None:
    """Fetch both packages, pair the verses and write the slice (or every pair).

    Args:
        argv: Arguments, without the program name; ``None`` reads ``sys.argv``.
    """
    args = packages.parse_args(
        __doc__,
        DEFAULT_OUT,
        "--debs",
        DEBS_HELP,
        argv,
        package_metavar=("KJV_DEB", "SPARV_DEB"),
        add_options=add_options,
    )
    kjv_deb, sparv_deb = args.debs or (None, None)
    english = packages.read_package(KJV.release, kjv_deb, lambda deb: read_module(deb, KJV))
    spanish = packages.read_package(RV1909.release, sparv_deb, lambda deb: read_module(deb, RV1909))
    verses = pair_verses(english, spanish)
    recased = recase_chapter_openings(verses)
    out_of_place = out_of_place_verses(verses)
    if args.all:
        reasons, name = drop_reasons(verses, out_of_place, None, None), "kjv_rv1909_full.tsv"
    else:
        reasons, name = drop_reasons(verses, out_of_place, MAX_SOURCE_WORDS, MAX_TARGET_WORDS), "kjv_rv1909.tsv"
    path = args.out / name
    write_pairs([(v.english, v.spanish) for v, reason in zip(verses, reasons, strict=True) if reason is None], path)
    print_summary(verses, out_of_place, reasons, path)
    print(f"{recased} Spanish chapter openings re-cased (EN el principio -> En el principio)")


if __name__ == "__main__":
    main()
