import numpy as np
import pytest

from rnnlab.cli import main

FAST = ["--lookback", "12", "--horizon", "6", "--hidden-size", "8", "--max-steps", "30", "--quiet"]


def write_csv(path, rows):
    path.write_text("month,sales,price\n" + "".join(f"{r}\n" for r in rows))
    return path


def monthly_csv(path, n=120):
    t = np.arange(n)
    sales = 100 + 0.5 * t + 10 * np.sin(2 * np.pi * t / 12)
    months = [f"{1950 + i // 12}-{i % 12 + 1:02d}" for i in range(n)]
    return write_csv(path, [f"{m},{s:.3f},{1 + s / 100:.3f}" for m, s in zip(months, sales, strict=True)])


def test_train_saves_a_run_and_prints_the_baselines_beside_the_rnn(tmp_path, capsys):
    csv = monthly_csv(tmp_path / "sales.csv")
    run = tmp_path / "run"
    assert main(["forecast", "train", str(csv), "--target", "sales", "--run-dir", str(run), *FAST]) == 0
    out = capsys.readouterr().out
    assert "ForecastConfig(" in out and "seasonal_naive" in out and "drift" in out and "MASE" in out
    for name in ("best.safetensors", "best.json", "loss.png", "eval.json", "eval.png", "forecast.png"):
        assert (run / name).is_file(), name
    assert main(["forecast", "predict", str(run), "--plot", str(tmp_path / "p.png")]) == 0
    lines = capsys.readouterr().out.splitlines()
    # 120 rows, the last 2 * 6 held out: training ends 1958-12, so the forecast starts 1959-01
    assert lines[1].startswith("1959-01") and len(lines) == 1 + 6 + 1  # header, H rows, "wrote"
    assert (tmp_path / "p.png").is_file()
    assert main(["forecast", "eval", str(run), str(csv)]) == 0
    assert "held-out tail" in capsys.readouterr().out


def test_an_existing_run_folder_is_not_clobbered(tmp_path, capsys):
    csv = monthly_csv(tmp_path / "sales.csv")
    run = tmp_path / "run"
    run.mkdir()
    (run / "keep.txt").write_text("mine")
    assert main(["forecast", "train", str(csv), "--run-dir", str(run), *FAST]) == 2
    assert "--force" in capsys.readouterr().err
    assert (run / "keep.txt").read_text() == "mine"


def test_backtest_with_covariates_writes_json(tmp_path, capsys):
    csv = monthly_csv(tmp_path / "sales.csv")
    out_json = tmp_path / "bt.json"
    code = main(["forecast", "backtest", str(csv), "--target", "sales", "--covariates", "price", "--origins", "2",
                 "--json", str(out_json), *FAST])
    assert code == 0 and out_json.is_file()
    assert "rolling-origin backtest" in capsys.readouterr().out


@pytest.mark.parametrize("case, rows, extra, message", [
    ("bad date", ["1950-01,1,1", "not-a-date,2,2", "1950-03,3,3"], [], "cannot read 'not-a-date'"),
    ("missing value", [f"1950-{m:02d},{m},1" for m in range(1, 10)] + ["1950-10,,1"], [], "missing"),
    ("gap", [f"1950-{m:02d},{m},1" for m in (1, 2, 3, 5, 6, 7, 8)], [], "interpolate"),
    ("no target", [f"{1950 + m // 12}-{m % 12 + 1:02d},{m},1" for m in range(40)], ["--target", "revenue"],
     "no column 'revenue'"),
    ("short", [f"{1950 + m // 12}-{m % 12 + 1:02d},{m},1" for m in range(40)], ["--lookback", "50", "--test-size", "0"],
     "lookback 50"),
])
def test_bad_input_is_a_one_line_error_with_exit_code_2(tmp_path, capsys, case, rows, extra, message):
    csv = write_csv(tmp_path / "bad.csv", rows)
    code = main(["forecast", "train", str(csv), "--run-dir", str(tmp_path / "run"), "--quiet", *extra])
    err = capsys.readouterr().err
    assert code == 2, case
    assert message in err and err.count("\n") == 1, err
    assert not (tmp_path / "run").exists()


def test_sine_demo_reports_rmse_beside_naive_and_writes_its_plot(tmp_path, capsys):
    main(["demo", "sine", "--train", "300", "--test", "50", "--max-steps", "30", "--plot", str(tmp_path / "s.png")])
    out = capsys.readouterr().out
    assert "test RMSE over 50 points: LSTM" in out and "naive" in out
    assert (tmp_path / "s.png").stat().st_size > 0


def test_trajectory_demo_writes_its_3d_plot_and_prints_the_path(tmp_path, capsys):
    path = tmp_path / "t.png"
    main(["demo", "trajectory", "--steps", "50", "--rounds", "2", "--plot", str(path)])
    out = capsys.readouterr().out
    assert out.rstrip().endswith(f"wrote {path}") and path.stat().st_size > 0
    assert len([line for line in out.splitlines() if line.startswith("  ")]) == 10  # 2 rounds of 5 points
