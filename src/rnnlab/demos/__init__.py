"""The seeds' examples, runnable as `rnnlab demo NAME`."""

import importlib

DEMOS = {
    "forward001": "seed 001's worked forward pass: RNN(1, 2) on X = [1, 2], states and outputs",
}


def run_demo(name: str, argv: list[str]) -> None:
    """Import `rnnlab.demos.<name>` and call its `main`."""
    module = importlib.import_module(f"rnnlab.demos.{name}")
    module.main(*([argv] if argv else []))
