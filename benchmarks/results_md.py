"""Shared by the benchmark scripts: write one section of ``benchmarks/RESULTS.md``."""
from __future__ import annotations

import re
from pathlib import Path


def write_section(path: str | Path, heading: str, body: str) -> None:
    """Replace (or append) the ``heading`` section of a markdown file, leaving the others alone.

    A section runs from its ``## `` heading line to the next ``## `` heading.
    The file is re-read right before writing, as other benchmarks own other
    sections, and written atomically.
    """
    from newstag.model.bundle import atomic_write_bytes

    path = Path(path)
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmark results\n"
    block = f"{heading}\n\n{body.rstrip()}\n"
    pattern = re.compile(rf"^{re.escape(heading)}[ \t]*\n.*?(?=^## |\Z)", re.M | re.S)
    if pattern.search(text):
        text = pattern.sub(lambda m: block + "\n", text, count=1).rstrip("\n") + "\n"
    else:
        text = text.rstrip("\n") + "\n\n" + block
    atomic_write_bytes(path, text.encode("utf-8"))
