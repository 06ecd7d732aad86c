"""Inner loops, compiled to machine code once a run is long enough to pay for it.

Per article, looking its tokens up, cutting its sentences, building its
label features, choosing its keywords and summarising it run loops over a
few hundred tokens or characters. Written with NumPy they are dozens of calls
on tiny arrays, each costing more in call overhead than in arithmetic;
compiled, they cost a few microseconds.

Compiled code comes from the native module that ``make install`` builds
ahead of time (see :mod:`.native`: it loads in milliseconds), or, where
there is none for the kernels' current source or for the arguments' types,
from numba. numba's import and first use take about half a second even when
its machine code is already cached (the first compile ever takes about
thirty seconds) and LLVM adds about 170 MB to the process's resident memory.
Tagging one article from the command line must stay quick, so a
:class:`Kernel` runs as plain Python (a few milliseconds an article) until
the process has tagged ``COMPILE_AFTER`` characters of text, about fifty
broadcast stories, and compiled from then on.

Both ways give the same results, bit for bit: kernels use float operations
that compiled and interpreted code round alike (no fast-math, ``math`` rather
than NumPy's vectorised ``exp``/``log``), and ``tests/test_kernels.py``
checks it on the corpus. So when the switch happens can change speed only,
never output (``--jobs``, Dask partitions and chunk sizes stay invisible).

A kernel that Python calls is never called by another kernel: shared code
is an ``inline=True`` kernel that both inline. (Loaded from numba's cache, a
kernel that another module's kernel called could no longer return its
arrays to Python once that kernel had loaded: "descr is NULL".)

Inline kernels and reference counts: numba takes a new reference to each
array argument of an inline kernel where it is called and drops it where the
kernel ends. Its pruning pass removes the pair in simple code, but not when
the call sits in a ``while a and f(...)`` condition, nor (often) when the
kernel branches around a loop; then every call costs two atomic updates per
array argument, a few dozen for the segmenter's helpers. So hot loops call
such helpers outside loop conditions (``while a: if not f(...): break``), a
helper's cheapest case is tested before the call, and the two worst ones
(the segmenter's block cut, the feature rows' term hits) are written out in
their only callers. Measured on the corpus: segmenting 0.16 → 0.10 s a pass
(numba's code), feature rows 7% and all tagging 7% less CPU time.

``NEWSTAG_KERNELS`` overrides the rule: ``python`` never compiles,
``compiled`` compiles from the start, ``auto`` (the default) as above.
"""
from __future__ import annotations

import os
import sys
import threading
import time
import types
from typing import Callable

COMPILE_AFTER = 30_000  # characters tagged in this process before kernels are compiled
MODES = ("auto", "python", "compiled")

_lock = threading.Lock()
_state = {"mode": "auto", "seen": 0, "compiled": False, "told": False, "warm": False, "native": None}
_registry: list["Kernel"] = []


class Kernel:
    """A function run as Python or, once the process compiles (:func:`is_compiled`), as machine code:
    the native module's or numba's.

    ``python`` (optional) is a NumPy version of the same computation for the
    interpreted mode, where a loop over every element would be too slow; it
    must give the same bits (tested).
    """

    def __init__(self, fn: Callable, python: Callable | None = None, inline: bool = False):
        self.fn = fn
        self.python = python or fn
        self.inline = inline
        self.jit = None  # what compiled mode calls: the native module's function (guarded) or numba's
        self.numba = None  # numba's dispatcher, made when some kernel first needs numba
        self.ready = False  # called compiled at least once
        # its name in the native module (see .native): kernels of two modules may share a name
        self.native_name = f"{fn.__module__.rpartition('.')[2]}__{fn.__name__}"
        self.__doc__, self.__name__, self.__wrapped__ = fn.__doc__, fn.__name__, fn
        _registry.append(self)

    def __call__(self, *args):
        if _state["compiled"]:
            try:
                return self.jit(*args) if self.ready else self._first_call(args)
            except SystemError as exc:
                # Ctrl-C during a kernel is handled when the kernel boxes its first
                # returned array, in Python; numba's tuple boxing then reports a
                # SystemError, which a caller's `except Exception` would swallow
                cause = exc.__cause__ or exc.__context__
                while cause is not None and not isinstance(cause, KeyboardInterrupt):
                    cause = cause.__cause__ or cause.__context__
                if cause is not None:
                    raise KeyboardInterrupt from None
                raise
        return self.python(*args)

    def _numba_call(self, *args):
        # the native function's guard sends it arguments of other types
        if self.numba is None:
            with _lock:
                _numba_dispatchers()
        return self.numba(*args)

    def _first_call(self, args):
        jit = self.jit or _compile_all(self)
        start = time.perf_counter()
        out = jit(*args)  # numba compiles here or loads its cache (the native module is loaded already)
        self.ready = True
        if time.perf_counter() - start > 2 and not _state["told"]:
            # a long pause in a run deserves a word; it happens once per install
            _state["told"] = True
            print("newstag: compiling the tagging kernels for this machine (about 30 s, once: later runs load "
                  "them from the cache; `make install` does it ahead)", file=sys.stderr)
        return out


def kernel(fn: Callable | None = None, *, python: Callable | None = None, inline: bool = False):
    """Decorator: ``@kernel`` or ``@kernel(python=numpy_version)``; ``inline=True`` for a
    small helper called in another kernel's inner loop (compiled into its caller:
    a call per element costs more than the helper's work)."""
    if fn is None:
        return lambda f: Kernel(f, python, inline)
    return Kernel(fn, python, inline)


def set_mode(mode: str) -> None:
    """``"auto"``, ``"python"`` or ``"compiled"`` (see the module docstring)."""
    if mode not in MODES:
        raise ValueError(f"NEWSTAG_KERNELS must be one of {', '.join(MODES)}, not {mode!r}")
    _state["mode"] = mode
    # once warm (machine code loaded), compiled is the faster way for any amount of text
    _state["compiled"] = mode == "compiled" or (mode == "auto" and (_state["seen"] >= COMPILE_AFTER or _state["warm"]))


def mode() -> str:
    return _state["mode"]


def is_compiled() -> bool:
    return _state["compiled"]


def note_work(chars: int) -> None:
    """Count ``chars`` characters about to be tagged; in ``auto`` mode, compile past the threshold."""
    _state["seen"] += chars
    if not _state["compiled"]:
        set_mode(_state["mode"])


def _compile_all(asking: Kernel):
    """``asking``'s compiled function: from the native module built ahead of time
    if it has this kernel (see :mod:`.native`), else numba's."""
    with _lock:
        if asking.jit is None:
            if _state["native"] is None:
                from . import native

                _state["native"] = native.load() or {}
            versions = None if asking.inline else _state["native"].get(asking.native_name)
            if versions:
                from .native import guard

                asking.jit = guard(versions, asking._numba_call)
            else:
                _numba_dispatchers()
                asking.jit = asking.numba
    return asking.jit


def _numba_dispatchers() -> None:
    """Wrap every kernel with ``numba.njit`` (machine code cached on disk); the
    caller holds ``_lock``. Calls between kernels of a module then go to the
    numba versions: numba resolves a module's globals when it compiles."""
    if all(k.numba is not None for k in _registry):
        return
    numba = _import_numba()
    # each kernel compiled from a copy of its module's globals in which
    # the kernels it calls are their numba versions
    spaces: dict[int, dict] = {}
    for k in [k for k in _registry if k.numba is None]:
        space = spaces.setdefault(id(k.fn.__globals__), dict(k.fn.__globals__))
        fn = types.FunctionType(k.fn.__code__, space, k.fn.__name__, k.fn.__defaults__, k.fn.__closure__)
        k.numba = numba.njit(cache=True, inline="always" if k.inline else "never")(fn)
    for space in spaces.values():
        space.update({name: obj.numba for name, obj in space.items() if isinstance(obj, Kernel)})


def backend() -> str:
    """How kernels run now: ``"python"``, ``"native"`` (the module built ahead of
    time is loaded) or ``"numba"``."""
    if not _state["compiled"]:
        return "python"
    return "native" if _state["native"] else "numba"


def registry() -> list[Kernel]:
    """Every kernel of the modules imported so far."""
    return list(_registry)


def _import_numba():
    """numba, with its array functions' module imported without scipy.linalg.

    That module checks for a BLAS when first imported by importing
    scipy.linalg, which cost 0.1-0.25 s of every long run's start. No kernel
    calls BLAS; without one numba only sums np.correlate/np.convolve with a
    loop of its own, and np.dot still imports scipy.linalg when compiled."""
    import numba

    if "numba.np.arraymath" not in sys.modules and "scipy.linalg" not in sys.modules:
        sys.modules["scipy.linalg"] = None  # (an import of it raises ImportError meanwhile)
        try:
            import numba.np.arraymath  # noqa: F401
        finally:
            del sys.modules["scipy.linalg"]
    return numba


_SAMPLE_TITLE = "人工智能大模型与机器人产业加快发展"
_SAMPLE_SENTENCES = ("记者从工业和信息化部了解到，今年前三季度我国人工智能核心产业规模超过5000亿元，同比增长12.5%。",
                     "多家企业发布《具身智能白皮书》，“天工”人形机器人在工厂完成搬运、质检等任务。",
                     "专家表示，算力基础设施建设持续推进，大模型正加快在制造、医疗和金融等领域落地应用。")


def warm(tagger=None) -> float:
    """Compile every kernel now (or load it from the cache) by tagging a sample
    article with ``tagger`` (default: the shipped model); returns the seconds it
    took. In ``auto`` mode, the process then runs compiled from its first article.
    A process about to fork workers does this once for all of them."""
    from . import load

    start = time.perf_counter()
    previous = mode()
    set_mode("compiled")
    try:
        tagger = tagger or load()
        body = "".join(_SAMPLE_SENTENCES) * 12  # long enough to be scored passage by passage too
        tagger.predict_many([(_SAMPLE_TITLE, body), ("", _SAMPLE_SENTENCES[0])])
        _state["warm"] = True
    finally:
        set_mode(previous)
    return time.perf_counter() - start


try:
    set_mode(os.environ.get("NEWSTAG_KERNELS", "auto"))
except ValueError as exc:  # a typo in the environment should not stop a tagging run
    print(f"newstag: {exc}; using auto", file=sys.stderr)
