"""Sequence to sequence learning for addition: read "535+61", write "596" (the Keras example), with attention.

Keras's example (addition_rnn.py) trains an LSTM encoder-decoder on 50,000 random sums of two numbers of up
to 3 digits, each question written as text, and notes that reversing the question helps. Here the same
questions train a `Seq2Seq` (character tokens, a bi-LSTM encoder and an attention decoder); 10% of the
distinct questions are held out for early stopping, and a second held-out set of 2,000 questions never
seen in training (nor their reverse order "61+535") is scored at the end, with a few examples.
"""

from __future__ import annotations

import re

import numpy as np

from rnnlab import checks
from rnnlab.argparsing import Parser, checked

EXAMPLES = ["535+61", "1+1", "999+999", "70+3", "123+456"]


def make_sums(count: int, digits: int, rng: np.random.Generator, exclude: set[str] = frozenset()) -> list[str]:
    """`count` distinct questions "a+b" with a, b of 1..`digits` digits (each length equally likely), none in
    `exclude` and none the other order of one in it or of another question."""
    questions: set[str] = set()
    while len(questions) < count:
        a, b = (int(rng.integers(10 ** (n - 1) if n > 1 else 0, 10 ** n)) for n in rng.integers(1, digits + 1, 2))
        question, other = f"{a}+{b}", f"{b}+{a}"
        if not any(q in exclude or q in questions for q in (question, other)):
            questions.add(question)
    return sorted(questions)


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
    from threadpoolctl import threadpool_limits

    from rnnlab.tasks.seq2seq import Seq2Seq

    rng = np.random.default_rng(args.seed)
    test = make_sums(test_count, args.digits, rng)
    train = make_sums(args.examples, args.digits, rng, exclude=set(test))
    read = (lambda q: q[::-1]) if args.reverse else (lambda q: q)
    print(f"{len(train)} training questions, {len(test)} held-out test questions "
          f"(numbers of up to {args.digits} digits{', read backwards' if args.reverse else ''})")
    model = Seq2Seq(hidden_size=128, embedding_dim=32, dropout=0.0, label_smoothing=0.0, batch_size=128, lr=4e-3,
                    decay_patience=1, epochs=100, patience=4, minutes=args.minutes, val_fraction=0.1,
                    seed=args.seed)
    with threadpool_limits(1):
        model.fit([read(q) for q in train], [answer(q) for q in train])
        scores = model.evaluate([read(q) for q in test], [answer(q) for q in test])
        print(f"held-out exact match {scores['exact_match']:.4f}, digit error rate "
              f"{scores['token_error_rate']:.4f}; trained {model.train_seconds_:.0f} s, "
              f"{len(model.history_)} epochs")
        for question, guess in zip(args.questions, model.predict([read(q) for q in args.questions]), strict=True):
            mark = "ok" if guess == answer(question) else f"wrong (is {answer(question)})"
            print(f"{question:>16s} = {guess:<8s} {mark}")
