"""The translator's scores: like-cased BLEU, chrF and exact match (sacrebleu)."""

from __future__ import annotations

import pytest

from kinds.translator.evaluate import score

REFERENCES = ["And God said , Let there be light : and there was light .", "In the beginning God created the heaven ."]
LOWERCASED = [r.lower() for r in REFERENCES]


def test_a_lowercase_model_scored_case_insensitively_gets_full_marks_for_right_translations():
    scores = score(LOWERCASED, REFERENCES, lowercase=True)

    assert scores["bleu"] == pytest.approx(100.0)
    assert scores["chrf"] == pytest.approx(100.0)
    assert scores["exact_match"] == 1.0


def test_a_cased_model_is_scored_cased():
    cased = score(LOWERCASED, REFERENCES)

    assert cased["bleu"] < 80.0 and cased["exact_match"] == 0.0
    assert score(REFERENCES, REFERENCES)["bleu"] == pytest.approx(100.0)
