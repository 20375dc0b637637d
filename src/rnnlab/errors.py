"""The one error type for user mistakes: bad arguments, unreadable files, malformed data.

The CLI catches it, prints its message on one line and exits with status 2.
"""

from __future__ import annotations


class RnnlabError(Exception):
    """A problem with what the user gave us (an argument, a file, a checkpoint), not a bug."""


class InvalidArgument(RnnlabError):
    """A bad value for a named argument; `for_flag` words it for the command line."""

    def __init__(self, name: str, expected: str, got: object) -> None:
        self.name, self.expected, self.got = name, expected, got
        super().__init__(f"Received an invalid value for argument `{name}`, expected {expected}, got {got!r}.")

    def for_flag(self, flag: str) -> InvalidArgument:
        """The same error naming the command-line flag (`--hidden-size`) instead of the keyword."""
        return InvalidArgument(flag, self.expected, self.got)


def invalid_argument(name: str, expected: str, got: object) -> InvalidArgument:
    """The error for a bad argument, in Keras's words: name, what was expected, what came.

    >>> print(invalid_argument("units", "a positive integer", 0))
    Received an invalid value for argument `units`, expected a positive integer, got 0.
    """
    return InvalidArgument(name, expected, got)


class Diverged(RnnlabError):
    """Training met a NaN or infinite loss or gradient at `step`; the run's last good checkpoint is kept.

    Not a usage error: the command exits with `exit_status` 1, not 2.
    """

    exit_status = 1

    def __init__(self, step: int, what: str, backoffs: int = 0) -> None:
        self.step, self.what = step, what
        tried = f", after {backoffs} back-offs" if backoffs else ""
        hint = "a lower --lr or gradient clipping" + ("" if backoffs else ", or --on-nan backoff")
        super().__init__(f"step {step}: {what}{tried}; training stopped before using it, and the run keeps its "
                         f"last checkpoint (try {hint})")
