"""Shared helpers for the ported PyTorch tests: the torch twin of a layer, and the few calls whose shape is ours.

Every test here runs our layer and `torch.nn`'s with the same float64 weights; the helpers below
keep the calls that differ between the two (backward is hand-written here, autograd there) in one place.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="PyTorch not installed: the ported tests use it as the reference")

from rnnlab import nn as nn  # noqa: E402  (re-exported for the test modules)

ATOL = 1e-10  # float64 parity, outputs, states and every gradient


def torch_twin(ours, **extra):
    """The torch module with our module's class, constructor arguments and weights, in float64."""
    cls = getattr(torch.nn, type(ours).__name__)
    kwargs = dict(bias=ours.bias, dtype=torch.float64, **extra)
    if hasattr(ours, "num_layers"):
        kwargs |= dict(num_layers=ours.num_layers, batch_first=ours.batch_first, bidirectional=ours.bidirectional)
        if getattr(ours, "proj_size", 0):
            kwargs["proj_size"] = ours.proj_size
    if hasattr(ours, "nonlinearity"):
        kwargs["nonlinearity"] = ours.nonlinearity
    theirs = cls(ours.input_size, ours.hidden_size, **kwargs)
    theirs.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in ours.state_dict().items()})
    return theirs


def t(array, grad=False):
    """A float64 torch leaf tensor holding a copy of `array`."""
    return torch.tensor(np.array(array, dtype=np.float64), requires_grad=grad)


def n(tensor):
    return tensor.detach().numpy()


def close(ours, theirs, atol=ATOL, what=""):
    """Assert an array (or a nested tuple of arrays) equals its torch counterpart to `atol`."""
    if isinstance(theirs, tuple | list):
        assert len(ours) == len(theirs), what
        for a, b in zip(ours, theirs, strict=True):
            close(a, b, atol, what)
        return
    theirs = n(theirs) if isinstance(theirs, torch.Tensor) else np.asarray(theirs)
    assert np.shape(ours) == theirs.shape, (what, np.shape(ours), theirs.shape)
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=atol, err_msg=what)


def param_grads_close(ours, theirs, atol=ATOL):
    t_params = dict(theirs.named_parameters())
    names = [name for name, _ in ours.named_parameters()]
    assert names == list(t_params), (names, list(t_params))
    for name, p in ours.named_parameters():
        grad = t_params[name].grad
        close(p.grad, torch.zeros_like(t_params[name]) if grad is None else grad, atol, f"d {name}")


def cell_backward(cell, d_h, d_c=None):
    """Our cell's backward for its latest unconsumed forward, as (d_x, d_hx); for LSTMCell d_hx = (d_h0, d_c0)."""
    if d_c is None:
        return cell.backward(d_h)
    d_x, d_h0, d_c0 = cell.backward(d_h, d_c)
    return d_x, (d_h0, d_c0)


def packed_data(seq):
    """The flat (N, ...) data of a PackedSequence, ours or torch's."""
    return seq.data


def packed_backward(layer, d_output_data, *d_finals):
    """Backward through a layer that was given a PackedSequence: d_output as the packed data's gradient.

    Returns (d input data, d_hx or None): our layer returns a PackedSequence (or the data) where torch
    gives the gradient of the packed data.
    """
    from rnnlab.nn.utils.rnn import PackedSequence

    result = layer.backward(d_output_data, *d_finals)
    d_x, d_hx = (result, None) if isinstance(result, PackedSequence | np.ndarray) else result
    d_x = d_x.data if isinstance(d_x, PackedSequence) else d_x
    return d_x, d_hx
