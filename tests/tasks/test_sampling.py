"""`tasks.sampling.choose` draws what NumPy's `Generator.choice` draws, row by row."""

import numpy as np
import pytest

from rnnlab.nn import softmax
from rnnlab.tasks.sampling import choose


def reference(logits: np.ndarray, rng: np.random.Generator, temperature, top_k, top_p) -> int:
    """One row, the plain way: the kept probabilities, then `rng.choice`."""
    p = softmax(logits.astype(np.float64) / temperature)
    if top_k is not None and top_k < len(p):
        p[np.argsort(p)[: len(p) - top_k]] = 0
    if top_p is not None:
        order = np.argsort(p)[::-1]
        keep = np.cumsum(p[order]) - p[order] < top_p
        p[order[~keep]] = 0
    return int(rng.choice(len(p), p=p / p.sum()))


@pytest.mark.parametrize("temperature, top_k, top_p", [(1.0, None, None), (0.5, None, None), (1.3, 3, None),
                                                       (1.0, None, 0.7), (0.8, 10, 0.9), (1.0, 1, None)])
def test_each_row_draws_what_generator_choice_draws(temperature, top_k, top_p):
    logits = np.random.default_rng(0).standard_normal((40, 30)).astype(np.float32) * 3
    ours, theirs = np.random.default_rng(5), np.random.default_rng(5)
    for _ in range(5):  # five steps of 40 rows: 200 draws from one generator, in the same order
        ids = choose(logits, ours, temperature, top_k, top_p)
        assert ids.shape == (40,) and ids.dtype.kind == "i"
        assert ids.tolist() == [reference(row, theirs, temperature, top_k, top_p) for row in logits]


def test_argmax_takes_the_likeliest_and_draws_nothing():
    logits = np.random.default_rng(1).standard_normal((6, 9))
    rng = np.random.default_rng(2)
    state = rng.bit_generator.state
    assert choose(logits, rng, argmax=True).tolist() == logits.argmax(axis=1).tolist()
    assert rng.bit_generator.state == state


def test_top_k_and_top_p_never_draw_what_they_cut():
    logits = np.random.default_rng(3).standard_normal((500, 12))
    likeliest = np.argsort(logits, axis=1)[:, ::-1]
    ids = choose(logits, np.random.default_rng(4), top_k=2)
    assert all(i in row[:2] for i, row in zip(ids, likeliest, strict=True))
    ids = choose(logits, np.random.default_rng(4), top_p=1e-9)  # the smallest set reaching ~0: the likeliest alone
    assert ids.tolist() == likeliest[:, 0].tolist()
