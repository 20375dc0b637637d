"""Run folders, resume and evaluation figures of SequenceClassifier, through the public API."""

import json

import numpy as np
import pytest
from sklearn.metrics import f1_score

from rnnlab import RnnlabError, SequenceClassifier

rng = np.random.default_rng(0)
WORDS = ["".join(rng.choice(list("abc"), size=rng.integers(1, 7))) for _ in range(60)]
LABELS = [w[0] for w in WORDS]
SMALL = dict(hidden_size=6, embedding_dim=4, batch_size=16, dropout=0.3, char_dropout=0.1, patience=None)


def read_log(run_dir) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines()]


class TickingClock:
    """A stand-in for the `time` module of the training loop: each reading is one second after the last."""

    def __init__(self) -> None:
        self.now = 0.0

    def perf_counter(self) -> float:
        self.now += 1.0
        return self.now


def test_a_run_stopped_by_its_minutes_resumes_exactly_as_if_never_stopped(tmp_path, monkeypatch):
    whole = SequenceClassifier(**SMALL, epochs=4).fit(WORDS, LABELS, run_dir=tmp_path / "whole", progress=False)
    monkeypatch.setattr("rnnlab.train.time", TickingClock())  # one second a step: 8 / 60 minutes is 8 steps
    SequenceClassifier(**SMALL, epochs=4, minutes=8 / 60).fit(WORDS, LABELS, run_dir=tmp_path / "split",
                                                              progress=False)
    first = read_log(tmp_path / "split")
    assert [e["step"] for e in first] == [4, 8]  # 54 training words in batches of 16: 4 steps an epoch

    resumed = SequenceClassifier.resume(tmp_path / "split", minutes=None)
    resumed.fit(WORDS, LABELS, run_dir=tmp_path / "split", progress=False)
    log = read_log(tmp_path / "split")
    assert log[:2] == first and [e["step"] for e in log] == [4, 8, 12, 16]
    assert [e["step"] for e in resumed.history_] == [4, 8, 12, 16]
    keys = ("step", "lr", "val_loss", "val_accuracy")
    assert [[e[k] for k in keys] for e in log] == [[e[k] for k in keys] for e in read_log(tmp_path / "whole")]
    np.testing.assert_array_equal(resumed.predict_proba(WORDS), whole.predict_proba(WORDS))
    loaded = SequenceClassifier.load(tmp_path / "split")
    np.testing.assert_array_equal(loaded.predict_proba(WORDS), resumed.predict_proba(WORDS))


def test_a_larger_epoch_budget_stretches_the_cosine_schedule(tmp_path):
    SequenceClassifier(**SMALL, epochs=2).fit(WORDS, LABELS, run_dir=tmp_path / "run", progress=False)
    resumed = SequenceClassifier.resume(tmp_path / "run", epochs=4).fit(WORDS, LABELS, run_dir=tmp_path / "run",
                                                                          progress=False)
    lr, low = resumed.lr, resumed.lr * resumed.lr_min_factor
    for entry in read_log(tmp_path / "run")[2:]:  # steps 12 and 16 of a 16-step cosine
        assert entry["lr"] == pytest.approx(low + (lr - low) * (1 + np.cos(np.pi * entry["step"] / 16)) / 2)


def test_resume_accepts_only_the_budget_and_refuses_other_data(tmp_path):
    SequenceClassifier(**SMALL, epochs=1).fit(WORDS, LABELS, run_dir=tmp_path / "run", progress=False)
    with pytest.raises(RnnlabError, match="hidden_size"):
        SequenceClassifier.resume(tmp_path / "run", hidden_size=8)
    with pytest.raises(RnnlabError, match="differ"):
        SequenceClassifier.resume(tmp_path / "run", epochs=2).fit(WORDS[1:], LABELS[1:], run_dir=tmp_path / "run")


def test_an_ensemble_run_is_saved_but_cannot_be_resumed(tmp_path):
    clf = SequenceClassifier(**SMALL, epochs=1, ensemble=2).fit(WORDS, LABELS, run_dir=tmp_path / "run",
                                                               progress=False)
    assert (tmp_path / "run" / "best.json").is_file() and len(read_log(tmp_path / "run")) == 2
    assert {e["member"] for e in clf.history_} == {0, 1}
    with pytest.raises(RnnlabError, match="ensemble"):
        SequenceClassifier.resume(tmp_path / "run", epochs=2)


def test_fit_checks_its_data_before_creating_the_run_folder(tmp_path):
    with pytest.raises(RnnlabError, match="one label per sequence"):
        SequenceClassifier(**SMALL).fit(WORDS, LABELS[:-1], run_dir=tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_without_a_run_folder_nothing_is_written(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    SequenceClassifier(**SMALL, epochs=1).fit(WORDS, LABELS, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_evaluate_gives_the_documented_keys_and_scikit_learns_macro_f1():
    clf = SequenceClassifier(**SMALL, epochs=1, val_fraction=0).fit(WORDS, LABELS, progress=False)
    some = [w for w in WORDS if w[0] != "c"]  # an evaluation set without class c
    result = clf.evaluate(some, [w[0] for w in some])
    assert set(result) == {"n", "accuracy", "macro_f1", "classes", "precision", "recall", "f1", "support",
                           "confusion"}
    json.dumps(result)  # plain Python numbers and lists
    predicted = clf.predict(some)
    expected = f1_score([w[0] for w in some], predicted, average="macro")  # over the labels present anywhere
    assert result["macro_f1"] == pytest.approx(expected, abs=1e-12)
    assert result["classes"] == ["a", "b", "c"] and result["support"][2] == 0
