import json

import pytest

from rnnlab.cli import main
from rnnlab.tasks.charlm import CharLM

TINY = ["--hidden-size", "16", "--num-layers", "1", "--embedding-dim", "8", "--seq-len", "16", "--batch-size", "4",
        "--max-steps", "6", "--eval-every", "3", "--sample-every", "3", "--sample-chars", "20", "--quiet"]


@pytest.fixture
def text(tmp_path):
    path = tmp_path / "text.txt"
    path.write_text("to be or not to be, that is the question.\n" * 60, encoding="utf-8")
    return path


def run(argv, capsys) -> tuple[int, str, str]:
    capsys.readouterr()
    try:
        status = main([str(a) for a in argv])
    except SystemExit as stop:
        status = stop.code
    out, err = capsys.readouterr()
    return status, out, err


def read_log(folder) -> list[dict]:
    return [json.loads(line) for line in (folder / "log.jsonl").read_text().splitlines()]


def test_train_sample_eval_resume(text, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["charlm", "train", "--data", str(text), "--out", str(run), *TINY]) == 0
    out = capsys.readouterr().out
    assert "sample at step 3" in out and "final validation loss" in out and "bits/char" in out
    assert str(run / "best.json") in out
    assert main(["charlm", "sample", "--ckpt", str(run), "--length", "30", "--prime", "to be", "--seed", "1"]) == 0
    # The CLI prints the prime, the 30 generated characters (which may include newlines) and one final newline.
    generated = CharLM.load(run).sample(30, prime="to be", seed=1)
    assert len(generated) == 30
    assert capsys.readouterr().out == "to be" + generated + "\n"
    assert main(["charlm", "eval", "--ckpt", str(run)]) == 0
    assert "bits/char" in capsys.readouterr().out
    assert main(["charlm", "train", "--resume", str(run)]) == 0  # already at max_steps: nothing to do
    assert "resuming" in capsys.readouterr().out


def test_json_documents_carry_the_documented_keys_and_nothing_else_is_printed(text, tmp_path, capsys):
    folder = tmp_path / "run"
    assert run(["charlm", "train", "--data", text, "--out", folder, *TINY], capsys)[0] == 0
    status, out, _ = run(["charlm", "eval", "--ckpt", folder, "--data", text, "--json"], capsys)
    document = json.loads(out)
    assert status == 0 and set(document) == {"task", "command", "ckpt", "data", "characters", "loss", "bpc",
                                             "perplexity"}
    assert document["loss"] == pytest.approx(CharLM.load(folder).evaluate(text)["loss"])
    status, out, _ = run(["charlm", "sample", "--ckpt", folder, "--length", 25, "--prime", "to", "--seed", 2,
                          "--json"], capsys)
    document = json.loads(out)
    assert status == 0 and set(document) == {"task", "command", "ckpt", "prime", "text", "length", "temperature"}
    assert document["prime"] == "to" and document["text"] == CharLM.load(folder).sample(25, prime="to", seed=2)
    status, out, _ = run(["charlm", "sample", "--ckpt", folder, "--length", 5, "--json", tmp_path / "s.json"], capsys)
    assert status == 0 and len(json.loads((tmp_path / "s.json").read_text())["text"]) == 5
    status, out, _ = run(["charlm", "sample", "--ckpt", folder, "--length", 12, "--num-samples", 3, "--seed", 4,
                          "--json"], capsys)
    document = json.loads(out)
    assert status == 0 and set(document) == {"task", "command", "ckpt", "prime", "texts", "length", "temperature"}
    assert document["texts"] == CharLM.load(folder).sample(12, seed=4, num_samples=3)


def test_many_samples_print_one_after_another_between_dashes(text, tmp_path, capsys):
    folder = tmp_path / "run"
    assert run(["charlm", "train", "--data", text, "--out", folder, *TINY], capsys)[0] == 0
    status, out, _ = run(["charlm", "sample", "--ckpt", folder, "--length", 20, "--num-samples", 2, "--prime", "to",
                          "--seed", 5], capsys)
    first, second = CharLM.load(folder).sample(20, prime="to", seed=5, num_samples=2)
    assert status == 0 and out == f"to{first}\n----\nto{second}\n"
    status, out, err = run(["charlm", "sample", "--ckpt", folder, "--num-samples", 0], capsys)
    assert status == 2 and out == "" and "--num-samples" in err and len(err.strip().splitlines()) == 1


def test_resume_continues_the_log_from_the_saved_step_with_a_larger_budget(text, tmp_path, capsys):
    folder = tmp_path / "run"
    assert run(["charlm", "train", "--data", text, "--out", folder, *TINY], capsys)[0] == 0
    first = read_log(folder)
    status, _, err = run(["charlm", "train", "--resume", folder, "--max-steps", 12, "--quiet"], capsys)
    assert status == 0, err
    log = read_log(folder)
    assert log[: len(first)] == first and [entry["step"] for entry in log] == [3, 6, 9, 12]


def test_a_run_trained_by_minutes_and_resumed_by_minutes_trains_more(text, tmp_path, capsys):
    folder = tmp_path / "run"
    budget = ["--max-steps", 100_000, "--eval-every", 100_000, "--minutes", 0.005]
    assert run(["charlm", "train", "--data", text, "--out", folder, *TINY, *budget], capsys)[0] == 0
    first = read_log(folder)[-1]["step"]
    status, _, err = run(["charlm", "train", "--resume", folder, "--minutes", 0.005, "--quiet"], capsys)
    assert status == 0, err
    assert read_log(folder)[-1]["step"] > first + 1  # the minutes count for each call, not for the whole run


def test_force_replaces_a_run_only_once_the_new_one_has_a_checkpoint(text, tmp_path, capsys):
    folder = tmp_path / "run"
    argv = ["charlm", "train", "--data", text, "--out", folder, *TINY]
    assert run(argv, capsys)[0] == 0
    (folder / "mine.txt").write_text("kept until replaced")
    status, _, err = run(argv, capsys)
    assert status == 2 and "--force" in err
    assert run([*argv, "--force", "--seq-len", 10_000], capsys)[0] == 2  # too long for the text: fails before training
    assert (folder / "mine.txt").is_file(), "a failed --force run removed the old run"
    assert run([*argv, "--force"], capsys)[0] == 0
    assert (folder / "best.json").is_file() and not (folder / "mine.txt").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


@pytest.mark.parametrize("argv, message", [
    (["charlm", "train", "--data", "{text}", "--out", "{out}", "--cell", "lstmm"], "--cell"),
    (["charlm", "train", "--data", "{tmp}/no/such/file.txt", "--out", "{out}"], "no/such/file.txt"),
    (["charlm", "train", "--data", "{text}", "--out", "{out}", "--seq-len", "500"], "too short"),
    (["charlm", "train", "--data", "{text}", "--out", "{out}", "--clip-norm", "-1"], "--clip-norm"),
    (["charlm", "train", "--data", "{text}", "--out", "{out}", "--threads", "0"], "--threads"),
    (["charlm", "train", "--resume", "{out}"], "no run to resume"),
    (["charlm", "train", "--resume", "{out}", "--preset", "large"], "--preset"),
    (["charlm", "sample", "--ckpt", "no/such/run"], "no checkpoint there"),
])
def test_a_bad_command_is_one_line_exit_2_and_leaves_nothing(argv, message, text, tmp_path, capsys):
    before = sorted(tmp_path.rglob("*"))
    argv = [a.format(text=text, out=tmp_path / "run", tmp=tmp_path) for a in argv]
    status, out, err = run(argv, capsys)
    assert status == 2 and message in err and err.count("\n") == 1 and "Traceback" not in err
    assert sorted(tmp_path.rglob("*")) == before


@pytest.mark.parametrize("flags, message", [(["--temperature", "nan"], "--temperature"),
                                            (["--top-p", "1.5"], "--top-p"), (["--top-k", "0"], "--top-k"),
                                            (["--length", "-1"], "--length"), (["--prime", "Zz"], "not in the vocab")])
def test_bad_sampling_flags_are_refused_before_printing(text, tmp_path, capsys, flags, message):
    folder = tmp_path / "run"
    main(["charlm", "train", "--data", str(text), "--out", str(folder), *TINY])
    status, out, err = run(["charlm", "sample", "--ckpt", folder, *flags], capsys)
    assert status == 2 and out == "" and message in err


def test_preset_with_flags_on_top(text, tmp_path, capsys):
    folder = tmp_path / "run"
    argv = ["charlm", "train", "--data", text, "--out", folder, "--preset", "min-char-rnn", "--max-steps", 2,
            "--eval-every", 2, "--sample-every", 0, "--seq-len", 8, "--embedding-dim", 4, "--clip-value", "none"]
    status, out, err = run(argv, capsys)
    assert status == 0, err
    assert "preset min-char-rnn" in out
    lm = CharLM.load(folder)
    assert (lm.cell, lm.hidden_size, lm.seq_len, lm.embedding_dim, lm.clip_value) == ("rnn", 100, 8, 4, None)


def test_usage_errors_exit_2():
    with pytest.raises(SystemExit) as exit_info:
        main(["charlm", "train", "--max-steps", "many"])
    assert exit_info.value.code == 2


def test_log_gradients_writes_one_line_per_step_and_the_report_draws_the_gradient_flow(text, tmp_path, capsys):
    from tests.diagnostics.test_report import check_page

    folder = tmp_path / "run"
    assert main(["charlm", "train", "--data", str(text), "--out", str(folder), *TINY, "--log-gradients"]) == 0
    rows = [json.loads(line) for line in (folder / "gradients.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3, 4, 5, 6]
    assert [r["step"] for r in rows if "spectral_radius" in r] == [3, 6]
    assert all(len(v) == 16 for r in rows for v in r["input_grad_norms"].values())
    assert main(["report", str(folder)]) == 0
    page = check_page(folder / "report.html")
    assert "Gradient flow" in page.text
    alts = [attrs.get("alt") for tag, attrs in page.tags if tag == "img"]
    assert {"global gradient norm", "spectral radius", "input gradient per time step"} <= set(alts)


def test_without_log_gradients_there_is_no_gradient_log(text, tmp_path, capsys):
    folder = tmp_path / "run"
    assert main(["charlm", "train", "--data", str(text), "--out", str(folder), *TINY]) == 0
    assert not (folder / "gradients.jsonl").exists()
