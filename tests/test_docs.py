"""Every `$ rnnlab ...` command in the README and docs/ runs as written, at a small training budget.

Commands are taken from the fenced code blocks in order, one document at a time, run from the
repository root with `runs/` redirected to a temporary folder. Training commands get a few flags
appended (argparse keeps the last value) so they finish in seconds; what is checked is that the
grammar, the files and the run folders the docs show work together, and that a command the docs
show failing (`rnnlab: error: ...` below it) fails with status 2 while the others succeed.
Commands that read a file the reader is meant to supply (`my_texts/`) are skipped, with the
commands that use their run folder.
"""

import shlex
from pathlib import Path

import pytest

from rnnlab.cli import main

REPO = Path(__file__).resolve().parents[1]
DOCUMENTS = [REPO / "README.md", *sorted((REPO / "docs").glob("**/*.md"))]

# Appended to training commands: (task, verb) -> flags that make the run tiny.
SMALL = {
    ("charlm", "train"): "--max-steps 4 --eval-every 2 --sample-every 0 --hidden-size 8 --num-layers 1 --quiet",
    ("classify", "train"): "--epochs 1 --hidden-size 8 --embedding-dim 8 --conv-filters 4 --ensemble 1 --no-nn --quiet",
    ("tag", "train"): "--epochs 1 --hidden-size 8 --word-dim 8 --char-hidden 8 --minutes none --quiet",
    ("forecast", "train"): "--max-steps 10 --eval-every 5 --hidden-size 8 --quiet",
    ("forecast", "backtest"): "--max-steps 5 --eval-every 5 --hidden-size 8 --origins 1 --quiet",
    ("seq2seq", "train"): "--epochs 1 --minutes 0.05 --hidden-size 8 --embedding-dim 4 --quiet",
    ("gradcheck", None): "--cell rnn --num-layers 1",
}
RESUME_BUDGET = {"charlm": "--max-steps 6", "classify": "--epochs 2", "tag": "--epochs 2", "forecast": "--max-steps 20",
                 "seq2seq": "--epochs 2"}
SKIPPED_VERBS = {("bench", None), ("demo", "alphabet"), ("demo", "names"), ("demo", "sine"), ("demo", "trajectory"),
                 ("demo", "addition"), ("demo", "g2p")}


def shown_commands(document: Path) -> list[tuple[str, bool]]:
    """(command, expected to fail) for each `$ rnnlab` line in the code blocks of `document`."""
    commands, in_block, lines = [], False, document.read_text(encoding="utf-8").splitlines()
    for n, line in enumerate(lines):
        if line.startswith("```"):
            in_block = not in_block
        if not in_block or not line.startswith("$ rnnlab "):
            continue
        text = line[2:]
        while text.endswith("\\"):  # a command continued on the next line
            n += 1
            text = text[:-1] + lines[n].strip()
        output = []
        for following in lines[n + 1:]:
            if following.startswith(("$", "```")):
                break
            output.append(following)
        commands.append((text, any(o.startswith("rnnlab: error:") for o in output)))
    return commands


def prepared(command: str, runs: Path) -> list[str] | None:
    """The argv to run (runs/ redirected, budget flags added), or None when the command needs the reader's files."""
    argv = shlex.split(command.split(" #")[0])[1:]
    argv = [word.replace("runs/", f"{runs}/") for word in argv]
    task = argv[0]
    verb = argv[1] if len(argv) > 1 and not argv[1].startswith("-") else None
    if (task, verb) in SKIPPED_VERBS or (task, None) in SKIPPED_VERBS:
        return None
    for flag_name in ("--data", "--test", "--val", "--ckpt", "--resume"):
        if flag_name in argv:
            path = Path(argv[argv.index(flag_name) + 1])
            if not (path if path.is_absolute() else REPO / path).exists():
                return None  # a file of the reader's own, or a run that a skipped command would have made
    if "--resume" in argv:
        return argv + RESUME_BUDGET[task].split()
    small = SMALL.get((task, verb), f"--quick --out runs/experiment-{verb}-quick" if task == "experiment" else "")
    argv = argv + [word.replace("runs/", f"{runs}/") for word in small.split()]
    if task == "charlm" and verb == "train" and "--out" not in argv:
        argv += ["--out", str(runs / "charlm-default")]
    return argv


@pytest.mark.slow
@pytest.mark.parametrize("document", DOCUMENTS, ids=[d.name for d in DOCUMENTS])
def test_the_commands_in_the_docs_run_as_written(document, tmp_path, monkeypatch, data_dir, capsys):
    monkeypatch.chdir(REPO)
    ran = 0
    for command, should_fail in shown_commands(document):
        argv = prepared(command, tmp_path / "runs")
        if argv is None:
            continue
        try:
            status = main(argv)
        except SystemExit as stop:
            status = stop.code
        err = capsys.readouterr().err
        assert status == (2 if should_fail else 0), f"{document.name}: {command}\n{err[-2000:]}"
        ran += 1
    assert ran or not shown_commands(document)


def test_commands_are_read_with_their_continuation_lines_and_expected_errors(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("```\n$ rnnlab tag train --data a \\\n    --out runs/x\nok\n$ rnnlab tag eval --ckpt q\n"
                    "rnnlab: error: q: no checkpoint\n```\n$ rnnlab outside a block\n")
    assert shown_commands(page) == [("rnnlab tag train --data a --out runs/x", False),
                                    ("rnnlab tag eval --ckpt q", True)]
    assert prepared("rnnlab tag train --data my_own.conllu --out runs/x", tmp_path) is None
    argv = prepared("rnnlab tag train --data README.md --out runs/x", tmp_path)
    assert argv[:5] == ["tag", "train", "--data", "README.md", "--out"] and argv[5] == f"{tmp_path}/x"
    assert "--epochs" in argv
