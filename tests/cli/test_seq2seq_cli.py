"""`rnnlab seq2seq train|eval|predict` and `rnnlab report` on a tiny run, in this process."""

import json
from pathlib import Path

import pytest

from rnnlab.cli import main
from rnnlab.tasks.seq2seq import Seq2Seq
from tests.cli.test_grammar import run, write_pairs
from tests.diagnostics.test_report import check_page, parse, png_size

PNG = b"\x89PNG\r\n\x1a\n"
SOURCES = ["abc", "ba", "edcb"]
TRAIN_ARGS = ["--hidden-size", "16", "--embedding-dim", "8", "--epochs", "3", "--batch-size", "8",
              "--minutes", "none", "--quiet"]  # no time budget: the run is the same on any machine


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, Path]:
    """(run folder, training pairs) of a 3-epoch run on the reversal pairs."""
    folder = tmp_path_factory.mktemp("seq2seq")
    data = write_pairs(folder)
    assert main(["seq2seq", "train", "--data", str(data), "--out", str(folder / "run"), *TRAIN_ARGS]) == 0
    return folder / "run", data


def test_train_leaves_a_checkpoint_a_log_line_per_epoch_and_the_attention_picture(trained):
    run_dir, _ = trained
    assert (run_dir / "best.json").is_file() and (run_dir / "latest.json").is_file()
    assert len((run_dir / "log.jsonl").read_text().splitlines()) == 3
    width, height = png_size((run_dir / "attention.png").read_bytes())
    assert width > 0 and height > 0


def test_predict_prints_a_line_per_source_and_plots_the_alignments(trained, tmp_path, capsys):
    run_dir, _ = trained
    plot = tmp_path / "alignments.png"
    status, out, err = run(["seq2seq", "predict", "--ckpt", run_dir, *SOURCES, "--plot", plot], capsys)
    assert status == 0, err
    lines = out.splitlines()
    assert len(lines) == len(SOURCES) + 1 and lines[-1] == f"saved {plot}"
    outputs = Seq2Seq.load(run_dir).predict(SOURCES)  # the command says what the library says
    assert lines[:-1] == [f"{source}\t{output}" for source, output in zip(SOURCES, outputs, strict=True)]
    assert plot.read_bytes()[:8] == PNG


def test_predict_json_has_one_prediction_per_source(trained, capsys):
    run_dir, _ = trained
    status, out, err = run(["seq2seq", "predict", "--ckpt", run_dir, *SOURCES, "--beam", "3", "--json"], capsys)
    assert status == 0, err
    document = json.loads(out)  # the document alone on stdout
    assert document["command"] == "predict" and document["beam"] == 3
    predictions = document["predictions"]
    assert [p["source"] for p in predictions] == SOURCES
    for p in predictions:
        assert {"source", "output", "score"} <= set(p) and isinstance(p["output"], str)
        assert p["score"] <= 0  # a log-probability, normalised by length


def test_predict_reads_sources_from_a_file(trained, tmp_path, capsys):
    run_dir, _ = trained
    path = tmp_path / "sources.txt"
    path.write_bytes(b"abc\r\n\r\n ba \r\nedcb")  # CRLF, a blank line, surrounding spaces
    status, out, err = run(["seq2seq", "predict", "--ckpt", run_dir, "--data", path], capsys)
    assert status == 0, err
    assert [line.split("\t")[0] for line in out.splitlines()] == SOURCES


def test_eval_with_a_beam_of_3_writes_its_json(trained, tmp_path, capsys):
    run_dir, data = trained
    path = tmp_path / "eval.json"
    status, out, err = run(["seq2seq", "eval", "--ckpt", run_dir, "--data", data, "--beam", "3", "--json", path],
                           capsys)
    assert status == 0, err
    assert "beam 3" in out and "exact match" in out  # the text stays on stdout when the JSON goes to a file
    document = json.loads(path.read_text())
    assert document["beam"] == 3 and document["sequences"] == 60 and 0 <= document["exact_match"] <= 1
    assert sum(row["sequences"] for row in document["by_length"]) == 60


def test_eval_reads_a_csv_file_of_pairs(trained, tmp_path, capsys):
    run_dir, data = trained
    path = tmp_path / "pairs.csv"
    path.write_text("source,target\n" + "".join(line.replace("\t", ",") + "\n"
                                                for line in data.read_text().splitlines()[:10]))
    status, out, err = run(["seq2seq", "eval", "--ckpt", run_dir, "--data", path, "--json"], capsys)
    assert status == 0, err
    assert json.loads(out)["sequences"] == 10


def test_the_report_shows_the_attention_picture(trained, tmp_path, capsys):
    run_dir, _ = trained
    page = tmp_path / "report.html"
    status, _, err = run(["report", run_dir, "--out", page], capsys)
    assert status == 0, err
    check_page(page)
    assert "attention.png" in [attrs.get("alt") for tag, attrs in parse(page).tags if tag == "img"]
