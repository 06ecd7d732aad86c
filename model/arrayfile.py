"""Arrays kept in a cache file and mapped into memory rather than read.

``np.load`` of an ``.npz`` copies every array out of the zip archive and
checks its CRC: 14-29 ms for the segmenter's 23 MB of tables, in the serial
start of every long run (before ``--jobs`` workers fork). Mapped, the file
costs about a millisecond; its pages are read when first touched, stay in
the operating system's page cache, and are shared by every process tagging.

Layout: ``MAGIC``, the header's length (8 bytes, little-endian), a JSON
header ``{name: [dtype, shape, offset]}``, then each array's bytes (C order)
at its offset, a multiple of 64 from the start of the file: arrays come back
aligned, as the compiled kernels are typed for. The mapping is copy-on-write,
so the arrays are writable (as the kernels are typed for too) but a write
would never reach the file.
"""
from __future__ import annotations

import json
import mmap
import sys
import unicodedata
from pathlib import Path
from typing import IO, Callable

import numpy as np

MAGIC = b"NEWSTAG-ARRAYS-1\n"
_ALIGN = 64


def save(fh: IO[bytes], arrays: dict[str, np.ndarray]) -> None:
    """Write ``arrays`` (plain dtypes only) to the binary file ``fh``."""
    arrays = {name: np.ascontiguousarray(a) for name, a in arrays.items()}
    header, offset = {}, 0
    for name, a in arrays.items():
        if a.dtype.hasobject:
            raise TypeError(f"array {name!r} has object dtype")
        header[name] = [a.dtype.str, list(a.shape), offset]
        offset += -(-a.nbytes // _ALIGN) * _ALIGN
    text = json.dumps(header).encode()
    start = -(-(len(MAGIC) + 8 + len(text)) // _ALIGN) * _ALIGN  # (the first array's offset in the file)
    fh.write(MAGIC + (start - len(MAGIC) - 8).to_bytes(8, "little") + text.ljust(start - len(MAGIC) - 8))
    for a in arrays.values():
        fh.write(a.tobytes())
        fh.write(b"\0" * (-a.nbytes % _ALIGN))


def load(path: str | Path) -> dict[str, np.ndarray] | None:
    """The arrays of a file :func:`save` wrote, mapped; None if it is missing,
    of another layout, or shorter than its header says (a damaged file)."""
    try:
        with open(path, "rb") as fh:
            if fh.read(len(MAGIC)) != MAGIC:
                return None
            size = int.from_bytes(fh.read(8), "little")
            header = json.loads(fh.read(size))
            start = len(MAGIC) + 8 + size
            mapped = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_COPY)
        out = {}
        for name, (dtype, shape, offset) in header.items():
            dtype = np.dtype(dtype)
            count = int(np.prod(shape, dtype=np.int64))
            out[name] = np.frombuffer(mapped, dtype, count, start + offset).reshape(shape)
        return out
    except (OSError, ValueError, TypeError, KeyError):  # (frombuffer past the end: ValueError)
        return None


def cached(name: str, build: Callable[[], dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """The arrays of the cache file ``name`` (in the first of
    :func:`.segmenter.cache_dirs` that has it), else ``build()``'s, then kept
    in the first writable one for the next process."""
    from .segmenter import cache_dirs, write_cached

    for folder in cache_dirs():
        arrays = load(folder / name)
        if arrays is not None:
            return arrays
    arrays = build()
    for folder in cache_dirs():
        try:
            write_cached(folder, name, lambda fh: save(fh, arrays))
            break
        except OSError:
            continue  # read-only: the next folder (or none: built again next time)
    return arrays


def unicode_name(table: str) -> str:
    """The cache file name of a table of Unicode character properties (``table``:
    its name and a version, bumped when the way it is made changes): it holds for
    this Python's version and Unicode database."""
    return f"unicode-{table}-{sys.version_info[0]}.{sys.version_info[1]}-{unicodedata.unidata_version}.arrays"
