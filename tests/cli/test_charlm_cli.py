import pytest

from rnnlab.cli import main

TINY = ["--hidden-size", "16", "--layers", "1", "--embedding-dim", "8", "--seq-len", "16", "--batch-size", "4",
        "--max-steps", "6", "--eval-every", "3", "--sample-every", "3", "--sample-chars", "20", "--no-progress"]


@pytest.fixture
def text(tmp_path):
    path = tmp_path / "text.txt"
    path.write_text("to be or not to be, that is the question.\n" * 60, encoding="utf-8")
    return path


def test_train_sample_eval_resume(text, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["charlm", "train", "--data", str(text), "--out", str(run), *TINY]) == 0
    out = capsys.readouterr().out
    assert "sample at step 3" in out and "final validation loss" in out and "bits/char" in out
    assert str(run / "best.json") in out
    assert main(["charlm", "sample", "--ckpt", str(run), "--length", "30", "--prime", "to be", "--seed", "1"]) == 0
    sampled = capsys.readouterr().out
    assert sampled.startswith("to be") and len(sampled.rstrip("\n")) == 35
    assert main(["charlm", "eval", "--ckpt", str(run)]) == 0
    assert "bits/char" in capsys.readouterr().out
    assert main(["charlm", "train", "--resume", str(run)]) == 0  # already at max_steps: nothing to do
    assert "resuming" in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["charlm", "sample", "--ckpt", "no/such/run"], "no checkpoint there"),
    (["charlm", "train", "--data", "no/such/file.txt", "--out", "{tmp}/x", "--no-progress"], "no/such/file.txt"),
    (["charlm", "train", "--cell", "transformer", "--out", "{tmp}/y"], "`cell`"),
])
def test_bad_input_is_one_line_and_exit_2(argv, message, tmp_path, capsys):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_unknown_prime_characters_are_refused_before_printing(text, tmp_path, capsys):
    run = tmp_path / "run"
    main(["charlm", "train", "--data", str(text), "--out", str(run), *TINY])
    capsys.readouterr()
    assert main(["charlm", "sample", "--ckpt", str(run), "--prime", "Zz"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "not in the vocabulary" in captured.err


def test_usage_errors_exit_2():
    with pytest.raises(SystemExit) as exit_info:
        main(["charlm", "train", "--max-steps", "many"])
    assert exit_info.value.code == 2
