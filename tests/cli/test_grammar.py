"""One grammar for every task: the same script drives all four, and bad commands leave nothing behind."""

import json
import re
from pathlib import Path

import numpy as np
import pytest

from rnnlab.cli import main

DOCS = Path(__file__).resolve().parents[2] / "docs" / "cli.md"


def run(argv: list[str], capsys) -> tuple[int, str, str]:
    """(exit status, stdout, stderr) of `rnnlab ARGV`, run in this process."""
    capsys.readouterr()
    try:
        status = main([str(a) for a in argv])
    except SystemExit as stop:  # argparse's usage errors
        status = stop.code
    out, err = capsys.readouterr()
    return status, out, err


# ---- tiny data sets, one per task --------------------------------------------------------------------------
def write_text(folder: Path) -> Path:
    rng = np.random.default_rng(0)
    words = ["the cat", "a dog", "sat on", "the mat", "and ran", "away."]
    path = folder / "corpus.txt"
    path.write_text("\n".join(" ".join(rng.choice(words, 6)) for _ in range(150)) + "\n", encoding="utf-8")
    return path


def write_names(folder: Path) -> Path:
    rng = np.random.default_rng(0)
    rows = ["text,label"]
    for _ in range(60):
        rows.append("".join(rng.choice(list("aeiou"), 5)) + ",vowels")
        rows.append("".join(rng.choice(list("bcdfg"), 5)) + ",consonants")
    path = folder / "names.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def write_conllu(folder: Path) -> Path:
    sentences = [("the", "DET"), ("cat", "NOUN"), ("sees", "VERB"), ("a", "DET"), ("dog", "NOUN")]
    lines = []
    for n in range(40):
        order = sentences if n % 2 else sentences[3:] + sentences[:3]
        lines.append(f"# sent_id = {n}")
        lines += [f"{i}\t{w}\t{w}\t{t}\t_\t_\t0\t_\t_\t_" for i, (w, t) in enumerate(order, 1)]
        lines.append("")
    path = folder / "train.conllu"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_series(folder: Path) -> Path:
    months = np.arange("2000-01", "2016-01", dtype="datetime64[M]")
    t = np.arange(len(months))
    values = 100 + 0.5 * t + 10 * np.sin(2 * np.pi * t / 12) + np.random.default_rng(0).normal(0, 1, len(t))
    path = folder / "series.csv"
    path.write_text("month,value\n" + "".join(f"{m},{v:.3f}\n" for m, v in zip(months, values, strict=True)))
    return path


def write_pairs(folder: Path) -> Path:
    """60 distinct short strings of a to e, each paired with its reversal ("abd" -> "dba")."""
    rng = np.random.default_rng(0)
    words = sorted({"".join(rng.choice(list("abcde"), int(rng.integers(2, 5)))) for _ in range(80)})[:60]
    path = folder / "pairs.tsv"
    path.write_text("".join(f"{w}\t{w[::-1]}\n" for w in words), encoding="utf-8")
    return path


# Each task: data writer, train settings for a tiny quick run, the budget flag and a larger value for resume,
# the prediction command after --ckpt, and the eval / predict JSON keys that docs/cli.md names.
TASKS = {
    "charlm": (write_text, ["--hidden-size", 16, "--num-layers", 1, "--embedding-dim", 8, "--seq-len", 16,
                            "--batch-size", 4, "--max-steps", 20, "--eval-every", 10, "--sample-every", 0],
               ("--max-steps", 30), ["sample", "--length", 20, "--seed", 1],
               {"characters", "loss", "bpc", "perplexity"}, {"prime", "text"}),
    "classify": (write_names, ["--hidden-size", 8, "--embedding-dim", 8, "--epochs", 2, "--batch-size", 16,
                               "--patience", 50],
                 ("--epochs", 4), ["predict", "aaeio", "bcdgf"],
                 {"n", "accuracy", "macro_f1", "classes", "precision", "recall", "f1", "support", "confusion"},
                 {"predictions"}),
    "tag": (write_conllu, ["--hidden-size", 8, "--word-dim", 8, "--char-dim", 4, "--char-hidden", 4, "--epochs", 2,
                           "--patience", 50, "--minutes", "none"],
            ("--epochs", 4), ["predict", "the cat sees a dog"],
            {"tokens", "oov_tokens", "accuracy", "oov_accuracy", "baselines"}, {"predictions"}),
    "forecast": (write_series, ["--lookback", 12, "--horizon", 3, "--hidden-size", 8, "--max-steps", 40,
                                "--eval-every", 10, "--patience", 50],
                 ("--max-steps", 80), ["predict"],
                 {"horizon", "windows", "mae", "rmse", "mape", "smape", "mase", "per_horizon", "baselines"},
                 {"forecast", "interval"}),
    "seq2seq": (write_pairs, ["--hidden-size", 8, "--embedding-dim", 4, "--epochs", 2, "--batch-size", 8,
                              "--patience", 50, "--minutes", "none"],
                ("--epochs", 4), ["predict", "abc", "ba"],
                {"sequences", "exact_match", "sequence_error_rate", "token_error_rate", "by_length", "beam"},
                {"predictions"}),
}


def documented_keys(command: str) -> set[str]:
    """The backquoted keys in docs/cli.md's JSON table row for `command` (e.g. "classify eval")."""
    for line in DOCS.read_text(encoding="utf-8").splitlines():
        if line.startswith("|") and f"`{command}`" in line.split("|")[1]:
            return set(re.findall(r"`([a-z0-9_]+)`", line.split("|")[2]))
    raise AssertionError(f"docs/cli.md has no JSON row for {command}")


def read_log(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines()]


@pytest.mark.slow
@pytest.mark.parametrize("task", TASKS)
def test_every_task_trains_evaluates_predicts_and_resumes_through_one_grammar(task, tmp_path, capsys):
    write, settings, (budget_flag, budget), predict, eval_keys, predict_keys = TASKS[task]
    data, out = write(tmp_path), tmp_path / "run"

    status, _, err = run([task, "train", "--data", data, "--out", out, "--quiet", *settings], capsys)
    assert status == 0, err
    assert (out / "best.json").is_file() and (out / "latest.json").is_file()
    first = read_log(out)
    assert first, "no evaluation logged"

    status, text, err = run([task, "eval", "--ckpt", out, "--data", data, "--json"], capsys)
    assert status == 0, err
    document = json.loads(text)  # the JSON document alone on stdout
    assert eval_keys <= set(document) and eval_keys <= documented_keys(f"{task} eval")
    assert document["task"] == task and document["command"] == "eval"

    status, text, err = run([task, predict[0], "--ckpt", out, *predict[1:], "--json"], capsys)
    assert status == 0, err
    document = json.loads(text)
    assert predict_keys <= set(document) and predict_keys <= documented_keys(f"{task} {predict[0]}")

    status, _, err = run([task, "train", "--resume", out, budget_flag, budget, "--quiet"], capsys)
    assert status == 0, err
    log = read_log(out)
    assert log[: len(first)] == first, "the resumed run rewrote the first run's log"
    resumed = log[len(first):]
    assert resumed and resumed[0]["step"] > first[-1]["step"], "the resumed run started from scratch"
    assert all(a["step"] < b["step"] for a, b in zip(log, log[1:], strict=False))


# ---- bad commands ------------------------------------------------------------------------------------------
# (task, arguments after `rnnlab`, with DATA/OUT/etc. filled in, a fragment the one-line error must contain)
BAD = [
    ("charlm train --data TEXT --out OUT --cell lstmm", "--cell"),
    ("charlm train --data MISSING --out OUT", "missing.txt"),
    ("charlm train --data BINARY --out OUT", "binary.bin"),
    ("charlm train --data LATIN1 --out OUT", "latin1.txt"),
    ("charlm train --data SHORT --out OUT", "short.txt"),
    ("charlm train --data TEXT --out OUT --dropout 1.5", "--dropout"),
    ("charlm train --data TEXT --out OUT --embedding-dim -3", "--embedding-dim"),
    ("charlm train --resume OUT --hidden-size 8", "--resume"),
    ("classify train --data NAMES --out OUT --hidden-size 0", "--hidden-size"),
    ("classify train --data MISSING --out OUT", "missing.txt"),
    ("classify train --data NAMES --out OUT --val-fraction 1.5", "--val-fraction"),
    ("classify train --data NAMES --out OUT --label-column nope", "names.csv"),
    ("classify eval --ckpt OUT --data NAMES", "OUT"),
    ("tag train --data MALFORMED --out OUT", "malformed.conllu"),
    ("tag train --data CONLLU --out OUT --epochs 0", "--epochs"),
    ("tag train --data CONLLU --out OUT --lr nan", "--lr"),
    ("forecast train --data SERIES --out OUT --horizon 500", "--horizon"),
    ("forecast train --data MISSING --out OUT", "missing.txt"),
    ("forecast train --data SERIES --out OUT --lr -1", "--lr"),
    ("forecast train --data BADCSV --out OUT", "bad.csv"),
    # sizes out of range, refused before anything is read, allocated or written (bounds: rnnlab.checks)
    ("charlm train --data TEXT --out OUT --hidden-size 1000000000", "--hidden-size"),
    ("charlm train --data TEXT --out OUT --hidden-size 65536", "--hidden-size"),  # 5e10 weights
    ("charlm train --data TEXT --out OUT --num-layers 100000", "--num-layers"),
    ("charlm train --data TEXT --out OUT --seq-len 0", "--seq-len"),
    ("charlm train --data TEXT --out OUT --batch-size 100000000", "--batch-size"),
    ("charlm train --data TEXT --out OUT --max-steps 1000000000000", "--max-steps"),
    ("charlm train --data TEXT --out OUT --threads 0", "--threads"),
    ("charlm train --data TEXT --out OUT --seed -1", "--seed"),
    ("classify train --data NAMES --out OUT --embedding-dim 100000000", "--embedding-dim"),
    ("classify train --data NAMES --out OUT --epochs 1000000000000", "--epochs"),
    ("classify train --data NAMES --out OUT --ensemble 0", "--ensemble"),
    ("classify train --data NAMES --out OUT --batch-size 0", "--batch-size"),
    ("classify train --data NAMES --out OUT --test-fraction 0", "--test-fraction"),
    ("tag train --data CONLLU --out OUT --char-hidden 1000000000", "--char-hidden"),
    ("tag train --data CONLLU --out OUT --word-dim 0", "--word-dim"),
    ("tag train --data CONLLU --out OUT --hidden-size 20000", "--hidden-size"),  # 3e9 weights
    ("tag train --data CONLLU --out OUT --max-word-len 1", "--max-word-len"),
    ("forecast train --data SERIES --out OUT --lookback 100000000", "--lookback"),
    ("forecast train --data SERIES --out OUT --num-layers 1000", "--num-layers"),
    ("forecast train --data SERIES --out OUT --test-size -1", "--test-size"),
    ("forecast train --data SERIES --out OUT --season 100000000", "--season"),
    ("forecast train --data SERIES --out OUT --season 168", "--season"),  # as long as the 168 training rows
    ("forecast train --data SERIES --out OUT --horizon 100", "--horizon 100"),  # longer than the series allows
    ("forecast train --data SERIES --out OUT --horizon 200 --test-size 0", "horizon 200"),
    ("forecast backtest --data SERIES --origins 0", "--origins"),
    ("forecast backtest --data SERIES --step 0", "--step"),
    ("forecast backtest --data SERIES --horizon 100", "horizon 100"),
    ("forecast backtest --data SERIES --threads 100000", "--threads"),
    ("seq2seq train --data NOTAB --out OUT", "notab.tsv line 2"),
    ("seq2seq train --data NOSOURCE --out OUT", "nosource.tsv line 2"),
    ("seq2seq train --data NOTARGET --out OUT", "notarget.tsv line 3"),
    ("seq2seq train --data ONEPAIR --out OUT", "onepair.tsv"),  # nothing left to validate on
    ("seq2seq train --data ONESOURCE --out OUT", "onesource.tsv"),  # two targets of one source: the same
    ("seq2seq train --data BADPAIRS --out OUT", "badpairs.csv line 3"),  # three comma-separated fields
    ("seq2seq train --data PAIRS --val NOTAB --out OUT", "notab.tsv line 2"),
    ("seq2seq train --data MISSING --out OUT", "missing.txt"),
    ("seq2seq train --data PAIRS --val MISSING --out OUT", "missing.txt"),
    ("seq2seq train --data PAIRS --out OUT --hidden-size 7", "--hidden-size"),  # odd: two encoder directions
    ("seq2seq train --data PAIRS --out OUT --cell lstmm", "--cell"),
    ("seq2seq train --data PAIRS --out OUT --attention cosine", "--attention"),
    ("seq2seq train --data PAIRS --out OUT --score cosine", "--score"),
    ("seq2seq train --data PAIRS --out OUT --label-smoothing 1", "--label-smoothing"),
    ("seq2seq train --data PAIRS --out OUT --sampling-rate 1.5", "--sampling-rate"),
    ("seq2seq eval --ckpt OUT --data PAIRS --beam 0", "--beam"),
    ("seq2seq eval --ckpt OUT --data PAIRS --length-penalty -1", "--length-penalty"),
    ("seq2seq predict --ckpt OUT --beam 0 abc", "--beam"),
    ("seq2seq predict --ckpt OUT --length-penalty nan abc", "--length-penalty"),
    # the shared commands
    ("bench --threads 0", "--threads"),
    ("bench --repeats 0", "--repeats"),
    ("experiment vanishing --seed -1", "--seed"),
    ("experiment nope", "nope"),
    ("experiment vanishing --quick --out TEXT", "corpus.txt"),
    ("report MISSING", "missing.txt"),
    ("gradcheck --ckpt MISSING", "missing.txt"),
    ("gradcheck --num-layers 0", "--num-layers"),
    ("gradcheck --num-layers 100000", "--num-layers"),
    ("gradcheck --threshold nan", "--threshold"),
    ("demo nope", "nope"),
]


@pytest.fixture
def inputs(tmp_path) -> dict[str, Path]:
    folder = tmp_path / "inputs"
    folder.mkdir()
    (folder / "binary.bin").write_bytes(bytes(range(256)) * 8)
    (folder / "latin1.txt").write_bytes("café crème brûlée, déjà vu\n".encode("latin-1") * 20)
    (folder / "short.txt").write_text("hi\n")
    (folder / "malformed.conllu").write_text("1\tthe\tthe\tDET\n\n")
    (folder / "bad.csv").write_text("month,value\n2000-01,1\n2000-02,oops\n2000-03,3\n")
    pairs = {"NOTAB": "notab.tsv", "NOSOURCE": "nosource.tsv", "NOTARGET": "notarget.tsv", "ONEPAIR": "onepair.tsv",
             "ONESOURCE": "onesource.tsv", "BADPAIRS": "badpairs.csv"}
    for name, text in zip(pairs.values(), ["abc\tcba\nab ba\n", "abc\tcba\n\tab\n", "abc\tcba\n\nab\t \n",
                                           "abc\tcba\n", "abc\tcba\nabc\tcab\n", "source,target\nabc,cba\nab,ba,x\n"],
                          strict=True):
        (folder / name).write_text(text)
    return {key: folder / name for key, name in pairs.items()} | {
            "PAIRS": write_pairs(folder), "TEXT": write_text(folder), "NAMES": write_names(folder),
            "CONLLU": write_conllu(folder), "SERIES": write_series(folder), "MISSING": folder / "missing.txt",
            "BINARY": folder / "binary.bin", "LATIN1": folder / "latin1.txt", "SHORT": folder / "short.txt",
            "MALFORMED": folder / "malformed.conllu", "BADCSV": folder / "bad.csv", "OUT": tmp_path / "run"}


@pytest.mark.parametrize(("command", "fragment"), BAD, ids=[c for c, _ in BAD])
def test_a_bad_command_exits_2_with_one_line_and_writes_nothing(command, fragment, inputs, tmp_path, capsys):
    before = sorted(tmp_path.rglob("*"))
    argv = [str(inputs.get(word, word)) for word in command.split()]
    status, out, err = run(argv, capsys)
    assert status == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rnnlab: error:"), err
    assert str(inputs.get(fragment, fragment)) in lines[0] or fragment in lines[0], lines[0]
    assert "Traceback" not in err
    assert sorted(tmp_path.rglob("*")) == before, "the failed command left files behind"


CORRECTED = {
    "charlm": "charlm train --data TEXT --out OUT --cell lstm --hidden-size 8 --num-layers 1 --embedding-dim 4 "
              "--seq-len 8 --batch-size 2 --max-steps 2 --eval-every 2 --sample-every 0 --quiet",
    "classify": "classify train --data NAMES --out OUT --hidden-size 4 --embedding-dim 4 --epochs 1 --quiet",
    "tag": "tag train --data CONLLU --out OUT --epochs 1 --hidden-size 4 --word-dim 4 --char-dim 4 "
           "--char-hidden 4 --quiet",
    "forecast": "forecast train --data SERIES --out OUT --lookback 12 --horizon 3 --hidden-size 4 --max-steps 10 "
                "--quiet",
    "seq2seq": "seq2seq train --data PAIRS --out OUT --hidden-size 4 --embedding-dim 4 --epochs 2 --minutes none "
               "--quiet",
}


@pytest.mark.parametrize("task", CORRECTED)
def test_after_a_failed_command_the_corrected_one_works_in_the_same_out(task, inputs, capsys):
    bad = {"charlm": "--cell lstmm", "classify": "--hidden-size 0", "tag": "--epochs 0", "forecast": "--lr -1",
           "seq2seq": "--hidden-size 7"}[task]
    argv = [str(inputs.get(w, w)) for w in (CORRECTED[task] + " " + bad).split()]
    assert run(argv, capsys)[0] == 2
    argv = [str(inputs.get(w, w)) for w in CORRECTED[task].split()]
    status, _, err = run(argv, capsys)
    assert status == 0, err
    assert (inputs["OUT"] / "best.json").is_file()


def test_force_replaces_a_run_only_once_the_new_one_has_a_checkpoint(inputs, capsys):
    argv = [str(inputs.get(w, w)) for w in CORRECTED["classify"].split()]
    assert run(argv, capsys)[0] == 0
    out = inputs["OUT"]
    (out / "mine.txt").write_text("kept until replaced")
    status, _, err = run(argv, capsys)
    assert status == 2 and "--force" in err  # an existing run is never overwritten by accident
    assert run([*argv, "--hidden-size", "0", "--force"], capsys)[0] == 2
    assert (out / "mine.txt").is_file(), "a failed --force run removed the old run"
    assert run([*argv, "--force"], capsys)[0] == 0
    assert (out / "best.json").is_file() and not (out / "mine.txt").exists()
    assert [p.name for p in out.parent.iterdir() if p.name.startswith(".")] == []


# ---- bad options given to a trained run: refused in the user's terms, and the run folder is left as it was ------
RUN_BAD = [
    ("charlm sample --ckpt RUN --prime ζ", "--prime"),
    ("charlm sample --ckpt RUN --prime ''", "--prime"),
    ("charlm sample --ckpt RUN --temperature 0", "--temperature"),
    ("charlm sample --ckpt RUN --temperature nan", "--temperature"),
    ("charlm sample --ckpt RUN --top-p 1.5", "--top-p"),
    ("charlm sample --ckpt RUN --top-k 0", "--top-k"),
    ("charlm sample --ckpt RUN --length 0", "--length"),
    ("charlm sample --ckpt RUN --num-samples 0", "--num-samples"),
    ("charlm sample --ckpt RUN --num-samples 3 --length 5000000", "--num-samples"),
    ("charlm sample --ckpt RUN --length 100000000000", "--length"),
    ("charlm neurons --ckpt RUN --cell 100000", "--cell"),
    ("charlm train --resume RUN --max-steps 1", "--max-steps"),  # fewer than the run has done
    ("classify predict --ckpt RUN --top-k 0 abc", "--top-k"),
    ("classify train --resume RUN --epochs 0", "--epochs"),
    ("classify train --resume RUN --tune", "--tune"),
    ("tag predict --ckpt RUN ''", "sentence 1"),
    ("tag train --resume RUN --epochs 0", "--epochs"),
    ("forecast predict --ckpt RUN --data SHORT", "short.csv"),
    ("forecast eval --ckpt RUN --data TRAINED", "trained.csv"),  # the training rows alone: nothing to evaluate on
    ("forecast train --resume RUN --max-steps 0", "--max-steps"),
    ("seq2seq predict --ckpt RUN ''", "source 1"),
    ("seq2seq predict --ckpt RUN abc ' '", "source 2"),
    ("seq2seq predict --ckpt RUN --beam 0 abc", "--beam"),
    ("seq2seq predict --ckpt RUN abc --plot missing_folder/x.png", "--plot"),
    ("seq2seq predict --ckpt RUN --data MISSING", "missing.txt"),
    ("seq2seq predict --ckpt RUN --data EMPTY", "empty.txt"),
    ("seq2seq predict --ckpt RUN abc --data PAIRS", "--data"),  # sources given twice
    ("seq2seq eval --ckpt RUN --data NOTAB", "notab.tsv line 2"),
    ("seq2seq train --resume RUN --epochs 1", "--epochs"),  # fewer than the run has done
    ("seq2seq train --resume RUN --hidden-size 8", "--hidden-size"),
    ("report RUN --threads 0", "--threads"),
]


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    """One tiny trained run per task (CORRECTED's settings), and the data files of RUN_BAD."""
    folder = tmp_path_factory.mktemp("runs")
    files = {"TEXT": write_text(folder), "NAMES": write_names(folder), "CONLLU": write_conllu(folder),
             "SERIES": write_series(folder), "PAIRS": write_pairs(folder), "NOTAB": folder / "notab.tsv",
             "EMPTY": folder / "empty.txt", "MISSING": folder / "missing.txt"}
    files["NOTAB"].write_text("abc\tcba\nab ba\n")
    files["EMPTY"].write_text("")
    lines = files["SERIES"].read_text().splitlines()
    (folder / "short.csv").write_text("\n".join(lines[:5]) + "\n")
    (folder / "trained.csv").write_text("\n".join(lines[:-6]) + "\n")  # forecast's CORRECTED holds out 2 x 3 rows
    files["SHORT"], files["TRAINED"] = folder / "short.csv", folder / "trained.csv"
    for task, command in CORRECTED.items():
        argv = [str(files.get(w, w)) for w in command.split()]
        out = folder / task
        assert main([str(out) if w == "OUT" else w for w in argv]) == 0
        files[f"RUN {task}"] = out
    return files


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize(("command", "fragment"), RUN_BAD, ids=[c for c, _ in RUN_BAD])
def test_a_bad_option_on_a_trained_run_exits_2_and_leaves_the_run_unchanged(command, fragment, runs, tmp_path,
                                                                            capsys, monkeypatch):
    import shlex

    monkeypatch.chdir(tmp_path)
    task = command.split()[0] if command.split()[0] in CORRECTED else "classify"
    run_dir = runs[f"RUN {task}"]
    before = snapshot(run_dir)
    argv = [str(run_dir) if w == "RUN" else str(runs.get(w, w)) for w in shlex.split(command)]
    status, _, err = run(argv, capsys)
    assert status == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rnnlab: error:"), err
    assert fragment in lines[0], lines[0]
    assert snapshot(run_dir) == before, "the failed command changed the run folder"
    assert list(tmp_path.iterdir()) == [], "the failed command left files behind"
