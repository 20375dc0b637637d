import math
from pathlib import Path

import numpy as np
import pytest

import rnnlab.baselines.classification as clf_baselines
from rnnlab.baselines.classification import dtw_distances, euclidean_distances, majority_class, nearest_neighbour
from rnnlab.errors import RnnlabError


def reference_dtw(a: np.ndarray, b: np.ndarray, window: float | None = None) -> float:
    """Textbook double loop: dependent DTW, squared Euclidean cost, sqrt of the accumulated sum."""
    n, m = len(a), len(b)
    band = max(n, m) if window is None else max(math.floor(window * max(n, m)), abs(n - m))
    g = np.full((n + 1, m + 1), np.inf)
    g[0, 0] = 0.0
    for i in range(n):
        for j in range(m):
            if abs(i - j) <= band:
                cost = float(np.sum((a[i] - b[j]) ** 2))
                g[i + 1, j + 1] = cost + min(g[i, j], g[i, j + 1], g[i + 1, j])
    return math.sqrt(g[n, m])


def random_series(rng: np.random.Generator, count: int, lengths: tuple[int, int], dims: int) -> list[np.ndarray]:
    return [rng.normal(size=(rng.integers(lengths[0], lengths[1] + 1), dims)) for _ in range(count)]


@pytest.mark.parametrize("dims", [1, 3])
@pytest.mark.parametrize("lengths", [(9, 9), (1, 14), (1, 1)], ids=["equal", "unequal", "single-point"])
@pytest.mark.parametrize("window", [None, 0.0, 0.1, 0.3, 1.0])
def test_dtw_matches_double_loop_reference(dims, lengths, window):
    rng = np.random.default_rng(dims * 100 + lengths[0])
    queries = random_series(rng, 7, lengths, dims)
    references = random_series(rng, 5, lengths, dims)
    expected = np.array([[reference_dtw(q, r, window) for r in references] for q in queries])
    np.testing.assert_allclose(dtw_distances(queries, references, window=window), expected, rtol=0, atol=1e-9)


def test_dtw_is_the_same_in_small_blocks(monkeypatch):
    rng = np.random.default_rng(1)
    queries, references = random_series(rng, 23, (3, 17), 2), random_series(rng, 6, (3, 17), 2)
    whole = dtw_distances(queries, references, window=0.2)
    monkeypatch.setattr(clf_baselines, "_CHUNK_ELEMENTS", 1)  # one query per block
    np.testing.assert_array_equal(dtw_distances(queries, references, window=0.2), whole)


def test_dtw_with_zero_window_is_euclidean_for_equal_lengths():
    rng = np.random.default_rng(2)
    queries, references = random_series(rng, 4, (12, 12), 2), random_series(rng, 3, (12, 12), 2)
    np.testing.assert_allclose(dtw_distances(queries, references, window=0.0), euclidean_distances(queries, references))


def test_dtw_is_symmetric_and_zero_on_warped_copies():
    a = np.array([0.0, 1.0, 2.0, 1.0])
    stretched = np.array([0.0, 0.0, 1.0, 2.0, 2.0, 2.0, 1.0])
    assert dtw_distances([a], [stretched])[0, 0] == 0.0
    rng = np.random.default_rng(3)
    series = random_series(rng, 5, (4, 10), 1)
    forward = dtw_distances(series, series)
    np.testing.assert_allclose(forward, forward.T, atol=1e-12)
    np.testing.assert_array_equal(np.diag(forward), 0.0)


def test_euclidean_resamples_unequal_lengths_to_the_longest():
    line, finer_line = np.array([0.0, 1.0, 2.0]), np.array([0.0, 0.5, 1.0, 1.5, 2.0])
    assert euclidean_distances([line], [finer_line])[0, 0] == pytest.approx(0.0, abs=1e-12)
    constant = np.array([3.0])  # a single point is held constant over the longest length
    assert euclidean_distances([constant], [np.full(4, 1.0)])[0, 0] == pytest.approx(4.0)


def test_nearest_neighbour_takes_the_label_of_the_closest_series():
    train_X = [np.zeros((5, 2)), np.ones((5, 2)), np.full((5, 2), 10.0)]
    train_y = np.array(["zero", "one", "ten"])
    test_X = [np.full((5, 2), 0.9), np.full((6, 2), 9.0), np.full((4, 2), -1.0)]
    for metric in ("euclidean", "dtw"):
        predictions = nearest_neighbour(train_X, train_y, test_X, metric=metric)
        np.testing.assert_array_equal(predictions, ["one", "ten", "zero"])


def test_nearest_neighbour_ties_go_to_the_first_training_series():
    train_X = [np.array([1.0, 1.0]), np.array([-1.0, -1.0])]
    assert nearest_neighbour(train_X, [7, 3], [np.zeros(2)]).tolist() == [7]
    assert nearest_neighbour(train_X, [7, 3], [np.zeros(2)], metric="dtw").tolist() == [7]


def test_nearest_neighbour_accepts_a_3d_array():
    rng = np.random.default_rng(4)
    train_X, test_X = rng.normal(size=(6, 8, 3)), rng.normal(size=(4, 8, 3))
    train_y = np.arange(6)
    as_array = nearest_neighbour(train_X, train_y, test_X, metric="dtw", window=0.25)
    as_list = nearest_neighbour(list(train_X), train_y, list(test_X), metric="dtw", window=0.25)
    np.testing.assert_array_equal(as_array, as_list)


def test_majority_class_breaks_ties_towards_the_smallest_label():
    np.testing.assert_array_equal(majority_class([2, 0, 2, 1, 0], n_test=4), [0, 0, 0, 0])
    np.testing.assert_array_equal(majority_class(["b", "a", "b"], n_test=2), ["b", "b"])
    assert majority_class([1], n_test=0).shape == (0,)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"metric": "cosine"}, "metric='cosine'"),
        ({"metric": "euclidean", "window": 0.1}, "window=None"),
        ({"metric": "dtw", "window": 1.5}, r"\[0, 1\]"),
        ({"metric": "dtw", "window": -0.1}, r"\[0, 1\]"),
        ({"metric": "dtw", "window": "wide"}, r"\[0, 1\]"),
        ({"train_y": [0, 1, 2]}, "one each"),
        ({"test_X": [np.zeros((4, 3))]}, "dimensions"),
        ({"test_X": [np.array([0.0, np.nan])]}, "NaN"),
        ({"test_X": [np.zeros((0, 1))]}, "T, D >= 1"),
        ({"test_X": []}, "no series"),
        ({"train_X": [np.zeros((3, 1)), np.zeros((3, 2))]}, "dimensions"),
        ({"train_X": [["a", "b"], ["c", "d"]]}, "not numeric"),
    ],
)
def test_bad_input_raises_rnnlab_error(kwargs, message):
    arguments = {"train_X": [np.zeros(3), np.ones(3)], "train_y": [0, 1], "test_X": [np.zeros(3)]} | kwargs
    with pytest.raises(RnnlabError, match=message):
        nearest_neighbour(**arguments)


@pytest.mark.parametrize("n_test", [-1, 2.0, True])
def test_majority_class_rejects_bad_n_test(n_test):
    with pytest.raises(RnnlabError, match="n_test"):
        majority_class([0, 1], n_test=n_test)


def read_ucr_univariate(path: Path) -> tuple[list[np.ndarray], np.ndarray]:
    """Minimal .ts reading for the test: skip '#' and '@' lines; each case is `v1,v2,...,vN:label`."""
    series, labels = [], []
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith(("#", "@")):
            continue
        values, label = line.rsplit(":", 1)
        series.append(np.array(values.split(","), dtype=np.float64))
        labels.append(label)
    return series, np.array(labels)


# Published 1-NN test accuracies of the UCR archive (Dau et al. 2018): Euclidean, DTW with full window.
PUBLISHED = {"GunPoint": (0.913, 0.907), "ItalyPowerDemand": (0.955, 0.950)}


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_one_nn_matches_published_ucr_accuracies(data_dir, name):
    folder = data_dir / "ucr" / name
    if not (folder / f"{name}_TRAIN.ts").is_file():
        pytest.skip(f"{name} not found under {folder}")
    train_X, train_y = read_ucr_univariate(folder / f"{name}_TRAIN.ts")
    test_X, test_y = read_ucr_univariate(folder / f"{name}_TEST.ts")
    euclidean_accuracy, dtw_accuracy = PUBLISHED[name]
    euclidean = nearest_neighbour(train_X, train_y, test_X, metric="euclidean")
    assert np.mean(euclidean == test_y) == pytest.approx(euclidean_accuracy, abs=0.005)
    dtw = nearest_neighbour(train_X, train_y, test_X, metric="dtw")
    assert np.mean(dtw == test_y) == pytest.approx(dtw_accuracy, abs=0.005)
    majority = majority_class(train_y, len(test_X))
    assert np.mean(majority == test_y) < euclidean_accuracy
