"""Batch tagging: records in, result or error dicts out, in input order.

Streaming throughout: articles are read, tagged and written one chunk at a
time, so memory stays flat however large the input. With ``jobs > 1`` chunks
are tagged in worker processes, each of which loads the model once; output
order is the input order.
"""
from __future__ import annotations

import itertools
import multiprocessing as mp
from pathlib import Path
from typing import Iterable, Iterator

from .reader import Article, Failure, Record
from .writers import error_record, result_record

_WORKER = {}


def tag_record(tagger, rec: Record, top_k: int | None = None, min_score: float | None = None,
               with_text: bool = False, explain: bool = False) -> dict:
    """One input record → one output dict (a failure passes through as an error record)."""
    if isinstance(rec, Failure):
        return error_record(rec)
    try:
        pred = tagger.predict_one(rec.title, rec.text, top_k=top_k, min_score=min_score)
    except Exception as exc:  # one bad article must not stop a batch
        return error_record(Failure(rec.id, rec.source, f"{rec.source}: tagging failed ({type(exc).__name__}: {exc})"))
    out = result_record(rec, pred)
    if explain:
        out["explain"] = tagger.explain(rec.title, rec.text)
    if with_text:
        out["_text"] = rec.text
    return out


def _init_worker(model_path: str, options: dict) -> None:
    from . import load

    _WORKER["tagger"] = load(model_path)
    _WORKER["options"] = options


def _tag_chunk(chunk: list[Record]) -> list[dict]:
    return [tag_record(_WORKER["tagger"], r, **_WORKER["options"]) for r in chunk]


def _chunks(records: Iterable[Record], size: int) -> Iterator[list[Record]]:
    it = iter(records)
    while chunk := list(itertools.islice(it, size)):
        yield chunk


def tag_records(records: Iterable[Record], *, tagger=None, model_path: str | Path | None = None, jobs: int = 1,
                top_k: int | None = None, min_score: float | None = None, with_text: bool = False,
                explain: bool = False, chunk_size: int = 32) -> Iterator[dict]:
    """Tag ``records`` in order. ``jobs > 1`` needs ``model_path`` (workers load it themselves)."""
    options = {"top_k": top_k, "min_score": min_score, "with_text": with_text, "explain": explain}
    if jobs <= 1:
        if tagger is None:
            from . import load

            tagger = load(model_path)
        for rec in records:
            yield tag_record(tagger, rec, **options)
        return
    if model_path is None:
        raise ValueError("jobs > 1 needs model_path")
    ctx = mp.get_context("forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn")
    with ctx.Pool(jobs, initializer=_init_worker, initargs=(str(model_path), options)) as pool:
        # imap keeps input order; a bounded number of chunks are in flight
        for results in pool.imap(_tag_chunk, _chunks(records, chunk_size), chunksize=1):
            yield from results


def tag_partition(lines: Iterable[str], model_path: str | Path, top_k: int | None = None,
                  min_score: float | None = None, name: str = "<partition>") -> list[dict]:
    """Tag JSON Lines strings: suited to ``dask.bag.map_partitions`` (the model is
    loaded once per worker process and cached)."""
    import io

    from .reader import iter_jsonl

    key = ("dask", str(model_path))
    if key not in _WORKER:
        from . import load

        _WORKER[key] = load(model_path)
    tagger = _WORKER[key]
    data = "".join(ln if ln.endswith("\n") else ln + "\n" for ln in lines).encode("utf-8")
    return [tag_record(tagger, r, top_k=top_k, min_score=min_score) for r in iter_jsonl(io.BytesIO(data), name)]


__all__ = ["tag_records", "tag_record", "tag_partition", "Article"]
