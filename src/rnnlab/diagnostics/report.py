"""One self-contained HTML report per run folder, for every task (`rnnlab report RUN`).

The page holds the configuration, the library versions, a training summary, the curves drawn from
`log.jsonl` (train_loss and every val_* figure, and lr, against step), the task's own figures found
in the run folder (confusion.png, forecast.png, eval.png, loss.png), its figures JSON (metrics.json,
eval.json) as tables and, when given, a sample of generated text. Everything read from the run
folder is HTML-escaped (`html.text`) and every image is embedded, so the page opens offline.
"""

from __future__ import annotations

import json
import math
import platform
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rnnlab.diagnostics.html import image, table, text, write_page
from rnnlab.errors import RnnlabError

FIGURE_FILES = ("loss.png", "confusion.png", "forecast.png", "eval.png")  # drawn by the tasks, when present
FIGURES_JSON = ("metrics.json", "eval.json")  # classify, forecast
LOG_TABLE_ROWS = 20  # the last evaluations shown as a table


def read_run(run: str | Path) -> tuple[Path, dict[str, Any]]:
    """The run folder and its best checkpoint's JSON; an error naming the path if it is not a run folder."""
    folder = Path(run)
    if not folder.is_dir():
        raise RnnlabError(f"{folder}: no such run folder")
    path = folder / "best.json"
    if not path.is_file():
        raise RnnlabError(f"{folder}: not a run folder (no best.json)")
    return folder, _read_json(path, "checkpoint")


def read_log(folder: Path) -> list[dict[str, Any]]:
    """The evaluations in `folder`/log.jsonl, one dict each ([] when there is no log)."""
    path = folder / "log.jsonl"
    if not path.exists():
        return []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise RnnlabError(f"{path}: cannot read the log ({error})") from None
    rows = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            raise RnnlabError(f"{path}:{number}: not a JSON line ({error.msg})") from None
        if not isinstance(row, dict):
            raise RnnlabError(f"{path}:{number}: expected a JSON object, got {type(row).__name__}")
        rows.append(row)
    return rows


def write_report(run: str | Path, out: str | Path | None = None, sample: str | None = None) -> Path:
    """Write the report of `run` to `out` (default RUN/report.html); `sample`: generated text to show."""
    folder, meta = read_run(run)
    log = read_log(folder)
    task = str(meta.get("task", "unknown task"))
    sections = [
        _section("Configuration", _config_table(meta.get("config"))),
        _section("Training summary", _summary_table(meta, log)),
        _section("Curves", _curves(log)),
        _section("Evaluations", _log_table(log)),
    ]
    sections += [_figures_json(folder / name) for name in FIGURES_JSON if (folder / name).is_file()]
    pictures = [image(_read_png(folder / name), name) for name in FIGURE_FILES if (folder / name).is_file()]
    if pictures:
        sections.append(_section("Figures", "\n".join(f"<p>{p}</p>" for p in pictures)))
    if sample is not None:
        sections.append(_section("Sample", "<p>300 characters from the best checkpoint (seed 0):</p>"
                                 f"<pre>{text(sample)}</pre>"))
    sections.append(_section("Library versions", table(["library", "version"], _versions())))
    path = Path(out) if out is not None else folder / "report.html"
    if not path.parent.is_dir():
        raise RnnlabError(f"cannot write report {path}: directory {path.parent} does not exist")
    return write_page(path, f"{task} run {folder.resolve().name}", "\n".join(s for s in sections if s))


def _section(title: str, body: str) -> str:
    return f"<h2>{text(title)}</h2>\n{body}" if body else ""


def _read_json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise RnnlabError(f"{path}: not a readable {what} ({error})") from None


def _read_png(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise RnnlabError(f"{path}: cannot read the figure ({error.strerror or error})") from None


def _cell(value: Any) -> str:
    """A value as a table cell: floats to 6 significant digits, lists and dicts as compact JSON."""
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _config_table(config: Any) -> str:
    if not isinstance(config, dict):
        return "<p>The checkpoint holds no configuration.</p>"
    return table(["setting", "value"], [[name, _cell(value)] for name, value in config.items()])


def _summary_table(meta: dict[str, Any], log: list[dict[str, Any]]) -> str:
    """Steps, seconds and the best value (with its step): the loop state where the checkpoint keeps one."""
    rows: list[list[str]] = []
    loop = meta.get("loop") if isinstance(meta.get("loop"), dict) else {}
    for key in ("step", "seconds", "tokens", "best", "best_step"):
        if key in loop:
            rows.append([key, _cell(loop[key])])
    for key in ("train_seconds", "best_step", "best_val_accuracy"):
        if key in meta and key not in loop:
            rows.append([key, _cell(meta[key])])
    steps = [row["step"] for row in log if _is_number(row.get("step"))]
    if log:
        rows.append(["evaluations logged", str(len(log))])
    if steps and "step" not in loop:
        rows.append(["last step logged", _cell(max(steps))])
    return table(["figure", "value"], rows) if rows else "<p>No training state in the checkpoint.</p>"


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _curves(log: list[dict[str, Any]]) -> str:
    """One panel per figure against step: train_loss, every val_* figure, then lr (one line per network)."""
    names = []
    for row in log:
        names += [k for k in row if (k == "train_loss" or k.startswith("val_")) and k not in names]
    names.sort(key=lambda k: k != "train_loss")
    names += ["lr"] if any("lr" in row for row in log) else []
    series = {name: _series(log, name) for name in names}
    series = {name: lines for name, lines in series.items() if lines}
    if not series:
        return "<p>No evaluations in log.jsonl.</p>" if not log else ""
    return f"<p>{image(_draw_curves(series), 'training curves')}</p>"


def _series(log: list[dict[str, Any]], name: str) -> dict[str, tuple[list[float], list[float]]]:
    """(steps, values) of `name` per network (the forecaster trains several; the others have one)."""
    lines: dict[str, tuple[list[float], list[float]]] = {}
    for row in log:
        if _is_number(row.get("step")) and _is_number(row.get(name)):
            label = f"network {row['network']}" if "network" in row else name
            steps, values = lines.setdefault(label, ([], []))
            steps.append(row["step"])
            values.append(row[name])
    return lines


def _draw_curves(series: dict[str, dict[str, tuple[list[float], list[float]]]]) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from rnnlab.diagnostics.plots import png_bytes

    columns = min(3, len(series))
    rows = math.ceil(len(series) / columns)
    figure = Figure(figsize=(4 * columns, 3 * rows), dpi=90, layout="constrained")
    FigureCanvasAgg(figure)
    for number, (name, lines) in enumerate(series.items(), start=1):
        axes = figure.add_subplot(rows, columns, number)
        for label, (steps, values) in lines.items():
            axes.plot(steps, values, marker="." if len(steps) < 30 else None, label=label)
        axes.set_title(name)
        axes.set_xlabel("step")
        axes.grid(alpha=0.3)
        if len(lines) > 1:
            axes.legend(fontsize="small")
    return png_bytes(figure)


def _log_table(log: list[dict[str, Any]]) -> str:
    if not log:
        return ""
    shown = log[-LOG_TABLE_ROWS:]
    keys: list[str] = []
    for row in shown:
        keys += [k for k in row if k not in keys]
    note = f"<p>The last {len(shown)} of {len(log)} evaluations.</p>" if len(shown) < len(log) else ""
    return note + table(keys, [[_cell(row.get(k, "")) for k in keys] for row in shown])


def _figures_json(path: Path) -> str:
    """The model's figures and each baseline's in one table, then any per-class or per-horizon lists."""
    document = _read_json(path, "figures file")
    if not isinstance(document, dict):
        return _section(path.name, f"<pre>{text(_cell(document))}</pre>")
    baselines = document.get("baselines") if isinstance(document.get("baselines"), dict) else {}
    scores = {"model": document, **{name: b for name, b in baselines.items() if isinstance(b, dict)}}
    figures = [k for k, v in document.items() if _is_number(v) and any(k in b for b in baselines.values()
                                                                        if isinstance(b, dict))]
    parts = []
    if figures:
        parts.append(table(["", *figures], [[name, *(_cell(s.get(k, "")) for k in figures)]
                                            for name, s in scores.items()]))
    other = [[k, _cell(v)] for k, v in document.items() if k not in figures and not isinstance(v, list | dict)]
    if other:
        parts.append(table(["entry", "value"], other))
    parts += [_lists_table(name, value) for name, value in _lists(document)]
    return _section(path.name, "\n".join(parts))


def _lists(document: dict[str, Any]) -> list[tuple[str, dict[str, list]]]:
    """Groups of equal-length lists: per class (classes, precision, recall, ...) and dicts of lists (per_horizon)."""
    groups = []
    classes = document.get("classes")
    if isinstance(classes, list):
        same = {k: v for k, v in document.items() if isinstance(v, list) and len(v) == len(classes)
                and k != "confusion"}
        groups.append(("per class", same))
    for name, value in document.items():
        if isinstance(value, dict) and value and all(isinstance(v, list) for v in value.values()):
            groups.append((name, value))
    return groups


def _lists_table(name: str, columns: dict[str, list]) -> str:
    length = max(len(v) for v in columns.values())
    header = [*columns] if "classes" in columns else ["horizon step", *columns]
    rows = []
    for i in range(length):
        cells = [_cell(v[i]) if i < len(v) else "" for v in columns.values()]
        rows.append(cells if "classes" in columns else [str(i + 1), *cells])
    return f"<h3>{text(name)}</h3>\n" + table(header, rows)


def _versions() -> Sequence[Sequence[str]]:
    """rnnlab, Python, NumPy and Matplotlib; PyTorch only if something already imported it (never imported here)."""
    import matplotlib
    import numpy

    from rnnlab import __version__

    rows = [["rnnlab", __version__], ["python", platform.python_version()], ["numpy", numpy.__version__],
            ["matplotlib", matplotlib.__version__]]
    if "torch" in sys.modules:
        rows.append(["torch", str(getattr(sys.modules["torch"], "__version__", "unknown"))])
    return rows
