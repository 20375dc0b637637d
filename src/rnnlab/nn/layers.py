"""Feed-forward layers around the recurrent ones: Linear, Embedding, Dropout."""

from __future__ import annotations

import numpy as np

from rnnlab.errors import RnnlabError, invalid_argument
from rnnlab.nn.functional import add_rows, fused
from rnnlab.nn.module import Module, Parameter, reserve
from rnnlab.nn.parallel import WORTH, matmul, run_all


def _generator(seed: int | np.random.Generator | None) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


class Linear(Module):
    """y = x W^T + b, applied to the last axis; PyTorch's init U(-1/sqrt(in), 1/sqrt(in)).

    >>> layer = Linear(4, 3, seed=0)
    >>> layer(np.ones((2, 5, 4), np.float32)).shape
    (2, 5, 3)
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, dtype: type = np.float32,
                 seed: int | np.random.Generator | None = None) -> None:
        super().__init__()
        if in_features <= 0 or out_features <= 0:
            raise RnnlabError(f"Linear expects positive sizes, got {in_features} -> {out_features}")
        rng, bound = _generator(seed), 1 / np.sqrt(in_features)
        self.in_features, self.out_features = in_features, out_features
        self.weight = Parameter(rng.uniform(-bound, bound, reserve((out_features, in_features))).astype(dtype))
        self.bias = Parameter(rng.uniform(-bound, bound, reserve((out_features,))).astype(dtype)) if bias else None
        self._x = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        """x: (..., in_features) -> (..., out_features)."""
        self._x = x
        y = matmul(x.reshape(-1, self.in_features), self.weight.data.T)  # (N, out): one product, not one per row
        if self.bias is not None:
            y += self.bias.data
        return y.reshape(*x.shape[:-1], self.out_features)

    def backward(self, d_y: np.ndarray) -> np.ndarray:
        """d_y: (..., out_features) -> d_x (..., in_features); adds to weight.grad and bias.grad."""
        x2 = self._x.reshape(-1, self.in_features)  # (N, in)
        d_y2 = d_y.reshape(-1, self.out_features)  # (N, out)
        d_x = np.empty(x2.shape, np.result_type(d_y2, self.weight.data))  # (N, in)

        def weight_grad() -> None:
            self.weight.grad += matmul(d_y2.T, x2)  # (out, in)

        def input_grad() -> None:
            matmul(d_y2, self.weight.data, out=d_x)

        # independent products, each N * out * in multiply-adds: side by side when worth a thread, each whole
        run_all(lambda product: product(), [weight_grad, input_grad], together=d_y2.size * self.in_features >= WORTH)
        if self.bias is not None:
            self.bias.grad += d_y2.sum(axis=0)
        return d_x.reshape(self._x.shape)


class Embedding(Module):
    """A lookup table: ids (...) -> vectors (..., embedding_dim); PyTorch's init N(0, 1).

    The row at `padding_idx` starts at zero and gets no gradient, as in PyTorch.

    >>> emb = Embedding(10, 3, seed=0)
    >>> emb(np.array([[1, 2], [3, 4]])).shape
    (2, 2, 3)
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None,
                 dtype: type = np.float32, seed: int | np.random.Generator | None = None) -> None:
        super().__init__()
        if num_embeddings <= 0 or embedding_dim <= 0:
            raise RnnlabError(f"Embedding expects positive sizes, got {num_embeddings} x {embedding_dim}")
        self.num_embeddings, self.embedding_dim, self.padding_idx = num_embeddings, embedding_dim, padding_idx
        shape = reserve((num_embeddings, embedding_dim))
        self.weight = Parameter(_generator(seed).standard_normal(shape).astype(dtype))
        if padding_idx is not None:
            self.weight.data[padding_idx] = 0
        self._ids = None

    def forward(self, ids: np.ndarray) -> np.ndarray:
        ids = np.asarray(ids)
        if ids.size and (ids.min() < 0 or ids.max() >= self.num_embeddings):
            raise RnnlabError(f"Embedding ids must lie in [0, {self.num_embeddings}), got {ids.min()}..{ids.max()}")
        self._ids = ids
        return self.weight.data[ids]

    def backward(self, d_out: np.ndarray) -> None:
        """d_out: (..., embedding_dim); adds each id's rows into weight.grad (ids are not differentiable)."""
        d_out = np.ascontiguousarray(d_out, dtype=self.weight.grad.dtype).reshape(-1, self.embedding_dim)
        fused(add_rows, d_out.dtype)(self.weight.grad, self._ids.ravel(), d_out)
        if self.padding_idx is not None:
            self.weight.grad[self.padding_idx] = 0


class Dropout(Module):
    """Zero each element with probability p while training, scaling the rest by 1 / (1 - p)."""

    def __init__(self, p: float = 0.5, seed: int | np.random.Generator | None = None) -> None:
        super().__init__()
        if not 0 <= p < 1:
            raise invalid_argument("p", "a number in [0, 1)", p)
        self.p, self.generator, self._scale = p, _generator(seed), None

    def forward(self, x: np.ndarray) -> np.ndarray:
        if not self.training or self.p == 0:
            self._scale = None
            return x
        keep = self.generator.random(x.shape) >= self.p
        self._scale = keep.astype(x.dtype) / x.dtype.type(1 - self.p)
        return x * self._scale

    def backward(self, d_out: np.ndarray) -> np.ndarray:
        return d_out if self._scale is None else d_out * self._scale
