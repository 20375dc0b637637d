import json
import random
import re
from html.parser import HTMLParser

import numpy as np
import pytest

from rnnlab.cli import main
from rnnlab.diagnostics.neurons import end_of_word, features, in_brackets, in_quotes, line_position, search

TINY = ["--max-steps", "30", "--eval-every", "15", "--hidden-size", "16", "--num-layers", "1", "--embedding-dim", "8",
        "--seq-len", "16", "--batch-size", "4", "--sample-every", "0", "--quiet"]


def test_line_position_counts_characters_since_the_last_newline():
    assert line_position("ab\ncd\n\ne").tolist() == [0, 1, 2, 0, 1, 2, 0, 0]


def test_quotes_open_and_close_in_pairs_and_apostrophes_do_not_count():
    assert in_quotes("a'b'c").tolist() == [0, 0, 0, 0, 0]  # two apostrophes between letters
    assert in_quotes("x 'y' \"z\"").tolist() == [0, 0, 1, 1, 0, 0, 1, 1, 0]
    assert in_quotes("\"it's\"").tolist() == [1, 1, 1, 1, 1, 0]  # a single quote inside double quotes


def test_brackets_count_depth_and_ignore_a_stray_closing_bracket():
    assert in_brackets(")a(b[c])d").tolist() == [0, 0, 1, 1, 1, 1, 1, 0, 0]


def test_simple_features_per_character():
    table = features("Ab e.\n")
    assert table["whitespace"].tolist() == [0, 0, 1, 0, 0, 1]
    assert table["uppercase"].tolist() == [1, 0, 0, 0, 0, 0]
    assert table["vowel"].tolist() == [1, 0, 0, 1, 0, 0]
    assert end_of_word("Ab e.\n").tolist() == [0, 1, 0, 1, 0, 0]
    assert end_of_word("to be").tolist() == [0, 1, 0, 0, 1]


def test_search_finds_a_planted_line_position_unit_on_held_out_text():
    rng = np.random.default_rng(0)
    letters = random.Random(0)
    chars = "".join(letters.choice("abc de\n") for _ in range(5000))
    table = features(chars)
    acts = rng.normal(size=(len(chars), 40)).astype(np.float32)
    position = table["line_position"]
    acts[:, 17] = position / position.std() + 0.3 * rng.normal(size=len(chars))
    found = search(acts, table, selection=0.6, top=3)["line_position"]
    assert found["units"][0] == 17
    assert found["r_held_out"][0] > 0.9
    assert max(abs(r) for r in found["r_held_out"][1:]) < 0.2  # the others are noise


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("neurons")
    rng = random.Random(0)
    words = "the king and queen said (my lord) to \"Romeo\" THEN we go".split()
    lines = [" ".join(rng.choice(words) for _ in range(rng.randint(2, 9))) for _ in range(400)]
    corpus = folder / "text.txt"
    corpus.write_text("\n".join(lines) + "\n" + "<script>alert(1)</script> the king\n" * 10, encoding="utf-8")
    assert main(["charlm", "train", "--data", str(corpus), "--out", str(folder / "run"), *TINY]) == 0
    return folder / "run"


class Spans(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.blocks, self.depth, self.tags = [], 0, []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag == "div" and ("class", "activations") in attrs:
            self.blocks.append([])
        elif tag == "span" and self.blocks:
            self.blocks[-1].append("")

    def handle_data(self, data):
        if self.blocks and self.tags and self.tags[-1] == "span":
            self.blocks[-1][-1] += data

    def handle_endtag(self, tag):
        self.tags.pop()


def test_page_colours_each_shown_character_and_escapes_the_corpus(run_folder, capsys):
    assert main(["charlm", "neurons", "--ckpt", str(run_folder), "--top", "2", "--cell", "3"]) == 0
    assert "line_position" in capsys.readouterr().out
    page = (run_folder / "neurons.html").read_text(encoding="utf-8")
    parser = Spans()
    parser.feed(page)
    assert len(parser.blocks) == 1 + 2 * 7  # the chosen unit, then the top 2 of each of 7 features
    shown = "".join(parser.blocks[0])
    assert all(len(char) == 1 for char in parser.blocks[0])  # one span per character
    assert all("".join(block) == shown for block in parser.blocks)
    assert "<script>alert(1)</script>" in shown  # the corpus text, read back unescaped by the parser
    assert "&lt;</span>" in page and "<script" not in page  # each character escaped in its own span
    assert not re.search(r"https?://", page)


def test_json_ranking(run_folder, tmp_path, capsys):
    target = tmp_path / "ranking.json"
    page = tmp_path / "page.html"
    assert main(["charlm", "neurons", "--ckpt", str(run_folder), "--out", str(page), "--json", str(target)]) == 0
    document = json.loads(target.read_text())
    assert (document["task"], document["command"], document["ckpt"]) == ("charlm", "neurons", str(run_folder))
    assert set(document["features"]) == {"line_position", "in_quotes", "in_brackets", "whitespace", "uppercase",
                                         "vowel", "end_of_word"}
    for row in document["features"].values():
        assert {"unit", "r_selection", "r_held_out", "control_r_held_out"} <= set(row)
    assert page.is_file()


def test_a_unit_out_of_range_is_refused(run_folder, capsys):
    assert main(["charlm", "neurons", "--ckpt", str(run_folder), "--cell", "32"]) == 2
    assert "--cell" in capsys.readouterr().err
