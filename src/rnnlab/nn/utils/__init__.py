"""Utilities around the recurrent layers, as `torch.nn.utils`: `rnn` holds packed sequences."""

from rnnlab.nn.utils import rnn as rnn

__all__ = ["rnn"]
