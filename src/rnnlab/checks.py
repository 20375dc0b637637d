"""Argument checks, written once: a value either passes or the error names the argument, what was
expected and what came (Keras's words), raised where the value enters.

>>> require("hidden_size", 64, positive_int)
64
>>> require("hidden_size", 0, positive_int)
Traceback (most recent call last):
...
rnnlab.errors.InvalidArgument: Received an invalid value for argument `hidden_size`, expected a positive integer, got 0.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import Any, NamedTuple

from rnnlab.errors import invalid_argument


def is_int(value: Any) -> bool:
    """An integer (Python's or NumPy's), not a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_real(value: Any) -> bool:
    """A real number (infinities included), not a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    """A finite real number, not a bool."""
    return is_real(value) and math.isfinite(value)


class Check(NamedTuple):
    """A predicate on one value and the words for what it accepts ("a positive integer")."""

    expected: str
    accepts: Callable[[Any], bool]


positive_int = Check("a positive integer", lambda v: is_int(v) and v > 0)
non_negative_int = Check("an integer >= 0", lambda v: is_int(v) and v >= 0)
positive = Check("a positive number", lambda v: is_number(v) and v > 0)
non_negative = Check("a non-negative number", lambda v: is_number(v) and v >= 0)
probability = Check("a number in [0, 1)", lambda v: is_number(v) and 0 <= v < 1)
open_fraction = Check("a number in (0, 1)", lambda v: is_number(v) and 0 < v < 1)
unit_fraction = Check("a number in (0, 1]", lambda v: is_number(v) and 0 < v <= 1)
boolean = Check("True or False", lambda v: isinstance(v, bool))


# ---- upper bounds -------------------------------------------------------------------------------------------
# A size beyond these is a typing slip (an extra digit or three), not an experiment: refused where it enters,
# before anything is allocated, so that `--hidden-size 1000000000` is an error naming the flag and not a
# MemoryError minutes later, and so that a checkpoint's JSON cannot ask for one either.
MAX_UNITS = 2**16          # hidden units, embedding and feature sizes: a 65536 x 65536 float32 matrix is 16 GiB
MAX_LAYERS = 64            # stacked recurrent layers
MAX_LENGTH = 2**16         # time steps through which gradients flow: seq_len, lookback, horizon, word length
MAX_BATCH_SIZE = 2**20     # sequences or windows per step
MAX_STEPS = 10**8          # optimisation steps, or evaluations between them (days of training even for tiny nets)
MAX_EPOCHS = 10**5         # passes over a data set
MAX_ENSEMBLE = 100         # networks trained one after another
MAX_ORIGINS = 10**4        # refits of a backtest
MAX_THREADS = 1024         # BLAS threads
MAX_SAMPLE_CHARS = 10**7   # characters generated in one call (~10 MB of text)
MAX_BEAM = 100             # hypotheses kept per source by beam search
MAX_SEED = 2**32 - 1       # NumPy's legacy RandomState (the min-char-rnn initialisation) takes seeds below 2**32
MAX_WEIGHTS = 2**30        # recurrent weights of one network: 4 GiB as float32, before gradients and optimizer state


def int_in(low: int, high: int) -> Check:
    """An integer in [low, high].

    >>> int_in(1, 64).expected
    'an integer in [1, 64]'
    """
    return Check(f"an integer in [{low}, {high}]", lambda v: is_int(v) and low <= v <= high)


units = int_in(1, MAX_UNITS)
units_or_zero = int_in(0, MAX_UNITS)
layers = int_in(1, MAX_LAYERS)
length = int_in(1, MAX_LENGTH)
batch_size = int_in(1, MAX_BATCH_SIZE)
steps = int_in(1, MAX_STEPS)
steps_or_zero = int_in(0, MAX_STEPS)
epochs = int_in(1, MAX_EPOCHS)
ensemble_size = int_in(1, MAX_ENSEMBLE)
threads = int_in(1, MAX_THREADS)
sample_chars = int_in(1, MAX_SAMPLE_CHARS)
sample_length = int_in(0, MAX_SAMPLE_CHARS)  # the API's sample(0) is the empty text
seed = int_in(0, MAX_SEED)
beam = int_in(1, MAX_BEAM)
length_penalty = Check("a number in [0, 10]", lambda v: is_number(v) and 0 <= v <= 10)


def recurrent_weights(cell: str, input_size: int, hidden_size: int, num_layers: int, directions: int = 1) -> int:
    """The weights and biases of a stack of recurrent layers: gates x H x (inputs + H + 2) per layer and direction.

    >>> recurrent_weights("lstm", 10, 20, 1)
    2560
    """
    gates = {"lstm": 4, "gru": 3}.get(cell, 1)
    first = gates * hidden_size * (input_size + hidden_size + 2)
    later = gates * hidden_size * (directions * hidden_size + hidden_size + 2)
    return directions * (first + (num_layers - 1) * later)


def require_weights(name: str, value: Any, weights: int) -> None:
    """Refuse, naming `name`, a network of more than MAX_WEIGHTS recurrent weights (before it is built)."""
    require_that(name, value, f"a size whose network has at most {MAX_WEIGHTS:,} recurrent weights "
                 f"(this one would have {weights:,})", weights <= MAX_WEIGHTS)


def require(name: str, value: Any, check: Check) -> Any:
    """`value` if `check` accepts it, else the error naming `name`."""
    return require_that(name, value, check.expected, check.accepts(value))


def require_that(name: str, value: Any, expected: str, valid: bool) -> Any:
    """`value` if `valid`, else the error naming `name` and what was `expected`."""
    if not valid:
        raise invalid_argument(name, expected, value)
    return value
