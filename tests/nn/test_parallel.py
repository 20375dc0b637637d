"""The engine's threads change how fast, never what: every number equal, bit for bit, at 1, 2 and 3 threads."""

import threading

import numpy as np
import pytest

from rnnlab.nn import CrossEntropyLoss, parallel, stack
from rnnlab.nn.models import ModelConfig, SequenceModel
from rnnlab.nn.packed import PACK_STEPS
from rnnlab.nn.recurrent import GRU, LSTM, RNN


@pytest.fixture(autouse=True)
def restore_threads():
    before = parallel.get_num_threads()
    yield
    parallel.set_num_threads(before)


@pytest.fixture(autouse=True)
def cut_whatever_may_be_cut(monkeypatch):
    """Work too small to be worth another thread is cut here all the same: these tests are about the numbers, and
    a cut (`parallel.shards`) only has to keep each product big enough for BLAS's general kernel."""
    monkeypatch.setattr(parallel, "WORTH", 1)


def layer_step(threads, cell, dtype, bidirectional, masked, dropout, proj_size=None, steps=4):
    """Forward and backward of a fresh 2-layer layer (same seed every call) on `threads` threads."""
    parallel.set_num_threads(threads)
    T, B, I, H = steps, 780, 5, 64  # B large enough for 3 shards of every cell's per-step product
    assert len(parallel.shards(B, H * H, threads)) == min(threads, 3)
    assert len(stack.runs(RNN(I, H, num_layers=2), T, B, reverse=False)) == T  # one step a run
    rng = np.random.default_rng(1)
    x = rng.standard_normal((T, B, I)).astype(dtype)
    d_out = rng.standard_normal((T, B, (2 if bidirectional else 1) * (proj_size or H))).astype(dtype)
    mask = np.arange(T)[:, None] < rng.integers(1, T + 1, B)[None, :] if masked else None
    kwargs = {"proj_size": proj_size} if proj_size else {}
    if cell in ("tanh", "relu"):
        layer = RNN(I, H, num_layers=2, nonlinearity=cell, bidirectional=bidirectional, dropout=dropout,
                    dtype=dtype, seed=0)
    else:
        layer = {"lstm": LSTM, "gru": GRU}[cell](I, H, num_layers=2, bidirectional=bidirectional, dropout=dropout,
                                                 dtype=dtype, seed=0, **kwargs)
    output, _ = layer(x, mask=mask)
    d_x = layer.backward(d_out)
    return [output, d_x] + [p.grad.copy() for p in layer.parameters()]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("cell", ["tanh", "relu", "lstm", "gru"])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("dropout", [0.0, 0.4])
def test_layers_give_the_same_numbers_on_any_number_of_threads(dtype, cell, bidirectional, masked, dropout):
    one = layer_step(1, cell, dtype, bidirectional, masked, dropout)
    for threads in (2, 3, 4):  # 4: two stacked one-way layers side by side, each cutting its batch in two
        many = layer_step(threads, cell, dtype, bidirectional, masked, dropout)
        for a, b in zip(one, many, strict=True):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("cell", "proj_size"), [("lstm", None), ("gru", None), ("lstm", 24)])
@pytest.mark.parametrize(("bidirectional", "masked"), [(False, False), (True, True)])
def test_step_products_from_packed_weights_too(dtype, cell, proj_size, bidirectional, masked):
    """Sequences long enough for the LSTM's and GRU's step products to go through MKL's packed weights, where the
    optional mkl package is installed (`packed.py`); through NumPy otherwise."""
    one = layer_step(1, cell, dtype, bidirectional, masked, 0.4, proj_size, steps=PACK_STEPS)
    for threads in (2, 3):
        many = layer_step(threads, cell, dtype, bidirectional, masked, 0.4, proj_size, steps=PACK_STEPS)
        for a, b in zip(one, many, strict=True):
            np.testing.assert_array_equal(a, b)


def test_projected_lstm_too():
    one = layer_step(1, "lstm", np.float32, True, True, 0.0, proj_size=3)
    np.testing.assert_array_equal(one[0], layer_step(2, "lstm", np.float32, True, True, 0.0, proj_size=3)[0])


def model_step(threads):
    """A whole training step of a SequenceModel (table path, head, loss): logits and every gradient."""
    parallel.set_num_threads(threads)
    model = SequenceModel(ModelConfig(40, 40, "lstm", 64, num_layers=2, dropout=0.2, embedding_dim=16), seed=0)
    ids = np.random.default_rng(2).integers(0, 40, (10, 160))
    assert len(parallel.shards(160, 64 * 256, threads)) == threads
    loss_fn = CrossEntropyLoss()
    logits, _ = model(ids)
    loss_fn(logits, ids)
    model.backward(loss_fn.backward())
    return [logits] + [p.grad.copy() for p in model.parameters()]


def test_a_model_step_is_the_same_on_one_and_two_threads():
    for a, b in zip(model_step(1), model_step(2), strict=True):
        np.testing.assert_array_equal(a, b)


def test_shards_cover_the_batch_and_each_is_a_big_enough_product():
    for rows in range(1, 300, 7):
        for row_work in (1, 1000, 20_000, 1 << 21):
            for threads in (1, 2, 3, 8):
                parts = parallel.shards(rows, row_work, threads)
                assert parts[0].start == 0 and parts[-1].stop == rows
                assert all(a.stop == b.start for a, b in zip(parts, parts[1:], strict=False))
                assert len(parts) <= threads
                sizes = [p.stop - p.start for p in parts]
                assert len(parts) == 1 or all(n >= 2 and n * row_work > parallel.SMALL for n in sizes)


def test_the_shards_really_run_in_other_threads():
    import time

    parallel.set_num_threads(2)
    seen = set()

    def work(part):  # long enough for the pool's thread to take the second shard (a quick one would run here)
        seen.add(threading.get_ident())
        time.sleep(0.1)

    parallel.for_each_shard(work, 8, parallel.SMALL)
    assert len(seen) == 2


def test_a_shard_error_reaches_the_caller():
    parallel.set_num_threads(2)

    def work(part):
        if part.start > 0:
            raise ValueError("shard failed")

    with pytest.raises(ValueError, match="shard failed"):
        parallel.for_each_shard(work, 8, parallel.SMALL)


@pytest.mark.parametrize(("cell", "hidden", "batch"), [("lstm", 128, 32), ("gru", 256, 12), ("tanh", 1024, 4),
                                                     ("lstm", 90, 62)])
def test_pieces_just_above_the_small_product_size_give_the_same_numbers(cell, hidden, batch):
    """Shards as small as `shards` allows (the benchmark's LSTM 128 at batch 32 is cut in two of 16 rows)."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((6, batch, 8)).astype(np.float32)
    mask = np.arange(6)[:, None] < rng.integers(1, 7, batch)[None, :]
    results = []
    for threads in (1, 2):
        parallel.set_num_threads(threads)
        layer = RNN(8, hidden, seed=0) if cell == "tanh" else {"lstm": LSTM, "gru": GRU}[cell](8, hidden, seed=0)
        output, _ = layer(x, mask=mask)
        results.append([output, layer.backward(np.ones_like(output))] + [p.grad for p in layer.parameters()])
    gates = {"lstm": 4, "gru": 3, "tanh": 1}[cell]
    assert len(parallel.shards(batch, gates * hidden * hidden, 2)) == 2
    for a, b in zip(*results, strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_forked_child_gets_threads_of_its_own():
    """The parent's pool exists; a child forked from it must not wait on the parent's threads."""
    import multiprocessing

    parallel.set_num_threads(2)
    parallel.for_each_shard(lambda part: None, 8, parallel.SMALL)  # the pool now has a worker
    context = multiprocessing.get_context("fork")
    with context.Pool(1) as pool:
        assert pool.apply_async(threads_used_in_a_child).get(timeout=60) == 2


def threads_used_in_a_child():
    import time

    seen = set()
    parallel.set_num_threads(2)
    parallel.for_each_shard(lambda part: (seen.add(threading.get_ident()), time.sleep(0.1)), 8, parallel.SMALL)
    return len(seen)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_univariate_series_too(cell):
    """input_size 1: the input weights' gradient is a product with one column (BLAS's matrix-vector path)."""
    x = np.random.default_rng(5).standard_normal((50, 256, 1)).astype(np.float32)
    results = []
    for threads in (1, 2):
        parallel.set_num_threads(threads)
        layer = {"lstm": LSTM, "gru": GRU}[cell](1, 64, seed=0)
        output, _ = layer(x)
        results.append([output, layer.backward(np.ones_like(output))] + [p.grad for p in layer.parameters()])
    for a, b in zip(*results, strict=True):
        np.testing.assert_array_equal(a, b)


def test_matmul_gives_the_numbers_of_the_plain_product():
    rng = np.random.default_rng(6)
    a = rng.standard_normal((1023, 700)).astype(np.float32)
    parallel.set_num_threads(2)
    for b in (rng.standard_normal((700, 1)).astype(np.float32), rng.standard_normal((700, 300)).astype(np.float32),
              a.T):  # one column; a general product; a @ a.T (syrk)
        np.testing.assert_array_equal(parallel.matmul(a, b), a @ b)


def test_an_error_leaves_no_shard_running():
    import time

    parallel.set_num_threads(2)
    started, finished = threading.Event(), []

    def work(part):
        if part.start == 0:  # the calling thread's shard fails once the other shard is running
            started.wait(timeout=30)
            raise ValueError("first shard failed")
        started.set()
        time.sleep(0.2)
        finished.append(part)

    with pytest.raises(ValueError, match="first shard failed"):
        parallel.for_each_shard(work, 8, parallel.SMALL)
    assert finished  # the other shard was waited for before the error came back


def test_each_shares_out_the_threads():
    parallel.set_num_threads(4)
    seen = []
    parallel.each(lambda item: seen.append((item, len(parallel.shards(8, parallel.SMALL)))), [0, 1])
    assert sorted(seen) == [(0, 2), (1, 2)]  # two threads each: enough to cut 8 rows in two
    seen.clear()
    parallel.each(lambda item: seen.append(len(parallel.shards(8, parallel.SMALL))), [0, 1, 2, 3])
    assert seen == [1, 1, 1, 1]


def test_items_waiting_on_each_other_finish_with_fewer_threads_than_items():
    """Like stacked layers: item k waits for item k - 1. Items no pool thread started run in the caller."""
    parallel.set_num_threads(2)
    done = [threading.Event() for _ in range(5)]

    def work(k):
        if k and not done[k - 1].wait(timeout=30):
            raise AssertionError(f"item {k} waited in vain")
        done[k].set()

    parallel.each(work, list(range(5)))
    assert all(event.is_set() for event in done)


def test_a_failing_layer_wakes_the_layer_waiting_on_it():
    parallel.set_num_threads(2)
    below = parallel.Relay([range(0, 2), range(2, 4)])
    above = parallel.Relay([range(0, 2), range(2, 4)], before=lambda k, steps: below.wait(k))
    handed = np.zeros(4)

    def loop(rows, steps):
        if steps.start == 2:
            raise ValueError("the layer below failed at step 2")

    def run(layer):
        (below if layer == 0 else above).run(loop if layer == 0 else lambda rows, steps: None, 1, 1, handed)

    with pytest.raises(ValueError, match="failed at step 2"):
        parallel.each(run, [0, 1])


@pytest.mark.parametrize("threads", [1, 2])
def test_shared_work_is_done_once_piece_by_piece_whoever_takes_it(threads):
    """The layer that hands runs on and the one that takes them share each run's pieces; the taker goes on
    only once every piece of its run is done, and each piece is done exactly once."""
    parallel.set_num_threads(threads)
    chunks = [range(0, 3), range(3, 6), range(6, 9)]
    done, lock = [], threading.Lock()

    def work(steps, rows):
        with lock:
            done.append((steps.start, rows.start, rows.stop))

    shared = parallel.Shared(chunks, 10, work)  # 10 rows a step: 30 a run, in two pieces
    below = parallel.Relay(chunks, share=shared.help)

    def check(k, steps):  # the layer above, before its run k
        below.wait(k)
        shared.finish(k)
        with lock:
            assert sorted(d for d in done if d[0] == steps.start) == [(steps.start, 0, 15), (steps.start, 15, 30)]

    above = parallel.Relay(chunks, before=check)
    parallel.each(lambda layer: (below, above)[layer].run(lambda rows, steps: None, 1, 1, np.zeros(9)), [0, 1])
    assert sorted(done) == [(start, a, b) for start in (0, 3, 6) for a, b in ((0, 15), (15, 30))]


def test_failing_shared_work_wakes_the_layer_waiting_for_it():
    parallel.set_num_threads(2)
    chunks = [range(0, 2), range(2, 4)]

    def work(steps, rows):
        if steps.start == 2:
            raise ValueError("a piece of run 1 failed")

    shared = parallel.Shared(chunks, 2, work)
    below = parallel.Relay(chunks, share=shared.help)
    above = parallel.Relay(chunks, before=lambda k, steps: (below.wait(k), shared.finish(k)))

    with pytest.raises(ValueError, match="a piece of run 1 failed"):
        parallel.each(lambda layer: (below, above)[layer].run(lambda rows, steps: None, 1, 1, np.zeros(4)), [0, 1])


@pytest.mark.parametrize("num_layers", [2, 3])  # 2: the dropout mask drawn run by run
@pytest.mark.parametrize("cell", [LSTM, GRU, RNN])
def test_stacked_layers_run_in_runs_and_give_what_one_run_gives(cell, num_layers, monkeypatch):
    """Five runs of steps (the layers side by side, two threads) against the same stack in a single run on one
    thread: the same outputs and gradients to float64 rounding (the products are cut differently)."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal((40, 8, 6))
    mask = np.arange(40)[:, None] < rng.integers(1, 41, 8)[None, :]
    results = []
    for threads, run_rows, count in ((1, 8 * 40, None), (2, stack.RUN_ROWS, 5)):
        parallel.set_num_threads(threads)
        monkeypatch.setattr(stack, "RUN_ROWS", run_rows)
        layer = cell(6, 16, num_layers=num_layers, dropout=0.3, dtype=np.float64, seed=0)
        steps_run = stack.runs(layer, 40, 8, reverse=False)
        assert (steps_run and len(steps_run)) == count
        output, _ = layer(x, mask=mask)
        results.append([output, layer.backward(np.cos(output))] + [p.grad for p in layer.parameters()])
    for a, b in zip(*results, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-13)


def test_work_too_small_for_another_thread_stays_whole(monkeypatch):
    monkeypatch.setattr(parallel, "WORTH", 10**7)
    row_work = 256 * 1024  # a 2 x 256 LSTM's step: (rows, 256) @ (256, 1024)
    assert parallel.shards(8, row_work, 2) == [slice(0, 8)]  # one step of 8 rows (generating 8 texts): ~2e6
    assert len(parallel.shards(8, row_work, 2, steps=20)) == 2  # twenty steps of them: ~4e7
    assert len(parallel.shards(64, row_work, 2)) == 1 and len(parallel.shards(128, row_work, 2)) == 2
