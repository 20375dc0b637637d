"""Hyperparameters as frozen dataclasses: one source for the API, the command line and the checks.

A task's settings are one `Config` subclass whose fields are declared with `option`:

    @dataclass(frozen=True)
    class ClassifyConfig(Config):
        hidden_size: int = option(128, "hidden units per layer and direction", check=positive_int)
        cell: str = option("gru", "recurrent cell", choices=CELLS)

From those fields come the task's constructor keywords (`SequenceClassifier(hidden_size=64)`), its
command-line flags (`--hidden-size 64`, built by `rnnlab.cli.common`), their defaults, choices and
help, and the checks run at construction. A bad value is refused where it enters, naming the
keyword (the CLI renames it to the flag the user typed):

>>> from dataclasses import dataclass
>>> @dataclass(frozen=True)
... class Example(Config):
...     hidden_size: int = option(8, "hidden units", check=positive_int)
>>> Example(hidden_size=0)
Traceback (most recent call last):
...
rnnlab.errors.InvalidArgument: Received an invalid value for argument `hidden_size`, expected a positive integer, got 0.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field, fields
from typing import Any

from rnnlab.checks import (  # noqa: F401  re-exported: configs declare their checks from here
    Check,
    boolean,
    non_negative,
    non_negative_int,
    open_fraction,
    positive,
    positive_int,
    probability,
    unit_fraction,
)
from rnnlab.errors import RnnlabError, invalid_argument


def option(default: Any, help: str, *, check: Check | None = None, choices: tuple | None = None) -> Any:
    """A config field with its help text and its check (or its allowed values).

    `None` passes every check when the field's type allows None (`int | None`).
    """
    metadata = {"help": help, "check": check, "choices": choices}
    if isinstance(default, list | dict | set):
        raise TypeError("mutable defaults are not allowed in a frozen config; use a tuple")
    return field(default=default, metadata=metadata)


ON_NAN = ("stop", "backoff")


ENGINES = ("numpy", "torch")
DEVICES = ("cpu", "cuda", "auto")
ENGINE_FIELDS = ("engine", "device", "amp")  # how a network is computed, not what it is: a loaded run may change them
RESUME_SETTINGS = ("on_nan", *ENGINE_FIELDS)  # what a resumed run may change besides its budget


def engine_option() -> Any:
    """The `engine` field of every training task's config (see `rnnlab.backends.torch_engine`)."""
    return option("numpy", "what computes the network: numpy (the reference engine) or torch (PyTorch: GPUs, "
                           "torchrun); the rest of training is the same code", choices=ENGINES)


def device_option() -> Any:
    return option("cpu", "where the torch engine computes: cpu, cuda, or auto (cuda when there is one)",
                  choices=DEVICES)


def amp_option() -> Any:
    return option(False, "bfloat16 autocast in the torch engine's forward pass", check=boolean)


def log_gradients_option() -> Any:
    """The `log_gradients` field of every training task's config."""
    return option(False, "log gradient norms per parameter and per time step, clipping events and the spectral "
                         "radius of W_hh to gradients.jsonl in the run folder", check=boolean)


def on_nan_option() -> Any:
    """The `on_nan` field of every training task's config (see `rnnlab.train.train_loop`)."""
    return option("stop", "a NaN or infinite loss or gradient: stop (the last good checkpoint is kept), or backoff "
                          "(go back to the last evaluation with half the learning rate, at most 3 times)",
                  choices=ON_NAN)


@dataclass(frozen=True)
class Config:
    """Base of every task's settings: checks each field on construction, then `check()` across fields."""

    def __post_init__(self) -> None:
        hints = typing.get_type_hints(type(self))
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None and allows_none(hints[f.name]):
                continue
            choices, check = f.metadata.get("choices"), f.metadata.get("check")
            if choices is not None and value not in choices:
                raise invalid_argument(f.name, "one of " + ", ".join(map(str, choices)), value)
            if check is not None and not check.accepts(value):
                raise invalid_argument(f.name, check.expected, value)
            if value is None:
                raise invalid_argument(f.name, f"a value of type {hints[f.name].__name__}", value)
        self.check()

    def check(self) -> None:
        """Checks that involve several fields; subclasses raise `invalid_argument` naming one of them."""

    def to_json(self) -> dict[str, Any]:
        """The settings as a JSON-ready dict (tuples become lists)."""
        return {k: list(v) if isinstance(v, tuple) else getattr(v, "item", lambda v=v: v)()
                for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Config:
        """Settings saved by `to_json`; unknown keys (from a newer rnnlab) are refused."""
        names = {f.name for f in fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise RnnlabError(f"unknown settings {', '.join(map(repr, sorted(unknown)))} (saved by a newer rnnlab?)")
        hints = typing.get_type_hints(cls)
        values = {k: tuple(v) if isinstance(v, list) and is_tuple(hints[k]) else v for k, v in data.items()}
        return cls(**values)


def allows_none(hint: Any) -> bool:
    """Whether a type hint such as `int | None` admits None."""
    return type(None) in typing.get_args(hint)


def is_tuple(hint: Any) -> bool:
    """Whether a type hint is a tuple type (`tuple[str, ...]`)."""
    return hint is tuple or typing.get_origin(hint) is tuple


def base_type(hint: Any) -> Any:
    """The type a hint stands for once None is removed: `int | None` -> int, `tuple[str, ...]` -> tuple."""
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if typing.get_origin(hint) is tuple:
        return tuple
    if args and typing.get_origin(hint) is not None and len(args) == 1:
        return args[0]
    return hint
