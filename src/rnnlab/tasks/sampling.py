"""The next token from a model's logits, as text generators draw it: temperature, top-k, top-p (nucleus), argmax."""

from __future__ import annotations

import numpy as np

from rnnlab.nn import softmax


def choose(logits: np.ndarray, rng: np.random.Generator, temperature: float = 1.0, top_k: int | None = None,
           top_p: float | None = None, argmax: bool = False) -> np.ndarray:
    """A token id for each row of the logits (N, V): (N,) ids, one uniform number drawn per row.

    temperature divides the logits; top_k keeps the k likeliest tokens; top_p the smallest set whose
    probability reaches p; argmax takes the likeliest (and draws nothing). The draw is
    `Generator.choice`'s: the first id whose cumulative probability exceeds the uniform number, so one
    row draws what `rng.choice(V, p=p)` would.
    """
    if argmax:
        return logits.argmax(axis=1)
    p = softmax(logits.astype(np.float64) / temperature)  # (N, V)
    V = p.shape[1]
    if top_k is not None and top_k < V:
        np.put_along_axis(p, np.argsort(p, axis=1)[:, : V - top_k], 0, axis=1)
    if top_p is not None:
        order = np.argsort(p, axis=1)[:, ::-1]  # likeliest first
        ordered = np.take_along_axis(p, order, axis=1)
        keep = np.cumsum(ordered, axis=1) - ordered < top_p  # the smallest prefix reaching top_p
        np.put_along_axis(p, order, np.where(keep, ordered, 0), axis=1)
    cdf = np.cumsum(p / p.sum(axis=1, keepdims=True), axis=1)
    cdf /= cdf[:, -1:]
    return (cdf <= rng.random(len(p))[:, None]).sum(axis=1)  # searchsorted(cdf, u, side="right") per row
