"""The tagger's network: word embedding + character bi-LSTM + word shape, then a sentence bi-LSTM.

For a batch of B sentences padded to T words, with N distinct word forms among them:

    word vector   e_w = E_word[lower(word)]                        (T, B, Dw)   <unk> for unseen words
    char vector   e_c = [h_fwd_last ; h_bwd_first] of a bi-LSTM    (N, 2Hc)     one batched run over the
                        over the characters of each distinct form                N forms, masked by length
    shape vector  e_s = E_shape[shape(word)]                       (T, B, Ds)   lower / Title / UPPER / digit / punct
    x = dropout([e_w ; e_c[form index] ; e_s])                     (T, B, Dw + 2Hc + Ds)
    h = bi-LSTM(x, mask)                                           (T, B, 2H)
    logits = Linear(dropout(h))                                    (T, B, K)

The character encoder runs once per distinct form in the batch (not once per token), so a
step costs one char-LSTM forward over (L, N) and one sentence-LSTM forward over (T, B).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnnlab.nn import LSTM, Dropout, Embedding, Linear, Module

SHAPES = ("lower", "title", "upper", "digit", "punct", "other")


def word_shape(word: str) -> int:
    """The index in `SHAPES` of a word's form: its capitalisation, digits or punctuation.

    >>> [SHAPES[word_shape(w)] for w in ("eat", "London", "USA", "42nd", "?!", "iPhone")]
    ['lower', 'title', 'upper', 'digit', 'punct', 'other']
    """
    if any(ch.isdigit() for ch in word):
        return 3
    if not any(ch.isalpha() for ch in word):
        return 4
    if word.islower():
        return 0
    if word.isupper():
        return 2
    if word[0].isupper() and (len(word) == 1 or word[1:].islower()):
        return 1
    return 5


@dataclass(frozen=True)
class TaggerNetConfig:
    """Sizes of the network; `num_words` and `num_chars` include the padding and <unk> ids 0 and 1."""

    num_words: int
    num_chars: int
    num_tags: int
    word_dim: int = 100
    char_dim: int = 32
    char_hidden: int = 50
    shape_dim: int = 8
    hidden_size: int = 200
    dropout: float = 0.5


class TaggerNet(Module):
    """Per-token tag scores for a padded batch of sentences (see the module docstring).

    >>> net = TaggerNet(TaggerNetConfig(num_words=10, num_chars=8, num_tags=3, hidden_size=16), seed=0)
    >>> batch = {"words": np.array([[2], [3]]), "shapes": np.zeros((2, 1), int), "forms": np.array([[0], [1]]),
    ...          "chars": np.array([[2, 3, 0], [4, 5, 6]]), "char_mask": np.array([[1, 1, 0], [1, 1, 1]], bool),
    ...          "mask": np.ones((2, 1), bool)}
    >>> net(batch).shape  # (T, B, K)
    (2, 1, 3)
    """

    def __init__(self, config: TaggerNetConfig, dtype: type = np.float32, seed: int | None = None) -> None:
        super().__init__()
        rng = np.random.default_rng(seed)
        c = config
        self.config = c
        self.word_embedding = Embedding(c.num_words, c.word_dim, padding_idx=0, dtype=dtype, seed=rng)
        self.word_embedding.weight.data *= 0.1  # N(0, 0.01): small vectors learn faster under Adam
        self.char_embedding = Embedding(c.num_chars, c.char_dim, padding_idx=0, dtype=dtype, seed=rng)
        self.char_embedding.weight.data *= 0.1
        self.char_lstm = LSTM(c.char_dim, c.char_hidden, bidirectional=True, dtype=dtype, seed=rng)
        self.shape_embedding = Embedding(len(SHAPES), c.shape_dim, dtype=dtype, seed=rng)
        self.shape_embedding.weight.data *= 0.1
        input_size = c.word_dim + 2 * c.char_hidden + c.shape_dim
        self.input_dropout = Dropout(c.dropout, seed=rng)
        self.lstm = LSTM(input_size, c.hidden_size, bidirectional=True, dtype=dtype, seed=rng)
        self.output_dropout = Dropout(c.dropout, seed=rng)
        self.head = Linear(2 * c.hidden_size, c.num_tags, dtype=dtype, seed=rng)
        self.dropout_generator = rng  # what both dropout layers draw their masks from (saved for an exact resume)
        self._cache = None

    def forward(self, batch: dict[str, np.ndarray]) -> np.ndarray:
        """batch: words, shapes, forms (T, B) int; chars (N, L) int; char_mask (N, L) bool; mask (T, B) bool.

        `forms[t, b]` is the row of `chars` holding the characters of word t of sentence b.
        Returns logits (T, B, num_tags) in the model's dtype.
        """
        chars = self.char_embedding(batch["chars"].T)  # (L, N, Dc)
        _, (h_n, _) = self.char_lstm(chars, mask=batch["char_mask"].T)  # h_n (2, N, Hc)
        char_vectors = np.concatenate([h_n[0], h_n[1]], axis=1)  # (N, 2Hc)
        x = np.concatenate([self.word_embedding(batch["words"]), char_vectors[batch["forms"]],
                            self.shape_embedding(batch["shapes"])], axis=2)  # (T, B, Dw + 2Hc + Ds)
        x = self.input_dropout(x)
        h, _ = self.lstm(x, mask=batch["mask"])  # (T, B, 2H)
        logits = self.head(self.output_dropout(h))  # (T, B, K)
        self._cache = (batch["forms"], chars.shape[0], len(char_vectors))
        return logits

    def backward(self, d_logits: np.ndarray) -> None:
        """d_logits: (T, B, K); adds every parameter's gradient to its `.grad`."""
        forms, L, num_forms = self._cache
        c = self.config
        d_x = self.lstm.backward(self.output_dropout.backward(self.head.backward(d_logits)))
        d_x = self.input_dropout.backward(d_x)  # (T, B, Dw + 2Hc + Ds)
        Dw, Dc2 = c.word_dim, 2 * c.char_hidden
        self.word_embedding.backward(d_x[:, :, :Dw])
        self.shape_embedding.backward(d_x[:, :, Dw + Dc2:])
        d_char_vectors = np.zeros((num_forms, Dc2), d_x.dtype)  # (N, 2Hc), summed over each form's tokens
        np.add.at(d_char_vectors, forms.ravel(), d_x[:, :, Dw:Dw + Dc2].reshape(-1, Dc2))
        d_h_n = np.stack([d_char_vectors[:, :c.char_hidden], d_char_vectors[:, c.char_hidden:]])  # (2, N, Hc)
        d_chars = self.char_lstm.backward(np.zeros((L, num_forms, Dc2), d_x.dtype), d_h_n=d_h_n)
        self.char_embedding.backward(d_chars)
