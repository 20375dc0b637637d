import numpy as np
import pytest

from rnnlab.errors import RnnlabError
from rnnlab.nn import CrossEntropyLoss, MSELoss

torch = pytest.importorskip("torch", reason="PyTorch not installed: parity tests need the 'test' extra")


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("smoothing", [0.0, 0.1, 0.6])
def test_cross_entropy_matches_torch_with_weights_ignore_index_and_label_smoothing(reduction, weighted, smoothing):
    rng = np.random.default_rng(0)
    logits, target = rng.normal(size=(9, 5)) * 3, np.array([0, 1, 4, -100, 2, 2, 3, -100, 1])
    weight = rng.random(5) if weighted else None
    ours = CrossEntropyLoss(weight=weight, reduction=reduction, label_smoothing=smoothing)
    value, d_logits = ours(logits, target), ours.backward()
    t_logits = torch.tensor(logits, requires_grad=True)
    t_weight = None if weight is None else torch.from_numpy(weight)
    t_value = torch.nn.CrossEntropyLoss(weight=t_weight, reduction=reduction, label_smoothing=smoothing)(
        t_logits, torch.from_numpy(target))
    t_value.backward()
    assert value == pytest.approx(t_value.item(), abs=1e-12)
    np.testing.assert_allclose(d_logits, t_logits.grad.numpy(), atol=1e-12)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_with_every_target_counted_matches_torch_and_the_masked_path(reduction, weighted, smoothing,
                                                                                  dtype):
    """No target ignored and no mask: the loss skips the per-term weights of ones, with the same numbers as
    with a mask that counts every term, bit for bit, and PyTorch's."""
    rng = np.random.default_rng(3)
    logits, target = (rng.normal(size=(25, 7)) * 3).astype(dtype), rng.integers(0, 7, size=25)
    weight = rng.random(7) if weighted else None
    every, masked = (CrossEntropyLoss(weight=weight, reduction=reduction, label_smoothing=smoothing) for _ in "ab")
    value, d_logits = every(logits, target), every.backward()
    assert value == masked(logits, target, np.ones(25, bool))
    np.testing.assert_array_equal(d_logits, masked.backward())
    assert d_logits.dtype == dtype
    t_logits = torch.tensor(logits.astype(np.float64), requires_grad=True)
    t_weight = None if weight is None else torch.from_numpy(weight)
    t_value = torch.nn.CrossEntropyLoss(weight=t_weight, reduction=reduction, label_smoothing=smoothing)(
        t_logits, torch.from_numpy(target))
    t_value.backward()
    tolerance = 1e-12 if dtype == np.float64 else 2e-5
    assert value == pytest.approx(t_value.item(), rel=tolerance, abs=tolerance)
    np.testing.assert_allclose(d_logits, t_logits.grad.numpy(), atol=tolerance)


@pytest.mark.parametrize("target", [[0, 5], [-1, 2], [-100, 5]])
def test_cross_entropy_refuses_targets_out_of_range(target):
    with pytest.raises(RnnlabError, match=r"targets must lie in \[0, 5\)"):
        CrossEntropyLoss()(np.zeros((2, 5)), np.array(target))


def test_cross_entropy_mask_equals_ignore_index():
    rng = np.random.default_rng(1)
    logits, target = rng.normal(size=(2, 4, 6)), rng.integers(0, 6, size=(2, 4))
    mask = np.array([[True, True, False, False], [True, True, True, True]])
    masked = CrossEntropyLoss()
    ignored = CrossEntropyLoss()
    a = masked(logits, target, mask)
    b = ignored(logits, np.where(mask, target, -100))
    assert a == pytest.approx(b, abs=1e-15)
    np.testing.assert_allclose(masked.backward(), ignored.backward(), atol=1e-15)


def test_cross_entropy_is_stable_for_huge_logits():
    loss = CrossEntropyLoss()
    value = loss(np.array([[1000.0, 0.0, -1000.0]], np.float32), np.array([0]))
    assert value == 0.0 and np.isfinite(loss.backward()).all()


def test_mse_matches_torch():
    rng = np.random.default_rng(2)
    pred, target = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    ours = MSELoss()
    value, d_pred = ours(pred, target), ours.backward()
    t_pred = torch.tensor(pred, requires_grad=True)
    t_value = torch.nn.MSELoss()(t_pred, torch.from_numpy(target))
    t_value.backward()
    assert value == pytest.approx(t_value.item(), abs=1e-12)
    np.testing.assert_allclose(d_pred, t_pred.grad.numpy(), atol=1e-12)


def test_label_smoothing_outside_0_1_is_refused():
    with pytest.raises(Exception, match="label_smoothing"):
        CrossEntropyLoss(label_smoothing=1.5)
