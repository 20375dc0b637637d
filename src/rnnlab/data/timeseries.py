"""Regular time series from CSV files or arrays: dates parsed, the time grid checked, gaps reported.

A `Series` holds T evenly spaced observations of D columns. Its `freq` names the spacing:

    "YS" / "Y"   calendar years (dates at year start / year end, or bare years like 1700)
    "QS" / "Q"   calendar quarters (3 calendar months)
    "MS" / "M"   calendar months (month start or bare "YYYY-MM" / month end)
    "W"          weeks (7 days, any weekday)     "D"    days
    "h"          hours                            "min"  minutes       "s"  seconds

with an optional whole multiple in front ("2W", "15min", "6MS"). Calendar steps are counted in
calendar units, not fixed days: `times` is stored as datetime64[Y] for years, datetime64[M] for
months and quarters, datetime64[D] for days and weeks, datetime64[s] below a day. The day of a
month-end anchor is not kept (1949-01-31 is stored as 1949-01 with freq "M").
`season` follows from the freq: 12 monthly, 4 quarterly, 52 weekly (52.18 rounded down), 7 daily,
24 hourly; None for years, multiples and sub-hourly steps (see `rnnlab.baselines.forecast.infer_season`).
"""

from __future__ import annotations

import contextlib
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from rnnlab.data.files import current_encoding, text_encoding
from rnnlab.data.series_csv import column_index, parse_times, parse_values, read_rows
from rnnlab.errors import RnnlabError

_FREQ_ALIASES = {"A": "Y", "AS": "YS", "YE": "Y", "QE": "Q", "ME": "M", "H": "h", "T": "min", "S": "s"}
# base code -> (numpy datetime unit, units per step)
_FREQ_BASES = {
    "YS": ("Y", 1),
    "Y": ("Y", 1),
    "QS": ("M", 3),
    "Q": ("M", 3),
    "MS": ("M", 1),
    "M": ("M", 1),
    "W": ("D", 7),
    "D": ("D", 1),
    "h": ("s", 3600),
    "min": ("s", 60),
    "s": ("s", 1),
}
_SEASONS = {"QS": 4, "Q": 4, "MS": 12, "M": 12, "W": 52, "D": 7, "h": 24}
_FREQ_RE = re.compile(r"^(\d*)([A-Za-z]+)$")

_MISSING_POLICIES = ("fail", "interpolate", "drop")


def parse_freq(freq: str) -> tuple[str, np.timedelta64]:
    """The canonical spelling of `freq` and its step in its datetime unit.

    >>> parse_freq("M")
    ('M', np.timedelta64(1,'M'))
    >>> parse_freq("2W")
    ('2W', np.timedelta64(14,'D'))
    """
    match = _FREQ_RE.match(str(freq))
    base = match and _FREQ_ALIASES.get(match.group(2), match.group(2))
    if not match or base not in _FREQ_BASES or match.group(1) in ("0",):
        raise RnnlabError(f"Received an invalid value for argument `freq`, expected one of "
                          f"{', '.join(_FREQ_BASES)} with an optional multiple (e.g. '2W'), got {freq!r}.")
    multiple = int(match.group(1) or 1)
    unit, per_step = _FREQ_BASES[base]
    canonical = base if multiple == 1 else f"{multiple}{base}"
    return canonical, np.timedelta64(multiple * per_step, unit)


def season_for_freq(freq: str | None) -> int | None:
    """Observations per seasonal cycle implied by `freq`, or None when it implies none.

    >>> season_for_freq("MS"), season_for_freq("W"), season_for_freq("YS"), season_for_freq(None)
    (12, 52, None, None)
    """
    return None if freq is None else _SEASONS.get(parse_freq(freq)[0])


@dataclass(frozen=True, eq=False)
class Series:
    """T evenly spaced observations of D named columns (see the module docstring for `freq`).

    times:   (T,) datetime64, strictly increasing, in the unit of `freq`.
    values:  (T, D) float64, no NaN once read (read-only).
    columns: D names.
    freq:    the spacing, or None for arrays without a calendar (`from_array` without `freq`).
    season:  observations per season, derived from `freq` (not an argument).
    filled:  (K, 2) int64 `(row, column)` pairs of values that were interpolated, as np.argwhere
             gives them; `values[filled[:, 0], filled[:, 1]]` are the filled values.
    regular: False when rows were dropped and the times no longer lie on a full grid.
    source:  the arguments of the `read_series_csv` call that read it (path, time_column, value_columns,
             missing), so that a run can read it again; None for arrays.
    """

    times: np.ndarray
    values: np.ndarray
    columns: list[str]
    freq: str | None
    filled: np.ndarray = field(default_factory=lambda: np.empty((0, 2), dtype=np.int64))
    regular: bool = True
    source: dict | None = None
    season: int | None = field(init=False)

    def __post_init__(self) -> None:
        values = np.array(self.values, dtype=np.float64)
        values = values[:, None] if values.ndim == 1 else values
        times = np.array(self.times)
        if values.ndim != 2 or times.ndim != 1 or len(times) != len(values):
            raise RnnlabError(f"Series needs times (T,) and values (T, D); got {times.shape} and {values.shape}")
        if not np.issubdtype(times.dtype, np.datetime64):
            raise RnnlabError(f"Series times must be datetime64, got dtype {times.dtype}")
        if len(self.columns) != values.shape[1]:
            raise RnnlabError(f"Series has {values.shape[1]} value columns but {len(self.columns)} names")
        freq = None if self.freq is None else parse_freq(self.freq)[0]
        if freq is not None:
            times = _to_unit(times, parse_freq(freq)[1], "Series times")
        filled = np.array(self.filled, dtype=np.int64).reshape(-1, 2)
        for array in (times, values, filled):
            array.setflags(write=False)
        settled = {"times": times, "values": values, "columns": list(self.columns), "freq": freq, "filled": filled,
                   "season": season_for_freq(freq)}
        for name, value in settled.items():
            object.__setattr__(self, name, value)

    def __len__(self) -> int:
        return len(self.times)

    def __repr__(self) -> str:
        span = f"{self.times[0]}..{self.times[-1]}" if len(self) else "empty"
        return (f"Series(T={len(self)}, columns={self.columns}, freq={self.freq!r}, season={self.season}, "
                f"{span}, filled={len(self.filled)}, regular={self.regular})")

    def column_values(self, names: list[str]) -> np.ndarray:
        """The named columns, in that order, as (T, len(names)) float64.

        >>> from_array(np.array([[1.0, 10.0]])).column_values(["y1", "y0"])
        array([[10.,  1.]])
        """
        missing = [name for name in names if name not in self.columns]
        if missing:
            raise RnnlabError(f"the data lacks the columns {missing}; it has {self.columns}")
        return self.values[:, [self.columns.index(name) for name in names]]

    @property
    def step(self) -> np.timedelta64 | None:
        """The time between consecutive observations (calendar months/years for those freqs)."""
        return None if self.freq is None else parse_freq(self.freq)[1]

    def future_times(self, horizon: int) -> np.ndarray:
        """The `horizon` timestamps after the last observation, (horizon,) datetime64.

        >>> from_array([1.0, 2.0], start="1960-11", freq="MS").future_times(2)
        array(['1961-01', '1961-02'], dtype='datetime64[M]')
        """
        step = self.step if self.step is not None else np.timedelta64(1, "D")
        return self.times[-1] + step * np.arange(1, horizon + 1)


def from_array(values: np.ndarray, start: str | np.datetime64 | None = None, freq: str | None = None) -> Series:
    """A `Series` from a (T,) or (T, D) array, columns named "y0", "y1", ...

    With `freq` the times run from `start` (default the 1970 epoch) in steps of `freq`. Without
    `freq` the steps have no calendar meaning: freq and season are None and the times count days
    from 1970-01-01 only so that plots have an axis; `start` then makes no sense and is refused.

    >>> s = from_array(np.arange(6.0), start="1949-01", freq="MS")
    >>> s.values.shape, s.season, str(s.times[-1])
    ((6, 1), 12, '1949-06')
    """
    array = np.asarray(values, dtype=np.float64)
    array = array[:, None] if array.ndim == 1 else array
    if array.ndim != 2 or len(array) == 0:
        raise RnnlabError(f"from_array expects values of shape (T,) or (T, D) with T >= 1, got {array.shape}")
    if not np.all(np.isfinite(array)):
        bad = int(np.sum(~np.isfinite(array)))
        raise RnnlabError(f"from_array: values hold {bad} NaN or infinite entries")
    columns = [f"y{j}" for j in range(array.shape[1])]
    if freq is None:
        if start is not None:
            raise RnnlabError(f"from_array: start={start!r} needs a freq (e.g. freq='MS')")
        return Series(np.datetime64("1970-01-01") + np.arange(len(array)), array, columns, None)
    freq, step = parse_freq(freq)
    first = np.datetime64(0, np.datetime_data(step.dtype)[0]) if start is None else np.datetime64(start)
    first = _to_unit(np.array([first]), step, f"from_array start={start!r}")[0]
    return Series(first + step * np.arange(len(array)), array, columns, freq)


def read_series_csv(path: str | Path, time_column: str | None = None, value_columns: list[str] | None = None,
                    missing: Literal["fail", "interpolate", "drop"] = "fail", encoding: str | None = None) -> Series:
    """Read a CSV with a header row, a time column and numeric value columns into a `Series`.

    The file is decoded as `encoding`, else as the `text_encoding` in force (UTF-8 by default).

    The time column is `time_column` or else the first column; the value columns are
    `value_columns` or else all the others. Dates may be YYYY (also 1700.0), YYYY-MM, YYYY-MM-DD
    (or with /), YYYYMMDD, or YYYY-MM-DD HH:MM[:SS]; one form per file. Times must be sorted
    ascending without duplicates: an unsorted file is an error rather than silently reordered,
    because it usually means a wrong column or a concatenation mistake.

    The spacing is inferred as the most common step (calendar months and years when every date sits
    on a month or year boundary). Gaps (timestamps missing from the grid) and missing values (empty
    cells, NaN, NA, null) are then handled by `missing`:
      "fail"        raise, with counts and first positions, suggesting the other two;
      "interpolate" insert the missing timestamps and fill linearly in time (one grid step = one
                    unit of time, so a calendar month counts as one step); recorded in `filled`;
      "drop"        remove rows with any missing value; if that (or a gap) leaves the times off a
                    full grid, warn and set `regular=False`.
    """
    if missing not in _MISSING_POLICIES:
        raise RnnlabError(f"Received an invalid value for argument `missing`, expected one of {_MISSING_POLICIES}, "
                          f"got {missing!r}.")
    with text_encoding(encoding) if encoding else contextlib.nullcontext():
        header, rows, lines = read_rows(Path(path))
        encoding = current_encoding()
    source = {"path": str(Path(path).absolute()),  # absolute, so that a run reads it again from any folder
              "time_column": time_column, "value_columns": value_columns, "missing": missing, "encoding": encoding}
    time_index = column_index(path, header, time_column) if time_column else 0
    names = value_columns or [name for j, name in enumerate(header) if j != time_index]
    value_indices = [column_index(path, header, name) for name in names]
    if not value_indices or time_index in value_indices:
        raise RnnlabError(f"{path}: need value columns other than the time column {header[time_index]!r}")
    times = parse_times(path, header[time_index], [row[time_index] for row in rows], lines)
    values = np.column_stack([parse_values(path, header[j], [row[j] for row in rows], lines) for j in value_indices])
    times, freq, step = _infer_grid(path, times, lines)
    positions = ((times - times[0]) // step).astype(np.int64)  # (T,) grid index of each row
    gaps, first_gaps = _gaps(positions)  # how many grid indices have no row, and the first three
    if missing == "fail" and (gaps or np.isnan(values).any()):
        raise RnnlabError(_problems_message(path, names, values, lines, gaps, times[0] + first_gaps * step, freq))
    if missing == "drop":
        keep = ~np.isnan(values).any(axis=1)
        if not keep.any():
            raise RnnlabError(f"{path}: every row has a missing value, so missing='drop' leaves nothing")
        regular = gaps == 0 and bool(keep.all())
        if not regular:
            warnings.warn(f"{path}: dropped {int(np.sum(~keep))} rows with missing values and left {gaps} "
                          f"gaps; the series is no longer evenly spaced ({freq})", stacklevel=2)
        return Series(times[keep], values[keep], names, freq, regular=regular, source=source)
    _check_grid_size(path, positions, lines, freq)
    grid_values = np.full((positions[-1] + 1, len(names)), np.nan)  # (T_grid, D)
    grid_values[positions] = values
    grid_times = times[0] + step * np.arange(len(grid_values))
    filled = np.argwhere(np.isnan(grid_values))
    for j, name in enumerate(names):
        grid_values[:, j] = _interpolate_column(path, name, grid_values[:, j], grid_times)
    return Series(grid_times, grid_values, names, freq, filled=filled, source=source)


def _infer_grid(path: str | Path, times: np.ndarray, lines: list[int]) -> tuple[np.ndarray, str, np.timedelta64]:
    """Times in their coarsest lossless calendar unit, the freq name and the step."""
    steps = np.diff(times).astype(np.int64)
    if np.any(steps <= 0):
        i = int(np.argmax(steps <= 0)) + 1
        problem = "repeats" if steps[i - 1] == 0 else "comes before"
        raise RnnlabError(f"{path}: line {lines[i]}: time {times[i]} {problem} {times[i - 1]} on line {lines[i - 1]}; "
                          f"the time column must be sorted ascending without duplicates")
    times, anchor_end = _coarsen(times)
    steps = np.diff(times).astype(np.int64)
    counts = np.unique(steps, return_counts=True)
    step = int(counts[0][np.argmax(counts[1])])  # most common step; ties go to the smallest
    if np.any(steps % step):
        i = int(np.argmax(steps % step != 0)) + 1
        raise RnnlabError(f"{path}: line {lines[i]}: time {times[i]} is not a whole number of steps "
                          f"({step} {np.datetime_data(times.dtype)[0]}) after {times[i - 1]}; the times are irregular")
    unit = np.datetime_data(times.dtype)[0]
    if unit in ("Y", "M"):
        base, per_step = ("Q", 3) if unit == "M" and step == 3 else (unit, 1)
        freq, step = parse_freq(f"{step // per_step}{base}{'' if anchor_end else 'S'}")
    else:
        per = {"D": [("W", 7), ("D", 1)], "s": [("h", 3600), ("min", 60), ("s", 1)]}[unit]
        base, size = next((base, size) for base, size in per if step % size == 0)
        freq, step = parse_freq(f"{step // size}{base}")
    return times, freq, step


def _coarsen(times: np.ndarray) -> tuple[np.ndarray, bool]:
    """Recast times on day, month or year boundaries to that unit; True if anchored at period ends."""
    unit = np.datetime_data(times.dtype)[0]
    if unit == "s" and np.all(times.astype("datetime64[D]") == times):
        times, unit = times.astype("datetime64[D]"), "D"
    anchor_end = False
    if unit == "D":
        months = times.astype("datetime64[M]")
        if np.all(months == times):
            times, unit = months, "M"
        elif np.all((months + 1).astype("datetime64[D]") - 1 == times):
            times, unit, anchor_end = months, "M", True
    if unit == "M":
        month_of_year = times.astype(np.int64) % 12  # 0 = January
        if np.all(month_of_year == (11 if anchor_end else 0)):
            times = times.astype("datetime64[Y]")
    return times, anchor_end


def _gaps(positions: np.ndarray, first: int = 3) -> tuple[int, np.ndarray]:
    """The number of grid indices between 0 and positions[-1] that hold no row, and the first `first` of them.

    Counted from the jumps between rows, so a grid of 10^12 steps costs nothing.

    >>> _gaps(np.array([0, 1, 4, 5, 7]))
    (3, array([2, 3, 6]))
    """
    jumps = np.diff(positions) - 1  # (T-1,) grid indices missing after each row
    found: list[int] = []
    for i in np.flatnonzero(jumps)[:first]:
        found.extend(range(int(positions[i]) + 1, int(positions[i]) + 1 + min(int(jumps[i]), first)))
    return int(jumps.sum()), np.array(found[:first], dtype=np.int64)


def _check_grid_size(path: str | Path, positions: np.ndarray, lines: list[int], freq: str) -> None:
    """Refuse to interpolate a grid far larger than the rows (a stray date, such as 2100 among 2000-2010)."""
    rows, grid = len(positions), int(positions[-1]) + 1
    if grid > 10 * rows + 10_000:
        i = int(np.argmax(np.diff(positions)))
        raise RnnlabError(f"{path}: the times span {grid} steps ({freq}) but there are only {rows} rows (the "
                          f"largest jump: line {lines[i]} to line {lines[i + 1]}); interpolating would invent "
                          f"{grid - rows} values; check the time column, or use missing='drop' (--missing drop)")


def _problems_message(path: str | Path, names: list[str], values: np.ndarray, lines: list[int],
                      gaps: int, gap_times: np.ndarray, freq: str) -> str:
    parts = []
    if np.isnan(values).any():
        per_column = []
        for j, name in enumerate(names):
            rows = np.flatnonzero(np.isnan(values[:, j]))
            if len(rows):
                first = ", ".join(str(lines[i]) for i in rows[:3])
                per_column.append(f"column {name!r}: {len(rows)}, first at lines {first}")
        count = int(np.isnan(values).sum())
        parts.append(f"{count} missing value{'s' if count > 1 else ''} ({'; '.join(per_column)})")
    if gaps:
        first = ", ".join(str(t) for t in gap_times[:3])
        parts.append(f"{gaps} gap{'s' if gaps > 1 else ''} in the {freq} time grid (first missing timestamps {first})")
    return (f"{path}: {' and '.join(parts)}; pass missing='interpolate' (--missing interpolate) to fill "
            f"linearly in time, or missing='drop' (--missing drop) to remove those rows")


def _interpolate_column(path: str | Path, name: str, column: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Linear interpolation over grid steps; missing values at either end cannot be filled."""
    known = np.flatnonzero(~np.isnan(column))
    if len(known) == 0:
        raise RnnlabError(f"{path}: column {name!r} has no values")
    for end, position in (("start", 0), ("end", len(column) - 1)):
        if np.isnan(column[position]):
            raise RnnlabError(f"{path}: column {name!r} is missing at the {end} of the series ({times[position]}), "
                              f"so there is nothing to interpolate from; trim those rows or use missing='drop'")
    return np.interp(np.arange(len(column)), known, column[known])


def _to_unit(times: np.ndarray, step: np.timedelta64, what: str) -> np.ndarray:
    """Cast times to the unit of `step`, refusing to drop precision (1949-01-15 is not a month)."""
    unit = np.datetime_data(step.dtype)[0]
    cast = times.astype(f"datetime64[{unit}]")
    if np.any(cast.astype(times.dtype) != times):
        raise RnnlabError(f"{what}: {times[np.argmax(cast.astype(times.dtype) != times)]} does not lie on a "
                          f"'{unit}' boundary")
    return cast
