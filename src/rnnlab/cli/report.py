"""`rnnlab report RUN [--out FILE.html]`: one self-contained HTML page about a run, for every task."""

from __future__ import annotations

import argparse

from rnnlab.cli.common import Output, add_threads

SAMPLE_CHARS = 300  # generated from a character model's best checkpoint, which keeps no samples


def register(sub) -> None:
    p = sub.add_parser("report", help="write one self-contained HTML page about a run (curves, figures, "
                       "configuration, versions); it opens offline")
    p.add_argument("folder", metavar="RUN", help="the run folder")
    p.add_argument("--out", metavar="FILE.html", help="where to write the page (default RUN/report.html)")
    add_threads(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from rnnlab.diagnostics.report import read_run, write_report

    folder, meta = read_run(args.folder)
    sample = None
    if meta.get("task") == "charlm":
        from rnnlab import CharLM

        sample = CharLM.load(folder).sample(SAMPLE_CHARS, seed=0)
    path = write_report(folder, args.out, sample=sample)
    Output().say(f"wrote {path}")
    return 0
