"""Model selection on training data only: `rnnlab.tasks.tuning` and `classify train --tune`."""

import json

import numpy as np
import pytest

from rnnlab.cli import main
from rnnlab.errors import RnnlabError
from rnnlab.tasks.classify import SequenceClassifier
from rnnlab.tasks.tuning import SPACES, TuneResult, search_space, tune

TINY = dict(hidden_size=4, conv_filters=4, epochs=2, batch_size=8, paa=16)


def waves(n: int, seed: int = 0) -> tuple[list[np.ndarray], np.ndarray]:
    """n series of 12-20 steps: sines (label "sine") and square waves ("square"), random phase and scale."""
    rng = np.random.default_rng(seed)
    X, y = [], []
    for i in range(n):
        t = np.arange(rng.integers(12, 21)) / 4 + rng.uniform(0, 6)
        wave = np.sin(t) if i % 2 else np.sign(np.sin(t))
        X.append((rng.uniform(0.5, 3) * wave + rng.normal(0, 0.1, len(t)))[:, None])
        y.append("sine" if i % 2 else "square")
    return X, np.array(y)


def test_tune_scores_every_candidate_on_every_fold_and_picks_the_best_mean():
    X, y = waves(24)
    estimator = SequenceClassifier(**TINY)
    result = tune(estimator, X, y, {"hidden_size": [4, 6], "lr": [3e-3, 1e-2]}, folds=3, n_jobs=1)
    assert [c["params"] for c in result.candidates] == [
        {"hidden_size": h, "lr": lr} for h in (4, 6) for lr in (3e-3, 1e-2)]
    for candidate in result.candidates:
        assert len(candidate["folds"]) == 3 and all(0 <= s <= 1 for s in candidate["folds"])
        assert candidate["mean"] == pytest.approx(np.mean(candidate["folds"]))
    assert result.best_params == max(result.candidates, key=lambda c: c["mean"])["params"]
    assert set(result.baselines) == {"majority_class", "nn_euclidean", "nn_dtw"}
    assert result.baselines["majority_class"]["mean"] == pytest.approx(0.5)
    assert not hasattr(estimator, "kind_")  # left unfitted, settings unchanged
    assert estimator.hidden_size == 4
    text = "\n".join(result.lines())
    assert "no test data is read" in text and "1-NN DTW" in text and "chosen:" in text


def test_the_scores_do_not_depend_on_how_many_processes_fit():
    X, y = waves(18, seed=1)
    space = {"lr": [3e-3, 1e-2]}
    one = tune(SequenceClassifier(**TINY), X, y, space, n_jobs=1, nearest=False)
    two = tune(SequenceClassifier(**TINY), X, y, space, n_jobs=2, nearest=False)
    assert one.candidates == two.candidates and one.best_params == two.best_params


def test_a_baseline_that_beats_every_candidate_is_named():
    result = TuneResult({"lr": 1.0}, [{"params": {"lr": 1.0}, "mean": 0.6, "std": 0.0, "folds": [0.6]}],
                        {"majority_class": {"mean": 0.5, "std": 0.0}, "nn_dtw": {"mean": 0.9, "std": 0.0}})
    assert result.winning_baseline() == "1-NN DTW"
    assert any(line.startswith("note: 1-NN DTW scores higher") for line in result.lines())
    result.baselines["nn_dtw"]["mean"] = 0.55
    assert result.winning_baseline() is None


def test_tune_refuses_a_class_with_fewer_examples_than_folds():
    X, y = waves(10)
    y[:] = "sine"
    y[0] = "square"
    with pytest.raises(RnnlabError, match="at least 3 training examples of every class"):
        tune(SequenceClassifier(**TINY), X, y, {"lr": [1e-3]})


def test_given_settings_are_left_out_of_the_search():
    assert set(search_space("numeric", fixed={"znorm"})) == set(SPACES["numeric"]) - {"znorm"}
    assert search_space("text", fixed=set(SPACES["text"])) == {}


def write_ts(path, series: list[np.ndarray], labels) -> str:
    classes = sorted(set(map(str, labels)))
    lines = ["@problemName test", "@timeStamps false", "@missing false", "@univariate true", "@equalLength false",
             f"@classLabel true {' '.join(classes)}", "@data"]
    lines += [",".join(f"{v:.6f}" for v in s.ravel()) + f":{label}" for s, label in zip(series, labels, strict=True)]
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def test_tune_cannot_see_the_test_split(tmp_path, capsys):
    """Replacing the test file's series and labels with random ones changes nothing the search chose or fitted."""
    X, y = waves(30, seed=2)
    test_X, test_y = waves(12, seed=3)
    rng = np.random.default_rng(4)
    noise_X = [rng.normal(size=(rng.integers(5, 40), 1)) * 100 for _ in range(12)]
    noise_y = rng.choice(["sine", "square"], size=12)
    train = write_ts(tmp_path / "train.ts", X, y)
    flags = ["--znorm", "--hidden-size", "4", "--epochs", "2", "--batch-size", "8", "--paa", "16",
             "--no-nn", "--quiet"]
    runs = {}
    for name, (tx, ty) in {"real": (test_X, test_y), "noise": (noise_X, noise_y)}.items():
        test = write_ts(tmp_path / f"{name}.ts", tx, ty)
        assert main(["classify", "train", "--data", train, "--test", test, "--out", str(tmp_path / name),
                     "--tune", *flags]) == 0
        runs[name] = tmp_path / name
    capsys.readouterr()
    tuning = [json.loads((runs[n] / "tuning.json").read_text()) for n in runs]
    for document in tuning:
        document.pop("seconds")
    assert tuning[0] == tuning[1]  # the same candidates, fold scores and choice
    assert set(tuning[0]["best_params"]) == {"conv_filters"}  # --znorm was given: not searched
    models = [SequenceClassifier.load(runs[n]) for n in runs]
    assert models[0].scaler_.to_json() == models[1].scaler_.to_json()
    assert models[0].get_params() == models[1].get_params()
    for a, b in zip(models[0].nets_[0].state_dict().values(), models[1].nets_[0].state_dict().values(),
                    strict=True):
        np.testing.assert_array_equal(a, b)
    metrics = [json.loads((runs[n] / "metrics.json").read_text()) for n in runs]
    assert metrics[0]["chosen"] == metrics[1]["chosen"] == tuning[0]["best_params"]
    assert metrics[0]["accuracy"] != metrics[1]["accuracy"] or metrics[0]["confusion"] != metrics[1]["confusion"]
