"""`pipeline validate`'s advice for a language model: a word-level vocabulary's size, before anything runs."""

from __future__ import annotations

import textwrap

import kinds
from kinds.language_model.advice import LARGE_VOCABULARY, advice


def load(folder, tokenizer: str):
    (folder / "pipeline.yaml").write_text(
        textwrap.dedent(
            f"""\
            tasks:
              - name: lm
                kind: language_model
                data: {{train: "texts/*.txt"}}
                preprocess: {{tokenizer: {tokenizer}}}
            """
        )
    )
    loaded = kinds.load_config(folder / "pipeline.yaml")
    return loaded.variants[0], loaded


def test_a_word_model_over_many_words_is_told_its_vocabulary_and_the_alternative(tmp_path):
    (tmp_path / "texts").mkdir()
    words = [f"word{i}" for i in range(LARGE_VOCABULARY + 500)]
    (tmp_path / "texts" / "a.txt").write_text(" ".join(words[:3000]) + "\n")
    (tmp_path / "texts" / "b.txt").write_text(" ".join(words[3000:]) + " .\n")

    (line,) = advice(*load(tmp_path, "regex"))

    assert f"about {LARGE_VOCABULARY + 501:,} words" in line  # the words and "."
    assert "preprocess.tokenizer: characters" in line


def test_a_character_model_or_a_small_vocabulary_gets_no_advice(tmp_path):
    (tmp_path / "texts").mkdir()
    (tmp_path / "texts" / "a.txt").write_text("the cat sat on the mat .\n" * 100)

    assert advice(*load(tmp_path, "regex")) == []
    assert advice(*load(tmp_path, "characters")) == []
