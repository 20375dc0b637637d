"""Figures written as PNG files, without pyplot's global state (a `Figure` on an Agg canvas).

Every figure is written atomically: to a temporary file beside the target, then renamed, so a
reader never sees half a PNG and an interrupted run leaves the previous file intact.
"""

from __future__ import annotations

from collections.abc import Sequence
from io import BytesIO
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from rnnlab.checkpoint import atomic_write_bytes
from rnnlab.errors import RnnlabError

# ---------------------------------------------------------------------------------------------------
# Forecast plots
# ---------------------------------------------------------------------------------------------------


def plot_forecast(
    path: str | Path,
    times: np.ndarray,
    history: np.ndarray,
    forecast: np.ndarray,
    actual: np.ndarray | None = None,
    intervals: tuple[np.ndarray, np.ndarray] | None = None,
    title: str = "",
    label: str | None = None,
) -> Path:
    """Plot the history, the forecast after it and, if given, the actual values and an interval band.

    times:     (T + H,) the history's T timestamps followed by the forecast's H (datetime64 or numbers).
    history:   (T,) observed values.   forecast: (H,) predictions.   actual: (H,) what happened.
    intervals: (lower (H,), upper (H,)) bounds of a band around the forecast.
    label:     what the band is, shown in the legend, e.g. "80% interval (empirical residual
               quantiles)"; required with `intervals`, since an unlabelled band invites misreading.
    Returns the path written.
    """
    history, forecast = np.asarray(history, dtype=np.float64), np.asarray(forecast, dtype=np.float64)
    times = np.asarray(times)
    steps = len(forecast)
    if history.ndim != 1 or forecast.ndim != 1 or times.shape != (len(history) + steps,):
        raise RnnlabError(
            f"plot_forecast expects history (T,), forecast (H,) and times (T + H,); got {history.shape}, "
            f"{forecast.shape} and {times.shape}"
        )
    figure, axes = _figure(title)
    axes.plot(times[: len(history)], history, color="black", linewidth=1.2, label="history")
    future = times[len(history) :]
    if intervals is not None:
        if not label:
            raise RnnlabError("plot_forecast: intervals need a label saying what they are (e.g. '80% interval')")
        lower, upper = (np.asarray(bound, dtype=np.float64) for bound in intervals)
        if lower.shape != (steps,) or upper.shape != (steps,):
            raise RnnlabError(
                f"plot_forecast: interval bounds must have shape ({steps},), got {lower.shape}, {upper.shape}"
            )
        axes.fill_between(future, lower, upper, color="tab:blue", alpha=0.2, linewidth=0, label=label)
    if actual is not None:
        actual = np.asarray(actual, dtype=np.float64)
        if actual.shape != (steps,):
            raise RnnlabError(f"plot_forecast: actual must have shape ({steps},), got {actual.shape}")
        axes.plot(future, actual, color="black", linestyle="--", linewidth=1.2, label="actual")
    axes.plot(future, forecast, color="tab:blue", linewidth=1.6, label="forecast")
    axes.axvline(future[0], color="grey", linewidth=0.8, linestyle=":")
    axes.legend(loc="upper left")
    return _save(figure, path)


def plot_backtest(
    path: str | Path,
    times: np.ndarray,
    values: np.ndarray,
    windows: Sequence[tuple[int, np.ndarray]],
    title: str = "",
) -> Path:
    """Plot a series with the forecast made at each rolling origin.

    times:   (T,) timestamps (datetime64 or numbers).   values: (T,) the observed series.
    windows: (origin, forecast) pairs; forecast (H,) predicts values[origin : origin + H] from
             values[:origin] (origins as from `rnnlab.data.scalers.rolling_origins`).
    Each origin is marked by a dotted line. Returns the path written.
    """
    values, times = np.asarray(values, dtype=np.float64), np.asarray(times)
    if values.ndim != 1 or times.shape != values.shape:
        raise RnnlabError(f"plot_backtest expects times and values of shape (T,), got {times.shape} and {values.shape}")
    figure, axes = _figure(title)
    axes.plot(times, values, color="black", linewidth=1.0, label="actual")
    for number, (origin, forecast) in enumerate(windows):
        forecast = np.asarray(forecast, dtype=np.float64)
        if forecast.ndim != 1 or not 1 <= origin <= len(values) - len(forecast):
            raise RnnlabError(
                f"plot_backtest: window {number} (origin {origin}, forecast shape {forecast.shape}) does not "
                f"fit a series of {len(values)} steps"
            )
        span = times[origin : origin + len(forecast)]
        axes.plot(span, forecast, color="tab:orange", linewidth=1.4, label="forecast" if number == 0 else None)
        axes.axvline(times[origin], color="grey", linewidth=0.6, linestyle=":")
    axes.legend(loc="upper left")
    return _save(figure, path)


def _figure(title: str) -> tuple[Figure, object]:
    figure = Figure(figsize=(9, 4), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.set_title(title)
    axes.grid(alpha=0.3)
    return figure, axes


def png_bytes(figure: Figure) -> bytes:
    """A figure rendered as PNG, in memory."""
    buffer = BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def save_png(figure: Figure, path: str | Path) -> Path:
    """Write a figure as PNG atomically (rendered in memory, then `atomic_write_bytes`); creates the folder."""
    atomic_write_bytes(Path(path), png_bytes(figure))
    return Path(path)


def _save(figure: Figure, path: str | Path) -> Path:
    """`save_png`, refusing a folder that does not exist (a typo in a plot path should not create one)."""
    path = Path(path)
    if not path.parent.is_dir():
        raise RnnlabError(f"cannot write plot {path}: directory {path.parent} does not exist")
    return save_png(figure, path)
