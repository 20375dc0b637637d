"""Multi-step forecasting with a recurrent network, every statistic fitted on the training part only.

    raw target y (T,) --log?--> u --seasonal difference (lag m)?--> v --difference (order d)?--> z
    features (T, D) = [z, covariates...] --scaler fitted on training rows--> windows (N, lookback, D)
    --RNN/LSTM/GRU (batch_first)--> last output (N, hidden) --Linear--> (N, H) or (N, 1)

Strategies: "multi-output" (one network, H outputs), "direct" (H networks, network h predicts step
h + 1 only) and "recursive" (one network predicting one step, fed its own predictions; needs no
covariates, since their future values are unknown). Predictions go back through the scaler and the
transforms to data units before any number is reported.

Leakage rule: `fit(data, train_end=c)` reads rows [0, c) and nothing after (pinned by a test), the
validation tail used for early stopping is the end of that training part, and `evaluate` refuses
forecast origins inside it. Backtests and report tables live in `rnnlab.tasks.forecast_eval`.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import numpy as np

from rnnlab.baselines import infer_season
from rnnlab.checkpoint import load_checkpoint, save_checkpoint, split_prefix, with_prefix
from rnnlab.data.scalers import (
    Differencing,
    IdentityScaler,
    LogTransform,
    MinMaxScaler,
    StandardScaler,
    fit_transform_split,
    make_windows,
    scaler_from_json,
)
from rnnlab.data.timeseries import Series, from_array
from rnnlab.errors import RnnlabError, invalid_argument
from rnnlab.nn import Dropout, Linear, Module, MSELoss
from rnnlab.nn.models import CELLS, build_recurrent
from rnnlab.optim import Adam
from rnnlab.train import LoopConfig, train_loop

STRATEGIES = ("multi-output", "direct", "recursive")
SCALERS = {"standard": StandardScaler, "minmax": MinMaxScaler, "none": IdentityScaler}


@dataclass(frozen=True)
class ForecastConfig:
    """Everything that defines a forecaster; printed at the start of a run and saved in its checkpoint.

    seasonal_difference: "auto" differences at the season when one is known from the calendar
    (monthly 12, weekly 52, ...) or given as `season`; "on" also accepts an inferred season; "off".
    season: observations per cycle for seasonal differencing, seasonal naive and MASE; None: from the
    series' freq, else inferred from the training part's autocorrelation (`infer_season`).
    """

    lookback: int = 24
    horizon: int = 12
    strategy: str = "multi-output"
    cell: str = "lstm"
    hidden_size: int = 32
    num_layers: int = 1
    dropout: float = 0.0
    scaler: str = "standard"
    log: bool = False
    difference: int = 0
    seasonal_difference: str = "auto"
    season: int | None = None
    target: str | None = None  # None: the first value column
    covariates: tuple[str, ...] = ()
    lr: float = 3e-3
    batch_size: int = 32
    max_steps: int = 1500
    eval_every: int = 25
    patience: int = 12
    val_fraction: float = 0.2
    refit_full: bool = False  # after early stopping, retrain on every window (validation too) for the best step count
    interval: float = 0.8  # coverage of the residual-quantile prediction interval
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("lookback", "horizon", "hidden_size", "num_layers", "batch_size", "max_steps", "eval_every",
                     "patience"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
                raise invalid_argument(name, "a positive integer", value)
        choices = {"strategy": STRATEGIES, "cell": CELLS, "scaler": tuple(SCALERS),
                   "seasonal_difference": ("auto", "on", "off")}
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise invalid_argument(name, f"one of {', '.join(allowed)}", getattr(self, name))
        if self.difference not in (0, 1, 2):
            raise invalid_argument("difference", "0, 1 or 2", self.difference)
        if self.season is not None and (not isinstance(self.season, int | np.integer) or self.season < 2):
            raise invalid_argument("season", "an integer >= 2 or None", self.season)
        if not 0 <= self.dropout < 1:
            raise invalid_argument("dropout", "a number in [0, 1)", self.dropout)
        if not 0 < self.val_fraction < 1:
            raise invalid_argument("val_fraction", "a number in (0, 1)", self.val_fraction)
        if not 0 < self.interval < 1:
            raise invalid_argument("interval", "a coverage in (0, 1), e.g. 0.8", self.interval)
        if not self.lr > 0:
            raise invalid_argument("lr", "a positive number", self.lr)
        if self.strategy == "recursive" and self.covariates:
            raise RnnlabError("strategy 'recursive' feeds predictions back and cannot know future covariates; "
                              "use 'multi-output' or 'direct' with --covariates")
        object.__setattr__(self, "covariates", tuple(self.covariates))


class ForecastNetwork(Module):
    """Recurrent layers over the window, the last step's output through dropout and a linear head.

    >>> net = ForecastNetwork("lstm", input_size=2, hidden_size=8, num_layers=1, dropout=0.0, num_outputs=3, seed=0)
    >>> net(np.zeros((5, 10, 2), np.float32)).shape  # (batch, lookback, features) -> (batch, outputs)
    (5, 3)
    """

    def __init__(self, cell: str, input_size: int, hidden_size: int, num_layers: int, dropout: float,
                 num_outputs: int, seed: int | np.random.Generator | None = None) -> None:
        super().__init__()
        rng = np.random.default_rng(seed)
        self.rnn = build_recurrent(cell, input_size, hidden_size, num_layers=num_layers, batch_first=True,
                                   dropout=dropout if num_layers > 1 else 0.0, seed=rng)
        self.drop = Dropout(dropout, seed=rng)
        self.head = Linear(hidden_size, num_outputs, seed=rng)
        self._output_shape: tuple[int, ...] = ()

    def forward(self, x: np.ndarray) -> np.ndarray:
        """x (B, lookback, D) float32 -> predictions (B, num_outputs)."""
        output, _ = self.rnn(x)  # (B, lookback, hidden)
        self._output_shape = output.shape
        return self.head(self.drop(output[:, -1]))

    def backward(self, d_pred: np.ndarray) -> None:
        """d loss / d predictions (B, num_outputs) into every parameter's grad; only the last step gets one."""
        d_output = np.zeros(self._output_shape, dtype=d_pred.dtype)  # (B, lookback, hidden)
        d_output[:, -1] = self.drop.backward(self.head.backward(d_pred))
        self.rnn.backward(d_output)


class Forecaster:
    """Fit a recurrent forecaster on a series and forecast `horizon` steps in data units.

    Hyperparameters: a `ForecastConfig`, or its fields as keywords (`Forecaster(lookback=12, horizon=6)`).
    Learned state: `scaler_`, `networks_`, `season_`, `seasonal_lag_`, `columns_`, `tail_` (the last
    rows needed to forecast), `interval_` ((2, H) residual quantiles), `history_` (loss curves).

    >>> t = np.arange(200.0)
    >>> model = Forecaster(lookback=12, horizon=4, hidden_size=8, max_steps=20, progress=False).fit(np.sin(t / 4))
    >>> model.predict().shape
    (4,)
    """

    def __init__(self, config: ForecastConfig | None = None, *, progress: bool = True, **params: Any) -> None:
        self.config = dataclasses.replace(config or ForecastConfig(), **params) if params else (config or
                                                                                                ForecastConfig())
        self.progress = progress

    def get_params(self) -> dict[str, Any]:
        """The hyperparameters as a JSON-ready dict."""
        return {**dataclasses.asdict(self.config), "covariates": list(self.config.covariates)}

    # ---------------------------------------------------------------------------------------------
    # Fitting
    # ---------------------------------------------------------------------------------------------

    def fit(self, data: Series | np.ndarray, train_end: int | None = None, log_path: Path | None = None) -> Self:
        """Fit on rows [0, train_end) of `data` (a Series or an array (T,) / (T, D)); returns self.

        Nothing at or after `train_end` is read: transforms, scaler, season and weights come from the
        training rows alone. The last `val_fraction` of them is the validation tail for early stopping.
        """
        c = self.config
        series = as_series(data)
        train_end = len(series) if train_end is None else train_end
        if not isinstance(train_end, int | np.integer) or not 1 <= train_end <= len(series):
            raise invalid_argument("train_end", f"an integer in [1, {len(series)}]", train_end)
        series = Series(series.times[:train_end], series.values[:train_end], series.columns, series.freq,
                        regular=series.regular)
        self.columns_ = _model_columns(series, c)
        self.freq_ = series.freq
        values = _select(series, self.columns_)  # (T, D) target first
        self.season_ = _resolve_season(c, series, values[:, 0])
        self.seasonal_lag_ = _resolve_seasonal_lag(c, series, self.season_, len(values))
        offset = self.seasonal_lag_ + c.difference
        val_size = max(c.horizon, int(round(c.val_fraction * (len(values) - offset))))
        needed = offset + c.lookback + 2 * c.horizon + val_size
        if len(values) < needed:
            raise RnnlabError(
                f"lookback {c.lookback} with horizon {c.horizon} needs at least {needed} training rows "
                f"({offset} lost to differencing, {val_size} for validation), got {len(values)}; "
                f"use a shorter --lookback or --horizon"
            )
        features = self._features(values)  # (T, D), NaN in the first `offset` rows
        self.scaler_ = SCALERS[c.scaler]()
        scaled, _, _ = fit_transform_split(features[offset:], len(features) - offset, self.scaler_)
        started = time.perf_counter()
        windows = self._windows(scaled, val_size)
        self.networks_, self.history_ = self._train(windows, log_path)
        self._fit_interval(values, val_size)  # before the refit, so the residuals are out of sample
        if c.refit_full:
            self.networks_ = self._refit(windows)
        self.train_seconds_ = time.perf_counter() - started
        self.tail_ = values[-(c.lookback + offset):].copy()
        self.train_end_time_ = series.times[-1]
        self.n_train_ = len(values)
        return self

    def _features(self, values: np.ndarray) -> np.ndarray:
        """Raw (T, D) -> transformed (T, D): the target column through log and differencing; NaN where undefined."""
        c, lag = self.config, self.seasonal_lag_
        target = LogTransform().transform(values[:, 0]) if c.log else values[:, 0].copy()  # (T,) u
        if lag:
            target = np.concatenate([np.full(lag, np.nan), target[lag:] - target[:-lag]])  # v_t = u_t - u_{t-m}
        if c.difference:
            target = np.concatenate([np.full(c.difference, np.nan), Differencing(c.difference).transform(target)])
        return np.column_stack([target, values[:, 1:]])

    def _windows(self, scaled: np.ndarray, val_size: int) -> dict[str, np.ndarray]:
        """Training and validation windows (float32) from the scaled rows; validation = the last val_size rows."""
        c = self.config
        window_horizon = 1 if c.strategy == "recursive" else c.horizon
        X, Y = make_windows(scaled, c.lookback, window_horizon)  # (N, L, D), (N, h)
        first_target = np.arange(len(X)) + c.lookback  # row of each window's first target
        val = first_target >= len(scaled) - val_size
        train = first_target + window_horizon <= len(scaled) - val_size  # targets end before the tail
        X, Y = X.astype(np.float32), Y.astype(np.float32)
        return {"X": X, "Y": Y, "train": train, "val": val}

    def _targets(self, Y: np.ndarray) -> list[np.ndarray]:
        """One target array per network: all H columns, or column h for the direct strategy."""
        if self.config.strategy == "direct":
            return [Y[:, h: h + 1] for h in range(self.config.horizon)]
        return [Y]

    def _train(self, w: dict[str, np.ndarray], log_path: Path | None) -> tuple[list, list[dict]]:
        """Train each network on the training windows with early stopping on the validation windows."""
        networks, history = [], []
        X, train, val = w["X"], w["train"], w["val"]
        for k, Y in enumerate(self._targets(w["Y"])):
            network, best_step, log = self._train_one(X[train], Y[train], X[val], Y[val], None, log_path, k)
            networks.append(network)
            history.append({"network": k, "best_step": best_step, "log": log})
        return networks, history

    def _refit(self, w: dict[str, np.ndarray]) -> list:
        """Retrain from scratch on every window (validation ones too) for each network's best step count."""
        networks = []
        for k, Y in enumerate(self._targets(w["Y"])):
            network, _, log = self._train_one(w["X"], Y, None, None, self.history_[k]["best_step"], None, k)
            networks.append(network)
            self.history_[k]["refit_log"] = log
        return networks

    def _train_one(self, X, Y, X_val, Y_val, steps, log_path, step_index) -> tuple[ForecastNetwork, int, list]:
        c = self.config
        seed = c.seed + 1000 * step_index
        network = ForecastNetwork(c.cell, X.shape[2], c.hidden_size, c.num_layers, c.dropout, Y.shape[1], seed)
        optimizer, loss_fn, rng = Adam(network.parameters(), lr=c.lr), MSELoss(), np.random.default_rng(seed)
        best: dict[str, Any] = {"state": network.state_dict(), "step": 0}

        def step_fn() -> tuple[float, int]:
            batch = rng.choice(len(X), size=min(c.batch_size, len(X)), replace=False)
            loss = loss_fn(network(X[batch]), Y[batch])
            network.backward(loss_fn.backward())
            return loss, len(batch)

        def evaluate() -> dict[str, float]:
            if X_val is None:
                return {}
            network.eval()
            return {"val_loss": MSELoss()(network(X_val), Y_val)}

        def on_eval(state, metrics, improved) -> None:
            if improved:
                best["state"], best["step"] = network.state_dict(), state.step

        validating = X_val is not None
        loop = LoopConfig(max_steps=steps or c.max_steps, eval_every=c.eval_every, clip_norm=1.0,
                          monitor="val_loss" if validating else "train_loss",
                          patience=c.patience if validating else None)
        desc = "forecast" if c.strategy != "direct" else f"forecast t+{step_index + 1}"
        state = train_loop(network, optimizer, step_fn, evaluate, loop, on_eval=on_eval, log_path=log_path,
                           desc=desc + ("" if validating else " (refit)"), progress=self.progress)
        if validating:
            network.load_state_dict(best["state"])
        network.eval()
        return network, max(best["step"], c.eval_every) if validating else state.step, state.history

    def _fit_interval(self, values: np.ndarray, val_size: int) -> None:
        """Empirical residual quantiles per step over the validation origins, in data units: `interval_` (2, H)."""
        c = self.config
        origins = np.arange(len(values) - val_size, len(values) - c.horizon + 1)
        forecasts = self._forecast_origins(values, origins)  # (N, H)
        actual = np.stack([values[o: o + c.horizon, 0] for o in origins])
        residuals = actual - forecasts
        alpha = (1 - c.interval) / 2
        self.interval_ = np.quantile(residuals, [alpha, 1 - alpha], axis=0)  # (2, H)
        self.interval_windows_ = len(origins)

    # ---------------------------------------------------------------------------------------------
    # Forecasting
    # ---------------------------------------------------------------------------------------------

    def _forecast_origins(self, values: np.ndarray, origins: np.ndarray) -> np.ndarray:
        """Forecasts (N, H) in data units made at each origin o from values[:o] (T, D) alone."""
        c = self.config
        offset = self.seasonal_lag_ + c.difference
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
        return np.stack([self._integrate(z, values[:o, 0]) for z, o in zip(transformed, origins, strict=True)])

    def _integrate(self, z: np.ndarray, history: np.ndarray) -> np.ndarray:
        """Undo differencing and log: z (H,) forecasts of the transformed target -> levels (H,), given raw history."""
        c, lag = self.config, self.seasonal_lag_
        u = LogTransform().transform(history) if c.log else history  # (T,)
        v_history = u[lag:] - u[:-lag] if lag else u
        v = Differencing(c.difference).inverse_transform(z, history=v_history) if c.difference else z
        if lag:
            extended = np.concatenate([u, np.zeros(len(v))])
            for h in range(len(v)):  # u_{T+h} = v_{T+h} + u_{T+h-m}, using earlier forecasts once h >= m
                extended[len(u) + h] = v[h] + extended[len(u) + h - lag]
            v = extended[len(u):]
        return LogTransform().inverse_transform(v) if c.log else v

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
            return _select(series, self.columns_)
        return series.values

    def _check_fitted(self) -> None:
        if not hasattr(self, "networks_"):
            raise RnnlabError("this Forecaster is not fitted yet; call fit(...) or Forecaster.load(run_dir)")

    # ---------------------------------------------------------------------------------------------
    # Evaluation (tables and backtests in forecast_eval)
    # ---------------------------------------------------------------------------------------------

    def evaluate(self, data: Series | np.ndarray, test_start: int | None = None, step: int = 1):
        """Forecast from every origin in [test_start, T - H] (every `step`) with this fitted model.

        test_start defaults to the first row after the training data (found by its time). Origins
        inside the training data are refused. Returns a `ForecastReport` with the baselines beside it.
        """
        from rnnlab.tasks.forecast_eval import evaluate_tail

        return evaluate_tail(self, as_series(data), test_start, step)

    def backtest(self, data: Series | np.ndarray, n_origins: int = 5, step: int | None = None):
        """Rolling-origin backtest: refit on rows [0, o) at each origin o, forecast [o, o + H).

        Origins from `rnnlab.data.scalers.rolling_origins` (`step` apart, default H; the last at T - H).
        Returns a `ForecastReport` with the baselines beside it. The fitted state of self is not changed.
        """
        from rnnlab.tasks.forecast_eval import rolling_backtest

        return rolling_backtest(self.config, as_series(data), n_origins, step, progress=self.progress)

    # ---------------------------------------------------------------------------------------------
    # Checkpoints
    # ---------------------------------------------------------------------------------------------

    def save(self, folder: str | Path, name: str = "best") -> Path:
        """Write `folder/name.safetensors` (weights) and `name.json` (config, scaler, transforms, tail)."""
        self._check_fitted()
        arrays = {}
        for k, network in enumerate(self.networks_):
            arrays.update(with_prefix(network.state_dict(), f"model{k}"))
        meta = {
            "task": "forecast",
            "config": self.get_params(),
            "columns": self.columns_,
            "freq": self.freq_,
            "season": self.season_,
            "seasonal_lag": self.seasonal_lag_,
            "scaler": self.scaler_.to_json(),
            "transforms": self._transforms_json(),
            "tail": self.tail_.tolist(),
            "train_end_time": str(self.train_end_time_),
            "n_train": self.n_train_,
            "interval": self.interval_.tolist(),
            "interval_windows": self.interval_windows_,
            "train_seconds": self.train_seconds_,
            "history": self.history_,
        }
        return save_checkpoint(folder, name, arrays, meta)

    def _transforms_json(self) -> list[dict[str, Any]]:
        transforms = [LogTransform().to_json()] if self.config.log else []
        if self.seasonal_lag_:
            transforms.append({"type": "SeasonalDifferencing", "lag": self.seasonal_lag_})
        if self.config.difference:
            transforms.append(Differencing(self.config.difference).to_json())
        return transforms

    @classmethod
    def load(cls, path: str | Path, name: str = "best") -> Forecaster:
        """Rebuild a fitted Forecaster from a run folder or checkpoint file written by `save`."""
        arrays, meta = load_checkpoint(path, name)
        if meta.get("task") != "forecast":
            raise RnnlabError(f"{path}: not a forecast checkpoint (task {meta.get('task')!r})")
        params = dict(meta["config"], covariates=tuple(meta["config"]["covariates"]))
        model = cls(ForecastConfig(**params), progress=False)
        c = model.config
        model.columns_, model.freq_, model.season_ = meta["columns"], meta["freq"], meta["season"]
        model.seasonal_lag_, model.scaler_ = meta["seasonal_lag"], scaler_from_json(meta["scaler"])
        model.tail_ = np.asarray(meta["tail"], dtype=np.float64)
        model.train_end_time_ = np.datetime64(meta["train_end_time"])
        model.n_train_, model.train_seconds_ = meta["n_train"], meta["train_seconds"]
        model.interval_, model.interval_windows_ = np.asarray(meta["interval"]), meta["interval_windows"]
        model.history_ = meta["history"]
        outputs = 1 if c.strategy in ("recursive", "direct") else c.horizon
        model.networks_ = []
        for k in range(c.horizon if c.strategy == "direct" else 1):
            network = ForecastNetwork(c.cell, len(model.columns_), c.hidden_size, c.num_layers, c.dropout, outputs)
            network.load_state_dict(split_prefix(arrays, f"model{k}"))
            model.networks_.append(network.eval())
        return model


def as_series(data: Series | np.ndarray) -> Series:
    """A Series as given, or one made from an array (T,) / (T, D) with columns y0, y1, ..."""
    if isinstance(data, Series):
        if not data.regular:
            raise RnnlabError("the series is not evenly spaced (rows were dropped); read it with "
                              "missing='interpolate' to keep a regular grid")
        return data
    if isinstance(data, np.ndarray | list | tuple):
        return from_array(np.asarray(data, dtype=np.float64))
    raise RnnlabError(f"expected a Series or a NumPy array of shape (T,) or (T, D), got {type(data).__name__}")


def _model_columns(series: Series, c: ForecastConfig) -> list[str]:
    """[target, *covariates], checked against the series' columns."""
    target = c.target or series.columns[0]
    for name in (target, *c.covariates):
        if name not in series.columns:
            raise RnnlabError(f"no column {name!r} in the data; its value columns are {series.columns}")
    if target in c.covariates:
        raise RnnlabError(f"column {target!r} is the target and cannot also be a covariate")
    return [target, *c.covariates]


def _select(series: Series, columns: list[str]) -> np.ndarray:
    """The named columns of a Series as (T, D) float64."""
    missing = [name for name in columns if name not in series.columns]
    if missing:
        raise RnnlabError(f"the data lacks the model's columns {missing}; it has {series.columns}")
    return series.values[:, [series.columns.index(name) for name in columns]]


def _resolve_season(c: ForecastConfig, series: Series, target: np.ndarray) -> int | None:
    """Given season, else the calendar's, else one inferred from the training target (or None)."""
    if c.season is not None or series.season is not None:
        return int(c.season or series.season)
    max_lag = min(60, (len(target) - 2) // 3)
    return infer_season(target, max_lag=max_lag) if max_lag >= 2 else None


def _resolve_seasonal_lag(c: ForecastConfig, series: Series, season: int | None, n: int) -> int:
    """The lag of seasonal differencing: 0 when off, or when "auto" finds no given or calendar season."""
    if c.seasonal_difference == "off":
        return 0
    known = c.season or series.season
    if c.seasonal_difference == "auto":
        return int(known) if known and n >= 3 * known + c.lookback + 2 * c.horizon else 0
    if season is None:
        raise RnnlabError("seasonal_difference='on' needs a season: pass --season, or use data with a "
                          "calendar frequency")
    return int(season)
