import json

import numpy as np
import pytest

from rnnlab.cli import main

FAST = ["--lookback", "12", "--horizon", "6", "--hidden-size", "8", "--max-steps", "30", "--eval-every", "10",
        "--quiet"]
FIGURES = {"mae", "rmse", "mape", "smape", "mase", "per_horizon"}


def write_csv(path, rows):
    path.write_text("month,sales,price\n" + "".join(f"{r}\n" for r in rows))
    return path


def monthly_csv(path, n=120):
    t = np.arange(n)
    sales = 100 + 0.5 * t + 10 * np.sin(2 * np.pi * t / 12)
    months = [f"{1950 + i // 12}-{i % 12 + 1:02d}" for i in range(n)]
    return write_csv(path, [f"{m},{s:.3f},{1 + s / 100:.3f}" for m, s in zip(months, sales, strict=True)])


def log_steps(run) -> list[int]:
    return [json.loads(line)["step"] for line in (run / "log.jsonl").read_text().splitlines()]


def test_train_saves_a_run_and_prints_the_baselines_beside_the_rnn(tmp_path, capsys):
    csv = monthly_csv(tmp_path / "sales.csv")
    run = tmp_path / "run"
    assert main(["forecast", "train", "--data", str(csv), "--target", "sales", "--out", str(run), *FAST]) == 0
    out = capsys.readouterr().out
    assert "ForecastConfig(" not in out  # --quiet: no settings echo
    assert "seasonal_naive" in out and "drift" in out and "MASE" in out
    for name in ("best.safetensors", "best.json", "latest.json", "log.jsonl", "loss.png", "eval.json", "eval.png",
                 "forecast.png"):
        assert (run / name).is_file(), name
    assert log_steps(run) == [10, 20, 30]
    assert main(["forecast", "predict", "--ckpt", str(run), "--plot", str(tmp_path / "p.png")]) == 0
    lines = capsys.readouterr().out.splitlines()
    # 120 rows, the last 2 * 6 held out: training ends 1958-12, so the forecast starts 1959-01
    assert lines[1].startswith("1959-01") and len(lines) == 1 + 6 + 1  # header, H rows, "wrote"
    assert (tmp_path / "p.png").is_file()


def test_eval_predict_and_backtest_print_only_the_documented_json(tmp_path, capsys):
    csv = monthly_csv(tmp_path / "sales.csv")
    run = tmp_path / "run"
    assert main(["forecast", "train", "--data", str(csv), "--out", str(run), *FAST]) == 0
    capsys.readouterr()
    assert main(["forecast", "eval", "--ckpt", str(run), "--data", str(csv), "--json"]) == 0
    captured = capsys.readouterr()
    document = json.loads(captured.out)  # the JSON alone on standard output; the table went to standard error
    assert "held-out tail" in captured.err
    assert set(document) == {"task", "command", "ckpt", "data", "horizon", "windows", "baselines"} | FIGURES
    assert (document["task"], document["command"], document["horizon"], document["windows"]) == ("forecast", "eval",
                                                                                                 6, 7)
    assert set(document["baselines"]) == {"naive", "seasonal_naive", "drift"}
    assert all(set(figures) == FIGURES for figures in document["baselines"].values())
    assert json.loads((run / "eval.json").read_text())["mae"] == document["mae"]

    assert main(["forecast", "predict", "--ckpt", str(run), "--data", str(csv), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert set(document) == {"task", "command", "ckpt", "data", "forecast", "interval"}
    assert document["interval"] == 0.8 and len(document["forecast"]) == 6
    assert document["forecast"][0]["time"] == "1960-01"  # after the end of the CSV
    assert set(document["forecast"][0]) == {"time", "value", "lower", "upper"}

    target = tmp_path / "bt.json"
    assert main(["forecast", "backtest", "--data", str(csv), "--target", "sales", "--covariates", "price",
                 "--origins", "2", "--json", str(target), *FAST]) == 0
    assert "rolling-origin backtest" in capsys.readouterr().out  # with --json FILE the text stays on stdout
    document = json.loads(target.read_text())
    assert set(document) == {"task", "command", "data", "horizon", "windows", "baselines"} | FIGURES
    assert (document["command"], document["windows"]) == ("backtest", 2)


def test_resume_extends_max_steps_and_the_log_continues(tmp_path, capsys):
    csv = monthly_csv(tmp_path / "sales.csv")
    run = tmp_path / "run"
    assert main(["forecast", "train", "--data", str(csv), "--out", str(run), *FAST, "--patience", "none"]) == 0
    assert main(["forecast", "train", "--resume", str(run), "--max-steps", "50", "--quiet"]) == 0
    assert log_steps(run) == [10, 20, 30, 40, 50]
    assert "held-out tail" in capsys.readouterr().out  # the CSV was read again and its tail evaluated
    assert main(["forecast", "train", "--resume", str(run), "--hidden-size", "4"]) == 2
    assert main(["forecast", "train", "--resume", str(run), "--missing", "drop"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert "not --hidden-size" in err[0] and "not --missing" in err[1]


def test_resume_works_from_another_folder_and_names_the_flag_of_a_bad_budget(tmp_path, capsys, monkeypatch):
    monthly_csv(tmp_path / "sales.csv")
    monkeypatch.chdir(tmp_path)  # the data given by a relative path ...
    assert main(["forecast", "train", "--data", "sales.csv", "--out", "run", *FAST]) == 0
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")  # ... is found again from another folder
    assert main(["forecast", "train", "--resume", "../run", "--max-steps", "0"]) == 2
    assert "argument `--max-steps`" in capsys.readouterr().err
    assert main(["forecast", "train", "--resume", "../run", "--max-steps", "40", "--quiet"]) == 0
    assert log_steps(tmp_path / "run") == [10, 20, 30, 40]


def test_a_direct_run_refuses_resume_in_one_line(tmp_path, capsys):
    csv = monthly_csv(tmp_path / "sales.csv")
    run = tmp_path / "run"
    assert main(["forecast", "train", "--data", str(csv), "--out", str(run), *FAST, "--strategy", "direct",
                 "--horizon", "2", "--max-steps", "10"]) == 0
    capsys.readouterr()
    assert main(["forecast", "train", "--resume", str(run), "--max-steps", "20"]) == 2
    err = capsys.readouterr().err
    assert "strategy 'direct'" in err and "cannot be resumed" in err and err.count("\n") == 1


def test_force_replaces_a_run_only_once_the_new_one_has_a_checkpoint(tmp_path, capsys):
    csv = monthly_csv(tmp_path / "sales.csv")
    run = tmp_path / "run"
    assert main(["forecast", "train", "--data", str(csv), "--out", str(run), *FAST]) == 0
    (run / "keep.txt").write_text("mine")
    assert main(["forecast", "train", "--data", str(csv), "--out", str(run), *FAST]) == 2
    assert "--force" in capsys.readouterr().err
    bad = write_csv(tmp_path / "bad.csv", ["1950-01,1,1", "1950-02,,1", "1950-03,3,3"])
    assert main(["forecast", "train", "--data", str(bad), "--out", str(run), "--force", *FAST]) == 2
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no staging folder left
    assert (run / "keep.txt").read_text() == "mine"
    assert main(["forecast", "train", "--data", str(csv), "--out", str(run), "--force", *FAST]) == 0
    assert not (run / "keep.txt").exists() and (run / "best.json").is_file()


def test_force_never_replaces_a_folder_that_is_not_a_run(tmp_path, capsys):
    csv = monthly_csv(tmp_path / "sales.csv")
    precious = tmp_path / "thesis"
    precious.mkdir()
    (precious / "chapter1.txt").write_text("years of work")
    assert main(["forecast", "train", "--data", str(csv), "--out", str(precious), "--force", *FAST]) == 2
    assert "not an rnnlab run folder" in capsys.readouterr().err
    assert (precious / "chapter1.txt").read_text() == "years of work"


@pytest.mark.parametrize("case, rows, extra, message", [
    ("bad date", ["1950-01,1,1", "not-a-date,2,2", "1950-03,3,3"], [], "cannot read 'not-a-date'"),
    ("missing value", [f"1950-{m:02d},{m},1" for m in range(1, 10)] + ["1950-10,,1"], [], "missing"),
    ("gap", [f"1950-{m:02d},{m},1" for m in (1, 2, 3, 5, 6, 7, 8)], [], "interpolate"),
    ("no target", [f"{1950 + m // 12}-{m % 12 + 1:02d},{m},1" for m in range(40)], ["--target", "revenue"],
     "no column 'revenue'"),
    ("short", [f"{1950 + m // 12}-{m % 12 + 1:02d},{m},1" for m in range(40)], ["--lookback", "50", "--test-size", "0"],
     "lookback 50"),
    ("long horizon", [f"{1950 + m // 12}-{m % 12 + 1:02d},{m},1" for m in range(40)], ["--horizon", "20"],
     "--horizon 20 is too long"),
    ("bad setting", [f"1950-{m:02d},{m},1" for m in range(1, 10)], ["--dropout", "1.5"], "`--dropout`"),
])
def test_bad_input_is_a_one_line_error_and_leaves_nothing(tmp_path, capsys, case, rows, extra, message):
    csv = write_csv(tmp_path / "bad.csv", rows)
    code = main(["forecast", "train", "--data", str(csv), "--out", str(tmp_path / "run"), "--quiet", *extra])
    err = capsys.readouterr().err
    assert code == 2, case
    assert message in err and err.count("\n") == 1, err
    assert "--test-size" not in err or "--test-size" in extra  # the user's terms only
    assert not (tmp_path / "run").exists()


def test_the_corrected_command_then_succeeds_in_the_same_out(tmp_path, capsys):
    csv = monthly_csv(tmp_path / "sales.csv")
    run = tmp_path / "run"
    assert main(["forecast", "train", "--data", str(csv), "--out", str(run), *FAST, "--lookback", "200"]) == 2
    assert not run.exists()
    assert main(["forecast", "train", "--data", str(csv), "--out", str(run), *FAST]) == 0
