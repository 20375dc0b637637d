"""Baselines for sequence classification, printed beside a model so one sees whether it earned its keep.

`majority_class` predicts the commonest training label; `nearest_neighbour` is 1-NN under Euclidean
distance or dynamic time warping (DTW), the standard baselines of the UCR/UEA archives.

A data set is a sequence of N series, series n an array (T_n, D): D = 1 for univariate series, D > 1
for multivariate; lengths may differ. A 1-D array (T_n,) is read as (T_n, 1), so a list of 1-D
arrays, a 2-D array (N, T) or a 3-D array (N, T, D) all work.

>>> train_X = [np.array([0.0, 0.0, 1.0]), np.array([5.0, 5.0, 5.0])]
>>> nearest_neighbour(train_X, ["low", "high"], [np.array([0.0, 1.0, 1.0, 1.0])], metric="dtw")
array(['low'], dtype='<U4')
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

from rnnlab.errors import RnnlabError
from rnnlab.metrics.classification import accuracy, macro_f1

_CHUNK_ELEMENTS = 1 << 20  # float64 elements (8 MiB) per block of pairwise work: small blocks stay in cache


def majority_class(y_train: ArrayLike, n_test: int) -> np.ndarray:
    """Predict the commonest label of `y_train` (N,) for each of `n_test` examples: (n_test,).

    Ties go to the smallest label, so the result does not depend on the order of `y_train`.

    >>> majority_class([2, 0, 2, 1, 0], n_test=3)
    array([0, 0, 0])
    """
    labels = _labels("y_train", y_train)
    if isinstance(n_test, bool) or not isinstance(n_test, int | np.integer) or n_test < 0:
        raise RnnlabError(f"Received n_test={n_test!r}, expected a non-negative integer")
    values, counts = np.unique(labels, return_counts=True)
    return np.full(n_test, values[np.argmax(counts)], dtype=labels.dtype)


def nearest_neighbour(
    train_X: Sequence[ArrayLike],
    train_y: ArrayLike,
    test_X: Sequence[ArrayLike],
    metric: str = "euclidean",
    window: float | None = None,
) -> np.ndarray:
    """1-NN: each test series takes the label of its closest training series. Returns (N_test,).

    `train_X`: N_train series (T_n, D); `train_y`: (N_train,) labels of any dtype; `test_X`: N_test
    series (T_n, D) with the same D. `metric` is "euclidean" (see `euclidean_distances`: series of
    unequal length are first resampled to the longest length) or "dtw" (see `dtw_distances`, with
    the Sakoe-Chiba `window` as a fraction of the series length; None is no window). Ties go to the
    first training series.
    """
    train = _series_list("train_X", train_X)
    labels = _labels("train_y", train_y)
    if labels.size != len(train):
        raise RnnlabError(
            f"`train_y` has {labels.size} labels for {len(train)} series in `train_X`, expected one each"
        )
    test = _series_list("test_X", test_X)
    if metric == "euclidean":
        if window is not None:
            raise RnnlabError(f"Received window={window!r} with metric='euclidean', expected window=None")
        distances = euclidean_distances(test, train)
    elif metric == "dtw":
        distances = dtw_distances(test, train, window=window)
    else:
        raise RnnlabError(f"Received metric={metric!r}, expected 'euclidean' or 'dtw'")
    return labels[np.argmin(distances, axis=1)]


def euclidean_distances(queries: Sequence[ArrayLike], references: Sequence[ArrayLike]) -> np.ndarray:
    """Euclidean distance between every query and every reference series: (N_queries, N_references).

    d(a, b) = sqrt(sum_t sum_d (a[t, d] - b[t, d])^2). When the series are not all one length, each
    is resampled by linear interpolation to the longest length among queries and references (the
    common UEA practice for variable-length data), its first and last points kept in place.

    >>> euclidean_distances([[0.0, 0.0]], [[3.0, 4.0], [0.0, 1.0]])
    array([[5., 1.]])
    """
    query_series = _series_list("queries", queries)
    reference_series = _series_list("references", references)
    _check_same_dims(query_series, reference_series)
    length = max(len(s) for s in query_series + reference_series)
    query_rows = np.stack([_resample(s, length).ravel() for s in query_series])  # (Q, length*D)
    reference_rows = np.stack([_resample(s, length).ravel() for s in reference_series])  # (R, length*D)
    chunk = max(1, _CHUNK_ELEMENTS // reference_rows.size)
    squared = np.empty((len(query_rows), len(reference_rows)))
    for start in range(0, len(query_rows), chunk):
        diff = query_rows[start : start + chunk, None, :] - reference_rows[None, :, :]  # (chunk, R, length*D)
        squared[start : start + chunk] = np.einsum("qrf,qrf->qr", diff, diff)
    return np.sqrt(squared)


def dtw_distances(
    queries: Sequence[ArrayLike], references: Sequence[ArrayLike], window: float | None = None
) -> np.ndarray:
    """Exact dependent DTW between every query and every reference series: (N_queries, N_references).

    For a (n, D) and b (m, D), the UCR definition with squared Euclidean local cost:
        c[i, j] = sum_d (a[i, d] - b[j, d])^2
        g[i, j] = c[i, j] + min(g[i-1, j-1], g[i-1, j], g[i, j-1]),  g[0, 0] = c[0, 0]
        dtw(a, b) = sqrt(g[n-1, m-1])
    With `window` r in [0, 1] (Sakoe-Chiba band), only cells with |i - j| <= w are allowed, where
    w = max(floor(r * max(n, m)), |n - m|): the band is widened to |n - m| when the lengths differ so
    that a warping path always exists. r = 0 is the Euclidean distance for equal lengths; r = 1 and
    None place no constraint.

    Vectorised over pairs: a block of queries against all references at once, sweeping the
    anti-diagonals i + j = k of the cost matrix, whose cells depend only on diagonals k-1 and k-2.

    >>> dtw_distances([[0.0, 1.0, 1.0]], [[0.0, 0.0, 1.0], [0.0, 1.0]])
    array([[0., 0.]])
    """
    query_series = _series_list("queries", queries)
    reference_series = _series_list("references", references)
    _check_same_dims(query_series, reference_series)
    if window is not None and (
        isinstance(window, bool) or not isinstance(window, int | float | np.number) or not 0 <= window <= 1
    ):
        raise RnnlabError(f"Received window={window!r}, expected a fraction of the length in [0, 1] or None")

    reference_lengths = np.array([len(s) for s in reference_series])  # (R,)
    references_padded = _pad(reference_series, reference_lengths.max())  # (R, L, D)
    query_lengths = np.array([len(s) for s in query_series])  # (Q,)
    order = np.argsort(query_lengths, kind="stable")  # similar lengths share a block: less padding
    chunk = max(1, _CHUNK_ELEMENTS // (len(reference_series) * query_lengths.max() * reference_lengths.max()))

    distances = np.empty((len(query_series), len(reference_series)))
    for start in range(0, len(order), chunk):
        block = order[start : start + chunk]
        queries_padded = _pad([query_series[q] for q in block], query_lengths[block].max())  # (Q, T, D)
        distances[block] = _dtw_block(
            queries_padded, query_lengths[block], references_padded, reference_lengths, window
        )
    return distances


def _dtw_block(
    queries: np.ndarray,
    query_lengths: np.ndarray,
    references: np.ndarray,
    reference_lengths: np.ndarray,
    window: float | None,
) -> np.ndarray:
    """DTW between queries (Q, T, D) and references (R, L, D), zero-padded past their lengths: (Q, R).

    Cells past a series' true length hold meaningless costs; they never reach g[n-1, m-1], whose
    dependencies all have smaller indices.
    """
    n_queries, max_query_len, n_dims = queries.shape
    n_refs, max_ref_len = references.shape[:2]
    n_pairs = n_queries * n_refs

    cost = np.zeros((max_query_len, max_ref_len, n_queries, n_refs))  # (T, L, Q, R)
    for d in range(n_dims):
        diff = queries[:, :, d].T[:, None, :, None] - references[:, :, d].T[None, :, None, :]  # (T, L, Q, R)
        diff *= diff
        cost += diff
    if window is not None:
        longer = np.maximum(query_lengths[:, None], reference_lengths[None, :])  # (Q, R)
        gap = np.abs(query_lengths[:, None] - reference_lengths[None, :])  # (Q, R)
        band = np.maximum(np.floor(window * longer), gap)  # (Q, R) widest allowed |i - j|
        offset = np.abs(np.arange(max_query_len)[:, None] - np.arange(max_ref_len)[None, :])  # (T, L)
        np.copyto(cost, np.inf, where=offset[:, :, None, None] > band[None, None, :, :])
    # Cell (i, k - i) of pair p sits at flat row i * L + k - i = k + i * (L - 1): each anti-diagonal
    # is a plain strided slice of this (T*L, P) view, contiguous over pairs.
    cost = cost.reshape(max_query_len * max_ref_len, n_pairs)  # (T*L, P)
    stride = max(max_ref_len - 1, 1)

    # Diagonal buffers hold row i in slot i + 1; slot 0 is row -1, the boundary (0 before g[0, 0]).
    older = np.full((max_query_len + 1, n_pairs), np.inf)  # diagonal k - 2
    older[0] = 0.0
    previous = np.full((max_query_len + 1, n_pairs), np.inf)  # diagonal k - 1
    end_rows = np.repeat(query_lengths - 1, n_refs)  # (P,) the row of g[n-1, m-1]
    end_diagonals = end_rows + np.tile(reference_lengths - 1, n_queries)  # (P,)
    by_end = np.argsort(end_diagonals, kind="stable")
    n_diagonals = max_query_len + max_ref_len - 1
    bounds = np.searchsorted(end_diagonals[by_end], np.arange(n_diagonals + 1))
    accumulated = np.empty(n_pairs)

    for k in range(n_diagonals):
        low, high = max(0, k - max_ref_len + 1), min(k, max_query_len - 1)  # rows on diagonal k
        first = k + low * (max_ref_len - 1)
        diagonal_cost = cost[first : first + (high - low) * stride + 1 : stride]  # (high - low + 1, P)
        best = np.minimum(older[low : high + 1], previous[low : high + 1])  # g[i-1, j-1], g[i-1, j]
        np.minimum(best, previous[low + 1 : high + 2], out=best)  # g[i, j-1]
        current = older  # reuse: later steps read only slots low .. high + 2 of this buffer
        np.add(diagonal_cost, best, out=current[low + 1 : high + 2])
        current[low] = np.inf
        if high + 2 <= max_query_len:
            current[high + 2] = np.inf
        ending = by_end[bounds[k] : bounds[k + 1]]
        accumulated[ending] = current[end_rows[ending] + 1, ending]
        older, previous = previous, current
    return np.sqrt(accumulated).reshape(n_queries, n_refs)


def _labels(name: str, labels: ArrayLike) -> np.ndarray:
    """`labels` as a non-empty 1-D array, or an `RnnlabError` naming the argument."""
    array = np.asarray(labels)
    if array.ndim != 1 or array.size == 0:
        raise RnnlabError(f"`{name}` has shape {array.shape}, expected a non-empty 1-D array of labels")
    return array


def _series_list(name: str, series: Sequence[ArrayLike]) -> list[np.ndarray]:
    """Each series as a finite float64 array (T_n, D) with T_n >= 1 and one D for all."""
    out = []
    for n, raw in enumerate(series):
        try:
            array = np.asarray(raw, dtype=np.float64)
        except (TypeError, ValueError) as error:
            raise RnnlabError(
                f"`{name}[{n}]` is not numeric ({error}), expected a float array (T, D)"
            ) from None
        if array.ndim == 1:
            array = array[:, None]
        if array.ndim != 2 or array.shape[0] == 0 or array.shape[1] == 0:
            raise RnnlabError(f"`{name}[{n}]` has shape {array.shape}, expected (T, D) with T, D >= 1")
        if not np.isfinite(array).all():
            raise RnnlabError(f"`{name}[{n}]` holds NaN or infinite values, expected finite numbers")
        if out and array.shape[1] != out[0].shape[1]:
            raise RnnlabError(
                f"`{name}[{n}]` has {array.shape[1]} dimensions, expected {out[0].shape[1]} like `{name}[0]`"
            )
        out.append(array)
    if not out:
        raise RnnlabError(f"`{name}` holds no series, expected at least one")
    return out


def _check_same_dims(queries: list[np.ndarray], references: list[np.ndarray]) -> None:
    if queries[0].shape[1] != references[0].shape[1]:
        raise RnnlabError(
            f"query series have {queries[0].shape[1]} dimensions and reference series "
            f"{references[0].shape[1]}, expected the same"
        )


def _pad(series: list[np.ndarray], length: int) -> np.ndarray:
    """Stack series (T_n, D) into (N, length, D), zeros after each series' end."""
    out = np.zeros((len(series), length, series[0].shape[1]))
    for n, s in enumerate(series):
        out[n, : len(s)] = s
    return out


def _resample(series: np.ndarray, length: int) -> np.ndarray:
    """Linear interpolation of (T, D) onto `length` evenly spaced points spanning it: (length, D)."""
    if len(series) == length:
        return series
    if len(series) == 1:
        return np.repeat(series, length, axis=0)
    positions = np.linspace(0.0, len(series) - 1, length)  # (length,)
    steps = np.arange(len(series))
    return np.stack([np.interp(positions, steps, series[:, d]) for d in range(series.shape[1])], axis=1)


def baseline_scores(kind: str, train_X: list, train_y: np.ndarray, test_X: list, test_y: np.ndarray,
              nearest: bool = True) -> dict[str, dict[str, float]]:
    """Test accuracy and macro-F1 of the baselines: `majority_class`, and for series `nn_euclidean` and `nn_dtw`
    (1-NN with Euclidean and dynamic-time-warping distances); `BASELINE_NAMES` has their printed names.

    DTW has no window (the full warping path), as in the UCR archive's "DTW (full)" column.
    """
    classes = np.unique(np.concatenate([np.asarray(train_y), np.asarray(test_y)]))
    true = np.searchsorted(classes, test_y)

    def scores(predicted: np.ndarray) -> dict[str, float]:
        ids = np.searchsorted(classes, predicted)
        return {"accuracy": accuracy(true, ids), "macro_f1": macro_f1(true, ids, len(classes))}

    results = {"majority_class": scores(majority_class(np.asarray(train_y), len(test_y)))}
    if kind == "numeric" and nearest:
        results["nn_euclidean"] = scores(nearest_neighbour(train_X, train_y, test_X, metric="euclidean"))
        results["nn_dtw"] = scores(nearest_neighbour(train_X, train_y, test_X, metric="dtw"))
    return results


BASELINE_NAMES = {"majority_class": "majority class", "nn_euclidean": "1-NN Euclidean", "nn_dtw": "1-NN DTW"}
