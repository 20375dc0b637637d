import json

import numpy as np
import pytest

from rnnlab.checkpoint import load_checkpoint
from rnnlab.cli import main
from rnnlab.tasks.tag import SequenceTagger

ROW = "{}\t{}\t_\t{}\t{}\t_\t_\t_\t_\t_"
NOUNS = ["nation", "station", "motion", "lotion", "ration", "potion", "fiction", "action"]
VERBS = ["realize", "organize", "memorize", "finalize", "idealize", "localize"]


def run(argv) -> int:
    """Exit status of `rnnlab ARGV` run in this process (argparse's usage errors included)."""
    try:
        return main([str(a) for a in argv])
    except SystemExit as stop:
        return stop.code


def write_conllu(path, count):
    """A toy treebank: 'the NOUN VERB a NOUN .' and 'we VERB the NOUN .', with PTB tags in XPOS."""
    lines = []
    for i in range(count):
        noun, verb, other = NOUNS[i % len(NOUNS)], VERBS[i % len(VERBS)], NOUNS[(3 * i + 1) % len(NOUNS)]
        if i % 2:
            words = [("the", "DET", "DT"), (noun, "NOUN", "NN"), (verb, "VERB", "VBP"), ("a", "DET", "DT"),
                     (other, "NOUN", "NN"), (".", "PUNCT", ".")]
        else:
            words = [("we", "PRON", "PRP"), (verb, "VERB", "VBP"), ("the", "DET", "DT"), (noun, "NOUN", "NN"),
                     (".", "PUNCT", ".")]
        lines.append(f"# sent_id = {i}")
        lines += [ROW.format(n, *word) for n, word in enumerate(words, start=1)]
        lines.append("")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# No time budget (--minutes none): --epochs alone ends training, so the exact outputs below do not depend on how
# fast the machine is.
TRAIN_ARGS = ["--minutes", "none", "--epochs", "8", "--patience", "8", "--hidden-size", "16", "--batch-size", "16",
              "--lr", "0.01", "--quiet"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tag")
    data = write_conllu(folder / "train.conllu", 120)
    assert main(["tag", "train", "--data", str(data), "--out", str(folder / "run"), *TRAIN_ARGS]) == 0
    return folder / "run"


def test_train_writes_a_checkpoint_and_a_log(run_dir):
    assert (run_dir / "best.safetensors").is_file() and (run_dir / "best.json").is_file()
    assert len((run_dir / "log.jsonl").read_text().splitlines()) == 8  # one line per epoch, all 8 epochs


def test_eval_prints_model_and_baseline_accuracy(run_dir, tmp_path, capsys):
    test = write_conllu(tmp_path / "test.conllu", 20)
    assert main(["tag", "eval", "--ckpt", str(run_dir), "--data", str(test)]) == 0
    out = capsys.readouterr().out
    assert "bi-LSTM tagger" in out and "most-frequent-tag" in out and "OOV words" in out
    model_line = next(line for line in out.splitlines() if line.startswith("bi-LSTM tagger"))
    assert model_line.split()[2] == "100.00%"


def test_predict_prints_word_tag_pairs_for_plain_sentences(run_dir, capsys):
    sentences = ["we organize the nation.", "the motion realize a potion"]
    assert main(["tag", "predict", "--ckpt", str(run_dir), *sentences]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "we/PRON organize/VERB the/DET nation/NOUN ./PUNCT"
    assert lines[1].split()[0] == "the/DET" and len(lines[1].split()) == 5


def test_train_refuses_to_overwrite_an_existing_run(run_dir, capsys):
    data = run_dir.parent / "train.conllu"
    before = (run_dir / "best.safetensors").read_bytes()
    assert main(["tag", "train", "--data", str(data), "--out", str(run_dir), *TRAIN_ARGS]) == 2
    err = capsys.readouterr().err
    assert "--force" in err and len(err.strip().splitlines()) == 1
    assert (run_dir / "best.safetensors").read_bytes() == before


def test_train_with_xpos_column_learns_ptb_tags(tmp_path, capsys):
    data = write_conllu(tmp_path / "train.conllu", 60)
    assert main(["tag", "train", "--data", str(data), "--column", "xpos", "--out", str(tmp_path / "run"),
                 *TRAIN_ARGS]) == 0
    assert main(["tag", "predict", "--ckpt", str(tmp_path / "run"), "we realize the nation ."]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "we/PRP realize/VBP the/DT nation/NN ./."


@pytest.mark.parametrize(
    ("make_args", "message"),
    [
        (lambda d: ["tag", "train", "--data", str(d / "missing.conllu"), "--out", str(d / "r")], "no such file"),
        (lambda d: ["tag", "train", "--data", str(d / "bad.conllu"), "--out", str(d / "r")], "tab-separated"),
        (lambda d: ["tag", "train", "--data", str(d / "bin.conllu"), "--out", str(d / "r")], "bin.conllu"),
        (lambda d: ["tag", "train", "--data", str(d / "ok.conllu"), "--column", "lemma", "--out", str(d / "r")],
         "--column"),
        (lambda d: ["tag", "eval", "--ckpt", str(d / "nothing"), "--data", str(d / "ok.conllu")], "no checkpoint"),
    ],
)
def test_bad_input_gives_a_one_line_error_and_exit_2(tmp_path, capsys, make_args, message):
    (tmp_path / "bad.conllu").write_text("1\tword\tonly-three-fields\n", encoding="utf-8")
    (tmp_path / "bin.conllu").write_bytes(b"\xff\xfe\x00\x81garbage")
    write_conllu(tmp_path / "ok.conllu", 4)
    assert run(make_args(tmp_path)) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "r").exists()


def test_predict_refuses_an_empty_sentence(run_dir, capsys):
    assert main(["tag", "predict", "--ckpt", str(run_dir), "we realize it", "  "]) == 2
    err = capsys.readouterr().err
    assert "sentence 2" in err and len(err.strip().splitlines()) == 1


def test_eval_and_predict_json_documents_carry_exactly_the_documented_keys(run_dir, tmp_path, capsys):
    test = write_conllu(tmp_path / "test.conllu", 20)
    capsys.readouterr()
    assert run(["tag", "eval", "--ckpt", run_dir, "--data", test, "--json"]) == 0
    document = json.loads(capsys.readouterr().out)  # the document alone on stdout
    assert set(document) == {"task", "command", "ckpt", "data", "tokens", "oov_tokens", "accuracy", "oov_accuracy",
                             "baselines"}
    assert document["task"] == "tag" and document["command"] == "eval" and document["accuracy"] == 1.0
    assert document["oov_tokens"] == 0 and document["oov_accuracy"] is None  # NaN (no OOV word) is null
    assert set(document["baselines"]) == {"most_frequent_tag"}
    assert set(document["baselines"]["most_frequent_tag"]) == {"accuracy", "oov_accuracy"}

    assert run(["tag", "predict", "--ckpt", run_dir, "we organize the nation.", "--json", tmp_path / "p.json"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == "we/PRON organize/VERB the/DET nation/NOUN ./PUNCT"
    document = json.loads((tmp_path / "p.json").read_text())
    assert set(document) == {"task", "command", "ckpt", "predictions"}
    assert document["predictions"] == [{"words": ["we", "organize", "the", "nation", "."],
                                        "tags": ["PRON", "VERB", "DET", "NOUN", "PUNCT"]}]


def read_log(run_folder):
    return [json.loads(line) for line in (run_folder / "log.jsonl").read_text().splitlines()]


def test_resume_continues_from_the_saved_epoch_as_if_never_stopped(tmp_path):
    data = write_conllu(tmp_path / "train.conllu", 40)
    small = ["--hidden-size", "8", "--word-dim", "8", "--char-dim", "4", "--char-hidden", "4", "--minutes", "none",
             "--lr", "0.01", "--quiet"]
    assert run(["tag", "train", "--data", data, "--out", tmp_path / "whole", "--epochs", "4", *small]) == 0
    assert run(["tag", "train", "--data", data, "--out", tmp_path / "split", "--epochs", "2", *small]) == 0
    assert [e["step"] for e in read_log(tmp_path / "split")] == [2, 4]
    assert run(["tag", "train", "--resume", tmp_path / "split", "--epochs", "4", "--quiet"]) == 0
    whole, split = read_log(tmp_path / "whole"), read_log(tmp_path / "split")
    assert [e["step"] for e in split] == [e["step"] for e in whole] == [2, 4, 6, 8]
    assert [e["val_accuracy"] for e in split] == [e["val_accuracy"] for e in whole]
    assert [e["lr"] for e in split] == [e["lr"] for e in whole]
    resumed, uninterrupted = (load_checkpoint(tmp_path / run, "latest")[0] for run in ("split", "whole"))
    assert resumed.keys() == uninterrupted.keys()
    for name in resumed:  # the same weights and optimizer buffers, bit for bit
        np.testing.assert_array_equal(resumed[name], uninterrupted[name], err_msg=name)


def test_resume_takes_only_the_budget(run_dir, capsys):
    assert run(["tag", "train", "--resume", run_dir, "--hidden-size", "8"]) == 2
    assert "--hidden-size" in capsys.readouterr().err
    assert run(["tag", "train", "--resume", run_dir, "--column", "xpos"]) == 2
    assert "--column" in capsys.readouterr().err


def test_force_replaces_a_run_only_once_the_new_one_has_a_checkpoint(tmp_path, capsys):
    data = write_conllu(tmp_path / "train.conllu", 20)
    (tmp_path / "bad.conllu").write_text("1\tthe\tthe\tDET\n\n", encoding="utf-8")
    out = tmp_path / "run"
    command = ["tag", "train", "--data", data, "--out", out, "--epochs", "1", "--hidden-size", "4", "--word-dim", "4",
               "--char-dim", "4", "--char-hidden", "4", "--quiet"]
    assert run(command) == 0
    (out / "mine.txt").write_text("kept until replaced")
    assert run(command) == 2 and "--force" in capsys.readouterr().err
    assert run([*command, "--force", "--epochs", "0"]) == 2
    bad = [tmp_path / "bad.conllu" if word == data else word for word in command]
    assert run([*bad, "--force"]) == 2
    assert "bad.conllu line 1" in capsys.readouterr().err
    assert (out / "mine.txt").is_file(), "a failed --force run touched the old run"
    assert run([*command, "--force"]) == 0
    assert (out / "best.json").is_file() and not (out / "mine.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.conllu", "run", "train.conllu"]


def test_a_run_trained_from_python_is_refused_by_resume_in_one_line(tmp_path, capsys):
    from rnnlab.data.conllu import read_conllu
    from rnnlab.tasks.tag import SequenceTagger

    sentences = read_conllu(write_conllu(tmp_path / "train.conllu", 10), column="upos")
    SequenceTagger(hidden_size=4, word_dim=4, char_dim=4, char_hidden=4, epochs=1).fit(
        [w for w, _ in sentences], [t for _, t in sentences], run_dir=tmp_path / "run", progress=False)
    assert run(["tag", "train", "--resume", tmp_path / "run", "--epochs", "2"]) == 2
    err = capsys.readouterr().err
    assert "trained from Python" in err and err.count("\n") == 1 and "Traceback" not in err


def test_tune_searches_on_training_sentences_and_keeps_given_settings(tmp_path, capsys):
    data = write_conllu(tmp_path / "train.conllu", 30)
    out = tmp_path / "run"
    status = run(["tag", "train", "--data", data, "--out", out, "--tune", "--minutes", "none", "--epochs", "1",
                  "--hidden-size", "8", "--word-dim", "8", "--char-hidden", "8"])
    assert status == 0
    text = capsys.readouterr().out
    assert "searching dropout by cross-validation on the 30 training examples" in text
    tuning = json.loads((out / "tuning.json").read_text())
    assert [c["params"] for c in tuning["candidates"]] == [{"dropout": 0.5}, {"dropout": 0.33}]
    assert all(len(c["folds"]) == 3 for c in tuning["candidates"]) and tuning["baselines"] == {}
    assert SequenceTagger.load(out).dropout == tuning["best_params"]["dropout"]
