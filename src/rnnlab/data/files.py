"""Opening the user's files: checked paths, and text decoded one way for every reader.

Every text reader (corpora, CSV, `.ts`, CoNLL-U, class folders) decodes through `decoded_pieces`:

- the encoding is UTF-8 unless a `text_encoding(...)` context names another (`--encoding` on the
  command line); a byte that does not decode is reported with its offset in the file (and its line);
- a leading byte-order mark is dropped, so it never becomes a character of the text;
- CRLF and lone CR line endings become LF, also when a CRLF pair is split between two reads;
- a NUL byte means the file is binary (or UTF-16 read as UTF-8) and is refused with its offset.
"""

from __future__ import annotations

import codecs
import os
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import BinaryIO

from rnnlab.errors import InvalidArgument, RnnlabError

READ_BYTES = 1 << 20  # bytes per read(); keeps any single read bounded

# (codec name for Python, name as the user spelled it); UTF-8 unless `text_encoding` says otherwise
_ENCODING: ContextVar[tuple[str, str]] = ContextVar("rnnlab_text_encoding", default=("utf-8", "UTF-8"))


def text_encoding(name: str | None) -> AbstractContextManager[str]:
    """A context in which every reader decodes text files as `name` (None: UTF-8, the default).

    The name is checked now: InvalidArgument (argument `encoding`) for one Python does not know
    as a text encoding.

    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "latin1.txt"
    >>> _ = path.write_bytes("café\\r\\n".encode("latin-1"))
    >>> with text_encoding("latin-1"):
    ...     read_text_file(path)
    'café\\n'
    """
    if name is None:
        return _decoding_as("utf-8", "UTF-8")
    try:
        info = codecs.lookup(name)
    except (LookupError, TypeError, ValueError):
        info = None
    if info is None or not getattr(info, "_is_text_encoding", True):  # rot13, base64, zlib... map bytes to bytes
        raise InvalidArgument("encoding", "a text encoding such as utf-8, latin-1, cp1252 or utf-16", name)
    return _decoding_as(info.name, name)


@contextmanager
def _decoding_as(codec: str, shown: str) -> Iterator[str]:
    token = _ENCODING.set((codec, shown))
    try:
        yield codec
    finally:
        _ENCODING.reset(token)


def current_encoding() -> str | None:
    """The encoding the readers use now, as the user named it; None for the default, UTF-8."""
    codec, shown = _ENCODING.get()
    return None if codec == "utf-8" and shown == "UTF-8" else shown


def check_file(path: Path) -> None:
    """RnnlabError unless `path` is an existing regular file (a folder, a missing path: said so)."""
    if path.is_file():
        return
    if path.is_dir():
        raise RnnlabError(f"{path}: is a folder, expected a file")
    raise RnnlabError(f"{path}: {'not a regular file' if path.exists() else 'no such file'}")


def read_file_bytes(path: Path) -> bytes:
    """The bytes of the regular file at `path`; RnnlabError if it is missing, a folder or unreadable."""
    check_file(path)
    try:
        return path.read_bytes()
    except OSError as error:
        raise RnnlabError(f"{path}: cannot read ({error.strerror or error})") from None


def read_text_file(path: str | os.PathLike) -> str:
    """The text of one file, decoded as `decoded_pieces` does; RnnlabError if it is empty (or only a BOM)."""
    path = Path(path)
    check_file(path)
    text = "".join(piece for _, piece in decoded_pieces([path], READ_BYTES))
    if not text:
        raise RnnlabError(f"{path}: empty file (no text)")
    return text


def decoded_pieces(files: list[Path], read_bytes: int) -> Iterator[tuple[Path, str]]:
    """(file, text) pieces of each file, decoded incrementally in the current encoding.

    Each piece decodes at most `read_bytes` bytes, so holds at most that many characters (newline
    translation only shortens it). A character split across two reads is held back by the
    incremental decoder until its remaining bytes arrive. See the module docstring for the rules.
    """
    codec, shown = _ENCODING.get()
    for file in files:
        try:
            with open(file, "rb") as stream:
                yield from _decode(file, stream, read_bytes, codec, shown)
        except OSError as error:
            raise RnnlabError(f"{file}: cannot read ({error.strerror or error})") from None


def _decode(file: Path, stream: BinaryIO, read_bytes: int, codec: str, shown: str) -> Iterator[tuple[Path, str]]:
    decoder = codecs.getincrementaldecoder(codec)(errors="strict")
    bytewise = _ascii_compatible(codec)  # NUL and LF are single bytes, so their offsets can be read off the bytes
    offset = 0  # bytes of this file read so far
    newlines = 0  # LF bytes among them
    at_start, after_cr = True, False
    while True:
        data = stream.read(read_bytes)
        nul = data.find(b"\0") if bytewise else -1
        if nul >= 0:
            raise RnnlabError(_binary(file, f"byte {offset + nul} is NUL (0x00)"))
        pending = len(decoder.getstate()[0])  # bytes held back from the last read
        try:
            text = decoder.decode(data, final=not data)
        except UnicodeDecodeError as error:
            # error.start counts from the held-back bytes, which precede `data`
            position = offset - pending + error.start
            number = newlines + error.object.count(b"\n", 0, error.start) + 1
            line = f" line {number}" if bytewise else ""
            raise RnnlabError(f"{file}{line}: byte {position} is not valid {shown} "
                              f"(0x{error.object[error.start]:02x}, {error.reason}); "
                              + ("pass --encoding latin-1 if the file is not UTF-8" if shown == "UTF-8"
                                 else "pass the file's encoding with --encoding")) from None
        except UnicodeError as error:  # e.g. the UTF-16 decoder's "does not start with BOM"
            raise RnnlabError(f"{file}: not valid {shown} text ({error}); pass the file's encoding with --encoding "
                              f"(e.g. utf-16-le)") from None
        offset += len(data)
        newlines += data.count(b"\n") if bytewise else 0
        if "\0" in text:
            raise RnnlabError(_binary(file, f"it decodes to NUL characters as {shown}"))
        if at_start and text:
            at_start, text = False, text.removeprefix("\ufeff")
        text, after_cr = _lf_newlines(text, after_cr)
        if text:
            yield file, text
        if not data:
            break


def _binary(file: Path, why: str) -> str:
    return f"{file}: looks binary, not text: {why}; if it is UTF-16 text, pass --encoding utf-16"


def _ascii_compatible(codec: str) -> bool:
    """True when LF and NUL are the single bytes 0x0A and 0x00 in `codec` (UTF-8, Latin-1, cp1252...)."""
    try:
        return codecs.decode(b"\n\0A", codec) == "\n\0A"
    except (UnicodeDecodeError, ValueError, TypeError):
        return False


def _lf_newlines(text: str, after_cr: bool) -> tuple[str, bool]:
    """`text` with CRLF and lone CR as LF, and whether it ended with CR.

    `after_cr` says the previous piece ended with a CR: an LF starting this piece completes that
    CRLF, already written as LF, so it is dropped.

    >>> _lf_newlines("a\\r\\nb\\rc\\r", False), _lf_newlines("\\nd", True)
    (('a\\nb\\nc\\n', True), ('d', False))
    """
    if not text:
        return text, after_cr
    ends_with_cr = text.endswith("\r")
    if after_cr and text.startswith("\n"):
        text = text[1:]
    return text.replace("\r\n", "\n").replace("\r", "\n"), ends_with_cr
