"""Attention alignments as a PNG: for each decoded source, which source tokens each output token looked at.

One panel per source: columns are the source tokens, rows the output tokens and then </s> (the step that
ended the output), each cell the attention weight of that step on that source token (each row sums to 1).
A monotone diagonal is what a good grapheme-to-phoneme model learns; a blurred or jumping one shows where
it is unsure. Drawn with matplotlib's object API (no pyplot) and written atomically.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from rnnlab.diagnostics.plots import save_png

MAX_PANELS = 12  # sources drawn in one picture


def plot_alignments(path: str | os.PathLike[str], decoded: Sequence, title: str = "") -> None:
    """Write the alignments of up to `MAX_PANELS` `Decoded` results (source, output, weights (rows, len(source)))
    to `path` as a PNG, in a grid of panels; the caller has checked the folder."""
    decoded = list(decoded)[:MAX_PANELS]
    columns = min(3, len(decoded))
    rows = math.ceil(len(decoded) / columns)
    widths = [max(len(d.source) for d in decoded[c::columns]) for c in range(columns)]
    heights = [max(len(d.weights) for d in decoded[r * columns:(r + 1) * columns]) for r in range(rows)]
    figure = Figure(figsize=(min(18, 1.5 + 0.38 * sum(widths) + 1.2 * columns),
                             min(24, 1.0 + 0.34 * sum(heights) + 1.0 * rows)), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    grid = figure.add_gridspec(rows, columns, width_ratios=[w + 2 for w in widths],
                               height_ratios=[h + 2 for h in heights])
    for index, d in enumerate(decoded):
        axes = figure.add_subplot(grid[index // columns, index % columns])
        weights = np.asarray(d.weights, dtype=float)  # (output steps, source tokens)
        image = axes.imshow(weights, cmap="Blues", vmin=0.0, vmax=1.0, aspect="equal")
        labels = [*d.output, "</s>"][: len(weights)]
        axes.set_xticks(range(len(d.source)), d.source, fontsize=9)
        axes.set_yticks(range(len(labels)), labels, fontsize=9)
        axes.tick_params(length=0)
        axes.xaxis.tick_top()
        axes.set_xlabel(f"log-probability {d.log_prob:.2f}", fontsize=8)
    figure.colorbar(image, ax=figure.axes, shrink=0.6, label="attention weight")
    if title:
        figure.suptitle(title)
    save_png(figure, path)
