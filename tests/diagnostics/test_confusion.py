import numpy as np
import pytest

from rnnlab.diagnostics.confusion import plot_confusion_matrix
from rnnlab.errors import RnnlabError

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("normalise", [True, False])
def test_writes_a_png(tmp_path, normalise):
    path = tmp_path / "confusion.png"
    plot_confusion_matrix(path, np.array([[5, 1], [2, 7]]), ["Gun-Draw", "Point"], "GunPoint", normalise)
    assert path.read_bytes().startswith(PNG_SIGNATURE)


def test_twenty_classes_with_an_empty_row_and_no_warnings(tmp_path):
    rng = np.random.default_rng(0)
    matrix = rng.integers(0, 20, size=(20, 20))
    matrix[3] = 0  # a class with no true examples: its row fraction is 0, not 0/0
    path = tmp_path / "plots" / "twenty.png"  # the parent directory is created
    with np.errstate(all="raise"):
        plot_confusion_matrix(path, matrix, [f"speaker {c}" for c in range(20)], title="20 classes")
    assert path.read_bytes().startswith(PNG_SIGNATURE)


def test_replaces_an_existing_file_and_leaves_no_temporary_behind(tmp_path):
    path = tmp_path / "confusion.png"
    path.write_bytes(b"old")
    plot_confusion_matrix(path, [[1.0, 0.5], [0.25, 2.0]], ["a", "b"])
    assert path.read_bytes().startswith(PNG_SIGNATURE)
    assert [entry.name for entry in tmp_path.iterdir()] == ["confusion.png"]


@pytest.mark.parametrize(
    ("matrix", "names", "message"),
    [
        (np.zeros((2, 3)), ["a", "b"], "square"),
        (np.zeros(4), ["a"], "square"),
        (np.zeros((2, 2)), ["a", "b", "c"], "3 class names"),
        (np.array([[1, -1], [0, 1]]), ["a", "b"], "negative"),
        (np.array([[1, np.nan], [0, 1]]), ["a", "b"], "non-finite"),
    ],
)
def test_bad_input_raises_rnnlab_error(tmp_path, matrix, names, message):
    with pytest.raises(RnnlabError, match=message):
        plot_confusion_matrix(tmp_path / "bad.png", matrix, names)
    assert not any(tmp_path.iterdir())
