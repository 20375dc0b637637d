import gzip
import struct
from collections import Counter

import numpy as np
import pytest

from rnnlab.data.labelled import read_class_folder, read_digits_csv, read_idx, read_labelled_csv, read_ts
from rnnlab.errors import RnnlabError

# read_class_folder


def test_read_class_folder_reads_the_18_surname_languages(data_dir):
    texts, labels = read_class_folder(data_dir / "names")
    assert len(texts) == len(labels) == 20_050
    counts = Counter(labels)
    assert len(counts) == 18
    assert counts["Russian"] == 9384 and counts["Vietnamese"] == 73 and counts["Arabic"] == 2000
    assert len(set(text for text, label in zip(texts, labels, strict=True) if label == "Arabic")) == 108
    assert all(text == text.strip() and text for text in texts)
    assert any(not text.isascii() for text, label in zip(texts, labels, strict=True) if label == "Polish")


def test_read_class_folder_keeps_non_ascii_and_inner_spaces_and_skips_blank_lines(tmp_path):
    (tmp_path / "Chinese.txt").write_text("王\n\n  李 小龙 \n", encoding="utf-8")
    (tmp_path / "French.txt").write_text("Béranger\r\nÉluard😀\r\n", encoding="utf-8")
    (tmp_path / "notes.md").write_text("not a class", encoding="utf-8")
    texts, labels = read_class_folder(tmp_path)
    assert texts == ["王", "李 小龙", "Béranger", "Éluard😀"]
    assert labels == ["Chinese", "Chinese", "French", "French"]


def test_read_class_folder_names_the_file_that_is_not_utf8(tmp_path):
    (tmp_path / "German.txt").write_bytes("Müller\n".encode("latin-1"))
    with pytest.raises(RnnlabError, match=r"German\.txt line 1: byte 1 is not valid UTF-8"):
        read_class_folder(tmp_path)


def test_read_class_folder_refuses_missing_folder_no_classes_and_empty_class(tmp_path):
    with pytest.raises(RnnlabError, match="no such folder"):
        read_class_folder(tmp_path / "missing")
    with pytest.raises(RnnlabError, match=r"no \*\.txt class files"):
        read_class_folder(tmp_path)
    (tmp_path / "Empty.txt").write_text("\n \n", encoding="utf-8")
    with pytest.raises(RnnlabError, match=r"Empty\.txt: no examples"):
        read_class_folder(tmp_path)


# read_labelled_csv


def test_read_labelled_csv_reads_quoted_fields_with_commas_and_newlines(tmp_path):
    path = tmp_path / "reviews.csv"
    path.write_text('id,text,label\n1,"Good, très bon 😀",pos\n\n2,"two\nlines",neg\n', encoding="utf-8")
    assert read_labelled_csv(path) == (["Good, très bon 😀", "two\nlines"], ["pos", "neg"])


def test_read_labelled_csv_takes_other_column_names_and_a_byte_order_mark(tmp_path):
    path = tmp_path / "sms.csv"
    path.write_bytes("\ufeffmessage,category\nhello,ham\n".encode())
    assert read_labelled_csv(path, text_column="message", label_column="category") == (["hello"], ["ham"])


def test_read_labelled_csv_names_available_columns_when_one_is_missing(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("sentence,label\nhi,a\n", encoding="utf-8")
    message = r"data\.csv: no column 'text'; available columns: 'sentence', 'label'"
    with pytest.raises(RnnlabError, match=message):
        read_labelled_csv(path)


def test_read_labelled_csv_names_the_line_of_a_short_row_or_empty_label(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("text,label\nhi,a\nbye\n", encoding="utf-8")
    with pytest.raises(RnnlabError, match=r"data\.csv line 3: expected 2 fields, got 1"):
        read_labelled_csv(path)
    path.write_text("text,label\nhi,a\nbye,\n", encoding="utf-8")
    with pytest.raises(RnnlabError, match=r"data\.csv line 3: empty label"):
        read_labelled_csv(path)


def test_read_labelled_csv_refuses_empty_file_and_header_only(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("", encoding="utf-8")
    with pytest.raises(RnnlabError, match="empty file"):
        read_labelled_csv(path)
    path.write_text("text,label\n", encoding="utf-8")
    with pytest.raises(RnnlabError, match="no rows"):
        read_labelled_csv(path)


# read_ts

UCR = [
    # folder, split, cases, lengths (min, max), dimensions, classes
    ("GunPoint", "TRAIN", 50, (150, 150), 1, {"1", "2"}),
    ("GunPoint", "TEST", 150, (150, 150), 1, {"1", "2"}),
    ("ItalyPowerDemand", "TRAIN", 67, (24, 24), 1, {"1", "2"}),
    ("ItalyPowerDemand", "TEST", 1029, (24, 24), 1, {"1", "2"}),
    ("BasicMotions", "TRAIN", 40, (100, 100), 6, {"Standing", "Running", "Walking", "Badminton"}),
    ("BasicMotions", "TEST", 40, (100, 100), 6, {"Standing", "Running", "Walking", "Badminton"}),
    ("JapaneseVowels", "TRAIN", 270, (7, 26), 12, {str(k) for k in range(1, 10)}),
    ("JapaneseVowels", "TEST", 370, (7, 29), 12, {str(k) for k in range(1, 10)}),
]


@pytest.mark.parametrize(("name", "split", "cases", "lengths", "dims", "classes"), UCR)
def test_read_ts_reads_the_ucr_files(data_dir, name, split, cases, lengths, dims, classes):
    series, labels = read_ts(data_dir / "ucr" / name / f"{name}_{split}.ts")
    assert len(series) == len(labels) == cases
    assert labels.dtype.kind == "U" and labels.shape == (cases,)
    assert set(labels) == classes
    assert all(case.dtype == np.float32 and case.ndim == 2 and case.shape[1] == dims for case in series)
    assert (min(len(case) for case in series), max(len(case) for case in series)) == lengths
    assert all(np.isfinite(case).all() for case in series)


def test_read_ts_keeps_values_and_dimension_order(data_dir):
    series, labels = read_ts(data_dir / "ucr" / "ItalyPowerDemand" / "ItalyPowerDemand_TRAIN.ts")
    np.testing.assert_allclose(series[0][:3, 0], [-0.71051757, -1.1833204, -1.3724416], rtol=1e-6)
    assert labels[0] == "1"
    series, _ = read_ts(data_dir / "ucr" / "BasicMotions" / "BasicMotions_TRAIN.ts")
    np.testing.assert_allclose(series[0][:2, 0], [0.079106, 0.079106], rtol=1e-6)


HEADER = "# a comment\n@problemName Tiny\n@timeStamps false\n@missing true\n@univariate false\n@dimensions 2\n"


def write_ts(tmp_path, body, header=HEADER, labels="@classLabel true up down\n"):
    path = tmp_path / "Tiny_TRAIN.ts"
    path.write_text(header + labels + "@data\n" + body, encoding="utf-8")
    return path


def test_read_ts_reads_missing_values_as_nan_and_variable_lengths(tmp_path):
    series, labels = read_ts(write_ts(tmp_path, "1,?,3:4,5,6:up\n\n7,8:9,10:down\n"))
    assert labels.tolist() == ["up", "down"]
    assert series[0].shape == (3, 2) and series[1].shape == (2, 2)
    np.testing.assert_array_equal(series[0], [[1, 4], [np.nan, 5], [3, 6]])


def test_read_ts_without_class_labels_returns_an_empty_label_array(tmp_path):
    series, labels = read_ts(write_ts(tmp_path, "1,2:3,4\n", labels="@classLabel false\n"))
    assert len(series) == 1 and labels.shape == (0,)


def test_read_ts_names_file_and_line_of_a_short_equal_length_case(tmp_path):
    header = HEADER + "@equalLength true\n@seriesLength 3\n"
    path = write_ts(tmp_path, "1,2,3:4,5,6:up\n1,2,3:4,5:up\n", header=header)
    with pytest.raises(RnnlabError, match=r"Tiny_TRAIN\.ts line 12: dimension 2 has 2 values, dimension 1"):
        read_ts(path)
    path = write_ts(tmp_path, "1,2,3:4,5,6:up\n1,2:4,5:up\n", header=header)
    with pytest.raises(RnnlabError, match=r"Tiny_TRAIN\.ts line 12: expected 3 values per dimension, got 2"):
        read_ts(path)


def test_read_ts_refuses_an_undeclared_class_label(tmp_path):
    with pytest.raises(RnnlabError, match=r"line 9: class label 'sideways' is not one of those declared"):
        read_ts(write_ts(tmp_path, "1:2:sideways\n"))


def test_read_ts_refuses_a_wrong_dimension_count(tmp_path):
    with pytest.raises(RnnlabError, match=r"line 9: expected 2 dimension\(s\) and a class label .* got 4"):
        read_ts(write_ts(tmp_path, "1:2:3:up\n"))


def test_read_ts_infers_dimensions_from_the_first_case_and_holds_later_ones_to_it(tmp_path):
    header = "@problemName Tiny\n"
    assert read_ts(write_ts(tmp_path, "1:2:3:up\n", header=header))[0][0].shape == (1, 3)
    with pytest.raises(RnnlabError, match="line 5: expected 3 dimension"):
        read_ts(write_ts(tmp_path, "1:2:3:up\n1:2:up\n", header=header))


def test_read_ts_names_a_value_that_is_not_a_number(tmp_path):
    with pytest.raises(RnnlabError, match=r"Tiny_TRAIN\.ts line 9: dimension 2: 'x' is not a number"):
        read_ts(write_ts(tmp_path, "1,2:3,x:up\n"))


def test_read_ts_refuses_timestamped_files_as_not_supported(tmp_path):
    header = HEADER.replace("@timeStamps false", "@timeStamps true")
    with pytest.raises(RnnlabError, match="line 3: timestamped .ts files are not supported"):
        read_ts(write_ts(tmp_path, "(0,1),(1,2):(0,3),(1,4):up\n", header=header))


@pytest.mark.parametrize(
    ("header", "labels", "message"),
    [
        (HEADER, "", "no @classLabel line before @data"),
        (HEADER + "@frequency 3\n", "@classLabel true a\n", "line 7: unknown header line '@frequency'"),
        (HEADER, "@classLabel true\n", "line 7: @classLabel true lists no labels"),
        (HEADER.replace("true", "maybe"), "@classLabel false\n", "line 4: @missing must be"),
        (HEADER + "@univariate true\n", "@classLabel false\n", "@univariate true but @dimensions 2"),
    ],
)
def test_read_ts_refuses_malformed_headers(tmp_path, header, labels, message):
    with pytest.raises(RnnlabError, match=message):
        read_ts(write_ts(tmp_path, "1:2\n", header=header, labels=labels))


def test_read_ts_refuses_a_file_without_data(tmp_path):
    path = tmp_path / "Tiny.ts"
    path.write_text(HEADER, encoding="utf-8")
    with pytest.raises(RnnlabError, match=r"Tiny\.ts: no @data line"):
        read_ts(path)
    with pytest.raises(RnnlabError, match="no cases after @data"):
        read_ts(write_ts(tmp_path, "\n"))


# read_idx


def test_read_idx_reads_mnist_test_images_and_labels(data_dir):
    images = read_idx(data_dir / "mnist" / "t10k-images-idx3-ubyte.gz")
    labels = read_idx(data_dir / "mnist" / "t10k-labels-idx1-ubyte.gz")
    assert images.shape == (10_000, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (10_000,) and labels.dtype == np.uint8
    assert np.bincount(labels).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert labels[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    assert images.max() == 255 and images[0, :4].sum() == 0  # the border is blank
    assert images.flags.writeable


def idx_bytes(array, code):
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


IDX_TYPES = [(0x08, np.uint8), (0x09, np.int8), (0x0B, np.int16), (0x0C, np.int32), (0x0D, np.float32)]


@pytest.mark.parametrize(("code", "dtype"), [*IDX_TYPES, (0x0E, np.float64)])
@pytest.mark.parametrize("compress", [False, True])
def test_read_idx_reads_every_type_code_raw_or_gzipped(tmp_path, code, dtype, compress):
    array = (np.arange(24).reshape(2, 3, 4) * (-1 if np.dtype(dtype).kind != "u" else 1)).astype(dtype)
    data = idx_bytes(array, code)
    path = tmp_path / "array.idx"
    path.write_bytes(gzip.compress(data) if compress else data)
    read = read_idx(path)
    assert read.dtype == np.dtype(dtype) and read.dtype.isnative
    np.testing.assert_array_equal(read, array)


def test_read_idx_refuses_a_wrong_magic_number(tmp_path):
    path = tmp_path / "notes.idx"
    path.write_bytes(b"PK\x03\x04" + bytes(10))
    with pytest.raises(RnnlabError, match=r"notes\.idx: wrong magic number 0x504B0304"):
        read_idx(path)
    path.write_bytes(bytes([0, 0, 0x0A, 1, 0, 0, 0, 1, 0]))
    with pytest.raises(RnnlabError, match="wrong magic number 0x00000A01"):
        read_idx(path)


def test_read_idx_refuses_data_that_does_not_match_the_header_shape(tmp_path):
    path = tmp_path / "short.idx"
    path.write_bytes(idx_bytes(np.zeros((3, 2), np.int32), 0x0C)[:-1])
    with pytest.raises(RnnlabError, match=r"short\.idx: header says shape \(3, 2\) of int32 \(24 bytes\), but 23"):
        read_idx(path)
    path.write_bytes(bytes([0, 0, 0x08, 3, 0, 0]))
    with pytest.raises(RnnlabError, match="header truncated"):
        read_idx(path)


def test_read_idx_refuses_a_truncated_or_corrupt_gzip_file(tmp_path):
    path = tmp_path / "broken.idx.gz"
    whole = gzip.compress(idx_bytes(np.random.default_rng(0).integers(0, 256, (30, 20), np.uint8), 0x08))
    path.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(RnnlabError, match=r"broken\.idx\.gz: starts like gzip but does not decompress: truncated"):
        read_idx(path)
    path.write_bytes(whole[:-8] + bytes(8))  # the CRC and size at the end are wrong
    with pytest.raises(RnnlabError, match=r"broken\.idx\.gz: starts like gzip but does not decompress"):
        read_idx(path)


# read_digits_csv


def test_read_digits_csv_reads_sklearn_digits(data_dir):
    images, labels = read_digits_csv(data_dir / "digits" / "digits.csv.gz")
    assert images.shape == (1797, 8, 8) and images.dtype == np.float32
    assert labels.shape == (1797,) and labels.dtype == np.int64
    assert images.min() == 0 and images.max() == 16
    assert np.bincount(labels).tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    assert images[0, 0].tolist() == [0, 0, 5, 13, 9, 1, 0, 0]  # row-major, as in the file


def test_read_digits_csv_names_the_line_of_a_short_row(tmp_path):
    path = tmp_path / "digits.csv"
    row = ",".join(["0"] * 64) + ",3\n"
    path.write_text(row + ",".join(["0"] * 63) + ",3\n", encoding="ascii")
    with pytest.raises(RnnlabError, match=r"digits\.csv line 2: expected 65 fields"):
        read_digits_csv(path)
    path.write_text(row + row.replace(",3", ",x"), encoding="ascii")
    with pytest.raises(RnnlabError, match=r"digits\.csv line 2: expected numbers and an integer label"):
        read_digits_csv(path)


# byte-order marks, CRLF and hostile sizes, reader by reader


def test_every_labelled_reader_accepts_a_bom_and_crlf(tmp_path):
    bom = b"\xef\xbb\xbf"
    (tmp_path / "classes").mkdir()
    (tmp_path / "classes" / "Irish.txt").write_bytes(bom + b"Murphy\r\nKelly\r\n")
    assert read_class_folder(tmp_path / "classes") == (["Murphy", "Kelly"], ["Irish", "Irish"])
    (tmp_path / "data.csv").write_bytes(bom + b'text,label\r\n"a\r\nb",x\r\nc,y\r\n')
    assert read_labelled_csv(tmp_path / "data.csv") == (["a\nb", "c"], ["x", "y"])
    (tmp_path / "tiny.ts").write_bytes(bom + b"@univariate true\r\n@classLabel true a b\r\n@data\r\n1,2:a\r\n3,4:b\r\n")
    series, labels = read_ts(tmp_path / "tiny.ts")
    assert labels.tolist() == ["a", "b"] and series[1].tolist() == [[3.0], [4.0]]
    (tmp_path / "digits.csv").write_bytes(bom + b"\r\n".join([b",".join([b"1"] * 64 + [b"7"])] * 2) + b"\r\n")
    images, digits = read_digits_csv(tmp_path / "digits.csv")
    assert images.shape == (2, 8, 8) and digits.tolist() == [7, 7]


def test_read_class_folder_says_a_file_is_not_a_folder(tmp_path):
    (tmp_path / "Irish.txt").write_text("Murphy\n")
    with pytest.raises(RnnlabError, match=r"Irish\.txt: is a file, expected a folder of \*\.txt class files"):
        read_class_folder(tmp_path / "Irish.txt")


@pytest.mark.parametrize(("case", "message"), [
    ("1,2,3", r"line 4: expected a series, ':', then a class label; found no ':'"),
    ("1,2,3:", r"line 4: no class label after the last ':'"),
    ("1,inf,3:a", r"line 4: dimension 1: 'inf' is not a finite number"),
])
def test_read_ts_names_the_line_of_a_case_without_label_or_with_infinity(tmp_path, case, message):
    (tmp_path / "cases.ts").write_text(f"@classLabel true a b\n@equalLength false\n@data\n{case}\n")
    with pytest.raises(RnnlabError, match=message):
        read_ts(tmp_path / "cases.ts")


def test_read_ts_reads_nan_as_missing_and_tab_separated_header_values(tmp_path):
    (tmp_path / "cases.ts").write_text("@dimensions\t1\n@classLabel\ttrue a b\n@data\n1,NaN,?:a\n")
    series, labels = read_ts(tmp_path / "cases.ts")
    assert np.isnan(series[0][1:, 0]).all() and labels.tolist() == ["a"]


@pytest.mark.parametrize("size", ["0", "10000000000", "9" * 5000])
def test_read_ts_refuses_absurd_header_sizes(tmp_path, size):
    (tmp_path / "cases.ts").write_text(f"@dimensions {size}\n@classLabel true a\n@data\n1:a\n")
    with pytest.raises(RnnlabError, match=r"line 1: @dimensions must be a positive integer below 10\^9"):
        read_ts(tmp_path / "cases.ts")


@pytest.mark.parametrize("gzipped", [False, True])
def test_read_idx_refuses_a_header_declaring_more_than_the_file_can_hold_before_allocating(tmp_path, gzipped):
    path = tmp_path / "huge.idx"
    data = bytes([0, 0, 0x08, 1]) + struct.pack(">I", 4_000_000_000) + bytes(100)
    path.write_bytes(gzip.compress(data) if gzipped else data)
    with pytest.raises(RnnlabError, match=r"header says shape \(4000000000,\) of uint8 \(4000000000 bytes\), more"):
        read_idx(path)


def test_read_idx_shape_sizes_do_not_overflow(tmp_path):
    path = tmp_path / "overflow.idx"  # 2^32-1 to the 4th wraps around in int64 arithmetic
    path.write_bytes(bytes([0, 0, 0x08, 4]) + struct.pack(">4I", *[2**32 - 1] * 4) + bytes(8))
    with pytest.raises(RnnlabError, match="more than a file of its size can hold"):
        read_idx(path)


def test_read_idx_refuses_a_body_longer_than_the_header_says(tmp_path):
    path = tmp_path / "long.idx.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.zeros(3, np.uint8), 0x08) + b"\x00"))
    with pytest.raises(RnnlabError, match=r"shape \(3,\) of uint8 \(3 bytes\), but more than 3 bytes follow"):
        read_idx(path)


def test_read_digits_csv_refuses_non_finite_pixels(tmp_path):
    (tmp_path / "digits.csv").write_text(",".join(["1"] * 63 + ["nan", "3"]) + "\n")
    with pytest.raises(RnnlabError, match=r"digits\.csv line 1: a pixel value is NaN or infinite"):
        read_digits_csv(tmp_path / "digits.csv")
