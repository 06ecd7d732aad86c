"""The kernels compiled ahead of time: a native module built once per install.

numba's machine code, even loaded from its cache, costs every long run about
0.4 s before its first article: importing numba (0.17 s), rebuilding its
typing and target contexts and linking each kernel (0.25 s), and LLVM adds
about 170 MB to the process. A ``--jobs`` run pays that once, before it
forks, while the other core waits: a tenth of tagging 50 MB with two workers.

So ``make install`` (``python -m newstag.model.native``) also compiles the
kernels with ``numba.pycc`` into a CPython extension module, kept beside the
segmenter's tables in the cache (see :func:`.arrayfile.cache_dirs`). It holds
one function per argument types the tagging calls a kernel with (recorded
from a sample run, as numba compiled them) and loads in milliseconds, without
numba or LLVM. Its name carries a hash of the kernels' source, Python, NumPy
and the CPU: after a change to any kernel it is simply not found, and
kernels run as numba's code until it is built again (``make`` does it).

Unlike numba's dispatcher, the module's functions trust their arguments: an
array of another dtype would be read as if it had the compiled one. Each is
therefore called through a guard, generated from its argument types, that
checks every argument (class, dtype, dimensions, layout, writability: 0.4 to
1.3 µs a call, about what numba's own dispatcher spends choosing its machine
code); any other arguments go to numba's just-in-time code, which compiles
for them. Both give the same bits (``tests/test_kernels.py``).

``NEWSTAG_NATIVE=off`` never loads the module (numba's code only).
"""
from __future__ import annotations

import argparse
import contextlib
import hashlib
import importlib.util
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

FORMAT = 1
_HERE = Path(__file__).parent
# the Python classes that numba types as int64, float64 and bool (NumPy scalars of a type are typed as it)
_PYTHON_SCALARS = {"int64": int, "float64": float, "bool": bool}


def enabled() -> bool:
    return os.environ.get("NEWSTAG_NATIVE", "").lower() not in ("off", "0", "no", "false")


def _cpu() -> str:
    """What the machine code was compiled for: the CPU model and its features (a
    cache folder shared between machines must not hand one's code to another)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            lines = [x for x in fh if x.startswith(("model name", "flags"))]
        return "".join(sorted(set(lines)))
    except OSError:
        return platform.processor()


def key() -> str:
    """16 hex digits naming the module that fits these kernels, this Python, NumPy and CPU."""
    h = hashlib.sha256(f"{FORMAT}\n{sys.version}\n{np.__version__}\n{platform.machine()}\n{_cpu()}\n".encode())
    for path in sorted(_HERE.glob("*_kernels.py")):  # the modules that define kernels (not kernels.py)
        h.update(path.name.encode() + b"\0" + path.read_bytes())
    return h.hexdigest()[:16]


def _module_name(k: str) -> str:
    return f"newstag_kernels_{k}"


def _files(folder: Path, k: str) -> tuple[Path | None, Path]:
    """The extension module (None if absent) and its argument types file in ``folder``."""
    found = sorted(folder.glob(_module_name(k) + ".*.so")) + sorted(folder.glob(_module_name(k) + ".*.pyd"))
    return (found[0] if found else None), folder / f"{_module_name(k)}.json"


def find() -> tuple[Path, str, dict] | None:
    """``(module path, module name, kernel name → [argument types of each compiled
    version])`` of the module built for these kernels, or None."""
    from .arrayfile import cache_dirs

    k = key()
    for folder in cache_dirs():
        so, spec = _files(folder, k)
        if so is not None and spec.is_file():
            try:
                return so, _module_name(k), json.loads(spec.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
    return None


def load() -> dict | None:
    """Kernel name → ``[(function, argument types), ...]`` from the native module
    built for these kernels, or None (none built, switched off, or unloadable)."""
    if not enabled():
        return None
    found = find()
    if found is None:
        return None
    path, name, specs = found
    try:
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return {kernel: [(getattr(module, f"{kernel}__{i}"), args) for i, args in enumerate(versions)]
                for kernel, versions in specs.items()}
    except (ImportError, OSError, AttributeError):  # (a damaged file, types not matching the module)
        return None


# ------------------------------------------------------------------ guards
def _check(arg: str, t, consts: dict) -> str:
    """A Python expression true when ``arg`` has type ``t`` (see :func:`describe`)."""
    kind = t[0]
    if kind == "tuple":
        parts = [f"{arg}.__class__ is tuple", f"len({arg}) == {len(t[1])}"]
        parts += [_check(f"{arg}[{i}]", sub, consts) for i, sub in enumerate(t[1])]
        return "(" + " and ".join(parts) + ")"
    if kind == "array":
        _, dtype, ndim, layout, readonly = t
        name = f"D_{dtype}"
        consts[name] = np.dtype(dtype)
        # NumPy's flag bits: aligned, C- or Fortran-contiguous, writeable (one attribute, not three)
        need = 0x100 | {"C": 0x1, "F": 0x2}.get(layout, 0) | (0 if readonly else 0x400)
        return (f"({arg}.__class__ is ndarray and ({arg}.dtype is {name} or {arg}.dtype == {name}) "
                f"and {arg}.ndim == {ndim} and {arg}.flags.num & {need} == {need})")
    names = []
    classes = [np.dtype(kind).type] + ([_PYTHON_SCALARS[kind]] if kind in _PYTHON_SCALARS else [])
    for i, cls in enumerate(classes):
        names.append(f"S_{kind}_{i}")
        consts[names[-1]] = cls
    return "(" + " or ".join(f"{arg}.__class__ is {n}" for n in names) + ")"


def guard(versions: list[tuple], fallback):
    """A function calling the first of ``versions`` (``(native function, argument
    types)``) whose types the arguments have, else ``fallback``, with the same arguments."""
    nargs = len(versions[0][1])
    params = ", ".join(f"a{i}" for i in range(nargs))
    consts: dict = {"ndarray": np.ndarray, "fallback": fallback}
    lines = [f"def call({params}):"]
    for v, (fn, types) in enumerate(versions):
        if len(types) != nargs:
            continue
        consts[f"fn{v}"] = fn
        test = " and ".join(_check(f"a{i}", t, consts) for i, t in enumerate(types)) or "True"
        lines += [f"    if {test}:", f"        return fn{v}({params})"]
    lines.append(f"    return fallback({params})")
    namespace = dict(consts)
    exec("\n".join(lines), namespace)  # noqa: S102 - code made here from numba's type names only
    return namespace["call"]


def describe(t) -> list | None:
    """A numba type as JSON for :func:`guard`, or None for one it cannot check."""
    from numba.core import types

    if isinstance(t, types.BaseTuple):
        parts = [describe(x) for x in t]
        return None if None in parts else ["tuple", parts]
    if isinstance(t, types.Array):
        dtype = str(np.dtype(t.dtype.name))
        if t.layout not in ("C", "F", "A") or not t.aligned:
            return None
        return ["array", dtype, t.ndim, t.layout, not t.mutable]
    if isinstance(t, (types.Integer, types.Float, types.Boolean)) and not isinstance(t, types.Literal):
        return [str(np.dtype(t.name))]
    return None


# ------------------------------------------------------------------ building
def build(quiet: bool = False) -> Path | None:
    """Compile the kernels ahead of time into the first writable cache folder;
    returns the module's path (None if it cannot be built here: no numba.pycc,
    no C compiler). Runs the sample article of :func:`.kernels.warm` through
    numba first, to learn the argument types each kernel is called with: call
    it in a process that has not run kernels yet (``python -m newstag.model.native``)."""
    from . import kernels
    from .arrayfile import cache_dirs, write_cached

    say = (lambda *a: None) if quiet else (lambda *a: print(*a, file=sys.stderr))
    start = time.perf_counter()
    previous = os.environ.get("NEWSTAG_NATIVE")
    os.environ["NEWSTAG_NATIVE"] = "off"  # the sample must run as numba's code: its types are recorded
    try:
        kernels.warm()
    finally:
        if previous is None:
            del os.environ["NEWSTAG_NATIVE"]
        else:
            os.environ["NEWSTAG_NATIVE"] = previous
    try:
        from numba.pycc import CC
    except ImportError as exc:
        say(f"newstag: kernels not compiled ahead of time ({exc}); numba compiles them at run time")
        return None
    k = key()
    specs: dict[str, list] = {}
    with tempfile.TemporaryDirectory(prefix="newstag-native-") as tmp:
        try:
            cc = _exports(CC(_module_name(k)), kernels.registry(), specs)
            cc.output_dir = tmp
            if not specs:  # (a process whose kernels already ran natively recorded no types)
                say("newstag: kernels not compiled ahead of time (no kernel ran as numba's code)")
                return None
            try:
                with _array_type_cached():
                    cc.compile()
            except Exception:  # noqa: BLE001 - numba's internals changed: compiled as numba would
                cc.compile()
        except Exception as exc:  # noqa: BLE001 - no C compiler, a pycc change: numba at run time instead
            why = (str(exc).strip().splitlines() or [""])[0].split(". ")[0]  # (pycc adds conda advice)
            say(f"newstag: kernels not compiled ahead of time ({type(exc).__name__}: {why}); "
                "numba compiles them at run time")
            return None
        built = next(Path(tmp).glob(_module_name(k) + ".*"))
        for folder in cache_dirs():
            try:
                # the types first: a process finding the module finds them too
                write_cached(folder, _files(folder, k)[1].name, lambda fh: fh.write(json.dumps(specs).encode()))
                target = write_cached(folder, built.name, lambda fh: fh.write(built.read_bytes()))
                if folder == cache_dirs()[0]:  # the package's own: its earlier builds are never loaded again
                    for old in folder.glob("newstag_kernels_*"):
                        if not old.name.startswith(_module_name(k)):
                            old.unlink(missing_ok=True)
            except OSError:
                continue
            say(f"newstag: {sum(map(len, specs.values()))} kernels compiled ahead of time in "
                f"{time.perf_counter() - start:.0f} s: {target}")
            return target
    say("newstag: kernels not compiled ahead of time (no writable cache folder)")
    return None


def _exports(cc, registry, specs: dict):
    """``cc`` (a ``numba.pycc.CC``) exporting every version numba compiled of each
    kernel that Python calls, as ``<name>__<k>``; ``specs`` gets their argument types."""
    cc.target_cpu = "host"  # as numba's run-time code is: the cache key names the CPU
    cc.verbose = False
    for kern in registry:
        if kern.inline or kern.numba is None:
            continue
        for sig in kern.numba.signatures:
            full = kern.numba.overloads[sig].signature
            types = [describe(t) for t in full.args]
            if None in types:
                continue
            versions = specs.setdefault(kern.native_name, [])
            cc.export(f"{kern.native_name}__{len(versions)}", full)(kern.numba.py_func)
            versions.append(types)
    return cc


@contextlib.contextmanager
def _array_type_cached():
    """While the module is compiled: returning an array looks NumPy's array
    type up once per function, not on every call.

    numba's boxing code gets the type by unpickling it each time; in its own
    run-time code a cache keyed by address makes that cheap, but a pycc module
    calls plain ``pickle.loads``: 0.4 µs per array returned, a tenth of some
    kernels' calls. Here the type is kept in a global variable of the machine
    code after the first unpickling. (numba internals: if they change, the
    module is compiled as numba would.)"""
    from llvmlite import ir
    from numba.core import cgutils, types
    from numba.core.pythonapi import PythonAPI

    original = PythonAPI.nrt_adapt_ndarray_to_python

    def adapt(self, aryty, ary, dtypeptr):
        builder, module = self.builder, self.builder.module
        box = aryty.box_type  # np.ndarray, or a subclass numba boxes as such
        name = "newstag_box_type_" + "".join(c if c.isalnum() else "_" for c in f"{box.__module__}.{box.__qualname__}")
        slot = module.globals.get(name) or cgutils.add_global_variable(module, self.pyobj, name)
        if slot.initializer is None:
            slot.linkage = "internal"
            slot.initializer = ir.Constant(self.pyobj, None)
        with builder.if_then(cgutils.is_null(builder, builder.load(slot)), likely=False):
            # (a new reference, kept for good: the type outlives the module)
            builder.store(self.unserialize(self.serialize_object(box)), slot)
        fn = self._get_function(ir.FunctionType(self.pyobj, [self.voidptr, self.pyobj, ir.IntType(32),
                                                             ir.IntType(32), self.pyobj]),
                                name="NRT_adapt_ndarray_to_python_acqref")
        ndim = self.context.get_constant(types.int32, aryty.ndim)
        writable = self.context.get_constant(types.int32, int(aryty.mutable))
        aryptr = cgutils.alloca_once_value(builder, ary)
        return builder.call(fn, [builder.bitcast(aryptr, self.voidptr), builder.load(slot), ndim, writable,
                                 dtypeptr])

    PythonAPI.nrt_adapt_ndarray_to_python = adapt
    try:
        yield
    finally:
        PythonAPI.nrt_adapt_ndarray_to_python = original


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m newstag.model.native", description=__doc__.split("\n\n")[0])
    ap.add_argument("--if-missing", action="store_true", help="do nothing if a module for these kernels exists")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)
    if args.if_missing and find() is not None:
        return 0
    build(quiet=args.quiet)
    return 0  # never fails an install: without the module, numba compiles at run time


if __name__ == "__main__":
    sys.exit(main())
