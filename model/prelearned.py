"""The words a tagger's lexicon starts a long run with, learned once per model.

A process learns each word the first time it meets it: its part-of-speech
flag (from the tokeniser) and its value in each per-word column of the
:class:`.document.Lexicon` (feature column, keyword IDF and score, ...),
about 4 µs a word, and each ``--jobs`` worker learns for itself: 0.19 s of
a first pass over the corpus's 46,000 words, and 15% of tagging 10 MB of
unlabelled stories (60,000 words). About half of a corpus's words, the
frequent half, are the model's own vocabulary, the same in every run.

This module learns those once per model and install and keeps the words,
flags and columns in a cache file beside the segmenter's (see
:func:`.arrayfile.cache_dirs`); a long run (once the kernels are compiled,
see :mod:`.kernels`) copies them into its lexicon in a few milliseconds,
before forking its workers. The first long run with a model builds the file
(about 0.1 s).

The file's name hashes what its contents follow from: the model bundle's
checksum, the source files of this package (the column functions), the
tokeniser's files and NumPy's version. Before a file is used, a sample of its
words is learned afresh and compared with it: a tagger whose settings were
changed after loading (or anything the name missed) gets a new file instead
of stale columns. ``NEWSTAG_PRELEARN=off`` turns all of it off; results are
the same either way (tested).
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
import weakref
from pathlib import Path

import numpy as np

from . import arrayfile
from .segmenter import _jieba_files, file_stamps

FORMAT = 2  # bump when the file's layout changes (2: an arrayfile, not an .npz)
KEEP = 8  # lexicon files kept in a cache folder (one per model and source version)
CHECK = 64  # words learned afresh to check a file against the tagger before it is used
_ROLES = ("keyword_extractor", "summariser")  # the tagger's steps whose columns are kept, by attribute


def attach(tagger, checksum: str) -> None:
    """Give ``tagger``'s lexicon its prelearned words for long runs (see the
    module's docstring); ``checksum``: its bundle's."""
    if os.environ.get("NEWSTAG_PRELEARN", "on").lower() in ("off", "0", "no"):
        return
    ref = weakref.ref(tagger)  # (the lexicon belongs to the tagger: no cycle back to it)
    tagger.featurizer.lexicon.prelearned = lambda: start(ref(), checksum)


def start(tagger, checksum: str) -> tuple | None:
    """``(words, flags, columns)`` for ``tagger``'s lexicon: read from the cache
    file, else learned now and written there (None: no tagger)."""
    if tagger is None:
        return None
    lexicon = tagger.featurizer.lexicon
    names = _names(tagger)
    file_name = f"lexicon-{FORMAT}-{_key(tagger, checksum)}.arrays"
    got = _read(arrayfile.find(file_name), names)
    if got is not None and _agrees(lexicon, got):
        return got
    words, flags, cols = lexicon.learned(vocabulary(tagger))
    arrays = {"words": np.array("\n".join(words)), "flags": np.array("\n".join(flags)),
              **{f"col:{kept}": cols[name] for name, kept in names.items()}}
    # one file per model and source version: the oldest go
    arrayfile.keep(file_name, arrays, prune="lexicon-*", most=KEEP)  # (older formats too)
    return words, flags, {name: cols[name] for name in names}


def vocabulary(tagger) -> list[str]:
    """The words prelearned for ``tagger``: its feature vocabulary and its keyword
    and summary IDF tables' words."""
    words = set(tagger.featurizer.words)
    for role in _ROLES:
        words.update(getattr(getattr(tagger, role, None), "idf", None) or ())
    return sorted(w for w in words if w and "\n" not in w)  # (the file joins them with line breaks)


def _names(tagger) -> dict[str, str]:
    """The lexicon's column names → their names in the file: the lexicon's own
    columns keep theirs; a step's columns are named by its role (their names in
    the lexicon hold a per-process prefix). Another owner's columns are left
    out (computed as usual)."""
    lexicon = tagger.featurizer.lexicon
    roles = {}
    for role in _ROLES:
        step = getattr(tagger, role, None)
        if step is not None and getattr(step, "lexicon", None) is lexicon:
            step.columns(lexicon)  # (registered now if no article has been tagged yet)
            roles[id(step)] = role
    names = {}
    for name, owner in lexicon.column_names().items():
        if owner is None:
            names[name] = name
        elif id(owner) in roles:
            names[name] = roles[id(owner)] + name[name.index("."):]
    return names


def _key(tagger, checksum: str) -> str:
    h = hashlib.sha256(f"{FORMAT}\n{checksum}\n{np.__version__}\n{tagger.featurizer.tokenizer.backend}\n".encode())
    for path in sorted(Path(__file__).parent.glob("*.py")):  # the column functions, and what they call
        h.update(path.name.encode() + b"\0" + path.read_bytes())
    spec = importlib.util.find_spec("rjieba")  # the flags' source
    h.update(file_stamps(_jieba_files() + ([Path(spec.origin)] if spec is not None and spec.origin else [])))
    return h.hexdigest()[:16]


def _read(arrays: dict[str, np.ndarray] | None, names: dict[str, str]) -> tuple | None:
    """``(words, flags, columns)`` of a lexicon file's arrays (None: no file, or a damaged one)."""
    if arrays is None or "words" not in arrays or "flags" not in arrays:
        return None
    inverse = {kept: name for name, kept in names.items()}
    words = str(arrays["words"][()]).split("\n")
    flags = str(arrays["flags"][()]).split("\n")
    cols = {inverse[key[4:]]: a for key, a in arrays.items() if key.startswith("col:") and key[4:] in inverse}
    if len(flags) != len(words) or len(set(words)) != len(words):
        return None
    return words, flags, cols


def _agrees(lexicon, got: tuple) -> bool:
    """Whether ``CHECK`` of the file's words, spread over it, learned afresh have
    its flags and column values."""
    words, flags, cols = got
    step = max(1, len(words) // CHECK)
    sample = words[::step]
    _, fresh_flags, fresh = lexicon.learned(sample)  # (sorted, as the file's words are)
    if fresh_flags != flags[::step]:
        return False
    return all(name in fresh and np.array_equal(fresh[name], col[::step]) for name, col in cols.items())
