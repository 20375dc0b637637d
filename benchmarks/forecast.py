"""Forecasting benchmark: the RNN beside naive, seasonal naive and drift on identical windows.

    python benchmarks/forecast.py                 # airline, sunspots, co2 (about 1 minute, 1 thread)
    python benchmarks/forecast.py --only airline --plots runs/bench-forecast

Airline: the first 120 months train, the last 24 are held out, horizon 12. Two evaluations:
(a) one fit, forecasts from each of the 13 origins 1959-01 .. 1960-01; (b) rolling-origin
backtest refitting at each of those 13 origins. Also (a) with seeds 1 and 2, for the spread.
Sunspots (yearly, no calendar season; seasonal naive uses the inferred season): backtest over
5 origins 10 years apart, horizon 10, with the default transforms and with seasonal differencing
at the inferred season. CO2 (weekly; its 59 missing values interpolated linearly in time, as
`--missing interpolate` does): backtest over 5 origins a year apart, horizon 52.
Every number is in data units; training times are wall-clock seconds summed over refits.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from rnnlab.data.timeseries import read_series_csv
from rnnlab.nn import parallel
from rnnlab.tasks.forecast import Forecaster
from rnnlab.tasks.forecast_report import METRICS

REPO = Path(__file__).resolve().parents[1]


def data_dir() -> Path:
    path = Path(os.environ.get("RNNLAB_DATA", REPO.parent / "shared" / "data")) / "timeseries"
    if not path.is_dir():
        sys.exit(f"benchmarks/forecast.py: no data at {path} (set RNNLAB_DATA)")
    return path


def airline(folder: Path) -> list:
    series = read_series_csv(folder / "airline.csv")
    config = dict(lookback=24, horizon=12)
    reports = []
    for seed in (0, 1, 2):
        model = Forecaster(**config, seed=seed).fit(series, train_end=120, progress=False)
        report = model.report(series)
        report.name = f"airline (seed {seed})"
        reports.append(report)
    backtest = Forecaster(**config).backtest(series, n_origins=13, step=1, progress=False)
    backtest.name = "airline (seed 0)"
    return [reports[0], backtest, *reports[1:]]


def sunspots(folder: Path) -> list:
    series = read_series_csv(folder / "sunspots.csv")
    reports = []
    for option in ("auto", "on"):
        report = Forecaster(lookback=30, horizon=10, seasonal_difference=option).backtest(
            series, n_origins=5, progress=False)
        report.name = f"sunspots (seasonal_difference={option})"
        reports.append(report)
    return reports


def co2(folder: Path) -> list:
    series = read_series_csv(folder / "co2.csv", missing="interpolate")
    report = Forecaster(lookback=104, horizon=52).backtest(series, n_origins=5, progress=False)
    report.name = f"co2 ({len(series.filled)} missing values interpolated)"
    return [report]


def summary(reports: list) -> str:
    names = [*METRICS, "MASE"]
    lines = [f"{'series / evaluation':58s} {'method':15s}" + "".join(f"{n:>9s}" for n in names) + f"{'train s':>9s}"]
    for report in reports:
        label = f"{report.name}: {report.kind.split(' (')[0]}, {len(report.origins)}x{report.actual.shape[1]}"
        for method, row in report.metrics().items():
            seconds = f"{report.train_seconds:9.1f}" if method == "rnn" else ""
            lines.append(f"{label:58.58s} {method:15s}" + "".join(f"{row[n]:9.4g}" for n in names) + seconds)
            label = ""
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=["airline", "sunspots", "co2"])
    parser.add_argument("--plots", type=Path, help="write each evaluation's windows as PNGs in this folder")
    parser.add_argument("--json", type=Path, help="write every report as JSON here (a list of documents as "
                        "`rnnlab forecast eval --json` gives them, each with its name and kind)")
    args = parser.parse_args(argv)
    folder, reports = data_dir(), []
    with parallel.threads(1):  # the engine's threads (BLAS: one each)
        for name, run in (("airline", airline), ("sunspots", sunspots), ("co2", co2)):
            if args.only and name not in args.only:
                continue
            for report in run(folder):
                print(report.format(), end="\n\n", flush=True)
                reports.append(report)
                if args.plots:
                    args.plots.mkdir(parents=True, exist_ok=True)
                    slug = "".join(ch if ch.isalnum() else "-" for ch in f"{report.name} {report.kind[:12]}")
                    report.plot(args.plots / f"{slug}.png")
    print(summary(reports))
    print()
    for report in reports:
        print(report.verdict())
    if args.json:
        documents = [{"name": r.name, "kind": r.kind, **r.to_json()} for r in reports]
        args.json.write_text(json.dumps(documents, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
