"""The seeds' examples, runnable as `rnnlab demo NAME`.

Each demo is a module here with a `main(argv: list[str] | None = None)` function; the first
line of its docstring is the description `rnnlab demo` lists.
"""

import importlib
import pkgutil


def _demos() -> dict[str, str]:
    demos = {}
    for module in sorted(m.name for m in pkgutil.iter_modules(__path__)):
        doc = importlib.import_module(f"rnnlab.demos.{module}").__doc__ or ""
        demos[module] = doc.strip().splitlines()[0] if doc.strip() else ""
    return demos


DEMOS = _demos()


def run_demo(name: str, argv: list[str]) -> None:
    """Import `rnnlab.demos.<name>` and call its `main`."""
    importlib.import_module(f"rnnlab.demos.{name}").main(argv)
