"""Attention over a masked encoder memory: `AdditiveAttention` (Bahdanau) and `LuongAttention`.

One call is one decoder step: a query q (B, Q) scores every source step s of the memory (S, B, K),
time-major like the recurrent layers, and returns the context and the alignment weights:

    score_s = v^T tanh(W_q q + W_k k_s + b_k)     additive (Bahdanau et al. 2015)
    score_s = q^T W k_s                           Luong "general";  q^T k_s for "dot" (Q == K)
    weights = softmax over the real steps s (mask True) of score_s; exactly 0 at padded steps
    context = sum_s weights_s k_s                 (B, K)

A padded step gets weight 0 and gradient 0, so padding a source changes nothing. As with the cells
(`cells.py`), `forward` keeps its step on a stack in training mode and `backward(d_context, d_weights)`
takes the latest one off, adds the parameter gradients to `.grad` and returns (d_query, d_memory); a
decoder calls attention once per step and `backward` once per step in reverse, summing d_memory.
"""

from __future__ import annotations

import numpy as np

from rnnlab.checks import positive_int, require
from rnnlab.errors import RnnlabError, invalid_argument
from rnnlab.nn.layers import Linear
from rnnlab.nn.module import StepModule


class Attention(StepModule):
    """The shared part: argument checks, the masked softmax, the context and the stack. Use a subclass."""

    def __init__(self, query_size: int, key_size: int, dtype: type) -> None:
        super().__init__()
        require("query_size", query_size, positive_int)
        require("key_size", key_size, positive_int)
        if np.dtype(dtype) not in (np.float32, np.float64):
            raise invalid_argument("dtype", "float32 or float64", dtype)
        self.query_size, self.key_size, self.dtype = query_size, key_size, np.dtype(dtype)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.extra_repr()})"

    def _check(self, query, memory, mask) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        name = type(self).__name__
        copy = np.array if self.training else np.asarray  # training keeps them for backward: our own copies
        query, memory = copy(query, dtype=self.dtype), copy(memory, dtype=self.dtype)
        if query.ndim != 2 or query.shape[1] != self.query_size:
            raise RnnlabError(f"{name}: query must have shape (B, {self.query_size}), got {query.shape}")
        if memory.ndim != 3 or memory.shape[1:] != (len(query), self.key_size):
            raise RnnlabError(f"{name}: memory must have shape (S, {len(query)}, {self.key_size}) "
                              f"(time-major), got {memory.shape}")
        mask = np.ones(memory.shape[:2], bool) if mask is None else np.asarray(mask)
        if mask.dtype != bool or mask.shape != memory.shape[:2]:
            raise RnnlabError(f"{name}: mask must be a bool array of shape {memory.shape[:2]} (S, B), "
                              f"got {mask.dtype} {mask.shape}")
        empty = np.flatnonzero(~mask.any(axis=0))
        if len(empty):
            raise RnnlabError(f"{name}: batch row {empty[0]} has no real source step (its mask is all False)")
        return query, memory, mask

    def forward(self, query: np.ndarray, memory: np.ndarray,
                mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """query (B, Q), memory (S, B, K), mask (S, B) bool, True at real steps (None: all real).

        Returns (context (B, K), weights (B, S)); weights are exactly 0 where the mask is False.
        """
        query, memory, mask = self._check(query, memory, mask)
        scores, cache = self._scores(query, memory)  # (B, S)
        scores = np.where(mask.T, scores, -np.inf)
        weights = np.exp(scores - scores.max(axis=1, keepdims=True))  # (B, S), exp(-inf) = 0 at padding
        weights /= weights.sum(axis=1, keepdims=True)
        context = np.einsum("bs,sbk->bk", weights, memory)  # (B, K)
        self._keep((query, memory, weights, cache))
        return context, weights.copy()  # handed out: keep our own

    def backward(self, d_context: np.ndarray,
                 d_weights: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Backpropagate the latest kept step. d_context (B, K); d_weights (B, S) or None (zero).

        Adds to every `.grad`; returns (d_query (B, Q), d_memory (S, B, K)).
        """
        query, memory, weights, cache = self._latest()
        d_context = np.asarray(d_context, dtype=self.dtype)
        d_weights = np.zeros_like(weights) if d_weights is None else np.asarray(d_weights, dtype=self.dtype)
        if d_context.shape != (len(query), self.key_size) or d_weights.shape != weights.shape:
            raise RnnlabError(f"{type(self).__name__}.backward: gradients must have shapes "
                              f"{(len(query), self.key_size)} and {weights.shape}, "
                              f"got {d_context.shape} and {d_weights.shape}")
        self._drop()
        d_weights = d_weights + np.einsum("bk,sbk->bs", d_context, memory)  # (B, S)
        d_memory = np.einsum("bs,bk->sbk", weights, d_context)  # (S, B, K) through context
        # softmax: d score_s = w_s (d w_s - sum_r w_r d w_r); 0 at padding, where w_s = 0
        d_scores = weights * (d_weights - (weights * d_weights).sum(axis=1, keepdims=True))  # (B, S)
        d_query = self._scores_backward(d_scores, query, memory, cache, d_memory)
        return d_query, d_memory


class AdditiveAttention(Attention):
    """Bahdanau's score v^T tanh(W_q q + W_k k_s + b_k).

    Parameters, as `torch.nn.Linear` layers would hold them (PyTorch's init, U(-1/sqrt(in), 1/sqrt(in))):
    `query_proj.weight` (A, Q), `key_proj.weight` (A, K), `key_proj.bias` (A,), `v.weight` (1, A).

    >>> attention = AdditiveAttention(4, 6, 5, seed=0)
    >>> context, weights = attention(np.ones((2, 4)), np.ones((3, 2, 6)))
    >>> context.shape, weights.shape
    ((2, 6), (2, 3))
    """

    def __init__(self, query_size: int, key_size: int, attention_size: int, dtype: type = np.float32,
                 seed: int | np.random.Generator | None = None) -> None:
        super().__init__(query_size, key_size, dtype)
        require("attention_size", attention_size, positive_int)
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        self.attention_size = attention_size
        # Linear layers as parameter holders only: forward and backward below do their arithmetic
        self.query_proj = Linear(query_size, attention_size, bias=False, dtype=self.dtype, seed=rng)
        self.key_proj = Linear(key_size, attention_size, dtype=self.dtype, seed=rng)
        self.v = Linear(attention_size, 1, bias=False, dtype=self.dtype, seed=rng)

    def _scores(self, query: np.ndarray, memory: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        pre = memory @ self.key_proj.weight.data.T + self.key_proj.bias.data  # (S, B, A) W_k k_s + b_k
        pre += query @ self.query_proj.weight.data.T  # + W_q q, (B, A) broadcast over S
        hidden = np.tanh(pre)  # (S, B, A)
        return (hidden @ self.v.weight.data[0]).T, hidden  # scores (B, S)

    def _scores_backward(self, d_scores, query, memory, hidden, d_memory) -> np.ndarray:
        """d_scores (B, S) -> d_query (B, Q); adds to d_memory (S, B, K) in place and to every `.grad`."""
        S, B, A = hidden.shape
        self.v.weight.grad[0] += np.einsum("bs,sba->a", d_scores, hidden)
        d_pre = d_scores.T[:, :, None] * self.v.weight.data[0] * (1 - hidden * hidden)  # (S, B, A)
        d_pre_q = d_pre.sum(axis=0)  # (B, A): W_q q enters every step s
        self.query_proj.weight.grad += d_pre_q.T @ query  # (A, Q)
        self.key_proj.weight.grad += d_pre.reshape(S * B, A).T @ memory.reshape(S * B, -1)  # (A, K)
        self.key_proj.bias.grad += d_pre.sum(axis=(0, 1))
        d_memory += d_pre @ self.key_proj.weight.data  # (S, B, K)
        return d_pre_q @ self.query_proj.weight.data  # (B, Q)

    def extra_repr(self) -> str:
        return f"{self.query_size}, {self.key_size}, {self.attention_size}, dtype={self.dtype.name}"


class LuongAttention(Attention):
    """Luong's multiplicative score: "general" q^T W k_s, or "dot" q^T k_s (query_size == key_size).

    "general" has one parameter, `key_proj.weight` (Q, K), as `torch.nn.Linear(K, Q, bias=False)` holds it
    (init U(-1/sqrt(K), 1/sqrt(K))); "dot" has none.

    >>> attention = LuongAttention(4, 6, seed=0)
    >>> context, weights = attention(np.ones((2, 4)), np.ones((3, 2, 6)), np.array([[1, 1], [1, 0], [1, 0]], bool))
    >>> weights[1].tolist()
    [1.0, 0.0, 0.0]
    """

    def __init__(self, query_size: int, key_size: int, score: str = "general", dtype: type = np.float32,
                 seed: int | np.random.Generator | None = None) -> None:
        super().__init__(query_size, key_size, dtype)
        if score not in ("general", "dot"):
            raise invalid_argument("score", "'general' or 'dot'", score)
        if score == "dot" and query_size != key_size:
            raise RnnlabError(f"LuongAttention(score='dot') needs query_size == key_size, "
                              f"got {query_size} and {key_size}")
        self.score = score
        if score == "general":
            self.key_proj = Linear(key_size, query_size, bias=False, dtype=self.dtype, seed=seed)

    def _scores(self, query: np.ndarray, memory: np.ndarray) -> tuple[np.ndarray, None]:
        # q^T W k_s = (W^T q) . k_s: project the query once instead of every key
        projected = query @ self.key_proj.weight.data if self.score == "general" else query  # (B, K)
        return np.einsum("sbk,bk->bs", memory, projected), None  # (B, S)

    def _scores_backward(self, d_scores, query, memory, cache, d_memory) -> np.ndarray:
        """d_scores (B, S) -> d_query (B, Q); adds to d_memory (S, B, K) in place and to `.grad`."""
        d_projected = np.einsum("bs,sbk->bk", d_scores, memory)  # (B, K)
        if self.score == "dot":
            d_memory += np.einsum("bs,bk->sbk", d_scores, query)
            return d_projected
        W = self.key_proj.weight.data  # (Q, K)
        d_memory += np.einsum("bs,bk->sbk", d_scores, query @ W)
        self.key_proj.weight.grad += query.T @ d_projected  # (Q, K)
        return d_projected @ W.T  # (B, Q)

    def extra_repr(self) -> str:
        return f"{self.query_size}, {self.key_size}, score={self.score!r}, dtype={self.dtype.name}"
