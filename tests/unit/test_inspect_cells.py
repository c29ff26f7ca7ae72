"""Interpretable cells: per-character features, correlation with units, activations, the HTML page."""

from __future__ import annotations

import itertools
import json
import re

import keras
import numpy as np
import pytest

from kinds.language_model.cells import (
    FEATURES,
    LINE_END_CAP,
    activation_colour,
    correlated_units,
    hidden_states,
    inspect,
    render_html,
    text_features,
)
from models import text
from models.language_model import RESETS, LanguageModelSizes, build_language_model, stateless_copy
from pipeline.config import ModelConfig

TEXT = 'He said "hi (there)".\nf(a(b)) ok\n"x'
UNITS = [*text.RESERVED_TOKENS, *sorted(set(TEXT))]


def ids_of(string: str) -> list[int]:
    return [UNITS.index(char) for char in string]


def config(cell: str = "lstm") -> ModelConfig:
    return ModelConfig(cell=cell, layers=2, bidirectional=False, embedding_dim=5, hidden_dim=7, dropout=0.0)


# ----------------------------------------------------------------------------------------------
# Features


def test_quotes_count_the_opening_quote_inside_and_the_closing_one_outside():
    features = text_features('a"bc"d"e\nf')

    assert features["inside_quotes"].tolist() == [0, 1, 1, 1, 0, 0, 1, 1, 1, 1]  # open to the end, across lines
    assert text_features("x\u201cy\u201dz")["inside_quotes"].tolist() == [0, 1, 1, 0, 0]


def test_position_in_line_and_line_end_soon_count_from_and_to_newlines():
    features = text_features("ab\ncd\n\ne")

    assert features["position_in_line"].tolist() == [1, 2, 0, 1, 2, 0, 0, 1]
    assert features["line_end_soon"].tolist() == [1, 0, 2, 1, 0, 0, 1, 0]
    long = text_features("x" * (LINE_END_CAP + 20))["line_end_soon"]
    assert long.max() == LINE_END_CAP and long[-1] == 0


def test_bracket_depth_counts_open_parentheses_and_ignores_unmatched_closers():
    features = text_features("f(a(b)))c(")

    assert features["bracket_depth"].tolist() == [0, 1, 1, 2, 2, 1, 0, 0, 0, 1]


def test_inside_word_marks_letters():
    features = text_features("Ab 1é!")

    assert features["inside_word"].tolist() == [1, 1, 0, 0, 1, 0]
    assert set(features) == set(FEATURES)
    assert all(values.shape == (6,) for values in features.values())


# ----------------------------------------------------------------------------------------------
# Correlation


def test_a_planted_unit_is_found_and_constant_series_give_zero():
    rng = np.random.default_rng(0)
    features = text_features(TEXT * 4)
    size = len(TEXT) * 4
    states = [rng.normal(size=(size, 6)), rng.normal(size=(size, 4))]
    states[1][:, 2] = features["bracket_depth"] + 0.01 * rng.normal(size=size)
    states[0][:, 3] = 0.5  # a constant unit
    features["constant"] = np.full(size, 2.0)

    table = correlated_units(states, features, top=3)

    best = table["bracket_depth"][0]
    assert (best["layer"], best["unit"]) == (1, 2) and best["r"] == pytest.approx(1.0, abs=1e-3)
    assert len(table["bracket_depth"]) == 3
    assert all(abs(a["r"]) >= abs(b["r"]) for a, b in itertools.pairwise(table["inside_word"]))
    assert [row["r"] for row in table["constant"]] == [0.0, 0.0, 0.0]
    assert not any(row["layer"] == 0 and row["unit"] == 3 and row["r"] != 0 for rows in table.values() for row in rows)
    everything = correlated_units(states, {"inside_word": features["inside_word"]}, top=100)["inside_word"]
    assert len(everything) == 10 and not any(np.isnan(row["r"]) for row in everything)
    assert next(row for row in everything if (row["layer"], row["unit"]) == (0, 3))["r"] == 0.0


# ----------------------------------------------------------------------------------------------
# Activations


def layer_outputs(model: keras.Model, cell: str, ids: list[int]) -> list[np.ndarray]:
    """Each RNN layer's output sequence of the stateless model on [START] + ids, the [START] step dropped."""
    probe = keras.Model(model.inputs, [model.get_layer(f"{cell}_{i}").output for i in range(2)])
    inputs = {text.TOKEN_IDS: np.array([[text.START_ID, *ids]], np.int32), RESETS: np.zeros((1, len(ids) + 1))}
    return [np.asarray(output)[0, 1:] for output in probe(inputs, training=False)]


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_hidden_states_of_a_stateful_model_equal_the_stateless_model(cell):
    keras.utils.set_random_seed(1)
    sizes = LanguageModelSizes(len(UNITS))
    model = build_language_model(sizes, config(cell), batch_size=4, stateful=True)
    # Carry some state, which hidden_states must neither use nor change.
    model({text.TOKEN_IDS: np.full((4, 3), 5, np.int32), RESETS: np.zeros((4, 3))}, training=False)
    carried = [np.asarray(variable) for variable in model.get_layer(f"{cell}_0").states]
    ids = ids_of(TEXT)

    states = hidden_states(model, ids)

    assert [layer.shape for layer in states] == [(len(TEXT), 7), (len(TEXT), 7)]
    expected = layer_outputs(stateless_copy(model, sizes, config(cell)), cell, ids)
    for got, want in zip(states, expected, strict=True):
        np.testing.assert_allclose(got, want, atol=1e-5)
    for before, after in zip(carried, model.get_layer(f"{cell}_0").states, strict=True):
        np.testing.assert_array_equal(before, np.asarray(after))


def test_lstm_cell_states_are_tanh_c_which_bounds_h():
    keras.utils.set_random_seed(2)
    model = build_language_model(LanguageModelSizes(len(UNITS)), config("lstm"))
    ids = ids_of(TEXT)

    hidden, cells = hidden_states(model, ids), hidden_states(model, ids, cell_state=True)

    for h, tanh_c in zip(hidden, cells, strict=True):
        assert tanh_c.shape == h.shape and np.all(np.abs(tanh_c) < 1)
        assert np.all(np.abs(h) <= np.abs(tanh_c) + 1e-6)  # h = o * tanh(c), 0 < o < 1
    with pytest.raises(ValueError, match="LSTM"):
        hidden_states(build_language_model(LanguageModelSizes(len(UNITS)), config("gru")), ids, cell_state=True)


# ----------------------------------------------------------------------------------------------
# Page


def test_render_html_escapes_keeps_newlines_and_colours_by_activation(tmp_path):
    page_text = "a<b & c\nxy"
    activations = np.zeros((len(page_text), 2))
    activations[page_text.index("x"), 1] = 1.0
    activations[page_text.index("y"), 1] = -1.0

    path = render_html(page_text, [activations], [(0, 1, "layer 0, unit 1: <quotes> & more")], tmp_path / "p.html")

    page = path.read_text(encoding="utf-8")
    assert "&lt;" in page and "&amp;" in page and "a<b" not in page
    assert "&lt;quotes&gt; &amp; more" in page
    body = re.search(r"<pre>(.*?)</pre>", page, re.S).group(1)
    assert "\n" in body and re.sub(r"<[^>]+>", "", body) == "a&lt;b &amp; c \nxy"
    assert re.search(r"background:#ff0000[^>]*>x<", body) and re.search(r"background:#0000ff[^>]*>y<", body)
    assert re.search(r"background:#ffffff[^>]*>a<", body)
    assert (
        activation_colour(1) == "#ff0000" and activation_colour(-1) == "#0000ff" and activation_colour(0) == "#ffffff"
    )
    assert activation_colour(0.5) == "#ff8080" and activation_colour(7) == "#ff0000"
    assert "linear-gradient" in page  # the legend
    assert "http" not in page  # self-contained


def test_inspect_writes_the_page_and_the_table(tmp_path):
    keras.utils.set_random_seed(3)
    model = build_language_model(LanguageModelSizes(len(UNITS)), config("lstm"), batch_size=4, stateful=True)

    paths = inspect(model, UNITS, ids_of(TEXT), TEXT, tmp_path / "out", top=2)

    report = json.loads(paths["json"].read_text())
    assert paths["html"].name == "cells.html" and paths["json"].name == "cells.json"
    assert set(report["features"]) == set(FEATURES) and all(len(rows) == 2 for rows in report["features"].values())
    assert report["layers"] == ["lstm_0", "lstm_1"] and report["hidden"] == [7, 7]
    page = paths["html"].read_text(encoding="utf-8")
    assert page.count("<section>") == len(FEATURES) and "inside_quotes (r = " in page

    paths = inspect(model, UNITS, ids_of(TEXT), TEXT, tmp_path / "one", unit=(1, 4))

    assert json.loads(paths["json"].read_text())["unit"]["layer"] == 1
    page = paths["html"].read_text(encoding="utf-8")
    assert page.count("<section>") == 1 and "layer 1, unit 4: " in page
    with pytest.raises(ValueError, match="character"):
        inspect(model, UNITS, ids_of(TEXT)[:-1], TEXT, tmp_path / "bad")
