"""Glue between files and the classifier: a path in, sequences and labels out, plus splitting helpers.

The format is read from the path:

    folder                     one UTF-8 `*.txt` file per class, one example a line (the surnames layout)
    *.csv                      a header row with a text column and a label column
    *.ts                       sktime / UCR-UEA series, univariate or multivariate, equal or variable length
    *-idx3-ubyte[.gz]          IDX images read row by row (MNIST); labels from the `*-idx1-ubyte[.gz]` beside it
    digits*.csv[.gz]           scikit-learn's 8 x 8 digits, read row by row
    *.npz                      arrays `X` (N, T) or (N, T, D) and `y` (N,)

Text comes back as a list of strings; numeric data as a list of float32 arrays (T_i, D).
Nothing here knows about models.
"""

from __future__ import annotations

import math
import os
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rnnlab.data.labelled import read_class_folder, read_digits_csv, read_idx, read_labelled_csv, read_ts
from rnnlab.errors import RnnlabError, invalid_argument

FORMATS = "a folder of .txt class files, .csv, .ts, an IDX image file (*-idx3-ubyte[.gz]), digits*.csv[.gz] or .npz"


@dataclass
class Dataset:
    """Labelled sequences: `inputs` (N strings, or N float32 arrays (T_i, D)) and `labels` (N,) str."""

    inputs: list
    labels: np.ndarray
    kind: str  # "text" or "numeric"
    source: str

    def __len__(self) -> int:
        return len(self.labels)


def load_dataset(path: str | os.PathLike, text_column: str = "text", label_column: str = "label") -> Dataset:
    """Read the labelled sequences at `path`, choosing the reader by its name (see the module docstring).

    >>> load_dataset("nowhere.xyz")
    Traceback (most recent call last):
    ...
    rnnlab.errors.RnnlabError: nowhere.xyz: no such file or folder
    """
    path = Path(path)
    if not path.exists():
        raise RnnlabError(f"{path}: no such file or folder")
    name = path.name.lower()
    if path.is_dir():
        texts, labels = read_class_folder(path)
        return Dataset(texts, np.array(labels, dtype=str), "text", str(path))
    if path.stat().st_size == 0:
        raise RnnlabError(f"{path}: empty file")
    if name.startswith("digits") and (name.endswith(".csv") or name.endswith(".csv.gz")):
        images, labels = read_digits_csv(path)
        return Dataset(list(images), labels.astype(str), "numeric", str(path))
    if name.endswith(".csv"):
        texts, labels = read_labelled_csv(path, text_column, label_column)
        return Dataset(texts, np.array(labels, dtype=str), "text", str(path))
    if name.endswith(".ts"):
        series, labels = read_ts(path)
        if labels.size == 0:
            raise RnnlabError(f"{path}: @classLabel false, so there are no class labels to learn from")
        return Dataset(series, labels, "numeric", str(path))
    if "idx3-ubyte" in name:
        return _read_idx_pair(path)
    if name.endswith(".npz"):
        return _read_npz(path)
    raise RnnlabError(f"{path}: unknown format; expected {FORMATS}")


def _read_idx_pair(path: Path) -> Dataset:
    """Images (N, rows, cols) become N sequences of `rows` steps with `cols` features each."""
    stem = path.name.replace("images-idx3", "labels-idx1").replace("idx3", "idx1").removesuffix(".gz")
    candidates = [path.with_name(stem), path.with_name(stem + ".gz")]
    labels_path = next((p for p in candidates if p.is_file()), None)
    if labels_path is None:
        raise RnnlabError(f"{path}: no labels file {stem}[.gz] beside the images")
    images, labels = read_idx(path), read_idx(labels_path)
    if images.ndim != 3:
        raise RnnlabError(f"{path}: expected images of shape (N, rows, cols), got shape {images.shape}")
    if labels.ndim != 1:
        raise RnnlabError(f"{labels_path}: expected labels of shape (N,), got shape {labels.shape}")
    if len(images) != len(labels):
        raise RnnlabError(f"{path}: {len(images)} images, but {labels_path.name} holds {len(labels)} labels")
    if not np.isfinite(images).all():
        raise RnnlabError(f"{path}: holds NaN or infinite pixel values")
    return Dataset(list(images.astype(np.float32)), labels.astype(str), "numeric", str(path))


def _read_npz(path: Path) -> Dataset:
    try:
        _check_npz_sizes(path)
        with np.load(path, allow_pickle=False) as arrays:
            if "X" not in arrays or "y" not in arrays:
                raise RnnlabError(f"{path}: expected arrays 'X' and 'y', found {', '.join(arrays.files) or 'none'}")
            X, y = arrays["X"], arrays["y"]
    # zipfile raises NotImplementedError for compression methods and encryption it does not know
    except (OSError, ValueError, EOFError, NotImplementedError, zlib.error, zipfile.BadZipFile) as error:
        raise RnnlabError(f"{path}: not a readable .npz file ({error})") from None
    if X.ndim not in (2, 3) or y.ndim != 1 or len(X) != len(y) or len(y) == 0:
        raise RnnlabError(f"{path}: expected X (N, T) or (N, T, D) and y (N,), got {X.shape} and {y.shape}")
    series = [np.asarray(x, dtype=np.float32).reshape(len(x), -1) for x in X]
    return Dataset(series, y.astype(str), "numeric", str(path))


def _check_npz_sizes(path: Path) -> None:
    """Refuse an array whose header declares more bytes than its archive member holds, before NumPy allocates it."""
    headers = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            if info.file_size > 1032 * info.compress_size + 1024:  # more than deflate can expand to
                raise RnnlabError(f"{path}: {info.filename} claims {info.file_size} bytes, more than its "
                                  f"{info.compress_size} compressed bytes can hold; a corrupt archive")
            with archive.open(info) as member:
                read_header = headers.get(np.lib.format.read_magic(member))
                if read_header is None:
                    continue  # a newer .npy version: np.load checks it
                shape, _, dtype = read_header(member)
            declared = math.prod(shape) * dtype.itemsize
            if declared > info.file_size:
                raise RnnlabError(f"{path}: {info.filename} declares shape {shape} of {dtype} ({declared} bytes), "
                                  f"but holds {info.file_size} bytes")


def deduplicate(inputs: list[str], labels: np.ndarray) -> tuple[list[str], np.ndarray]:
    """Keep the first occurrence of each (text, label) pair; a text under two labels keeps both.

    >>> deduplicate(["Ali", "Ali", "Ali", "Kim"], np.array(["ar", "ar", "en", "ko"]))
    (['Ali', 'Ali', 'Kim'], array(['ar', 'en', 'ko'], dtype='<U2'))
    """
    seen: set[tuple[str, str]] = set()
    keep = []
    for index, pair in enumerate(zip(inputs, labels.tolist(), strict=True)):
        if pair not in seen:
            seen.add(pair)
            keep.append(index)
    return [inputs[i] for i in keep], labels[keep]


def stratified_split(labels: np.ndarray, fraction: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Indices (kept, held_out): about `fraction` of each class held out, at least one of any class with two or more.

    Returns two sorted int64 arrays that together cover range(N) once.

    >>> labels = np.array(["a"] * 8 + ["b"] * 2)
    >>> kept, held = stratified_split(labels, 0.25)
    >>> len(kept), len(held), labels[held].tolist()
    (7, 3, ['a', 'a', 'b'])
    """
    if not 0 < fraction < 1:
        raise invalid_argument("fraction", "a number in (0, 1)", fraction)
    rng = np.random.default_rng(seed)
    held = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        rng.shuffle(members)
        count = int(round(fraction * len(members)))
        if len(members) >= 2:
            count = min(max(count, 1), len(members) - 1)
        else:
            count = 0
        held.extend(members[:count].tolist())
    held_out = np.array(sorted(held), dtype=np.int64)
    kept = np.setdiff1d(np.arange(len(labels)), held_out).astype(np.int64)
    return kept, held_out


def as_series(X) -> list[np.ndarray]:
    """Numeric inputs as a list of float32 arrays (T_i, F): from (N, T), (N, T, F) or a list of (T_i[, F])."""
    series = []
    for n, x in enumerate(X):
        try:
            array = np.asarray(x, dtype=np.float32)
        except (TypeError, ValueError):
            raise RnnlabError(f"sequence {n} is not numeric; expected strings or arrays (T, F)") from None
        array = array[:, None] if array.ndim == 1 else array
        if array.ndim != 2 or len(array) == 0 or not np.isfinite(array).all():
            raise RnnlabError(f"sequence {n} has shape {array.shape} or non-finite values; expected finite (T, F)")
        if series and array.shape[1] != series[0].shape[1]:
            raise RnnlabError(f"sequence {n} has {array.shape[1]} features, sequence 0 has {series[0].shape[1]}")
        series.append(array)
    if not series:
        raise RnnlabError("no sequences given")
    return series
