from rnnlab.cli import main


def test_sine_demo_reports_rmse_beside_naive_and_writes_its_plot_when_asked(tmp_path, capsys):
    main(["demo", "sine", "--train", "300", "--test", "50", "--max-steps", "30", "--plot", str(tmp_path / "s.png")])
    out = capsys.readouterr().out
    assert "test RMSE over 50 points: LSTM" in out and "naive" in out
    assert (tmp_path / "s.png").stat().st_size > 0


def test_the_demos_write_no_image_into_the_current_folder_by_default(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    main(["demo", "sine", "--train", "100", "--test", "20", "--max-steps", "5"])
    main(["demo", "trajectory", "--steps", "5", "--rounds", "1"])
    assert "wrote" not in capsys.readouterr().out
    assert list(tmp_path.iterdir()) == []


def test_trajectory_demo_writes_its_3d_plot_and_prints_the_path(tmp_path, capsys):
    path = tmp_path / "t.png"
    main(["demo", "trajectory", "--steps", "50", "--rounds", "2", "--plot", str(path)])
    out = capsys.readouterr().out
    assert out.rstrip().endswith(f"wrote {path}") and path.stat().st_size > 0
    assert len([line for line in out.splitlines() if line.startswith("  ")]) == 10  # 2 rounds of 5 points
