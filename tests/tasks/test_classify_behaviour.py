"""What `SequenceClassifier`'s training options do, seen only through fit / predict / evaluate / history_ / save."""

import numpy as np
import pytest

from rnnlab import SequenceClassifier

TINY = dict(hidden_size=8, embedding_dim=4)


def noisy_majority_letter(count: int, seed: int) -> tuple[list[str], list[str]]:
    """Words over 'abc': 'x' when at least half the letters are 'a', else 'y'; 15% of the labels flipped."""
    rng = np.random.default_rng(seed)
    words = ["".join(rng.choice(list("abc"), size=rng.integers(1, 8))) for _ in range(count)]
    labels = ["x" if 2 * w.count("a") >= len(w) else "y" for w in words]
    flip = rng.random(count) < 0.15
    return words, [{"x": "y", "y": "x"}[label] if f else label for label, f in zip(labels, flip, strict=True)]


TRAIN = noisy_majority_letter(60, seed=0)
VALIDATION = noisy_majority_letter(40, seed=1)
NOISY = dict(hidden_size=16, embedding_dim=8, batch_size=8, lr=1e-2, dropout=0.0, seed=0)


def validation_loss(clf: SequenceClassifier, X, y) -> float:
    """Mean negative log-probability of the true class, from predict_proba."""
    probabilities = clf.predict_proba(X)
    true = np.searchsorted(clf.classes_, np.asarray(y))
    return float(-np.mean(np.log(probabilities[np.arange(len(true)), true])))


# ---- class_weight ---------------------------------------------------------------------------------------

# 'a'-words are always x; each 'b'-word is x 3 times and y 2 times, so y is 8 of 100 examples and lives only
# among the 'b'-words. Unweighted, the best guess for a 'b'-word is p(y) = 0.4 (so x); weighting the loss by
# N / (C * n_c) makes it 8 * 6.25 / (8 * 6.25 + 12 * 0.543) = 0.88 (so y); the square roots of those weights 0.69.
A_WORDS, B_WORDS = ["a", "aa", "aaa", "aaaa"], ["b", "bb", "bbb", "bbbb"]
IMBALANCED_X = [w for w in A_WORDS for _ in range(20)] + [w for w in B_WORDS for _ in range(5)]
IMBALANCED_Y = ["x"] * 80 + ["x", "x", "x", "y", "y"] * 4


def _imbalanced(class_weight) -> SequenceClassifier:
    return SequenceClassifier(**TINY, epochs=20, batch_size=16, lr=1e-2, val_fraction=0.0,
                              class_weight=class_weight).fit(IMBALANCED_X, IMBALANCED_Y)


def test_balanced_class_weight_raises_the_recall_of_the_minority_class():
    plain, balanced = _imbalanced(None), _imbalanced("balanced")
    assert plain.classes_.tolist() == balanced.classes_.tolist() == ["x", "y"]
    plain_scores = plain.evaluate(IMBALANCED_X, IMBALANCED_Y)
    balanced_scores = balanced.evaluate(IMBALANCED_X, IMBALANCED_Y)
    assert plain_scores["recall"][1] == 0.0  # unweighted, the minority class is never the likelier one
    assert balanced_scores["recall"][1] == 1.0
    assert balanced_scores["recall"][0] < plain_scores["recall"][0] == 1.0  # paid for with majority recall
    assert plain.predict(A_WORDS).tolist() == balanced.predict(A_WORDS).tolist() == ["x"] * 4


def test_class_weight_moves_the_minority_probability_towards_the_weighted_optimum():
    p_minority = {weight: float(_imbalanced(weight).predict_proba(B_WORDS)[:, 1].mean())
                  for weight in (None, "sqrt", "balanced")}
    assert p_minority[None] == pytest.approx(0.40, abs=0.1)
    assert p_minority["sqrt"] == pytest.approx(0.69, abs=0.1)
    assert p_minority["balanced"] == pytest.approx(0.88, abs=0.1)
    assert p_minority[None] < p_minority["sqrt"] < p_minority["balanced"]


# ---- char_dropout ---------------------------------------------------------------------------------------

def test_char_dropout_changes_training_but_prediction_is_not_random(tmp_path):
    options = dict(NOISY, epochs=5, val_fraction=0.0)
    plain = SequenceClassifier(**options, char_dropout=0.0).fit(*TRAIN)
    dropped = SequenceClassifier(**options, char_dropout=0.3).fit(*TRAIN)
    words = VALIDATION[0]
    assert not np.allclose(plain.predict_proba(words), dropped.predict_proba(words), rtol=0, atol=1e-4)
    first = dropped.predict_proba(words)
    np.testing.assert_array_equal(dropped.predict_proba(words), first)
    one_by_one = np.concatenate([dropped.predict_proba([w]) for w in words])
    np.testing.assert_allclose(one_by_one, first, rtol=0, atol=1e-6)
    dropped.save(tmp_path / "run")
    np.testing.assert_array_equal(SequenceClassifier.load(tmp_path / "run").predict_proba(words), first)


def test_char_dropout_of_zero_is_the_same_run_twice():
    options = dict(NOISY, epochs=2, val_fraction=0.0, char_dropout=0.0)
    first = SequenceClassifier(**options).fit(*TRAIN).predict_proba(VALIDATION[0])
    np.testing.assert_array_equal(SequenceClassifier(**options).fit(*TRAIN).predict_proba(VALIDATION[0]), first)


# ---- monitor and best weights ---------------------------------------------------------------------------

def _monitored(monitor: str, **overrides) -> SequenceClassifier:
    options = NOISY | dict(epochs=12, patience=None, monitor=monitor) | overrides
    return SequenceClassifier(**options).fit(*TRAIN, *VALIDATION)


@pytest.fixture(scope="module")
def by_loss_and_by_accuracy():
    return _monitored("val_loss"), _monitored("val_accuracy")


def test_history_logs_every_validation_metric_each_epoch(by_loss_and_by_accuracy):
    by_loss, _ = by_loss_and_by_accuracy
    assert len(by_loss.history_) == 12  # no patience: every epoch runs
    for entry in by_loss.history_:
        assert {"val_loss", "val_accuracy", "val_macro_f1"} <= entry.keys()
        assert entry["val_loss"] > 0 and 0 <= entry["val_accuracy"] <= 1 and 0 <= entry["val_macro_f1"] <= 1


def test_monitor_picks_the_epoch_that_is_best_by_its_own_metric(by_loss_and_by_accuracy):
    by_loss, by_accuracy = by_loss_and_by_accuracy
    metrics = ("val_loss", "val_accuracy", "val_macro_f1")
    # The monitor only chooses which weights are kept, so both runs log the same epochs.
    assert [[e[m] for m in metrics] for e in by_loss.history_] == [[e[m] for m in metrics] for e in
                                                                    by_accuracy.history_]
    losses = [e["val_loss"] for e in by_loss.history_]
    accuracies = [e["val_accuracy"] for e in by_loss.history_]
    lowest_loss, best_accuracy = int(np.argmin(losses)), int(np.argmax(accuracies))
    assert lowest_loss != best_accuracy and accuracies[lowest_loss] < max(accuracies)  # so the monitors disagree

    assert validation_loss(by_loss, *VALIDATION) == pytest.approx(min(losses), rel=1e-5)
    assert by_loss.evaluate(*VALIDATION)["accuracy"] == pytest.approx(accuracies[lowest_loss], abs=1e-12)

    assert by_accuracy.evaluate(*VALIDATION)["accuracy"] == pytest.approx(max(accuracies), abs=1e-12)
    assert validation_loss(by_accuracy, *VALIDATION) == pytest.approx(losses[best_accuracy], rel=1e-5)
    assert validation_loss(by_accuracy, *VALIDATION) > min(losses) * (1 + 1e-3)


def test_monitor_val_macro_f1_keeps_the_weights_with_the_best_logged_macro_f1():
    clf = _monitored("val_macro_f1")
    assert clf.evaluate(*VALIDATION)["macro_f1"] == pytest.approx(max(e["val_macro_f1"] for e in clf.history_),
                                                                 abs=1e-12)


def test_early_stopping_keeps_the_best_weights_not_the_last():
    clf = SequenceClassifier(**NOISY, epochs=30, patience=3).fit(*TRAIN, *VALIDATION)
    losses = [e["val_loss"] for e in clf.history_]
    assert len(losses) < 30  # patience ran out
    assert losses.index(min(losses)) == len(losses) - 4  # the best, then 3 epochs without improvement
    assert losses[-1] > min(losses) * (1 + 1e-3)
    assert validation_loss(clf, *VALIDATION) == pytest.approx(min(losses), rel=1e-5)


def test_without_validation_every_epoch_runs_and_no_validation_metric_is_logged():
    clf = SequenceClassifier(**NOISY, epochs=3, val_fraction=0.0).fit(*TRAIN)
    assert len(clf.history_) == 3 and all("val_loss" not in e for e in clf.history_)
