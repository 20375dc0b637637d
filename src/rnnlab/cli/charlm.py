"""`rnnlab charlm train|sample|eval`: the character language model."""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import asdict
from pathlib import Path

from rnnlab.errors import RnnlabError

# option -> (CharLMConfig field, type, help); defaults come from the preset
SETTINGS = {
    "--cell": ("cell", str, "rnn, rnn_relu, lstm or gru"),
    "--hidden-size": ("hidden_size", int, "hidden units per layer"),
    "--layers": ("num_layers", int, "stacked recurrent layers"),
    "--dropout": ("dropout", float, "dropout between layers and before the output layer"),
    "--embedding-dim": ("embedding_dim", int, "character embedding size (0: one-hot input)"),
    "--seq-len": ("seq_len", int, "steps of backpropagation through time"),
    "--batch-size": ("batch_size", int, "parallel streams through the text"),
    "--optimizer": ("optimizer", str, "sgd, adagrad, rmsprop, adam or adamw"),
    "--lr": ("lr", float, "learning rate"),
    "--weight-decay": ("weight_decay", float, "weight decay"),
    "--schedule": ("schedule", str, "cosine (warm-up then cosine decay) or constant"),
    "--warmup-steps": ("warmup_steps", int, "linear warm-up steps"),
    "--clip-norm": ("clip_norm", float, "clip the global gradient norm (0: off)"),
    "--clip-value": ("clip_value", float, "clip every gradient element (0: off)"),
    "--max-steps": ("max_steps", int, "training steps (the schedule spans them)"),
    "--minutes": ("minutes", float, "stop after this many minutes of training"),
    "--eval-every": ("eval_every", int, "evaluate and checkpoint every so many steps"),
    "--sample-every": ("sample_every", int, "print a sample every so many steps (0: never)"),
    "--sample-chars": ("sample_chars", int, "length of those samples"),
    "--val-fraction": ("val_fraction", float, "the end of the text held out for validation"),
    "--seed": ("seed", int, "random seed"),
    "--dtype": ("dtype", str, "float32 or float64"),
}


def register(sub) -> None:
    p = sub.add_parser("charlm", help="character language model: train, sample, eval")
    commands = p.add_subparsers(dest="charlm_command", required=True)

    train = commands.add_parser("train", help="train on a text (default: the embedded Tiny Shakespeare)")
    train.add_argument("--data", help="a UTF-8 text file or a folder of them")
    train.add_argument("--preset", default="default", help="default, min-char-rnn or large")
    train.add_argument("--out", help="run folder (default: runs/charlm-<time>)")
    train.add_argument("--resume", metavar="RUN", help="continue the run in this folder where it stopped")
    train.add_argument("--no-progress", action="store_true", help="no progress bar")
    for option, (_, kind, text) in SETTINGS.items():
        train.add_argument(option, type=kind, help=text)
    train.set_defaults(run=run_train)

    sample = commands.add_parser("sample", help="generate text from a trained model")
    sample.add_argument("--ckpt", required=True, help="run folder or checkpoint .json")
    sample.add_argument("--length", type=int, default=500, help="characters to generate")
    sample.add_argument("--temperature", type=float, default=1.0)
    sample.add_argument("--top-k", type=int, help="sample among the k likeliest characters")
    sample.add_argument("--top-p", type=float, help="sample among the likeliest characters covering p")
    sample.add_argument("--argmax", action="store_true", help="always take the likeliest character")
    sample.add_argument("--prime", help="text to start from")
    sample.add_argument("--seed", type=int)
    sample.set_defaults(run=run_sample)

    evaluate = commands.add_parser("eval", help="loss, bits per character and perplexity on a text")
    evaluate.add_argument("--ckpt", required=True, help="run folder or checkpoint .json")
    evaluate.add_argument("--data", help="a UTF-8 text (default: the run's validation split)")
    evaluate.set_defaults(run=run_eval)


def _overrides(args: argparse.Namespace) -> dict:
    values = {}
    for option, (field, _, _) in SETTINGS.items():
        value = getattr(args, option[2:].replace("-", "_"))
        if value is None:
            continue
        if field == "embedding_dim" and value == 0:
            value = None
        if field in ("clip_norm", "clip_value") and value == 0:
            value = None
        values[field] = value
    return values


def run_train(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from rnnlab.tasks.charlm import CharLM

    overrides = _overrides(args)
    if args.resume:
        if args.data or args.out or overrides:
            raise RnnlabError("--resume continues a run as it was configured: give no --data, --out or settings")
        lm, out = CharLM.resume(args.resume), Path(args.resume)
        print(f"resuming {out} at step {lm.loop_.step} of {lm.config.max_steps}")
    else:
        lm = CharLM(args.preset, **overrides)
        out = Path(args.out or f"runs/charlm-{time.strftime('%Y%m%d-%H%M%S')}")
        if out.exists() and any(out.iterdir()):
            raise RnnlabError(f"{out}: run folder exists and is not empty (--resume it, or choose another --out)")
    print(f"preset {lm.preset}: " + json.dumps(asdict(lm.config)))

    def show_sample(step: int, text: str) -> None:
        tqdm.write(f"---- sample at step {step} ----\n{text}\n----")

    lm.fit(args.data, out, progress=not args.no_progress, on_sample=show_sample)
    loop = lm.loop_
    print(f"checkpoint: {out / 'best.json'} (latest: {out / 'latest.json'})")
    if loop.history:
        final, nats_per_bit = loop.history[-1]["val_loss"], math.log(2)
        print(f"final validation loss {final:.4f} nats/char = {final / nats_per_bit:.4f} bits/char after "
              f"{loop.step} steps in {loop.seconds:.0f} s; best {loop.best:.4f} nats/char at step {loop.best_step}")
    return 0


def run_sample(args: argparse.Namespace) -> int:
    from rnnlab.tasks.charlm import CharLM

    lm = CharLM.load(args.ckpt)

    pending = [args.prime or ""]  # shown once generation starts, i.e. once the prime is known to be valid

    def write(char: str) -> None:
        sys.stdout.write(pending.pop() + char if pending else char)
        sys.stdout.flush()

    lm.sample(args.length, args.temperature, args.top_k, args.top_p, args.argmax, args.prime, args.seed, stream=write)
    write("\n")
    return 0


def run_eval(args: argparse.Namespace) -> int:
    from rnnlab.tasks.charlm import CharLM

    metrics = CharLM.load(args.ckpt).evaluate(args.data)
    print(f"{metrics['characters']} characters: loss {metrics['loss']:.4f} nats/char, "
          f"{metrics['bpc']:.4f} bits/char, perplexity {metrics['perplexity']:.3f}")
    return 0
