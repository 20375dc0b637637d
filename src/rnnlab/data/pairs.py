"""(source, target) pairs for sequence-to-sequence tasks, from a TSV or CSV file.

A `.csv` file (suffix in any case) is read with the `csv` module: two fields a row, and a first
row that is exactly `source,target` (in any case) is a header. Any other file is TSV: one pair a
line, source and target separated by exactly one tab (`word<TAB>W ER D`, as CMUdict is laid out).
Blank lines are skipped; each side is stripped of surrounding whitespace, inner spaces kept.
Text is decoded as `rnnlab.data.files` says (UTF-8 or `--encoding`, a BOM and CRLF accepted,
binary files refused); every error names the file, and the line where there is one.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

from rnnlab.data.files import read_text_file
from rnnlab.errors import InvalidArgument, RnnlabError

_HEADER = ["source", "target"]
_SHOWN = 40  # characters of a bad line quoted in an error


def read_pairs(path: str | os.PathLike, min_pairs: int = 1) -> list[tuple[str, str]]:
    """The (source, target) string pairs of a TSV or CSV file, in file order.

    `min_pairs`: the fewest pairs the caller can use (a training run holds some out for
    validation); fewer is an RnnlabError saying how many are needed.

    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "g2p.tsv").write_text("cat\\tK AE T\\n\\n  dog \\tD AO G\\r\\n")
    >>> read_pairs(folder / "g2p.tsv")
    [('cat', 'K AE T'), ('dog', 'D AO G')]
    >>> _ = (folder / "g2p.csv").write_text('Source,Target\\n"hello, world",bonjour\\n')
    >>> read_pairs(folder / "g2p.csv")
    [('hello, world', 'bonjour')]
    """
    if isinstance(min_pairs, bool) or not isinstance(min_pairs, int) or min_pairs < 1:
        raise InvalidArgument("min_pairs", "a positive integer", min_pairs)
    path = Path(path)
    text = read_text_file(path)
    pairs = _csv_pairs(path, text) if path.suffix.lower() == ".csv" else _tsv_pairs(path, text)
    if not pairs:
        raise RnnlabError(f"{path}: no (source, target) pairs, every line is blank"
                          + (" or the header" if path.suffix.lower() == ".csv" else ""))
    if len(pairs) < min_pairs:
        counted = f"{len(pairs)} pair" + ("" if len(pairs) == 1 else "s")
        raise RnnlabError(f"{path}: {counted}, but at least {min_pairs} are needed "
                          f"(training holds some out for validation)")
    return pairs


def _tsv_pairs(path: Path, text: str) -> list[tuple[str, str]]:
    pairs = []
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != 2:
            found = "1 (no tab)" if len(fields) == 1 else str(len(fields))
            raise RnnlabError(f"{path} line {number}: expected 2 tab-separated fields (source, target), "
                              f"found {found}: {line[:_SHOWN]!r}")
        pairs.append(_pair(path, number, fields, "before the tab", "after the tab"))
    return pairs


def _csv_pairs(path: Path, text: str) -> list[tuple[str, str]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    pairs = []
    number = 1  # the line the next row starts on
    first_row = True
    try:
        for row in reader:
            start, number = number, reader.line_num + 1
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            if len(row) != 2:
                raise RnnlabError(f"{path} line {start}: expected 2 comma-separated fields (source, target), "
                                  f"found {len(row)}")
            is_header, first_row = first_row and [field.strip().lower() for field in row] == _HEADER, False
            if is_header:
                continue
            if any("\n" in field for field in row):  # a quoted field spanning lines; a pair is one line
                raise RnnlabError(f"{path} line {start}: a quoted field runs onto the next line; "
                                  f"a source or target must fit on one line")
            pairs.append(_pair(path, start, row, "(first field)", "(second field)"))
    except csv.Error as error:
        raise RnnlabError(f"{path} line {reader.line_num}: {error}") from None
    return pairs


def _pair(path: Path, number: int, fields: list[str], source_where: str, target_where: str) -> tuple[str, str]:
    source, target = fields[0].strip(), fields[1].strip()
    if not source:
        raise RnnlabError(f"{path} line {number}: empty source {source_where}")
    if not target:
        raise RnnlabError(f"{path} line {number}: empty target {target_where}")
    return source, target
