"""A confusion matrix as a PNG: rows the true class, columns the predicted class, counts in the cells.

Drawn with matplotlib's object API on the Agg canvas (no pyplot, so no global state and no display),
sized to stay readable up to about 20 classes, and written atomically: a temporary file beside the
target, then `os.replace`, so a reader never sees half a PNG.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from numpy.typing import ArrayLike

from rnnlab.diagnostics.plots import save_png
from rnnlab.errors import RnnlabError


def plot_confusion_matrix(
    path: str | os.PathLike[str],
    matrix: ArrayLike,
    class_names: Sequence[str],
    title: str = "",
    normalise: bool = True,
) -> None:
    """Write the (C, C) confusion `matrix` (rows true, columns predicted) to `path` as a PNG.

    Each cell shows its count. With `normalise`, the colour is the count as a fraction of its row
    (the share of true class c predicted as each class, so the diagonal is per-class recall) and
    classes of different sizes compare on one scale; without, the colour is the count itself.
    `class_names[c]` labels row and column c. The parent directory is created if missing.
    """
    counts = np.asarray(matrix)
    names = [str(name) for name in class_names]
    if counts.ndim != 2 or counts.shape[0] != counts.shape[1] or counts.shape[0] == 0:
        raise RnnlabError(f"`matrix` has shape {counts.shape}, expected a square (C, C) confusion matrix")
    if len(names) != counts.shape[0]:
        raise RnnlabError(
            f"Received {len(names)} class names for a {counts.shape} matrix, expected {counts.shape[0]}"
        )
    if not np.issubdtype(counts.dtype, np.number) or not np.isfinite(counts).all() or (counts < 0).any():
        raise RnnlabError("`matrix` holds negative, non-finite or non-numeric entries, expected counts >= 0")

    figure = _draw(counts, names, title, normalise)
    save_png(figure, path)


def _draw(counts: np.ndarray, names: list[str], title: str, normalise: bool) -> Figure:
    """The figure: a heat map of (C, C) `counts`, ticks named, each cell annotated with its count."""
    n_classes = len(names)
    if normalise:
        row_totals = counts.sum(axis=1, keepdims=True)  # (C, 1)
        shade = np.divide(counts, row_totals, out=np.zeros(counts.shape), where=row_totals > 0)  # (C, C)
        top, label = 1.0, "fraction of true class"
    else:
        shade = counts.astype(np.float64)
        top, label = max(float(shade.max()), 1.0), "count"

    side = max(4.5, 0.45 * n_classes + 2.5)  # inches: about a third of an inch per cell at 20 classes
    font_size = max(6.0, min(10.0, 150.0 / n_classes))
    figure = Figure(figsize=(side + 1.0, side), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    image = axes.imshow(shade, cmap="Blues", vmin=0.0, vmax=top, interpolation="nearest")
    figure.colorbar(image, ax=axes, label=label, shrink=0.8)

    ticks = np.arange(n_classes)
    axes.set_xticks(ticks, labels=names, rotation=45, ha="right", rotation_mode="anchor", fontsize=font_size)
    axes.set_yticks(ticks, labels=names, fontsize=font_size)
    axes.set_xlabel("predicted class")
    axes.set_ylabel("true class")
    if title:
        axes.set_title(title)

    integral = np.issubdtype(counts.dtype, np.integer) or bool(np.all(counts == np.round(counts)))
    for row in range(n_classes):
        for col in range(n_classes):
            text = f"{int(counts[row, col])}" if integral else f"{counts[row, col]:.3g}"
            colour = "white" if shade[row, col] > 0.55 * top else "black"  # legible on dark cells
            axes.text(col, row, text, ha="center", va="center", color=colour, fontsize=font_size)
    return figure
