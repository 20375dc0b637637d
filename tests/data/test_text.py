import json
import os
import tracemalloc

import numpy as np
import pytest

from rnnlab.data.text import CharVocab, Corpus, encode_corpus, iter_text_chunks, open_ids, read_text, write_ids
from rnnlab.errors import RnnlabError

MIXED = "Hello, wörld! 你好，世界。 café naïve 😀🎉 Ωμέγα\n"


@pytest.fixture
def shakespeare(data_dir):
    return data_dir / "tinyshakespeare" / "input.txt"


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode("utf-8"))
    return path


# read_text and iter_text_chunks


def test_read_text_reads_tiny_shakespeare_whole(shakespeare):
    text = read_text(shakespeare)
    assert len(text) == 1_115_394
    assert text.count("\n") == 40_000
    assert len(set(text)) == 65


def test_read_text_round_trips_chinese_accents_and_emoji(tmp_path):
    assert read_text(write(tmp_path / "mixed.txt", MIXED)) == MIXED


def test_read_text_concatenates_folder_files_sorted_recursively_skipping_hidden(tmp_path):
    write(tmp_path / "b.txt", "B")
    write(tmp_path / "a.txt", "A")
    write(tmp_path / "sub" / "c.txt", "C")
    write(tmp_path / ".hidden.txt", "H")
    write(tmp_path / ".git" / "d.txt", "D")
    assert read_text(tmp_path) == "ABC"


def test_read_text_names_file_and_byte_offset_of_invalid_utf8(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes("abc café".encode("latin-1"))
    message = r"latin1\.txt line 1: byte 7 is not valid UTF-8 \(0xe9, .*\); pass --encoding latin-1"
    with pytest.raises(RnnlabError, match=message):
        read_text(path)


def test_read_text_refuses_missing_path(tmp_path):
    with pytest.raises(RnnlabError, match="nothere.txt: no such file"):
        read_text(tmp_path / "nothere.txt")


def test_read_text_refuses_empty_file_and_folder_of_empty_files(tmp_path):
    write(tmp_path / "empty.txt", "")
    with pytest.raises(RnnlabError, match="empty.txt: empty corpus"):
        read_text(tmp_path / "empty.txt")
    with pytest.raises(RnnlabError, match="empty corpus"):
        read_text(tmp_path)


def test_read_text_refuses_folder_without_visible_files(tmp_path):
    write(tmp_path / ".hidden", "text")
    with pytest.raises(RnnlabError, match="no files in this folder"):
        read_text(tmp_path)


def test_iter_text_chunks_joins_to_the_same_text_as_read_text(shakespeare):
    chunks = list(iter_text_chunks(shakespeare, chunk_chars=100_000))
    assert len(chunks) == 12
    assert max(len(chunk) for chunk in chunks) <= 100_000
    assert "".join(chunks) == read_text(shakespeare)


@pytest.mark.parametrize("chunk_chars", [1, 2, 3, 5, 7])
def test_iter_text_chunks_keeps_multibyte_characters_split_across_reads(tmp_path, chunk_chars):
    path = write(tmp_path / "mixed.txt", MIXED * 3)
    chunks = list(iter_text_chunks(path, chunk_chars=chunk_chars))
    assert "".join(chunks) == MIXED * 3
    assert all(chunks) and all(len(chunk) <= chunk_chars for chunk in chunks)


def test_iter_text_chunks_reports_the_same_byte_offset_whatever_the_chunk_size(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_bytes("你好".encode() + b"\xff" + b"tail")
    for chunk_chars in (1, 2, 4, 1 << 20):
        with pytest.raises(RnnlabError, match="bad.txt line 1: byte 6 is not valid UTF-8"):
            list(iter_text_chunks(path, chunk_chars=chunk_chars))


def test_iter_text_chunks_refuses_a_file_ending_inside_a_character(tmp_path):
    path = tmp_path / "cut.txt"
    path.write_bytes("ab😀".encode()[:-1])
    with pytest.raises(RnnlabError, match="cut.txt line 1: byte 2 is not valid UTF-8"):
        list(iter_text_chunks(path, chunk_chars=2))


def test_iter_text_chunks_checks_path_and_chunk_size_when_called(tmp_path):
    with pytest.raises(RnnlabError, match="no such file"):
        iter_text_chunks(tmp_path / "missing.txt")
    with pytest.raises(RnnlabError, match="chunk_chars must be a positive integer, got 0"):
        iter_text_chunks(write(tmp_path / "a.txt", "a"), chunk_chars=0)


# CharVocab


def test_char_vocab_of_shakespeare_has_65_sorted_characters_in_uint8(shakespeare):
    vocab = CharVocab.from_chunks(iter_text_chunks(shakespeare, chunk_chars=1 << 16))
    assert len(vocab) == 65
    assert vocab.chars == sorted(vocab.chars)
    assert vocab.chars[:2] == ["\n", " "]
    assert vocab.dtype == np.uint8
    assert vocab == CharVocab.from_text(read_text(shakespeare))


def test_char_vocab_round_trips_chinese_accents_and_emoji():
    vocab = CharVocab.from_text(MIXED)
    ids = vocab.encode(MIXED)
    assert ids.shape == (len(MIXED),)
    assert ids.dtype == vocab.dtype == np.uint8
    assert vocab.decode(ids) == MIXED
    assert vocab.decode(ids.tolist()) == MIXED


def test_char_vocab_counts_code_points_not_bytes():
    vocab = CharVocab.from_text("é😀")
    assert vocab.chars == ["é", "😀"]
    assert vocab.encode("😀é").tolist() == [1, 0]


@pytest.mark.parametrize(("size", "dtype"), [(256, np.uint8), (257, np.uint16), (65_536, np.uint16)])
def test_char_vocab_uses_smallest_unsigned_dtype_holding_its_ids(size, dtype):
    vocab = CharVocab(chr(0x4E00 + i) for i in range(size))
    assert vocab.dtype == dtype
    assert int(vocab.encode(chr(0x4E00 + size - 1))[0]) == size - 1


def test_char_vocab_above_65536_characters_uses_uint32():
    chars = [chr(i) for i in range(0x20000, 0x20000 + 65_537)]
    vocab = CharVocab(chars)
    assert vocab.dtype == np.uint32
    assert vocab.decode(vocab.encode(chars[-1] + chars[0])) == chars[-1] + chars[0]


def test_char_vocab_encode_names_the_first_unknown_characters_in_order():
    vocab = CharVocab.from_text("abc")
    with pytest.raises(RnnlabError, match="characters not in the vocabulary: 'é', '😀'$"):
        vocab.encode("abé😀aé")


def test_char_vocab_decode_refuses_out_of_range_and_non_integer_ids():
    vocab = CharVocab.from_text("abc")
    with pytest.raises(RnnlabError, match="id 3 out of range"):
        vocab.decode([0, 3])
    with pytest.raises(RnnlabError, match="integer ids"):
        vocab.decode(np.array([0.0, 1.0]))
    assert vocab.decode([]) == ""
    assert vocab.decode(np.uint8(2)) == "c"


def test_char_vocab_json_round_trip_keeps_ids(tmp_path):
    vocab = CharVocab.from_text(MIXED)
    saved = tmp_path / "vocab.json"
    saved.write_text(json.dumps(vocab.to_json()), encoding="utf-8")
    loaded = CharVocab.from_json(json.loads(saved.read_text(encoding="utf-8")))
    assert loaded == vocab
    assert loaded.encode(MIXED).tolist() == vocab.encode(MIXED).tolist()


def test_char_vocab_from_json_refuses_unsorted_duplicate_or_multichar_entries():
    with pytest.raises(RnnlabError, match="sorted"):
        CharVocab.from_json(["b", "a"])
    with pytest.raises(RnnlabError, match="sorted"):
        CharVocab.from_json(["a", "a"])
    with pytest.raises(RnnlabError, match="single character, got 'ab'"):
        CharVocab.from_json(["ab"])
    with pytest.raises(RnnlabError, match="at least one character"):
        CharVocab.from_json([])


def test_char_vocab_chars_is_a_copy():
    vocab = CharVocab.from_text("ab")
    vocab.chars.append("z")
    assert len(vocab) == 2


# encode_corpus and open_ids


def test_encode_corpus_writes_the_ids_of_tiny_shakespeare(shakespeare, tmp_path):
    text = read_text(shakespeare)
    vocab = CharVocab.from_text(text)
    ids = encode_corpus(shakespeare, vocab, tmp_path / "ids.bin", chunk_chars=1 << 16)
    assert isinstance(ids, np.memmap)
    assert ids.dtype == np.uint8 and ids.shape == (1_115_394,)
    assert not ids.flags.writeable
    np.testing.assert_array_equal(ids, vocab.encode(text))
    assert (tmp_path / "ids.bin").stat().st_size == 1_115_394
    np.testing.assert_array_equal(open_ids(tmp_path / "ids.bin", vocab.dtype), ids)
    assert [p.name for p in tmp_path.iterdir()] == ["ids.bin"]  # no temporary file left


def test_encode_corpus_handles_multibyte_characters_across_chunks(tmp_path):
    corpus = write(tmp_path / "corpus" / "mixed.txt", MIXED * 50)
    vocab = CharVocab.from_text(MIXED)
    ids = encode_corpus(corpus, vocab, tmp_path / "ids.bin", chunk_chars=3)
    assert vocab.decode(ids) == MIXED * 50


def test_encode_corpus_memory_does_not_grow_with_corpus_size(tmp_path):
    line = "to be or not to be, 你好 😀\n"
    vocab = CharVocab.from_text(line)
    peaks = []
    for repeats in (20_000, 160_000):  # about 0.6 MB and 4.8 MB of UTF-8
        corpus = write(tmp_path / f"corpus{repeats}.txt", line * repeats)
        tracemalloc.start()
        ids = encode_corpus(corpus, vocab, tmp_path / f"ids{repeats}.bin", chunk_chars=1 << 15)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
        assert ids.shape == (len(line) * repeats,)
        del ids
    assert peaks[1] < 1.5 * peaks[0] + (1 << 16)
    assert peaks[1] < 2_000_000


def test_encode_corpus_names_the_file_with_unknown_characters_and_leaves_nothing(tmp_path):
    corpus = tmp_path / "corpus"
    write(corpus / "a.txt", "abc")
    write(corpus / "b.txt", "abé")
    out = tmp_path / "ids.bin"
    with pytest.raises(RnnlabError, match=r"b\.txt: characters not in the vocabulary: 'é'"):
        encode_corpus(corpus, CharVocab.from_text("abc"), out)
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corpus"]


def test_encode_corpus_refuses_an_unwritable_destination(tmp_path):
    corpus = write(tmp_path / "a.txt", "abc")
    with pytest.raises(RnnlabError, match="cannot write"):
        encode_corpus(corpus, CharVocab.from_text("abc"), tmp_path / "no" / "such" / "ids.bin")


def test_open_ids_refuses_a_size_that_does_not_fit_the_dtype(tmp_path):
    path = tmp_path / "ids.bin"
    path.write_bytes(b"\x00\x01\x02")
    assert open_ids(path, np.uint8).tolist() == [0, 1, 2]
    with pytest.raises(RnnlabError, match=r"ids\.bin: size 3 bytes is not a multiple of 2"):
        open_ids(path, np.uint16)
    with pytest.raises(RnnlabError, match="no such file"):
        open_ids(tmp_path / "missing.bin", np.uint8)


# Corpus and write_ids
def test_corpus_scan_gives_the_vocabulary_and_length_and_encodes_alike_in_memory_and_on_disk(tmp_path):
    write(tmp_path / "texts" / "a.txt", MIXED)
    write(tmp_path / "texts" / "b.txt", "more text\n")
    corpus = Corpus.scan(tmp_path / "texts")
    assert corpus.vocab == CharVocab.from_text(MIXED + "more text\n")
    assert corpus.characters == len(MIXED) + len("more text\n")
    in_memory, on_disk = corpus.encode(), corpus.encode(tmp_path / "ids.bin")
    assert in_memory.tolist() == on_disk.tolist() and corpus.vocab.decode(in_memory) == MIXED + "more text\n"
    from_text = Corpus.from_text(MIXED)
    assert from_text.vocab.decode(from_text.encode(tmp_path / "mixed.bin")) == MIXED


def test_corpus_scan_refuses_nul_characters_naming_the_file(tmp_path):
    (tmp_path / "utf16.txt").write_bytes("plain words\n".encode("utf-16-le"))
    message = r"utf16\.txt: looks binary, not text: byte 1 is NUL \(0x00\); if it is UTF-16 text, pass --encoding"
    with pytest.raises(RnnlabError, match=message):
        Corpus.scan(tmp_path / "utf16.txt")


def test_id_files_get_ordinary_permissions(tmp_path):
    corpus = Corpus.scan(write(tmp_path / "text.txt", MIXED))
    corpus.encode(tmp_path / "ids.bin")
    write_ids(tmp_path / "copy.bin", open_ids(tmp_path / "ids.bin", corpus.vocab.dtype))
    mask = os.umask(0)
    os.umask(mask)
    for name in ("ids.bin", "copy.bin"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o666 & ~mask
    assert open_ids(tmp_path / "copy.bin", corpus.vocab.dtype).tolist() == corpus.encode().tolist()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["copy.bin", "ids.bin", "text.txt"]
