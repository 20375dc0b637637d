"""min-char-rnn (Andrej Karpathy, BSD License), rebuilt on the rnnlab engine.

The seed's model and training, step for step: one-hot characters in, a tanh RNN of 100
units, a linear read-out, softmax cross-entropy summed over 25 steps, every gradient
clipped to [-5, 5], Adagrad with learning rate 0.1, the hidden state carried from one
chunk of text to the next, and 200 sampled characters every 100 steps. The weights start
as the seed's do (N(0, 0.01^2), biases zero, drawn in the seed's order from
`np.random.seed(seed)`), and the seed has a single hidden bias, so `bias_hh_l0` stays zero
(it is left out of the optimizer).

It trains in float32, the engine's default; `--float64` computes in the seed's precision, and then
the first updates agree with the seed's script to rounding.

usage: python examples/min_char_rnn.py DATA.txt [--iters 2000] [--seed 0] [--sample-every 100] [--float64]
"""

import argparse
import json
import time

import numpy as np

from rnnlab.nn import RNN, CrossEntropyLoss, Linear, softmax
from rnnlab.optim import Adagrad, clip_grad_value_

parser = argparse.ArgumentParser()
parser.add_argument("data")
parser.add_argument("--iters", type=int, default=2000)
parser.add_argument("--seed", type=int, default=0)
parser.add_argument("--sample-every", type=int, default=100, help="0 turns sampling off")
parser.add_argument("--float64", action="store_true", help="compute in float64, as the seed does")
args = parser.parse_args()

data = open(args.data, encoding="utf-8").read()
chars = sorted(set(data))
vocab_size, hidden_size, seq_length = len(chars), 100, 25
char_to_ix = {ch: i for i, ch in enumerate(chars)}
ids = np.array([char_to_ix[ch] for ch in data])  # the text as character ids, once (the seed looks them up every step)
dtype = np.float64 if args.float64 else np.float32

# The model: x (one-hot) -> RNN -> Linear, with the seed's initialisation.
rnn = RNN(vocab_size, hidden_size, dtype=dtype)
head = Linear(hidden_size, vocab_size, dtype=dtype)
np.random.seed(args.seed)
rnn.load_state_dict({
    "weight_ih_l0": np.random.randn(hidden_size, vocab_size) * 0.01,  # the seed's Wxh
    "weight_hh_l0": np.random.randn(hidden_size, hidden_size) * 0.01,  # Whh
    "bias_ih_l0": np.zeros(hidden_size),  # bh
    "bias_hh_l0": np.zeros(hidden_size),  # not in the seed: kept at zero
})
head.load_state_dict({"weight": np.random.randn(vocab_size, hidden_size) * 0.01, "bias": np.zeros(vocab_size)})
params = [rnn.weight_ih_l0, rnn.weight_hh_l0, rnn.bias_ih_l0, head.weight, head.bias]
# The seed updates param -= lr * g / sqrt(sum g^2 + 1e-8): PyTorch's Adagrad rule with the 1e-8
# as the initial accumulator and no eps.
optimizer = Adagrad(params, lr=0.1, initial_accumulator_value=1e-8, eps=0.0)
loss_fn = CrossEntropyLoss(reduction="sum")
one_hot = np.eye(vocab_size, dtype=dtype)


def sample(h: np.ndarray, seed_ix: int, n: int) -> str:
    """n characters drawn one at a time, starting from state h (1, 1, H) and character seed_ix."""
    ix, out = seed_ix, []
    for _ in range(n):
        output, h = rnn(one_hot[[ix]][:, None], h)  # (1, 1, H)
        p = softmax(head(output[0, 0]))
        ix = np.random.choice(vocab_size, p=p)
        out.append(chars[ix])
    return "".join(out)


# The engine's compiled time loops load (or compile, the first time) on first use: before the clock starts.
rnn.backward(rnn(np.zeros((seq_length, 1, vocab_size), dtype))[0])

n, p = 0, 0
smooth_loss = -np.log(1.0 / vocab_size) * seq_length
start = time.perf_counter()
while n < args.iters:
    if p + seq_length + 1 >= len(data) or n == 0:
        h_prev, p = np.zeros((1, 1, hidden_size), dtype), 0  # back to the start of the text
    inputs, targets = ids[p : p + seq_length], ids[p + 1 : p + seq_length + 1]
    if args.sample_every and n % args.sample_every == 0:
        print(f"----\n {sample(h_prev, inputs[0], 200)} \n----")

    optimizer.zero_grad()
    output, h_next = rnn(one_hot[inputs][:, None], h_prev)  # (T, 1, H); the state carries on
    loss = loss_fn(head(output[:, 0]), targets)
    rnn.backward(head.backward(loss_fn.backward())[:, None], input_grad=False)  # BPTT; one-hot x needs no d_x
    clip_grad_value_(params, 5.0)
    optimizer.step()

    smooth_loss = smooth_loss * 0.999 + loss * 0.001
    if args.sample_every and n % args.sample_every == 0:
        print(f"iter {n}, loss: {smooth_loss:f}")
    h_prev, p, n = h_next, p + seq_length, n + 1

seconds = time.perf_counter() - start
print(json.dumps({"iters": n, "seconds": round(seconds, 3), "chars_per_s": round(n * seq_length / seconds, 1),
                  "smooth_loss": round(float(smooth_loss), 4),
                  "smooth_loss_per_char": round(float(smooth_loss) / seq_length, 4)}))
