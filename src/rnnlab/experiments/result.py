"""What an experiment hands back: its figures, its plots and its verdict."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np


@dataclass
class Result:
    """figures: JSON-ready numbers (NaN and infinities allowed; written as null).
    plots: file name (`gradient_norms.png`) -> matplotlib `Figure`.
    verdict: one or two sentences whose numbers and direction come from `figures`.
    """

    name: str
    figures: dict[str, Any]
    verdict: str
    plots: dict[str, Any] = field(default_factory=dict)

    def document(self) -> dict[str, Any]:
        """The JSON document: experiment, verdict, figures and the plot files."""
        return {"experiment": self.name, "verdict": self.verdict, "plots": sorted(self.plots), **self.figures}

    def write(self, out: str | Path) -> list[Path]:
        """Write every plot and figures.json into `out` (created); returns the paths written."""
        from rnnlab.checkpoint import atomic_write_bytes
        from rnnlab.diagnostics.plots import save_png

        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        written = [save_png(figure, out / file) for file, figure in sorted(self.plots.items())]
        text = json.dumps(_json_ready(self.document()), indent=1, allow_nan=False) + "\n"
        atomic_write_bytes(out / "figures.json", text.encode("utf-8"))
        return [*written, out / "figures.json"]


def _json_ready(value: Any) -> Any:
    """NumPy numbers as Python ones, NaN and infinities as null."""
    if isinstance(value, dict):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [_json_ready(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def new_figure(rows: int = 1, columns: int = 1, width: float = 10, height: float = 4):
    """A matplotlib Figure on an Agg canvas (no pyplot state) and its axes, in a grid."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=80, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(rows, columns, squeeze=False)
    for ax in axes.ravel():
        ax.grid(alpha=0.3)
    return figure, axes
