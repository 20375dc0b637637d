"""Bad `rnnlab demo NAME ...` arguments: one line naming the flag, exit 2, before any training, nothing written."""

import shlex

import numpy as np
import pytest

from rnnlab import argparsing
from rnnlab.cli import common, main
from rnnlab.errors import InvalidArgument

# (command after `rnnlab demo`, the flag the one-line error must name)
BAD = [
    ("alphabet --epochs 0", "--epochs"),
    ("alphabet --epochs nan", "--epochs"),
    ("alphabet --batch-size 0", "--batch-size"),
    ("alphabet --batch-size 99999999999", "--batch-size"),
    ("sine --test 0", "--test"),
    ("sine --train -1", "--train"),
    ("sine --train 4", "--train"),  # too few windows for the Forecaster's validation split
    ("sine --train 1000000000", "--train"),
    ("sine --gap 0", "--gap"),
    ("sine --gap nan", "--gap"),
    ("sine --gap inf", "--gap"),
    ("sine --max-steps 0", "--max-steps"),
    ("sine --seed -1", "--seed"),
    ("sine --plot no-such-folder/sine.png", "--plot"),
    ("sine --plot .", "--plot"),
    ("sine --bogus 1", "--bogus"),
    ("trajectory --seed -1", "--seed"),
    ("trajectory --seed 4294967296", "--seed"),
    ("trajectory --steps 0", "--steps"),
    ("trajectory --steps 1.5", "--steps"),
    ("trajectory --rounds -1", "--rounds"),
    ("trajectory --rounds 0", "--rounds"),
    ("trajectory --rounds 100000000", "--rounds"),
    ("trajectory --plot no-such-folder/t.png", "--plot"),
    ("names --epochs 0", "--epochs"),
    ("names --minutes 0", "--minutes"),
    ("names --minutes nan", "--minutes"),
    ("names --minutes -1", "--minutes"),
    ("forward001 --x 1", "--x"),
    ("addition --digits 0", "--digits"),
    ("addition --digits 1", "--digits"),  # 55 questions: too few for --examples' least, 100
    ("addition --examples 10", "--examples"),
    ("addition --examples 1000000 --digits 2", "--examples"),  # 2-digit sums: 5,050 questions in all
    ("addition --minutes 0", "--minutes"),
    ("addition 5++1", "'5++1'"),
    ("addition 12+", "'12+'"),
    ("addition ²+1", "'²+1'"),  # a digit to str.isdigit, not to int()
    ("g2p --beam 0", "--beam"),
    ("g2p --minutes nan", "--minutes"),
    ("g2p --data missing", "missing/train.tsv"),
    ("g2p --ckpt missing", "missing"),
    ("g2p --plot missing/x.png", "--plot"),
    ("g2p 'two words'", "'two words'"),
    ("g2p ''", "''"),
]


def run(argv: list[str], capsys) -> tuple[int, str, str]:
    """(exit status, stdout, stderr) of `rnnlab ARGV`, run in this process."""
    capsys.readouterr()
    try:
        status = main(argv)
    except SystemExit as stop:  # argparse's usage errors
        status = stop.code
    out, err = capsys.readouterr()
    return status, out, err


@pytest.mark.parametrize(("command", "flag"), BAD, ids=[command for command, _ in BAD])
def test_a_bad_demo_argument_is_one_line_naming_the_flag(command, flag, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    status, out, err = run(["demo", *shlex.split(command)], capsys)
    assert status == 2
    assert out == ""  # refused before the demo prints (or trains) anything
    assert len(err.splitlines()) == 1 and err.startswith("rnnlab: error:"), err
    assert flag in err and "Traceback" not in err
    assert "_" not in err.split(":", 2)[2].split("expected")[0]  # a flag (--max-steps), not a keyword (max_steps)
    assert list(tmp_path.iterdir()) == []


def test_the_cli_and_the_demos_share_one_parser_and_one_checked_type():
    assert common.Parser is argparsing.Parser and common.checked is argparsing.checked


def test_a_report_from_past_the_end_of_the_series_is_refused_by_name():
    from rnnlab.tasks.forecast import Forecaster

    series = np.sin(0.1 * np.arange(60))
    model = Forecaster(lookback=5, horizon=1, hidden_size=4, max_steps=1).fit(series, train_end=40)
    for start in (0, 60, 61):  # was an IndexError while wording the error, for 60 and 61
        with pytest.raises(InvalidArgument, match="test_start"):
            model.report(series, test_start=start)
