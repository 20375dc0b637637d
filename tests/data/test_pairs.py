
import pytest

from rnnlab.data.files import text_encoding
from rnnlab.data.pairs import read_pairs
from rnnlab.errors import InvalidArgument, RnnlabError


def write(tmp_path, name: str, data: str | bytes):
    path = tmp_path / name
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8", newline="")
    else:
        path.write_bytes(data)
    return path


def refused(path, match: str, **kwargs) -> str:
    """The message read_pairs refuses `path` with: one line, naming the file and matching `match`."""
    with pytest.raises(RnnlabError, match=match) as error:
        read_pairs(path, **kwargs)
    message = str(error.value)
    assert "\n" not in message and "\r" not in message
    assert str(path) in message
    return message


def test_read_pairs_reads_cmudict_train(data_dir):
    pairs = read_pairs(data_dir / "cmudict" / "train.tsv")
    assert len(pairs) == 121_335
    assert pairs[0] == ("'bout", "B AW T")
    assert all(source and target and source == source.strip() and target == target.strip()
               for source, target in pairs)


def test_tsv_pairs_are_stripped_keep_inner_spaces_and_skip_blank_lines(tmp_path):
    path = write(tmp_path, "g2p.txt", "\n  cat\t K AE T \n \t \n\nnew york\tN UW  Y AO R K\n")
    assert read_pairs(path) == [("cat", "K AE T"), ("new york", "N UW  Y AO R K")]


def test_any_suffix_but_csv_is_read_as_tsv(tmp_path):
    for name in ("pairs.tsv", "pairs", "pairs.csv.txt"):
        assert read_pairs(write(tmp_path, name, "a,b\tc,d\n")) == [("a,b", "c,d")]


def test_csv_pairs_with_a_header(tmp_path):
    path = write(tmp_path, "pairs.CSV", ' Source , TARGET \n"hello, world",bonjour le monde\n\nyes, oui\n')
    assert read_pairs(path) == [("hello, world", "bonjour le monde"), ("yes", "oui")]


def test_csv_pairs_without_a_header_and_a_header_only_first(tmp_path):
    path = write(tmp_path, "pairs.csv", "one,un\nsource,target\n")
    assert read_pairs(path) == [("one", "un"), ("source", "target")]


def test_crlf_and_a_byte_order_mark_are_accepted(tmp_path):
    tsv = write(tmp_path, "bom.tsv", "\ufeffcafé\tK AE F EY\r\ndog\tD AO G\r\n".encode())
    assert read_pairs(tsv) == [("café", "K AE F EY"), ("dog", "D AO G")]
    csv = write(tmp_path, "bom.csv", "\ufeffsource,target\r\ncafé,coffee\r\n".encode())
    assert read_pairs(csv) == [("café", "coffee")]


def test_latin1_is_read_under_text_encoding_and_refused_as_utf8(tmp_path):
    path = write(tmp_path, "latin.tsv", "dog\tchien\ncafé\tcafé\n".encode("latin-1"))
    with text_encoding("latin-1"):
        assert read_pairs(path) == [("dog", "chien"), ("café", "café")]
    refused(path, r"latin\.tsv line 2: byte 13 is not valid UTF-8")


@pytest.mark.parametrize("name, text, match", [
    ("no-tab.tsv", "cat\tK AE T\ndog D AO G\n", r"line 2: expected 2 tab-separated fields \(source, target\), "
                                                r"found 1 \(no tab\): 'dog D AO G'"),
    ("three.tsv", "\ncat\tK AE T\tX\n", r"line 2: expected 2 tab-separated fields \(source, target\), found 3"),
    ("no-source.tsv", "cat\tK AE T\n  \tD AO G\n", r"line 2: empty source before the tab"),
    ("no-target.tsv", "cat\t \n", r"line 1: empty target after the tab"),
    ("three.csv", "source,target\na,b\n\na,b,c\n", r"line 4: expected 2 comma-separated fields \(source, target\), "
                                                   r"found 3"),
    ("one.csv", "a,b\nlonely\n", r"line 2: expected 2 comma-separated fields \(source, target\), found 1"),
    ("no-source.csv", 'a,b\n" ",b\n', r"line 2: empty source \(first field\)"),
    ("no-target.csv", "a,\n", r"line 1: empty target \(second field\)"),
    ("multiline.csv", 'a,b\n"two\nlines",c\nd,e\n', r"line 2: a quoted field runs onto the next line"),
])
def test_a_bad_line_is_refused_with_the_file_and_line_number(tmp_path, name, text, match):
    refused(write(tmp_path, name, text), match)


def test_a_file_without_pairs_is_refused(tmp_path):
    refused(write(tmp_path, "blank.tsv", "\n  \n\t\n"), r"blank\.tsv: no \(source, target\) pairs")
    refused(write(tmp_path, "header.csv", "source,target\n\n"), r"header\.csv: no .*pairs.* or the header")
    refused(write(tmp_path, "empty.tsv", ""), r"empty\.tsv: empty file")
    refused(tmp_path / "missing.tsv", r"missing\.tsv: no such file")


def test_fewer_pairs_than_needed_is_refused_saying_how_many_are_needed(tmp_path):
    path = write(tmp_path, "one.tsv", "cat\tK AE T\n")
    assert read_pairs(path, min_pairs=1) == [("cat", "K AE T")]
    message = refused(path, r"one\.tsv: 1 pair, but at least 2 are needed", min_pairs=2)
    assert "validation" in message
    with pytest.raises(InvalidArgument, match="min_pairs"):
        read_pairs(path, min_pairs=0)
