"""Bad data files through the command line: one line naming the file and the problem, exit 2, nothing written.

And the good surprises: a byte-order mark and CRLF line ends, a Latin-1 text with --encoding, and
CoNLL-U multiword tokens and empty nodes all train.
"""

import codecs
import gzip
import json
import struct
from pathlib import Path

import pytest

from rnnlab.tasks.charlm import CharLM
from tests.cli.test_grammar import CORRECTED, run, write_conllu, write_names, write_series, write_text

TS_HEADER = "@problemName Tiny\n@univariate true\n@equalLength false\n@classLabel true up down\n@data\n"
CONLLU_ROW = "{}\t{}\t_\tNOUN\tNN\t_\t_\t_\t_\t_"


def idx(code: int, shape: tuple[int, ...], body: bytes) -> bytes:
    return bytes([0, 0, code, len(shape)]) + struct.pack(f">{len(shape)}I", *shape) + body


# The files, by name: bytes to write, or None for a folder (with one file in it).
FILES = {
    "folder": None,
    "empty.txt": b"",
    "bom-only.txt": codecs.BOM_UTF8,
    "binary.txt": bytes(range(256)) * 4,
    "utf16.txt": "the cat sat on the mat\n".encode("utf-16") * 40,
    "latin1.txt": "caf\xe9 cr\xe8me\n".encode("latin-1") * 40,
    "short.txt": b"\xef\xbb\xbfto be\r\n",
    "empty.csv": b"",
    "ragged.csv": b"text,label\nanna,a\nbob\n",
    "classes.txt": b"anna\nbob\n",
    "wrong-header.ts": b"@problemName Tiny\n@dimension 1\n@classLabel true up down\n@data\n1,2:up\n",
    "ragged.ts": b"@dimensions 2\n@classLabel true up down\n@data\n1,2,3:4,5,6:up\n1,2,3:4,5:down\n",
    "no-label.ts": TS_HEADER.encode() + b"1,2,3:up\n4,5,6\n",
    "undeclared.ts": TS_HEADER.encode() + b"1,2,3:up\n4,5,6:sideways\n",
    "not-number.ts": TS_HEADER.encode() + b"1,2,3:up\n4,x,6:down\n",
    "magic-images-idx3-ubyte": b"PK\x03\x04" + bytes(40),
    "magic-labels-idx1-ubyte": idx(0x08, (2,), bytes(2)),
    "cut-images-idx3-ubyte": idx(0x08, (2, 4, 4), bytes(31)),
    "cut-labels-idx1-ubyte": idx(0x08, (2,), bytes(2)),
    "huge-images-idx3-ubyte.gz": gzip.compress(idx(0x08, (1_000_000, 1_000_000, 28), bytes(100))),
    "huge-labels-idx1-ubyte": idx(0x08, (2,), bytes(2)),
    "count-images-idx3-ubyte": idx(0x08, (3, 2, 2), bytes(12)),
    "count-labels-idx1-ubyte": idx(0x08, (2,), bytes(2)),
    "malformed.conllu": (CONLLU_ROW.format(1, "the") + "\n" + "2\tcat\tNOUN\n\n").encode(),
    "bad-id.conllu": (CONLLU_ROW.format(1, "the") + "\n" + CONLLU_ROW.format("two", "cats") + "\n\n").encode(),
    "no-words.conllu": (CONLLU_ROW.format(1, "a") + "\n\n# sent_id = 2\n" + CONLLU_ROW.format("1-2", "ab")
                        + "\n\n").encode(),
    "no-date.csv": b"month,value\n2000-01,1\n2000-02,2\n2000-03,3\n",
    "nan.csv": b"month,value\n2000-01,1\n2000-02,2\n2000-03,NaN\n2000-04,4\n",
    "inf.csv": b"month,value\n2000-01,1\n2000-02,inf\n2000-03,3\n",
    "unsorted.csv": b"month,value\n2000-01,1\n2000-03,3\n2000-02,2\n",
    "duplicate.csv": b"month,value\n2000-01,1\n2000-02,2\n2000-02,3\n",
    "header-only.csv": b"month,value\r\n",
    "no-time-name.csv": b",value\n2000-01,1\n2000-02,2\n",
    "ragged-series.csv": b"month,value\n2000-01,1\n2000-02\n2000-03,3\n",
    "stray-date.csv": b"month,value\n2000-01-01,1\n2000-01-02,2\n2000-01-03,3\n2900-01-01,4\n",
    "nul.csv": b"month,value\n2000-01,1\x00\n2000-02,2\n",
}

# (command, fragments the one error line must contain: the file's name and what is wrong, in the user's terms)
BAD_FILES = [
    ("charlm train --data empty.txt", "empty.txt: empty corpus"),
    ("charlm train --data bom-only.txt", "bom-only.txt: empty corpus"),
    ("charlm train --data binary.txt", "binary.txt: looks binary, not text: byte 0 is NUL"),
    ("charlm train --data utf16.txt", "utf16.txt: looks binary, not text: byte 3 is NUL (0x00); if it is UTF-16"),
    ("charlm train --data latin1.txt", "latin1.txt line 1: byte 3 is not valid UTF-8 (0xe9"),
    ("charlm train --data latin1.txt --encoding klingon", "--encoding"),
    ("charlm train --data folder/a.txt/b.txt", "no such file"),
    ("charlm train --data short.txt", "short.txt: text too short: 6 characters"),
    ("classify train --data empty.csv", "empty.csv: empty file"),
    ("classify train --data ragged.csv", "ragged.csv line 3: expected 2 fields, got 1"),
    ("classify train --data classes.txt", "classes.txt: unknown format"),
    ("classify train --data latin1.txt --encoding utf-42", "--encoding"),
    ("classify train --data wrong-header.ts", "wrong-header.ts line 2: unknown header line '@dimension'"),
    ("classify train --data ragged.ts", "ragged.ts line 5: dimension 2 has 2 values, dimension 1 has 3"),
    ("classify train --data no-label.ts", "no-label.ts line 7: expected 1 dimension(s) and a class label"),
    ("classify train --data undeclared.ts", "undeclared.ts line 7: class label 'sideways' is not one of"),
    ("classify train --data not-number.ts", "not-number.ts line 7: dimension 1: 'x' is not a number"),
    ("classify train --data magic-images-idx3-ubyte", "magic-images-idx3-ubyte: wrong magic number 0x504B0304"),
    ("classify train --data cut-images-idx3-ubyte", "shape (2, 4, 4) of uint8 (32 bytes), but 31 bytes follow"),
    ("classify train --data huge-images-idx3-ubyte.gz", "more than a file of its size can hold"),
    ("classify train --data count-images-idx3-ubyte", "count-images-idx3-ubyte: 3 images, but count-labels"),
    ("tag train --data folder", "folder: is a folder, expected a file"),
    ("tag train --data malformed.conllu", "malformed.conllu line 2: expected 10 tab-separated fields, got 3"),
    ("tag train --data bad-id.conllu", "bad-id.conllu line 2: the ID 'two' is not a word number"),
    ("tag train --data no-words.conllu", "no-words.conllu line 4: a sentence without words"),
    ("tag train --data utf16.txt", "utf16.txt: looks binary"),
    ("forecast train --data folder", "folder: is a folder, expected a file"),
    ("forecast train --data no-date.csv --time-column date", "no-date.csv: no column 'date'"),
    ("forecast train --data nan.csv", "nan.csv: 1 missing value (column 'value': 1, first at lines 4)"),
    ("forecast train --data inf.csv", "inf.csv: line 3 column 'value': 'inf' is not a finite number"),
    ("forecast train --data unsorted.csv", "unsorted.csv: line 4: time 2000-02 comes before 2000-03 on line 3"),
    ("forecast train --data duplicate.csv", "duplicate.csv: line 4: time 2000-02 repeats 2000-02 on line 3"),
    ("forecast train --data header-only.csv", "header-only.csv: only a header line, no data rows"),
    ("forecast train --data no-time-name.csv", "no-time-name.csv: line 1: column 1 of the header has no name"),
    ("forecast train --data ragged-series.csv", "ragged-series.csv: line 3 has 1 fields, the header has 2"),
    ("forecast train --data stray-date.csv --missing interpolate",
     "stray-date.csv: the times span 328720 steps (D) but there are only 4 rows (the largest jump: line 4 to line 5)"),
    ("forecast train --data nul.csv", "nul.csv: looks binary, not text: byte 21 is NUL"),
    ("forecast train --data latin1.txt --encoding rot13", "--encoding"),
]


@pytest.fixture
def bad_files(tmp_path) -> Path:
    folder = tmp_path / "inputs"
    folder.mkdir()
    for name, content in FILES.items():
        if content is None:
            (folder / name).mkdir()
            (folder / name / "a.txt").write_text("a\n")
        else:
            (folder / name).write_bytes(content)
    return folder


@pytest.mark.parametrize(("command", "fragment"), BAD_FILES, ids=[c for c, _ in BAD_FILES])
def test_a_bad_file_exits_2_with_one_line_naming_it_and_writes_nothing(command, fragment, bad_files, tmp_path,
                                                                      capsys):
    before = sorted(tmp_path.rglob("*"))
    task, verb, *rest = command.split()
    argv = [task, verb, *(str(bad_files / word) if (bad_files / word.split("/")[0]).exists() else word
                          for word in rest), "--out", tmp_path / "run"]
    status, out, err = run(argv, capsys)
    assert status == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rnnlab: error:"), err
    assert fragment in lines[0], lines[0]
    assert "Traceback" not in err
    assert sorted(tmp_path.rglob("*")) == before, "the failed command left files behind"


def small(task: str) -> list[str]:
    """The tiny training settings of test_grammar's CORRECTED command for `task` (after --data and --out)."""
    return CORRECTED[task].split()[6:]


def test_a_bom_and_crlf_corpus_trains_a_charlm_without_bom_or_cr_in_its_vocabulary(tmp_path, capsys):
    text = write_text(tmp_path).read_text(encoding="utf-8")
    corpus = tmp_path / "windows.txt"
    corpus.write_bytes(codecs.BOM_UTF8 + text.replace("\n", "\r\n").encode("utf-8"))
    status, _, err = run(["charlm", "train", "--data", corpus, "--out", tmp_path / "run", *small("charlm")], capsys)
    assert status == 0, err
    chars = CharLM.load(tmp_path / "run").vocab_.chars
    assert "\ufeff" not in chars and "\r" not in chars and "\n" in chars
    assert set(chars) == set(text)


def test_a_latin1_corpus_trains_with_encoding_latin1(tmp_path, capsys):
    corpus = tmp_path / "latin1.txt"
    corpus.write_bytes(write_text(tmp_path).read_text(encoding="utf-8").replace("cat", "café").encode("latin-1"))
    argv = ["charlm", "train", "--data", corpus, "--out", tmp_path / "run", *small("charlm")]
    status, _, err = run(argv, capsys)
    assert status == 2 and "byte" in err and "--encoding latin-1" in err
    status, _, err = run([*argv, "--encoding", "latin-1"], capsys)
    assert status == 0, err
    assert "é" in CharLM.load(tmp_path / "run").vocab_.chars


def test_conllu_multiword_tokens_and_empty_nodes_train_a_tagger(tmp_path, capsys):
    sentences = []
    for block in write_conllu(tmp_path).read_text(encoding="utf-8").strip("\n").split("\n\n"):
        comment, *words = block.split("\n")
        multiword = "1-2\t" + "".join(w.split("\t")[1] for w in words[:2]) + "\t_\t_\t_\t_\t_\t_\t_\t_"
        empty_node = "3.1\tsaw\tsee\tVERB\t_\t_\t_\t_\t3:conj\t_"
        sentences.append([comment, multiword, *words[:3], empty_node, *words[3:]])
    data = tmp_path / "enhanced.conllu"  # and a byte-order mark and CRLF line ends
    data.write_bytes(codecs.BOM_UTF8 + "".join("\r\n".join(s) + "\r\n\r\n" for s in sentences).encode())
    status, _, err = run(["tag", "train", "--data", data, "--out", tmp_path / "run", *small("tag")], capsys)
    assert status == 0, err
    status, out, err = run(["tag", "eval", "--ckpt", tmp_path / "run", "--data", data, "--json"], capsys)
    assert status == 0, err
    assert json.loads(out)["tokens"] == 40 * 5  # the multiword-token and empty-node lines are not words


LATIN1_RUNS = {  # a file in Latin-1, the train command for it, the larger budget of its resume
    "classify": (lambda folder: write_names(folder).read_text().replace("text,", "tèxt,"), "--text-column tèxt "
                 "--hidden-size 4 --embedding-dim 4 --epochs 1 --no-nn", ["--epochs", "2"]),
    "tag": (lambda folder: write_conllu(folder).read_text().replace("cat", "café"),
            "--epochs 1 --hidden-size 4 --word-dim 4 --char-dim 4 --char-hidden 4", ["--epochs", "2"]),
    "forecast": (lambda folder: write_series(folder).read_text().replace("value", "valeur é"),
                 "--lookback 12 --horizon 3 --hidden-size 4 --max-steps 10 --eval-every 5", ["--max-steps", "20"]),
}


@pytest.mark.parametrize("task", LATIN1_RUNS)
def test_a_run_trained_with_encoding_resumes_without_it(task, tmp_path, capsys):
    text, settings, budget = LATIN1_RUNS[task]
    data = tmp_path / ("latin1.conllu" if task == "tag" else "latin1.csv")
    data.write_bytes(text(tmp_path).encode("latin-1"))
    out = tmp_path / "run"
    argv = [task, "train", "--data", data, "--out", out, "--encoding", "latin-1", "--quiet", *settings.split()]
    status, _, err = run(argv, capsys)
    assert status == 0, err
    status, _, err = run([task, "train", "--resume", out, *budget, "--quiet"], capsys)  # reads the data as before
    assert status == 0, err
