"""The one error type for user mistakes: bad arguments, unreadable files, malformed data.

The CLI catches it, prints its message on one line and exits with status 2.
"""


class RnnlabError(Exception):
    """A problem with what the user gave us (an argument, a file, a checkpoint), not a bug."""


def invalid_argument(name: str, expected: str, got: object) -> RnnlabError:
    """The error for a bad argument, in Keras's words: name, what was expected, what came.

    >>> print(invalid_argument("units", "a positive integer", 0))
    Received an invalid value for argument `units`, expected a positive integer, got 0.
    """
    return RnnlabError(f"Received an invalid value for argument `{name}`, expected {expected}, got {got!r}.")
