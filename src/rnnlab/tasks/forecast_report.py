"""Honest forecast evaluation: the RNN and the simple baselines on identical windows, in data units.

This module knows nothing of the model: the forecaster (`rnnlab.tasks.forecast`) makes the RNN's
forecasts and hands them to `build_report`. A `ForecastReport` holds, for N forecast origins, the
actual values (N, H) and each method's forecasts (N, H): "rnn", "naive", "seasonal_naive" (when a
season is known or inferred) and "drift", every one made from the same history values[:origin].
Metrics (RMSE, MAE, MAPE, sMAPE, MASE) average over all N * H entries; `per_horizon` gives them per
step ahead. MASE scales each window by the in-sample seasonal-naive MAE of its own history (season
1 when there is none). `to_json` gives the document of `rnnlab forecast eval --json` (docs/cli.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rnnlab.baselines.forecast import drift_forecast, naive_forecast, seasonal_naive_forecast
from rnnlab.diagnostics.plots import save_png
from rnnlab.errors import RnnlabError
from rnnlab.metrics.forecast import mae, mape, per_horizon, rmse, smape

METRICS: dict[str, Callable[[np.ndarray, np.ndarray], float]] = {
    "MAE": mae, "RMSE": rmse, "MAPE%": mape, "sMAPE%": smape,
}
BASELINES = ("naive", "seasonal_naive", "drift")


@dataclass
class ForecastReport:
    """Forecasts of every method at N origins of one series, with what actually happened.

    origins: (N,) row indices (forecast o covers rows o .. o+H-1).  actual: (N, H) data units.
    forecasts: method -> (N, H).  scales: (N,) MASE denominators.  times: the series' (T,) times.
    """

    name: str
    kind: str  # "held-out tail (one fit)" or "rolling-origin backtest (refit at each origin)"
    origins: np.ndarray
    times: np.ndarray
    values: np.ndarray  # (T,) the target series, for plots
    actual: np.ndarray
    forecasts: dict[str, np.ndarray]
    scales: np.ndarray
    season: int | None
    train_seconds: float
    notes: list[str] = field(default_factory=list)

    def metrics(self) -> dict[str, dict[str, float]]:
        """method -> {metric: value} over every window and step."""
        table = {}
        for method, forecast in self.forecasts.items():
            row = {name: metric(self.actual, forecast) for name, metric in METRICS.items()}
            row["MASE"] = mae(self.actual / self.scales[:, None], forecast / self.scales[:, None])
            table[method] = row
        return table

    def per_horizon(self, metric: str = "MAE") -> dict[str, np.ndarray]:
        """method -> (H,) the metric at each step ahead."""
        if metric == "MASE":
            return {m: per_horizon(mae, self.actual / self.scales[:, None], f / self.scales[:, None])
                    for m, f in self.forecasts.items()}
        return {m: per_horizon(METRICS[metric], self.actual, f) for m, f in self.forecasts.items()}

    def verdict(self) -> str:
        """One plain sentence: does the RNN beat the best baseline on MAE, and seasonal naive in particular?"""
        table = self.metrics()
        rnn = table["rnn"]["MAE"]
        sentences = []
        if "seasonal_naive" in table:
            snaive = table["seasonal_naive"]["MAE"]
            word = "beats" if rnn < snaive else "does NOT beat"
            sentences.append(f"{self.name}: the RNN {word} seasonal naive (season {self.season}) on MAE: "
                             f"{rnn:.4g} vs {snaive:.4g}.")
        best = min((m for m in table if m != "rnn"), key=lambda m: table[m]["MAE"])
        if table[best]["MAE"] <= rnn:
            sentences.append(f"The best method on MAE is {best} ({table[best]['MAE']:.4g}), not the RNN.")
        else:
            sentences.append(f"The RNN has the lowest MAE of all methods (next best: {best}, "
                             f"{table[best]['MAE']:.4g}).")
        return " ".join(sentences)

    def format(self, horizon_metric: str = "MAE") -> str:
        """The side-by-side table, the per-step table and the verdict, as text."""
        N, H = self.actual.shape
        lines = [f"{self.name}: {self.kind}; {N} windows of {H} steps, origins {self._time(self.origins[0])} .. "
                 f"{self._time(self.origins[-1])}; season {self.season}; RNN training {self.train_seconds:.1f} s"]
        names = [*METRICS, "MASE"]
        lines.append(f"{'method':16s}" + "".join(f"{n:>10s}" for n in names))
        for method, row in self.metrics().items():
            lines.append(f"{method:16s}" + "".join(f"{row[n]:10.4g}" for n in names))
        lines.append(f"{horizon_metric} per step ahead:")
        lines.append(f"{'method':16s}" + "".join(f"{'h=' + str(h + 1):>8s}" for h in range(H)))
        for method, row in self.per_horizon(horizon_metric).items():
            lines.append(f"{method:16s}" + "".join(f"{v:8.3g}" for v in row))
        lines.extend(self.notes)
        lines.append(self.verdict())
        return "\n".join(lines)

    def figures(self, method: str = "rnn") -> dict[str, Any]:
        """One method's figures under the keys of docs/cli.md (MAPE and sMAPE as fractions, not percent)."""
        row = self.metrics()[method]
        return {"mae": row["MAE"], "rmse": row["RMSE"], "mape": row["MAPE%"] / 100, "smape": row["sMAPE%"] / 100,
                "mase": row["MASE"], "per_horizon": {"mae": self.per_horizon("MAE")[method].tolist(),
                                                     "rmse": self.per_horizon("RMSE")[method].tolist()}}

    def to_json(self) -> dict[str, Any]:
        """The documented JSON document: horizon, windows, the RNN's figures, and each baseline's (None if not made).

        >>> report = build_report("toy", "test", np.arange(1.0, 21.0), np.arange(20), np.array([16]),
        ...                       np.full((1, 2), 17.0), season=None, train_seconds=0.0)
        >>> document = report.to_json()
        >>> document["horizon"], document["windows"], document["mae"], document["baselines"]["naive"]["mae"]
        (2, 1, 0.5, 1.5)
        """
        return {"horizon": int(self.actual.shape[1]), "windows": len(self.origins), **self.figures("rnn"),
                "baselines": {m: self.figures(m) if m in self.forecasts else None for m in BASELINES}}

    def plot(self, path: str | Path, method: str = "rnn") -> Path:
        """The series with `method`'s forecast at each origin (PNG)."""
        from rnnlab.diagnostics.plots import plot_backtest

        windows = [(int(o), f) for o, f in zip(self.origins, self.forecasts[method], strict=True)]
        return plot_backtest(path, self.times, self.values, windows, title=f"{self.name}: {self.kind}, {method}")

    def _time(self, row: int) -> str:
        return str(self.times[int(row)])


def baseline_forecasts(history: np.ndarray, horizon: int, season: int | None) -> dict[str, np.ndarray]:
    """naive, seasonal naive (if season and enough history) and drift forecasts (H,) from history (T,).

    >>> sorted(baseline_forecasts(np.arange(30.0), 3, season=12))
    ['drift', 'naive', 'seasonal_naive']
    """
    forecasts = {"naive": naive_forecast(history, horizon)}
    if season is not None and len(history) >= season:
        forecasts["seasonal_naive"] = seasonal_naive_forecast(history, horizon, season)
    forecasts["drift"] = drift_forecast(history, horizon)
    return forecasts


def build_report(name: str, kind: str, series_values: np.ndarray, times: np.ndarray, origins: np.ndarray,
                 rnn: np.ndarray, season: int | None, train_seconds: float) -> ForecastReport:
    """Baselines on the same origins as `rnn` (N, H) and the report holding them all."""
    H = rnn.shape[1]
    actual = np.stack([series_values[o: o + H] for o in origins])  # (N, H)
    forecasts: dict[str, list[np.ndarray]] = {"rnn": list(rnn)}
    scales, notes = [], []
    mase_season = season or 1
    for o in origins:
        history = series_values[:o]
        for method, forecast in baseline_forecasts(history, H, season).items():
            forecasts.setdefault(method, []).append(forecast)
        scale = np.mean(np.abs(history[mase_season:] - history[:-mase_season]))
        if scale == 0:
            raise RnnlabError(f"{name}: MASE undefined at origin {o}: the history repeats every {mase_season} steps")
        scales.append(scale)
    if season is None:
        notes.append("No season is known or could be inferred: seasonal naive is not computed; MASE uses season 1.")
    lengths = {method: len(f) for method, f in forecasts.items()}
    if len(set(lengths.values())) != 1:
        raise RnnlabError(f"{name}: too little history for seasonal naive at the first origin ({lengths})")
    if np.any(actual == 0):
        notes.append(f"MAPE ignores the {int(np.sum(actual == 0))} actual values equal to 0.")
    return ForecastReport(name, kind, np.asarray(origins), times, series_values, actual,
                          {m: np.stack(f) for m, f in forecasts.items()}, np.array(scales), season, train_seconds,
                          notes)


def plot_losses(path: str | Path, history: list[dict], best_steps: list[int], title: str = "") -> Path:
    """Training and validation loss (scaled units) against step, per network, from a forecaster's `history_`."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(8, 4), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    for k, best_step in enumerate(best_steps[:3]):  # the direct strategy has H networks; three curves are enough
        log = [line for line in history if line["network"] == k and not line.get("refit")]
        steps = [line["step"] for line in log]
        suffix = f" (network {k})" if len(best_steps) > 1 else ""
        axes.plot(steps, [line["train_loss"] for line in log], label="training loss (smoothed)" + suffix)
        axes.plot(steps, [line["val_loss"] for line in log], linestyle="--", label="validation loss" + suffix)
        axes.axvline(best_step, color="grey", linestyle=":", linewidth=0.8)
    axes.set_xlabel("step")
    axes.set_ylabel("MSE (scaled, transformed units)")
    axes.set_yscale("log")
    axes.set_title(title)
    axes.grid(alpha=0.3)
    axes.legend()
    return save_png(figure, path)
