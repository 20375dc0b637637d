import numpy as np
import pytest

from rnnlab.errors import RnnlabError
from rnnlab.metrics.classification import (
    accuracy,
    classification_report,
    confusion_matrix,
    macro_f1,
    precision_recall_f1,
)

# Hand-worked example with 4 classes: class 3 is never true and never predicted.
Y_TRUE = [0, 0, 0, 1, 1, 2]
Y_PRED = [0, 0, 1, 1, 2, 2]


def test_accuracy_is_fraction_correct():
    assert accuracy(Y_TRUE, Y_PRED) == pytest.approx(4 / 6)
    assert accuracy([3], [3]) == 1.0


def test_confusion_matrix_rows_are_true_columns_predicted():
    matrix = confusion_matrix(Y_TRUE, Y_PRED, n_classes=4)
    assert matrix.dtype == np.int64
    np.testing.assert_array_equal(matrix, [[2, 1, 0, 0], [0, 1, 1, 0], [0, 0, 1, 0], [0, 0, 0, 0]])


def test_precision_recall_f1_match_hand_computation():
    precision, recall, f1, support = precision_recall_f1(Y_TRUE, Y_PRED, n_classes=4)
    np.testing.assert_allclose(precision, [2 / 2, 1 / 2, 1 / 2, 0.0])
    np.testing.assert_allclose(recall, [2 / 3, 1 / 2, 1 / 1, 0.0])
    np.testing.assert_allclose(f1, [0.8, 0.5, 2 / 3, 0.0])
    np.testing.assert_array_equal(support, [3, 2, 1, 0])
    assert support.dtype == np.int64


def test_zero_division_gives_zero_without_warnings():
    with np.errstate(all="raise"):
        precision, recall, f1, _ = precision_recall_f1([0, 0], [0, 1], n_classes=2)
    # Class 1 is predicted once but never true: precision 0/1, recall 0/0, F1 0/1.
    assert (precision[1], recall[1], f1[1]) == (0.0, 0.0, 0.0)


def test_macro_f1_leaves_out_classes_absent_from_truth_and_predictions_as_scikit_learn_does():
    assert macro_f1(Y_TRUE, Y_PRED, n_classes=4) == pytest.approx((0.8 + 0.5 + 2 / 3) / 3)  # class 3 occurs nowhere
    assert macro_f1(Y_TRUE, Y_PRED, n_classes=3) == pytest.approx((0.8 + 0.5 + 2 / 3) / 3)
    assert macro_f1([0, 0], [0, 1], n_classes=3) == pytest.approx((2 / 3 + 0) / 2)  # predicted, never true: counts


def test_classification_report_is_an_aligned_table():
    report = classification_report(Y_TRUE, Y_PRED, ["Gun-Draw", "Point", "a much longer name", "empty"])
    lines = report.splitlines()
    filled = [line for line in lines if line]
    assert len({len(line) for line in filled}) == 1  # every row ends in the support column
    assert lines[0].split() == ["precision", "recall", "f1-score", "support"]
    gun_draw = next(line for line in filled if line.strip().startswith("Gun-Draw")).split()
    assert gun_draw[1:] == ["1.000", "0.667", "0.800", "3"]
    assert next(line for line in filled if "accuracy" in line).split() == ["accuracy", "0.667", "6"]
    macro = next(line for line in filled if "macro avg" in line).split()
    # Means over the 3 classes present ("empty" occurs nowhere): (1 + 1/2 + 1/2), (2/3 + 1/2 + 1), (4/5 + 1/2 + 2/3).
    assert macro[2:] == ["0.667", "0.722", "0.656", "6"]


def test_classification_report_digits():
    report = classification_report([0, 1], [0, 0], ["a", "b"], digits=1)
    assert "0.5" in report and "0.50" not in report


@pytest.mark.parametrize(
    ("y_true", "y_pred", "message"),
    [
        ([0, 1], [0], "same number"),
        ([0.0, 1.0], [0, 1], "integer"),
        ([], [], "non-empty"),
        ([[0, 1]], [[0, 1]], "1-D"),
        ([0, 5], [0, 1], "[0, 2]"),
        ([0, 1], [-1, 1], "[0, 2]"),
    ],
)
def test_bad_labels_raise_rnnlab_error(y_true, y_pred, message):
    with pytest.raises(RnnlabError, match=message.replace("[", r"\[").replace("]", r"\]")):
        confusion_matrix(y_true, y_pred, n_classes=3)


@pytest.mark.parametrize("n_classes", [0, -2, 2.5, True])
def test_bad_n_classes_raises_rnnlab_error(n_classes):
    with pytest.raises(RnnlabError, match="n_classes"):
        precision_recall_f1([0, 1], [0, 1], n_classes=n_classes)


def test_report_needs_class_names():
    with pytest.raises(RnnlabError, match="class name"):
        classification_report([0], [0], [])


def test_matches_scikit_learn_on_random_labels():
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    n_classes = 6
    y_true = rng.integers(0, n_classes - 1, size=200)  # the last class is never true
    y_pred = rng.integers(0, n_classes, size=200)
    labels = list(range(n_classes))
    expected_matrix = sklearn_metrics.confusion_matrix(y_true, y_pred, labels=labels)
    np.testing.assert_array_equal(confusion_matrix(y_true, y_pred, n_classes), expected_matrix)
    ours = precision_recall_f1(y_true, y_pred, n_classes)
    theirs = sklearn_metrics.precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    for mine, reference in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(mine, reference)
    assert macro_f1(y_true, y_pred, n_classes) == pytest.approx(
        sklearn_metrics.f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)
    )
    assert macro_f1(y_true, y_pred, n_classes + 3) == pytest.approx(  # (labels=None: those present)
        sklearn_metrics.f1_score(y_true, y_pred, average="macro", zero_division=0)
    )
    assert accuracy(y_true, y_pred) == pytest.approx(sklearn_metrics.accuracy_score(y_true, y_pred))
