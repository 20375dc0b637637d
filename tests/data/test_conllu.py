from collections import Counter

import pytest

from rnnlab.data.conllu import read_conllu
from rnnlab.errors import RnnlabError

UPOS = {
    "ADJ", "ADP", "ADV", "AUX", "CCONJ", "DET", "INTJ", "NOUN", "NUM",
    "PART", "PRON", "PROPN", "PUNCT", "SCONJ", "SYM", "VERB", "X",
}  # fmt: skip


def row(word_id, form, upos="NOUN", xpos="NN"):
    return "\t".join([str(word_id), form, form.lower(), upos, xpos, "_", "0", "root", "_", "_"])


def write(tmp_path, *lines, name="tiny.conllu"):
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(("split", "sentences", "tokens"), [("dev", 2001, 25_147), ("test", 2077, 25_094)])
def test_read_conllu_reads_ewt_sentences_and_universal_tags(data_dir, split, sentences, tokens):
    read = read_conllu(data_dir / "pos" / f"en_ewt-ud-{split}.conllu")
    assert len(read) == sentences
    assert sum(len(words) for words, _ in read) == tokens
    assert all(len(words) == len(tags) > 0 for words, tags in read)
    assert {tag for _, tags in read for tag in tags} == UPOS


def test_read_conllu_first_ewt_sentence_has_its_words_and_tags(data_dir):
    path = data_dir / "pos" / "en_ewt-ud-dev.conllu"
    words, tags = read_conllu(path)[0]
    assert words == ["From", "the", "AP", "comes", "this", "story", ":"]
    assert tags == ["ADP", "DET", "PROPN", "VERB", "DET", "NOUN", "PUNCT"]
    assert read_conllu(path, column="xpos")[0][1] == ["IN", "DT", "NNP", "VBZ", "DT", "NN", ":"]


def test_read_conllu_xpos_gives_penn_treebank_tags(data_dir):
    read = read_conllu(data_dir / "pos" / "en_ewt-ud-dev.conllu", column="xpos")
    counts = Counter(tag for _, tags in read for tag in tags)
    assert {"NN", "NNP", "VBZ", "DT", "IN"} <= set(counts)
    assert sum(counts.values()) == 25_147


def test_read_conllu_skips_comments_multiword_tokens_and_empty_nodes(tmp_path):
    path = write(
        tmp_path,
        "# sent_id = 1",
        "# text = I don't know",
        row(1, "I", "PRON"),
        "2-3\tdon't\t_\t_\t_\t_\t_\t_\t_\t_",
        row(2, "do", "AUX"),
        row(3, "n't", "PART"),
        row(4, "know", "VERB"),
        "4.1\tknow\tknow\tVERB\tVB\t_\t_\t_\t_\t_",
        "",
        row(1, "Süß", "ADJ"),
        row(2, "你好", "INTJ"),
        row(3, "😀", "SYM"),
    )  # the last sentence has no closing blank line
    assert read_conllu(path) == [
        (["I", "do", "n't", "know"], ["PRON", "AUX", "PART", "VERB"]),
        (["Süß", "你好", "😀"], ["ADJ", "INTJ", "SYM"]),
    ]


def test_read_conllu_accepts_crlf_line_endings_and_extra_blank_lines(tmp_path):
    path = tmp_path / "crlf.conllu"
    path.write_bytes(("\r\n".join(["", row(1, "Hi"), "", "", row(1, "Yo"), ""]) + "\r\n").encode())
    assert read_conllu(path) == [(["Hi"], ["NOUN"]), (["Yo"], ["NOUN"])]


def test_read_conllu_names_file_and_line_of_a_wrong_column_count(tmp_path):
    path = write(tmp_path, "# text = a b", row(1, "a"), "2\tb\tb\tNOUN", "", name="bad.conllu")
    with pytest.raises(RnnlabError, match=r"bad\.conllu line 3: expected 10 tab-separated fields, got 4"):
        read_conllu(path)


def test_read_conllu_names_the_line_of_an_out_of_sequence_word_id(tmp_path):
    path = write(tmp_path, row(1, "a"), row(3, "b"), name="gap.conllu")
    with pytest.raises(RnnlabError, match=r"gap\.conllu line 2: expected word ID 2, got '3'"):
        read_conllu(path)


def test_read_conllu_refuses_an_unknown_column_and_an_empty_file(tmp_path):
    path = write(tmp_path, "# only a comment")
    with pytest.raises(RnnlabError, match="column must be one of .*got 'lemma'"):
        read_conllu(path, column="lemma")
    with pytest.raises(RnnlabError, match=r"tiny\.conllu: no sentences"):
        read_conllu(path)


def test_read_conllu_names_a_file_that_is_not_utf8(tmp_path):
    path = tmp_path / "latin.conllu"
    path.write_bytes(row(1, "café").encode("latin-1"))
    with pytest.raises(RnnlabError, match=r"latin\.conllu line 1: byte 5 is not valid UTF-8 \(0xe9"):
        read_conllu(path)


def test_read_conllu_names_the_line_of_an_empty_word_form(tmp_path):
    path = write(tmp_path, row(1, "a"), "2\t\tb\tNOUN\tNN\t_\t0\troot\t_\t_", name="empty.conllu")
    with pytest.raises(RnnlabError, match=r"empty\.conllu line 2: empty word form or upos tag"):
        read_conllu(path)


def test_read_conllu_skips_multiword_tokens_and_empty_nodes_and_accepts_a_bom_and_crlf(tmp_path):
    lines = ["# text = Don't", "1-2\tDon't\t_\t_\t_\t_\t_\t_\t_\t_", row(1, "Do", "AUX"), row(2, "n't", "PART"),
             "2.1\tgo\tgo\tVERB\t_\t_\t_\t_\t0:root\t_", row(3, "go", "VERB"), "", "0.1\tx\tx\tX\t_\t_\t_\t_\t_\t_",
             row(1, "Yes", "INTJ")]
    path = tmp_path / "enhanced.conllu"
    path.write_bytes(b"\xef\xbb\xbf" + "\r\n".join(lines).encode() + b"\r\n")
    assert read_conllu(path) == [(["Do", "n't", "go"], ["AUX", "PART", "VERB"]), (["Yes"], ["INTJ"])]


@pytest.mark.parametrize("word_id", ["x", "1-", "-1", "1.", "1.x", "01", "1-2-3", "٣", "2 "])
def test_read_conllu_refuses_an_id_that_is_no_word_range_or_empty_node(tmp_path, word_id):
    path = write(tmp_path, row(1, "a"), row(word_id, "b"), name="ids.conllu")
    with pytest.raises(RnnlabError, match=r"ids\.conllu line 2: the ID .* is not a word number"):
        read_conllu(path)


def test_read_conllu_refuses_a_sentence_without_words(tmp_path):
    path = write(tmp_path, row(1, "a"), "", "# sent_id = 2", "2-3\tab\t_\t_\t_\t_\t_\t_\t_\t_", "",
                 row(1, "b"), name="hollow.conllu")
    with pytest.raises(RnnlabError, match=r"hollow\.conllu line 4: a sentence without words"):
        read_conllu(path)
