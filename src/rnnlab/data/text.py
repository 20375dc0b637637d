"""Plain-text corpora: reading, streaming, a character vocabulary and on-disk id files.

A corpus is one UTF-8 file, or a folder whose files (sorted by relative path, recursively,
hidden files and folders skipped) are read one after another as if concatenated. Files are
decoded as `rnnlab.data.files` describes: UTF-8 unless `text_encoding(...)` names another
encoding, a leading byte-order mark dropped, CRLF and lone CR read as LF (so the vocabulary
never holds a BOM (U+FEFF) or a CR from line endings), binary files refused.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rnnlab.data.files import READ_BYTES, decoded_pieces
from rnnlab.errors import RnnlabError


def _corpus_files(path: str | os.PathLike) -> list[Path]:
    """The files making up the corpus at `path`, in reading order."""
    root = Path(path)
    if root.is_file():
        return [root]
    if not root.exists():
        raise RnnlabError(f"{root}: no such file or folder")
    if not root.is_dir():
        raise RnnlabError(f"{root}: not a regular file or folder")
    files = sorted(
        (p for p in root.rglob("*") if p.is_file()),
        key=lambda p: p.relative_to(root).as_posix(),
    )
    files = [p for p in files if not any(part.startswith(".") for part in p.relative_to(root).parts)]
    if not files:
        raise RnnlabError(f"{root}: no files in this folder (hidden ones are skipped)")
    return files


def _text_pieces(path: str | os.PathLike, chunk_chars: int) -> Iterator[tuple[Path, str]]:
    """Check arguments and list files now; the returned generator reads lazily."""
    if isinstance(chunk_chars, bool) or not isinstance(chunk_chars, int) or chunk_chars < 1:
        raise RnnlabError(f"chunk_chars must be a positive integer, got {chunk_chars!r}")
    files = _corpus_files(path)

    def pieces() -> Iterator[tuple[Path, str]]:
        empty = True
        for file, text in decoded_pieces(files, chunk_chars):
            empty = False
            yield file, text
        if empty:
            raise RnnlabError(f"{Path(path)}: empty corpus (no text)")

    return pieces()


def iter_text_chunks(path: str | os.PathLike, chunk_chars: int = 1 << 20) -> Iterator[str]:
    """Stream the corpus at `path` as strings of at most `chunk_chars` characters.

    Each chunk decodes up to `chunk_chars` bytes, so non-ASCII text gives shorter chunks.
    UTF-8 is decoded incrementally: a multi-byte character split across a read boundary
    is held back and yielded whole with the next chunk. Files of a folder follow each other
    with nothing in between; a chunk never spans two files. The path is checked at call
    time, the files are read lazily. A byte-order mark is dropped and CRLF / CR become LF
    (see `rnnlab.data.files`). Raises RnnlabError for a missing path, a binary file, a file
    that does not decode (naming the byte offset) or an empty corpus.

    >>> import tempfile, pathlib
    >>> corpus = pathlib.Path(tempfile.mkdtemp()) / "corpus.txt"
    >>> _ = corpus.write_text("héllo", encoding="utf-8")
    >>> list(iter_text_chunks(corpus, chunk_chars=2))
    ['h', 'él', 'lo']
    """
    return (text for _, text in _text_pieces(path, chunk_chars))


def read_text(path: str | os.PathLike) -> str:
    """The whole corpus at `path` (a UTF-8 file, or a folder of them) as one string, newlines as LF.

    Raises RnnlabError for a missing path, a binary file, a file that does not decode (naming
    the byte offset) or an empty corpus.
    """
    return "".join(iter_text_chunks(path, chunk_chars=READ_BYTES))


def _code_points(text: str) -> np.ndarray:
    """The Unicode code points of `text`, (len(text),) uint32."""
    return np.frombuffer(text.encode("utf-32-le", errors="surrogatepass"), dtype="<u4")


class CharVocab:
    """A vocabulary of Unicode characters (code points, not bytes), sorted by code point.

    The id of a character is its position in `chars`. Ids are stored in `dtype`, the
    smallest of uint8, uint16 and uint32 that holds `len(vocab)` distinct ids.

    >>> vocab = CharVocab.from_text("hello, wörld")
    >>> vocab.chars
    [' ', ',', 'd', 'e', 'h', 'l', 'o', 'r', 'w', 'ö']
    >>> ids = vocab.encode("hölle")
    >>> ids, ids.dtype
    (array([4, 9, 5, 5, 3], dtype=uint8), dtype('uint8'))
    >>> vocab.decode(ids)
    'hölle'
    """

    def __init__(self, chars: Iterable[str]) -> None:
        """Build from an iterable of single characters; duplicates are merged and order is sorted."""
        unique = set()
        for char in chars:
            if not isinstance(char, str) or len(char) != 1:
                raise RnnlabError(f"a vocabulary entry must be a single character, got {char!r}")
            unique.add(char)
        if not unique:
            raise RnnlabError("a vocabulary needs at least one character, got none")
        self._chars = sorted(unique)
        self._code_points = _code_points("".join(self._chars))  # (V,) uint32, increasing
        size = len(self._chars)
        self.dtype = np.dtype(np.uint8 if size <= 1 << 8 else np.uint16 if size <= 1 << 16 else np.uint32)

    @classmethod
    def from_text(cls, text: str) -> CharVocab:
        """The characters occurring in `text`."""
        return cls(set(text))

    @classmethod
    def from_chunks(cls, chunks: Iterable[str]) -> CharVocab:
        """The characters occurring in any of `chunks`, e.g. `iter_text_chunks(path)`."""
        seen: set[str] = set()
        for chunk in chunks:
            seen.update(chunk)
        return cls(seen)

    @property
    def chars(self) -> list[str]:
        """The characters in id order (a copy)."""
        return list(self._chars)

    def __len__(self) -> int:
        return len(self._chars)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CharVocab) and self._chars == other._chars

    def __repr__(self) -> str:
        return f"CharVocab({len(self)} characters, dtype={self.dtype.name})"

    def encode(self, text: str) -> np.ndarray:
        """The ids of the characters of `text`, (len(text),) of `self.dtype`.

        Raises RnnlabError naming the first characters (up to five) not in the vocabulary.
        """
        points = _code_points(text)  # (N,) uint32
        ids = np.searchsorted(self._code_points, points)  # (N,) position where each would go
        found = self._code_points[np.minimum(ids, len(self) - 1)] == points  # (N,) bool
        if not found.all():
            missing, first_seen = np.unique(points[~found], return_index=True)
            unknown = [chr(point) for point in missing[np.argsort(first_seen)[:5]]]
            raise RnnlabError(f"characters not in the vocabulary: {', '.join(map(repr, unknown))}")
        return ids.astype(self.dtype)

    def decode(self, ids: Iterable[int] | np.ndarray) -> str:
        """The text for a scalar or 1-D sequence of ids; raises RnnlabError for an id out of range."""
        ids = np.asarray(ids)
        if ids.ndim > 1:
            raise RnnlabError(f"decode expects a 1-D sequence of ids, got shape {ids.shape}")
        ids = ids.reshape(-1)
        if ids.size == 0:
            return ""
        if not np.issubdtype(ids.dtype, np.integer):
            raise RnnlabError(f"decode expects integer ids, got dtype {ids.dtype}")
        bad = (ids < 0) | (ids >= len(self))
        if bad.any():
            raise RnnlabError(f"id {ids[bad][0]} out of range for a vocabulary of {len(self)} characters")
        return self._code_points[ids].astype("<u4").tobytes().decode("utf-32-le", errors="surrogatepass")

    def to_json(self) -> list[str]:
        """The characters in id order, a plain list that `json.dump` accepts."""
        return self.chars

    @classmethod
    def from_json(cls, chars: list[str]) -> CharVocab:
        """Rebuild from `to_json()` output; refuses lists whose ids would silently shift.

        >>> CharVocab.from_json(["a", "b", "é"]).encode("bé").tolist()
        [1, 2]
        """
        if not isinstance(chars, list):
            raise RnnlabError(f"a saved vocabulary must be a list of characters, got {type(chars).__name__}")
        vocab = cls(chars)
        if vocab._chars != chars:
            raise RnnlabError("a saved vocabulary must list distinct characters sorted by code point")
        return vocab


@dataclass(frozen=True)
class Corpus:
    """A text read once and checked, ready to encode: a file or folder of UTF-8 files, or a string.

    Line endings are LF whatever the file used (CRLF and CR are translated as it is read) and a
    byte-order mark is not part of the text, so neither CR nor U+FEFF enters the vocabulary from them.

    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "corpus.txt"
    >>> _ = path.write_text("héllo", encoding="utf-8")
    >>> corpus = Corpus.scan(path)
    >>> corpus.vocab, corpus.characters, corpus.encode().tolist()
    (CharVocab(4 characters, dtype=uint8), 5, [0, 3, 1, 1, 2])
    """

    vocab: CharVocab
    characters: int
    path: Path | None = None  # None: the text is `text`
    text: str | None = None

    @classmethod
    def scan(cls, path: str | os.PathLike, chunk_chars: int = 1 << 20) -> Corpus:
        """Vocabulary and length of the corpus at `path`, in one streaming pass (memory bounded by `chunk_chars`).

        Refuses what `iter_text_chunks` refuses: a missing path, an empty corpus, a binary file (NUL
        bytes; also UTF-16 text read as UTF-8), a byte that does not decode, each naming the file.
        """
        seen: set[str] = set()
        characters = 0
        for _, text in _text_pieces(path, chunk_chars):
            seen.update(text)
            characters += len(text)
        return cls(CharVocab(seen), characters, path=Path(path))

    @classmethod
    def from_text(cls, text: str) -> Corpus:
        return cls(CharVocab.from_text(text), len(text), text=text)

    def encode(self, out_path: str | os.PathLike | None = None) -> np.ndarray:
        """The ids (characters,): in memory, or written to the raw id file `out_path` and memory-mapped."""
        if self.path is not None:
            return encode_corpus(self.path, self.vocab, out_path)
        ids = self.vocab.encode(self.text)
        if out_path is None:
            return ids
        write_ids(out_path, ids)
        return open_ids(out_path, self.vocab.dtype)


def encode_corpus(
    path: str | os.PathLike,
    vocab: CharVocab,
    out_path: str | os.PathLike | None,
    chunk_chars: int = 1 << 20,
) -> np.ndarray:
    """Encode the corpus at `path` into a raw file of ids at `out_path`, streaming.

    The ids (native byte order, `vocab.dtype`, no header) are written to a temporary file
    beside `out_path` and renamed into place, so `out_path` is either absent or complete.
    Memory stays bounded by `chunk_chars`, whatever the corpus size. Returns the ids as a
    read-only memmap of shape (number of characters,), as `open_ids(out_path, vocab.dtype)`.
    With `out_path=None` nothing is written and the ids come back as an in-memory array.
    """
    pieces = _text_pieces(path, chunk_chars)  # checks the corpus before anything is written
    blocks = (_encode_piece(vocab, file, text) for file, text in pieces)
    if out_path is None:
        return np.concatenate(list(blocks))
    _write_blocks(Path(out_path), blocks)
    return open_ids(out_path, vocab.dtype)


def write_ids(path: str | os.PathLike, ids: np.ndarray, block: int = 1 << 24) -> None:
    """Write a 1-D id array (or memmap) as the raw id file `open_ids` reads: atomically, `block` ids at a time."""
    _write_blocks(Path(path), (ids[start : start + block] for start in range(0, len(ids), block)))


def _encode_piece(vocab: CharVocab, file: Path, text: str) -> np.ndarray:
    try:
        return vocab.encode(text)
    except RnnlabError as error:
        raise RnnlabError(f"{file}: {error}") from None


def _write_blocks(path: Path, blocks: Iterable[np.ndarray]) -> None:
    """Stream arrays into a temporary file beside `path`, then rename it into place (ordinary permissions)."""
    temp = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
    try:
        # os.open with 0o666 lets the umask decide, as for any file (tempfile.mkstemp's are private, 0600).
        with os.fdopen(os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), "wb") as stream:
            for block in blocks:
                stream.write(np.ascontiguousarray(block).tobytes())
        os.replace(temp, path)
    except OSError as error:
        raise RnnlabError(f"{path}: cannot write ({error.strerror or error})") from None
    finally:
        temp.unlink(missing_ok=True)


def open_ids(path: str | os.PathLike, dtype: np.dtype | type | str) -> np.memmap:
    """A read-only memmap, shape (N,), of the raw id file at `path` written by `encode_corpus`."""
    path = Path(path)
    try:
        dtype = np.dtype(dtype)
    except TypeError:
        raise RnnlabError(f"Received an invalid value for argument `dtype`, got {dtype!r}.") from None
    if not path.is_file():
        raise RnnlabError(f"{path}: no such file")
    size = path.stat().st_size
    if size == 0:
        raise RnnlabError(f"{path}: empty id file")
    if size % dtype.itemsize:
        raise RnnlabError(
            f"{path}: size {size} bytes is not a multiple of {dtype.itemsize} ({dtype.name}); wrong dtype?"
        )
    return np.memmap(path, dtype=dtype, mode="r")
