import json

import numpy as np
import pytest

from rnnlab.cli import main

FAST = ["--hidden-size", "8", "--embedding-dim", "4", "--epochs", "2", "--batch-size", "8"]


@pytest.fixture
def names_folder(tmp_path):
    folder = tmp_path / "names"
    folder.mkdir()
    short = ["Ab", "Bo", "Ca", "Di", "Ed", "Fu", "Ab", "Ab"]
    (folder / "Short.txt").write_text("\n".join(short) + "\n", encoding="utf-8")
    (folder / "Long.txt").write_text("\n".join(["Abcdefg", "Bcdefgh", "Cdefghi", "Defghij", "Efghijk"]) + "\n",
                                     encoding="utf-8")
    return folder


def test_train_writes_a_run_folder_and_eval_and_predict_read_it(names_folder, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["classify", "train", "--data", str(names_folder), "--out", str(run), "--test-fraction", "0.2",
                 *FAST]) == 0
    out = capsys.readouterr().out
    assert "13 examples, 11 after removing repeated" in out and "majority class" in out
    for name in ("best.safetensors", "best.json", "metrics.json", "confusion.png"):
        assert (run / name).is_file()
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["classes"] == ["Long", "Short"] and len(metrics["confusion"]) == 2

    assert main(["classify", "eval", "--ckpt", str(run), "--data", str(names_folder)]) == 0
    assert "macro-F1" in capsys.readouterr().out

    assert main(["classify", "predict", "--ckpt", str(run), "--top-k", "2", "Abcdefz", "Xy"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("note: characters not seen in training read as <unk>:") and "'z'" in lines[0]
    assert lines[1].startswith("Abcdefz: ") and lines[2].startswith("Xy: ")
    probabilities = [float(part.split()[-1]) for part in lines[1].split(": ", 1)[1].split(", ")]
    assert len(probabilities) == 2 and sum(probabilities) == pytest.approx(1.0, abs=2e-3)


def test_train_refuses_to_overwrite_a_run_folder(names_folder, tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / "keep.txt").write_text("precious")
    assert main(["classify", "train", "--data", str(names_folder), "--out", str(run), *FAST]) == 2
    assert "--force" in capsys.readouterr().err and (run / "keep.txt").read_text() == "precious"


def test_numeric_series_train_and_predict_from_an_npz_file(tmp_path, capsys):
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(0, 1, (20, 10, 2)), rng.normal(3, 1, (20, 10, 2))])
    np.savez(tmp_path / "series.npz", X=X, y=np.array([0] * 20 + [1] * 20))
    run = tmp_path / "run"
    assert main(["classify", "train", "--data", str(tmp_path / "series.npz"), "--out", str(run), *FAST]) == 0
    assert "1-NN DTW" in capsys.readouterr().out
    assert main(["classify", "predict", "--ckpt", str(run), "--data", str(tmp_path / "series.npz")]) == 0
    assert capsys.readouterr().out.startswith("#0: ")


@pytest.mark.parametrize("content, message", [
    (None, "unknown format"),
    (b"", "empty file"),
    (b"text,tag\nhello,x\n", "no column 'label'"),
])
def test_bad_data_is_a_one_line_error_with_status_2(tmp_path, capsys, content, message):
    path = tmp_path / ("data.xyz" if content is None else "data.csv")
    path.write_bytes(b"something" if content is None else content)
    assert main(["classify", "train", "--data", str(path), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_predict_with_a_missing_checkpoint_is_a_one_line_error(tmp_path, capsys):
    assert main(["classify", "predict", "--ckpt", str(tmp_path / "none"), "Smith"]) == 2
    assert "no checkpoint there" in capsys.readouterr().err


def test_alphabet_demo_trains_and_prints_twenty_predictions(capsys):
    assert main(["demo", "alphabet", "--epochs", "2"]) == 0
    out = capsys.readouterr().out
    assert "Model Accuracy: " in out and out.count("] -> ") == 20 and "new inputs: ABC -> " in out
