"""The forecaster's settings, and what they resolve to for a given series (columns, season, seasonal lag).

Every field is a constructor keyword of `rnnlab.tasks.forecast.Forecaster` and a flag of
`rnnlab forecast train` / `backtest` (`hidden_size` -> `--hidden-size`), with this default, check
and help.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnnlab import checks
from rnnlab.baselines.forecast import infer_season
from rnnlab.config import (
    Check,
    Config,
    amp_option,
    boolean,
    device_option,
    engine_option,
    log_gradients_option,
    on_nan_option,
    open_fraction,
    option,
    positive,
    probability,
)
from rnnlab.data.scalers import IdentityScaler, MinMaxScaler, StandardScaler
from rnnlab.errors import RnnlabError, invalid_argument
from rnnlab.nn.models import CELLS

STRATEGIES = ("multi-output", "direct", "recursive")
SCALERS = {"standard": StandardScaler, "minmax": MinMaxScaler, "none": IdentityScaler}
season_length = checks.int_in(2, checks.MAX_LENGTH)
column_names = Check("a tuple of column names", lambda v: isinstance(v, tuple) and all(isinstance(n, str) for n in v))


@dataclass(frozen=True)
class ForecastConfig(Config):
    """Everything that defines a forecaster; printed at the start of a run and saved in its checkpoint.

    >>> ForecastConfig(horizon=6, covariates=["price"]).covariates
    ('price',)
    >>> ForecastConfig(horizon=0)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    rnnlab.errors.InvalidArgument: Received an invalid value for argument `horizon`, expected an integer in [1, ...
    """

    lookback: int = option(24, "input window in steps", check=checks.length)
    horizon: int = option(12, "steps to forecast", check=checks.length)
    strategy: str = option("multi-output", "multi-output: one network, H outputs; direct: one network per step "
                           "ahead; recursive: one step ahead, fed its own forecasts", choices=STRATEGIES)
    cell: str = option("lstm", "recurrent cell", choices=CELLS)
    hidden_size: int = option(32, "hidden units per layer", check=checks.units)
    num_layers: int = option(1, "recurrent layers", check=checks.layers)
    dropout: float = option(0.0, "dropout before the head (and between layers)", check=probability)
    scaler: str = option("standard", "scaling of every column, fitted on the training rows", choices=tuple(SCALERS))
    log: bool = option(False, "model log(1 + y) (multiplicative seasonality)", check=boolean)
    difference: int = option(0, "order of differencing of the target", choices=(0, 1, 2))
    seasonal_difference: str = option("auto", "difference the target at the season; auto: when the dates or "
                                      "--season give one, on: also at an inferred season",
                                      choices=("auto", "on", "off"))
    season: int | None = option(None, "observations per season (default: from the dates, else inferred from the "
                                "training rows)", check=season_length)
    target: str | None = option(None, "column to forecast (default: the first value column)")
    covariates: tuple[str, ...] = option((), "other columns fed to the network as inputs", check=column_names)
    lr: float = option(3e-3, "Adam learning rate", check=positive)
    batch_size: int = option(32, "windows per training step", check=checks.batch_size)
    max_steps: int = option(1500, "training steps of each network, for the whole run", check=checks.steps)
    minutes: float | None = option(None, "training time limit of each network in this call", check=positive)
    eval_every: int = option(25, "training steps between validation evaluations", check=checks.steps)
    patience: int | None = option(12, "evaluations without improvement before stopping", check=checks.steps)
    val_fraction: float = option(0.2, "share of the training rows, at their end, used for early stopping",
                                 check=open_fraction)
    clip_norm: float | None = option(1.0, "clip the gradient norm to this", check=positive)
    log_gradients: bool = log_gradients_option()
    on_nan: str = on_nan_option()
    engine: str = engine_option()
    device: str = device_option()
    amp: bool = amp_option()
    refit_full: bool = option(False, "after early stopping, retrain on every window (validation too) for the "
                              "best step count", check=boolean)
    interval: float = option(0.8, "coverage of the residual-quantile prediction interval", check=open_fraction)
    seed: int = option(0, "random seed", check=checks.seed)

    def __post_init__(self) -> None:
        if isinstance(self.covariates, list):  # as JSON and argparse give it
            object.__setattr__(self, "covariates", tuple(self.covariates))
        super().__post_init__()

    def check(self) -> None:
        inputs = 1 + len(self.covariates)  # the target and its covariates
        checks.require_weights("hidden_size", self.hidden_size,
                               checks.recurrent_weights(self.cell, inputs, self.hidden_size, self.num_layers))
        if self.strategy == "recursive" and self.covariates:
            raise invalid_argument("strategy", "'multi-output' or 'direct' when covariates are given (recursive "
                                   "feeds its forecasts back and cannot know future covariates)", self.strategy)

    # ---- resolved against a series ------------------------------------------------------------------------
    def model_columns(self, columns: list[str]) -> list[str]:
        """[target, *covariates] among a series' value columns (the target defaults to the first).

        >>> ForecastConfig(covariates=("price",)).model_columns(["sales", "price"])
        ['sales', 'price']
        """
        target = self.target or columns[0]
        for name in (target, *self.covariates):
            if name not in columns:
                raise RnnlabError(f"no column {name!r} in the data; its value columns are {columns}")
        if target in self.covariates:
            raise RnnlabError(f"column {target!r} is the target and cannot also be a covariate")
        return [target, *self.covariates]

    def resolve_season(self, calendar_season: int | None, target: np.ndarray) -> int | None:
        """`season` if given, else the calendar's, else one inferred from the training target (T,), or None."""
        if self.season is not None or calendar_season is not None:
            return int(self.season or calendar_season)
        max_lag = min(60, (len(target) - 2) // 3)
        return infer_season(target, max_lag=max_lag) if max_lag >= 2 else None

    def seasonal_lag(self, calendar_season: int | None, season: int | None, rows: int) -> int:
        """The lag of seasonal differencing for `rows` training rows: 0 when off, or when "auto" knows no season.

        >>> ForecastConfig().seasonal_lag(calendar_season=12, season=12, rows=120)
        12
        """
        if self.seasonal_difference == "off":
            return 0
        known = self.season or calendar_season
        if self.seasonal_difference == "auto":
            return int(known) if known and rows >= 3 * known + self.lookback + 2 * self.horizon else 0
        if season is None:
            raise RnnlabError("seasonal_difference='on' needs a season: pass season (--season), or use data with a "
                              "calendar frequency")
        return int(season)
