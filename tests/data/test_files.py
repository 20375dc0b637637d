import codecs

import pytest

from rnnlab.data.files import check_file, read_text_file, text_encoding
from rnnlab.data.text import iter_text_chunks, read_text
from rnnlab.errors import InvalidArgument, RnnlabError


def write(path, data: bytes):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("chunk_chars", [1, 2, 3, 5, 1 << 20])
def test_a_bom_is_dropped_and_crlf_and_cr_become_lf_whatever_the_chunk_size(tmp_path, chunk_chars):
    path = write(tmp_path / "windows.txt", codecs.BOM_UTF8 + "ab\r\ncé\rd\r\n\r\n\ufeffe\r".encode())
    chunks = list(iter_text_chunks(path, chunk_chars=chunk_chars))
    assert "".join(chunks) == "ab\ncé\nd\n\n\ufeffe\n"  # only the leading BOM is a byte-order mark
    assert all(len(chunk) <= chunk_chars for chunk in chunks)


def test_each_file_of_a_folder_loses_its_own_bom(tmp_path):
    write(tmp_path / "a.txt", codecs.BOM_UTF8 + b"one\r")
    write(tmp_path / "b.txt", codecs.BOM_UTF8 + b"\ntwo")
    assert read_text(tmp_path) == "one\n\ntwo"  # a CR ending one file and an LF starting the next: two lines


def test_a_bad_byte_is_reported_with_its_offset_and_line_in_the_file_across_reads(tmp_path):
    path = write(tmp_path / "long.txt", b"line\n" * 300 + b"caf\xe9\n")
    for chunk_chars in (1, 7, 64, 1 << 20):
        with pytest.raises(RnnlabError, match=r"long\.txt line 301: byte 1503 is not valid UTF-8 \(0xe9, "):
            list(iter_text_chunks(path, chunk_chars=chunk_chars))


def test_text_encoding_decodes_latin1_and_utf16_and_restores_utf8_after(tmp_path):
    latin = write(tmp_path / "latin.txt", "café\r\n".encode("latin-1"))
    utf16 = write(tmp_path / "utf16.txt", "naïve\r\nfin".encode("utf-16"))
    with text_encoding("latin-1"):
        assert read_text_file(latin) == "café\n"
    with text_encoding("utf-16"):
        assert read_text_file(utf16) == "naïve\nfin"
    with pytest.raises(RnnlabError, match=r"latin\.txt line 1: byte 3 is not valid UTF-8"):
        read_text_file(latin)
    with text_encoding("cp1252"), pytest.raises(RnnlabError, match=r"byte 1 is not valid cp1252 \(0x81"):
        read_text_file(write(tmp_path / "cp.txt", b"a\x81"))


@pytest.mark.parametrize("name", ["klingon", "rot13", "base64", "", "utf\0"])
def test_text_encoding_refuses_names_that_are_not_text_encodings(name):
    with pytest.raises(InvalidArgument, match="argument `encoding`, expected a text encoding"):
        text_encoding(name)


def test_binary_and_utf16_read_as_utf8_look_binary(tmp_path):
    path = write(tmp_path / "image.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    with pytest.raises(RnnlabError, match=r"image\.png: looks binary, not text: byte 8 is NUL \(0x00\)"):
        read_text_file(path)
    path = write(tmp_path / "words.txt", "words".encode("utf-16-le"))
    with pytest.raises(RnnlabError, match="if it is UTF-16 text, pass --encoding utf-16"):
        read_text_file(path)


def test_utf16_without_a_bom_needs_its_byte_order(tmp_path):
    path = write(tmp_path / "le.txt", "plain".encode("utf-16-le"))
    with text_encoding("utf-16"), pytest.raises(RnnlabError, match=r"le\.txt: not valid utf-16 text"):
        read_text_file(path)
    with text_encoding("utf-16-le"):
        assert read_text_file(path) == "plain"


def test_missing_folder_empty_and_bom_only_files_are_said_so(tmp_path):
    with pytest.raises(RnnlabError, match=r"gone\.txt: no such file"):
        read_text_file(tmp_path / "gone.txt")
    with pytest.raises(RnnlabError, match="is a folder, expected a file"):
        check_file(tmp_path)
    for name, data in (("empty.txt", b""), ("bom.txt", codecs.BOM_UTF8)):
        with pytest.raises(RnnlabError, match=rf"{name}: empty file \(no text\)"):
            read_text_file(write(tmp_path / name, data))
