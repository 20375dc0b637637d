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
    (b"text,label\nhello,x\nworld,y\n", "holds none out for testing"),  # one example a class: no test split
])
def test_bad_data_is_a_one_line_error_with_status_2(tmp_path, capsys, content, message):
    path = tmp_path / ("data.xyz" if content is None else "data.csv")
    path.write_bytes(b"something" if content is None else content)
    assert main(["classify", "train", "--data", str(path), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "run").exists()


def test_predict_with_a_missing_checkpoint_is_a_one_line_error(tmp_path, capsys):
    assert main(["classify", "predict", "--ckpt", str(tmp_path / "none"), "Smith"]) == 2
    assert "no checkpoint there" in capsys.readouterr().err


def test_alphabet_demo_trains_and_prints_twenty_predictions(capsys):
    assert main(["demo", "alphabet", "--epochs", "2"]) == 0
    out = capsys.readouterr().out
    assert "Model Accuracy: " in out and out.count("] -> ") == 20 and "new inputs: ABC -> " in out


@pytest.fixture
def languages_csv(tmp_path):
    rng = np.random.default_rng(0)
    rows = ["name,lang"]
    for _ in range(30):
        rows.append("".join(rng.choice(list("aeiou"), 4)) + ",vowels")
        rows.append("".join(rng.choice(list("bcdfg"), 4)) + ",consonants")
    path = tmp_path / "languages.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


COLUMNS = ["--text-column", "name", "--label-column", "lang"]


def test_eval_and_predict_json_documents_hold_the_documented_keys(languages_csv, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["classify", "train", "--data", str(languages_csv), "--out", str(run), "--quiet", *COLUMNS,
                 *FAST]) == 0
    assert {p.name for p in run.iterdir()} >= {"best.json", "latest.json", "log.jsonl", "metrics.json",
                                               "confusion.png"}
    capsys.readouterr()
    plot = tmp_path / "eval.png"
    assert main(["classify", "eval", "--ckpt", str(run), "--data", str(languages_csv), "--json",
                 "--plot", str(plot)]) == 0  # the run's columns are used
    document = json.loads(capsys.readouterr().out)
    assert set(document) == {"task", "command", "ckpt", "data", "n", "accuracy", "macro_f1", "classes",
                             "precision", "recall", "f1", "support", "confusion"}
    assert document["n"] == 60 and plot.read_bytes().startswith(b"\x89PNG")

    assert main(["classify", "predict", "--ckpt", str(run), "--top-k", "2", "aeiou", "bcd", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert set(document) == {"task", "command", "ckpt", "predictions"}
    first = document["predictions"][0]
    assert first["input"] == "aeiou" and len(first["labels"]) == len(first["probabilities"]) == 2
    assert first["probabilities"][0] >= first["probabilities"][1]


def test_resume_reads_the_data_as_the_run_did(languages_csv, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["classify", "train", "--data", str(languages_csv), "--out", str(run), "--quiet",
                 "--test-fraction", "0.3", *COLUMNS, *FAST]) == 0
    steps = [json.loads(line)["step"] for line in (run / "log.jsonl").read_text().splitlines()]
    assert main(["classify", "train", "--resume", str(run), "--test-fraction", "0.2", "--epochs", "3"]) == 2
    assert "--test-fraction" in capsys.readouterr().err
    assert main(["classify", "train", "--resume", str(run), "--epochs", "3", "--quiet"]) == 0
    assert "train 42, test 18" in capsys.readouterr().out  # the saved --test-fraction 0.3 and columns
    resumed = [json.loads(line)["step"] for line in (run / "log.jsonl").read_text().splitlines()]
    assert resumed[:len(steps)] == steps and len(resumed) == len(steps) + 1 and resumed[-1] > steps[-1]


def test_resume_works_from_another_folder_and_names_the_flag_of_a_bad_budget(languages_csv, tmp_path, capsys,
                                                                             monkeypatch):
    monkeypatch.chdir(tmp_path)  # the data given by a relative path ...
    assert main(["classify", "train", "--data", languages_csv.name, "--out", "run", "--quiet", *COLUMNS,
                 *FAST]) == 0
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")  # ... is found again from another folder
    assert main(["classify", "train", "--resume", "../run", "--epochs", "0"]) == 2
    assert "argument `--epochs`" in capsys.readouterr().err
    assert main(["classify", "train", "--resume", "../run", "--epochs", "3", "--quiet"]) == 0


def test_a_missing_label_column_names_the_file_and_the_column(languages_csv, tmp_path, capsys):
    assert main(["classify", "train", "--data", str(languages_csv), "--out", str(tmp_path / "run"),
                 "--text-column", "name"]) == 2
    err = capsys.readouterr().err
    assert str(languages_csv) in err and "'label'" in err and not (tmp_path / "run").exists()


def test_a_test_file_with_an_unseen_label_fails_before_training_and_leaves_nothing(languages_csv, tmp_path, capsys):
    other = tmp_path / "other.csv"
    other.write_text("name,lang\nxyz,klingon\n", encoding="utf-8")
    assert main(["classify", "train", "--data", str(languages_csv), "--test", str(other), "--out",
                 str(tmp_path / "run"), *COLUMNS, *FAST]) == 2
    assert "klingon" in capsys.readouterr().err and not (tmp_path / "run").exists()


def test_an_ensemble_run_cannot_be_resumed(languages_csv, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["classify", "train", "--data", str(languages_csv), "--out", str(run), "--quiet", "--ensemble", "2",
                 *COLUMNS, *FAST]) == 0
    assert main(["classify", "train", "--resume", str(run), "--epochs", "3"]) == 2
    err = capsys.readouterr().err
    assert "ensemble" in err and err.count("\n") == 1
