"""Spell a word, get its pronunciation: grapheme-to-phoneme conversion trained on the CMU Pronouncing Dictionary.

Trains a `Seq2Seq` (characters in, ARPAbet phonemes out, stress removed) on the fixed training split of
CMUdict for a few minutes, early-stopped on its dev split, prints the dev exact match and phoneme error
rate, and then pronounces the words given (by default a few that are not in the dictionary). With
`--ckpt RUN` it skips training and uses a run trained by `rnnlab seq2seq train` (for instance the one
`benchmarks/seq2seq.py` writes, which trains for 30 minutes and is far better than this demo's few).
"""

from __future__ import annotations

import os
from pathlib import Path

from rnnlab import checks
from rnnlab.argparsing import Parser, checked, output_file

DEFAULT_DATA = Path(os.environ.get("RNNLAB_DATA", Path.cwd().parent / "shared" / "data")) / "cmudict"
WORDS = ["rnnlab", "backprop", "shakespearean", "tokenizer", "glassbox", "pytorch"]


def main(argv: list[str] | None = None) -> None:
    parser = Parser(prog="rnnlab demo g2p", description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA), help=f"the cmudict folder with train.tsv and dev.tsv "
                        f"({DEFAULT_DATA})")
    parser.add_argument("--ckpt", metavar="RUN", help="a trained seq2seq run to use instead of training one")
    parser.add_argument("--minutes", type=checked(float, checks.positive), default=5.0,
                        help="training time limit (5)")
    parser.add_argument("--beam", type=checked(int, checks.beam), default=5, help="beam width (5)")
    parser.add_argument("--plot", type=output_file, metavar="FILE.png", help="write the attention alignments here")
    parser.add_argument("words", nargs="*", default=WORDS, help="words to pronounce afterwards")
    args = parser.parse_args(argv)
    for word in args.words:
        if not word.strip() or any(ch.isspace() for ch in word):
            parser.error(f"argument words: {word!r} is not one word")
    from rnnlab.data.pairs import read_pairs
    from rnnlab.tasks.seq2seq import Seq2Seq

    if args.ckpt:
        model = Seq2Seq.load(args.ckpt)
    else:
        folder = Path(args.data)
        train, dev = read_pairs(folder / "train.tsv", min_pairs=2), read_pairs(folder / "dev.tsv")
        print(f"{len(train)} training pairs, {len(dev)} dev pairs (CMUdict, stress removed)")
        model = Seq2Seq(target_tokens="word", hidden_size=256, batch_size=64, epochs=100, patience=3,
                        minutes=args.minutes)
        model.fit([w for w, _ in train], [p for _, p in train], [w for w, _ in dev], [p for _, p in dev])
        scores = model.evaluate([w for w, _ in dev], [p for _, p in dev])
        print(f"dev: word exact match {scores['exact_match']:.3f}, phoneme error rate "
              f"{scores['token_error_rate']:.3f} (greedy); trained {model.train_seconds_:.0f} s, "
              f"{len(model.history_)} epochs")
    words = [w.lower() for w in args.words]
    decoded = model.decode(words, beam=args.beam)
    for word, d in zip(words, decoded, strict=True):
        print(f"{word:16s} {d.text}")
    if args.plot:
        from rnnlab.diagnostics.attention import plot_alignments

        plot_alignments(args.plot, decoded, f"attention (beam {args.beam})")
        print(f"saved {args.plot}")
