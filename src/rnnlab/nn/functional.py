"""Small helpers shared by the cells: time ordering, state arrays, reusable memory, compiled steps."""

import functools
import os

import numpy as np

# Set RNNLAB_FUSED=0 to run every cell step in NumPy (to step through it in a debugger, say).
FUSED = os.environ.get("RNNLAB_FUSED", "1") != "0"


def fused(function, dtype: np.dtype):
    """The compiled twin of a NumPy function (same name in `kernels`, same arguments) when it applies.

    It applies to float32 when numba is installed and `FUSED` is on; otherwise `function` itself.
    float64 always runs in NumPy: it is for checking gradients and PyTorch parity to 1e-10, which
    the compiled steps' float32 tanh approximation would not meet.
    """
    if not FUSED or dtype != np.float32:
        return function
    kernels = _kernels()
    return function if kernels is None else getattr(kernels, function.__name__)


@functools.cache
def _kernels():
    try:
        from rnnlab.nn import kernels
    except (ImportError, RuntimeError):  # numba missing, or no place to cache compiled code: NumPy does the same
        return None
    return kernels


def add_rows(target: np.ndarray, ids: np.ndarray, values: np.ndarray) -> None:
    """target[ids[n]] += values[n] for every n, repeated ids adding up. target (V, K), ids (N,), values (N, K).

    The gradient of a table lookup (an embedding, or input projections looked up by token).
    """
    np.add.at(target, ids, values)


def time_steps(num_steps: int, reverse: bool) -> range:
    """The order a direction visits time steps: 0..T-1 forward, T-1..0 reverse."""
    return range(num_steps - 1, -1, -1) if reverse else range(num_steps)


def time_chunks(num_steps: int, reverse: bool, length: int) -> list[range]:
    """`time_steps` cut into runs of `length` steps (the last run shorter), in the order visited."""
    steps = time_steps(num_steps, reverse)
    return [steps[i : i + length] for i in range(0, num_steps, length)]


def span(steps: range) -> slice:
    """The time slice a run of steps covers, whichever way it goes: range(5, 2, -1) -> slice(3, 6)."""
    return slice(steps.start, steps.stop) if steps.step > 0 else slice(steps.stop + 1, steps.start + 1)


def padded_states(states: np.ndarray, first_state: np.ndarray, reverse: bool) -> np.ndarray:
    """Place the initial state in a (T+2, B, H) array for the states of one direction.

    `states[t + 1]` is the state after time step t. The initial state sits just before
    the first step visited: `states[0]` going forward, `states[T + 1]` in reverse. So
    step t always reads its previous state at `t + 1 - step` with step = +1 or -1, and
    the previous states of all steps, in time order, are one contiguous slice
    (`previous_states`): that makes every weight gradient one matrix product.
    """
    states[-1 if reverse else 0] = first_state
    return states


def previous_states(states: np.ndarray, reverse: bool) -> np.ndarray:
    """(T, B, H): the state each time step started from, in time order (a view)."""
    return states[2:] if reverse else states[:-2]


class Workspace:
    """Named arrays kept from one call to the next.

    A training step allocates the same large arrays every time (states, gates, their
    gradients). Fresh large arrays come from the operating system as new pages, and
    touching each page the first time costs more than the arithmetic on it; reusing the
    arrays of the previous step avoids that. Only a layer's own scratch and caches live
    here, never an array handed back to the caller.
    """

    def __init__(self) -> None:
        self._arrays: dict[str, np.ndarray] = {}

    def empty(self, name: str, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        """An uninitialised array of this shape and dtype, the same memory as last time if it fits."""
        array = self._arrays.get(name)
        if array is None or array.shape != shape or array.dtype != dtype:
            array = self._arrays[name] = np.empty(shape, dtype)
        return array


def recurrent_weight(W_hh: np.ndarray, rows: int) -> np.ndarray:
    """W_hh^T (H, G), the matrix every step multiplies the state by.

    When the time loop multiplies many rows (T*B at least H), a contiguous copy pays for itself:
    BLAS multiplies it faster than a transposed view. For a few rows (generating one character at
    a time) that copy would cost more than all the products, so the view is returned.
    """
    return W_hh.T if rows < W_hh.shape[1] else transposed(W_hh)


def transposed(a: np.ndarray, block: int = 32) -> np.ndarray:
    """a.T (N, M) as a contiguous array. A large one is copied `block` rows of a at a time: the strided copy
    of the whole transpose visits memory a column at a time, ~3.5x as slow for a (2048, 512) float32 matrix
    (5.5 ms against 1.5 ms); below 2^18 elements that way is as fast or faster."""
    if a.size < 2**18 or a.T.flags.c_contiguous:
        return np.ascontiguousarray(a.T)
    out = np.empty(a.shape[::-1], a.dtype)
    for i in range(0, len(a), block):
        out[:, i : i + block] = a[i : i + block].T
    return out
