import pytest

from rnnlab.bench import CONFIGS, format_table, interleaved_medians, run


def test_interleaved_medians_times_each_function_and_runs_at_least_the_repeats():
    calls = {"fast": 0, "slow": 0}

    def fast():
        calls["fast"] += 1

    def slow():
        calls["slow"] += 1
        sum(range(20000))

    t_fast, t_slow = interleaved_medians([fast, slow], repeats=5, warmup=2)
    assert calls == {"fast": 7, "slow": 7} and t_slow > t_fast > 0


def test_report_gives_tokens_per_second_and_their_ratio_for_both_engines():
    pytest.importorskip("torch")
    report = run(["a"], threads=1, repeats=2, warmup=1, min_seconds=0)
    (row,) = report["rows"]
    assert row["kind"] == "train" and row["config"] == CONFIGS["a"].name
    assert row["ratio"] == pytest.approx(row["numpy_tokens_per_s"] / row["torch_tokens_per_s"])
    assert CONFIGS["a"].name in format_table(report) and report["threads"] == 1
