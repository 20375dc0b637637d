"""A forecaster's run folder through the public API: log and checkpoints, exact resume, saved transforms."""

import json

import numpy as np
import pytest

from rnnlab import Forecaster
from rnnlab.checkpoint import load_checkpoint, save_checkpoint
from rnnlab.errors import RnnlabError

SETTINGS = dict(lookback=12, horizon=4, hidden_size=8, eval_every=10, patience=None, dropout=0.0,
                seasonal_difference="off")


def series(n: int = 160) -> np.ndarray:
    t = np.arange(n)
    return 5 + 2 * np.sin(2 * np.pi * t / 12) + np.random.default_rng(0).normal(0, 0.3, n)


def log_steps(run) -> list[int]:
    return [json.loads(line)["step"] for line in (run / "log.jsonl").read_text().splitlines()]


def test_a_run_writes_a_log_line_and_checkpoints_at_every_evaluation(tmp_path):
    run = tmp_path / "run"
    model = Forecaster(**SETTINGS, max_steps=30).fit(series(), run_dir=run, progress=False)
    assert log_steps(run) == [10, 20, 30] == [line["step"] for line in model.history_]
    assert {"best.json", "best.safetensors", "latest.json", "latest.safetensors", "log.jsonl"} <= {
        p.name for p in run.iterdir()}
    np.testing.assert_array_equal(Forecaster.load(run).predict(), model.predict())  # in memory: the best weights
    assert json.loads((run / "latest.json").read_text())["training"]["loop"]["step"] == 30


def test_resume_continues_from_the_saved_step_and_ends_where_one_longer_run_ends(tmp_path):
    y, run, whole = series(), tmp_path / "run", tmp_path / "whole"
    Forecaster(**SETTINGS, max_steps=30).fit(y, run_dir=run, progress=False)
    resumed = Forecaster.resume(run, max_steps=60)
    assert resumed.max_steps == 60 and resumed.history_[-1]["step"] == 30
    resumed.fit(y, run_dir=run, progress=False)
    assert log_steps(run) == [10, 20, 30, 40, 50, 60]  # the log grows from where the run stopped
    assert [line["step"] for line in resumed.history_] == [10, 20, 30, 40, 50, 60]
    straight = Forecaster(**SETTINGS, max_steps=60).fit(y, run_dir=whole, progress=False)
    # weights, optimizer, generators and loop state all came back: the same validation losses, the same model
    assert [line["val_loss"] for line in resumed.history_] == [line["val_loss"] for line in straight.history_]
    np.testing.assert_array_equal(resumed.predict(), straight.predict())
    np.testing.assert_array_equal(Forecaster.load(run).predict(), Forecaster.load(whole).predict())


def test_resume_changes_only_the_budget_and_needs_the_same_training_rows(tmp_path):
    y, run = series(), tmp_path / "run"
    Forecaster(**SETTINGS, max_steps=10).fit(y, train_end=150, run_dir=run, progress=False)
    with pytest.raises(RnnlabError, match="only max_steps, epochs, minutes, on_nan, engine, device, amp may "
                                          "change, not hidden_size"):
        Forecaster.resume(run, hidden_size=16)
    with pytest.raises(RnnlabError, match="differ from those the run was started on"):
        Forecaster.resume(run, max_steps=20).fit(y + 1, run_dir=run, progress=False)
    with pytest.raises(RnnlabError, match="first 150 rows, not on 140"):
        Forecaster.resume(run, max_steps=20).fit(y, train_end=140, run_dir=run, progress=False)
    Forecaster.resume(run, max_steps=20).fit(y, run_dir=run, progress=False)  # train_end comes from the run
    assert log_steps(run) == [10, 20]


@pytest.mark.parametrize("options, word", [(dict(strategy="direct", horizon=2), "strategy 'direct'"),
                                           (dict(refit_full=True), "refit_full")])
def test_runs_of_several_networks_or_a_refit_cannot_be_resumed(tmp_path, options, word):
    run = tmp_path / "run"
    Forecaster(**dict(SETTINGS, **options), max_steps=10).fit(series(), run_dir=run, progress=False)
    assert Forecaster.load(run).predict().shape == (options.get("horizon", 4),)
    with pytest.raises(RnnlabError, match="cannot be resumed") as error:
        Forecaster.resume(run, max_steps=20)
    assert word in str(error.value) and "\n" not in str(error.value)


def test_fit_creates_no_folder_when_the_data_is_too_short(tmp_path):
    with pytest.raises(RnnlabError, match="needs at least"):
        Forecaster(**SETTINGS, max_steps=10).fit(series(20), run_dir=tmp_path / "run", progress=False)
    assert not (tmp_path / "run").exists()


def test_load_reads_the_saved_target_transform_back(tmp_path):
    y = 50 + np.arange(120.0) + 5 * np.sin(np.arange(120.0))  # a trend: differenced before the network sees it
    model = Forecaster(**dict(SETTINGS, difference=1), max_steps=10).fit(y, progress=False)
    model.save(tmp_path / "run")
    loaded = Forecaster.load(tmp_path / "run")
    assert loaded.transform_.to_json() == model.transform_.to_json()
    np.testing.assert_array_equal(loaded.predict(), model.predict())
    # the transform is read from best.json, not rebuilt from the settings: drop it there and the levels go
    arrays, document = load_checkpoint(tmp_path / "run")
    document["transform"]["steps"] = []
    edited = json.loads((tmp_path / "run" / "best.json").read_text())
    edited["transform"]["steps"] = []
    (tmp_path / "run" / "best.json").write_text(json.dumps(edited))
    with pytest.raises(RnnlabError, match="does not match its weights file"):  # an edit by hand is refused
        Forecaster.load(tmp_path / "run")
    save_checkpoint(tmp_path / "run", "best", arrays, {k: v for k, v in document.items()
                                                       if k not in ("format", "weights", "sha256")})
    undifferenced = Forecaster.load(tmp_path / "run")
    assert undifferenced.transform_.lost == 0
    assert np.all(np.abs(undifferenced.predict() - model.predict()) > 10)  # differences read as levels


def test_evaluate_gives_the_documented_figures_as_plain_numbers():
    y = series(200)
    model = Forecaster(**SETTINGS, max_steps=20).fit(y, train_end=180, progress=False)
    document = model.evaluate(y)
    figures = {"mae", "rmse", "mape", "smape", "mase", "per_horizon"}
    assert set(document) == {"horizon", "windows", "baselines"} | figures
    assert (document["horizon"], document["windows"]) == (4, 17)
    assert set(document["baselines"]) == {"naive", "seasonal_naive", "drift"}
    assert all(set(document["baselines"][name]) == figures for name in ("naive", "seasonal_naive", "drift"))
    assert set(document["per_horizon"]) == {"mae", "rmse"} and len(document["per_horizon"]["mae"]) == 4
    json.dumps(document, allow_nan=False)
    assert document["mape"] < 1  # a fraction, not percent


def test_score_is_minus_the_mae_from_every_origin_with_a_full_window_before_it():
    y = series(200)
    model = Forecaster(**SETTINGS, max_steps=20).fit(y, train_end=150, progress=False)
    part = y[150:]
    origins = range(12, len(part) - 4 + 1)  # lookback 12, nothing differenced, horizon 4
    errors = [np.abs(model.predict(part[:o]) - part[o: o + 4]) for o in origins]
    assert model.score(part) == pytest.approx(-np.mean(errors), rel=1e-6)  # float32 batches
    with pytest.raises(RnnlabError, match="score needs at least 16 rows"):
        model.score(part[:15])
