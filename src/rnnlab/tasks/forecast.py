"""Multi-step forecasting with a recurrent network, every statistic fitted on the training part only.

    raw target y (T,) --TargetTransform: log?, seasonal difference?, difference?--> z (T,)
    features (T, D) = [z, covariates...] --scaler fitted on training rows--> windows (N, lookback, D)
    --ForecastNetwork (RNN/LSTM/GRU, last output, Linear)--> (N, H), or (N, 1) per network

Strategies: "multi-output" (one network, H outputs), "direct" (H networks, network h predicts step
h + 1 only) and "recursive" (one network predicting one step, fed its own predictions; needs no
covariates, since their future values are unknown). Predictions go back through the scaler and the
transforms to data units before any number is reported.

Leakage rule: `fit(X, train_end=c)` reads rows [0, c) and nothing after (pinned by a test), the
validation tail used for early stopping is the end of that training part, and `report` refuses
forecast origins inside it. The tables beside the baselines are built by `rnnlab.tasks.forecast_report`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Self

import numpy as np

from rnnlab.checkpoint import split_prefix, with_prefix
from rnnlab.config import positive_int
from rnnlab.data import fingerprint
from rnnlab.data.scalers import make_windows, rolling_origins, scaler_from_json
from rnnlab.data.timeseries import Series, from_array
from rnnlab.data.transforms import TargetTransform
from rnnlab.errors import RnnlabError, invalid_argument
from rnnlab.metrics.forecast import mae
from rnnlab.tasks.base import Task
from rnnlab.tasks.forecast_config import SCALERS, ForecastConfig
from rnnlab.tasks.forecast_net import ForecastNetwork, best_step, new_trainer, train_network
from rnnlab.tasks.forecast_report import ForecastReport, build_report
from rnnlab.tasks.runs import RunFolder


class Forecaster(Task):
    """Fit a recurrent forecaster on a series and forecast `horizon` steps in data units.

    For scikit-learn, X is the series: an array (T,) or (T, D) (or a `rnnlab.data.timeseries.Series`)
    whose first column is the target (or the `target` column) and y is ignored (None). `score(X)`
    is minus the MAE of the forecasts from every origin inside X with `lookback` (plus differencing)
    rows before it, so time-ordered splits give honest cross-validation:

    >>> from sklearn.model_selection import TimeSeriesSplit, cross_val_score
    >>> series = np.sin(np.arange(240) / 4)
    >>> model = Forecaster(lookback=12, horizon=4, hidden_size=8, max_steps=20)
    >>> cross_val_score(model, series, cv=TimeSeriesSplit(n_splits=3), params={"progress": False}).shape
    (3,)
    >>> model.fit(series, train_end=200, progress=False).predict().shape  # the 4 steps after row 199
    (4,)

    Learned state: `columns_`, `transform_` (the target's `TargetTransform`), `scaler_`, `networks_`,
    `season_`, `seasonal_lag_`, `tail_` (the last rows needed to forecast), `interval_` ((2, H)
    residual quantiles), `history_` (one dict per evaluation, with its `network`), `best_step_`,
    `data_source_` (how the series was read: `read_series_csv` arguments, None for arrays).
    """

    name = "forecast"
    Config = ForecastConfig
    _estimator_type = "regressor"

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = False  # y is not used: the series is its own target
        return tags

    # ---- fitting ------------------------------------------------------------------------------------------
    def fit(self, X: Series | np.ndarray, y: None = None, *, train_end: int | None = None,
            run_dir: str | Path | RunFolder | None = None, progress: bool = True) -> Self:
        """Fit on rows [0, train_end) of the series X (a Series or an array (T,) / (T, D)); returns self.

        Nothing at or after `train_end` is read: transforms, scaler, season and weights come from the
        training rows alone. The last `val_fraction` of them is the validation tail for early stopping.
        With `run_dir`, everything is checked before the folder is created; then log.jsonl gets a line
        per evaluation and the `best` / `latest` checkpoints are written (at every evaluation when one
        network is trained without `refit_full`, else at the end).
        """
        series, resumed = as_series(X), self._resumed_from
        if resumed is not None:
            saved_end = resumed.meta["n_train"]
            if train_end not in (None, saved_end):
                raise RnnlabError(f"a resumed run trains on its first {saved_end} rows, not on {train_end}")
            train_end = saved_end
        train_end = len(series) if train_end is None else train_end
        if not isinstance(train_end, int | np.integer) or not 1 <= train_end <= len(series):
            raise invalid_argument("train_end", f"an integer in [1, {len(series)}]", train_end)
        data = self._prepare(series, int(train_end))
        if resumed is not None:
            saved = resumed.meta["data"]
            self._refuse_other_data(self.data_sha256_, saved["sha256"], saved.get("source") or "an array")
        run, own = self._run_folder(run_dir)
        with self._writing(run, own):
            self._train(data, run, progress)
        return self

    def _prepare(self, series: Series, train_end: int) -> dict[str, Any]:
        """Learn columns, season, transforms and scaler from rows [0, train_end); the windows to train on."""
        c = self.config
        self.columns_ = c.model_columns(series.columns)
        values = series.column_values(self.columns_)[:train_end]  # (T, D) target first
        self.freq_ = series.freq
        self.season_ = c.resolve_season(series.season, values[:, 0])
        if self.season_ is not None and self.season_ >= len(values):
            raise RnnlabError(f"season {self.season_} (--season) is not shorter than the {len(values)} training "
                              f"rows: the seasonal baselines need a whole season of them")
        lag = c.seasonal_lag(series.season, self.season_, len(values))
        self.transform_, self.seasonal_lag_ = TargetTransform.build(c.log, lag, c.difference), lag
        offset = self.transform_.lost
        val_size = max(c.horizon, int(round(c.val_fraction * (len(values) - offset))))
        needed = offset + c.lookback + 2 * c.horizon + val_size
        if len(values) < needed:
            raise RnnlabError(f"lookback {c.lookback} with horizon {c.horizon} needs at least {needed} training rows "
                              f"({offset} lost to differencing, {val_size} for validation), got {len(values)}; "
                              f"use a shorter lookback or horizon")
        self.transform_.fit(values[:, 0])
        features = self._features(values)[offset:]  # (T - offset, D)
        self.scaler_ = SCALERS[c.scaler]().fit(features)
        window_horizon = 1 if c.strategy == "recursive" else c.horizon
        X, Y = make_windows(self.scaler_.transform(features), c.lookback, window_horizon)  # (N, L, D), (N, h)
        first_target = np.arange(len(X)) + c.lookback  # row of each window's first target
        cut = len(features) - val_size
        self.tail_, self.n_train_ = values[-(c.lookback + offset):].copy(), train_end
        self.train_end_time_ = series.times[train_end - 1]
        self.data_source_, self.data_sha256_ = series.source, fingerprint(values)
        return {"values": values, "val_size": val_size, "X": X.astype(np.float32), "Y": Y.astype(np.float32),
                "train": first_target + window_horizon <= cut, "val": first_target >= cut}

    def _features(self, values: np.ndarray) -> np.ndarray:
        """Raw (T, D) -> (T, D): the target column transformed (NaN where undefined), covariates as they are."""
        return np.column_stack([self.transform_.transform(values[:, 0]), values[:, 1:]])

    def _train(self, data: dict[str, Any], run: RunFolder | None, progress: bool) -> None:
        """Train every network (one per step ahead for "direct"), the interval, and the refit if asked."""
        c, X, train, val = self.config, data["X"], data["train"], data["val"]
        targets = [data["Y"][:, h: h + 1] for h in range(c.horizon)] if c.strategy == "direct" else [data["Y"]]
        each_eval = run is not None and self.resumable
        self.networks_, self.history_, self.best_step_, trainers = [], [], [], []
        for k, Y in enumerate(targets):
            trainer = self._trainer = new_trainer(c, X.shape[2], Y.shape[1], c.seed + 1000 * k, self._on_engine)
            if self._resumed_from is not None:
                arrays, meta = self._resumed_from.arrays, self._resumed_from.meta
                trainer.restore(arrays, meta["training"], suffix="0")
            before = list(self.history_)
            self.networks_.append(trainer.module)

            def on_eval(state, metrics, improved, k=k, trainer=trainer, before=before) -> None:
                self.history_ = before + [{"network": k, **m} for m in state.history]
                self.best_step_ = [best_step(t) for t in trainers] + [best_step(trainer)]
                self.train_seconds_ = sum(t.state.seconds for t in trainers) + state.seconds
                if run is not None:
                    run.append_log({"network": k, **metrics})
                if each_eval:
                    if improved:  # the network holds its best weights now
                        self._fit_interval(data["values"], data["val_size"])
                    self._checkpoints(run, best=improved)

            train_network(trainer, c, X[train], Y[train], X[val], Y[val], max_steps=c.max_steps, on_eval=on_eval,
                          desc="forecast" if len(targets) == 1 else f"forecast t+{k + 1}", progress=progress,
                          on_checkpoint=self._latest_to(run) if each_eval else None,
                          on_gradients=None if run is None else
                          lambda row, k=k: run.append_jsonl("gradients.jsonl", {"network": k, **row}))
            self.history_ = before + [{"network": k, **m} for m in trainer.state.history]
            trainers.append(trainer)
        self.best_step_ = [best_step(t) for t in trainers]
        self._fit_interval(data["values"], data["val_size"])  # before the refit, so the residuals are out of sample
        self.train_seconds_ = sum(t.state.seconds for t in trainers)
        if c.refit_full:
            self.networks_ = [self._refit(X, Y, k, progress) for k, Y in enumerate(targets)]
        if run is not None:
            self.save(run.path, "best")
            self.save(run.path, "latest", training=self.resumable)
            run.committed()

    def _refit(self, X: np.ndarray, Y: np.ndarray, k: int, progress: bool) -> ForecastNetwork:
        """Network k trained from scratch on every window (validation ones too) for its best step count."""
        trainer = new_trainer(self.config, X.shape[2], Y.shape[1], self.config.seed + 1000 * k, self._on_engine)
        steps = max(self.best_step_[k], self.config.eval_every)
        state = train_network(trainer, self.config, X, Y, None, None, max_steps=steps, desc=f"forecast (refit {k})",
                              progress=progress)
        self.history_ += [{"network": k, "refit": True, **m} for m in state.history]
        self.train_seconds_ += state.seconds
        return trainer.module

    @property
    def resumable(self) -> bool:
        """Whether a run of these settings can be resumed: one network, not refitted after training."""
        return self.config.strategy != "direct" and not self.config.refit_full

    def _fit_interval(self, values: np.ndarray, val_size: int) -> None:
        """Empirical residual quantiles per step over the validation origins, in data units: `interval_` (2, H)."""
        c = self.config
        origins = np.arange(len(values) - val_size, len(values) - c.horizon + 1)
        residuals = np.stack([values[o: o + c.horizon, 0] for o in origins]) - self._forecast_origins(values, origins)
        alpha = (1 - c.interval) / 2
        self.interval_ = np.quantile(residuals, [alpha, 1 - alpha], axis=0)  # (2, H)
        self.interval_windows_ = len(origins)

    # ---- forecasting --------------------------------------------------------------------------------------
    def _forecast_origins(self, values: np.ndarray, origins: np.ndarray) -> np.ndarray:
        """Forecasts (N, H) in data units made at each origin o from values[:o] (T, D) alone."""
        c, offset = self.config, self.transform_.lost
        origins = np.asarray(origins, dtype=np.int64)
        if len(origins) and origins.min() < c.lookback + offset:
            raise RnnlabError(f"a forecast origin needs {c.lookback + offset} earlier rows "
                              f"(lookback {c.lookback} + {offset} lost to differencing), got {origins.min()}")
        features = self.scaler_.transform(self._features(values))  # (T, D)
        windows = np.stack([features[o - c.lookback: o] for o in origins]).astype(np.float32)  # (N, L, D)
        if c.strategy == "recursive":
            scaled = np.zeros((len(origins), c.horizon), dtype=np.float32)
            for h in range(c.horizon):
                scaled[:, h] = self.networks_[0](windows)[:, 0]
                windows = np.concatenate([windows[:, 1:], scaled[:, h, None, None]], axis=1)
        else:
            scaled = np.concatenate([net(windows) for net in self.networks_], axis=1)  # (N, H)
        transformed = self.scaler_.inverse_transform(scaled.astype(np.float64), column=0)  # (N, H) z units
        return np.stack([self.transform_.inverse(z, values[:o, 0]) for z, o in zip(transformed, origins, strict=True)])

    def predict(self, history: Series | np.ndarray | None = None) -> np.ndarray:
        """Forecast (H,) in data units after the end of `history`, or after the training data if None.

        `history` has the training columns (a Series, or an array (T,) / (T, D) in the model's column
        order) and at least lookback + differencing rows; the model is not refitted.
        """
        values = self._history_values(history)
        return self._forecast_origins(values, np.array([len(values)]))[0]

    def predict_interval(self, history: Series | np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(lower (H,), upper (H,)): the forecast plus the validation residuals' empirical quantiles.

        A rough band: it assumes future errors look like those on the few validation windows
        (`interval_windows_`); it is not a model-based probability statement.
        """
        forecast = self.predict(history)
        return forecast + self.interval_[0], forecast + self.interval_[1]

    @property
    def interval_label(self) -> str:
        """What `predict_interval` is, for plot legends and reports."""
        return (f"{self.config.interval:.0%} interval (empirical quantiles of residuals on "
                f"{self.interval_windows_} validation windows)")

    def forecast_times(self, history: Series | None = None) -> np.ndarray:
        """The H timestamps a forecast from `predict(history)` refers to, (H,) datetime64."""
        self._check_fitted()
        if history is not None:
            return as_series(history).future_times(self.config.horizon)
        return Series(np.array([self.train_end_time_]), np.zeros(1), ["y"], self.freq_).future_times(
            self.config.horizon)

    def _history_values(self, history: Series | np.ndarray | None) -> np.ndarray:
        self._check_fitted()
        if history is None:
            return self.tail_
        series = as_series(history)
        if isinstance(history, Series) or series.values.shape[1] != len(self.columns_):
            return series.column_values(self.columns_)
        return series.values

    # ---- evaluation ---------------------------------------------------------------------------------------
    def report(self, X: Series | np.ndarray, *, test_start: int | None = None, step: int = 1) -> ForecastReport:
        """Forecasts from every `step`-th origin in [test_start, T - H] beside the baselines, without refitting.

        test_start defaults to the first row after the training data (found by its time); origins
        inside the training data are refused.
        """
        self._check_fitted()
        series, H = as_series(X), self.config.horizon
        values = series.column_values(self.columns_)
        if test_start is None:
            after = np.nonzero(series.times > self.train_end_time_)[0]
            if len(after) == 0:
                raise RnnlabError(f"the data ends at {series.times[-1]}, not after the training data (which ends "
                                  f"at {self.train_end_time_}): nothing held out to evaluate on")
            test_start = int(after[0])
        if not 1 <= test_start < len(values):  # (a row past the end has no time to name)
            raise invalid_argument("test_start", f"a row index in [1, {len(values) - 1}]", test_start)
        if test_start > len(values) - H:
            raise RnnlabError(f"the data has {len(values) - test_start} rows from {series.times[test_start]} on, "
                              f"fewer than the horizon {H}: no window to evaluate")
        if series.times[test_start] <= self.train_end_time_:
            raise RnnlabError(f"evaluation origin {series.times[test_start]} lies inside the training data (which "
                              f"ends at {self.train_end_time_}); evaluate on rows after the training cut-off")
        origins = np.arange(test_start, len(values) - H + 1, step)
        rnn = self._forecast_origins(values, origins)
        with np.errstate(all="ignore"):
            return build_report(self.columns_[0], f"held-out tail (one fit, origins every {step} step(s))",
                                values[:, 0], series.times, origins, rnn, self.season_, self.train_seconds_)

    def evaluate(self, X: Series | np.ndarray, *, test_start: int | None = None, step: int = 1) -> dict[str, Any]:
        """The figures of `report(...)` as plain JSON-ready numbers (the keys of docs/cli.md)."""
        return self.report(X, test_start=test_start, step=step).to_json()

    def score(self, X: Series | np.ndarray, y: None = None) -> float:
        """Minus the MAE (data units) of forecasts from every origin of X with lookback + differencing rows before."""
        values, H = self._history_values(X), self.config.horizon
        first = self.config.lookback + self.transform_.lost
        if len(values) - H < first:
            raise RnnlabError(f"score needs at least {first + H} rows (lookback, differencing and horizon), "
                              f"got {len(values)}")
        origins = np.arange(first, len(values) - H + 1)
        actual = np.stack([values[o: o + H, 0] for o in origins])  # (N, H)
        return -mae(actual, self._forecast_origins(values, origins))

    def backtest(self, X: Series | np.ndarray, *, n_origins: int = 5, step: int | None = None,
                 progress: bool = True) -> ForecastReport:
        """Rolling-origin backtest: a copy of this forecaster, refitted on rows [0, o), forecasts [o, o + H).

        The origins o are `step` rows apart (default H) and the last is T - H. Self is not changed.
        """
        series, H = as_series(X), self.config.horizon
        step = H if step is None else step
        for name, value in (("n_origins", n_origins), ("step", step)):
            if not positive_int.accepts(value):
                raise invalid_argument(name, positive_int.expected, value)
        if len(series) - H - step * (n_origins - 1) < 1:
            raise RnnlabError(f"{n_origins} origins {step} rows apart with horizon {H} need more than "
                              f"{H + step * (n_origins - 1)} rows, the series has {len(series)}; use fewer origins, "
                              f"a smaller step or a shorter horizon")
        origins = rolling_origins(len(series), H, n_origins, step)
        columns = self.config.model_columns(series.columns)
        values, forecasts, seconds, season = series.column_values(columns), [], 0.0, None
        for origin in origins:
            model = type(self)(**self.get_params()).fit(series, train_end=origin, progress=progress)
            forecasts.append(model.predict(values[:origin]))
            seconds, season = seconds + model.train_seconds_, model.season_
        kind = f"rolling-origin backtest (refit at each of {len(origins)} origins, {step} steps apart)"
        return build_report(columns[0], kind, values[:, 0], series.times, np.array(origins), np.stack(forecasts),
                            season, seconds)

    # ---- checkpoints --------------------------------------------------------------------------------------
    def _restore_training(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        """Runs of strategy "direct" (one network per step ahead) or with `refit_full` cannot be resumed."""
        if not self.resumable:
            why = "strategy 'direct' (one network per step ahead)" if self.strategy == "direct" else "refit_full"
            raise RnnlabError(f"{self._resumed_from.folder}: a forecast run with {why} cannot be resumed; train it "
                              f"again with the budget you want")

    def _training_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """The network's trainer's state, best weights as `model0.*` (the `latest` of a resumable run)."""
        return self._trainer.arrays("0"), {"training": self._trainer.meta()}

    def _state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        arrays = {}
        for k, network in enumerate(self.networks_):
            arrays |= with_prefix(network.state_dict(), f"model{k}")
        meta = {"columns": self.columns_, "freq": self.freq_, "season": self.season_,
                "transform": self.transform_.to_json(), "scaler": self.scaler_.to_json(), "tail": self.tail_.tolist(),
                "train_end_time": str(self.train_end_time_), "n_train": self.n_train_,
                "data": {"source": self.data_source_, "sha256": self.data_sha256_},
                "interval": self.interval_.tolist(), "interval_windows": self.interval_windows_,
                "train_seconds": self.train_seconds_, "best_step": self.best_step_, "history": self.history_}
        return arrays, meta

    def _restore(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        c = self.config
        self.columns_, self.freq_, self.season_ = meta["columns"], meta["freq"], meta["season"]
        self.transform_, self.scaler_ = TargetTransform.from_json(meta["transform"]), scaler_from_json(meta["scaler"])
        self.seasonal_lag_ = self.transform_.seasonal_lag  # read back from the saved pipeline
        self.tail_ = np.asarray(meta["tail"], dtype=np.float64)
        self.train_end_time_ = np.datetime64(meta["train_end_time"])
        self.n_train_, self.train_seconds_ = meta["n_train"], meta["train_seconds"]
        self.data_source_, self.data_sha256_ = meta["data"]["source"], meta["data"]["sha256"]
        self.interval_, self.interval_windows_ = np.asarray(meta["interval"]), meta["interval_windows"]
        self.history_, self.best_step_ = meta["history"], meta["best_step"]
        outputs = 1 if c.strategy in ("recursive", "direct") else c.horizon
        self.networks_ = []
        for k in range(c.horizon if c.strategy == "direct" else 1):
            network = self._on_engine(ForecastNetwork(c.cell, len(self.columns_), c.hidden_size, c.num_layers,
                                                      c.dropout, outputs))
            network.load_state_dict(split_prefix(arrays, f"model{k}"))
            self.networks_.append(network.eval())


def as_series(data: Series | np.ndarray) -> Series:
    """A regular Series as given, or one made from an array (T,) / (T, D) with columns y0, y1, ..."""
    if isinstance(data, Series):
        if not data.regular:
            raise RnnlabError("the series is not evenly spaced (rows were dropped); read it with "
                              "missing='interpolate' (--missing interpolate) to keep a regular grid")
        return data
    if isinstance(data, np.ndarray | list | tuple):
        return from_array(np.asarray(data, dtype=np.float64))
    raise RnnlabError(f"expected a Series or a NumPy array of shape (T,) or (T, D), got {type(data).__name__}")
