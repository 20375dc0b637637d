"""Self-contained HTML pages: every image embedded as a data URI, every text escaped, no network.

A page opens from a file, offline, in any browser: the styles are inline, the images are PNG bytes
in base64, and anything taken from a run folder or a corpus goes through `text` (HTML-escaped), so
a sample that happens to contain `<script>` is shown, never run.

>>> text("<b>ROMEO & JULIET</b>")
'&lt;b&gt;ROMEO &amp; JULIET&lt;/b&gt;'
>>> table(["step", "loss"], [[1, 2.5], [2, "<1>"]])
'<table><tr><th>step</th><th>loss</th></tr><tr><td>1</td><td>2.5</td></tr><tr><td>2</td><td>&lt;1&gt;</td></tr></table>'
"""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rnnlab.checkpoint import atomic_write_bytes

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em; color: #222; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; margin-top: 1.6em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 0.5em 0; } td, th { border: 1px solid #ccc; padding: 2px 8px; }
th { background: #f4f4f4; } img { max-width: 100%; } pre { background: #f7f7f7; padding: 0.6em; overflow-x: auto; }
"""


def text(value: Any) -> str:
    """Any value as escaped HTML text."""
    return html.escape(str(value), quote=True)


def image(png: bytes, alt: str) -> str:
    """An <img> holding the PNG bytes themselves (a data URI), so the page needs no other file."""
    return f'<img alt="{text(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode("ascii")}">'


def table(header: Sequence[Any], rows: Sequence[Sequence[Any]]) -> str:
    """A table of escaped cells."""
    head = "".join(f"<th>{text(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{text(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def page(title: str, body: str) -> str:
    """A complete HTML document: `body` is trusted HTML built with the functions above."""
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{text(title)}</title>'
            f"<style>{STYLE}</style></head>\n<body><h1>{text(title)}</h1>\n{body}\n</body></html>\n")


def write_page(path: str | Path, title: str, body: str) -> Path:
    """Write the page atomically; returns its path."""
    atomic_write_bytes(Path(path), page(title, body).encode("utf-8"))
    return Path(path)
