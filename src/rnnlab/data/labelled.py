"""Labelled examples for classification: class folders, CSV, sktime `.ts`, IDX and the digits CSV.

Every reader returns plain Python lists or NumPy arrays; none knows about models. Text files are
decoded as `rnnlab.data.files` says: UTF-8 (or the `text_encoding` in force), a byte-order mark and
CRLF line ends accepted, binary files refused; every error names the file, and the line where there is one.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import math
import os
import struct
import zlib
from pathlib import Path

import numpy as np

from rnnlab.data.files import read_file_bytes, read_text_file
from rnnlab.errors import RnnlabError

_GZIP_MAGIC = b"\x1f\x8b"
_DEFLATE_MAX_RATIO = 1032  # deflate cannot expand data more than about 1032 times

# IDX type code -> element dtype; multi-byte types are big-endian on disk.
_IDX_DTYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def _read_maybe_gzip(path: Path) -> bytes:
    """The bytes of `path`, decompressed when they start with the gzip magic bytes."""
    data = read_file_bytes(path)
    if not data.startswith(_GZIP_MAGIC):
        return data
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as error:
        raise RnnlabError(f"{path}: starts like gzip but does not decompress ({error})") from None


def read_class_folder(folder: str | os.PathLike) -> tuple[list[str], list[str]]:
    """Examples and labels from a folder holding one UTF-8 `*.txt` file per class.

    The class is the file stem (`Irish.txt` -> "Irish"); each non-empty line is one example,
    with whitespace at its ends removed. Files are read in sorted order, hidden files skipped.
    Returns (texts, labels), two lists of equal length.
    """
    folder = Path(folder)
    if not folder.is_dir():
        what = "is a file, expected a folder of *.txt class files" if folder.exists() else "no such folder"
        raise RnnlabError(f"{folder}: {what}")
    files = sorted(p for p in folder.glob("*.txt") if p.is_file() and not p.name.startswith("."))
    if not files:
        raise RnnlabError(f"{folder}: no *.txt class files in this folder")
    texts: list[str] = []
    labels: list[str] = []
    for file in files:
        examples = [line.strip() for line in read_text_file(file).split("\n")]
        examples = [example for example in examples if example]
        if not examples:
            raise RnnlabError(f"{file}: no examples (every line is empty)")
        texts.extend(examples)
        labels.extend([file.stem] * len(examples))
    return texts, labels


def read_labelled_csv(
    path: str | os.PathLike, text_column: str = "text", label_column: str = "label"
) -> tuple[list[str], list[str]]:
    """Texts and labels from a UTF-8 CSV file with a header row.

    Blank lines are skipped; a row with the wrong number of fields or an empty label is an
    error. Returns (texts, labels), two lists of equal length.
    """
    path = Path(path)
    reader = csv.reader(io.StringIO(read_text_file(path), newline=""))
    texts: list[str] = []
    labels: list[str] = []
    try:
        header = next(reader, None)
        if header is None:
            raise RnnlabError(f"{path}: empty file, expected a header row")
        for column in (text_column, label_column):
            if column not in header:
                available = ", ".join(map(repr, header))
                raise RnnlabError(f"{path}: no column {column!r}; available columns: {available}")
        text_index, label_index = header.index(text_column), header.index(label_column)
        for row in reader:
            if not row:
                continue
            if len(row) != len(header):
                raise RnnlabError(f"{path} line {reader.line_num}: expected {len(header)} fields, got {len(row)}")
            if not row[label_index].strip():
                raise RnnlabError(f"{path} line {reader.line_num}: empty label in column {label_column!r}")
            texts.append(row[text_index])
            labels.append(row[label_index])
    except csv.Error as error:
        raise RnnlabError(f"{path} line {reader.line_num}: {error}") from None
    if not texts:
        raise RnnlabError(f"{path}: no rows after the header")
    return texts, labels


def _parse_ts_bool(path: Path, number: int, keyword: str, value: str) -> bool:
    if value.lower() not in ("true", "false"):
        raise RnnlabError(f"{path} line {number}: @{keyword} must be true or false, got {value!r}")
    return value.lower() == "true"


def _parse_ts_int(path: Path, number: int, keyword: str, value: str) -> int:
    # at most 9 digits: no sane series needs more, and Python refuses int() of a 4301-digit string
    if not (value.isascii() and value.isdigit() and len(value) <= 9) or int(value) < 1:
        raise RnnlabError(f"{path} line {number}: @{keyword} must be a positive integer below 10^9, "
                          f"got {value[:20]!r}")
    return int(value)


def _parse_ts_header(path: Path, lines: list[str]) -> tuple[dict, int]:
    """The header fields of a `.ts` file and the index of the line after `@data`."""
    header: dict = {"dimensions": None, "series_length": None, "equal_length": False}
    for index, raw in enumerate(lines):
        number, line = index + 1, raw.strip()
        if not line or line.startswith("#"):
            continue
        if not line.startswith("@"):
            raise RnnlabError(f"{path} line {number}: data before the @data line")
        keyword, value = (line[1:].split(None, 1) + ["", ""])[:2]
        keyword, value = keyword.lower(), value.strip()
        if keyword == "data":
            if "class_labels" not in header:
                raise RnnlabError(f"{path}: no @classLabel line before @data")
            return header, index + 1
        if keyword == "problemname":
            header["problem_name"] = value
        elif keyword == "timestamps":
            if _parse_ts_bool(path, number, keyword, value):
                raise RnnlabError(f"{path} line {number}: timestamped .ts files are not supported")
        elif keyword == "targetlabel":
            if _parse_ts_bool(path, number, keyword, value):
                raise RnnlabError(f"{path} line {number}: regression .ts files (@targetLabel true) are not supported")
        elif keyword == "missing":
            _parse_ts_bool(path, number, keyword, value)  # '?' is read as NaN either way
        elif keyword == "univariate":
            if _parse_ts_bool(path, number, keyword, value):
                header["univariate"] = True
        elif keyword == "equallength":
            header["equal_length"] = _parse_ts_bool(path, number, keyword, value)
        elif keyword == "serieslength":
            header["series_length"] = _parse_ts_int(path, number, keyword, value)
        elif keyword == "dimensions":
            header["dimensions"] = _parse_ts_int(path, number, keyword, value)
        elif keyword == "classlabel":
            flag, names = (value.split(None, 1) + ["", ""])[:2]
            if _parse_ts_bool(path, number, keyword, flag):
                header["class_labels"] = names.split()
                if not header["class_labels"]:
                    raise RnnlabError(f"{path} line {number}: @classLabel true lists no labels")
            else:
                header["class_labels"] = None
        else:
            raise RnnlabError(f"{path} line {number}: unknown header line '@{keyword}'")
    raise RnnlabError(f"{path}: no @data line")


def _parse_ts_values(path: Path, number: int, dimension: int, text: str) -> np.ndarray:
    """One dimension of one case: comma-separated numbers, '?' for missing. (T,) float64."""
    values = []
    for value in text.split(","):
        value = value.strip()
        try:
            values.append(np.nan if value == "?" else float(value))
        except ValueError:
            raise RnnlabError(f"{path} line {number}: dimension {dimension}: {value[:40]!r} is not a number") from None
        if np.isinf(values[-1]):  # ('?' and NaN are missing values)
            raise RnnlabError(f"{path} line {number}: dimension {dimension}: {value!r} is not a finite number")
    return np.array(values, dtype=np.float64)


def _parse_ts_case(
    path: Path, number: int, line: str, dimensions: int, labelled: bool
) -> tuple[np.ndarray, str | None]:
    """One case line: ((T, D) float32 array, label or None)."""
    fields = line.split(":")
    if len(fields) != dimensions + labelled:
        expected = f"{dimensions} dimension(s)" + (" and a class label" if labelled else "")
        raise RnnlabError(
            f"{path} line {number}: expected {expected} ({dimensions + labelled} ':'-separated fields), "
            f"got {len(fields)}"
        )
    columns = [_parse_ts_values(path, number, d + 1, text) for d, text in enumerate(fields[:dimensions])]
    for d, column in enumerate(columns[1:], start=2):
        if len(column) != len(columns[0]):
            raise RnnlabError(
                f"{path} line {number}: dimension {d} has {len(column)} values, dimension 1 has {len(columns[0])}"
            )
    label = fields[-1].strip() if labelled else None
    if labelled and not label:
        raise RnnlabError(f"{path} line {number}: no class label after the last ':'")
    return np.stack(columns, axis=1).astype(np.float32), label  # (T, D)


def read_ts(path: str | os.PathLike) -> tuple[list[np.ndarray], np.ndarray]:
    """Cases and class labels from an sktime / UCR-UEA `.ts` file.

    The header (`@problemName`, `@timeStamps`, `@missing`, `@univariate`, `@dimensions`,
    `@equalLength`, `@seriesLength`, `@classLabel true <labels...>`, then `@data`; `#` lines
    are comments) is followed by one case a line: dimensions separated by ':', each a
    comma-separated series ('?' is missing, read as NaN), then the class label. Labels are
    checked against the declared set, the dimension count against `@dimensions` (or the
    first case), and the length against `@seriesLength` when `@equalLength true`.
    Timestamped files are refused with RnnlabError.

    Returns (series, labels): a list of N float32 arrays of shape (T_i, D), and labels as a
    (N,) str array, or a (0,) str array when the header says `@classLabel false`.
    """
    path = Path(path)
    lines = read_text_file(path).split("\n")
    header, first_case = _parse_ts_header(path, lines)
    class_labels = header["class_labels"]
    dimensions = 1 if header.get("univariate") else header["dimensions"]
    if header.get("univariate") and header["dimensions"] not in (None, 1):
        raise RnnlabError(f"{path}: @univariate true but @dimensions {header['dimensions']}")
    series: list[np.ndarray] = []
    labels: list[str] = []
    for index in range(first_case, len(lines)):
        number, line = index + 1, lines[index].strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("@"):
            raise RnnlabError(f"{path} line {number}: header line after @data")
        if dimensions is None:  # neither @univariate true nor @dimensions: the first case decides
            dimensions = line.count(":") + 1 - (class_labels is not None)
            if dimensions < 1:
                raise RnnlabError(f"{path} line {number}: expected a series, ':', then a class label; found no ':'")
        case, label = _parse_ts_case(path, number, line, dimensions, class_labels is not None)
        expected_length = header["series_length"] or (len(series[0]) if series else None)
        if header["equal_length"] and expected_length and len(case) != expected_length:
            raise RnnlabError(f"{path} line {number}: expected {expected_length} values per dimension, got {len(case)}")
        if class_labels is not None:
            if label not in class_labels:
                raise RnnlabError(
                    f"{path} line {number}: class label {label!r} is not one of those declared in "
                    f"@classLabel ({' '.join(class_labels)})"
                )
            labels.append(label)
        series.append(case)
    if not series:
        raise RnnlabError(f"{path}: no cases after @data")
    return series, np.array(labels, dtype=str)


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """The array stored in an IDX file (MNIST's format), raw or gzipped (detected by magic bytes).

    The header is two zero bytes, a type code (0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32,
    0x0D float32, 0x0E float64), the number of dimensions, then each size as a big-endian
    uint32. Returns a writable array of that shape and type in native byte order, after
    checking that the data size matches the header. The header is read first: a size the file
    cannot hold (gzip expands at most ~1032 times) is refused before anything is decompressed
    or allocated, and a gzipped body is decompressed only up to the declared size.
    """
    path = Path(path)
    raw = read_file_bytes(path)
    gzipped = raw.startswith(_GZIP_MAGIC)
    stream = gzip.GzipFile(fileobj=io.BytesIO(raw)) if gzipped else io.BytesIO(raw)
    try:
        return _read_idx_stream(path, stream, len(raw) * (_DEFLATE_MAX_RATIO if gzipped else 1))
    except (OSError, EOFError, zlib.error) as error:
        raise RnnlabError(f"{path}: starts like gzip but does not decompress: truncated or corrupt ({error})") from None


def _read_idx_stream(path: Path, stream: io.BufferedIOBase, most: int) -> np.ndarray:
    """Parse IDX from `stream`, which can yield at most `most` bytes."""
    head = stream.read(4)
    if len(head) < 4:
        raise RnnlabError(f"{path}: {len(head)} bytes, too short for an IDX header")
    if head[0] != 0 or head[1] != 0 or head[2] not in _IDX_DTYPES:
        known = ", ".join(f"0x{code:02X}" for code in _IDX_DTYPES)
        raise RnnlabError(
            f"{path}: wrong magic number 0x{head.hex().upper()}, expected 0x0000 then a type code "
            f"({known}) and a dimension count; not an IDX file?"
        )
    dtype, ndim = _IDX_DTYPES[head[2]], head[3]
    sizes = stream.read(4 * ndim)
    if len(sizes) < 4 * ndim:
        raise RnnlabError(f"{path}: header truncated, {ndim} dimension sizes need {4 + 4 * ndim} bytes")
    shape = struct.unpack(f">{ndim}I", sizes)
    expected = math.prod(shape) * dtype.itemsize  # Python ints: no overflow, whatever the header says
    described = f"header says shape {shape} of {dtype.newbyteorder('=').name} ({expected} bytes)"
    if expected > most:
        raise RnnlabError(f"{path}: {described}, more than a file of its size can hold")
    body = stream.read(expected + 1)
    if len(body) != expected:
        follow = len(body) if len(body) < expected else f"more than {expected}"
        raise RnnlabError(f"{path}: {described}, but {follow} bytes follow")
    return np.frombuffer(body, dtype=dtype).astype(dtype.newbyteorder("=")).reshape(shape)


def read_digits_csv(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's `digits.csv.gz` (raw or gzipped): 64 pixel counts per row, then the digit.

    Returns (images, labels): images (N, 8, 8) float32, row-major as in the file, and labels
    (N,) int64.
    """
    path = Path(path)
    data = _read_maybe_gzip(path).removeprefix(codecs.BOM_UTF8)
    try:
        lines = data.decode("ascii").split("\n")  # a CR before the LF is stripped with the fields
    except UnicodeDecodeError as error:
        raise RnnlabError(f"{path}: not a digits CSV, non-ASCII byte at offset {error.start}") from None
    pixels: list[list[float]] = []
    labels: list[int] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        fields = line.split(",")
        if len(fields) != 65:
            raise RnnlabError(f"{path} line {number}: expected 65 fields (64 pixels, 1 label), got {len(fields)}")
        try:
            pixels.append([float(value) for value in fields[:64]])
            labels.append(int(fields[64]))
        except ValueError:
            raise RnnlabError(f"{path} line {number}: expected numbers and an integer label") from None
        if not np.isfinite(pixels[-1]).all():
            raise RnnlabError(f"{path} line {number}: a pixel value is NaN or infinite")
    if not labels:
        raise RnnlabError(f"{path}: no rows")
    images = np.array(pixels, dtype=np.float32).reshape(-1, 8, 8)  # (N, 8, 8)
    return images, np.array(labels, dtype=np.int64)
