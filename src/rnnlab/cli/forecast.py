"""`rnnlab forecast train|eval|predict|backtest`: CSV series in, honest multi-step forecasts out."""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from rnnlab.errors import RnnlabError, invalid_argument

MODEL_OPTIONS = ("lookback", "horizon", "strategy", "cell", "hidden_size", "num_layers", "dropout", "scaler", "log",
                 "difference", "seasonal_difference", "season", "target", "covariates", "lr", "batch_size",
                 "max_steps", "patience", "val_fraction", "interval", "seed")


def register(sub) -> None:
    p = sub.add_parser("forecast", help="train, evaluate, backtest and use a recurrent forecaster on a CSV series")
    tasks = p.add_subparsers(dest="forecast_command", required=True)

    t = tasks.add_parser("train", help="fit on all but the last --test-size rows, save the run, evaluate the tail")
    _data_options(t)
    _model_options(t)
    t.add_argument("--test-size", type=int, help="rows held out at the end for evaluation (default 2 * horizon; "
                                                 "0: train on everything)")
    t.add_argument("--run-dir", type=Path, help="run folder to create (default runs/forecast-<csv name>)")
    t.add_argument("--force", action="store_true", help="replace an existing run folder")
    t.set_defaults(run=_train)

    e = tasks.add_parser("eval", help="evaluate a saved run on the rows of a CSV after its training data")
    e.add_argument("run_dir", type=Path)
    _data_options(e)
    e.add_argument("--plot", type=Path, help="write the evaluation windows as a PNG here")
    e.set_defaults(run=_eval)

    r = tasks.add_parser("predict", help="forecast the next horizon steps after the training data or a CSV")
    r.add_argument("run_dir", type=Path)
    r.add_argument("csv", nargs="?", type=Path, help="forecast after the end of this CSV instead")
    r.add_argument("--time-column", help="default: the first column")
    r.add_argument("--missing", choices=["fail", "interpolate", "drop"], default="fail")
    r.add_argument("--plot", type=Path, help="write history, forecast and interval as a PNG here")
    r.set_defaults(run=_predict)

    b = tasks.add_parser("backtest", help="rolling-origin backtest: refit at each origin, baselines beside")
    _data_options(b)
    _model_options(b)
    b.add_argument("--origins", type=int, default=5, help="number of forecast origins (default 5)")
    b.add_argument("--step", type=int, help="rows between origins (default: horizon)")
    b.add_argument("--plot", type=Path, help="write the backtest windows as a PNG here")
    b.add_argument("--json", type=Path, help="write the report as JSON here")
    b.set_defaults(run=_backtest)


def _data_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("csv", type=Path, help="CSV with a header, a time column and value columns")
    p.add_argument("--time-column", help="default: the first column")
    p.add_argument("--missing", choices=["fail", "interpolate", "drop"], default="fail",
                   help="gaps and empty values: fail (default), interpolate linearly in time, or drop rows")


def _model_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--target", help="column to forecast (default: the first value column)")
    p.add_argument("--covariates", nargs="+", default=[], help="other columns fed to the network as inputs")
    p.add_argument("--lookback", type=int, default=24, help="input window in steps (default 24)")
    p.add_argument("--horizon", type=int, default=12, help="steps to forecast (default 12)")
    p.add_argument("--strategy", choices=["multi-output", "direct", "recursive"], default="multi-output")
    p.add_argument("--cell", choices=["lstm", "gru", "rnn", "rnn_relu"], default="lstm")
    p.add_argument("--hidden-size", type=int, default=32)
    p.add_argument("--num-layers", type=int, default=1)
    p.add_argument("--dropout", type=float, default=0.0)
    p.add_argument("--scaler", choices=["standard", "minmax", "none"], default="standard")
    p.add_argument("--log", action="store_true", help="model log(1 + y) (multiplicative seasonality)")
    p.add_argument("--difference", type=int, default=0, choices=[0, 1, 2], help="order of differencing")
    p.add_argument("--seasonal-difference", choices=["auto", "on", "off"], default="auto",
                   help="difference at the season (auto: when the calendar or --season gives one)")
    p.add_argument("--season", type=int, help="observations per season (default: from the dates, else inferred)")
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--max-steps", type=int, default=1500)
    p.add_argument("--patience", type=int, default=12, help="evaluations without improvement before stopping")
    p.add_argument("--val-fraction", type=float, default=0.2, help="training tail used for early stopping")
    p.add_argument("--interval", type=float, default=0.8, help="coverage of the residual-quantile interval")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _read(args: argparse.Namespace, csv: Path | None = None):
    from rnnlab.data.timeseries import read_series_csv

    path = csv or args.csv
    if not Path(path).is_file():
        raise RnnlabError(f"{path}: no such file")
    series = read_series_csv(path, time_column=args.time_column, missing=args.missing)
    if len(series.filled):
        print(f"{path}: interpolated {len(series.filled)} missing values (--missing interpolate)")
    return series


def _config(args: argparse.Namespace):
    from rnnlab.tasks.forecast import ForecastConfig

    params = {name: getattr(args, name) for name in MODEL_OPTIONS}
    params["covariates"] = tuple(params["covariates"])
    return ForecastConfig(**params)


def _train(args: argparse.Namespace) -> int:
    from rnnlab.tasks.forecast import Forecaster
    from rnnlab.tasks.forecast_eval import plot_losses

    config = _config(args)
    series = _read(args)
    test_size = 2 * config.horizon if args.test_size is None else args.test_size
    if not 0 <= test_size < len(series) or (test_size and test_size < config.horizon):
        raise invalid_argument("--test-size", f"0 or an integer in [{config.horizon}, {len(series) - 1}]", test_size)
    run_dir = args.run_dir or Path("runs") / f"forecast-{args.csv.stem}"
    if run_dir.exists() and not args.force:
        raise RnnlabError(f"{run_dir}: run folder exists; pass --force to replace it or choose another --run-dir")
    print(config)
    print(series)
    model = Forecaster(config, progress=not args.quiet)
    model.fit(series, train_end=len(series) - test_size)  # raises before anything is written
    if run_dir.exists():
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True)
    model.save(run_dir)
    plot_losses(run_dir / "loss.png", model.history_, title=f"{model.columns_[0]}: training and validation loss")
    print(f"trained on {model.n_train_} rows to {model.train_end_time_} in {model.train_seconds_:.1f} s; "
          f"saved {run_dir}/best.safetensors, best.json, loss.png")
    if test_size:
        report = model.evaluate(series)
        print(report.format())
        _write_json(run_dir / "eval.json", report.to_json())
        report.plot(run_dir / "eval.png")
        _plot_last_window(model, series, report, run_dir / "forecast.png")
        print(f"wrote {run_dir}/eval.json, eval.png, forecast.png")
    return 0


def _plot_last_window(model, series, report, path: Path) -> None:
    """History, the forecast from the last evaluation origin, the actual values and the interval band."""
    from rnnlab.diagnostics.plots import plot_forecast

    origin, H = int(report.origins[-1]), model.config.horizon
    start = max(0, origin - 4 * H)
    forecast = report.forecasts["rnn"][-1]
    plot_forecast(path, series.times[start: origin + H], report.values[start:origin], forecast,
                  actual=report.actual[-1], intervals=(forecast + model.interval_[0], forecast + model.interval_[1]),
                  title=f"{model.columns_[0]}: forecast from {series.times[origin]}", label=model.interval_label)


def _eval(args: argparse.Namespace) -> int:
    from rnnlab.tasks.forecast import Forecaster

    model = Forecaster.load(args.run_dir)
    report = model.evaluate(_read(args))
    print(report.format())
    if args.plot:
        print(f"wrote {report.plot(args.plot)}")
    return 0


def _predict(args: argparse.Namespace) -> int:
    from rnnlab.tasks.forecast import Forecaster

    model = Forecaster.load(args.run_dir)
    series = _read(args, args.csv) if args.csv else None
    forecast = model.predict(series)
    lower, upper = model.predict_interval(series)
    times = model.forecast_times(series)
    print(f"{'time':12s} {'forecast':>12s} {'lower':>12s} {'upper':>12s}   ({model.interval_label})")
    for when, value, low, high in zip(times, forecast, lower, upper, strict=True):
        print(f"{str(when):12s} {value:12.4f} {low:12.4f} {high:12.4f}")
    if args.plot:
        import numpy as np

        from rnnlab.diagnostics.plots import plot_forecast
        from rnnlab.tasks.forecast import _select

        if series is not None:
            history, history_times = _select(series, model.columns_)[:, 0], series.times
        else:  # the stored tail ends at the training cut-off, one step before the first forecast
            history = model.tail_[:, 0]
            step = times[0] - model.train_end_time_.astype(times.dtype)
            history_times = times[0] - step * (len(history) - np.arange(len(history)))
        plot_forecast(args.plot, np.concatenate([history_times, times]), history, forecast,
                      intervals=(lower, upper), title=f"{model.columns_[0]}: forecast", label=model.interval_label)
        print(f"wrote {args.plot}")
    return 0


def _backtest(args: argparse.Namespace) -> int:
    from rnnlab.tasks.forecast import Forecaster

    config = _config(args)
    series = _read(args)
    print(config)
    report = Forecaster(config, progress=not args.quiet).backtest(series, n_origins=args.origins, step=args.step)
    print(report.format())
    if args.plot:
        print(f"wrote {report.plot(args.plot)}")
    if args.json:
        _write_json(args.json, report.to_json())
        print(f"wrote {args.json}")
    return 0


def _write_json(path: Path, data: dict) -> None:
    from rnnlab.checkpoint import atomic_write_bytes

    atomic_write_bytes(Path(path), (json.dumps(data, indent=1) + "\n").encode("utf-8"))
