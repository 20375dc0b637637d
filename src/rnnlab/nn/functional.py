"""Small array helpers shared by the cells: in-place nonlinearities and time ordering."""

import numpy as np


def sigmoid_(x: np.ndarray) -> np.ndarray:
    """sigmoid(x) = 1 / (1 + exp(-x)), in place, computed as 0.5 * (1 + tanh(x / 2)).

    The tanh form never overflows, and works on strided views (a gate's columns).
    """
    x *= 0.5
    np.tanh(x, out=x)
    x *= 0.5
    x += 0.5
    return x


def time_steps(num_steps: int, reverse: bool) -> range:
    """The order a direction visits time steps: 0..T-1 forward, T-1..0 reverse."""
    return range(num_steps - 1, -1, -1) if reverse else range(num_steps)


def padded_states(first_state: np.ndarray, num_steps: int, reverse: bool) -> np.ndarray:
    """A (T+2, B, H) array for the states of one direction, indexed by time.

    `states[t + 1]` is the state after time step t. The initial state sits just before
    the first step visited: `states[0]` going forward, `states[T + 1]` in reverse. So
    step t always reads its previous state at `t + 1 - step` with step = +1 or -1, and
    the previous states of all steps, in time order, are one contiguous slice
    (`previous_states`): that makes every weight gradient one matrix product.
    """
    batch, hidden = first_state.shape
    states = np.empty((num_steps + 2, batch, hidden), dtype=first_state.dtype)
    states[num_steps + 1 if reverse else 0] = first_state
    return states


def previous_states(states: np.ndarray, reverse: bool) -> np.ndarray:
    """(T, B, H): the state each time step started from, in time order (a view)."""
    return states[2:] if reverse else states[:-2]
