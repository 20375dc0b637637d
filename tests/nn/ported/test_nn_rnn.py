"""PyTorch's `test/test_nn.py` recurrent-layer tests (TestNN, TestNNDeviceType), replayed on our layers.

Each test is named after the PyTorch test it replays; torch (CPU, float64) is the reference where
PyTorch's test compares values, and PyTorch's own assertion is kept where it states a property.
"""

import itertools
import pickle

import numpy as np
import pytest

from rnnlab.diagnostics.gradcheck import numerical_gradient, relative_error
from rnnlab.errors import RnnlabError

from ._common import close, nn, packed_backward, param_grads_close, t, torch, torch_twin

MODES = ["RNN", "GRU", "LSTM"]
input_size, hidden_size, num_layers, batch_size, seq_len, bad_size = 3, 5, 2, 4, 6, 7


def update_shape(shape, dim, new_dim_size):
    return tuple(new_dim_size if i == dim else s for i, s in enumerate(shape))


def states(mode, h_shape, c_shape=None, good=None):
    """hx for `mode`: one array, or for LSTM the pairs PyTorch's get_inputs builds (bad h with good c and back)."""
    rng = np.random.default_rng(0)
    h = rng.normal(size=h_shape)
    if mode != "LSTM":
        return [h]
    if c_shape is not None:
        return [(h, rng.normal(size=c_shape))]
    if h_shape == good:
        return [(h, h)]
    g = rng.normal(size=good)
    return [(h, g), (g, h)]


CORRECT_INPUT = (seq_len, batch_size, input_size)
CORRECT_HIDDEN = (num_layers, batch_size, hidden_size)
ARGS_CHECKS = {
    "input batch size": (update_shape(CORRECT_INPUT, 1, bad_size), CORRECT_HIDDEN),
    "hidden batch size": (CORRECT_INPUT, update_shape(CORRECT_HIDDEN, 1, bad_size)),
    "input size": (update_shape(CORRECT_INPUT, 2, bad_size), CORRECT_HIDDEN),
    "hidden size": (CORRECT_INPUT, update_shape(CORRECT_HIDDEN, 2, bad_size)),
    "hidden[0]": (CORRECT_INPUT, update_shape(CORRECT_HIDDEN, 0, bad_size)),
}


@pytest.mark.parametrize("what", ARGS_CHECKS)
@pytest.mark.parametrize("mode", MODES)
def test_rnn_args_check(mode, what):
    """test_rnn_args_check: a wrong input batch, hidden batch, input size, hidden size or hidden[0] is refused."""
    input_shape, hidden_shape = ARGS_CHECKS[what]
    x = np.random.default_rng(1).normal(size=input_shape)
    for hx in states(mode, hidden_shape, good=CORRECT_HIDDEN):
        model = getattr(nn, mode)(input_size, hidden_size, num_layers, dtype=np.float64, seed=0)
        with pytest.raises(RnnlabError):
            model(x, hx)
        with pytest.raises(RuntimeError):  # PyTorch's assertion, on PyTorch
            torch_twin(model)(t(x), tuple(map(t, hx)) if mode == "LSTM" else t(hx))


proj_size = 2
H_SHAPE, C_SHAPE = (num_layers, batch_size, proj_size), (num_layers, batch_size, hidden_size)
PROJ_CHECKS = {
    "input batch size": (update_shape(CORRECT_INPUT, 1, bad_size), H_SHAPE, C_SHAPE),
    "hidden batch size": (CORRECT_INPUT, update_shape(H_SHAPE, 1, bad_size), update_shape(C_SHAPE, 1, bad_size)),
    "input size": (update_shape(CORRECT_INPUT, 2, bad_size), H_SHAPE, C_SHAPE),
    "hidden size": (CORRECT_INPUT, update_shape(H_SHAPE, 2, bad_size), update_shape(C_SHAPE, 2, bad_size)),
    "hidden[0]": (CORRECT_INPUT, update_shape(H_SHAPE, 0, bad_size), update_shape(C_SHAPE, 0, bad_size)),
    "proj size = hidden size": (CORRECT_INPUT, update_shape(H_SHAPE, 0, hidden_size), C_SHAPE),
    "proj size != hidden size": (CORRECT_INPUT, update_shape(H_SHAPE, 0, bad_size), C_SHAPE),
    "cell size != hidden size": (CORRECT_INPUT, H_SHAPE, update_shape(C_SHAPE, 0, bad_size)),
}


@pytest.mark.parametrize("what", PROJ_CHECKS)
def test_projections_lstm_args_check(what):
    """test_projections_lstm_args_check: LSTM(3, 5, 2, proj_size=2) refuses each wrong input or (h_0, c_0) shape."""
    input_shape, h_shape, c_shape = PROJ_CHECKS[what]
    x = np.random.default_rng(1).normal(size=input_shape)
    (hx,) = states("LSTM", h_shape, c_shape)
    model = nn.LSTM(input_size, hidden_size, num_layers, proj_size=proj_size, dtype=np.float64, seed=0)
    with pytest.raises(RnnlabError):
        model(x, hx)
    with pytest.raises(RuntimeError):
        torch_twin(model)(t(x), tuple(map(t, hx)))


@pytest.mark.parametrize("mode", MODES)
def test_rnn_initial_hidden_state(mode):
    """test_rnn_initial_hidden_state: zeros given as hx give what no hx gives."""
    rnn = getattr(nn, mode)(30, 20, 2, dtype=np.float64, seed=0)
    x = np.random.default_rng(0).normal(size=(10, 32, 30))
    hidden = np.zeros((2, 32, 20))
    output1, hidden1 = rnn(x, (hidden, hidden) if mode == "LSTM" else hidden)
    output2, hidden2 = rnn(x)
    np.testing.assert_array_equal(output1, output2)
    np.testing.assert_array_equal(np.asarray(hidden1), np.asarray(hidden2))


@pytest.mark.parametrize("bidir", [False, True])
def test_projections_lstm_initial_hidden_state(bidir):
    """test_projections_lstm_initial_hidden_state: zero (h_0 of size proj, c_0 of size hidden) equals no hx."""
    rnn = nn.LSTM(30, 20, 2, bidirectional=bidir, proj_size=10, dtype=np.float64, seed=0)
    num_dirs = 2 if bidir else 1
    x = np.random.default_rng(0).normal(size=(10, 32, 30))
    hidden = (np.zeros((2 * num_dirs, 32, 10)), np.zeros((2 * num_dirs, 32, 20)))
    output1, hidden1 = rnn(x, hidden)
    output2, hidden2 = rnn(x)
    np.testing.assert_array_equal(output1, output2)
    close(hidden1, hidden2, atol=0)


@pytest.mark.parametrize("mode", ["RNN", "GRU"])
def test_projections_errors_on_gru_and_rnn(mode):
    """test_projections_errors_on_gru_and_rnn: proj_size is refused by RNN and GRU, in PyTorch's words."""
    with pytest.raises(ValueError, match="proj_size argument is only supported for LSTM, not RNN or GRU"):
        getattr(nn, mode)(30, 20, 2, proj_size=10)


CUDNN_FORWARD = [("LSTM", {}, "pair"), ("LSTM", dict(proj_size=10), "pair"), ("GRU", {}, "one"), ("RNN", {}, "one")]


@pytest.mark.parametrize("mode, kwargs, kind", CUDNN_FORWARD, ids=["LSTM", "LSTM-proj", "GRU", "RNN"])
def test_cudnn_forward_exception(mode, kwargs, kind):
    """test_cudnn_forward_exception (runs on CPU in PyTorch too): a (1, 2, 19) hidden state, and an input of
    size 3 for input_size 10, raise with "Expected hidden.*size.*got" and "input.size(-1) must be equal to
    input_size"."""
    rnn = getattr(nn, mode)(10, 20, batch_first=True, seed=0, **kwargs)
    hidden = (np.zeros((1, 2, 19)), np.zeros((1, 2, 19))) if kind == "pair" else np.zeros((1, 2, 19))
    x_wrong, x_right = np.zeros((2, 3, 3), np.float32), np.zeros((2, 3, 10), np.float32)
    with pytest.raises(RnnlabError, match="Expected hidden.*size.*got"):
        rnn(x_right, hidden)
    with pytest.raises(RnnlabError, match=r"input\.size\(-1\) must be equal to input_size"):
        rnn(x_wrong)


@pytest.mark.parametrize("bidirectional", [True, False])
@pytest.mark.parametrize("mode", MODES)
def test_error_RNN_seq_len_zero(mode, bidirectional):
    """test_error_RNN_seq_len_zero: an input of length 0, (0, 10, 5), raises "Expected sequence length to be larger
    than 0 in RNN"."""
    rnn = getattr(nn, mode)(5, 6, bidirectional=bidirectional, seed=0)
    with pytest.raises(RnnlabError, match="Expected sequence length to be larger than 0 in RNN"):
        rnn(np.ones((0, 10, 5), np.float32))


@pytest.mark.parametrize("mode", MODES)
def test_RNN_input_size_zero(mode):
    """test_RNN_input_size_zero: a batch of 0, (5, 0, 3), gives output (5, 0, 4), and backward raises nothing."""
    rnn = getattr(nn, mode)(input_size=3, hidden_size=4, seed=0)
    outs = rnn(np.zeros((5, 0, 3), np.float32))
    assert outs[0].shape == (5, 0, 4)
    d_x = rnn.backward(np.ones_like(outs[0]))
    assert d_x.shape == (5, 0, 3)


@pytest.mark.parametrize("train", [True, False])
@pytest.mark.parametrize("p", [0, 0.276, 0.731, 1])
def test_RNN_dropout(p, train):
    """test_RNN_dropout: RNN(10, 1000, 2, relu, no bias, all weights 1) on ones: output 10000 without dropout
    (or in eval), 0 with p = 1, else near 10000 and a multiple of 10 / (1 - p); h_n[0] = 10, h_n[1] = output."""
    rnn = nn.RNN(10, 1000, 2, bias=False, dropout=p, nonlinearity="relu", dtype=np.float64, seed=0)
    rnn.train(train)
    for name in ("weight_ih_l0", "weight_hh_l0", "weight_ih_l1", "weight_hh_l1"):
        getattr(rnn, name).data.fill(1)
    output, hy = rnn(np.ones((1, 1, 10)), np.zeros((2, 1, 1000)))
    assert output.min() == output.max()
    output_val = output[0, 0, 0]
    if p == 0 or not train:
        assert output_val == 10000
    elif p == 1:
        assert output_val == 0
    else:
        assert 8000 < output_val < 12000
        denorm_mod = (output_val * (1 - p)) % 10
        assert min(denorm_mod, 10 - denorm_mod) < 1e-2
    assert hy[0].min() == hy[0].max() and hy[1].min() == hy[1].max()
    assert hy[0, 0, 0] == 10
    assert hy[1, 0, 0] == output_val


@pytest.mark.parametrize("train", [True, False])
@pytest.mark.parametrize("p", [0, 0.1234])
def test_RNN_dropout_state(p, train):
    """test_RNN_dropout_state: two calls agree without dropout or in eval and differ otherwise; so does a pickled
    and unpickled copy (PyTorch: torch.save / torch.load)."""
    rnn = nn.RNN(100, 100, 2, bias=False, dropout=p, nonlinearity="relu", dtype=np.float64, seed=0)
    rnn.train(train)
    rng = np.random.default_rng(0)
    x, hx = rng.random((1, 1, 100)), rng.random((2, 1, 100))
    output1, hy1 = rnn(x, hx)
    output2, hy2 = rnn(x, hx)
    rnn2 = pickle.loads(pickle.dumps(rnn))
    output3, hy3 = rnn2(x, hx)
    if p == 0 or not train:
        for a, b in ((output1, output2), (output1, output3), (hy1, hy2), (hy1, hy3)):
            np.testing.assert_array_equal(a, b)
    else:
        for a, b in ((output1, output2), (output1, output3), (hy1, hy2), (hy1, hy3)):
            assert not np.array_equal(a, b)


@pytest.mark.parametrize("train", [True, False])
def test_RNN_change_dropout(train):
    """test_RNN_change_dropout: `rnn.dropout = p` on a built RNN takes effect at the next call, p = 1 included:
    repeated calls agree for p in {0, 1} or in eval, and in training each p gives a new output."""
    rnn = nn.RNN(100, 100, 2, dropout=0, nonlinearity="relu", dtype=np.float64, seed=0)
    rnn.train(train)
    x = np.random.default_rng(0).random((3, 2, 100))
    prev_output = None
    for p in (0, 0.5, 0, 0.7, 0.2, 1, 0.2, 0):
        rnn.dropout = p
        output1, hy1 = rnn(x)
        output2, hy2 = rnn(x)
        assert np.isfinite(output1).all()
        if p == 0 or p == 1 or not train:
            np.testing.assert_array_equal(output1, output2)
            np.testing.assert_array_equal(hy1, hy2)
        else:
            assert not np.array_equal(output1, output2) and not np.array_equal(hy1, hy2)
        if prev_output is not None:
            assert np.array_equal(output1, prev_output) == (not train)
            assert np.array_equal(output2, prev_output) == (not train)
        prev_output = output1


def test_RNN_nonlinearity():
    """test_RNN_nonlinearity: tanh by default, relu when asked, and "Unknown nonlinearity" for anything else."""
    assert nn.RNN(1, 10).nonlinearity == "tanh"
    assert nn.RNN(1, 10, nonlinearity="relu").nonlinearity == "relu"
    with pytest.raises(ValueError, match="Unknown nonlinearity"):
        torch.nn.RNN(1, 10, nonlinearity="garbage")
    with pytest.raises(RnnlabError, match="nonlinearity"):
        nn.RNN(1, 10, nonlinearity="garbage")


def test_RNN_nonlinearity_passed_as_arg():
    """test_RNN_nonlinearity_passed_as_arg: RNN(2, 3, 1, 'relu') takes 'relu' as the nonlinearity, and runs."""
    rnn = nn.RNN(2, 3, 1, "relu", dtype=np.float64, seed=0)
    assert rnn.nonlinearity == "relu"
    out, _ = rnn(np.random.default_rng(0).normal(size=(1, 5, 2)))
    close(out, torch_twin(rnn)(t(np.random.default_rng(0).normal(size=(1, 5, 2))))[0])


@pytest.mark.parametrize("mode", MODES)
def test_rnn_retain_variables(mode):
    """test_rnn_retain_variables: backward twice through one forward gives the same gradients each time (ours
    accumulate into .grad, so the second pass doubles them)."""
    rnn = getattr(nn, mode)(10, 20, num_layers=2, dtype=np.float64, seed=0)
    x = np.random.default_rng(0).normal(size=(5, 6, 10))
    output, _ = rnn(x)
    grads = []
    for _ in range(2):
        rnn.zero_grad()
        d_x = rnn.backward(np.ones_like(output))
        grads.append([d_x] + [p.grad.copy() for p in rnn.parameters()])
    for a, b in zip(*grads, strict=True):
        np.testing.assert_array_equal(a, b)


def layer_gradcheck(layer, x, hx):
    """Relative errors of our backward against central differences, for x, hx and every parameter."""
    rng = np.random.default_rng(5)
    out, finals = layer(x, hx)
    finals = finals if isinstance(finals, tuple) else (finals,)
    R, R_f = rng.normal(size=out.shape), [rng.normal(size=f.shape) for f in finals]

    def loss():
        o, f = layer(x, hx)
        f = f if isinstance(f, tuple) else (f,)
        return float((o * R).sum() + sum((a * r).sum() for a, r in zip(f, R_f, strict=True)))

    layer.zero_grad()
    layer(x, hx)
    d_x, d_hx = layer.backward(R, *R_f)
    d_hx = d_hx if isinstance(d_hx, tuple) else (d_hx,)
    errors = {name: relative_error(p.grad, numerical_gradient(loss, p.data)) for name, p in layer.named_parameters()}
    errors["x"] = relative_error(d_x, numerical_gradient(loss, x))
    for k, h in enumerate(hx if isinstance(hx, tuple) else (hx,)):
        errors[f"hx[{k}]"] = relative_error(d_hx[k], numerical_gradient(loss, h))
    return errors


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("mode", ["LSTM", "GRU"])
def test_LSTM_and_GRU_grad_and_gradgrad(mode, bias):
    """test_LSTM_grad_and_gradgrad / test_GRU_grad_and_gradgrad: gradcheck of LSTM(4, 4) / GRU(4, 4) on a
    (1, 3, 4) input with hx, bias on and off (the gradgradcheck half is skipped: no second derivatives here)."""
    hsize = 4
    rng = np.random.default_rng(0)
    x = rng.random((1, 3, hsize))
    layer = getattr(nn, mode)(hsize, hsize, bias=bias, dtype=np.float64, seed=0)
    hx = rng.random((1, 3, hsize))
    hx = (hx, rng.random((1, 3, hsize))) if mode == "LSTM" else hx
    errors = layer_gradcheck(layer, x, hx)
    assert max(errors.values()) < 1e-6, errors


def forward_backward(rnn, theirs, x, lengths, hx, cx, batch_first, grad_output, grad_hy, grad_cy):
    """_test_RNN_cpu_vs_cudnn's forward_backward, ours against torch's CPU path: outputs, states, every gradient."""
    from rnnlab.nn.utils.rnn import pack_padded_sequence as ours_pack

    is_lstm = isinstance(rnn, nn.LSTM)
    t_x = t(x, True)
    t_hx = (t(hx, True), t(cx, True)) if is_lstm else t(hx, True)
    if lengths is not None:
        inp = ours_pack(x, lengths, batch_first=batch_first)
        t_inp = torch.nn.utils.rnn.pack_padded_sequence(t_x, torch.as_tensor(lengths), batch_first=batch_first)
    else:
        inp, t_inp = x, t_x
    output, hy = rnn(inp, (hx, cx) if is_lstm else hx)
    t_output, t_hy = theirs(t_inp, t_hx)
    out_data = output.data if lengths is not None else output
    t_out_data = t_output.data if lengths is not None else t_output
    close(out_data, t_out_data, what="output")
    close(hy, t_hy, what="hy")
    finals = (grad_hy, grad_cy) if is_lstm else (grad_hy,)
    if lengths is not None:
        d_x, d_hx = packed_backward(rnn, grad_output, *finals)
    else:
        d_x, d_hx = rnn.backward(grad_output, *finals)
    t_outs = [t_out_data, *(t_hy if is_lstm else (t_hy,))]
    torch.autograd.backward(t_outs, [t(g) for g in (grad_output, *finals)])
    if lengths is not None:
        from rnnlab.nn.utils.rnn import PackedSequence
        from rnnlab.nn.utils.rnn import pad_packed_sequence as ours_pad

        if not isinstance(d_x, PackedSequence):
            d_x = PackedSequence(d_x, inp.batch_sizes, inp.sorted_indices, inp.unsorted_indices)
        d_x = ours_pad(d_x, batch_first=batch_first, total_length=x.shape[1 if batch_first else 0])[0]
    close(d_x, t_x.grad, what="grad_input")
    close(d_hx, tuple(h.grad for h in t_hx) if is_lstm else t_hx.grad, what="grad_hx")
    param_grads_close(rnn, theirs)


def noncontig(a):
    """PyTorch's make_noncontig: the same values in a strided view."""
    return np.stack([np.zeros_like(a), a], a.ndim)[..., 1]


CPU_VS_CUDNN = [(mode, *flags) for mode in MODES for flags in itertools.product((True, False), repeat=4)]


@pytest.mark.parametrize("case", CPU_VS_CUDNN, ids=lambda c: "{}-bias{}-bi{}-bf{}-varlen{}".format(*c))
def test_RNN_cpu_vs_cudnn_no_dropout(case):
    """test_RNN_cpu_vs_cudnn_no_dropout (_test_RNN_cpu_vs_cudnn), with torch's CPU path as the reference in place
    of cuDNN: 2 layers, input 10, hidden 6, T 7, B 6; bias, bidirectional, batch_first, contiguous or strided
    arrays, variable lengths [7, 5, 5, 2, 1, 1] packed (as a list or as an array); PyTorch's contig and
    lens_as_tensor flags alternate over the cases rather than multiplying them, to keep the suite fast."""
    mode, bias, bidirectional, batch_first, variable_len = case
    I, H, L, T, B = 10, 6, 2, 7, 6
    D = 2 if bidirectional else 1
    index = CPU_VS_CUDNN.index(case)
    rng = np.random.default_rng(index)
    for contig, lens_as_array in [(index % 2 == 0, index // 2 % 2 == 0)]:  # PyTorch's two flags, spread over cases
        x = rng.normal(size=(B, T, I) if batch_first else (T, B, I))
        grad_output = rng.normal(size=(B, T, H * D) if batch_first else (T, B, H * D))
        hx, grad_hy = rng.normal(size=(L * D, B, H)), rng.normal(size=(L * D, B, H))
        if not contig:
            x, grad_output, hx, grad_hy = map(noncontig, (x, grad_output, hx, grad_hy))
        lengths = None
        if variable_len:
            lengths = [7, 5, 5, 2, 1, 1]
            lengths = np.array(lengths) if lens_as_array else lengths
            packed = torch.nn.utils.rnn.pack_padded_sequence(t(grad_output), torch.as_tensor(lengths),
                                                             batch_first=batch_first)
            grad_output = packed.data.numpy()
        rnn = getattr(nn, mode)(I, H, L, bias=bias, bidirectional=bidirectional, batch_first=batch_first,
                                dtype=np.float64, seed=1)
        theirs = torch_twin(rnn)
        forward_backward(rnn, theirs, x, lengths, hx, hx + 1, batch_first, grad_output, grad_hy, grad_hy + 1)
