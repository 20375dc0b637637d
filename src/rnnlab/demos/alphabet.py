"""Seed 001's Keras example: predict the next letter from 1-5 letters, pre-padded to 5 and scaled by 26.

The seed builds 1000 random runs of consecutive letters ("IJKL" -> "M"), pads them in front with 0
to length 5 (Keras's `pad_sequences` default), divides by 26, and trains `LSTM(32)` + `Dense(26,
softmax)` with Adam for 50 epochs at batch size 1 (50,000 updates). Here the same network is a
`SequenceClassifier` (one LSTM layer of 32, its final state, a linear head) fed the same (1000, 5, 1)
array: the padding zeros are ordinary inputs, as in the seed, which has no Masking layer. Batches of
16 for 150 epochs (9,400 updates, Adam at 0.02 annealed to 0.0002) run in seconds and reach 100%
accuracy on the 1000 sequences.
"""

from __future__ import annotations

import numpy as np

from rnnlab import checks
from rnnlab.argparsing import Parser, checked

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
MAX_LEN = 5


def make_data(num_inputs: int = 1000, seed: int = 7) -> tuple[list[list[int]], list[int]]:
    """The seed's data: runs of 1-5 consecutive letter ids and the id of the letter after each."""
    rng = np.random.RandomState(seed)  # the seed uses numpy.random.seed(7) and randint
    inputs, targets = [], []
    for _ in range(num_inputs):
        start = rng.randint(len(ALPHABET) - 2)
        end = rng.randint(start, min(start + MAX_LEN, len(ALPHABET) - 1))
        inputs.append(list(range(start, end + 1)))
        targets.append(end + 1)
    return inputs, targets


def to_features(runs: list[list[int]]) -> np.ndarray:
    """Pre-pad with 0 to length 5 and divide by 26: (N, 5, 1) float32, as the seed's X."""
    padded = np.zeros((len(runs), MAX_LEN), np.float32)
    for row, run in enumerate(runs):
        padded[row, MAX_LEN - len(run):] = run
    return (padded / len(ALPHABET))[:, :, None]


def main(argv: list[str] | None = None) -> None:
    parser = Parser(prog="rnnlab demo alphabet", description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=checked(int, checks.epochs), default=150,
                        help="passes over the 1000 sequences (150; the seed's 50 at batch size 1 are 3x more updates)")
    parser.add_argument("--batch-size", type=checked(int, checks.batch_size), default=16,
                        help="the seed uses 1; 16 is as good and quicker")
    args = parser.parse_args(argv)
    from rnnlab.tasks.classify import SequenceClassifier

    runs, targets = make_data()
    X = to_features(runs)
    letters = np.array([ALPHABET[t] for t in targets])
    for run, target in list(zip(runs, targets, strict=True))[:5]:
        print("".join(ALPHABET[i] for i in run), "->", ALPHABET[target])
    clf = SequenceClassifier(cell="lstm", hidden_size=32, bidirectional=False, pooling="last", dropout=0.0,
                             lr=2e-2, lr_min_factor=0.01, batch_size=args.batch_size, epochs=args.epochs,
                             val_fraction=0.0, clip_norm=None, znorm=False, conv_filters=0, seed=7)
    clf.fit(list(X), letters, progress=False)
    score = clf.evaluate(list(X), letters)["accuracy"]
    print(f"Model Accuracy: {100 * score:.2f}% ({clf.train_seconds_:.1f} s of training)")
    rng = np.random.RandomState(1)
    for _ in range(20):
        run = runs[rng.randint(len(runs))]
        predicted = clf.predict(list(to_features([run])))[0]
        print([ALPHABET[i] for i in run], "->", predicted)
    new = [[0, 1, 2], [7], [20, 21, 22, 23], [11, 12]]
    print("new inputs:", ", ".join(f"{''.join(ALPHABET[i] for i in r)} -> {p}"
                                   for r, p in zip(new, clf.predict(list(to_features(new))), strict=True)))
