"""Seed 003: an RNN of 16 units learns a 3-D flight track and extends it autoregressively; writes a 3-D plot.

The seed's track: 30 points with x from 1 to 10, y = 2 + noise(0.1), z = 2. As in the seed, the
network reads 15 consecutive points and, at every step, predicts the point 5 steps later. The
extension reads the last 10 known points, keeps the 5 new ones it predicts, appends them to what
it knows and repeats (4 rounds: 20 new points), so later rounds read its own predictions.
Unlike the seed, it models the steps between points (first differences, scaled on the training
points), which is what lets a tanh RNN continue a straight line past the training range.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rnnlab import checks
from rnnlab.argparsing import Parser, checked, output_file

SHIFT, WINDOW = 5, 15
MAX_ROUNDS = 10_000  # 50,000 new points; more is a typing slip


def main(argv: list[str] | None = None) -> None:
    parser = Parser(prog="rnnlab demo trajectory", description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=checked(int, checks.steps), default=3000,
                        help="training steps (default 3000, as the seed)")
    parser.add_argument("--rounds", type=checked(int, checks.int_in(1, MAX_ROUNDS)), default=4,
                        help="extension rounds of 5 points each (default 4)")
    parser.add_argument("--plot", type=output_file, metavar="FILE.png", help="write the 3-D plot as a PNG here "
                        "(default: no image)")
    parser.add_argument("--seed", type=checked(int, checks.seed), default=0, help="random seed (default 0)")
    args = parser.parse_args(argv)

    from rnnlab.data.scalers import StandardScaler
    from rnnlab.data.transforms import Differencing
    from rnnlab.nn import Linear, Module, MSELoss
    from rnnlab.nn.models import build_recurrent
    from rnnlab.optim import Adam
    from rnnlab.train import LoopConfig, train_loop

    rng = np.random.default_rng(args.seed)
    x = np.linspace(1, 10, 30)
    track = np.column_stack([x, 2 + rng.random(30) * 0.1, np.full(30, 2.0)])  # (30, 3)
    steps = Differencing(1).transform(track)  # (29, 3) movement between points
    scaler = StandardScaler().fit(steps)
    scaled = scaler.transform(steps).astype(np.float32)

    class Net(Module):
        def __init__(self) -> None:
            super().__init__()
            self.rnn = build_recurrent("rnn", 3, 16, batch_first=True, seed=args.seed)
            self.linear = Linear(16, 3, seed=args.seed)

        def forward(self, inputs: np.ndarray) -> np.ndarray:  # (B, T, 3) -> (B, T, 3)
            return self.linear(self.rnn(inputs)[0])

        def backward(self, d_out: np.ndarray) -> None:
            self.rnn.backward(self.linear.backward(d_out), input_grad=False)

    starts = np.arange(len(scaled) - WINDOW - SHIFT + 1)  # every window with a target 5 steps on
    inputs = np.stack([scaled[s: s + WINDOW] for s in starts])  # (N, 15, 3)
    targets = np.stack([scaled[s + SHIFT: s + SHIFT + WINDOW] for s in starts])  # (N, 15, 3)
    net, loss_fn = Net(), MSELoss()
    optimizer = Adam(net.parameters(), lr=0.01)

    def step_fn() -> tuple[float, int]:
        loss = loss_fn(net(inputs), targets)
        net.backward(loss_fn.backward())
        return loss, inputs.size

    def evaluate() -> dict[str, float]:
        net.eval()
        return {"train_mse": MSELoss()(net(inputs), targets)}

    state = train_loop(net, optimizer, step_fn, evaluate, LoopConfig(max_steps=args.steps, eval_every=100,
                                                                      monitor="train_mse"), progress=None)
    net.eval()
    known = scaled  # (29, 3) observed steps, then predicted ones appended
    for _ in range(args.rounds):  # outputs at the last 5 positions are the 5 steps after the known ones
        known = np.concatenate([known, net(known[None, -10:])[0, -SHIFT:]])
    print(f"trained {state.step} steps in {state.seconds:.1f} s; final training MSE (scaled) "
          f"{state.history[-1]['train_mse']:.5f}")
    new_steps = scaler.inverse_transform(known[len(scaled):].astype(np.float64))  # (5 * rounds, 3)
    extension = track[-1] + np.cumsum(new_steps, axis=0)  # points after the last observed one
    print("extension (x, y, z):")
    for point in extension:
        print(f"  {point[0]:7.3f} {point[1]:7.3f} {point[2]:7.3f}")
    if args.plot:
        print(f"wrote {_plot(args.plot, track, extension)}")


def _plot(path: Path, track: np.ndarray, extension: np.ndarray) -> Path:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from mpl_toolkits.mplot3d import Axes3D  # noqa: F401  (registers the 3d projection)

    from rnnlab.diagnostics.plots import save_png

    figure = Figure(figsize=(8, 6), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot(projection="3d")
    axes.scatter(track[:, 0], track[:, 1], track[:, 2], c="red", label="observed track")
    axes.scatter(extension[:, 0], extension[:, 1], extension[:, 2], c="orange", label="RNN extension")
    axes.set_xlabel("X")
    axes.set_ylabel("Y")
    axes.set_zlabel("Z")
    axes.set_zlim(0, 4)  # the seed's limits; an autoscaled z axis would magnify a 0.01 drift
    axes.set_title("RNN trajectory extension")
    axes.legend()
    return save_png(figure, path)
