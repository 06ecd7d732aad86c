"""Batch tagging: records in, result or error dicts out, in input order.

Streaming throughout: articles are read, tagged and written one chunk at a
time, so memory stays flat however large the input.

Three ways to run the same :func:`tag_record` on every article:

* ``jobs=1``: in this process;
* ``jobs=N``: N worker processes: forked from this one with its tagger where
  the platform allows (the model and machine code loaded once, before), else
  each loading the model once. Each tags one chunk at a time, and at most
  ``2 * N + 2`` chunks are read and not yet written, so a slow writer or a
  huge input never piles up results or articles in memory; a worker that dies
  (killed, out of memory) stops the run with an error, never hangs it;
* ``dask="tcp://host:8786"``: chunks go to a Dask cluster. The input is read
  here, by the same reader as the local path, so ids and sources (``path:line``)
  are exactly those of a local run; the model file is sent to the workers once
  (they need newstag installed, not the model file or the input).

:func:`tag_partition` is the same tagging for a ``dask.bag`` of JSON Lines
strings (``bag.map_partitions(tag_partition, model=...)``). Dask is imported
only when one of these is used.
"""
from __future__ import annotations

import gc
import hashlib
import io
import itertools
import multiprocessing as mp
import os
import signal
import sys
import tempfile
import threading
from collections import deque
from pathlib import Path
from typing import Iterable, Iterator, NamedTuple

from . import kernels
from .reader import Article, Failure, RawLine, Record, parse_jsonl_line
from .tagger import BATCH
from .writers import error_record, jsonl_line, preformatted, result_record

# The tagger handed to forked workers (set only while they start).
_WORKER: dict = {}
# Per-process cache of a Dask worker: model key → tagger (one model at a time).
_MODELS: dict = {}


class PipelineError(RuntimeError):
    """Tagging cannot go on (a worker cannot load the model, no Dask scheduler, ...);
    ``str()`` is a one-line message."""


class Block(NamedTuple):
    """Consecutive results as one string of JSON Lines (``text``, ``count`` of
    them), and apart the ones the writing process reads (``notes``: each error
    record and each result with warnings, :func:`~.writers.preformatted`, in
    order). A worker's chunk crosses the pipe as one string, and the writing
    process writes it at once: handling results one by one was most of its work,
    on the cores the workers need (see :func:`tag_records`)."""
    text: str
    count: int
    notes: list


def tag_record(tagger, rec: Record, top_k: int | None = None, min_score: float | None = None,
               with_text: bool = False, explain: bool = False, labels_only: bool = False) -> dict:
    """One input record → one output dict (a failure passes through as an error record).

    ``labels_only`` skips keywords and the summary (about 1.5 times as fast)."""
    if isinstance(rec, Failure):
        return error_record(rec)
    try:
        pred = tagger.predict_one(rec.title, rec.text, top_k=top_k, min_score=min_score,
                                  keywords=not labels_only, summary=not labels_only)
    except Exception as exc:  # one bad article must not stop a batch
        return error_record(Failure(rec.id, rec.source, f"{rec.source}: tagging failed ({type(exc).__name__}: {exc})"))
    return _output(tagger, rec, pred, with_text, explain)


def _output(tagger, rec: Article, pred, with_text: bool, explain: bool) -> dict:
    out = result_record(rec, pred)
    if explain:
        out["explain"] = tagger.explain(rec.title, rec.text)
    if with_text:
        out["_text"] = rec.text
    return out


def tag_chunk(tagger, records: list[Record], top_k: int | None = None, min_score: float | None = None,
              with_text: bool = False, explain: bool = False, labels_only: bool = False,
              preformat: bool = False, blocks: bool = False) -> list:
    """:func:`tag_record` of each record, the articles' labels scored together
    (the same results, faster); if the batch fails, each article on its own,
    so one bad article gets an error record and the rest their tags.
    A :class:`~.reader.RawLine` is parsed here first, as the reader would have.
    ``preformat``: records come back :func:`~.writers.preformatted` (JSONL made here);
    ``blocks``: one :class:`Block` comes back instead."""
    records = [parse_jsonl_line(r.name, r.lineno, r.raw) if isinstance(r, RawLine) else r for r in records]
    articles = [r for r in records if not isinstance(r, Failure)]
    try:
        preds = iter(tagger.predict_many([(a.title, a.text) for a in articles], top_k=top_k, min_score=min_score,
                                         keywords=not labels_only, summary=not labels_only))
    except Exception:  # noqa: BLE001 - find the bad article: one at a time, with error records
        out = [tag_record(tagger, r, top_k, min_score, with_text, explain, labels_only) for r in records]
    else:
        out = [error_record(r) if isinstance(r, Failure) else _output(tagger, r, next(preds), with_text, explain)
               for r in records]
    if blocks:
        return [Block("".join(map(jsonl_line, out)), len(out),
                      [preformatted(r) for r in out if "error" in r or "warnings" in r])]
    return [preformatted(r) for r in out] if preformat else out


def settle_gc(collect: bool = True) -> None:
    """Garbage collection for a process that does nothing but tag (the
    ``newstag`` command, a ``--jobs`` worker): what is alive now, the model
    above all, is frozen out of it (after a collection, so that no garbage is
    frozen with it), and a young collection waits for about 30 times as many
    new objects as by default.

    Tagging makes no reference cycles (tested): its garbage goes by reference
    counting, and the collector's passes only walked live objects, a full pass
    all of the model's. On 20 MB of corpus articles: 91 young collections
    instead of 590, no full one while tagging instead of 4, and 0.05 s
    collecting instead of 0.37 s of about 8 s.

    Only where newstag owns the process: the settings are the whole
    process's, and an object alive now that dies later in a cycle (common in
    a longer-lived program) is never collected.

    ``collect=False`` (a worker forked from a tagging process): freeze without
    collecting first. A collection there walked every object copied from the
    parent (70 ms of each worker's start, and a copy of each page it touched);
    what is frozen with them is at most the garbage the parent had at the fork."""
    if collect:
        gc.collect()
    gc.freeze()
    gc.set_threshold(20000, 20, 10)


def _chunks(records: Iterable[Record], size: int) -> Iterator[list[Record]]:
    it = iter(records)
    while chunk := list(itertools.islice(it, size)):
        yield chunk


def _ordered(submit, records: Iterable[Record], chunk_size: int, max_pending: int) -> Iterator[dict]:
    """Submit chunks with ``submit(chunk) -> handle`` (``handle()`` waits for its
    results), keeping at most ``max_pending`` in flight; yield results in order."""
    pending: deque = deque()
    for chunk in _chunks(records, chunk_size):
        pending.append(submit(chunk))
        if len(pending) >= max_pending:
            yield from pending.popleft()()
    while pending:
        yield from pending.popleft()()


# ------------------------------------------------------------------ local processes
# Our own few lines rather than multiprocessing.Pool: a Pool whose worker is
# killed (the OOM killer, a crash) loses that worker's task and waits for it
# forever, and Pool.terminate() can hang for good when its task thread is
# blocked writing a large chunk that no worker will read (seen with `| head`).
# Here each worker has its own pipe and one chunk at a time; the parent runs
# no threads, notices a dead worker at once, and stops workers by signal.

def _worker_main(conn, model_path: str | None, options: dict, inherited=()) -> None:
    """A worker process: tag the chunks that come down ``conn`` until ``None``.

    ``inherited``: the parent's ends of the workers forked before this one; closed
    here, so that each worker sees end-of-file as soon as the parent is gone."""
    # Ctrl-C goes to the whole process group: the parent handles it (and stops us)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for other in inherited:
        other.close()
    tagger = _WORKER.pop("tagger", None)  # forked: the tagger came with the copy of the parent
    forked = tagger is not None
    error = None
    if tagger is None:
        from . import load

        try:
            tagger = load(model_path)
        except Exception as exc:  # reported with the first chunk
            error = f"worker cannot load the model: {exc}"
    # forked: again, for what the parent made since (the machine code above all)
    settle_gc(collect=not forked)
    try:
        while (task := conn.recv()) is not None:
            number, chunk = task
            if error is None:
                try:
                    conn.send((number, tag_chunk(tagger, chunk, **options)))
                    continue
                except Exception as exc:  # noqa: BLE001 - tag_chunk already isolates bad articles
                    error = f"worker failed ({type(exc).__name__}: {exc})"
            conn.send((number, PipelineError(error)))
    except (EOFError, OSError):  # the parent went away
        pass


class _Worker:
    def __init__(self, ctx, model_path, options, inherited=()):
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_worker_main, args=(child, model_path, options, inherited), daemon=True)
        try:
            self.process.start()
        except BaseException:
            self.conn.close()
            raise
        finally:
            child.close()
        self.chunk: int | None = None  # the number of the chunk it is tagging
        self.articles = ""  # which input records those are, for a message

    def give(self, number: int, chunk: list, first: int) -> None:
        self.chunk, self.articles = number, f"{first}–{first + len(chunk) - 1}"
        try:
            self.conn.send((number, chunk))
        except OSError:  # it died between chunks: its sentinel tells
            pass

    def stop(self, now: bool) -> None:
        if not now:
            try:
                self.conn.send(None)
            except OSError:
                now = True
        if now:
            self.process.terminate()
        self.process.join(5 if not now else 2)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        self.conn.close()


def _tag_in_pool(records, model_path, jobs: int, options: dict, chunk_size: int, tagger=None) -> Iterator[dict]:
    results = _pool_results(records, model_path, jobs, options, chunk_size, tagger)
    next(results)  # start the workers now, before the caller starts threads (a progress bar's)
    return results


def _warm_uninterrupted(tagger) -> None:
    """:func:`.kernels.warm`, with a Ctrl-C during it raised after it: numba's
    loading runs through ctypes callbacks, which would swallow it."""
    if threading.current_thread() is not threading.main_thread():
        kernels.warm(tagger)
        return
    caught = []
    previous = signal.signal(signal.SIGINT, lambda *_: caught.append(True))
    try:
        kernels.warm(tagger)
    finally:
        signal.signal(signal.SIGINT, previous)
    if caught:
        raise KeyboardInterrupt


def _pool_results(records, model_path, jobs: int, options: dict, chunk_size: int, tagger) -> Iterator:
    from multiprocessing.connection import wait

    methods = mp.get_all_start_methods()
    fork = tagger is not None and "fork" in methods and threading.active_count() == 1
    if fork:
        # workers start as copies of this process, with its model and (warmed here
        # once) machine code: a fresh worker would import newstag, load the model
        # and the kernels, about 1 s apiece. Only from a single thread: a fork copies
        # no other thread, and a lock one of them held would stay held.
        if kernels.mode() != "python":  # (NEWSTAG_KERNELS=python: never compile)
            _warm_uninterrupted(tagger)
        for stream in (sys.stdout, sys.stderr):
            stream.flush()  # or each copy would write what was still buffered again
        _WORKER["tagger"] = tagger
        ctx, path = mp.get_context("fork"), None
    else:
        ctx, path = mp.get_context("forkserver" if "forkserver" in methods else "spawn"), str(model_path)
    workers: list[_Worker] = []
    done = False
    try:
        try:
            for _ in range(jobs):
                workers.append(_Worker(ctx, path, options, [w.conn for w in workers] if fork else ()))
        except OSError as exc:  # a process limit, no memory to fork
            raise PipelineError(f"cannot start {jobs} worker processes ({exc.strerror or exc}); try fewer --jobs") \
                from None
        _WORKER.pop("tagger", None)  # only the copies need it there
        yield None  # (the workers are running: closing this generator from here on stops them)
        chunks = enumerate(_chunks(records, chunk_size))
        finished: dict[int, list[dict]] = {}  # tagged, waiting for an earlier chunk
        next_out, read_all, first = 0, False, 1
        max_pending = 2 * jobs + 2  # chunks read and not yet written: memory stays bounded

        def hand_out() -> None:  # every idle worker gets the next chunk, within the bound
            nonlocal read_all, first
            for w in workers:
                if read_all or sum(x.chunk is not None for x in workers) + len(finished) >= max_pending:
                    return
                if w.chunk is None:
                    task = next(chunks, None)
                    if task is None:
                        read_all = True
                        return
                    w.give(*task, first)
                    first += len(task[1])

        while True:
            hand_out()
            if next_out in finished:
                while next_out in finished:
                    yield from finished.pop(next_out)
                    next_out += 1
                hand_out()  # (the slots just written out)
            busy = [w for w in workers if w.chunk is not None]
            if not busy:
                if read_all:
                    break
                continue
            ready = wait([w.conn for w in busy] + [w.process.sentinel for w in busy])
            for w in busy:
                if w.conn in ready or (w.process.sentinel in ready and w.conn.poll()):
                    try:
                        number, out = w.conn.recv()
                    except (EOFError, OSError):
                        out = None
                    if isinstance(out, PipelineError):
                        raise out
                    if out is not None:
                        finished[number] = out
                        w.chunk = None
                        continue
                if w.process.sentinel in ready or not w.process.is_alive():
                    w.process.join(1)  # (reaped: its exit code known)
                    code = w.process.exitcode
                    how = f"was killed by signal {-code}" if code is not None and code < 0 else f"exited ({code})"
                    raise PipelineError(f"a worker process {how} while tagging input records {w.articles} "
                                        "(out of memory? try fewer --jobs)")
        done = True
    finally:
        _WORKER.pop("tagger", None)
        # normal end: let workers exit; error, Ctrl-C or an abandoned generator: stop them now
        for w in workers:
            w.stop(now=not done)


# ------------------------------------------------------------------ Dask
def _model_payload(model_path) -> tuple[str, bytes]:
    data = Path(model_path).read_bytes()
    return hashlib.sha256(data).hexdigest(), data


def _tagger_for(key: str, model) -> object:
    """The tagger for ``model`` (a path, or bundle bytes with their sha256 ``key``),
    loaded once per process."""
    cached = _MODELS.get(key)
    if cached is not None:
        return cached
    from . import load

    if isinstance(model, (bytes, bytearray, memoryview)):
        # bundles are verified files; a private temp file keeps that one code path
        fd, tmp = tempfile.mkstemp(suffix=".joblib", prefix="newstag-model-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(model)
            tagger = load(tmp)
        finally:
            os.unlink(tmp)
    else:
        tagger = load(model)
    _MODELS.clear()  # one model per worker at a time
    _MODELS[key] = tagger
    return tagger


def _dask_tag_chunk(chunk: list[Record], key: str, model: bytes, options: dict) -> list[dict]:
    tagger = _tagger_for(key, model)
    return tag_chunk(tagger, chunk, **options)


def _check_reachable(address: str) -> None:
    """Fail in seconds, not after the client's connect timeout, when nothing listens
    at a ``tcp://host:port`` address (a typo, a scheduler not started)."""
    import socket

    if "://" in address and not address.startswith("tcp://"):
        return  # tls://, ws://...: leave it to the client
    hostport = address.split("://", 1)[-1].rstrip("/")
    host, _, port = hostport.rpartition(":")
    if not host or not port.isdigit():
        raise PipelineError(f"--dask: {address!r} is not a scheduler address like tcp://host:8786")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=5).close()
    except OSError as exc:
        raise PipelineError(f"cannot connect to the Dask scheduler at {address} ({exc.strerror or exc})") from None


def _tag_on_dask(records, model_path, address: str, options: dict, chunk_size: int) -> Iterator[dict]:
    try:
        from distributed import Client
    except ImportError:
        raise PipelineError("--dask needs Dask: pip install 'newstag[dask]'") from None
    _check_reachable(address)
    try:
        client = Client(address, timeout="30s")
    except (OSError, TimeoutError, ValueError) as exc:
        raise PipelineError(f"cannot connect to the Dask scheduler at {address} ({type(exc).__name__}: {exc})") \
            from None
    pending_futures: list = []
    try:
        key, data = _model_payload(model_path)
        # one copy of the model per worker, sent once; tasks refer to it
        model_future = client.scatter(data, broadcast=True, hash=False)
        slots = max(1, sum(client.nthreads().values()))

        def submit(chunk):
            fut = client.submit(_dask_tag_chunk, chunk, key, model_future, options, pure=False)
            pending_futures.append(fut)
            return fut.result

        yield from _ordered(submit, records, chunk_size, 2 * slots + 2)
    finally:
        for fut in pending_futures:
            if not fut.done():
                fut.cancel()
        client.close()


# ------------------------------------------------------------------ entry points
def tag_records(records: Iterable[Record], *, tagger=None, model_path: str | Path | None = None, jobs: int = 1,
                top_k: int | None = None, min_score: float | None = None, with_text: bool = False,
                explain: bool = False, labels_only: bool = False, chunk_size: int = BATCH,
                dask: str | None = None, preformat: bool = False, blocks: bool = False) -> Iterator:
    """Tag ``records`` (:class:`Article` or :class:`Failure`) and yield output dicts
    (or, ``blocks``, :class:`Block` s) in input order.

    Parameters
    ----------
    tagger : Tagger, optional
        Used when ``jobs == 1`` (loaded from ``model_path`` if not given). With
        ``jobs > 1``, on a platform that can fork and from a caller with no other
        thread running, the workers start as copies of this process and its
        tagger (which must be ``model_path``'s); otherwise each loads ``model_path``.
    model_path : path
        The bundle; needed for ``jobs > 1`` and ``dask`` (workers load it themselves).
    jobs : int, default 1
        Worker processes on this machine.
    dask : str, optional
        A Dask scheduler address (``tcp://host:8786``); takes precedence over ``jobs``.
    chunk_size : int, default 256 (``tagger.BATCH``)
        Articles per task sent to a worker (a worker tags them as one batch).
    preformat : bool, default False
        Yield :func:`~.writers.preformatted` records: their JSON Lines are made
        where they are tagged (in the workers), and the writing process only
        writes them.
    blocks : bool, default False
        Yield a :class:`Block` per chunk instead of a record per article (JSON
        Lines made where they are tagged, as ``preformat``): with workers the
        writing process then does nothing per article, and leaves the cores to
        them (on 50 MB with two workers, its CPU time 0.22 → 0.17 s and the run
        1.5% shorter).

    Raises :class:`PipelineError` when workers cannot run at all.
    """
    options = {"top_k": top_k, "min_score": min_score, "with_text": with_text, "explain": explain,
               "labels_only": labels_only, "preformat": preformat, "blocks": blocks}
    if dask:
        if model_path is None:
            raise ValueError("dask needs model_path")
        return _tag_on_dask(records, model_path, dask, options, chunk_size)
    if jobs <= 1:
        if tagger is None:
            from . import load

            tagger = load(model_path)
        # chunks of one batch (see Tagger.predict_many): output still flows every
        # fraction of a second (progress, `| head`)
        return (res for chunk in _chunks(records, BATCH) for res in tag_chunk(tagger, chunk, **options))
    if model_path is None:
        raise ValueError("jobs > 1 needs model_path")
    return _tag_in_pool(records, model_path, jobs, options, chunk_size, tagger)


def tag_partition(lines: Iterable, model: str | Path | bytes, top_k: int | None = None,
                  min_score: float | None = None, name: str = "<partition>", first_line: int = 1) -> list[dict]:
    """Tag JSON Lines for ``dask.bag.map_partitions``; returns a list of output dicts.

    Parameters
    ----------
    lines : iterable of str or bytes, or of ``(line_number, line)`` pairs
        One partition. Give pairs (e.g. a bag of ``enumerate(file, 1)``) so
        that ids and sources are the global ``name:line`` of a local run; plain
        lines are numbered from ``first_line``.
    model : path or bytes
        A bundle path readable by the workers, or the bundle's bytes. The
        tagger is loaded once per worker process and cached.
    name : str
        The input's name, as in ``source`` (``name:line``).

    Example::

        import dask.bag as db
        with open("big.jsonl", encoding="utf-8") as fh:
            bag = db.from_sequence(enumerate(fh, 1), partition_size=2000)
        results = bag.map_partitions(tag_partition, model="model.joblib", name="big.jsonl").compute()
    """
    from .reader import iter_jsonl

    if isinstance(model, (bytes, bytearray, memoryview)):
        key = hashlib.sha256(model).hexdigest()
    else:
        key = f"path:{os.path.abspath(model)}"
    tagger = _tagger_for(key, model)
    records = []
    for i, item in enumerate(lines):
        lineno, line = item if isinstance(item, tuple) else (first_line + i, item)
        raw = line.encode("utf-8") if isinstance(line, str) else bytes(line)
        records.extend(iter_jsonl(io.BytesIO(raw), name, start=lineno - 1))
    return tag_chunk(tagger, records, top_k=top_k, min_score=min_score)


__all__ = ["tag_records", "tag_record", "tag_partition", "PipelineError", "Article"]
