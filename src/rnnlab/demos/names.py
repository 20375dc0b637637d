"""Which language is a surname from? A character bi-GRU on the 18-language surnames data, then top-3 guesses.

The data is practical-pytorch's names folder (one file per language, one surname a line). Repeated
(name, language) pairs are dropped first, a stratified 10% is held out, and a `SequenceClassifier`
trains for a few minutes at most; the demo prints held-out accuracy beside the majority class and
the three likeliest languages for a handful of names. `benchmarks/classify.py` runs the full-length
version of this.
"""

from __future__ import annotations

import os
from pathlib import Path

from rnnlab import checks
from rnnlab.argparsing import Parser, checked

DEFAULT_DATA = Path(os.environ.get("RNNLAB_DATA", Path.cwd().parent / "shared" / "data")) / "names"
NAMES = ["Dostoevsky", "Jackson", "Satoshi", "Nguyen", "Schmidt", "O'Neill", "Rossi", "Kowalski", "Dubois"]


def main(argv: list[str] | None = None) -> None:
    parser = Parser(prog="rnnlab demo names", description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA), help=f"the names folder ({DEFAULT_DATA})")
    parser.add_argument("--epochs", type=checked(int, checks.epochs), default=10,
                        help="passes over the training names (10)")
    parser.add_argument("--minutes", type=checked(float, checks.positive), default=3.0, help="training time limit (3)")
    parser.add_argument("names", nargs="*", default=NAMES, help="surnames to classify afterwards")
    args = parser.parse_args(argv)
    from rnnlab.baselines.classification import majority_class
    from rnnlab.data.datasets import deduplicate, load_dataset, stratified_split
    from rnnlab.tasks.classify import SequenceClassifier

    data = load_dataset(args.data)
    texts, labels = deduplicate(data.inputs, data.labels)
    kept, held = stratified_split(labels, 0.1, seed=0)
    print(f"{len(data)} lines, {len(texts)} distinct (name, language) pairs; training on {len(kept)}, "
          f"testing on {len(held)}")
    # pooling and dropout as `classify train --tune` chose them on the training names (docs/classify.md)
    clf = SequenceClassifier(pooling="last", dropout=0.5, epochs=args.epochs, minutes=args.minutes)
    clf.fit([texts[i] for i in kept], labels[kept])
    result = clf.evaluate([texts[i] for i in held], labels[held])
    majority = (majority_class(labels[kept], len(held)) == labels[held]).mean()
    print(f"held-out accuracy {result['accuracy']:.3f}, macro-F1 {result['macro_f1']:.3f} "
          f"(majority class {majority:.3f}); trained {clf.train_seconds_:.0f} s")
    unknown = clf.unknown_characters(args.names)
    if unknown:
        print(f"note: characters not seen in training read as <unk>: {' '.join(map(repr, unknown))}")
    for name, best in zip(args.names, clf.top_k(args.names, 3), strict=True):
        print(f"{name:14s} " + ", ".join(f"{label} {p:.2f}" for label, p in best))
