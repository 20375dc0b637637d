import math

import numpy as np
import pytest

from rnnlab.errors import RnnlabError
from rnnlab.nn import Parameter
from rnnlab.optim import clip_grad_norm_, clip_grad_value_

SHAPES = [(3, 4), (4,), (2, 3, 2)]


def make_grads(scale: float = 1.0, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape) * scale for shape in SHAPES]


def as_params(grads: list[np.ndarray], dtype=np.float64) -> list[Parameter]:
    params = [Parameter(np.zeros(g.shape, dtype)) for g in grads]
    for p, g in zip(params, grads, strict=True):
        p.grad[...] = g
    return params


def as_torch(torch, grads):
    params = [torch.nn.Parameter(torch.zeros(g.shape, dtype=torch.float64)) for g in grads]
    for p, g in zip(params, grads, strict=True):
        p.grad = torch.tensor(g)
    return params


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf])
@pytest.mark.parametrize("max_norm", [0.5, 1e3])
def test_clip_grad_norm_matches_torch_norm_and_clipped_grads(norm_type, max_norm):
    torch = pytest.importorskip("torch", reason="PyTorch not installed: parity tests need the 'test' extra")
    grads = make_grads()
    params, torch_params = as_params(grads), as_torch(torch, grads)
    total = clip_grad_norm_(params, max_norm, norm_type=norm_type)
    expected = torch.nn.utils.clip_grad_norm_(torch_params, max_norm, norm_type=norm_type, foreach=False)
    assert isinstance(total, float)
    assert total == pytest.approx(expected.item(), rel=1e-12)
    for p, tp in zip(params, torch_params, strict=True):
        np.testing.assert_allclose(p.grad, tp.grad.numpy(), rtol=1e-12, atol=0)


def test_clip_grad_norm_leaves_grads_below_max_norm_exactly_unchanged():
    grads = make_grads(scale=1e-3)
    params = as_params(grads)
    clip_grad_norm_(params, max_norm=1.0)
    for p, g in zip(params, grads, strict=True):
        np.testing.assert_array_equal(p.grad, g)


def test_clip_grad_norm_scales_to_max_norm_with_pytorchs_epsilon():
    p = Parameter(np.zeros(2))
    p.grad[:] = [3.0, 4.0]
    assert clip_grad_norm_(p, max_norm=1.0) == 5.0
    np.testing.assert_array_equal(p.grad, np.array([3.0, 4.0]) * (1.0 / (5.0 + 1e-6)))


def test_clip_grad_norm_keeps_float32_grads_float32():
    params = as_params(make_grads(scale=10.0), dtype=np.float32)
    clip_grad_norm_(params, max_norm=1.0)
    assert all(p.grad.dtype == np.float32 for p in params)
    total = math.sqrt(sum(float((p.grad.astype(np.float64) ** 2).sum()) for p in params))
    assert total == pytest.approx(1.0, rel=1e-5)


def test_clip_grad_norm_of_no_parameters_is_zero():
    assert clip_grad_norm_([], max_norm=1.0) == 0.0


def test_clip_grad_value_matches_torch():
    torch = pytest.importorskip("torch", reason="PyTorch not installed: parity tests need the 'test' extra")
    grads = make_grads()
    params, torch_params = as_params(grads), as_torch(torch, grads)
    clip_grad_value_(params, 0.5)
    torch.nn.utils.clip_grad_value_(torch_params, 0.5, foreach=False)
    for p, tp in zip(params, torch_params, strict=True):
        np.testing.assert_array_equal(p.grad, tp.grad.numpy())


def test_clip_grad_value_clamps_in_place_and_keeps_float32():
    params = as_params(make_grads(), dtype=np.float32)
    grads = [p.grad for p in params]
    clip_grad_value_(params, 0.25)
    for p, g in zip(params, grads, strict=True):
        assert p.grad is g and p.grad.dtype == np.float32
        assert np.abs(p.grad).max() <= np.float32(0.25)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("subset", [slice(None), slice(0, 2), slice(1, 3)])
def test_clipping_an_optimizers_flat_gradients_matches_clipping_each(dtype, subset):
    """After an optimizer keeps the gradients as parts of one flat array, clipping all of them clips that array in
    one call; clipping some of them must leave the others alone, and NaN stays NaN."""
    from rnnlab.optim import SGD

    for clip, nan in ((lambda ps: clip_grad_value_(ps, 0.5), True), (lambda ps: clip_grad_norm_(ps, 0.5), False)):
        grads = make_grads(scale=3.0)
        grads[0][0, 0] = np.nan if nan else grads[0][0, 0]
        expected = as_params(grads, dtype)
        params = as_params(grads, dtype)
        SGD(params, lr=0.1)  # the gradients become parts of one flat array
        assert params[0].grad.base is params[-1].grad.base
        clip(expected[subset])
        clip(params[subset])
        for p, e in zip(params, expected, strict=True):
            np.testing.assert_array_equal(p.grad, e.grad)


def test_clip_grad_value_clips_gradients_that_are_not_contiguous():
    p = Parameter(np.zeros((3, 4), np.float32))
    p.grad = np.linspace(-3, 3, 48, dtype=np.float32).reshape(6, 8)[::2, ::2]  # every other row and column
    assert not p.grad.flags.c_contiguous
    expected = np.clip(p.grad, -1, 1)
    clip_grad_value_([p], 1.0)
    np.testing.assert_array_equal(p.grad, expected)


@pytest.mark.parametrize(
    ("call", "argument"),
    [
        (lambda p: clip_grad_norm_(p, max_norm=-1.0), "max_norm"),
        (lambda p: clip_grad_norm_(p, max_norm=1.0, norm_type=0), "norm_type"),
        (lambda p: clip_grad_norm_(p, max_norm="1"), "max_norm"),
        (lambda p: clip_grad_value_(p, clip_value=-0.1), "clip_value"),
        (lambda p: clip_grad_value_([np.zeros(2)], clip_value=0.1), "params"),
    ],
)
def test_invalid_clip_arguments_are_refused_naming_the_argument(call, argument):
    with pytest.raises(RnnlabError, match=f"argument `{argument}`"):
        call([Parameter(np.zeros(2))])
