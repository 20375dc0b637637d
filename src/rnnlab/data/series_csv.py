"""The cells of a time-series CSV file: header, rows with their line numbers, dates and numbers.

`rnnlab.data.timeseries.read_series_csv` builds a `Series` from these; every problem with the
file itself (a ragged row, a header without names, a date or a number that does not read, an
infinity) is reported here, naming the file, the line and the column.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import numpy as np

from rnnlab.data.files import read_text_file
from rnnlab.errors import RnnlabError

# (name, pattern, numpy unit); a column must use one form throughout
DATE_FORMS = [  # (re.ASCII: \d is 0-9 only, the digits NumPy reads)
    ("YYYY", re.compile(r"^\d{4}(\.0*)?$", re.ASCII), "Y"),
    ("YYYY-MM", re.compile(r"^\d{4}-\d{2}$", re.ASCII), "M"),
    ("YYYY-MM-DD", re.compile(r"^\d{4}[-/]\d{2}[-/]\d{2}$", re.ASCII), "D"),
    ("YYYYMMDD", re.compile(r"^\d{8}$", re.ASCII), "D"),
    ("YYYY-MM-DD HH:MM[:SS]", re.compile(r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2})?$", re.ASCII), "s"),
]
MISSING_TOKENS = {"", "nan", "na", "n/a", "null", "none", "."}


def read_rows(path: Path) -> tuple[list[str], list[list[str]], list[int]]:
    """Header, data rows (stripped cells) and their 1-based file line numbers; blank lines skipped."""
    reader = csv.reader(io.StringIO(read_text_file(path), newline=""))
    try:
        header = [cell.strip() for cell in next(reader, [])]
        rows, lines = [], []
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                raise RnnlabError(f"{path}: line {reader.line_num} has {len(row)} fields, "
                                  f"the header has {len(header)}")
            rows.append([cell.strip() for cell in row])
            lines.append(reader.line_num)
    except csv.Error as error:
        raise RnnlabError(f"{path}: line {reader.line_num}: not a readable CSV row ({error})") from None
    for j, name in enumerate(header):
        if not name:
            raise RnnlabError(f"{path}: line 1: column {j + 1} of the header has no name")
        if name in header[:j]:
            raise RnnlabError(f"{path}: line 1: the header names column {name!r} twice")
    if not rows:
        raise RnnlabError(f"{path}: only a header line, no data rows")
    if len(header) < 2 or len(rows) < 2:
        raise RnnlabError(f"{path}: need a header with a time column and a value column, and at least 2 data rows; "
                          f"found {len(header)} columns and {len(rows)} rows")
    return header, rows, lines


def column_index(path: str | Path, header: list[str], name: str) -> int:
    """The position of column `name` in the header; RnnlabError naming the columns there are."""
    if name not in header:
        raise RnnlabError(f"{path}: no column {name!r}; the header has {header}")
    return header.index(name)


def parse_times(path: str | Path, column: str, cells: list[str], lines: list[int]) -> np.ndarray:
    """(T,) datetime64 in the unit of the form the first cell uses."""
    form = next((form for form in DATE_FORMS if form[1].match(cells[0])), None)
    if form is None:
        raise RnnlabError(f"{path}: line {lines[0]} column {column!r}: cannot read {cells[0]!r} as a date; "
                          f"expected one of {', '.join(name for name, _, _ in DATE_FORMS)}")
    name, pattern, unit = form
    times = np.empty(len(cells), dtype=f"datetime64[{unit}]")
    for i, (cell, line) in enumerate(zip(cells, lines, strict=True)):
        try:
            if not pattern.match(cell):
                raise ValueError(f"not in the form {name} of the first row")
            if unit == "Y":
                text = cell.split(".")[0]
            elif len(cell) == 8:
                text = f"{cell[:4]}-{cell[4:6]}-{cell[6:]}"
            else:
                text = cell.replace("/", "-").replace(" ", "T")
            times[i] = np.datetime64(text, unit)
        except ValueError as error:
            raise RnnlabError(
                f"{path}: line {line} column {column!r}: cannot read {cell!r} as a date ({error})"
            ) from error
    return times


def parse_values(path: str | Path, column: str, cells: list[str], lines: list[int]) -> np.ndarray:
    """(T,) float64 with NaN where the cell is a missing-value token."""
    values = np.empty(len(cells))
    for i, (cell, line) in enumerate(zip(cells, lines, strict=True)):
        if cell.lower() in MISSING_TOKENS:
            values[i] = np.nan
            continue
        try:
            values[i] = float(cell)
        except ValueError:
            raise RnnlabError(f"{path}: line {line} column {column!r}: {cell!r} is not a number") from None
        if not np.isfinite(values[i]):
            raise RnnlabError(f"{path}: line {line} column {column!r}: {cell!r} is not a finite number")
    return values
