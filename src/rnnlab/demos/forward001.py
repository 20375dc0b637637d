"""Seed 001's worked example: a one-layer RNN on X = [1, 2], by hand and by the engine.

The note computes, with the state as a row vector,

    state_t = tanh(state_{t-1} @ w_cell_state + x_t * w_cell_input + b_cell)
    output_t = state_t @ w_output + b_output

In PyTorch's convention (weights act on column vectors) that is an `RNN(1, 2)` with
weight_hh = w_cell_state^T, weight_ih = w_cell_input as a column, bias_ih = b_cell,
bias_hh = 0, followed by a `Linear(2, 1)` with weight w_output^T and bias b_output.
"""

import numpy as np

from rnnlab.argparsing import Parser
from rnnlab.nn import RNN, Linear

X = np.array([[1.0], [2.0]])  # (T=2, I=1), unbatched
W_CELL_STATE = np.array([[0.1, 0.2], [0.3, 0.4]])
W_CELL_INPUT = np.array([0.5, 0.6])
B_CELL = np.array([0.1, -0.1])
W_OUTPUT = np.array([[1.0], [2.0]])
B_OUTPUT = 0.1


def build() -> tuple[RNN, Linear]:
    rnn = RNN(1, 2, dtype=np.float64)
    rnn.load_state_dict({
        "weight_ih_l0": W_CELL_INPUT.reshape(2, 1),
        "weight_hh_l0": W_CELL_STATE.T,
        "bias_ih_l0": B_CELL,
        "bias_hh_l0": np.zeros(2),
    })
    head = Linear(2, 1, dtype=np.float64)
    head.load_state_dict({"weight": W_OUTPUT.T, "bias": np.array([B_OUTPUT])})
    return rnn, head


def run() -> tuple[np.ndarray, np.ndarray]:
    """States (2, 2) and outputs (2,) of the note's network."""
    rnn, head = build()
    states, _ = rnn(X)  # (T, H)
    return states, head(states)[:, 0]


def main(argv: list[str] | None = None) -> None:
    Parser(prog="rnnlab demo forward001", description=__doc__.splitlines()[0]).parse_args(argv)  # no options
    states, outputs = run()
    print("Seed 001: RNN(1, 2) + Linear(2, 1) on X = [1, 2]")
    for t, (state, output) in enumerate(zip(states, outputs, strict=True)):
        print(f"t={t}  x={X[t, 0]:.0f}  state {np.array2string(state, precision=8)}  output {output:.8f}")
