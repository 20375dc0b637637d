"""Batches for a language model, as char-rnn makes them: B parallel streams through the text.

The ids are cut into B equal, contiguous streams (B, L). Batch k takes the next T + 1
characters of every stream: inputs are the first T, targets the last T (shifted by one).
Consecutive batches continue each stream where the last one stopped, so the hidden state
can be carried from one batch to the next (truncated backpropagation through time).
When a stream has fewer than T + 1 characters left, all streams go back to the start and
the carried state is reset, as the seed's min-char-rnn does.

>>> streams = TextStreams(np.arange(20), batch_size=2, seq_len=3)
>>> x, y, reset = streams.next_batch()
>>> x.T.tolist(), y.T.tolist(), reset
([[0, 1, 2], [10, 11, 12]], [[1, 2, 3], [11, 12, 13]], True)
>>> streams.next_batch()[0].T.tolist()
[[3, 4, 5], [13, 14, 15]]
"""

from __future__ import annotations

import numpy as np

from rnnlab.errors import RnnlabError


class TextStreams:
    """B streams of length L over a 1-D id array (a memmap is read lazily, never copied whole)."""

    def __init__(self, ids: np.ndarray, batch_size: int, seq_len: int, position: int = 0) -> None:
        length = len(ids) // batch_size
        if length < seq_len + 2:
            raise RnnlabError(
                f"text too short: {len(ids)} characters make {batch_size} streams of {length}, "
                f"but a batch needs {seq_len + 2} per stream (use fewer streams or a shorter sequence length)"
            )
        self.streams = ids[: batch_size * length].reshape(batch_size, length)  # (B, L), a view
        self.seq_len, self.position = seq_len, position

    def next_batch(self) -> tuple[np.ndarray, np.ndarray, bool]:
        """inputs (T, B) int64, targets (T, B) int64, and whether the streams restarted."""
        T = self.seq_len
        reset = self.position == 0 or self.position + T + 1 >= self.streams.shape[1]
        if reset:
            self.position = 0
        window = np.asarray(self.streams[:, self.position : self.position + T + 1], dtype=np.int64)  # (B, T+1)
        self.position += T
        return window[:, :-1].T, window[:, 1:].T, reset

    def __iter__(self):
        """One pass from the start, without wrapping (for evaluation)."""
        T, length = self.seq_len, self.streams.shape[1]
        for start in range(0, length - 1, T):
            stop = min(start + T, length - 1)
            window = np.asarray(self.streams[:, start : stop + 1], dtype=np.int64)
            yield window[:, :-1].T, window[:, 1:].T
