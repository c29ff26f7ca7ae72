"""Writes the hostile corpus files of this folder (see README.md here); run it after changing one of them.

    python tests/data/bad/make_bad.py

Every file is built from bytes, never from ``str``, so invalid UTF-8, NUL bytes and CRLF line ends are
written exactly as given. The 1 MB line is not committed: ``one_megabyte_line`` builds it at test time.
`tests/unit/test_hostile_corpora.py` checks that the committed files equal what this script writes.
"""

from __future__ import annotations

import pathlib
import sys

HERE = pathlib.Path(__file__).resolve().parent

BOM = b"\xef\xbb\xbf"
MEGABYTE = 1 << 20


def conllu_word(
    index: int, form: bytes, upos: bytes, xpos: bytes = b"_", head: int = 0, lemma: bytes | None = None
) -> bytes:
    """One CoNLL-U word line: the ten columns, tab-separated (LEMMA defaults to the lowercased FORM)."""
    deprel = b"root" if head == 0 else b"dep"
    lemma = form.lower() if lemma is None else lemma
    columns = [str(index).encode(), form, lemma, upos, xpos, b"_", str(head).encode(), deprel, b"_", b"_"]
    return b"\t".join(columns)


def lines(*items: bytes, eol: bytes = b"\n") -> bytes:
    """The lines joined, each one ended by `eol` (the last one too)."""
    return b"".join(item + eol for item in items)


# Clean sentences reused by several files.
BROWN_CLEAN = [b"The/DET dog/NOUN barks/VERB ./.", b"A/DET cat/NOUN sleeps/VERB ./."]
CONLLU_CLEAN = [
    [b"# sent_id = 1", conllu_word(1, b"The", b"DET", b"DT", 2), conllu_word(2, b"dog", b"NOUN", b"NN")],
    [b"# sent_id = 2", conllu_word(1, b"barks", b"VERB", b"VBZ")],
]
CONLL_CLEAN = [[b"EU NNP B-NP B-ORG", b"rejects VBZ B-VP O"], [b"Peter NNP B-NP B-PER"]]


def blocks(*sentences: list[bytes], eol: bytes = b"\n") -> bytes:
    """Sentences (lists of lines), a blank line between two of them, the file ended by `eol`."""
    return (eol + eol).join(eol.join(sentence) for sentence in sentences) + eol


FILES: dict[str, bytes] = {
    # --- invalid UTF-8 ---------------------------------------------------------------------------
    "invalid_utf8.brown.txt": lines(
        BROWN_CLEAN[0],
        b"caf\xe9/NOUN is/VERB open/ADJ ./.",  # Latin-1 e-acute
        BROWN_CLEAN[1],
        b"\xed\xa0\x80/X lone/ADJ surrogate/NOUN",  # U+D800 encoded as bytes (CESU-8 / WTF-8)
        b"cut/VERB short/ADJ \xe2\x82/SYM",  # a three-byte sequence cut after two bytes
        b"\xc0\xaf/SYM overlong/ADJ",  # overlong encoding of "/"
    ),
    "invalid_utf8.conllu": blocks(
        CONLLU_CLEAN[0],
        [b"# sent_id = 2", b"# text = caf\xe9", conllu_word(1, b"cafe", b"NOUN", b"NN")],  # bad comment
        [b"# sent_id = 3", conllu_word(1, b"na\xefve", b"ADJ", b"JJ")],  # bad FORM
        CONLLU_CLEAN[1],
    ),
    "invalid_utf8.conll": blocks(
        CONLL_CLEAN[0],
        [b"Caf\xe9 NNP B-NP B-LOC", b"opens VBZ B-VP O"],
        CONLL_CLEAN[1],
    ),
    # --- byte order mark and CRLF ----------------------------------------------------------------
    "bom.brown.txt": BOM + lines(*BROWN_CLEAN),
    "bom.conllu": BOM + blocks(*CONLLU_CLEAN),
    "bom.conll": BOM + blocks(*CONLL_CLEAN),
    "crlf.brown.txt": lines(BROWN_CLEAN[0], b"", BROWN_CLEAN[1], eol=b"\r\n"),
    "crlf.conllu": blocks(*CONLLU_CLEAN, eol=b"\r\n"),
    "crlf.conll": b"-DOCSTART- -X- -X- O\r\n\r\n" + blocks(*CONLL_CLEAN, eol=b"\r\n"),
    # --- nothing to read -------------------------------------------------------------------------
    "empty.txt": b"",
    # Spaces, tabs, CRLF, a form feed, a no-break space (U+00A0) and an ideographic space (U+3000).
    "blank_lines.txt": b"\n   \n\t\t\n\r\n \t \r\n\x0c\n\xc2\xa0\n\xe3\x80\x80\n\n",
    # --- NUL bytes -------------------------------------------------------------------------------
    "nul.brown.txt": lines(BROWN_CLEAN[0], b"ca\x00t/NOUN sleeps/VERB", b"\x00", BROWN_CLEAN[1]),
    "nul.conllu": blocks(
        CONLLU_CLEAN[0],
        [b"# sent_id = 2", conllu_word(1, b"ca\x00t", b"NOUN", b"NN")],
        [b"\x00"],
        CONLLU_CLEAN[1],
    ),
    "nul.conll": blocks(CONLL_CLEAN[0], [b"ca\x00t NN B-NP O"], [b"\x00\x00\x00\x00"], CONLL_CLEAN[1]),
    # --- wrong column counts ---------------------------------------------------------------------
    "wrong_columns.conllu": blocks(
        [b"# sent_id = 1", conllu_word(1, b"The", b"DET", b"DT", 2), b"2\tdog\tNOUN"],  # 3 columns
        [conllu_word(1, b"barks", b"VERB", b"VBZ") + b"\t_"],  # 11 columns
        [b"1 The the DET DT _ 0 root _ _"],  # spaces, not tabs: 1 column
        [conllu_word(1, b"fine", b"ADJ", b"JJ")],
        [conllu_word(1, b"The", b"DET", b"DT").rsplit(b"\t", 1)[0]],  # 9 columns: MISC missing
    ),
    "wrong_columns.conll": blocks(
        [b"EU NNP B-NP B-ORG", b"rejects"],  # 1 column
        [b"Peter NNP B-NP B-PER", b"Blackburn NNP B-NP I-PER"],
        [b"German JJ B-NP B-MISC", b"call NN I-NP"],  # 3 columns after 4: the last one is a chunk tag
        [b"lamb\tNN\tB-NP\tO"],  # tabs are white space too
    ),
    # --- a label in eval never seen in train (brown) ---------------------------------------------
    "unseen_label.train.brown.txt": lines(
        *BROWN_CLEAN, b"I/PRON see/VERB the/DET boat/NOUN ./.", b"They/PRON run/VERB ./."
    ),
    "unseen_label.eval.brown.txt": lines(b"Wow/INTJ ,/. the/DET dog/NOUN barks/VERB ./.", BROWN_CLEAN[1]),
    # --- CoNLL-U layout --------------------------------------------------------------------------
    "multiword.conllu": blocks(
        [
            b"# sent_id = es-1",
            b"# text = V\xc3\xa1monos al mar",
            b"1-2\tV\xc3\xa1monos\t_\t_\t_\t_\t_\t_\t_\t_",
            conllu_word(1, b"V\xc3\xa1mos", b"VERB", b"VMM01P0"),
            conllu_word(2, b"nos", b"PRON", b"PP1CP00", 1),
            b"3-4\tal\t_\t_\t_\t_\t_\t_\t_\t_",
            conllu_word(3, b"a", b"ADP", b"SPS00", 5),
            conllu_word(4, b"el", b"DET", b"DA0MS0", 5),
            conllu_word(5, b"mar", b"NOUN", b"NCMS000", 1),
        ],
        [
            b"# sent_id = en-2",
            b"# text = Sue likes coffee and Bill tea",
            conllu_word(1, b"Sue", b"PROPN", b"NNP", 2),
            conllu_word(2, b"likes", b"VERB", b"VBZ"),
            conllu_word(3, b"coffee", b"NOUN", b"NN", 2),
            conllu_word(4, b"and", b"CCONJ", b"CC", 5),
            conllu_word(5, b"Bill", b"PROPN", b"NNP", 2),
            b"5.1\tlikes\tlike\tVERB\tVBZ\t_\t_\t_\t2:conj\tCopyOf=2",  # empty node
            conllu_word(6, b"tea", b"NOUN", b"NN", 5),
        ],
        [b"# sent_id = fr-3", b"1-2\tdu\t_\t_\t_\t_\t_\t_\t_\t_"],  # a range and no word: empty sentence
    ),
    "comments_only.conllu": blocks(
        [b"# newdoc id = doc-1", b"# sent_id = 1", b"# text = nothing but comments"],
        [b"# sent_id = 2", b"#", b"# text = still nothing"],
    ),
    # --- tokens without tags (brown) -------------------------------------------------------------
    "no_tag.brown.txt": lines(
        BROWN_CLEAN[0],
        b"The dog/NOUN barks/VERB",  # no slash at all
        b"The/DET dog/ barks/VERB",  # empty tag
        b"The/DET /NOUN barks/VERB",  # empty word
        b"plain words and no tags",
        BROWN_CLEAN[1],
    ),
    # --- a carriage return inside a CoNLL-U FORM and UPOS (not at the end of the line) -----------
    "stray_cr.conllu": blocks(
        [b"# sent_id = 1", conllu_word(1, b"old\rmac", b"NOUN", b"NN"), conllu_word(2, b"sleeps", b"VERB", b"VBZ", 1)],
        [conllu_word(1, b"dog", b"NO\rUN", b"NN")],
        *CONLLU_CLEAN,
    ),
}


def one_megabyte_line(fmt: str, *, valid: bool) -> bytes:
    """A file whose one line is at least 1 MiB: a usable sentence if `valid`, else one that must be rejected.

    brown: 262,144 ``w/N`` tokens (valid), or one 1 MiB token without a slash.
    conllu: one word whose FORM is 1 MiB (valid), or a 1 MiB line without a tab.
    conll: one 1 MiB token followed by its tag (valid), or a 1 MiB token alone.
    """
    if fmt == "brown":
        return (b"w/N " * (MEGABYTE // 4) if valid else b"x" * MEGABYTE) + b"\n"
    if fmt == "conllu":
        return (conllu_word(1, b"x" * MEGABYTE, b"NOUN", lemma=b"_") if valid else b"1" * MEGABYTE) + b"\n"
    if fmt == "conll":
        return b"x" * MEGABYTE + (b" NOUN" if valid else b"") + b"\n"
    raise ValueError(f"unknown format {fmt!r}")


def write(folder: pathlib.Path = HERE) -> list[pathlib.Path]:
    """Writes every file of `FILES` into `folder`; returns their paths."""
    paths = []
    for name, content in FILES.items():
        path = folder / name
        path.write_bytes(content)
        paths.append(path)
    return paths


if __name__ == "__main__":
    folder = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else HERE
    for written in write(folder):
        print(f"{written.name}: {written.stat().st_size} bytes")
