"""Hidden-unit views of a character model, after Karpathy's "The Unreasonable Effectiveness of RNNs".

    text -> ids -> every hidden unit's activation after each character (N, U)
         -> Pearson r with simple per-character features -> units chosen on the first part of the text
            (the run's training text), their r reported on the rest (held out: its validation text), beside
            the same search on the untrained network
         -> a page that colours the text by a unit's activation (blue -1, white 0, red +1)

The units are every layer's hidden output h (`h1.37`: layer 1, unit 37) and, for an LSTM, every
layer's cell state c (`c1.37`), numbered in that order: h0, c0, h1, c1, ...

>>> line_position("ab\\ncd").tolist()
[0.0, 1.0, 2.0, 0.0, 1.0]
>>> in_quotes('say "hi" don\\'t').tolist()
[0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from rnnlab.data.text import iter_text_chunks
from rnnlab.diagnostics.html import table, text, write_page
from rnnlab.errors import RnnlabError
from rnnlab.nn.models import SequenceModel

OPENING, CLOSING = "([{", ")]}"


# ---- features: one number per character, the state after reading it -----------------------------
def line_position(chars: str) -> np.ndarray:
    """Characters since the last newline: 0 for the first character of a line; a newline ends its line."""
    out, position = np.empty(len(chars)), 0
    for i, char in enumerate(chars):
        out[i] = position
        position = 0 if char == "\n" else position + 1
    return out


def in_quotes(chars: str) -> np.ndarray:
    """1 from an opening quote up to, not including, its closing quote.

    A double quote opens a quotation, and the next double quote closes it; likewise a single
    quote, except that a single quote with a letter on both sides is an apostrophe (don't) and
    neither opens nor closes.
    """
    out, open_quote = np.zeros(len(chars)), None
    for i, char in enumerate(chars):
        apostrophe = char == "'" and 0 < i < len(chars) - 1 and chars[i - 1].isalpha() and chars[i + 1].isalpha()
        if char in "'\"" and not apostrophe:
            if open_quote is None:
                open_quote = char
            elif open_quote == char:
                open_quote = None
        out[i] = open_quote is not None
    return out


def in_brackets(chars: str) -> np.ndarray:
    """1 inside (), [] or {} (nesting depth > 0 after the character; a closing bracket at depth 0 is ignored)."""
    out, depth = np.zeros(len(chars)), 0
    for i, char in enumerate(chars):
        depth += char in OPENING
        depth = max(0, depth - (char in CLOSING))
        out[i] = depth > 0
    return out


def end_of_word(chars: str) -> np.ndarray:
    """1 at a letter or digit followed by anything else (or by the end of the text)."""
    word = np.array([c.isalnum() for c in chars], dtype=bool)
    return (word & ~np.append(word[1:], False)).astype(np.float64)


def _each(test: Callable[[str], bool]) -> Callable[[str], np.ndarray]:
    return lambda chars: np.array([test(c) for c in chars], dtype=np.float64)


FEATURES: dict[str, Callable[[str], np.ndarray]] = {
    "line_position": line_position,
    "in_quotes": in_quotes,
    "in_brackets": in_brackets,
    "whitespace": _each(str.isspace),
    "uppercase": _each(str.isupper),
    "vowel": _each(lambda c: c.lower() in "aeiou"),
    "end_of_word": end_of_word,
}


def features(chars: str) -> dict[str, np.ndarray]:
    """Every feature of `FEATURES` over the text, each (N,) float64."""
    return {name: feature(chars) for name, feature in FEATURES.items()}


# ---- activations ---------------------------------------------------------------------------------
def unit_names(model: SequenceModel) -> list[str]:
    """`h{layer}.{unit}` and, for an LSTM, `c{layer}.{unit}`, in column order of `activations`."""
    c = model.config
    kinds = ("h", "c") if c.cell == "lstm" else ("h",)
    return [f"{kind}{layer}.{unit}" for layer in range(c.num_layers) for kind in kinds for unit in range(c.hidden_size)]


def activations(model: SequenceModel, ids: np.ndarray, streams: int = 32) -> np.ndarray:
    """(N', U) float32: every unit's value after reading each character, in eval mode (no dropout).

    The text is cut into `streams` contiguous pieces read side by side, one character per step,
    each starting from a zero state and carrying it to its end (N' = N rounded down to a multiple
    of `streams`). Stepping one character at a time is what makes every layer's state visible:
    the recurrent layer returns each layer's (h_n, c_n) after every call.
    """
    if model.config.bidirectional:
        raise RnnlabError("hidden-unit views need a unidirectional model")
    streams = max(1, min(streams, len(ids) // 64 or 1))
    steps = len(ids) // streams
    x = np.asarray(ids[: steps * streams], dtype=np.int64).reshape(streams, steps).T  # (steps, B)
    c = model.config
    is_lstm = c.cell == "lstm"
    per_layer = 2 if is_lstm else 1
    out = np.empty((steps, streams, c.num_layers, per_layer, c.hidden_size), np.float32)
    table_rows = model.input_table()
    was_training = model.training
    model.eval()
    try:
        state = None
        for t in range(steps):
            inputs = table_rows[x[t : t + 1]]  # (1, B, E): the embedding's rows, or one-hot vectors
            _, state = model.rnn(inputs, state)
            h_n, c_n = state if is_lstm else (state, None)  # (L, B, H) each
            out[t, :, :, 0] = h_n.transpose(1, 0, 2)
            if is_lstm:
                out[t, :, :, 1] = c_n.transpose(1, 0, 2)
    finally:
        model.train(was_training)
    return out.transpose(1, 0, 2, 3, 4).reshape(steps * streams, -1)  # back to text order


# ---- the search ----------------------------------------------------------------------------------
def correlations(acts: np.ndarray, targets: np.ndarray, block: int = 8192) -> np.ndarray:
    """(U, F) Pearson r between each column of acts (N, U) and of targets (N, F), in float64.

    Two passes over row blocks (means, then centred sums), so float32 activations are never
    copied whole. A constant column has no correlation: NaN.
    """
    n = len(acts)
    targets = np.asarray(targets, np.float64)
    mean_a = sum(acts[i : i + block].sum(0, dtype=np.float64) for i in range(0, n, block)) / n  # (U,)
    centred_t = targets - targets.mean(0)  # (N, F)
    var_a = np.zeros(acts.shape[1])
    cov = np.zeros((acts.shape[1], targets.shape[1]))
    for i in range(0, n, block):
        a = acts[i : i + block].astype(np.float64) - mean_a  # (b, U)
        var_a += (a * a).sum(0)
        cov += a.T @ centred_t[i : i + block]  # (U, F)
    denominator = np.sqrt(np.outer(var_a, (centred_t * centred_t).sum(0)))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, cov / np.where(denominator > 0, denominator, 1), np.nan)


def search(acts: np.ndarray, table_of_features: dict[str, np.ndarray], selection: float = 0.6,
           top: int = 3) -> dict[str, dict[str, Any]]:
    """For each feature, the `top` units with the largest |r| on the first `selection` of the text,
    and their r there and on the rest (held out): {name: {"units", "r_selection", "r_held_out"}}."""
    if not 0 < selection < 1:
        raise RnnlabError(f"selection must lie in (0, 1), got {selection}")
    split = round(len(acts) * selection)
    if split < 2 or len(acts) - split < 2:
        raise RnnlabError(f"text too short for a selection and a held-out part: {len(acts)} characters")
    names = list(table_of_features)
    targets = np.stack([table_of_features[n][: len(acts)] for n in names], axis=1)  # (N, F)
    r_sel = correlations(acts[:split], targets[:split])  # (U, F)
    r_held = correlations(acts[split:], targets[split:])
    result = {}
    for f, name in enumerate(names):
        order = np.argsort(-np.nan_to_num(np.abs(r_sel[:, f]), nan=-1.0), kind="stable")[:top]
        result[name] = {"units": order.tolist(), "r_selection": r_sel[order, f].tolist(),
                        "r_held_out": r_held[order, f].tolist()}
    return result


# ---- the text of a run -----------------------------------------------------------------------------
def charlm_text(lm, data: str | Path | None = None, max_chars: int = 50_000,
                selection: float = 0.6) -> tuple[str, np.ndarray, float]:
    """(text, ids, selection): at most `max_chars` of `data`, units to be chosen on its first `selection`;
    or, without `data`, the end of the run's training text (`selection` of it) followed by the start
    of its validation split, with `selection` moved to the boundary: units are chosen on training
    text and their r is reported on held-out text."""
    if data is None:
        if lm.ids_ is None:
            raise RnnlabError("this model has no training text (no ids.bin beside its checkpoint); pass --data")
        split = int(len(lm.ids_) * (1 - lm.val_fraction))  # the validation split, as `CharLM.evaluate` reads it
        train_chars = min(split, int(max_chars * selection))
        ids = np.asarray(lm.ids_[split - train_chars : split + max_chars - train_chars], dtype=np.int64)
        return lm.vocab_.decode(ids), ids, train_chars / len(ids)
    chunks, read = [], 0
    for chunk in iter_text_chunks(data):
        chunks.append(chunk)
        read += len(chunk)
        if read >= max_chars:
            break
    chars = "".join(chunks)[:max_chars]
    try:
        ids = lm.vocab_.encode(chars).astype(np.int64)
    except RnnlabError as error:
        raise RnnlabError(f"{data}: {error}") from None
    return chars, ids, selection


# ---- the study and its page ------------------------------------------------------------------------
def study(lm, control: SequenceModel, data: str | Path | None = None, *, top: int = 3, selection: float = 0.6,
          max_chars: int = 50_000) -> dict[str, Any]:
    """Activations, features and the ranking of a trained CharLM, with the same search on `control`.

    The control is the untrained network: the same architecture and seed, initial weights
    (`rnnlab.tasks.charlm_config.build_model(lm.config, len(lm.vocab_))`).
    """
    chars, ids, selection = charlm_text(lm, data, max_chars, selection)
    if len(ids) < 200:
        raise RnnlabError(f"text too short for hidden-unit views: {len(ids)} characters, at least 200 needed")
    acts = activations(lm.model_, ids)
    chars = chars[: len(acts)]
    table_of_features = features(chars)
    ranking = search(acts, table_of_features, selection, top)
    control_ranking = search(activations(control, ids), table_of_features, selection, 1)
    return {"text": chars, "activations": acts, "names": unit_names(lm.model_), "split": round(len(acts) * selection),
            "ranking": ranking, "control": control_ranking}


def summary(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """{feature: {"unit", "name", "r_selection", "r_held_out", "control_r_held_out"}}: the best unit of each."""
    out = {}
    for name, found in result["ranking"].items():
        unit = found["units"][0]
        out[name] = {"unit": unit, "name": result["names"][unit], "r_selection": found["r_selection"][0],
                     "r_held_out": found["r_held_out"][0],
                     "control_r_held_out": result["control"][name]["r_held_out"][0]}
    return out


def colour(value: float) -> str:
    """Blue (-1) through white (0) to red (+1), as #rrggbb."""
    v = float(np.clip(np.nan_to_num(value), -1, 1))
    fade = round(255 * (1 - abs(v)))
    return f"#ff{fade:02x}{fade:02x}" if v >= 0 else f"#{fade:02x}{fade:02x}ff"


def coloured_text(chars: str, values: np.ndarray) -> str:
    """The text, one escaped <span> per character, its background the value scaled by the largest |value|."""
    scale = float(np.max(np.abs(values))) or 1.0
    spans = "".join(f'<span style="background:{colour(v / scale)}">{text(c)}</span>'
                    for c, v in zip(chars, values, strict=True))
    return ('<div class="activations" style="font-family:monospace;white-space:pre-wrap;line-height:1.35;'
            f'border:1px solid #ddd;padding:0.5em">{spans}</div>')


def page_body(result: dict[str, Any], ckpt: str, cell: int, show_chars: int = 2000) -> str:
    """The ranking table, then the held-out text coloured by `cell` and by each feature's top units."""
    names, acts, split = result["names"], result["activations"], result["split"]
    shown = slice(split, split + show_chars)
    chars = result["text"][shown]
    rows = [[feature, f"{best['unit']} ({best['name']})", f"{best['r_selection']:+.3f}", f"{best['r_held_out']:+.3f}",
             f"{abs(best['control_r_held_out']):.3f}"] for feature, best in summary(result).items()]
    parts = [f"<p>Checkpoint {text(ckpt)}: {len(acts)} characters, {len(names)} units. Units are chosen on the first "
             f"{split} characters and scored on the remaining {len(acts) - split} (held out); the control is the same "
             f"search on the untrained network. Colours: blue negative, white zero, red positive, scaled by the "
             f"largest |activation| shown.</p>",
             table(["feature", "best unit", "r (selection)", "r (held out)", "control |r| (held out)"], rows),
             f"<h2>Unit {cell} ({text(names[cell])}), chosen</h2>", coloured_text(chars, acts[shown, cell])]
    for feature, found in result["ranking"].items():
        for unit, r_held in zip(found["units"], found["r_held_out"], strict=True):
            parts.append(f"<h2>{text(feature)}: unit {unit} ({text(names[unit])}), r held out {r_held:+.3f}</h2>")
            parts.append(coloured_text(chars, acts[shown, unit]))
    return "\n".join(parts)


def write_neurons_page(path: str | Path, result: dict[str, Any], ckpt: str, cell: int | None = None,
                       show_chars: int = 2000) -> Path:
    """The self-contained page; `cell` defaults to the best unit for line position."""
    if cell is None:
        cell = result["ranking"]["line_position"]["units"][0]
    if not 0 <= cell < len(result["names"]):
        raise RnnlabError(f"--cell must be a unit number in [0, {len(result['names'])}), got {cell}")
    return write_page(path, "Hidden units of a character model", page_body(result, ckpt, cell, show_chars))
