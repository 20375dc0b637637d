"""Losses with their gradients: softmax cross-entropy and mean squared error."""

from __future__ import annotations

import numpy as np

from rnnlab.errors import RnnlabError, invalid_argument


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """log p over the last axis, stable for large logits: x - max - log(sum(exp(x - max)))."""
    shifted = logits - np.maximum.reduce(logits, axis=-1, keepdims=True)  # (the ufuncs: `.max()` adds a Python call)
    return shifted - np.log(np.add.reduce(np.exp(shifted), axis=-1, keepdims=True))


def softmax(logits: np.ndarray) -> np.ndarray:
    p = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return p / p.sum(axis=-1, keepdims=True)


class CrossEntropyLoss:
    """Softmax cross-entropy, as `torch.nn.CrossEntropyLoss`.

    loss_n = -w[y_n] * log softmax(logits_n)[y_n] for targets not equal to `ignore_index`
    (and where `mask` is True); 'mean' divides the sum by the total weight sum_n w[y_n],
    'sum' does not. With `label_smoothing` e, as PyTorch: loss_n = (1 - e) * that
    + e * (-1/C) sum_c w[c] log softmax(logits_n)[c] (the target spread over all C classes).

    >>> loss = CrossEntropyLoss()
    >>> round(loss(np.zeros((2, 4)), np.array([1, 3])), 6)  # uniform over 4 classes: log 4
    1.386294
    >>> loss.backward().shape
    (2, 4)
    """

    def __init__(self, weight: np.ndarray | None = None, ignore_index: int = -100, reduction: str = "mean",
                 label_smoothing: float = 0.0) -> None:
        if reduction not in ("mean", "sum"):
            raise invalid_argument("reduction", "'mean' or 'sum'", reduction)
        if not 0.0 <= label_smoothing <= 1.0:
            raise invalid_argument("label_smoothing", "a number in [0, 1]", label_smoothing)
        self.weight = None if weight is None else np.asarray(weight)
        self.ignore_index, self.reduction, self.label_smoothing = ignore_index, reduction, label_smoothing
        self._cache = None

    def __call__(self, logits: np.ndarray, target: np.ndarray, mask: np.ndarray | None = None) -> float:
        return self.forward(logits, target, mask)

    def forward(self, logits: np.ndarray, target: np.ndarray, mask: np.ndarray | None = None) -> float:
        """logits: (..., C); target: (...) integer classes; mask: (...) bool, True where counted."""
        C, dtype = logits.shape[-1], logits.dtype.type
        logits2, target = logits.reshape(-1, C), np.asarray(target).reshape(-1)
        N = len(target)
        if N and mask is None and 0 <= np.minimum.reduce(target) and np.maximum.reduce(target) < C and not (
                0 <= self.ignore_index < C):
            valid = None  # every term counts, each with weight 1 (before class weights): no padding, no mask
        else:
            valid = target != self.ignore_index
            if mask is not None:
                valid &= np.asarray(mask, dtype=bool).reshape(-1)
            target = np.where(valid, target, 0)  # (N,) 0 where not counted
            if N and (target.min() < 0 or target.max() >= C):
                raise RnnlabError(f"cross-entropy targets must lie in [0, {C}), got {target.min()}..{target.max()}")
        log_p = log_softmax(logits2)  # (N, C)
        w = None if valid is None else valid.astype(logits.dtype)  # (N,) weight of each term; None: 1 each
        if self.weight is not None:
            class_w = self.weight.astype(logits.dtype)[target]
            w = class_w if w is None else w * class_w
        rows = np.arange(N)
        picked = log_p[rows, target]  # (N,) log p[y]
        loss = -(picked if w is None else w * picked).sum()  # the weighted sum of -log p[y]
        total = (dtype(N) if w is None else w.sum()) if self.reduction == "mean" else dtype(1)
        e, smoothing = self.label_smoothing, None
        if e:  # the smoothing term counts at every valid target, unweighted (v), each class c by w_c
            class_w = np.ones(C, logits.dtype) if self.weight is None else self.weight.astype(logits.dtype)  # (C,)
            v = np.ones(N, logits.dtype) if valid is None else valid.astype(logits.dtype)  # (N,)
            smoothing = (v, class_w)
            loss = (1 - e) * loss + e * (v * -(log_p @ class_w) / C).sum()
        self._cache = (log_p, rows, target, w, smoothing, total, logits.shape)
        return float(loss / total) if total else 0.0

    def backward(self) -> np.ndarray:
        """d loss / d logits, shaped like the logits: (softmax - onehot(y)) * w / total without smoothing;
        with smoothing e, softmax * ((1 - e) w + e v sum(w_c) / C) - (1 - e) w onehot(y) - e v w_c / C, over total."""
        log_p, rows, target, w, smoothing, total, shape = self._cache
        d = np.exp(log_p)  # (N, C) softmax
        if w is None and smoothing is None:
            d[rows, target] -= 1
        elif smoothing is None:
            d *= w[:, None]
            d[rows, target] -= w
        else:
            (v, class_w), e, C = smoothing, self.label_smoothing, log_p.shape[1]
            w = np.ones(len(rows), d.dtype) if w is None else w
            d *= ((1 - e) * w + e * v * class_w.sum() / C)[:, None]
            d[rows, target] -= (1 - e) * w
            d -= (e / C) * v[:, None] * class_w
        if total != 1:
            d *= (1 / total) if total else 0
        return d.reshape(shape)


class MSELoss:
    """Mean squared error, as `torch.nn.MSELoss`: mean (or sum) of (pred - target)^2."""

    def __init__(self, reduction: str = "mean") -> None:
        if reduction not in ("mean", "sum"):
            raise invalid_argument("reduction", "'mean' or 'sum'", reduction)
        self.reduction, self._cache = reduction, None

    def __call__(self, pred: np.ndarray, target: np.ndarray) -> float:
        return self.forward(pred, target)

    def forward(self, pred: np.ndarray, target: np.ndarray) -> float:
        diff = pred - np.asarray(target, dtype=pred.dtype)
        scale = 1.0 / diff.size if self.reduction == "mean" else 1.0
        self._cache = (diff, scale)
        return float((diff * diff).sum() * scale)

    def backward(self) -> np.ndarray:
        diff, scale = self._cache
        return 2 * scale * diff
