"""Sequence to sequence learning for addition: read "535+61", write "596" (the Keras example), with attention.

Keras's example (addition_rnn.py) trains an LSTM encoder-decoder on 50,000 random sums of two numbers of up
to 3 digits, each question written as text, and notes that reversing the question helps. Here the same
questions train a `Seq2Seq` (character tokens, a bi-LSTM encoder and an attention decoder, Adam annealed over
30 epochs). The questions are distinct (a question and its other order, "61+535", count as one); 2,000 of
them, drawn at random, are a test set scored once at the end, and 10% of the rest validate each epoch (the
best epoch is kept).
"""

from __future__ import annotations

import re

import numpy as np

from rnnlab import checks
from rnnlab.argparsing import Parser, checked

EXAMPLES = ["535+61", "1+1", "999+999", "70+3", "123+456"]


def make_sums(count: int, digits: int, rng: np.random.Generator) -> list[str]:
    """`count` distinct questions "a+b" with a, b of 1..`digits` digits (each length equally likely), in the
    order drawn; a question and its other order ("61+535") count as one, so only the first drawn is kept."""
    questions: dict[str, None] = {}
    while len(questions) < count:
        a, b = (int(rng.integers(10 ** (n - 1) if n > 1 else 0, 10 ** n)) for n in rng.integers(1, digits + 1, 2))
        if f"{b}+{a}" not in questions:
            questions[f"{a}+{b}"] = None
    return list(questions)


def distinct_sums(digits: int) -> int:
    """How many questions exist up to the order of the numbers: pairs from the 10**digits numbers."""
    return 10**digits * (10**digits + 1) // 2


def answer(question: str) -> str:
    a, b = question.split("+")
    return str(int(a) + int(b))


def main(argv: list[str] | None = None) -> None:
    parser = Parser(prog="rnnlab demo addition", description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=checked(int, checks.int_in(100, 10**6)), default=50_000,
                        help="training questions (50,000, as Keras)")
    parser.add_argument("--digits", type=checked(int, checks.int_in(2, 9)), default=3,
                        help="digits of each number, at most, 2 to 9 (3; 1 digit makes too few questions)")
    parser.add_argument("--reverse", action="store_true", help="read each question backwards (Keras's trick)")
    parser.add_argument("--epochs", type=checked(int, checks.epochs), default=30,
                        help="passes over the training questions; the learning rate anneals over them (30)")
    parser.add_argument("--minutes", type=checked(float, checks.positive), default=5.0, help="training time limit (5)")
    parser.add_argument("--seed", type=checked(int, checks.seed), default=0, help="random seed (0)")
    parser.add_argument("questions", nargs="*", default=EXAMPLES, help="sums to answer afterwards")
    args = parser.parse_args(argv)
    for question in args.questions:
        if not re.fullmatch(r"[0-9]+\+[0-9]+", question):  # (isdigit() takes "²", which int() refuses)
            parser.error(f"argument questions: {question!r} is not a sum such as 535+61")
    test_count = min(2000, distinct_sums(args.digits) // 10)
    if args.examples + test_count > distinct_sums(args.digits) // 2:
        parser.error(f"argument --examples: at most {distinct_sums(args.digits) // 2 - test_count} distinct questions "
                     f"with {args.digits} digits leave room for the held-out ones, got {args.examples}")
    from rnnlab.tasks.seq2seq import Seq2Seq

    rng = np.random.default_rng(args.seed)
    pool = make_sums(args.examples + test_count, args.digits, rng)  # one pool, split at random: the short sums,
    questions = [pool[i] for i in rng.permutation(len(pool))]  # of which there are few, fall on both sides alike
    test, train = questions[:test_count], questions[test_count:]
    read = (lambda q: q[::-1]) if args.reverse else (lambda q: q)
    print(f"{len(train)} training questions, {len(test)} held-out test questions "
          f"(numbers of up to {args.digits} digits{', read backwards' if args.reverse else ''})")
    model = Seq2Seq(hidden_size=128, embedding_dim=32, dropout=0.0, label_smoothing=0.0, batch_size=128, lr=4e-3,
                    lr_schedule="cosine", epochs=args.epochs, patience=None, minutes=args.minutes, val_fraction=0.1,
                    seed=args.seed)
    model.fit([read(q) for q in train], [answer(q) for q in train])
    scores = model.evaluate([read(q) for q in test], [answer(q) for q in test])
    print(f"validation exact match {model.best_val_exact_match_:.4f}; held-out test exact match "
          f"{scores['exact_match']:.4f}, digit error rate {scores['token_error_rate']:.4f}; trained "
          f"{model.train_seconds_:.0f} s, {len(model.history_)} epochs")
    for question, guess in zip(args.questions, model.predict([read(q) for q in args.questions]), strict=True):
        mark = "ok" if guess == answer(question) else f"wrong (is {answer(question)})"
        print(f"{question:>16s} = {guess:<8s} {mark}")
