"""Why tanh: tanh, sigmoid and ReLU as the recurrent activation, gradient flow and training loss.

Three Elman RNNs that differ only in the activation f,

    h_t = f(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh),    f = tanh, sigmoid or relu,

start from the same weights (PyTorch's U(-1/sqrt(H), 1/sqrt(H)), drawn once) and learn the
same task: echo at every step the symbol seen `lag` steps earlier (one-hot symbols, softmax
cross-entropy over the steps t >= lag). tanh and relu are the engine's `RNN`; the engine has no
sigmoid RNN, so `SigmoidRNN` below is a small one written here, forward and backward side by
side, with the derivatives

    tanh'(a) = 1 - h^2 <= 1,    sigmoid'(a) = h (1 - h) <= 1/4,    relu'(a) = [h > 0].

Gradient flow: with the loss on the last step only, ||dLoss/dx_{T-1-k}|| against the distance k
at initialisation (as `vanishing` measures it). Each step back multiplies the gradient by
W_hh^T diag(f'(a_t)), so the activation's derivative sets how fast it shrinks.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from rnnlab.experiments.result import Result, new_figure
from rnnlab.nn import RNN, CrossEntropyLoss, Linear, Module, Parameter
from rnnlab.optim import Adam, clip_grad_norm_

ACTIVATIONS = ("tanh", "sigmoid", "relu")
DERIVATIVE = {  # f'(a) from the output h = f(a)
    "tanh": lambda h: 1 - h * h,
    "sigmoid": lambda h: h * (1 - h),
    "relu": lambda h: (h > 0).astype(h.dtype),
}


@dataclass(frozen=True)
class Setup:
    seq_len: int = 40
    hidden_size: int = 64
    symbols: int = 8
    lag: int = 4  # the answer at step t is the symbol of step t - lag
    batch_size: int = 32
    train_steps: int = 500
    lr: float = 3e-3
    max_grad_norm: float = 1.0
    distance: int = 20  # the distance the verdict compares gradients at


QUICK = Setup(seq_len=12, hidden_size=8, batch_size=8, train_steps=3, distance=8)


def sigmoid(a: np.ndarray) -> np.ndarray:
    return 0.5 * (1 + np.tanh(0.5 * a))  # = 1 / (1 + exp(-a)), without overflow for large |a|


def sigmoid_rnn_forward(x, h0, W_ih, W_hh, b):
    """h_t = sigmoid(W_ih x_t + W_hh h_{t-1} + b) for t = 0..T-1.

    x: (T, B, I). h0: (B, H). W_ih: (H, I). W_hh: (H, H). b: (H,) = b_ih + b_hh.
    Returns states (T+1, B, H) (states[0] = h0, outputs states[1:]) and the cache for the backward.
    """
    T, B, _ = x.shape
    x_proj = (x.reshape(T * B, -1) @ W_ih.T + b).reshape(T, B, -1)  # (T, B, H) all steps, one product
    states = np.empty((T + 1, *h0.shape), x.dtype)  # (T+1, B, H)
    states[0] = h0
    for t in range(T):
        states[t + 1] = sigmoid(x_proj[t] + states[t] @ W_hh.T)  # (B, H)
    return states, (x, states, W_ih, W_hh)


def sigmoid_rnn_backward(d_out, d_h_n, cache):
    """Backpropagation through time for `sigmoid_rnn_forward`.

    d_out: (T, B, H) gradient of the outputs states[1:]. d_h_n: (B, H) gradient of the last state.
    Returns d_x (T, B, I), d_h0 (B, H), d_W_ih (H, I), d_W_hh (H, H), d_b (H,).
    """
    x, states, W_ih, W_hh = cache
    T, B, H = d_out.shape
    slope = DERIVATIVE["sigmoid"](states[1:])  # (T, B, H) sigmoid'(a_t) = h_t (1 - h_t), at most 1/4
    d_pre = np.empty_like(d_out)  # (T, B, H) gradient of the pre-activations
    dh = d_h_n.copy()  # (B, H) gradient reaching h_t from step t+1
    for t in reversed(range(T)):
        d_pre[t] = (dh + d_out[t]) * slope[t]
        dh = d_pre[t] @ W_hh  # (B, H) to h_{t-1}
    d_pre2 = d_pre.reshape(T * B, H)
    d_W_hh = d_pre2.T @ states[:-1].reshape(T * B, H)  # (H, H)
    d_W_ih = d_pre2.T @ x.reshape(T * B, -1)  # (H, I)
    d_x = (d_pre2 @ W_ih).reshape(x.shape)  # (T, B, I)
    return d_x, dh, d_W_ih, d_W_hh, d_pre2.sum(axis=0)


class SigmoidRNN(Module):
    """A one-layer Elman RNN with sigmoid activation, named and shaped like `RNN`'s layer 0.

    >>> layer = SigmoidRNN(RNN(3, 5, seed=0))
    >>> output, h_n = layer(np.zeros((7, 2, 3), np.float32))
    >>> output.shape, h_n.shape
    ((7, 2, 5), (1, 2, 5))
    """

    def __init__(self, weights_from: RNN) -> None:
        super().__init__()
        for name in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"):
            setattr(self, name, Parameter(getattr(weights_from, name).data.copy()))
        self.hidden_size = weights_from.hidden_size
        self._cache = None

    def forward(self, x: np.ndarray):
        """x (T, B, I) -> output (T, B, H), h_n (1, B, H); h_0 = 0."""
        h0 = np.zeros((x.shape[1], self.hidden_size), x.dtype)
        b = self.bias_ih_l0.data + self.bias_hh_l0.data
        states, self._cache = sigmoid_rnn_forward(x, h0, self.weight_ih_l0.data, self.weight_hh_l0.data, b)
        return states[1:], states[-1][None]

    def backward(self, d_output: np.ndarray, d_h_n: np.ndarray | None = None) -> np.ndarray:
        """d_output (T, B, H), d_h_n (1, B, H) or None -> d_x (T, B, I); adds the parameter gradients."""
        d_last = np.zeros_like(d_output[0]) if d_h_n is None else d_h_n[0]
        d_x, _, d_W_ih, d_W_hh, d_b = sigmoid_rnn_backward(d_output, d_last, self._cache)
        self.weight_ih_l0.grad += d_W_ih
        self.weight_hh_l0.grad += d_W_hh
        self.bias_ih_l0.grad += d_b  # both biases act the same way
        self.bias_hh_l0.grad += d_b
        return d_x


def build(activation: str, setup: Setup, seed: int):
    """The recurrent layer and the read-out Linear(H, symbols): the same weights for every activation."""
    rng = np.random.default_rng(seed)
    nonlinearity = "relu" if activation == "relu" else "tanh"
    layer = RNN(setup.symbols, setup.hidden_size, nonlinearity=nonlinearity, seed=rng)
    head = Linear(setup.hidden_size, setup.symbols, seed=rng)
    return (SigmoidRNN(layer) if activation == "sigmoid" else layer), head


def echo_batch(rng: np.random.Generator, setup: Setup) -> tuple[np.ndarray, np.ndarray]:
    """x (T, B, symbols) one-hot random symbols; target (T, B) the symbol `lag` steps earlier (-100 before)."""
    ids = rng.integers(0, setup.symbols, (setup.seq_len, setup.batch_size))  # (T, B)
    target = np.full_like(ids, -100)  # CrossEntropyLoss's ignore_index
    target[setup.lag:] = ids[:-setup.lag]
    return np.eye(setup.symbols, dtype=np.float32)[ids], target


def gradient_by_distance(layer, head, x, target) -> np.ndarray:
    """(T,) ||dLoss/dx_{T-1-k}||, k = 0..T-1, mean over the batch, for the loss on the last step (summed)."""
    layer.zero_grad()
    head.zero_grad()
    loss = CrossEntropyLoss(reduction="sum")
    output, _ = layer.forward(x)
    loss(head.forward(output[-1]), target[-1])
    d_output = np.zeros_like(output)
    d_output[-1] = head.backward(loss.backward())
    d_x = layer.backward(d_output)  # (T, B, symbols)
    return np.linalg.norm(d_x.astype(np.float64), axis=2).mean(axis=1)[::-1]


def train(layer, head, setup: Setup, seed: int) -> list[float]:
    """Adam on the echo task, gradients clipped to norm `max_grad_norm`; the loss of every step."""
    params = layer.parameters() + head.parameters()
    optimizer, loss, data = Adam(params, lr=setup.lr), CrossEntropyLoss(), np.random.default_rng(seed)
    losses = []
    for _ in range(setup.train_steps):
        x, target = echo_batch(data, setup)
        optimizer.zero_grad()
        output, _ = layer.forward(x)
        losses.append(loss(head.forward(output), target))
        layer.backward(head.backward(loss.backward()))
        clip_grad_norm_(params, setup.max_grad_norm)
        optimizer.step()
    return losses


def accuracy(layer, head, x, target) -> float:
    output, _ = layer.forward(x)
    counted = target != -100
    return float((head.forward(output).argmax(axis=2) == target)[counted].mean())


def run(quick: bool = False, seed: int = 0) -> Result:
    setup = QUICK if quick else Setup()
    probe = echo_batch(np.random.default_rng(seed + 1), setup)  # the same probe batch for every activation
    flow, losses, probe_accuracy, mean_state, mean_slope = {}, {}, {}, {}, {}
    for activation in ACTIVATIONS:
        layer, head = build(activation, setup, seed)
        flow[activation] = gradient_by_distance(layer, head, *probe)
        states = layer.forward(probe[0])[0]  # (T, B, H)
        mean_state[activation] = float(states.mean())
        mean_slope[activation] = float(DERIVATIVE[activation](states.astype(np.float64)).mean())
        losses[activation] = train(layer, head, setup, seed + 2)
        probe_accuracy[activation] = accuracy(layer, head, *probe)
    k = min(setup.distance, setup.seq_len - 1)
    tail = max(1, setup.train_steps // 10)
    final = {a: float(np.mean(losses[a][-tail:])) for a in ACTIVATIONS}
    figures = {
        "setup": {**asdict(setup), "seed": seed, "activations": list(ACTIVATIONS)},
        "distance": k,
        "grad_norm_at": {a: flow[a].tolist() for a in ACTIVATIONS},
        "relative_grad_norm_at_distance": {a: float(flow[a][k] / flow[a][0]) for a in ACTIVATIONS},
        "decay_per_step": {a: float((flow[a][k] / flow[a][0]) ** (1 / k)) for a in ACTIVATIONS},
        "mean_hidden_state_at_init": mean_state,
        "mean_derivative_at_init": mean_slope,
        "final_loss": final,  # mean of the last tenth of the training losses
        "final_loss_steps_averaged": tail,
        "accuracy_after_training": probe_accuracy,
        "chance_loss": float(np.log(setup.symbols)),
        "most_gradient_at_distance": max(ACTIVATIONS, key=lambda a: flow[a][k] / flow[a][0]),
        "lowest_final_loss": min(ACTIVATIONS, key=final.get),
        "loss": losses,
    }
    return Result("activation", figures, verdict(figures), {"gradient_and_loss.png": plot(figures)})


def verdict(figures: dict) -> str:
    k, relative, final = figures["distance"], figures["relative_grad_norm_at_distance"], figures["final_loss"]
    by_gradient = sorted(ACTIVATIONS, key=relative.get, reverse=True)
    by_loss = sorted(ACTIVATIONS, key=final.get)
    steps = figures["setup"]["train_steps"]
    return (f"At initialisation {by_gradient[0]} keeps the most gradient {k} steps back "
            f"({', '.join(f'{a} {relative[a]:.1e}' for a in by_gradient)} of the last step's); after {steps} steps "
            f"{by_loss[0]} reached the lowest loss ({', '.join(f'{a} {final[a]:.3f}' for a in by_loss)}; "
            f"chance {figures['chance_loss']:.3f}).")


def plot(figures: dict):
    figure, axes = new_figure(1, 2, width=12, height=4)
    colours = {"tanh": "tab:red", "sigmoid": "tab:purple", "relu": "tab:orange"}
    for activation in ACTIVATIONS:
        axes[0, 0].semilogy(figures["grad_norm_at"][activation], color=colours[activation], label=activation)
        axes[0, 1].plot(figures["loss"][activation], color=colours[activation], linewidth=0.7, label=activation)
    axes[0, 0].axvline(figures["distance"], color="grey", linewidth=0.8, linestyle="--")
    axes[0, 0].set(title="||dLoss/dx_(T-1-k)|| at initialisation", xlabel="distance k (steps back)",
                   ylabel="gradient norm")
    axes[0, 1].axhline(figures["chance_loss"], color="grey", linestyle="--", linewidth=0.8,
                       label="chance (log symbols)")
    lag = figures["setup"]["lag"]
    axes[0, 1].set(title=f"training loss (echo the symbol {lag} steps back)", xlabel="step", ylabel="cross-entropy")
    for ax in axes.ravel():
        ax.legend(fontsize=8)
    return figure
