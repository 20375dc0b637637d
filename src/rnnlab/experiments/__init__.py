"""The notes' questions, each answered by an experiment: `rnnlab experiment NAME`.

Each experiment is a module here (`long_range.py` is the experiment `long-range`) with a
function `run(quick: bool, seed: int) -> Result`: the figures it measured (JSON-ready), the
plots to write and a verdict filled from those figures. The first line of the module's
docstring is the description `rnnlab experiment --help` lists.
"""

from __future__ import annotations

import importlib
import pkgutil

from rnnlab.errors import RnnlabError
from rnnlab.experiments.result import Result

__all__ = ["EXPERIMENTS", "Result", "describe", "run_experiment"]

# experiment name -> module name; the modules are imported only when one is run or described
EXPERIMENTS = {m.name.replace("_", "-"): m.name for m in pkgutil.iter_modules(__path__) if m.name != "result"}


def _module(name: str):
    if name not in EXPERIMENTS:
        raise RnnlabError(f"unknown experiment {name!r}; choose from: {', '.join(sorted(EXPERIMENTS))}")
    return importlib.import_module(f"rnnlab.experiments.{EXPERIMENTS[name]}")


def describe(name: str) -> str:
    """The first line of the experiment's docstring."""
    return (_module(name).__doc__ or "").strip().splitlines()[0]


def run_experiment(name: str, quick: bool = False, seed: int = 0) -> Result:
    """Run one experiment (`quick`: a tiny set-up that checks the mechanics in seconds)."""
    return _module(name).run(quick=quick, seed=seed)
