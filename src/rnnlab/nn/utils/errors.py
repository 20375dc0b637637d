"""Errors that are both an `RnnlabError` (a user mistake, one line on the command line) and the
built-in type PyTorch raises for the same mistake, so code written against `torch.nn` that catches
`TypeError`, `ValueError` or `RuntimeError` catches ours too.
"""

from rnnlab.errors import RnnlabError


class ArgumentTypeError(RnnlabError, TypeError):
    """A constructor argument of the wrong type (`bias=0`, `batch_first="False"`), as PyTorch's TypeError."""


class ArgumentValueError(RnnlabError, ValueError):
    """A value out of range (`dropout=1.5`, `input_size=0`) or an input of the wrong dtype, as PyTorch's ValueError."""


class ShapeError(RnnlabError, RuntimeError):
    """An input, state or lengths array of the wrong shape, as PyTorch's RuntimeError."""
