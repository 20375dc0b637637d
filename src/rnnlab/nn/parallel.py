"""Every core for one batch: rows of a batch in shards, stacked layers side by side, each in a thread.

The rows of a batch never meet inside a recurrent layer: row b's states depend on row b's
inputs only. So each shard of rows can run the time loop in its own thread, and a big
matrix product can be cut into blocks of rows, one per thread. Stacked one-way layers can
run at the same time too, each a run of steps behind the one below it (a `Relay` hands the
steps on, `stack.py`). The threads share the arrays (each writes only its own part) and run
at the same time because the work inside releases Python's lock: BLAS products (each on one
BLAS thread) and the compiled cell kernels (`kernels.py`, `nogil`). `each` shares out the
threads: work given two threads or more may cut its own work again.

Results do not depend on the number of threads, bit for bit: OpenBLAS computes each row of a
product the same way whatever the number of rows, as long as the product goes through its
general kernel. Some products take other paths, whose sums round differently: a single row or
a single column (matrix-vector), a small product (OpenBLAS's small-matrix kernels, below about
100^3 multiply-adds), and a @ a.T (numpy's syrk). So a batch is only cut where every piece keeps
at least two rows and more than SMALL multiply-adds, and those products are never cut; smaller
work stays whole, in the calling thread. The cell kernels work row by row, and how a stack of
layers is cut into runs of steps depends on its shape only. `tests/nn/test_parallel.py` checks it
for every cell, direction, mask and dropout. Apart from that, work is only cut where each piece is
worth a thread (WORTH multiply-adds in all); cut or not, the numbers are the same.

    set_num_threads(2)                 # as torch.set_num_threads; default: `default_threads()`
    for_each_shard(loop, 64, 10**6)    # loop(slice(0, 32)) and loop(slice(32, 64)) in two threads
    matmul(a, b, out)                  # out = a @ b, the rows of a in blocks, one per thread
    each(work, [0, 1])                 # work(0) and work(1) in two threads, one thread each
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import contextmanager

import numpy as np

from rnnlab import checks
from rnnlab.checks import require
from rnnlab.errors import RnnlabError
from rnnlab.nn.functional import span, time_steps

MIN_ROWS = 2  # one row takes BLAS's matrix-vector path
SMALL = 10**6  # multiply-adds: OpenBLAS takes its small-matrix kernels at this many or fewer
WORTH = 10**7  # multiply-adds a thread's piece needs in all (~0.1 ms): handing work to a thread costs ~0.05-0.08 ms
PIECES = 2  # `Shared` work on a run of steps is cut in this many pieces: smaller pieces multiply slower


def default_threads() -> int:
    """RNNLAB_NUM_THREADS if set; under torchrun this process's share of the cores; else OMP_NUM_THREADS if set
    (joblib's workers get their share there); else every core this process may use."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    if os.environ.get("RNNLAB_NUM_THREADS", "").isdigit():
        return max(1, int(os.environ["RNNLAB_NUM_THREADS"]))
    if os.environ.get("LOCAL_WORLD_SIZE", "").isdigit():
        return max(1, cores // max(1, int(os.environ["LOCAL_WORLD_SIZE"])))
    if os.environ.get("OMP_NUM_THREADS", "").isdigit():
        return max(1, int(os.environ["OMP_NUM_THREADS"]))
    return cores


_threads = default_threads()
_pool: ThreadPoolExecutor | None = None
_blas_limited = False
_inside = threading.local()  # .budget: the threads the work of this thread may use, when `each` gave it a share


def _forget_pool() -> None:
    """In a forked child: the parent's worker threads do not exist here, so start a pool of its own."""
    global _pool
    _pool = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


def set_num_threads(threads: int) -> None:
    """Use `threads` threads for the engine's work (1: all in the calling thread)."""
    global _threads
    _threads = require("threads", threads, checks.threads)


def get_num_threads() -> int:
    return _threads


@contextmanager
def threads(count: int | None) -> Iterator[None]:
    """Within: the engine uses `count` threads (None: `default_threads()`); the previous count after."""
    before = _threads
    set_num_threads(default_threads() if count is None else count)
    try:
        yield
    finally:
        set_num_threads(before)


def _budget() -> int:
    """The threads this thread's work may use: its share inside `each`, else all of them."""
    return getattr(_inside, "budget", None) or _threads


def shards(rows: int, row_work: int, threads: int | None = None, steps: int = 1) -> list[slice]:
    """`rows` cut into at most `threads` near-equal slices, each of MIN_ROWS rows and SMALL work per product at
    least, and WORTH work in all.

    row_work: the multiply-adds of one row of the product a piece computes (K * N of an (M, K) @ (K, N)).
    threads: None for the threads this thread may use. steps: the products each piece computes (a time loop's
    steps). Smaller work stays whole: a single step while generating text, say, where another thread would
    cost more than it saves.
    """
    if rows * row_work * steps < 2 * WORTH:  # (the common case while generating text: decided at once)
        return [slice(0, rows)]
    least = max(MIN_ROWS, SMALL // max(row_work, 1) + 1)  # rows a piece needs
    return cut(rows, max(1, min(threads or _budget(), rows // least, rows * row_work * steps // WORTH)))


def for_each_shard(work: Callable[[slice], None], rows: int, row_work: int) -> None:
    """Call `work(rows_slice)` for each shard of `rows` rows (see `shards`), the shards in parallel threads."""
    each(work, shards(rows, row_work))


def each(work: Callable, items: list) -> None:
    """Call `work(item)` for every item, in parallel threads that share out the threads this thread may use.

    An item given two threads or more may cut its own work again (`for_each_shard`, `matmul`, `each`).
    The calling thread takes the first item; an item no pool thread has started when it is done runs
    here too, so work never waits on a busy pool.
    """
    one_blas_thread()
    budget = _budget()
    if len(items) == 1 or budget == 1:
        for item in items:
            work(item)
        return
    share = max(1, budget // len(items))
    pool = _executor()
    futures = {pool.submit(_with_budget, share, work, item): item for item in items[1:]}
    try:
        _with_budget(share, work, items[0])
        for future, item in futures.items():
            if future.cancel():  # not started: no pool thread was free for it
                _with_budget(share, work, item)
    finally:
        for future in futures:
            future.cancel()  # after an error: what has not started never will
        wait(futures)  # every thread done with the shared arrays before anything is raised
    for future in futures:
        if not future.cancelled():
            future.result()  # re-raises a thread's exception here


def run_all(work: Callable, items: list, together: bool) -> None:
    """work(item) for every item: in parallel threads (`each`) when `together`, else in turn, here."""
    if together and len(items) > 1:
        each(work, items)
    else:
        for item in items:
            work(item)


def _with_budget(threads: int, work: Callable, item) -> None:
    """work(item), with `threads` threads for the engine work it calls."""
    before = getattr(_inside, "budget", None)
    _inside.budget = threads
    try:
        work(item)
    finally:
        _inside.budget = before


class Relay:
    """A time loop run in runs of steps, each run announced when done, so that a layer stacked on this one
    can follow it a run behind, in another thread (`stack.py`: stacked one-way layers at the same time).

    chunks: the runs of steps (ranges), in the order the loop visits them. before(k, steps) is called before
    run k (to wait for the layer below and compute this run's inputs), after(k, steps) after it (to hand its
    outputs on); then waiters on run k go on, and share(k) helps with the work they do on it (`Shared.help`).
    `handed`: the array the loop writes and the next layer reads. A relay of a single run announces nothing:
    the layer that reads it runs after it, in the same thread.
    """

    def __init__(self, chunks: list[range], before: Callable | None = None, after: Callable | None = None,
                 share: Callable[[int], None] | None = None):
        self.chunks, self.before, self.after, self.share = chunks, before, after, share
        self.handed: np.ndarray | None = None
        self._done = [threading.Event() for _ in chunks] if len(chunks) > 1 else None
        self._failed = False

    @classmethod
    def whole(cls, num_steps: int, reverse: bool) -> Relay:
        """All steps in one run, nothing before or after: a layer that feeds no other layer as it runs."""
        return cls([time_steps(num_steps, reverse)])

    def run(self, loop: Callable[[slice, range], None], rows: int, row_work: int, handed: np.ndarray,
            prepare: Callable[[slice], None] | None = None) -> None:
        """loop(rows_slice, steps) for each run, its rows in shards (see `for_each_shard`); prepare(time_slice)
        before each (after `before`). handed: what the loop writes for the next layer."""
        self.handed = handed
        one_blas_thread()
        try:
            for k, steps in enumerate(self.chunks):
                if self.before:
                    self.before(k, steps)
                if prepare:
                    prepare(span(steps))
                parts = shards(rows, row_work, steps=len(steps))
                if len(parts) == 1:
                    loop(parts[0], steps)
                else:
                    each(functools.partial(loop, steps=steps), parts)
                if self.after:
                    self.after(k, steps)
                if self._done:
                    self._done[k].set()
                if self.share:
                    self.share(k)
        except BaseException:
            self._failed = True
            for done in self._done or []:  # wake a layer waiting on this one: it fails too
                done.set()
            raise

    def wait(self, k: int) -> None:
        """Until run k is done."""
        if self._done:
            self._done[k].wait()
        if self._failed:
            raise RnnlabError("the layer this one waits for failed")


class Shared:
    """Work on each run of steps that two threads share: its rows cut in PIECES pieces, taken one at a time by
    the thread that hands the run on, as soon as it is announced (`help`), and by the thread that receives it,
    when it gets there (`finish`, which then waits until every piece is done). Whichever thread is ahead does
    more of it. The pieces are fixed by the run's shape, so the numbers never depend on who computes which.

    work(steps, rows): the rows `rows` (a slice) of the work on run `steps`, whose rows are its steps times
    `rows_per_step` (a batch's rows).
    """

    def __init__(self, chunks: list[range], rows_per_step: int, work: Callable[[range, slice], None]):
        self.chunks, self.work = chunks, work
        rows = [len(steps) * rows_per_step for steps in chunks]
        self._pieces = [cut(n, max(1, min(PIECES, n // MIN_ROWS))) for n in rows]
        self._taken = [0] * len(chunks)
        self._left = [len(p) for p in self._pieces]
        self._all_done = [threading.Event() for _ in chunks]
        self._lock = threading.Lock()
        self._failed = False

    def help(self, k: int) -> None:
        """Take pieces of run k and work on them until none is left."""
        try:
            while (piece := self._take(k)) is not None:
                self.work(self.chunks[k], piece)
                with self._lock:
                    self._left[k] -= 1
                    if self._left[k] == 0:
                        self._all_done[k].set()
        except BaseException:
            self._failed = True
            for done in self._all_done:  # wake a thread waiting in `finish`: it fails too
                done.set()
            raise

    def finish(self, k: int) -> None:
        """Work on what is left of run k, then wait until every piece of it is done."""
        self.help(k)
        self._all_done[k].wait()
        if self._failed:
            raise RnnlabError("the layer this one waits for failed")

    def _take(self, k: int) -> slice | None:
        with self._lock:
            if self._taken[k] == len(self._pieces[k]):
                return None
            self._taken[k] += 1
            return self._pieces[k][self._taken[k] - 1]


def cut(rows: int, count: int) -> list[slice]:
    """`rows` cut into `count` consecutive near-equal slices."""
    bounds = [rows * k // count for k in range(count + 1)]
    return [slice(a, b) for a, b in zip(bounds, bounds[1:], strict=False)]


def matmul(a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """out (M, N) = a (M, K) @ b (K, N), blocks of a's rows in parallel threads (the same numbers as `a @ b`)."""
    M, K = a.shape
    N = b.shape[1]
    # not cut: too small; one column (BLAS's matrix-vector path); a @ a.T (numpy's syrk, not gemm)
    if M * K * N < 2 * WORTH or N == 1 or _budget() == 1 or np.may_share_memory(a, b):  # cheapest tests first
        one_blas_thread()
        return np.matmul(a, b, out=out)
    if out is None:
        out = np.empty((M, N), np.result_type(a, b))
    for_each_shard(lambda part: np.matmul(a[part], b, out=out[part]), M, K * N)
    return out


def one_blas_thread() -> None:
    """Keep BLAS to one thread (once per process): the engine's own threads share out the cores.

    Several BLAS threads under each of ours would fight over the cores, and a product's sums are
    rounded differently on another number of BLAS threads, which would make results depend on it.
    (Code that raises BLAS's thread count afterwards, with threadpoolctl, undoes this.)
    """
    global _blas_limited
    if not _blas_limited:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1, user_api="blas")
        _blas_limited = True


def _executor() -> ThreadPoolExecutor:
    """The worker threads: one fewer than `_threads`, as the calling thread works too."""
    global _pool
    pool = _pool
    if pool is None or pool._max_workers < _threads - 1:  # a larger one when more threads are asked for; the
        pool = _pool = ThreadPoolExecutor(_threads - 1, thread_name_prefix="rnnlab")  # old one ends when unused
    return pool
