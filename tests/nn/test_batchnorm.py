"""BatchNorm1d (issue 17): PyTorch parity in training and eval mode, running statistics, padding masks,
buffers in the state dict, gradcheck, refused arguments."""

import itertools

import numpy as np
import pytest

from rnnlab.diagnostics.gradcheck import gradcheck
from rnnlab.diagnostics.gradcheck_conv import BatchNormConfig, batchnorm_grid
from rnnlab.errors import InvalidArgument, RnnlabError
from rnnlab.nn import BatchNorm1d, Linear, Module
from rnnlab.optim import SGD

C, B, L = 3, 4, 6
LENGTHS = (9, 5, 7)


def pair(torch, affine=True, momentum=0.1, track_running_stats=True, seed=0):
    """Our layer and torch's, with the same random affine parameters."""
    ours = BatchNorm1d(C, momentum=momentum, affine=affine, track_running_stats=track_running_stats, dtype=np.float64)
    theirs = torch.nn.BatchNorm1d(C, momentum=momentum, affine=affine, track_running_stats=track_running_stats,
                                  dtype=torch.float64)
    rng = np.random.default_rng(seed)
    for p in ours.parameters():
        p.data[...] = rng.normal(size=p.shape)
    if affine:
        theirs.load_state_dict({name: torch.from_numpy(value) for name, value in ours.state_dict().items()})
    return ours, theirs


def step(torch, ours, theirs, x, R, to_torch=lambda a: a, mask=None) -> float:
    """One forward and backward of both; the largest difference of outputs and gradients.

    `to_torch` maps a (B, C, L) array to torch's layout (the real steps gathered into (N, C)).
    """
    ours.zero_grad()
    theirs.zero_grad()
    y = ours(x, mask)
    d_x = ours.backward(R)
    x_t = torch.tensor(to_torch(x), requires_grad=True)
    y_t = theirs(x_t)
    (y_t * torch.from_numpy(to_torch(R))).sum().backward()
    diffs = [np.abs(to_torch(y) - y_t.detach().numpy()).max(), np.abs(to_torch(d_x) - x_t.grad.numpy()).max()]
    if ours.affine:
        diffs += [np.abs(ours.weight.grad - theirs.weight.grad.numpy()).max(),
                  np.abs(ours.bias.grad - theirs.bias.grad.numpy()).max()]
    if mask is not None:  # padded outputs are 0 and padded inputs get no gradient
        padded = ~mask[:, None, :].repeat(C, axis=1)  # (B, C, L)
        diffs += [np.abs(y[padded]).max(), np.abs(d_x[padded]).max()]
    return max(diffs)


def running_difference(ours, theirs) -> float:
    return max(np.abs(ours.running_mean - theirs.running_mean.numpy()).max(),
               np.abs(ours.running_var - theirs.running_var.numpy()).max(),
               abs(int(ours.num_batches_tracked) - int(theirs.num_batches_tracked)))


@pytest.mark.parametrize("sequence, affine, momentum", [(s, a, 0.1) for s, a in itertools.product((False, True),
                                                        (True, False))] + [(True, True, None)])
def test_three_training_steps_then_eval_equal_torch(sequence, affine, momentum):
    torch = pytest.importorskip("torch")
    ours, theirs = pair(torch, affine, momentum)
    rng = np.random.default_rng(1)
    shape = (B, C, L) if sequence else (B, C)
    for _ in range(3):
        x = rng.normal(2, 3, size=shape)
        assert step(torch, ours, theirs, x, rng.normal(size=shape)) < 1e-10
        assert running_difference(ours, theirs) < 1e-10
    ours.eval()
    theirs.eval()
    assert step(torch, ours, theirs, rng.normal(size=shape), rng.normal(size=shape)) < 1e-10


def test_without_running_statistics_eval_uses_the_batch_as_torch_does():
    torch = pytest.importorskip("torch")
    ours, theirs = pair(torch, track_running_stats=False)
    assert ours.running_mean is None and set(ours.state_dict()) == set(theirs.state_dict()) == {"weight", "bias"}
    ours.eval()
    theirs.eval()
    rng = np.random.default_rng(2)
    assert step(torch, ours, theirs, rng.normal(size=(B, C, L)), rng.normal(size=(B, C, L))) < 1e-10


def test_masked_batch_equals_torch_on_the_gathered_real_steps():
    torch = pytest.importorskip("torch")
    ours, theirs = pair(torch)
    mask = np.arange(max(LENGTHS)) < np.array(LENGTHS)[:, None]  # (B, L)

    def gathered(a):  # (B, C, L) -> the real steps as one (N, C) batch
        return a.transpose(0, 2, 1)[mask]

    rng = np.random.default_rng(3)
    shape = (len(LENGTHS), C, max(LENGTHS))
    for _ in range(3):
        x = np.where(mask[:, None, :], rng.normal(1, 2, size=shape), 1e3)  # junk at padding changes nothing
        assert step(torch, ours, theirs, x, rng.normal(size=shape), gathered, mask) < 1e-10
        assert running_difference(ours, theirs) < 1e-10
    ours.eval()
    theirs.eval()
    assert step(torch, ours, theirs, rng.normal(size=shape), rng.normal(size=shape), gathered, mask) < 1e-10


def test_a_torch_state_dict_loads_unchanged_and_buffers_are_not_parameters():
    torch = pytest.importorskip("torch")
    theirs = torch.nn.BatchNorm1d(C, dtype=torch.float64)
    for _ in range(2):
        theirs(torch.randn(5, C, dtype=torch.float64) * 3 + 1)
    ours = BatchNorm1d(C)  # float32: the values are cast, num_batches_tracked stays an int64
    ours.load_state_dict({name: value.numpy() for name, value in theirs.state_dict().items()})
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert ours.num_batches_tracked.dtype == np.int64 and int(ours.num_batches_tracked) == 2
    assert np.allclose(ours.running_var, theirs.running_var.numpy())
    assert [name for name, _ in ours.named_parameters()] == ["weight", "bias"]

    class Net(Module):
        def __init__(self):
            super().__init__()
            self.norm, self.head = BatchNorm1d(C, dtype=np.float64), Linear(C, 1, dtype=np.float64)

    net = Net()
    assert [name for name, _ in net.named_buffers()] == ["norm.running_mean", "norm.running_var",
                                                         "norm.num_batches_tracked"]
    saved = net.state_dict()
    assert list(saved) == ["norm.weight", "norm.bias", "norm.running_mean", "norm.running_var",  # PyTorch's order
                           "norm.num_batches_tracked", "head.weight", "head.bias"]
    net.norm(np.random.default_rng(0).normal(size=(6, C)))  # moves the running statistics
    for p in net.parameters():
        p.grad[...] = 1
    SGD(net.parameters(), lr=0.1).step()
    assert not np.allclose(net.norm.running_mean, saved["norm.running_mean"])
    net.load_state_dict(saved)  # the buffers come back with the parameters
    assert all(np.array_equal(value, saved[name]) for name, value in net.state_dict().items())


@pytest.mark.parametrize("config", list(batchnorm_grid()), ids=BatchNormConfig.label)
def test_gradcheck(config):
    errors = gradcheck(config)
    assert max(errors.values()) < 1e-6, errors


@pytest.mark.parametrize("kwargs, name", [
    (dict(num_features=0), "num_features"), (dict(eps=0), "eps"), (dict(momentum=1.5), "momentum"),
    (dict(affine="yes"), "affine"), (dict(track_running_stats=None), "track_running_stats"),
    (dict(dtype=np.int32), "dtype"),
])
def test_bad_arguments_are_refused_naming_them(kwargs, name):
    with pytest.raises(InvalidArgument) as error:
        BatchNorm1d(**{"num_features": C, **kwargs})
    assert error.value.name == name and "\n" not in str(error.value)


@pytest.mark.parametrize("x_shape, mask, words", [
    ((4, 2), None, "(B, 3) or (B, 3, L)"),
    ((4, 3, 5, 1), None, "(B, 3) or (B, 3, L)"),
    ((4, 3), np.ones((4, 1), bool), "a mask needs input of shape (B, 3, L)"),
    ((4, 3, 5), np.ones((4, 4), bool), "mask must be a bool array of shape (4, 5)"),
    ((4, 3, 5), np.ones((4, 5)), "mask must be a bool array"),
    ((1, 3), None, "more than 1 value per channel"),
    ((2, 3, 5), np.arange(5) < np.array([[1], [0]]), "more than 1 value per channel"),
])
def test_bad_inputs_are_refused_in_one_line(x_shape, mask, words):
    with pytest.raises(RnnlabError) as error:
        BatchNorm1d(C)(np.zeros(x_shape), mask)
    assert words in str(error.value) and "\n" not in str(error.value)
