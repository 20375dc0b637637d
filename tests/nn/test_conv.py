"""Conv1d (issue 17): PyTorch parity of outputs and every gradient, padding masks, gradcheck, refused arguments."""

import itertools

import numpy as np
import pytest

from rnnlab.diagnostics.gradcheck import gradcheck
from rnnlab.diagnostics.gradcheck_conv import ConvConfig, conv_grid
from rnnlab.errors import InvalidArgument, RnnlabError
from rnnlab.nn import Conv1d

# PyTorch pads a copy of the input for an even "same" kernel, and says so: that is its business, not this test's
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel lengths:UserWarning")
C_IN, C_OUT, L = 3, 4, 20
GRID = [(k, s, p, d, bias) for k, s, p, d, bias in itertools.product((1, 3, 8), (1, 2), (0, "same", 2), (1, 2),
                                                                     (True, False)) if not (p == "same" and s > 1)]


def label(case) -> str:
    return "k{}-s{}-p{}-d{}-{}".format(*case[:4], "bias" if case[4] else "nobias")


def conv_and_input(case, seed=0):
    k, s, p, d, bias = case
    conv = Conv1d(C_IN, C_OUT, k, stride=s, padding=p, dilation=d, bias=bias, dtype=np.float64, seed=seed)
    return conv, np.random.default_rng(seed).normal(size=(3, C_IN, L))


def torch_conv(torch, conv, x, R):
    """PyTorch's conv1d of x (B, C_in, n) with the layer's weights; L = sum(y * R[..., :L_out]) backpropagated.

    Returns y, d_x, d_weight, d_bias (None without bias) as NumPy arrays.
    """
    x = torch.tensor(x, requires_grad=True)
    weight = torch.tensor(conv.weight.data, requires_grad=True)
    bias = None if conv.bias is None else torch.tensor(conv.bias.data, requires_grad=True)
    y = torch.nn.functional.conv1d(x, weight, bias, conv.stride, conv.padding, conv.dilation)
    (y * torch.from_numpy(R[..., : y.shape[2]])).sum().backward()
    return (y.detach().numpy(), x.grad.numpy(), weight.grad.numpy(), None if bias is None else bias.grad.numpy())


@pytest.mark.parametrize("case", GRID, ids=label)
def test_output_and_every_gradient_equal_torch(case):
    torch = pytest.importorskip("torch")
    conv, x = conv_and_input(case)
    y = conv(x)
    R = np.random.default_rng(1).normal(size=y.shape)
    d_x = conv.backward(R)
    y_t, d_x_t, d_w_t, d_b_t = torch_conv(torch, conv, x, R)
    assert y.shape == y_t.shape and d_x.shape == x.shape
    assert np.abs(y - y_t).max() < 1e-10 and np.abs(d_x - d_x_t).max() < 1e-10
    assert np.abs(conv.weight.grad - d_w_t).max() < 1e-10
    assert conv.bias is None or np.abs(conv.bias.grad - d_b_t).max() < 1e-10


@pytest.mark.parametrize("case", GRID, ids=label)
def test_masked_rows_equal_torch_on_each_row_alone(case):
    torch = pytest.importorskip("torch")
    lengths = (20, 15, 17)  # the longest kernel spans 15 steps: every row has an output
    conv, x = conv_and_input(case)
    mask = np.arange(L) < np.array(lengths)[:, None]
    x[~mask[:, None, :].repeat(C_IN, axis=1)] = 1e3  # padding holds junk, which must change nothing
    y = conv(x, mask)
    out_mask = conv.output_mask(mask)
    R = np.random.default_rng(1).normal(size=y.shape)  # nonzero at padded outputs too: they must pass nothing
    d_x = conv.backward(R)
    d_w_t, d_b_t = np.zeros_like(conv.weight.data), 0
    for b, n in enumerate(lengths):
        y_t, d_x_t, d_w_row, d_b_row = torch_conv(torch, conv, x[b : b + 1, :, :n], R[b : b + 1])
        n_out = y_t.shape[2]
        assert out_mask[b].sum() == n_out and out_mask[b, :n_out].all()
        assert np.abs(y[b, :, :n_out] - y_t[0]).max() < 1e-10 and (y[b, :, n_out:] == 0).all()
        assert np.abs(d_x[b, :, :n] - d_x_t[0]).max() < 1e-10 and (d_x[b, :, n:] == 0).all()
        d_w_t, d_b_t = d_w_t + d_w_row, d_b_t + (0 if d_b_row is None else d_b_row)
    assert np.abs(conv.weight.grad - d_w_t).max() < 1e-10
    assert conv.bias is None or np.abs(conv.bias.grad - d_b_t).max() < 1e-10


def test_short_rows_of_a_padded_batch():
    # lengths (9, 5, 7) in a batch of 9: "same" keeps each row's mask; a kernel of 3 without padding shortens by 2
    mask = np.arange(9) < np.array([[9], [5], [7]])
    x = np.random.default_rng(0).normal(size=(3, 2, 9))
    same, valid = Conv1d(2, 3, 3, padding="same", seed=0), Conv1d(2, 3, 3, seed=0)
    assert (same.output_mask(mask) == mask).all()
    assert valid.output_mask(mask).sum(axis=1).tolist() == [7, 3, 5]
    alone = same(x[1:2, :, :5])
    assert np.allclose(same(x, mask)[1, :, :5], alone[0], atol=1e-6)


def test_float32_by_default_and_torch_init_bounds():
    conv = Conv1d(4, 8, 5, seed=0)
    assert conv.weight.data.dtype == np.float32 and conv.weight.shape == (8, 4, 5) and conv.bias.shape == (8,)
    bound = 1 / np.sqrt(4 * 5)
    assert np.abs(conv.weight.data).max() <= bound and np.abs(conv.bias.data).max() <= bound
    assert conv(np.ones((2, 4, 9))).dtype == np.float32
    assert set(conv.state_dict()) == {"weight", "bias"}


@pytest.mark.parametrize("config", list(conv_grid()), ids=ConvConfig.label)
def test_gradcheck(config):
    errors = gradcheck(config)
    assert max(errors.values()) < 1e-6, errors


@pytest.mark.parametrize("kwargs, name", [
    (dict(in_channels=0), "in_channels"), (dict(out_channels=-1), "out_channels"), (dict(kernel_size=0), "kernel_size"),
    (dict(stride=0), "stride"), (dict(dilation=0), "dilation"), (dict(padding=-1), "padding"),
    (dict(padding="valid"), "padding"), (dict(padding="same", stride=2), "padding"), (dict(bias=1), "bias"),
])
def test_bad_arguments_are_refused_naming_them(kwargs, name):
    with pytest.raises(InvalidArgument) as error:
        Conv1d(**{"in_channels": 2, "out_channels": 3, "kernel_size": 3, **kwargs})
    assert error.value.name == name and "\n" not in str(error.value)


@pytest.mark.parametrize("x_shape, mask, words", [
    ((2, 2, 4), None, "shorter than the kernel spans"),  # kernel 5 on 4 steps, no padding
    ((2, 3, 9), None, "(B, 2, L)"),  # 3 channels for a layer of 2
    ((2, 9), None, "(B, 2, L)"),
    ((2, 2, 9), np.ones((2, 8), bool), "mask must be a bool array of shape (2, 9)"),
    ((2, 2, 9), np.ones((2, 9), int), "mask must be a bool array"),
    ((2, 2, 9), np.arange(9) >= np.array([[0], [3]]), "mask row 1 is not post-padded"),
    ((2, 2, 9), np.arange(9) < np.array([[9], [3]]), "batch row 1 has 3 real steps"),
])
def test_bad_inputs_are_refused_in_one_line(x_shape, mask, words):
    conv = Conv1d(2, 3, 5)
    with pytest.raises(RnnlabError) as error:
        conv(np.zeros(x_shape), mask)
    assert words in str(error.value) and "\n" not in str(error.value)
