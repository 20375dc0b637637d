"""`rnnlab forecast train|eval|predict|backtest`: CSV series in, honest multi-step forecasts out.

The settings flags of `train` and `backtest` come from `ForecastConfig` (`add_settings`); this
module adds only the data flags (`--data`, `--time-column`, `--missing`, `--test-size`) and the
backtest's `--origins` / `--step`.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
from pathlib import Path

from rnnlab import checks
from rnnlab.cli.common import (
    Output,
    add_ckpt,
    add_encoding,
    add_json,
    add_plot,
    add_quiet,
    add_settings,
    add_threads,
    add_train_flags,
    build,
    check_train_args,
    checked,
    finite,
    given_settings,
    load_run,
)
from rnnlab.errors import InvalidArgument, RnnlabError
from rnnlab.tasks.forecast_config import ForecastConfig

BUDGETS = ("max_steps", "minutes")


def register(sub) -> None:
    p = sub.add_parser("forecast", help="train, evaluate, backtest and use a recurrent forecaster on a CSV series")
    verbs = p.add_subparsers(dest="verb", metavar="VERB", required=True)

    t = verbs.add_parser("train", help="fit on all but the last --test-size rows, save the run, evaluate the tail")
    add_train_flags(t, "CSV with a header, a time column and value columns", BUDGETS)
    _reading_flags(t)
    t.add_argument("--test-size", type=checked(int, checks.non_negative_int),
                   help="rows held out at the end for evaluation (default 2 x horizon; "
                   "0: train on everything)")
    add_settings(t, ForecastConfig)
    t.set_defaults(run=_train)

    e = verbs.add_parser("eval", help="evaluate a saved run on the rows of a CSV after its training data")
    add_ckpt(e)
    e.add_argument("--data", required=True, help="CSV with the run's columns, running past its training data")
    add_encoding(e)
    _reading_flags(e)
    add_json(e)
    add_threads(e)
    add_plot(e, "the forecast from each evaluation origin")
    e.set_defaults(run=_eval)

    r = verbs.add_parser("predict", help="forecast the horizon after the training data, or after the end of a CSV")
    add_ckpt(r)
    r.add_argument("--data", help="forecast after the end of this CSV instead (the run's columns; no refit)")
    add_encoding(r)
    _reading_flags(r)
    add_json(r)
    add_threads(r)
    add_plot(r, "the history, the forecast and its interval")
    r.set_defaults(run=_predict)

    b = verbs.add_parser("backtest", help="rolling-origin backtest: refit at each origin, baselines beside")
    b.add_argument("--data", required=True, help="CSV with a header, a time column and value columns")
    add_encoding(b)
    _reading_flags(b)
    b.add_argument("--origins", type=checked(int, checks.int_in(1, checks.MAX_ORIGINS)), default=5,
                   help=f"number of forecast origins, at most {checks.MAX_ORIGINS} (default 5)")
    b.add_argument("--step", type=checked(int, checks.length), help="rows between origins (default: the horizon)")
    add_json(b)
    add_plot(b, "the forecast from each origin")
    add_quiet(b)
    add_threads(b)
    add_settings(b, ForecastConfig)
    b.set_defaults(run=_backtest)


def _reading_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--time-column", help="the time column (default: the first column; eval and predict: the run's)")
    p.add_argument("--missing", choices=["fail", "interpolate", "drop"],
                   help="gaps and empty values: fail (default), interpolate linearly in time, or drop rows "
                   "(eval and predict: the run's choice)")


def _read(path: str, args: argparse.Namespace, out: Output, saved: dict | None = None):
    """The CSV as a Series, read with the typed --time-column / --missing, else as the run read its data."""
    from rnnlab.data.timeseries import read_series_csv

    saved = saved or {}
    series = read_series_csv(path, time_column=args.time_column or saved.get("time_column"),
                             value_columns=saved.get("value_columns"), missing=args.missing or saved.get("missing")
                             or "fail", encoding=None if args.encoding else saved.get("encoding"))
    if len(series.filled):
        out.say(f"{path}: interpolated {len(series.filled)} missing values (--missing interpolate)")
    return series


@contextlib.contextmanager
def _about(path: str | None):
    """A problem the model finds with the data of --data, reported with the file's name in front."""
    try:
        yield
    except InvalidArgument:
        raise
    except RnnlabError as error:
        raise RnnlabError(f"{path}: {error}" if path else str(error)) from None


def _check_plot(args: argparse.Namespace) -> None:
    """A --plot into a folder that does not exist is refused before any work (a typo should not cost a run)."""
    if args.plot and not Path(args.plot).parent.is_dir():
        raise RnnlabError(f"--plot {args.plot}: the folder {Path(args.plot).parent} does not exist")


def _train(args: argparse.Namespace) -> int:
    from rnnlab.tasks.forecast import Forecaster
    from rnnlab.tasks.runs import RunFolder

    settings = given_settings(args, ForecastConfig)
    check_train_args(args, settings, BUDGETS, data_flags=("test_size", "time_column", "missing"))
    out = Output(None, args.quiet)
    if args.resume:
        model = build(functools.partial(Forecaster.resume, args.resume), settings)
        run = RunFolder(args.resume, resume=True)
        if model.data_source_ is None:
            raise RnnlabError(f"{args.resume}: the run was trained on an array in Python, not on a CSV; resume it "
                              f"with Forecaster.resume")
        series = _read(model.data_source_["path"], args, out, model.data_source_)
        train_end = model.n_train_
    else:
        if not args.data:
            raise RnnlabError("--data is required (the CSV to train on)")
        model = build(Forecaster, settings)
        run = RunFolder(args.out, force=args.force)
        series = _read(args.data, args, out)
        train_end = len(series) - _test_size(args, model.config, len(series))
    out.note(str(model.config))
    out.note(str(series))
    step_before = model.history_[-1]["step"] if args.resume and model.history_ else 0
    try:
        model.fit(series, train_end=train_end, run_dir=run, progress=not args.quiet)
    except BaseException:
        run.discard()
        raise
    _after_training(model, series, run, out, step_before if args.resume else None)
    return 0


def _test_size(args: argparse.Namespace, config: ForecastConfig, rows: int) -> int:
    """The rows held out: --test-size as typed, else 2 x horizon (an error then names --horizon)."""
    if args.test_size is not None:
        if not 0 <= args.test_size < rows or 0 < args.test_size < config.horizon:
            raise InvalidArgument("--test-size", f"0 or an integer in [{config.horizon}, {rows - 1}] (at least the "
                                  f"horizon, fewer than the {rows} rows)", args.test_size)
        return args.test_size
    if 2 * config.horizon >= rows:
        raise RnnlabError(f"--horizon {config.horizon} is too long for {rows} rows: the last 2 x horizon rows are "
                          f"held out for evaluation and nothing would be left to train on; use a shorter --horizon")
    return 2 * config.horizon


def _after_training(model, series, run, out: Output, step_before: int | None) -> None:
    """Say what was trained and saved; evaluate on the held-out rows and write the run's plots and eval.json."""
    from rnnlab.tasks.forecast_report import plot_losses

    if step_before is not None and model.history_[-1]["step"] == step_before:
        why = ("reached --max-steps" if step_before >= model.max_steps else
               f"stopped early (--patience: {model.patience} evaluations without improvement)")
        out.say(f"the run had {why} at step {step_before}: nothing more to train")
    folder = run.path
    plot_losses(folder / "loss.png", model.history_, model.best_step_, f"{model.columns_[0]}: training and "
                f"validation loss")
    out.say(f"trained on {model.n_train_} rows to {model.train_end_time_} in {model.train_seconds_:.1f} s; "
            f"saved {folder}/best.json, latest.json, log.jsonl, loss.png")
    if model.n_train_ < len(series):
        report = model.report(series)
        out.say(report.format())
        run.write_json("eval.json", finite({"task": "forecast", "command": "eval", "ckpt": str(folder),
                                            "data": model.data_source_["path"], **report.to_json()}))
        report.plot(folder / "eval.png")
        _plot_last_window(model, series, report, folder / "forecast.png")
        out.say(f"wrote {folder}/eval.json, eval.png, forecast.png")


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

    _check_plot(args)
    out = Output(args.json)
    model = load_run(Forecaster, args)
    series = _read(args.data, args, out, model.data_source_)
    with _about(args.data):
        report = model.report(series)
    out.say(report.format())
    if args.plot:
        out.say(f"wrote {report.plot(args.plot)}")
    out.result({"task": "forecast", "command": "eval", "ckpt": args.ckpt, "data": args.data, **report.to_json()})
    return 0


def _predict(args: argparse.Namespace) -> int:
    import numpy as np

    from rnnlab.tasks.forecast import Forecaster

    _check_plot(args)
    out = Output(args.json)
    model = load_run(Forecaster, args)
    series = _read(args.data, args, out, model.data_source_) if args.data else None
    with _about(args.data):
        forecast = model.predict(series)
    lower, upper = model.predict_interval(series)
    times = model.forecast_times(series)
    out.say(f"{'time':12s} {'forecast':>12s} {'lower':>12s} {'upper':>12s}   ({model.interval_label})")
    for when, value, low, high in zip(times, forecast, lower, upper, strict=True):
        out.say(f"{str(when):12s} {value:12.4f} {low:12.4f} {high:12.4f}")
    if args.plot:
        from rnnlab.diagnostics.plots import plot_forecast

        if series is not None:
            history, history_times = series.column_values(model.columns_[:1])[:, 0], series.times
        else:  # the stored tail ends at the training cut-off, one step before the first forecast
            history = model.tail_[:, 0]
            step = times[0] - model.train_end_time_.astype(times.dtype)
            history_times = times[0] - step * (len(history) - np.arange(len(history)))
        plot_forecast(args.plot, np.concatenate([history_times, times]), history, forecast,
                      intervals=(lower, upper), title=f"{model.columns_[0]}: forecast", label=model.interval_label)
        out.say(f"wrote {args.plot}")
    rows = [{"time": str(when), "value": float(value), "lower": float(low), "upper": float(high)}
            for when, value, low, high in zip(times, forecast, lower, upper, strict=True)]
    document = {"task": "forecast", "command": "predict", "ckpt": args.ckpt}
    out.result(document | ({"data": args.data} if args.data else {}) | {"forecast": rows,
                                                                          "interval": model.config.interval})
    return 0


def _backtest(args: argparse.Namespace) -> int:
    from rnnlab.tasks.forecast import Forecaster

    _check_plot(args)
    out = Output(args.json, args.quiet)
    model = build(Forecaster, given_settings(args, ForecastConfig))
    series = _read(args.data, args, out)
    out.note(str(model.config))
    report = model.backtest(series, n_origins=args.origins, step=args.step, progress=not args.quiet)
    out.say(report.format())
    if args.plot:
        out.say(f"wrote {report.plot(args.plot)}")
    out.result({"task": "forecast", "command": "backtest", "data": args.data, **report.to_json()})
    return 0
