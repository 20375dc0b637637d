"""The time steps' products through MKL's packed weights (when the optional mkl package is installed) give
NumPy's numbers to rounding, the same numbers for any rows cut from a batch, and NumPy's exactly without it."""

import numpy as np
import pytest

from rnnlab.nn import packed
from rnnlab.nn.packed import PACK_STEPS, StepWeight
from rnnlab.nn.recurrent import GRU, LSTM

needs_mkl = pytest.mark.skipif(packed.mkl() is None, reason="the optional mkl package is not installed")
TOLERANCE = {np.float32: 2e-5, np.float64: 1e-12}


@pytest.fixture
def no_mkl(monkeypatch):
    monkeypatch.setattr(packed, "mkl", lambda: None)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("transposed", [False, True])
@pytest.mark.parametrize(("rows", "steps"), [(32, 64), (5, PACK_STEPS), (1, 64), (32, 1)])
def test_a_step_weight_multiplies_as_numpy_does(dtype, transposed, rows, steps):
    rng = np.random.default_rng(0)
    W = rng.standard_normal((48, 37) if transposed else (37, 48)).astype(dtype)
    W = W.T if transposed else W  # (37, 48) either way; a transposed view, as W_hh.T is
    a = rng.standard_normal((rows + 3, 37)).astype(dtype)[3:]  # rows of a larger array, as a time step's are
    out = np.empty((rows, 48), dtype)
    step = StepWeight(W, rows, steps)
    assert step.dot(a, out=out) is out
    np.testing.assert_allclose(out, a @ W, rtol=TOLERANCE[dtype], atol=TOLERANCE[dtype])


def test_without_mkl_every_step_is_numpys_own_product(no_mkl):
    rng = np.random.default_rng(1)
    W, a = rng.standard_normal((64, 256)).astype(np.float32), rng.standard_normal((32, 64)).astype(np.float32)
    step = StepWeight(W.T.T, 32, 64)
    np.testing.assert_array_equal(step.dot(a, out=np.empty((32, 256), np.float32)), a @ W)


@needs_mkl
def test_only_loops_long_enough_and_batches_of_two_rows_or_more_are_packed():
    W = np.ones((16, 64), np.float32)
    assert StepWeight(W, 2, PACK_STEPS)._packed is not None
    assert StepWeight(W, 2, PACK_STEPS - 1)._packed is None  # packing would cost more than it saves
    assert StepWeight(W, 1, 1000)._packed is None  # one row: generating text, say
    assert StepWeight(W.astype(np.float16), 32, 1000)._packed is None  # MKL packs float32 and float64 only


@needs_mkl
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("rows", "K", "N"), [(32, 256, 1024), (7, 100, 300), (5, 33, 97), (12, 1024, 256)])
def test_each_row_comes_out_the_same_however_many_rows_are_multiplied_together(dtype, rows, K, N):
    """What keeps results independent of the thread count: a batch's shards (two rows or more) give its rows."""
    rng = np.random.default_rng(2)
    W, a = rng.standard_normal((K, N)).astype(dtype), rng.standard_normal((rows, K)).astype(dtype)
    step = StepWeight(W, rows, 64)
    whole = step.dot(a, out=np.empty((rows, N), dtype))
    for cut in range(2, rows - 1):
        top = step.dot(a[:cut], out=np.empty((cut, N), dtype))
        bottom = step.dot(a[cut:], out=np.empty((rows - cut, N), dtype))
        np.testing.assert_array_equal(np.vstack([top, bottom]), whole)


def test_rnnlab_mkl_0_turns_mkl_off(monkeypatch):
    monkeypatch.setenv("RNNLAB_MKL", "0")
    assert packed.mkl.__wrapped__() is None  # (the cached answer is this process's; a new one reads the variable)


def test_a_step_weight_refuses_rows_that_are_not_contiguous():
    step = StepWeight(np.ones((8, 4), np.float32), 4, PACK_STEPS)
    if step._packed is None:
        pytest.skip("only the packed product reads raw memory")
    with pytest.raises(ValueError, match="contiguous rows"):
        step.dot(np.ones((4, 16), np.float32)[:, ::2], out=np.empty((4, 4), np.float32))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("layer", [LSTM, GRU])
def test_layers_give_numpys_numbers_with_mkl_and_without(layer, dtype, monkeypatch):
    def step():
        rng = np.random.default_rng(3)
        net = layer(6, 24, num_layers=2, bidirectional=True, dtype=dtype, seed=0)
        x = rng.standard_normal((3 * PACK_STEPS, 5, 6)).astype(dtype)  # long enough to pack
        mask = np.arange(len(x))[:, None] < np.array([24, 9, 24, 1, 17])[None, :]
        output, _ = net(x, mask=mask)
        d_x = net.backward(rng.standard_normal(output.shape).astype(dtype))
        return [output, d_x] + [p.grad for p in net.parameters()]

    with_mkl = step()
    monkeypatch.setattr(packed, "mkl", lambda: None)
    for a, b in zip(with_mkl, step(), strict=True):
        np.testing.assert_allclose(a, b, rtol=TOLERANCE[dtype] * 10, atol=TOLERANCE[dtype] * 10)


@needs_mkl
@pytest.mark.parametrize("layer_class", [LSTM, GRU])
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize(("num_layers", "bidirectional", "T"), [(1, True, 12), (2, False, 40)])
def test_compiled_loops_give_the_python_loops_numbers_bit_for_bit(layer_class, threads, masked, num_layers,
                                                                  bidirectional, T, monkeypatch):
    """In float32 with MKL the LSTM's and GRU's time loops run compiled, whole (`packed.loop_for`): the same
    products and steps as the Python loops, for both directions, masks, shards and relayed runs of steps."""
    from rnnlab.nn import functional, gru, lstm, parallel

    if not functional.FUSED or functional._kernels() is None:
        pytest.skip("numba not installed, or RNNLAB_FUSED=0: no compiled loops")
    rng = np.random.default_rng(4)
    x, d = rng.standard_normal((T, 40, 6)).astype(np.float32), rng.standard_normal((T, 40, 8 + 8 * bidirectional))
    mask = rng.random((T, 40)) > 0.2 if masked else None
    results = []
    cell = lstm if layer_class is LSTM else gru
    for loop_for in (packed.loop_for, lambda function, W: (function, W)):  # compiled, then the Python loops
        monkeypatch.setattr(cell, "loop_for", loop_for)
        layer = layer_class(6, 8, num_layers=num_layers, bidirectional=bidirectional, seed=3)
        with parallel.threads(threads):
            output, states = layer(x, mask=mask)
            d_x = layer.backward(d.astype(np.float32))
        results.append([output, *np.atleast_1d(states), d_x] + [p.grad for p in layer.parameters()])
    assert packed.loop_for(lstm.lstm_sequence_forward, StepWeight(np.ones((8, 32), np.float32), 40, T))[0] is not (
        lstm.lstm_sequence_forward)  # the compiled loops run
    for compiled, python in zip(*results, strict=True):
        np.testing.assert_array_equal(compiled, python)
