"""One self-contained HTML report per run folder, for every task (`rnnlab report RUN`).

The page holds the configuration, the library versions, a training summary, the curves drawn from
`log.jsonl` (train_loss and every val_* figure, and lr, against step), the gradient flow from
`gradients.jsonl` when the run logged it (--log-gradients), the task's own figures found
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

# drawn by the tasks, when present (attention.png: seq2seq)
FIGURE_FILES = ("loss.png", "confusion.png", "forecast.png", "eval.png", "attention.png")
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
    return _read_jsonl(folder / "log.jsonl", "log")


def _read_jsonl(path: Path, what: str) -> list[dict[str, Any]]:
    """The JSON objects of `path`, one a line ([] when there is no such file)."""
    if not path.exists():
        return []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise RnnlabError(f"{path}: cannot read the {what} ({error})") from None
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
    if (folder / "gradients.jsonl").is_file():
        sections.append(_section("Gradient flow", _gradient_flow(_read_jsonl(folder / "gradients.jsonl",
                                                                              "gradient log"))))
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


GRADIENT_PARAMETERS = 8  # the largest parameter gradients drawn against step


def _gradient_flow(rows: list[dict[str, Any]]) -> str:
    """From gradients.jsonl (`--log-gradients`): the global norm with clipping events, the largest
    parameters' norms, the spectral radius of each W_hh, and the last step's dLoss/dx_t per time step."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from rnnlab.diagnostics.plots import png_bytes

    rows = [r for r in rows if _is_number(r.get("step")) and _is_number(r.get("global_norm"))]
    if not rows:
        return "<p>No steps in gradients.jsonl.</p>"

    def panel(title: str, ylabel: str, xlabel: str = "step", log: bool = True):
        figure = Figure(figsize=(6, 3.2), dpi=90, layout="constrained")
        FigureCanvasAgg(figure)
        axes = figure.add_subplot(1, 1, 1)
        axes.set_title(title)
        axes.set_xlabel(xlabel)
        axes.set_ylabel(ylabel)
        axes.grid(alpha=0.3)
        if log:
            axes.set_yscale("log")
        return figure, axes

    def label(row: dict, name: str) -> str:
        prefix = "".join(f"{k} {row[k]} " for k in ("network", "member") if k in row)
        return prefix + name

    pictures = []
    figure, axes = panel("global gradient norm (before clipping)", "norm")
    groups: dict[str, list[dict]] = {}
    for row in rows:
        groups.setdefault(label(row, "global norm"), []).append(row)
    for name, group in groups.items():
        axes.plot([r["step"] for r in group], [max(r["global_norm"], 1e-30) for r in group], label=name)
        clipped = [r for r in group if r.get("clipped")]
        if clipped:
            axes.scatter([r["step"] for r in clipped], [max(r["global_norm"], 1e-30) for r in clipped], marker="x",
                         color="red", zorder=3, label=f"{name}: clipped ({len(clipped)})")
    axes.legend(fontsize="small")
    pictures.append(image(png_bytes(figure), "global gradient norm"))

    norms: dict[str, tuple[list, list]] = {}
    for row in rows:
        for name, value in (row.get("norms") or {}).items():
            if _is_number(value):
                steps, values = norms.setdefault(label(row, name), ([], []))
                steps.append(row["step"])
                values.append(max(value, 1e-30))
    if norms:
        top = sorted(norms, key=lambda k: -max(norms[k][1]))[:GRADIENT_PARAMETERS]
        figure, axes = panel(f"gradient norm per parameter (the {len(top)} largest)", "norm")
        for name in top:
            axes.plot(*norms[name], label=name)
        axes.legend(fontsize="x-small")
        pictures.append(image(png_bytes(figure), "gradient norm per parameter"))

    radii: dict[str, tuple[list, list]] = {}
    for row in rows:
        for name, value in (row.get("spectral_radius") or {}).items():
            if _is_number(value):
                steps, values = radii.setdefault(label(row, name), ([], []))
                steps.append(row["step"])
                values.append(value)
    if radii:
        figure, axes = panel("spectral radius of W_hh (candidate block for gates)", "max |eigenvalue|", log=False)
        for name, (steps, values) in radii.items():
            axes.plot(steps, values, marker="." if len(steps) < 30 else None, label=name)
        axes.axhline(1.0, color="grey", linestyle="--", linewidth=1)
        axes.legend(fontsize="x-small")
        pictures.append(image(png_bytes(figure), "spectral radius"))

    last = rows[-1]
    inputs = {name: [max(v, 1e-30) for v in values] for name, values in (last.get("input_grad_norms") or {}).items()
              if isinstance(values, list) and values and all(_is_number(v) for v in values)}
    if inputs:
        figure, axes = panel(f"dLoss/dx_t at step {last['step']}", "norm", xlabel="time step t")
        for name, values in inputs.items():
            axes.plot(range(len(values)), values, label=name)
        axes.legend(fontsize="small")
        pictures.append(image(png_bytes(figure), "input gradient per time step"))
    return "\n".join(f"<p>{p}</p>" for p in pictures)


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
