import numpy as np
import pytest

from rnnlab.errors import RnnlabError
from rnnlab.nn import GRU, LastPool, MaxPool, MeanPool

POOLS = {"last": lambda: LastPool(2), "last_one_direction": lambda: LastPool(1), "mean": MeanPool, "max": MaxPool}
LENGTHS = (4, 1, 3)


def _padded(side: str, steps: int = 6, features: int = 4, seed: int = 0):
    """Outputs (T, B, F) float64 with garbage at padded steps, and the (T, B) mask, pre- or post-padded."""
    rng = np.random.default_rng(seed)
    sequences = [rng.normal(size=(n, features)) for n in LENGTHS]
    output = rng.normal(size=(steps, len(LENGTHS), features)) * 100  # padding holds large garbage
    mask = np.zeros((steps, len(LENGTHS)), bool)
    for b, sequence in enumerate(sequences):
        start = 0 if side == "post" else steps - len(sequence)
        output[start:start + len(sequence), b] = sequence
        mask[start:start + len(sequence), b] = True
    return output, mask


@pytest.mark.parametrize("name", POOLS)
def test_backward_matches_central_differences(name):
    pool = POOLS[name]()
    output, mask = _padded("pre")
    weights = np.random.default_rng(1).normal(size=(len(LENGTHS), 4))  # loss = sum(weights * pooled)
    pool(output, mask)
    d_output = pool.backward(weights)
    numeric = np.zeros_like(output)
    for index in np.ndindex(output.shape):
        original = output[index]
        output[index] = original + 1e-6
        up = np.sum(weights * pool(output, mask))
        output[index] = original - 1e-6
        down = np.sum(weights * pool(output, mask))
        output[index] = original
        numeric[index] = (up - down) / 2e-6
    np.testing.assert_allclose(d_output, numeric, rtol=0, atol=1e-7)
    assert not d_output[~mask].any(), "padded steps got a gradient"


@pytest.mark.parametrize("name", POOLS)
def test_padding_side_amount_and_values_do_not_change_the_result(name):
    pool = POOLS[name]()
    reference = pool(*_padded("post", steps=4))
    for side in ("pre", "post"):
        for steps in (4, 9):
            np.testing.assert_array_equal(pool(*_padded(side, steps=steps)), reference, err_msg=f"{side} {steps}")


def test_last_pool_is_the_final_state_of_each_direction():
    gru = GRU(3, 5, bidirectional=True, dtype=np.float64, seed=0)
    rng = np.random.default_rng(0)
    x, mask = rng.normal(size=(6, 3, 3)), np.ones((6, 3), bool)
    mask[:2, 1] = False  # pre-padded
    mask[4:, 2] = False  # post-padded
    output, h_n = gru(x, mask=mask)  # (T, B, 2H), (2, B, H)
    np.testing.assert_allclose(LastPool(2)(output, mask), np.concatenate([h_n[0], h_n[1]], axis=1), atol=1e-12)


def test_mean_and_max_pool_known_values():
    output = np.array([[[1.0], [5.0]], [[3.0], [-2.0]], [[8.0], [9.0]]])  # (T=3, B=2, F=1)
    mask = np.array([[True, True], [True, True], [False, True]])
    assert MeanPool()(output, mask).ravel().tolist() == [2.0, 4.0]
    assert MaxPool()(output, mask).ravel().tolist() == [3.0, 9.0]


@pytest.mark.parametrize("name", POOLS)
def test_a_sequence_without_valid_steps_is_refused(name):
    output, mask = _padded("post")
    mask[:, 1] = False
    with pytest.raises(RnnlabError, match="mask"):
        POOLS[name]()(output, mask)
