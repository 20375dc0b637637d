"""PyTorch's `module_db` entries for the recurrent modules, replayed (torch/testing/_internal/common_modules.py).

Replays the samples of `module_inputs_torch_nn_RNN_GRU` (with and without `with_packed_sequence`),
`module_inputs_torch_nn_LSTM`, `module_inputs_torch_nn_RNN_GRU_Cell`, `module_inputs_torch_nn_LSTMCell`
(each checked as `TestModule.test_forward` / the `no_batch_dim_reference_*` functions check it: the
unbatched call equals the batched call on a batch of one, here also against torch in float64, forward
and backward), and the errors of `module_error_inputs_torch_nn_RNN_GRU`, `..._RNN_GRU_Cell` and
`..._LSTMCell` (same inputs; the same message where PyTorch's entry states one).
"""

import itertools

import numpy as np
import pytest

from rnnlab.errors import RnnlabError

from ._common import cell_backward, close, n, nn, packed_backward, param_grads_close, t, torch, torch_twin

RNN_GRU = [("RNN", dict(nonlinearity=nl, bias=b, batch_first=bf, bidirectional=bd))
           for nl, b, bf, bd in itertools.product(("relu", "tanh"), (False, True), (False, True), (False, True))]
RNN_GRU += [("GRU", dict(bias=b, batch_first=bf, bidirectional=bd))
            for b, bf, bd in itertools.product((False, True), repeat=3)]
LSTMS = [("LSTM", dict(bias=b, batch_first=bf, bidirectional=bd, proj_size=p))
         for b, bf, bd, p in itertools.product((False, True), (False, True), (False, True), (0, 2))]


def label(case):
    name, kwargs = case
    return name + "-" + "-".join(f"{k}={v}" for k, v in kwargs.items())


def run_unbatched(name, kwargs, hidden_size, with_hx, seq_len, seed=0):
    """Our layer on an unbatched (seq_len, 2) input against torch, and against our own batch of one."""
    ours = getattr(nn, name)(2, hidden_size, num_layers=2, dtype=np.float64, seed=seed, **kwargs)
    theirs = torch_twin(ours)
    rng = np.random.default_rng(seed)
    D = 2 if kwargs["bidirectional"] else 1
    h_out = kwargs.get("proj_size") or hidden_size
    x = rng.normal(size=(seq_len, 2))
    hx = None
    if with_hx:
        hx = rng.normal(size=(2 * D, h_out))
        if name == "LSTM":
            hx = (hx, rng.normal(size=(2 * D, hidden_size)))
    out, finals = ours(x, hx)
    t_x = t(x, grad=True)
    t_hx = None if hx is None else (tuple(t(h, True) for h in hx) if name == "LSTM" else t(hx, True))
    t_out, t_finals = theirs(t_x, t_hx)
    close(out, t_out, what="output")
    close(finals, t_finals, what="final state")
    # no_batch_dim_reference_*: unsqueeze the batch dimension, run, squeeze it back
    batch_dim = 0 if kwargs["batch_first"] else 1
    b_hx = None if hx is None else (tuple(h[:, None] for h in hx) if name == "LSTM" else hx[:, None])
    ref_out, ref_finals = ours(np.expand_dims(x, batch_dim), b_hx)
    np.testing.assert_allclose(out, np.squeeze(ref_out, batch_dim), rtol=0, atol=1e-15)
    ref_finals = ref_finals if name == "LSTM" else (ref_finals,)
    for a, b in zip(finals if name == "LSTM" else (finals,), ref_finals, strict=True):
        np.testing.assert_allclose(a, b[:, 0], rtol=0, atol=1e-15)
    # and backward, unbatched, against autograd
    ours(x, hx)
    R = rng.normal(size=out.shape)
    R_f = [rng.normal(size=f.shape) for f in (finals if name == "LSTM" else (finals,))]
    result = ours.backward(R, *R_f)
    loss = (t_out * t(R)).sum() + sum((f * t(r)).sum() for f, r in
                                      zip(t_finals if name == "LSTM" else (t_finals,), R_f, strict=True))
    loss.backward()
    d_x = result[0] if with_hx else result
    close(d_x, t_x.grad, what="d input")
    if with_hx:
        close(result[1], tuple(h.grad for h in t_hx) if name == "LSTM" else t_hx.grad, what="d hx")
    param_grads_close(ours, theirs)


@pytest.mark.parametrize("with_hx", [False, True], ids=["no_hx", "hx"])
@pytest.mark.parametrize("case", RNN_GRU, ids=label)
def test_module_inputs_torch_nn_RNN_GRU(case, with_hx):
    """module_inputs_torch_nn_RNN_GRU: (3, 2) unbatched input, 2 layers, hidden 2 (3 with hx); vs torch."""
    name, kwargs = case
    run_unbatched(name, kwargs, 3 if with_hx else 2, with_hx, seq_len=3)


@pytest.mark.parametrize("with_hx", [False, True], ids=["no_hx", "hx"])
@pytest.mark.parametrize("case", LSTMS, ids=label)
def test_module_inputs_torch_nn_LSTM(case, with_hx):
    """module_inputs_torch_nn_LSTM: (2, 2) or (3, 2) with hx unbatched, hidden 3, proj_size 0 or 2; vs torch."""
    name, kwargs = case
    run_unbatched(name, kwargs, 3, with_hx, seq_len=3 if with_hx else 2)


@pytest.mark.parametrize("lengths", [[5, 3], [5, 3, 3, 2, 2]], ids=["B2", "B5"])
@pytest.mark.parametrize("name", ["RNN", "GRU", "LSTM"])
def test_module_inputs_torch_nn_RNN_GRU_with_packed_sequence(name, lengths):
    """module_inputs_torch_nn_RNN_GRU(with_packed_sequence=True): make_packed_sequence((5, B, 2), lengths)."""
    from rnnlab.nn.utils.rnn import pack_padded_sequence

    ours = getattr(nn, name)(2, 2, num_layers=2, bidirectional=True, dtype=np.float64, seed=3)
    theirs = torch_twin(ours)
    x = np.random.default_rng(1).normal(size=(5, len(lengths), 2))
    packed = pack_padded_sequence(x, lengths)
    t_packed = torch.nn.utils.rnn.pack_padded_sequence(t(x), lengths)
    t_packed.data.requires_grad_(True)
    out, finals = ours(packed)
    t_out, t_finals = theirs(t_packed)
    close(out.data, t_out.data, what="output data")
    np.testing.assert_array_equal(np.asarray(out.batch_sizes), n(t_out.batch_sizes))
    close(finals, t_finals, what="final state")
    R = np.random.default_rng(2).normal(size=out.data.shape)
    d_x, _ = packed_backward(ours, R)
    (t_out.data * t(R)).sum().backward()
    close(d_x, t_packed.data.grad, what="d packed input")
    param_grads_close(ours, theirs)


CELL_SAMPLES = [("RNNCell", {}), ("RNNCell", dict(bias=True)), ("RNNCell", dict(bias=True, nonlinearity="relu")),
                ("GRUCell", {}), ("GRUCell", dict(bias=True)), ("LSTMCell", {}), ("LSTMCell", dict(bias=True))]


@pytest.mark.parametrize("case", CELL_SAMPLES, ids=label)
def test_module_inputs_torch_nn_RNN_GRU_Cell_and_LSTMCell(case):
    """module_inputs_torch_nn_RNN_GRU_Cell / _LSTMCell: cell(5, 10) on an unbatched (5,) input and (10,) state."""
    name, kwargs = case
    ours = getattr(nn, name)(5, 10, dtype=np.float64, seed=0, **kwargs)
    theirs = torch_twin(ours)
    rng = np.random.default_rng(0)
    x, h = rng.normal(size=5), rng.normal(size=10)
    hx = (h, rng.normal(size=10)) if name == "LSTMCell" else h
    t_x = t(x, True)
    t_hx = tuple(t(a, True) for a in hx) if name == "LSTMCell" else t(hx, True)
    result, t_result = ours(x, hx), theirs(t_x, t_hx)
    close(result, t_result, what="unbatched step")
    # no_batch_dim_reference_fn / _lstmcell: the batched call on a batch of one, squeezed
    b_hx = tuple(a[None] for a in hx) if name == "LSTMCell" else hx[None]
    batched = ours(x[None], b_hx)
    batched = tuple(a[0] for a in batched) if name == "LSTMCell" else batched[0]
    close(result, batched, atol=1e-15, what="batch of one")
    ours(x, hx)
    R = [rng.normal(size=10) for _ in range(2 if name == "LSTMCell" else 1)]
    d_x, d_hx = cell_backward(ours, *R)
    t_outs = t_result if name == "LSTMCell" else (t_result,)
    sum((o * t(r)).sum() for o, r in zip(t_outs, R, strict=True)).backward()
    close(d_x, t_x.grad, what="d input")
    close(d_hx, tuple(a.grad for a in t_hx) if name == "LSTMCell" else t_hx.grad, what="d hx")
    param_grads_close(ours, theirs)


# module_error_inputs_torch_nn_RNN_GRU (used for RNN, GRU and LSTM): constructor errors.
CONSTRUCTION_ERRORS = [
    ((10, 0, 1), {}, ValueError, "hidden_size must be greater than zero"),
    ((10, 10, 0), {}, ValueError, "num_layers must be greater than zero"),
    ((3, 5), dict(bias=0), TypeError, "bias should be of type bool, got: int"),
    ((3, 5), dict(bias=1), TypeError, "bias should be of type bool, got: int"),
    ((3, 5), dict(bias="True"), TypeError, "bias should be of type bool, got: str"),
    ((3, 5), dict(batch_first=0), TypeError, "batch_first should be of type bool, got: int"),
    ((3, 5), dict(batch_first=1), TypeError, "batch_first should be of type bool, got: int"),
    ((3, 5), dict(batch_first="False"), TypeError, "batch_first should be of type bool, got: str"),
    ((3.0, 5), {}, TypeError, "input_size should be of type int, got: float"),
    (("10", 5), {}, TypeError, "input_size should be of type int, got: str"),
    ((0, 5), {}, ValueError, "input_size must be greater than zero"),
    ((-1, 5), {}, ValueError, "input_size must be greater than zero"),
    ((3, 5.0), {}, TypeError, "hidden_size should be of type int, got: float"),
]


def error_label(case):
    args, kwargs, _, _ = case
    return ",".join(map(repr, args)) + "".join(f",{k}={v!r}" for k, v in kwargs.items())


@pytest.mark.parametrize("case", CONSTRUCTION_ERRORS, ids=error_label)
@pytest.mark.parametrize("name", ["RNN", "GRU", "LSTM"])
def test_module_error_inputs_torch_nn_RNN_GRU_construction(name, case):
    """module_error_inputs_torch_nn_RNN_GRU, CONSTRUCTION_ERROR entries: PyTorch's TypeError for a wrongly typed
    argument; for a wrong value our RnnlabError (PyTorch: ValueError), each naming the argument."""
    args, kwargs, torch_error, torch_message = case
    with pytest.raises(torch_error, match=torch_message):
        getattr(torch.nn, name)(*args, **kwargs)
    argument = torch_message.split()[0]
    expected = TypeError if torch_error is TypeError and argument in ("bias", "batch_first") else (
        TypeError, RnnlabError) if torch_error is TypeError else RnnlabError
    with pytest.raises(expected, match=argument) as info:
        getattr(nn, name)(*args, **kwargs)
    if argument in ("bias", "batch_first"):  # the issue: bool-only flags refuse other types as PyTorch 2.13 does
        assert "bool" in str(info.value) and type(kwargs[argument]).__name__ in str(info.value)


@pytest.mark.parametrize("name", ["RNN", "GRU", "LSTM"])
def test_module_error_inputs_torch_nn_RNN_GRU_dtype_mismatch(name):
    """module_error_inputs_torch_nn_RNN_GRU, FORWARD_ERROR: PyTorch refuses float64 input to a float32 model.

    A deliberate difference: NumPy's default dtype is float64, so the engine casts a real input to the layer's
    dtype (the result is exactly that of casting first, in the layer's dtype); input that is not real is refused
    with PyTorch's message."""
    pattern = r"input dtype .*does not match weight dtype"
    with pytest.raises(ValueError, match=pattern):
        getattr(torch.nn, name)(3, 5)(torch.zeros(2, 4, 3, dtype=torch.float64))
    layer, x = getattr(nn, name)(3, 5, seed=0), np.random.default_rng(0).normal(size=(2, 4, 3))
    output = layer(x)[0]
    assert output.dtype == np.float32
    np.testing.assert_array_equal(output, layer(x.astype(np.float32))[0])
    with pytest.raises(RnnlabError, match=pattern):
        layer(x.astype(np.complex128))


# module_error_inputs_torch_nn_RNN_GRU_Cell and _LSTMCell: forward errors, with PyTorch's messages.
CELL_ERRORS = [
    ((10, 20), (3, 11), (3, 20), "input has inconsistent input_size: got 11 expected 10"),
    ((10, 20), (3, 10), (3, 21), "hidden0 has inconsistent hidden_size: got 21, expected 20"),
    ((10, 20), (3, 10), (5, 20), "Input batch size 3 doesn't match hidden0 batch size 5"),
    ((10, 20), (3, 10), (3, 1, 1, 20), "Expected hidden to be 1D or 2D, got 4D instead"),
]
CELL_ERROR_CASES = [(name, *case, {}) for name in ("RNNCell", "GRUCell") for case in CELL_ERRORS]
# PyTorch writes RNNCell(10, 20, 'relu'), which binds 'relu' to `bias` (torch's cells take any truthy bias);
# our cells take bool only, so the nonlinearity is passed by name, which is what the entry means to test.
CELL_ERROR_CASES += [("RNNCell", (10, 20), (3, 10), (3, 21), CELL_ERRORS[1][3], {"nonlinearity": nl})
                     for nl in ("relu", "tanh")]
CELL_ERROR_CASES += [("LSTMCell", *case, {}) for case in CELL_ERRORS[:3]]
CELL_ERROR_CASES += [("LSTMCell", (10, 20), (3, 10), (3, 1, 1, 20), r"Expected hx\[0\] to be 1D or 2D, got 4D instead",
                      {})]


@pytest.mark.parametrize("case", CELL_ERROR_CASES, ids=lambda c: f"{c[0]}{c[5] or ''}-x{c[2]}-h{c[3]}")
def test_module_error_inputs_torch_nn_RNN_GRU_Cell_and_LSTMCell(case):
    """module_error_inputs_torch_nn_RNN_GRU_Cell / _LSTMCell: a wrong input or state shape gives PyTorch's message."""
    name, args, x_shape, h_shape, message, kwargs = case
    x, h = np.zeros(x_shape), np.zeros(h_shape)
    hx = (h, h) if name == "LSTMCell" else h
    theirs = getattr(torch.nn, name)(*args, dtype=torch.float64, **kwargs)
    with pytest.raises((RuntimeError, ValueError), match=message):
        theirs(t(x), tuple(map(t, hx)) if name == "LSTMCell" else t(hx))
    with pytest.raises(RnnlabError, match=message):
        getattr(nn, name)(*args, dtype=np.float64, seed=0, **kwargs)(x, hx)

