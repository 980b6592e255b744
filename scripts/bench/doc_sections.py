"""Generated sections of docs/benchmarks.md: each benchmark owns the text between its two markers."""

from __future__ import annotations

from pathlib import Path


def splice_section(doc: Path, section: str, begin: str, end: str) -> None:
    """Replace what lies between `begin` and `end` in `doc` with `section` (which starts with `begin`
    and ends with `end`); append it when the markers are missing. The rest of the file is kept as is."""
    text = doc.read_text() if doc.is_file() else "# Benchmarks\n"
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        text = head + section + rest.split(end, 1)[1]
    else:
        text = text.rstrip() + "\n\n" + section + "\n"
    doc.write_text(text)
