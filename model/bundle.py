"""Model bundles: one self-describing file, verified before use, never executed.

A bundle is a zip archive in NumPy's ``.npz`` layout (whatever its file name;
the shipped default keeps the name ``model.joblib`` that the project started
with). It holds

* ``meta.json``: format version, newstag and library versions, settings,
  label sets, tokeniser backend, taxonomy, training-data fingerprint and
  cross-validated / held-out metrics;
* NumPy arrays for vocabularies, IDF, weights, biases and thresholds;
* ``checksum``: SHA-256 over all of the above.

It is read with ``allow_pickle=False``, so loading a bundle cannot run code,
unlike a pickle. A bundle whose format version, checksum or layout is wrong is
refused with a one-line :class:`BundleError`.

Tagging loads its bundle with ``cache=True``: decompressing the arrays and
checking them cost about 43 ms of every run's start (before ``--jobs``
workers fork). The first such load keeps the verified arrays, uncompressed,
in a cache file named by the SHA-256 of the bundle file's bytes (see
:mod:`.arrayfile`); later loads hash the file (3 ms) and map that file
instead. A changed bundle has another hash, so it is read and verified afresh.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
import zipfile
import zlib
from pathlib import Path

import numpy as np

from . import arrayfile

FORMAT = "newstag-bundle"
FORMAT_VERSION = 1
KEEP = 4  # cache files of bundles kept per cache folder (the most recently written)


class BundleError(ValueError):
    """A model file that cannot be used; ``str()`` is a one-line message."""

    def __init__(self, path, problem: str):
        super().__init__(f"{path}: {problem}")
        self.path = str(path)
        self.problem = problem


def _checksum(meta_bytes: bytes, arrays: dict[str, np.ndarray]) -> str:
    h = hashlib.sha256(meta_bytes)
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(f"{name}|{a.dtype.str}|{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file in the same folder and a rename,
    so that an interrupted write never leaves a half-written file where a good one was."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or ".")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp's 0600 would hide a shared model from other users
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def save_bundle(path: str | Path, meta: dict, arrays: dict[str, np.ndarray]) -> None:
    """Write a bundle atomically. ``meta`` must be JSON-serialisable."""
    for name, a in arrays.items():
        if a.dtype.hasobject:
            raise TypeError(f"array {name!r} has object dtype; bundles hold plain arrays only")
    meta = {**meta, "format": FORMAT, "format_version": FORMAT_VERSION}
    # key order is meaningful (taxonomy label order = feature columns): never sort keys
    meta_bytes = json.dumps(meta, ensure_ascii=False).encode("utf-8")
    payload = {"meta.json": np.frombuffer(meta_bytes, dtype=np.uint8), **arrays}
    payload["checksum"] = np.frombuffer(_checksum(meta_bytes, arrays).encode(), dtype=np.uint8)
    buf = io.BytesIO()
    np.savez_compressed(buf, **payload)
    path = Path(path)
    if path.parent and not path.parent.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, buf.getvalue())


def load_bundle(path: str | Path, with_checksum: bool = False, cache: bool = False) -> tuple:
    """Read and verify a bundle; return ``(meta, arrays)`` (and, ``with_checksum``,
    its SHA-256 checksum: what identifies the model's contents) or raise
    :class:`BundleError`. ``cache``: through the cache file of its verified
    arrays (see the module's docstring), made if there is none."""
    path = Path(path)
    if not path.exists():
        raise BundleError(path, "model file not found (train one with `newstag train`)")
    if path.is_dir():
        raise BundleError(path, "is a directory, not a model file")
    try:
        with open(path, "rb") as fh:
            head = fh.read(4)
            if head[:1] == b"\x80":
                raise BundleError(path, "is a pickle (e.g. an old joblib model); refusing to load it, since "
                                        "unpickling can run code. Retrain with this newstag version")
            if head != b"PK\x03\x04":
                raise BundleError(path, "not a newstag model bundle (unknown file type)")
            data = head + fh.read()  # (read whole only once it looks like a bundle)
    except OSError as exc:
        raise BundleError(path, f"cannot read the model file ({exc.strerror or exc})") from None
    cache_name = f"bundle-{hashlib.sha256(data).hexdigest()[:16]}.arrays" if cache else None
    arrays = arrayfile.find(cache_name) if cache else None
    verified = arrays is not None
    if arrays is None:
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as z:
                arrays = {name: z[name] for name in z.files}
        # zlib.error: a damaged compressed member; NotImplementedError/RuntimeError:
        # a zip with an unknown compression method or encryption (not ours)
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, KeyError, NotImplementedError,
                RuntimeError) as exc:
            kind = "zlib.error" if isinstance(exc, zlib.error) else type(exc).__name__
            raise BundleError(path, f"model file is truncated or corrupt ({kind}: {exc})") from None
    if "meta.json" not in arrays or "checksum" not in arrays:
        raise BundleError(path, "not a newstag model bundle (no meta.json or checksum)")
    kept = dict(arrays)  # (what a cache file holds: the bundle's members as they are)
    meta_bytes = arrays.pop("meta.json").tobytes()
    stored = arrays.pop("checksum").tobytes().decode("ascii", "replace")
    try:
        meta = json.loads(meta_bytes.decode("utf-8"))
    except ValueError:
        raise BundleError(path, "model metadata is not valid JSON") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise BundleError(path, "not a newstag model bundle (wrong format tag)")
    version = meta.get("format_version")
    if version != FORMAT_VERSION:
        raise BundleError(
            path,
            f"model format version {version} is not supported by this newstag "
            f"(reads version {FORMAT_VERSION}, made by newstag {meta.get('newstag_version', '?')}); "
            "retrain the model with this version",
        )
    if not verified:
        if _checksum(meta_bytes, arrays) != stored:
            raise BundleError(path, "checksum mismatch: the model file was modified or damaged")
        if cache:
            arrayfile.keep(cache_name, kept, prune="bundle-*.arrays", most=KEEP)
    return (meta, arrays, stored) if with_checksum else (meta, arrays)
