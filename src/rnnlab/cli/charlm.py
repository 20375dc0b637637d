"""`rnnlab charlm train|sample|eval`: the character language model.

The settings flags of `train` come from `CharLMConfig` (`add_settings`), on top of `--preset`.
"""

from __future__ import annotations

import argparse
import functools
import math

from rnnlab import checks
from rnnlab.cli.common import (
    Output,
    add_ckpt,
    add_encoding,
    add_json,
    add_settings,
    add_threads,
    add_train_flags,
    build,
    check_train_args,
    checked,
    given_settings,
    load_run,
)
from rnnlab.tasks.charlm_config import PRESETS, CharLMConfig

BUDGETS = ("max_steps", "minutes")


def register(sub) -> None:
    p = sub.add_parser("charlm", help="character language model: train, sample, eval")
    commands = p.add_subparsers(dest="verb", metavar="VERB", required=True)

    train = commands.add_parser("train", help="train on a text (default: the embedded Tiny Shakespeare)")
    add_train_flags(train, "a UTF-8 text file or a folder of them (default: the embedded Tiny Shakespeare)", BUDGETS)
    train.add_argument("--preset", choices=list(PRESETS),
                       help="start from these settings; the settings flags apply on top (default: default)")
    add_settings(train, CharLMConfig)
    train.set_defaults(run=run_train)

    sample = commands.add_parser("sample", help="generate text from a trained model")
    add_ckpt(sample)
    sample.add_argument("--length", type=checked(int, checks.sample_chars), default=500,
                        help=f"characters to generate, at most {checks.MAX_SAMPLE_CHARS:,} (default 500)")
    sample.add_argument("--temperature", type=float, default=1.0, help="divides the logits (default 1)")
    sample.add_argument("--top-k", type=checked(int, checks.positive_int), help="sample among the k likeliest "
                        "characters")
    sample.add_argument("--top-p", type=float, help="sample among the likeliest characters covering p")
    sample.add_argument("--argmax", action="store_true", help="always take the likeliest character")
    sample.add_argument("--prime", help="text to start from (printed before the generated text)")
    sample.add_argument("--seed", type=checked(int, checks.seed), help="random seed (default: the checkpoint's "
                        "sampling generator)")
    sample.add_argument("--num-samples", type=checked(int, checks.positive_int), metavar="N",
                        help="N texts from the same prime, generated together as one batch, separated by "
                        "'----' lines (JSON: a list 'texts'); default: one text, printed as it is generated")
    add_json(sample)
    add_threads(sample)
    sample.set_defaults(run=run_sample)

    evaluate = commands.add_parser("eval", help="loss, bits per character and perplexity on a text")
    add_ckpt(evaluate)
    evaluate.add_argument("--data", help="a UTF-8 text (default: the run's validation split)")
    add_encoding(evaluate)
    add_json(evaluate)
    add_threads(evaluate)
    evaluate.set_defaults(run=run_eval)

    neurons = commands.add_parser("neurons", help="hidden-unit views: units ranked by correlation with features "
                                  "of the text, and a page colouring the text by a unit's activation")
    add_ckpt(neurons, engine=False)  # hidden units are read inside the NumPy engine
    neurons.add_argument("--data", help="a UTF-8 text (default: the run's validation split)")
    add_encoding(neurons)
    neurons.add_argument("--out", metavar="FILE.html", help="the page to write (default: RUN/neurons.html)")
    neurons.add_argument("--cell", type=int, metavar="N", help="the unit to colour the text by (default: the best "
                         "unit for line position)")
    neurons.add_argument("--top", type=checked(int, checks.positive_int), default=3, metavar="K",
                         help="units shown per feature (default 3)")
    add_json(neurons)
    add_threads(neurons)
    neurons.set_defaults(run=run_neurons)


def run_train(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from rnnlab.tasks.charlm import CharLM
    from rnnlab.tasks.runs import RunFolder

    settings = given_settings(args, CharLMConfig)
    check_train_args(args, settings, BUDGETS, data_flags=("preset",), needs_data=False)
    out = Output(quiet=args.quiet)
    if args.resume:
        run, label = RunFolder(args.resume, resume=True), "settings"
        lm = build(functools.partial(CharLM.resume, args.resume), settings)
        out.say(f"resuming {args.resume} at step {lm.loop_.step} of {lm.max_steps}")
    else:
        lm = build(functools.partial(CharLM.from_preset, args.preset or "default"), settings)
        run, label = RunFolder(args.out, force=args.force), f"preset {args.preset or 'default'}"
    out.note(f"{label}: {lm.config}")

    def show_sample(step: int, text: str) -> None:
        tqdm.write(f"---- sample at step {step} ----\n{text}\n----")

    try:
        lm.fit(args.data, run_dir=run, progress=not args.quiet, on_sample=show_sample)
    except BaseException:
        run.discard()
        raise
    loop = lm.loop_
    out.say(f"checkpoint: {run.final / 'best.json'} (latest: {run.final / 'latest.json'})")
    if loop.history:
        final = loop.history[-1]["val_loss"]
        out.say(f"final validation loss {final:.4f} nats/char = {final / math.log(2):.4f} bits/char after "
                f"{loop.step} steps in {loop.seconds:.0f} s; best {loop.best:.4f} nats/char at step {loop.best_step}")
    return 0


def run_sample(args: argparse.Namespace) -> int:
    from rnnlab.tasks.charlm import CharLM

    lm = load_run(CharLM, args)
    out = Output(args.json)
    prime = args.prime or ""
    options = dict(length=args.length, temperature=args.temperature, top_k=args.top_k, top_p=args.top_p,
                   argmax=args.argmax, prime=args.prime, seed=args.seed, num_samples=args.num_samples)
    if args.json is not None or args.num_samples is not None:
        texts = build(lm.sample, options)
        if args.json != "-":
            out.say("\n----\n".join(prime + text for text in ([texts] if args.num_samples is None else texts)))
        key = "text" if args.num_samples is None else "texts"
        out.result({"task": "charlm", "command": "sample", "ckpt": args.ckpt, "prime": prime, key: texts,
                    "length": args.length, "temperature": args.temperature})
        return 0
    pending = [prime]  # shown once generation starts, i.e. once the settings and the prime are known to be valid

    def write(char: str) -> None:
        out.stream.write(pending.pop() + char if pending else char)
        out.stream.flush()

    build(functools.partial(lm.sample, stream=write), options)
    write("\n")
    return 0


def run_eval(args: argparse.Namespace) -> int:
    from rnnlab.tasks.charlm import CharLM

    metrics = load_run(CharLM, args).evaluate(args.data)
    out = Output(args.json)
    out.say(f"{metrics['characters']} characters: loss {metrics['loss']:.4f} nats/char, "
            f"{metrics['bpc']:.4f} bits/char, perplexity {metrics['perplexity']:.3f}")
    out.result({"task": "charlm", "command": "eval", "ckpt": args.ckpt, "data": args.data, **metrics})
    return 0


def run_neurons(args: argparse.Namespace) -> int:
    from pathlib import Path

    from rnnlab.checkpoint import resolve
    from rnnlab.diagnostics.neurons import study, summary, unit_names, write_neurons_page
    from rnnlab.errors import InvalidArgument
    from rnnlab.tasks.charlm import CharLM
    from rnnlab.tasks.charlm_config import build_model

    lm = load_run(CharLM, args)
    units = len(unit_names(lm.model_))
    if args.cell is not None and not 0 <= args.cell < units:
        raise InvalidArgument("--cell", f"a unit number in [0, {units})", args.cell)
    result = study(lm, build_model(lm.config, len(lm.vocab_)), args.data, top=args.top)
    page = Path(args.out) if args.out else resolve(args.ckpt, "best").parent / "neurons.html"
    write_neurons_page(page, result, args.ckpt, args.cell)
    best = summary(result)
    out = Output(args.json)
    chosen_on = "of --data" if args.data else "of training text"
    out.say(f"{len(result['activations'])} characters, {len(result['names'])} units; units chosen on the first "
            f"{result['split']} ({chosen_on}), r on the rest ({'held out' if args.data else 'validation text'}); "
            f"control: the untrained network")
    out.say(f"{'feature':<14} {'unit':>12} {'r select':>9} {'r held':>8} {'control |r|':>12}")
    for feature, row in best.items():
        out.say(f"{feature:<14} {row['name']:>12} {row['r_selection']:+9.3f} {row['r_held_out']:+8.3f} "
                f"{abs(row['control_r_held_out']):12.3f}")
    out.say(f"page: {page}")
    out.result({"task": "charlm", "command": "neurons", "ckpt": args.ckpt, "data": args.data, "page": str(page),
                "characters": len(result["activations"]), "features": best})
    return 0
