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


def require(name: str, value: Any, check: Check) -> Any:
    """`value` if `check` accepts it, else the error naming `name`."""
    return require_that(name, value, check.expected, check.accepts(value))


def require_that(name: str, value: Any, expected: str, valid: bool) -> Any:
    """`value` if `valid`, else the error naming `name` and what was `expected`."""
    if not valid:
        raise invalid_argument(name, expected, value)
    return value
