"""Cache files: where newstag keeps what it builds once per install, and
arrays kept in them mapped into memory rather than read.

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
import os
import sys
import tempfile
import unicodedata
from pathlib import Path
from typing import IO, Callable

import numpy as np

MAGIC = b"NEWSTAG-ARRAYS-1\n"
_ALIGN = 64


def save(fh: IO[bytes], arrays: dict[str, np.ndarray]) -> None:
    """Write ``arrays`` (plain dtypes only) to the binary file ``fh``."""
    arrays = {name: np.asarray(a, order="C") for name, a in arrays.items()}  # (ascontiguousarray makes 0-d 1-d)
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
            out[name] = np.frombuffer(mapped, dtype, count, start + offset).reshape(tuple(shape))
        return out
    except (OSError, ValueError, TypeError, KeyError):  # (frombuffer past the end: ValueError)
        return None


def cache_dirs() -> list[Path]:
    """Where files built once per install are kept, in order of preference (the
    first writable one is written): the package's ``__pycache__``, the user's
    cache folder, the temporary folder."""
    here = Path(__file__).parent / "__pycache__"
    user = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "newstag"
    return [here, user, Path(tempfile.gettempdir()) / "newstag-cache"]


def write_cached(folder: Path, name: str, write: Callable[[IO[bytes]], None]) -> Path:
    """Write ``folder / name`` with ``write(file)`` through a temporary file renamed
    into place: a process reading the cache never sees half a file, and two
    writing at once do not mix. Raises OSError (a read-only folder: the caller
    tries the next of :func:`cache_dirs`)."""
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
        os.replace(tmp, folder / name)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return folder / name


def find(name: str) -> dict[str, np.ndarray] | None:
    """The arrays of the cache file ``name`` in the first of :func:`cache_dirs`
    holding a good one, mapped; None if none does."""
    for folder in cache_dirs():
        arrays = load(folder / name)
        if arrays is not None:
            return arrays
    return None


def keep(name: str, arrays: dict[str, np.ndarray], prune: str | None = None, most: int = 0) -> Path | None:
    """Write ``arrays`` as the cache file ``name`` into the first writable of
    :func:`cache_dirs` and return that folder (None: none is writable; built
    again next time). ``prune``: a glob of the files of its kind there, of which
    only the ``most`` most recently written stay."""
    for folder in cache_dirs():
        try:
            write_cached(folder, name, lambda fh: save(fh, arrays))
        except OSError:
            continue  # read-only: the next folder
        if prune:
            try:
                files = sorted(folder.glob(prune), key=lambda p: p.stat().st_mtime, reverse=True)
                for old in files[most:]:
                    old.unlink(missing_ok=True)
            except OSError:
                pass  # (another process pruning at the same time)
        return folder
    return None


def cached(name: str, build: Callable[[], dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """The arrays of the cache file ``name``, else ``build()``'s, then kept for the next process."""
    arrays = find(name)
    if arrays is None:
        arrays = build()
        keep(name, arrays)
    return arrays


def unicode_name(table: str) -> str:
    """The cache file name of a table of Unicode character properties (``table``:
    its name and a version, bumped when the way it is made changes): it holds for
    this Python's version and Unicode database."""
    return f"unicode-{table}-{sys.version_info[0]}.{sys.version_info[1]}-{unicodedata.unidata_version}.arrays"
