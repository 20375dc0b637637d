import math
import time

import pytest

from rnnlab.bench import CONFIGS, engine_trainer, format_table, interleaved_medians, numpy_trainer, run


class FakeClock:
    """Stands in for time.perf_counter: time moves only when a timed function says so."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_interleaved_medians_gives_each_functions_median_and_runs_warmup_plus_repeats(monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(time, "perf_counter", clock)
    calls = {"fast": 0, "slow": 0}
    slow_durations = iter([99.0, 99.0, 3.0, 50.0, 3.0, 3.0, 4.0])  # 2 warmup calls, then 3, 50, 3, 3, 4

    def fast():
        calls["fast"] += 1
        clock.now += 1.0

    def slow():
        calls["slow"] += 1
        clock.now += next(slow_durations)

    assert interleaved_medians([fast, slow], repeats=5, warmup=2) == [1.0, 3.0]  # the median, not the mean 12.6
    assert calls == {"fast": 7, "slow": 7}


def test_interleaved_medians_keeps_going_until_min_seconds_have_passed(monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(time, "perf_counter", clock)
    rounds = []

    def tick():
        rounds.append(clock.now)
        clock.now += 2.0

    def tock():
        clock.now += 2.0

    # 4 seconds a round: 5 rounds take 20 s, so 13 rounds are needed before 50 s have passed
    assert interleaved_medians([tick, tock], repeats=5, warmup=1, min_seconds=50.0) == [2.0, 2.0]
    assert len(rounds) == 1 + 13
    rounds.clear()
    interleaved_medians([tick, tock], repeats=5, warmup=0, min_seconds=1e9)  # capped at 500 rounds
    assert len(rounds) == 500


def test_report_gives_tokens_per_second_per_thread_count_scaling_and_ratio_for_both_engines():
    pytest.importorskip("torch")
    report = run(["a"], threads=[1, 2], repeats=2, warmup=1, min_seconds=0)
    (row,) = report["rows"]
    assert row["kind"] == "train" and row["config"] == CONFIGS["a"].name
    speed = row["tokens_per_s"]
    assert set(speed) == set(row["cpu_per_wall"]) == {"numpy@1", "numpy@2", "torch@1", "torch@2"}
    assert row["scaling"] == pytest.approx(speed["numpy@2"] / speed["numpy@1"])
    assert row["ratio"] == pytest.approx(speed["numpy@2"] / max(speed["torch@1"], speed["torch@2"]))
    assert all(0 < load < 8 for load in row["cpu_per_wall"].values())
    assert CONFIGS["a"].name in format_table(report) and report["threads"] == [1, 2]


def test_engine_trainer_follows_the_numpy_trainer_from_the_same_weights_and_batch():
    pytest.importorskip("torch")
    numpy_step, engine_step = numpy_trainer(CONFIGS["a"]), engine_trainer(CONFIGS["a"], device="cpu")
    numpy_losses = [numpy_step() for _ in range(2)]
    engine_losses = [engine_step() for _ in range(2)]
    assert all(math.isfinite(loss) for loss in engine_losses)
    assert engine_losses[0] == pytest.approx(numpy_losses[0], rel=1e-4)  # same initial weights, same batch
    assert engine_losses[1] == pytest.approx(numpy_losses[1], rel=1e-4)  # same gradients and Adagrad update
    assert engine_losses[1] != engine_losses[0]  # the optimizer moved the weights


def test_configuration_f_is_the_character_model_presets_network_and_step():
    from rnnlab.optim import clip_grad_norm_
    from rnnlab.tasks.charlm_config import PRESETS, build_model

    preset, f = PRESETS["default"], CONFIGS["f"]
    assert f.model_config() == build_model(preset, f.vocab).config  # same layers, sizes, dropout and embedding
    assert (f.batch, f.seq_len, f.optimizer, f.clip_norm) == (preset.batch_size, preset.seq_len, preset.optimizer,
                                                             preset.clip_norm)
    clipped = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("rnnlab.bench.clip_grad_norm_", lambda params, norm: clipped.append(norm) or
                      clip_grad_norm_(params, norm))
        loss = numpy_trainer(f)()
    assert math.isfinite(loss) and clipped == [preset.clip_norm]
