"""Classification metrics on integer class ids: accuracy, confusion matrix, per-class scores, a report.

Every function takes `y_true` and `y_pred` as 1-D integer arrays of the same length N (class ids
`0 .. n_classes - 1`). A ratio whose denominator is zero is 0, as scikit-learn's `zero_division=0`:
the precision of a class never predicted, the recall of a class never present, and the F1 of a
class with no true positives, false positives or false negatives. Macro averages run over all
`n_classes` classes, such classes included (scikit-learn's `labels=range(n_classes)`).

>>> y_true, y_pred = [0, 0, 1, 2], [0, 1, 1, 2]
>>> accuracy(y_true, y_pred)
0.75
>>> confusion_matrix(y_true, y_pred, n_classes=3)
array([[1, 1, 0],
       [0, 1, 0],
       [0, 0, 1]])
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

from rnnlab.errors import RnnlabError


def _labels(name: str, labels: ArrayLike) -> np.ndarray:
    """`labels` as a non-empty 1-D int64 array, or an `RnnlabError` naming the argument."""
    array = np.asarray(labels)
    if array.ndim != 1 or array.size == 0:
        raise RnnlabError(f"`{name}` has shape {array.shape}, expected a non-empty 1-D array of class ids")
    if not np.issubdtype(array.dtype, np.integer):
        raise RnnlabError(f"`{name}` has dtype {array.dtype}, expected integer class ids")
    return array.astype(np.int64)


def _pair(
    y_true: ArrayLike, y_pred: ArrayLike, n_classes: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Check both label arrays (same length; ids in `[0, n_classes)` when given) and return them."""
    true, pred = _labels("y_true", y_true), _labels("y_pred", y_pred)
    if true.shape != pred.shape:
        raise RnnlabError(
            f"`y_true` has {true.size} labels and `y_pred` {pred.size}, expected the same number"
        )
    if n_classes is None:
        return true, pred
    if isinstance(n_classes, bool) or not isinstance(n_classes, int | np.integer) or n_classes < 1:
        raise RnnlabError(f"Received n_classes={n_classes!r}, expected a positive integer")
    for name, array in (("y_true", true), ("y_pred", pred)):
        low, high = int(array.min()), int(array.max())
        if low < 0 or high >= n_classes:
            raise RnnlabError(
                f"`{name}` holds class ids from {low} to {high}, expected ids in [0, {n_classes - 1}]"
            )
    return true, pred


def accuracy(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Fraction of the N predictions equal to the truth. `y_true`, `y_pred`: (N,) integer ids.

    >>> accuracy([1, 1, 0], [1, 0, 0])
    0.6666666666666666
    """
    true, pred = _pair(y_true, y_pred)
    return float(np.mean(true == pred))


def confusion_matrix(y_true: ArrayLike, y_pred: ArrayLike, n_classes: int) -> np.ndarray:
    """Counts of (true, predicted) pairs: a (C, C) int64 matrix, rows true class, columns predicted.

    `y_true`, `y_pred`: (N,) integer ids in `[0, n_classes)`; C = `n_classes`.

    >>> confusion_matrix([0, 1, 1], [1, 1, 1], n_classes=2)
    array([[0, 1],
           [0, 2]])
    """
    true, pred = _pair(y_true, y_pred, n_classes)
    flat = np.bincount(true * n_classes + pred, minlength=n_classes * n_classes)  # (C*C,)
    return flat.reshape(n_classes, n_classes).astype(np.int64)


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """Element-wise `numerator / denominator`, 0 where the denominator is 0."""
    out = np.zeros(numerator.shape, dtype=np.float64)
    np.divide(numerator, denominator, out=out, where=denominator != 0)
    return out


def precision_recall_f1(
    y_true: ArrayLike, y_pred: ArrayLike, n_classes: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-class precision, recall, F1 (each (C,) float64) and support (C,) int64.

    precision_c = TP_c / (TP_c + FP_c), recall_c = TP_c / (TP_c + FN_c),
    F1_c = 2 TP_c / (2 TP_c + FP_c + FN_c) (the harmonic mean of the two), each 0 where its
    denominator is 0; support_c = TP_c + FN_c, the number of true examples of class c.

    >>> precision, recall, f1, support = precision_recall_f1([0, 0, 1], [0, 1, 1], n_classes=3)
    >>> precision.tolist(), recall.tolist(), support.tolist()
    ([1.0, 0.5, 0.0], [0.5, 1.0, 0.0], [2, 1, 0])
    """
    matrix = confusion_matrix(y_true, y_pred, n_classes)  # (C, C)
    true_positives = np.diag(matrix)  # (C,)
    predicted = matrix.sum(axis=0)  # (C,) TP + FP
    support = matrix.sum(axis=1)  # (C,) TP + FN
    precision = _ratio(true_positives, predicted)
    recall = _ratio(true_positives, support)
    f1 = _ratio(2 * true_positives, predicted + support)
    return precision, recall, f1, support.astype(np.int64)


def present_classes(y_true: ArrayLike, y_pred: ArrayLike, n_classes: int) -> np.ndarray:
    """(C,) bool: the classes that occur in the truth or in the predictions."""
    true, pred = _pair(y_true, y_pred)
    return np.bincount(np.concatenate([true, pred]), minlength=n_classes)[:n_classes] > 0


def macro_f1(y_true: ArrayLike, y_pred: ArrayLike, n_classes: int) -> float:
    """Unweighted mean of the per-class F1 scores over the classes present in `y_true` or `y_pred`.

    This is scikit-learn's `f1_score(average="macro")` convention: a class that occurs in neither
    array (say, an evaluation file that holds only some of the classes, all predicted elsewhere)
    is left out of the mean rather than counted as 0.

    >>> round(macro_f1([0, 0, 1, 1], [0, 0, 0, 1], n_classes=2), 4)
    0.7333
    >>> round(macro_f1([0, 0, 1, 1], [0, 0, 0, 1], n_classes=5), 4)  # classes 2, 3, 4 occur nowhere
    0.7333
    """
    f1 = precision_recall_f1(y_true, y_pred, n_classes)[2]
    return float(np.mean(f1[present_classes(y_true, y_pred, n_classes)]))


def classification_report(
    y_true: ArrayLike, y_pred: ArrayLike, class_names: Sequence[str], digits: int = 3
) -> str:
    """An aligned text table: precision, recall, F1 and support per class, then accuracy and macro averages.

    `class_names[c]` names class id c, so C = `len(class_names)`; `digits` is the number of decimals.
    The macro averages are over the classes present in the truth or the predictions, as `macro_f1`.

    >>> print(classification_report([0, 0, 1, 1], [0, 0, 0, 1], ["cat", "dog"]))
               precision  recall  f1-score  support
    <BLANKLINE>
          cat      0.667   1.000     0.800        2
          dog      1.000   0.500     0.667        2
    <BLANKLINE>
     accuracy                        0.750        4
    macro avg      0.833   0.750     0.733        4
    """
    names = [str(name) for name in class_names]
    if not names:
        raise RnnlabError("Received no class names, expected one name per class id")
    if isinstance(digits, bool) or not isinstance(digits, int) or digits < 0:
        raise RnnlabError(f"Received digits={digits!r}, expected a non-negative integer")
    precision, recall, f1, support = precision_recall_f1(y_true, y_pred, len(names))
    total = int(support.sum())

    name_width = max(len("macro avg"), *(len(name) for name in names))
    headers = ("precision", "recall", "f1-score", "support")
    widths = [max(len(header), digits + 2) for header in headers]

    def row(label: str, scores: Sequence[float | None], count: int) -> str:
        cells = ["" if score is None else f"{score:.{digits}f}" for score in scores]
        cells.append(str(count))
        padded = (cell.rjust(width) for cell, width in zip(cells, widths, strict=True))
        return "  ".join([label.rjust(name_width), *padded])

    header = "  ".join([" " * name_width, *(h.rjust(w) for h, w in zip(headers, widths, strict=True))])
    lines = [header, ""]
    for c, name in enumerate(names):
        lines.append(row(name, (precision[c], recall[c], f1[c]), int(support[c])))
    lines.append("")
    lines.append(row("accuracy", (None, None, accuracy(y_true, y_pred)), total))
    present = present_classes(y_true, y_pred, len(names))
    lines.append(row("macro avg", (precision[present].mean(), recall[present].mean(), f1[present].mean()), total))
    return "\n".join(line.rstrip() for line in lines)
