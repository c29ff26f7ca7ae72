"""Interpretable cells of a character language model, after Karpathy, Johnson and Fei-Fei (2016).

"Visualizing and Understanding Recurrent Networks" finds single units of a character LSTM that track
something a person can name: whether the text is inside a quotation, how far the line has run, how
deep the parentheses are nested. This module finds such units by correlation and draws them the way
the paper does, each character's background coloured by the unit's activation after reading it.

- `hidden_states` runs a text through the model's own trained layers from a zero state;
- `text_features` computes the nameable quantities, one value per character;
- `correlated_units` ranks the units of every layer by their Pearson correlation with each feature;
- `render_html` writes a self-contained page; `inspect` does all of it for one text.

Every value is aligned to a character and describes the moment *after* that character was read
(what the model's state can know): the opening quote is inside the quotation, the closing one is not.
The model must read one unit per character (the `characters` tokenizer) for the two to line up.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from models import text as text_ids
from models.language_model import ResettableCell

FEATURES = ("inside_quotes", "position_in_line", "bracket_depth", "inside_word", "line_end_soon")
LINE_END_CAP = 80
"""`line_end_soon` counts at most this many characters: beyond it, the end of the line is "far"."""

OPENING_QUOTES = ("\u201c",)  # “
CLOSING_QUOTES = ("\u201d",)  # ”
TOGGLING_QUOTES = ('"',)


# --------------------------------------------------------------------------- activations


def _recurrent_layers(model: keras.Model) -> list[keras.layers.RNN]:
    layers = [layer for layer in model.layers if isinstance(layer, keras.layers.RNN)]
    if not layers:
        raise ValueError(f"model {model.name!r} has no recurrent layer")
    return layers


def _run_cells(model: keras.Model, unit_ids: list[int]) -> list[list[np.ndarray]]:
    """Every state of every recurrent layer after each unit of `[START] + unit_ids`, from zero states.

    Returns:
        Per layer, its cell's states (LSTM: [h, c]; GRU, simple RNN: [h]), each float [len(unit_ids), size];
        the state after the `[START]` is left out.
    """
    embedding = model.get_layer("unit_embedding")
    ids = [text_ids.START_ID, *(int(i) for i in unit_ids)]
    if min(ids) < 0 or max(ids) >= embedding.input_dim:
        raise ValueError(f"unit ids must lie in [0, {embedding.input_dim}) (the model's vocabulary)")
    # The wrapped cells, as `Generator` runs them: from a zero state with no reset inside the text, the
    # reset flag never acts, and the stateful layers' carried states (fixed batch size) are neither
    # needed nor touched.
    cells = [
        layer.cell.cell if isinstance(layer.cell, ResettableCell) else layer.cell for layer in _recurrent_layers(model)
    ]

    @tf.function
    def run(ids):
        sequence = tf.transpose(embedding(ids[None, :]), [1, 0, 2])  # [time, 1, features]
        initial = [[tf.zeros([1, size], sequence.dtype) for size in tf.nest.flatten(cell.state_size)] for cell in cells]

        def step(states, features):
            new_states = []
            for cell, state in zip(cells, states, strict=True):
                features, state = cell(features, state if len(state) > 1 else state[0], training=False)
                new_states.append(list(state) if isinstance(state, list | tuple) else [state])
            return new_states

        return tf.scan(step, sequence, initializer=initial)

    stacked = run(tf.constant(ids, tf.int32))
    return [[np.asarray(state, dtype=np.float32)[1:, 0, :] for state in layer] for layer in stacked]


def hidden_states(model: keras.Model, unit_ids: list[int], *, cell_state: bool = False) -> list[np.ndarray]:
    """Each recurrent layer's activations after each unit of a text, read from a zero state.

    The model's own trained layers (embedding and cells) are run one unit at a time on `[START] + unit_ids`
    with batch size 1, so a stateful model of fixed batch size works as is and its carried state is left
    alone; dropout is off. This equals the stateless model (`stateless_copy`) on the same ids.

    Args:
        model: a model from `models.language_model.build_language_model` (stateful or not, or loaded).
        unit_ids: the text's unit ids, without the `[START]`.
        cell_state: LSTM only: return tanh(c), the squashed memory cell that the paper colours, instead of
            the hidden output h = o * tanh(c).

    Returns:
        Per recurrent layer (in order, `<cell>_0` first), float32 [len(unit_ids), hidden]: row t is the state
        after reading `unit_ids[t]`. For an LSTM the hidden output h (or tanh(c)); for a GRU or simple RNN
        their only state h. All lie in (-1, 1).
    """
    layers = _run_cells(model, unit_ids)
    if not cell_state:
        return [states[0] for states in layers]
    if any(len(states) != 2 for states in layers):
        raise ValueError("cell_state needs LSTM layers (only they have a memory cell c)")
    return [np.tanh(states[1]) for states in layers]


# --------------------------------------------------------------------------- features


def text_features(text: str) -> dict[str, np.ndarray]:
    """Nameable quantities of a text, per character, as of *after* reading that character.

    - `inside_quotes`: 1 inside a quotation, else 0. A straight `"` opens and closes in turn, a curly
      `“` opens and `”` closes; the opening quote counts as inside, the closing one as outside (after
      reading it, the quotation is over). A quotation left open runs to the end of the text; quotations
      may span lines.
    - `position_in_line`: characters read since the last newline, this one included; a newline gives 0
      and the text starts as after a newline (`"ab\\ncd"` -> 1, 2, 0, 1, 2).
    - `bracket_depth`: parentheses open after this character: `(` counts itself, `)` does not
      (`"f(a(b))"` -> 0, 1, 1, 2, 2, 1, 0); a `)` with nothing open is ignored (depth never below 0).
    - `inside_word`: 1 for a letter (`str.isalpha`), else 0.
    - `line_end_soon`: characters left before the next newline (or the end of the text), capped at
      `LINE_END_CAP` (`"ab\\ncd"` -> 1, 0, 2, 1, 0).

    Returns:
        Each feature (`FEATURES`) as float64 [len(text)].
    """
    size = len(text)
    features = {name: np.zeros(size) for name in FEATURES}
    inside, position, depth = False, 0, 0
    for index, char in enumerate(text):
        if char in TOGGLING_QUOTES:
            inside = not inside
        elif char in OPENING_QUOTES:
            inside = True
        elif char in CLOSING_QUOTES:
            inside = False
        if char == "(":
            depth += 1
        elif char == ")":
            depth = max(depth - 1, 0)
        position = 0 if char == "\n" else position + 1
        features["inside_quotes"][index] = inside
        features["position_in_line"][index] = position
        features["bracket_depth"][index] = depth
        features["inside_word"][index] = char.isalpha()
    line_end = size  # the index of the next newline at or after each character, scanning backwards
    for index in range(size - 1, -1, -1):
        features["line_end_soon"][index] = min(line_end - index - 1, LINE_END_CAP)
        if text[index] == "\n":
            line_end = index
    return features


# --------------------------------------------------------------------------- correlation


def _correlations(states: list[np.ndarray], series: np.ndarray) -> list[np.ndarray]:
    """Pearson r of every unit of every layer with `series` [time]; 0 where either is constant."""
    series = np.asarray(series, dtype=np.float64)
    centred = series - series.mean() if series.size else series
    series_norm = np.sqrt(centred @ centred) if series.size and np.ptp(series) > 0 else 0.0
    result = []
    for layer in states:
        layer = np.asarray(layer, dtype=np.float64)
        if layer.shape[0] != series.shape[0]:
            raise ValueError(f"{layer.shape[0]} states but {series.shape[0]} feature values: one per character")
        if not series_norm:
            result.append(np.zeros(layer.shape[1]))
            continue
        units = layer - layer.mean(axis=0)
        norms = np.sqrt(np.einsum("tu,tu->u", units, units))
        constant = (np.ptp(layer, axis=0) == 0) | (norms == 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            r = (centred @ units) / (series_norm * norms)
        result.append(np.clip(np.where(constant | ~np.isfinite(r), 0.0, r), -1.0, 1.0))
    return result


def correlated_units(states: list[np.ndarray], features: dict[str, np.ndarray], top: int = 5) -> dict[str, list[dict]]:
    """For each feature, the `top` units with the largest |Pearson r| over the text.

    Args:
        states: per layer, activations [time, units] (from `hidden_states`).
        features: per name, values [time] (from `text_features`).
        top: units kept per feature (all of them if there are fewer).

    Returns:
        Per feature, a list of {"layer", "unit", "r"} (layer and unit 0-based, r a float in [-1, 1]) by
        decreasing |r|, ties by layer then unit. A constant unit or feature has r = 0, never NaN.
    """
    table = {}
    for name, series in features.items():
        rows = [
            (layer, unit, float(r))
            for layer, rs in enumerate(_correlations(states, series))
            for unit, r in enumerate(rs)
        ]
        rows.sort(key=lambda row: (-abs(row[2]), row[0], row[1]))
        table[name] = [{"layer": layer, "unit": unit, "r": r} for layer, unit, r in rows[: max(top, 0)]]
    return table


# --------------------------------------------------------------------------- rendering


def activation_colour(value: float) -> str:
    """`#rrggbb` of an activation in the tanh range: -1 blue, 0 white, +1 red, linear between (clipped)."""
    value = float(np.clip(np.nan_to_num(value), -1.0, 1.0))
    fade = round(255 * (1.0 - abs(value)))
    red, green, blue = (255, fade, fade) if value >= 0 else (fade, fade, 255)
    return f"#{red:02x}{green:02x}{blue:02x}"


_STYLE = """
body { font-family: sans-serif; margin: 2em; color: #222; }
pre { font-family: monospace; font-size: 14px; line-height: 1.5; white-space: pre-wrap;
      border: 1px solid #ccc; padding: 0.5em; }
pre span { padding: 1px 0; }
.legend { display: flex; align-items: center; gap: 0.5em; font-size: 13px; }
.bar { width: 240px; height: 14px; border: 1px solid #999;
       background: linear-gradient(to right, #0000ff, #ffffff, #ff0000); }
"""


def _coloured_text(text: str, activations: np.ndarray) -> str:
    spans = []
    for char, value in zip(text, activations, strict=True):
        colour = activation_colour(value)
        ink = "#ffffff" if abs(float(np.nan_to_num(value))) > 0.6 else "#000000"
        # A newline shows its own activation as a coloured space at the end of the line it closes.
        shown = " " if char == "\n" else html.escape(char)
        spans.append(f'<span style="background:{colour};color:{ink}" title="{float(value):+.3f}">{shown}</span>')
        if char == "\n":
            spans.append("\n")
    return "".join(spans)


def render_html(text: str, states: list[np.ndarray], selections: list[tuple[int, int, str]], path: Path) -> Path:
    """A self-contained HTML page of units' activations over a text, coloured as in the paper.

    Args:
        text: the text the states were computed on, one state per character.
        states: per layer, activations [len(text), units] in the tanh range (from `hidden_states`).
        selections: (layer, unit, title) of each unit to draw, in order; the title heads its section.
        path: where the page is written (parent directories created).

    Returns:
        `path`. Each section shows the text in a `<pre>` with each character's background coloured by the
        unit's activation after reading it (-1 blue, 0 white, +1 red; the value on hover); characters are
        escaped with `html.escape` and newlines kept. A legend explains the colours.
    """
    sections = []
    for layer, unit, title in selections:
        if not 0 <= layer < len(states) or not 0 <= unit < states[layer].shape[1]:
            raise ValueError(f"no unit {unit} in layer {layer}")
        activations = np.asarray(states[layer])[:, unit]
        if activations.shape[0] != len(text):
            raise ValueError(f"{activations.shape[0]} activations for {len(text)} characters")
        sections.append(
            f"<section>\n<h2>{html.escape(title)}</h2>\n<pre>{_coloured_text(text, activations)}</pre>\n</section>"
        )
    legend = (
        '<div class="legend">activation after reading each character: <span>-1</span><span class="bar"></span>'
        "<span>+1</span> (blue negative, white 0, red positive; hover a character for its value)</div>"
    )
    page = "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en">',
            '<head><meta charset="utf-8"><title>Interpretable cells</title>',
            f"<style>{_STYLE}</style></head>",
            "<body>",
            "<h1>Interpretable cells</h1>",
            legend,
            *sections,
            "</body>",
            "</html>",
            "",
        ]
    )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path


# --------------------------------------------------------------------------- all together


def _title(layer: int, unit: int, feature: str, r: float) -> str:
    return f"layer {layer}, unit {unit}: {feature} (r = {r:+.3f})"


def inspect(
    model: keras.Model,
    units: list[str],
    unit_ids: list[int],
    text: str,
    out_dir: Path,
    unit: tuple[int, int] | None = None,
    top: int = 5,
    *,
    cell_state: bool = False,
) -> dict[str, Path]:
    """Finds and draws the interpretable cells of a character language model on one text.

    Args:
        model: a model from `build_language_model` (stateful or not, or loaded).
        units: the model's unit vocabulary (`Vocabulary.tokens("units")`), reserved units first.
        unit_ids: `text` tokenized by the model's tokenizer: one id per character.
        text: the text to read.
        out_dir: where `cells.html` and `cells.json` are written.
        unit: (layer, unit) to draw; by default the unit of largest |r| for each feature.
        top: units listed per feature in `cells.json`.
        cell_state: LSTM only: use tanh(c) instead of the hidden output h (see `hidden_states`).

    Returns:
        {"html": cells.html, "json": cells.json}. The JSON holds the correlation table (`correlated_units`),
        the layers, their sizes, the number of `[UNK]` units read and, when `unit` was given, that unit's r
        with every feature.
    """
    if len(unit_ids) != len(text):
        raise ValueError(
            f"{len(unit_ids)} units for {len(text)} characters: cells are inspected on a character model "
            "(one unit per character)"
        )
    vocabulary = model.get_layer("unit_embedding").input_dim
    if len(units) != vocabulary:
        raise ValueError(f"{len(units)} units in the vocabulary but the model has {vocabulary}")
    if any(not 0 <= i < len(units) for i in unit_ids):
        raise ValueError(f"unit ids must lie in [0, {len(units)}) (the vocabulary)")
    tokens = [units[i] for i in unit_ids]
    if any(len(token) != 1 and token not in text_ids.RESERVED_TOKENS for token in tokens):
        raise ValueError("cells are inspected on a character model: some units are longer than one character")
    states = hidden_states(model, unit_ids, cell_state=cell_state)
    features = text_features(text)
    table = correlated_units(states, features, top)
    report = {
        "characters": len(text),
        "layers": [layer.name for layer in _recurrent_layers(model)],
        "hidden": [int(layer_states.shape[1]) for layer_states in states],
        "activation": "tanh(c)" if cell_state else "h",
        "unknown": sum(token == text_ids.RESERVED_TOKENS[text_ids.UNK_ID] for token in tokens),
        "features": table,
    }
    if unit is not None:
        layer, index = unit
        if not 0 <= layer < len(states) or not 0 <= index < states[layer].shape[1]:
            raise ValueError(f"no unit {index} in layer {layer} (hidden sizes {report['hidden']})")
        column = states[layer][:, index : index + 1]
        rs = {name: float(_correlations([column], series)[0][0]) for name, series in features.items()}
        best = max(rs, key=lambda name: abs(rs[name]))
        report["unit"] = {"layer": layer, "unit": index, "r": rs}
        selections = [(layer, index, _title(layer, index, best, rs[best]))]
    else:
        selections = [
            (rows[0]["layer"], rows[0]["unit"], _title(rows[0]["layer"], rows[0]["unit"], name, rows[0]["r"]))
            for name, rows in table.items()
            if rows
        ]
    out_dir = Path(out_dir)
    html_path = render_html(text, states, selections, out_dir / "cells.html")
    json_path = out_dir / "cells.json"
    json_path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return {"html": html_path, "json": json_path}
