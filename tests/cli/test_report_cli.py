"""`rnnlab report RUN [--out FILE.html]`: the page for a run, and one-line errors for bad paths."""

import html
import shutil
from pathlib import Path

import pytest

from rnnlab import CharLM
from rnnlab.cli import main
from tests.diagnostics.test_report import check_page, parse, train_tiny_run


@pytest.fixture(scope="module")
def charlm_run(tmp_path_factory) -> Path:
    return train_tiny_run("charlm", tmp_path_factory.mktemp("runs"))


def test_report_writes_the_page_in_the_run_folder_by_default(charlm_run, capsys):
    assert main(["report", str(charlm_run)]) == 0
    path = charlm_run / "report.html"
    assert f"wrote {path}" in capsys.readouterr().out
    check_page(path)


def test_a_character_model_report_shows_300_characters_sampled_from_the_best_checkpoint(charlm_run, tmp_path):
    out = tmp_path / "page.html"
    assert main(["report", str(charlm_run), "--out", str(out)]) == 0
    sample = CharLM.load(charlm_run).sample(300, seed=0)
    assert len(sample) == 300
    assert f"<pre>{html.escape(sample)}</pre>" in out.read_text(encoding="utf-8")
    assert "Sample" in parse(out).text


def test_the_sample_is_the_same_each_time(charlm_run, tmp_path):
    for name in ("a.html", "b.html"):
        assert main(["report", str(charlm_run), "--out", str(tmp_path / name)]) == 0
    assert (tmp_path / "a.html").read_text() == (tmp_path / "b.html").read_text()


def bad_runs(tmp_path: Path, run: Path) -> dict[str, tuple[Path, str]]:
    """Each bad path, with the fragment its error names."""
    plain = tmp_path / "plain"
    plain.mkdir()
    broken = Path(shutil.copytree(run, tmp_path / "broken"))
    with (broken / "log.jsonl").open("a") as log:
        log.write("{not json\n")
    return {"missing": (tmp_path / "missing", "no such run folder"),
            "not a run": (plain, "not a run folder (no best.json)"),
            "unreadable log": (broken, "log.jsonl:")}


@pytest.mark.parametrize("case", ["missing", "not a run", "unreadable log"])
def test_a_bad_run_folder_exits_2_with_one_line_naming_the_path(case, charlm_run, tmp_path, capsys):
    path, fragment = bad_runs(tmp_path, charlm_run)[case]
    capsys.readouterr()
    assert main(["report", str(path), "--out", str(tmp_path / "page.html")]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("rnnlab: error: ") and str(path) in err and fragment in err
    assert not (tmp_path / "page.html").exists()


def test_an_out_in_a_missing_folder_is_refused(charlm_run, tmp_path, capsys):
    assert main(["report", str(charlm_run), "--out", str(tmp_path / "nowhere" / "page.html")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "nowhere" in err
