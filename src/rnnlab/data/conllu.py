"""CoNLL-U treebanks (Universal Dependencies) as tagged sentences for sequence labelling.

A CoNLL-U file holds sentences separated by blank lines; each word is a line of ten
tab-separated fields: ID, FORM, LEMMA, UPOS, XPOS, FEATS, HEAD, DEPREL, DEPS, MISC.
Lines starting with '#' are comments. Multiword-token lines (ID `n-m`, e.g. "don't" over
"do" + "n't") and empty-node lines (ID `n.1`) are skipped: the syntactic words carry the tags.
A byte-order mark and CRLF line endings are accepted (see `rnnlab.data.files`).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from rnnlab.data.files import read_text_file
from rnnlab.errors import RnnlabError

_TAG_FIELDS = {"upos": 3, "xpos": 4}  # 0-based index of the tag field, by column name
_FIELDS = 10
_WORD_ID = re.compile(r"[1-9][0-9]*", re.ASCII)  # IDs are matched whole
_RANGE_ID = re.compile(r"[1-9][0-9]*-[1-9][0-9]*", re.ASCII)
_EMPTY_NODE_ID = re.compile(r"(0|[1-9][0-9]*)\.[1-9][0-9]*", re.ASCII)


def read_conllu(path: str | os.PathLike, column: str = "upos") -> list[tuple[list[str], list[str]]]:
    """Sentences of a CoNLL-U file as (words, tags) pairs of equal length.

    `column` picks the tag: "upos" (universal part of speech, 4th field) or "xpos"
    (language-specific tag, 5th field), returned as written ('_' where unannotated).
    Word IDs must run 1, 2, 3, ... within each sentence.

    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "tiny.conllu"
    >>> row = "{}\\t{}\\t_\\t{}\\t{}\\t_\\t_\\t_\\t_\\t_"
    >>> _ = path.write_text("# text = Hi !\\n" + row.format(1, "Hi", "INTJ", "UH") + "\\n"
    ...                     + row.format(2, "!", "PUNCT", ".") + "\\n\\n")
    >>> read_conllu(path)
    [(['Hi', '!'], ['INTJ', 'PUNCT'])]
    >>> read_conllu(path, column="xpos")
    [(['Hi', '!'], ['UH', '.'])]
    """
    if column not in _TAG_FIELDS:
        raise RnnlabError(f"column must be one of {sorted(_TAG_FIELDS)}, got {column!r}")
    path = Path(path)
    tag_field = _TAG_FIELDS[column]
    sentences: list[tuple[list[str], list[str]]] = []
    words: list[str] = []
    tags: list[str] = []
    start = None  # line number of the first non-comment line of the current sentence
    for number, line in enumerate(read_text_file(path).split("\n"), start=1):
        if not line.strip():
            _check_has_words(path, start, words)
            if words:
                sentences.append((words, tags))
            words, tags, start = [], [], None
            continue
        if line.startswith("#"):
            continue
        start = number if start is None else start
        fields = line.split("\t")
        if len(fields) != _FIELDS:
            raise RnnlabError(f"{path} line {number}: expected {_FIELDS} tab-separated fields, got {len(fields)}")
        word_id = fields[0]
        if _RANGE_ID.fullmatch(word_id) or _EMPTY_NODE_ID.fullmatch(word_id):  # multiword token or empty node
            continue
        if not _WORD_ID.fullmatch(word_id):
            raise RnnlabError(f"{path} line {number}: the ID {word_id[:20]!r} is not a word number (1, 2, ...), "
                              f"a multiword range (3-4) or an empty node (5.1)")
        if word_id != str(len(words) + 1):
            raise RnnlabError(f"{path} line {number}: expected word ID {len(words) + 1}, got {word_id!r}")
        if not fields[1].strip() or not fields[tag_field].strip():
            raise RnnlabError(f"{path} line {number}: empty word form or {column} tag")
        words.append(fields[1])
        tags.append(fields[tag_field])
    _check_has_words(path, start, words)
    if words:
        sentences.append((words, tags))
    if not sentences:
        raise RnnlabError(f"{path}: no sentences")
    return sentences


def _check_has_words(path: Path, start: int | None, words: list[str]) -> None:
    """A sentence that began on line `start` must hold at least one word line."""
    if start is not None and not words:
        raise RnnlabError(f"{path} line {start}: a sentence without words (only multiword-token or empty-node lines)")
