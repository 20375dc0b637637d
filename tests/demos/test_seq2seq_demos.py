"""`rnnlab demo addition` and `rnnlab demo g2p`, on budgets of a few seconds (never the real CMUdict in tests)."""

import itertools

from rnnlab.cli import main
from rnnlab.tasks.seq2seq import Seq2Seq

CONSONANTS = {"b": "B", "d": "D", "k": "K", "m": "M", "p": "P", "t": "T", "s": "S"}
VOWELS = {"a": "AE", "e": "EH", "i": "IH", "o": "AA", "u": "AH"}


def write_cmudict_like(path):
    """62 consonant-vowel-consonant words and their ARPAbet phonemes, as CMUdict's split lays them out."""
    words = list(itertools.product(CONSONANTS, VOWELS, CONSONANTS))[::4]
    path.write_text("".join(f"{a}{v}{b}\t{CONSONANTS[a]} {VOWELS[v]} {CONSONANTS[b]}\n" for a, v, b in words))
    return path


def test_addition_demo_trains_scores_the_held_out_sums_and_answers_the_questions(capsys):
    assert main(["demo", "addition", "--examples", "400", "--digits", "2", "--minutes", "0.1", "12+34", "7+0"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("400 training questions, 505 held-out test questions")
    assert lines[1].startswith("validation exact match ") and "test exact match" in lines[1]
    assert "digit error rate" in lines[1]
    assert [line.split()[0] for line in lines[2:]] == ["12+34", "7+0"]
    assert all(line.split()[1] == "=" for line in lines[2:])


def test_g2p_demo_pronounces_words_with_a_trained_run(tmp_path, capsys):
    data, run = write_cmudict_like(tmp_path / "train.tsv"), tmp_path / "run"
    assert main(["seq2seq", "train", "--data", str(data), "--out", str(run), "--target-tokens", "word",
                 "--hidden-size", "16", "--embedding-dim", "8", "--epochs", "3", "--minutes", "none", "--quiet"]) == 0
    plot = tmp_path / "g2p.png"
    capsys.readouterr()
    assert main(["demo", "g2p", "--ckpt", str(run), "--beam", "2", "BAT", "sip", "--plot", str(plot)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1] == f"saved {plot}" and plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    words = ["bat", "sip"]  # lower-cased, as CMUdict's are
    decoded = Seq2Seq.load(run).decode(words, beam=2)
    assert lines[:-1] == [f"{word:16s} {d.text}" for word, d in zip(words, decoded, strict=True)]
    assert all(len(line.split()) > 1 for line in lines[:-1])  # a word, then its phonemes
