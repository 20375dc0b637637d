import numpy as np
import pytest

from rnnlab.data.series import paa, znormalize
from rnnlab.errors import RnnlabError


def test_znormalize_gives_each_feature_mean_0_and_std_1_over_its_own_steps():
    rng = np.random.default_rng(0)
    x = rng.normal(5.0, 3.0, size=(40, 3)) * np.array([1.0, 100.0, 0.01])
    z = znormalize(x)
    np.testing.assert_allclose(z.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(z.std(axis=0), 1.0)
    np.testing.assert_allclose(znormalize(3.0 * x + 7.0), z)  # blind to the series' scale and level


def test_znormalize_leaves_a_flat_feature_at_zero():
    z = znormalize(np.array([[1.0, 2.0], [1.0, 4.0], [1.0, 6.0]]))
    assert z[:, 0].tolist() == [0.0, 0.0, 0.0] and np.isfinite(z).all()


def naive_paa(x: np.ndarray, steps: int) -> np.ndarray:
    """Reference: repeat each step `steps` times (T * steps unit pieces), then average runs of T pieces."""
    T = len(x)
    return np.repeat(x, steps, axis=0).reshape(steps, T, x.shape[1]).mean(axis=1)


@pytest.mark.parametrize(("T", "steps"), [(6, 3), (7, 3), (427, 256), (1460, 256), (10, 9), (5, 1)])
def test_paa_averages_equal_stretches_sharing_straddled_steps(T, steps):
    x = np.random.default_rng(T).normal(size=(T, 2))
    out = paa(x, steps)
    assert out.shape == (steps, 2)
    np.testing.assert_allclose(out, naive_paa(x, steps), atol=1e-12)
    np.testing.assert_allclose(out.mean(axis=0), x.mean(axis=0), atol=1e-12)  # the mean over time is kept


def test_paa_leaves_a_series_no_longer_than_steps_alone():
    x = np.arange(8.0).reshape(4, 2)
    assert paa(x, 4) is not None and np.array_equal(paa(x, 4), x) and np.array_equal(paa(x, 100), x)


def test_paa_refuses_a_step_count_below_one():
    with pytest.raises(RnnlabError, match="steps"):
        paa(np.zeros((4, 1)), 0)
