"""The `rnnlab` command: argument parsing only; the work is done by the library.

Each task's subcommand lives in its own module here (`charlm.py`, `classify.py`, ...) with a
`register(subparsers)` function. Every user error (`RnnlabError`) is printed on one line
and exits with status 2; argparse's own usage errors exit with 2 as well.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import signal
import sys

from rnnlab import checks
from rnnlab.argparsing import checked
from rnnlab.cli.common import Output, Parser, add_json, file_encoding, json_to_stdout, limit_threads, one_writer
from rnnlab.errors import RnnlabError
from rnnlab.train import TrainingInterrupted


def _gradcheck(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from rnnlab.diagnostics.gradcheck import (
        attention_grid,
        cell_grid,
        decoder_grid,
        gradcheck,
        grid,
        masked_grid,
        proj_grid,
        report_row,
    )
    from rnnlab.diagnostics.gradcheck_conv import batchnorm_grid, conv_grid

    if args.ckpt is not None:
        return _gradcheck_run(args)
    output = Output(args.json)
    cells = tuple({"rnn": "rnn_tanh"}.get(c, c) for c in args.cell or ("rnn", "rnn_relu", "lstm", "gru"))
    configs = list(grid(cells, tuple(args.num_layers))) + list(masked_grid(cells)) + list(cell_grid(cells))
    configs += list(proj_grid()) if "lstm" in cells else []  # LSTM(proj_size=...)
    configs += list(attention_grid())  # additive, Luong general and dot attention over a masked memory
    configs += list(decoder_grid())  # the attention decoder step, with and without input feeding
    configs += list(conv_grid()) + list(batchnorm_grid())  # the convolutional front end, masked and not
    rows = [report_row(c, gradcheck(c)) for c in tqdm(configs, desc="gradcheck", disable=None, leave=False)]
    output.say(f"{'configuration':58s} {'worst tensor':22s} rel. error")
    for config, row in zip(configs, rows, strict=True):
        output.say(f"{config.label():58s} {row['worst_tensor']:22s} {row['worst_relative_error']:.2e}")
    worst = max(row["worst_relative_error"] for row in rows)
    output.say(f"{len(rows)} configurations, worst relative error {worst:.2e} (threshold {args.threshold:.0e})")
    labelled = [{"configuration": c.label(), **row} for c, row in zip(configs, rows, strict=True)]
    output.result({"command": "gradcheck", "configurations": labelled,
                   "worst_relative_error": worst, "threshold": args.threshold, "passed": worst < args.threshold})
    return 0 if worst < args.threshold else 1


def _gradcheck_run(args: argparse.Namespace) -> int:
    from rnnlab.diagnostics.gradcheck_run import gradcheck_run
    from rnnlab.interop import load_task

    task = load_task(args.ckpt)
    rows = gradcheck_run(_run_targets(task), args.threshold)
    output = Output(args.json)
    for row in rows:
        note = "" if row["dtype"] == "float64" else f"  ({row['dtype']}: no float64 copy, limit {row['threshold']:.0e})"
        output.say(f"{row['name']:32s} {row['worst_relative_error']:.2e}{note}")
    worst, passed = max(row["worst_relative_error"] for row in rows), all(row["passed"] for row in rows)
    output.say(f"{task.name} checkpoint {args.ckpt}: {len(rows)} tensors, worst relative error {worst:.2e} "
               f"(threshold {args.threshold:.0e}): {'passed' if passed else 'FAILED'}")
    output.result({"command": "gradcheck", "ckpt": str(args.ckpt), "task": task.name,
                   "tensors": [{key: r[key] for key in ("name", "worst_relative_error", "dtype")} for r in rows],
                   "worst_relative_error": worst, "threshold": args.threshold, "passed": passed})
    return 0 if passed else 1


def _run_targets(task) -> list:
    """The networks of a loaded task for `gradcheck --ckpt`: each with a float64 rebuild and a small random input."""
    import numpy as np

    from rnnlab.diagnostics.gradcheck_run import Target

    if task.name == "charlm":
        net = task.model_
        return [Target("model", net, lambda rng: (rng.integers(0, net.config.vocab_size, (6, 2)),),
                       lambda dtype: type(net)(net.config, dtype=dtype), output=lambda result: result[0])]
    if task.name == "classify":
        from rnnlab.tasks.classify_net import ClassifierNet, pad_batch

        def classify_target(k: int, net) -> Target:
            size = net.rnn.input_size if not net.text else net.embedding.weight.shape[0]

            def inputs(rng):
                lengths = rng.integers(2, 6, size=3)
                draw = ((lambda n: rng.integers(1, size, n)) if net.text else (lambda n: rng.normal(size=(n, size))))
                return pad_batch([draw(n) for n in lengths], net.text)

            return Target(f"net{k}", net, inputs, lambda dtype: ClassifierNet(
                size, len(task.classes_), task.config, net.text, dtype=dtype))

        return [classify_target(k, net) for k, net in enumerate(task.nets_)]
    if task.name == "tag":
        from rnnlab.tasks.tag_net import SHAPES, TaggerNet

        net, c = task.model_, task.model_.config

        def tag_inputs(rng):  # T = 4 words, B = 2 sentences (the second one 2 words long), a form per token
            T, B, L = 4, 2, 5
            mask = np.ones((T, B), bool)
            mask[2:, 1] = False
            chars = rng.integers(1, c.num_chars, (T * B, L))
            char_mask = np.arange(L) < rng.integers(1, L + 1, (T * B, 1))
            return ({"words": rng.integers(1, c.num_words, (T, B)), "shapes": rng.integers(0, len(SHAPES), (T, B)),
                     "forms": np.arange(T * B).reshape(T, B), "chars": np.where(char_mask, chars, 0),
                     "char_mask": char_mask, "mask": mask},)

        return [Target("model", net, tag_inputs, lambda dtype: TaggerNet(c, dtype=dtype))]
    if task.name == "seq2seq":
        import dataclasses

        from rnnlab.tasks.seq2seq_net import Seq2SeqNet

        net, sizes = task.model_, task.model_.config

        def seq2seq_inputs(rng):  # S = 4 source tokens, T = 3 target steps, B = 2 (the second source 3 long)
            source = rng.integers(2, sizes.source_vocab, (4, 2))
            source[3:, 1] = 0
            return ({"source": source, "source_mask": source != 0,
                     "target_in": rng.integers(2, sizes.target_vocab, (3, 2))},)

        no_dropout = dataclasses.replace(sizes, dropout=0.0)  # (its backward needs training mode)
        return [Target("model", net, seq2seq_inputs, lambda dtype: Seq2SeqNet(no_dropout, dtype=dtype),
                       training=True)]
    from rnnlab.tasks.forecast_net import ForecastNetwork

    c = task.config

    def forecast_target(k: int, net) -> Target:
        rebuild = lambda dtype: ForecastNetwork(c.cell, net.rnn.input_size, c.hidden_size, c.num_layers,  # noqa: E731
                                                c.dropout, net.head.weight.shape[0], dtype=dtype)
        return Target(f"net{k}", net, lambda rng: (rng.normal(size=(3, c.lookback, net.rnn.input_size)),), rebuild)

    return [forecast_target(k, net) for k, net in enumerate(task.networks_)]


def _demo(args: argparse.Namespace) -> int:
    from rnnlab.demos import DEMOS, run_demo

    if args.name is None:
        for name, about in DEMOS.items():
            print(f"{name:12s} {about}")
        return 0
    if args.name not in DEMOS:
        raise RnnlabError(f"unknown demo {args.name!r}; choose from: {', '.join(DEMOS)}")
    run_demo(args.name, args.rest)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="rnnlab", description="Learn, check and train recurrent neural networks.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("gradcheck", help="check every hand-written gradient against central differences (float64)")
    p.add_argument("--cell", nargs="+", choices=["rnn", "rnn_relu", "lstm", "gru"],
                   help="cells to check, as the tasks name them (rnn: tanh; default: all four)")
    p.add_argument("--num-layers", nargs="+", type=checked(int, checks.int_in(1, 8)), default=[1, 2, 3],
                   help="layer counts to check, 1 to 8 (default 1 2 3)")
    p.add_argument("--threshold", type=checked(float, checks.positive), default=1e-6,
                   help="fail above this relative error (default 1e-6)")
    p.add_argument("--ckpt", metavar="RUN", help="check the networks of a run's best checkpoint instead of the grid")
    add_json(p)
    p.set_defaults(run=_gradcheck)

    p = sub.add_parser("demo", help="run one of the seeds' examples (no name: list them)")
    p.add_argument("name", nargs="?")
    p.add_argument("rest", nargs=argparse.REMAINDER, help="arguments passed to the demo")
    p.set_defaults(run=_demo)

    for module in sorted(m.name for m in pkgutil.iter_modules(__path__) if m.name != "common"):  # charlm, ...
        importlib.import_module(f"rnnlab.cli.{module}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(json_to_stdout(sys.argv[1:] if argv is None else argv))
    if hasattr(signal, "SIGXFSZ"):  # over a file-size limit, a write fails (EFBIG) instead of killing the process
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _terminate)  # (training itself ends its step and checkpoints first)
    try:
        if not hasattr(args, "threads"):
            return args.run(args)
        # every computing command has --threads; readers --encoding; under torchrun only rank 0 writes
        with limit_threads(args), file_encoding(args), one_writer(args):
            return args.run(args)
    except RnnlabError as error:
        message = str(error).replace("\n", "\\n")  # one line, whatever a file put into the message
        print(f"rnnlab: error: {message}", file=sys.stderr)
        return getattr(error, "exit_status", 2)
    except TrainingInterrupted as stop:
        print(f"rnnlab: {_interrupted(args, stop)}", file=sys.stderr)
        return stop.exit_status
    except KeyboardInterrupt:
        print("rnnlab: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head` and the like: stop quietly
        sys.stderr.close()
        return 0
    except OSError as error:  # a file that cannot be written (no permission, no space): say which, in one line
        print(f"rnnlab: error: {error.filename or ''}: {error.strerror or error}", file=sys.stderr)
        return 2


def _terminate(signum: int, frame) -> None:
    """SIGTERM outside training: exit 143 through the usual clean-up (a run folder with no checkpoint goes)."""
    raise SystemExit(128 + signum)


def _interrupted(args: argparse.Namespace, stop: TrainingInterrupted) -> str:
    """One line: which signal stopped training, where, and how to continue."""
    folder = getattr(args, "resume", None) or getattr(args, "out", None)
    name = signal.Signals(stop.signum).name
    if stop.saved and folder:
        return (f"{name}: stopped after step {stop.step}, saved in {folder}; continue with: "
                f"rnnlab {args.command} train --resume {folder}")
    return f"{name}: stopped after step {stop.step}; this run cannot be resumed"


if __name__ == "__main__":
    sys.exit(main())
