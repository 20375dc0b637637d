"""Seed 003: a 2-layer LSTM of 30 units reads 10 steps of a sine wave and predicts the next; test RMSE and plot.

The seed (TensorFlow) samples sin(t) every 0.01, trains on 10,000 windows and tests on the 1,000
that follow. Here the same network is a `Forecaster` with lookback 10 and horizon 1; the scaler
sees the training part only, and the naive forecast (repeat the last value) is printed beside it,
because at this sampling rate it is already very close.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rnnlab import checks
from rnnlab.argparsing import Parser, checked, output_file

MIN_TRAIN = 5  # windows: with a 20% validation split, the fewest the Forecaster trains on
MAX_EXAMPLES = 10**6  # training or test windows: more is a typing slip, not this demo


def main(argv: list[str] | None = None) -> None:
    parser = Parser(prog="rnnlab demo sine", description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=checked(int, checks.int_in(MIN_TRAIN, MAX_EXAMPLES)), default=10_000,
                        help="training examples (default 10000, as the seed)")
    parser.add_argument("--test", type=checked(int, checks.int_in(1, MAX_EXAMPLES)), default=1_000,
                        help="test examples (default 1000)")
    parser.add_argument("--gap", type=checked(float, checks.positive), default=0.01,
                        help="sampling interval in radians (default 0.01)")
    parser.add_argument("--max-steps", type=checked(int, checks.steps), default=1500,
                        help="training steps (default 1500)")
    parser.add_argument("--plot", type=output_file, metavar="FILE.png", help="write the test predictions as a PNG here "
                        "(default: no image)")
    parser.add_argument("--seed", type=checked(int, checks.seed), default=0, help="random seed (default 0)")
    args = parser.parse_args(argv)

    from rnnlab.metrics.forecast import rmse
    from rnnlab.tasks.forecast import Forecaster

    lookback = 10
    series = np.sin(args.gap * np.arange(args.train + args.test + 2 * lookback))  # unit amplitude
    train_end = args.train + lookback
    model = Forecaster(lookback=lookback, horizon=1, cell="lstm", hidden_size=30, num_layers=2, lr=3e-3,
                       batch_size=32, max_steps=args.max_steps, eval_every=50, seed=args.seed)
    print(model.config)
    model.fit(series, train_end=train_end)
    report = model.report(series, test_start=train_end + lookback)
    predictions, actual = report.forecasts["rnn"][:, 0], report.actual[:, 0]
    print(f"training: {model.train_seconds_:.1f} s, best step {model.best_step_[0]}")
    print(f"test RMSE over {len(actual)} points: LSTM {rmse(actual, predictions):.5f}, "
          f"naive (last value) {rmse(actual, report.forecasts['naive'][:, 0]):.5f}")
    if args.plot:
        print(f"wrote {_plot(args.plot, actual, predictions)}")


def _plot(path: Path, actual: np.ndarray, predictions: np.ndarray) -> Path:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from rnnlab.diagnostics.plots import save_png

    figure = Figure(figsize=(8, 4), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.plot(actual, label="real_sin", color="black")
    axes.plot(predictions, label="predictions (LSTM, one step ahead)", linestyle="--")
    axes.set_xlabel("test step")
    axes.legend()
    return save_png(figure, path)
