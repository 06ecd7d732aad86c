"""One article, analysed once: folded text, tokens, part-of-speech flags, offsets.

Labels, keywords and the summary all read the same :class:`Document`, so an
article is folded (see :func:`.normalise.fold`) and segmented exactly once
however many of them run. Tokens are kept as integer ids into a
:class:`Lexicon`, whose per-word *columns* (is it a content word? its feature
column? its keyword IDF?) are computed the first time a word is seen in the
process; after that, per-token work is NumPy indexing, not Python loops.

Because folding keeps every character in place, ``starts[i]`` (the offset of
token ``i`` in the folded body) is also its offset in the original body.
"""
from __future__ import annotations

import re
import threading
from functools import cached_property
from itertools import repeat
from typing import Callable

import numpy as np

from . import kernels
from .document_kernels import CHAR_KINDS, CLOSING_QUOTES, END_MARKS, cuts, insert_words, word_ids
from .normalise import fold
from .tokenize import Tokenizer, is_content

# a sentence ends after an end mark (a closing quote right after it stays with
# it), at a line break or at a paragraph indent (see .document_kernels)
SENTENCE_END = re.compile(f"(?<=[{END_MARKS}])(?![{CLOSING_QUOTES}])|(?<=[{END_MARKS}][{CLOSING_QUOTES}])"
                          "|\n+|\u3000\u3000+")
MIN_SENTENCE = 6  # characters; shorter pieces (stray numbers, "图") are no sentences


class _Words:
    """One thread's lexicon contents: ids, words, flags and column arrays."""

    def __init__(self, generation: int):
        self.generation = generation
        self.full = False  # past max_words: start afresh at the next checkpoint
        self.started = False  # given the lexicon's prelearned words (see Lexicon.prelearned)
        self.given = 0  # how many: max_words counts the words learned besides
        self.ids: dict[str, int] = {}
        self.words: list[str] = []
        self.flags: list[str] = []
        self.cols: dict[str, np.ndarray] = {}
        # the compiled lookup's copy of the words (see .document_kernels), brought
        # up to date before each use: words[:hashed] are in it
        self.hashed = 0
        self.table = np.zeros(0, np.int64)
        self.keys = np.zeros(0, np.uint32)
        self.key_start = np.zeros(1, np.int64)


def _grown(arr: np.ndarray, size: int, fill) -> np.ndarray:
    """``arr`` if it holds ``size`` items, else a copy at least twice as long, padded with ``fill``."""
    if len(arr) >= size:
        return arr
    out = np.full(max(size, 2 * len(arr)), fill, arr.dtype)
    out[: len(arr)] = arr
    return out


class Lexicon:
    """Word → integer id, with per-word columns computed once per process.

    A column is ``name → (function(word, flag) -> value, dtype, default)``;
    consumers add theirs with :meth:`add_column`. ``max_words`` bounds the
    memory of a long run: past it (not counting the prelearned words, below)
    the lexicon starts afresh at the next
    :meth:`checkpoint` (between batches, never while a batch's documents hold
    ids). Ids are never part of a result, only a way to look columns up, so
    results do not change.

    Each thread has its own words and ids (a Dask worker may tag with several
    threads; one thread starting afresh must not void another's ids); the
    column definitions are shared.

    ``prelearned``: None, or a function giving ``(words, flags, columns)`` (see
    :mod:`.prelearned`): words a long run starts with, their flags and their
    columns' values by column name, instead of computing them. Asked once,
    when the kernels are compiled (a long run); a column whose values are
    missing or of another length or type is computed as usual.
    """

    def __init__(self, tokenizer: Tokenizer, max_words: int = 200_000):
        self.tokenizer = tokenizer
        self.max_words = max_words
        # every word's length: token offsets are a cumulative sum of it (Document.starts)
        self._specs: dict[str, tuple[Callable[[str, str], object], object, object]] = {
            "len": (lambda word, flag: len(word), np.int64, 0)}
        self._owners: dict[str, object] = {}
        self._local = threading.local()
        self._lock = threading.Lock()
        self.prelearned: Callable[[], tuple | None] | None = None
        self._start: tuple | bool | None = None  # what prelearned() gave (False: nothing)

    @property
    def _w(self) -> _Words:
        w = getattr(self._local, "words", None)
        if w is None:
            w = self._local.words = _Words(0)
        return w

    @property
    def ids(self) -> dict[str, int]:
        return self._w.ids

    @property
    def words(self) -> list[str]:
        return self._w.words

    @property
    def flags(self) -> list[str]:
        return self._w.flags

    @property
    def generation(self) -> int:
        """Counts restarts (in this thread): ids from an earlier generation are void."""
        return self._w.generation

    def add_column(self, name: str, fn: Callable[[str, str], object], dtype, default=0) -> None:
        """Register column ``name`` (its values are computed when first asked for)."""
        with self._lock:
            self._specs[name] = (fn, dtype, default)

    def column(self, name: str) -> np.ndarray:
        """Values of column ``name``, indexed by word id."""
        w = self._w
        col = w.cols.get(name)
        if col is None:  # a column new to this thread: computed for the words it knows
            _, dtype, default = self._specs[name]
            col = self._fill(w, name, np.full(1024, default, dtype), 0)
        return col

    def _fill(self, w: _Words, name: str, col: np.ndarray, start: int) -> np.ndarray:
        """Column ``name`` (``col``, grown if need be) with the values of words ``start:`` filled in."""
        fn, _, default = self._specs[name]
        col = w.cols[name] = _grown(col, len(w.words), default)
        col[start: len(w.words)] = [fn(word, flag) for word, flag in zip(w.words[start:], w.flags[start:])]
        return col

    def columns_of(self, owner, specs: Callable[[], dict[str, tuple]]) -> str:
        """Register ``owner``'s columns (``specs()``: ``name → (fn, dtype, default)``,
        asked for once) once; return the prefix their names carry in this lexicon
        (``"<prefix>.<name>"``).

        The prefix is per owner object, so a copy of a keyword extractor with
        other settings gets columns of its own; the lexicon keeps the owner alive,
        so its ``id`` is never reused for another object.
        """
        prefix = f"o{id(owner)}"
        if prefix not in self._owners:
            with self._lock:
                if prefix not in self._owners:
                    for name, spec in specs().items():
                        self._specs[f"{prefix}.{name}"] = spec
                    self._owners[prefix] = owner
        return prefix

    def column_names(self) -> dict[str, object]:
        """Every registered column's name → its owner (None for the columns added
        with :meth:`add_column`)."""
        with self._lock:
            return {name: self._owners.get(name.partition(".")[0]) for name in self._specs}

    def learned(self, words: list[str]) -> tuple[list[str], list[str], dict[str, np.ndarray]]:
        """``words`` learned apart from this lexicon's own: ``(words, flags,
        columns)``, the distinct words sorted, their flags and every registered
        column's values for them (what :attr:`prelearned` gives)."""
        w = _Words(0)
        self._learn(w, words)
        with self._lock:
            specs = dict(self._specs)
        cols = {name: self._fill(w, name, np.full(len(w.words), default, dtype), 0)
                for name, (_, dtype, default) in specs.items()}
        return w.words, w.flags, cols

    def learn(self, words: list[str]) -> None:
        """Give ids (and part-of-speech flags) to the words not yet known."""
        self._learn(self._w, words)

    def _learn(self, w: _Words, words: list[str]) -> None:
        new = set(words).difference(w.ids)  # (not keys() - keys(): that walks all of the ids)
        if not new:
            return
        start = len(w.words)
        new = sorted(new)  # the same ids whatever the set's order
        for word in new:
            w.ids[word] = len(w.words)
            w.words.append(word)
        w.flags += self.tokenizer.flags(new)
        for name, col in list(w.cols.items()):
            self._fill(w, name, col, start)
        w.full = len(w.words) - w.given > self.max_words

    def _take_prelearned(self) -> None:
        """This thread's lexicon (its current generation) given :attr:`prelearned`'s
        words, if it has not been: their flags and column values are copied, not
        computed (the words it knew already keep their ids)."""
        w = self._w
        if w.started:
            return
        w.started = True
        if self._start is None:  # (asked outside the lock: it registers columns, which takes it)
            got = self.prelearned() or False
            with self._lock:
                if self._start is None:
                    self._start = got
        if not self._start:
            return
        words, flags, given = self._start
        with self._lock:
            specs = dict(self._specs)
        if len(flags) != len(words):
            return
        given = {name: col for name, col in given.items()
                 if name in specs and len(col) == len(words) and col.dtype == np.dtype(specs[name][1])}
        for name in given:
            if name not in w.cols:  # made now for the words known so far; the given values are copied in below
                self.column(name)
        known = w.ids
        new = [k for k, word in enumerate(words) if word not in known]
        if not new:
            return
        before = len(w.words)
        for k in new:
            known[words[k]] = len(w.words)
            w.words.append(words[k])
        w.flags += [flags[k] for k in new]
        at = np.asarray(new, np.int64)
        for name, col in list(w.cols.items()):
            if name in given:
                col = w.cols[name] = _grown(col, len(w.words), specs[name][2])
                col[before: len(w.words)] = given[name][at]
            else:
                self._fill(w, name, col, before)
        w.given = len(new)

    def checkpoint(self) -> None:
        """Start afresh if the lexicon has grown past ``max_words``. Call it only when
        no document about to be used still holds ids (e.g. before a batch); a
        document from before is re-encoded when used (:meth:`Document.refresh`)."""
        w = self._w
        if w.full:
            self._local.words = _Words(w.generation + 1)

    def encode(self, text: str) -> np.ndarray:
        """The ids of the segments of folded ``text`` (all of them, punctuation included)."""
        return self.encode_many([text])[0]

    def encode_many(self, texts: list[str]) -> list[np.ndarray]:
        """:meth:`encode` of several texts; the words new to the lexicon are learned
        together (learning has a cost per call, whatever the number of words).

        Each text's segments become ids as soon as it is cut, and only the
        unknown ones are kept: a batch's few hundred thousand segment strings
        alive at once made segmenting half as slow again (memory freshly
        touched rather than reused)."""
        return self._encode_many(texts)[0]

    def _encode_many(self, texts: list[str]) -> tuple[list[np.ndarray], Callable[[int], np.ndarray] | None]:
        """:meth:`encode_many`, and a function giving text ``k``'s token offsets
        where the compiled segmenter cut them (None otherwise)."""
        if kernels.is_compiled():
            segmenter = self.tokenizer.compiled()
            if segmenter is not None:
                return self._encode_compiled(texts, segmenter)
        cut = self.tokenizer.raw
        out, unknown = [], []
        for k, text in enumerate(texts):
            words = cut(text) if text else []
            ids = self._ids(words, text)
            if len(ids) and ids.min() < 0:  # words never seen in this thread (after a while, rare)
                at = np.flatnonzero(ids < 0).tolist()
                unknown.append((k, at, [words[i] for i in at]))
            out.append(ids)
        if unknown:
            self.learn([word for _, _, words in unknown for word in words])
            known = self.ids
            for k, at, words in unknown:
                out[k][at] = [known[word] for word in words]
        return out, None

    def _encode_compiled(self, texts: list[str], segmenter) -> tuple[list[np.ndarray], Callable[[int], np.ndarray]]:
        """:meth:`_encode_many` by :func:`.segment_kernels.segment_ids`: the same
        segments as the tokeniser's (tested), cut and looked up in one call for
        the whole batch; only unknown words are made into strings."""
        joined, ends, ids, tok_off, missing = segmenter.run(texts, self._lookup())
        starts = np.zeros(len(ends), np.int64)  # in the joined texts: tokens follow one another without gaps
        starts[1:] = ends[:-1]
        if missing:  # words never seen in this thread (after a while, rare)
            at = np.flatnonzero(ids < 0)
            words = [joined[a:b] for a, b in zip(starts[at].tolist(), ends[at].tolist())]
            self.learn(words)
            known = self.ids
            ids[at] = [known[word] for word in words]
        bounds = tok_off.tolist()

        def offsets(k: int) -> np.ndarray:  # text k's tokens start where its first one does
            a, b = bounds[k], bounds[k + 1]
            return starts[a:b] - starts[a] if b > a else starts[:0].copy()

        return [ids[a:b] for a, b in zip(bounds, bounds[1:])], offsets

    def _ids(self, words: list[str], text: str) -> np.ndarray:
        """The ids of the segments ``words`` of ``text``, -1 for a word not known yet."""
        known = self.ids
        if not kernels.is_compiled() or "\0" in text:  # (NUL separates the tokens below)
            return np.fromiter(map(known.get, words, repeat(-1)), np.int64, len(words))
        if not words:
            return np.zeros(0, np.int64)
        return word_ids(np.frombuffer(("\0".join(words) + "\0").encode("utf-32-le"), np.uint32), *self._lookup())

    def _lookup(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """This thread's compiled lookup ``(table, keys, key_start)``, holding every word it knows."""
        w = self._w
        if w.hashed < len(w.words) or not len(w.table):
            self._hash_new_words(w)
        return w.table, w.keys, w.key_start

    @staticmethod
    def _hash_new_words(w: _Words) -> None:
        """Enter the words learned since the last lookup into the compiled lookup's table."""
        n, new = len(w.words), w.words[w.hashed:]
        codes = np.frombuffer("".join(new).encode("utf-32-le"), np.uint32)
        at = int(w.key_start[w.hashed])
        w.keys = _grown(w.keys, at + len(codes), 0)
        w.keys[at: at + len(codes)] = codes
        w.key_start = _grown(w.key_start, n + 1, 0)
        w.key_start[w.hashed + 1: n + 1] = at + np.cumsum(np.fromiter(map(len, new), np.int64, len(new)))
        if 2 * n >= len(w.table):  # kept under half full: probes stay short (and never empty)
            w.table = np.full(max(1 << 16, 1 << (4 * n).bit_length()), -1, np.int64)
            insert_words(w.table, w.keys, w.key_start, 0, n)
        else:
            insert_words(w.table, w.keys, w.key_start, w.hashed, n)
        w.hashed = n

    def document(self, title: str, text: str) -> "Document":
        return self.documents([(title, text)])[0]

    def documents(self, pairs) -> list["Document"]:
        """A :class:`Document` for each ``(title, text)`` pair, segmented together."""
        docs = [Document(self, title or "", text or "", encode=False) for title, text in pairs]
        # every way of tagging makes its documents here: a long run, whichever
        # step it calls, pays the compiled kernels' start-up back (see .kernels)
        kernels.note_work(sum(len(d.title) + len(d.text) for d in docs))
        if self.prelearned is not None and kernels.is_compiled():  # a long run: worth the prelearned words
            self._take_prelearned()
        encoded, offsets = self._encode_many([t for d in docs for t in (d.body_f, d.title_f)])
        for k, doc in enumerate(docs):
            doc._take(encoded[2 * k], encoded[2 * k + 1])
            if offsets is not None:  # where the segmenter cut: no sum over the words' lengths
                doc.__dict__["starts"] = offsets(2 * k)
        return docs

    def __getstate__(self):
        # a per-process cache: a pickled lexicon (in a model sent to a worker) starts empty
        return {"tokenizer": self.tokenizer, "max_words": self.max_words, "_specs": self._specs,
                "_owners": self._owners}

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._local = threading.local()
        self._lock = threading.Lock()
        self.prelearned, self._start = None, None


class Document:
    """An article, segmented once.

    Attributes: ``title``/``text`` (as given), ``title_f``/``body_f`` (folded,
    same lengths), ``title_words``/``body_words`` (tokens), ``title_ids``/``body_ids``
    (int64 lexicon ids), ``starts`` (int64 offset of each body token in the body).
    """

    def __init__(self, lexicon: Lexicon, title: str, text: str, encode: bool = True):
        self.lexicon = lexicon
        self.cache: dict = {}  # what the steps derive from the document and share
        self.title, self.text = title, text
        self.title_f, self.body_f = fold(title), fold(text)
        if encode:  # (Lexicon.documents encodes a batch of documents together)
            self._encode()

    def _encode(self) -> None:
        self._take(*self.lexicon.encode_many([self.body_f, self.title_f]))

    def _take(self, body_ids: np.ndarray, title_ids: np.ndarray) -> None:
        self._words = self.lexicon._w  # whose ids these are: this thread's, this generation's
        self.body_ids, self.title_ids = body_ids, title_ids

    def words(self, ids: np.ndarray) -> list[str]:
        """The words of ``ids`` (this document's: e.g. a slice of :attr:`body_ids`)."""
        vocab = self._words.words
        return [vocab[i] for i in ids.tolist()]

    @property
    def body_words(self) -> list[str]:
        """The body's segments (made from :attr:`body_ids`: segmenting keeps no strings)."""
        return self.words(self.body_ids)

    @property
    def title_words(self) -> list[str]:
        return self.words(self.title_ids)

    def refresh(self) -> "Document":
        """Re-encode if the ids are not the current thread's current ones: the lexicon
        has started afresh since, or the document was made in another thread (ids
        index per-word columns, unchecked in compiled code)."""
        if self._words is not self.lexicon._w:
            self._encode()
            self.cache.clear()
        return self

    def column(self, name: str) -> np.ndarray:
        """:meth:`Lexicon.column` ``name`` for this document's ids (the columns of the
        words it was encoded with, which hold every word they know)."""
        col = self._words.cols.get(name)
        return col if col is not None else self.lexicon.column(name)

    @cached_property
    def starts(self) -> np.ndarray:
        lengths = self.refresh().column("len")[self.body_ids]
        return np.cumsum(lengths) - lengths

    @cached_property
    def codes(self) -> np.ndarray:
        """The body's (unfolded) code points, uint32: what the compiled loops read."""
        return np.frombuffer(self.text.encode("utf-32-le"), np.uint32)

    @cached_property
    def _cuts(self) -> tuple[np.ndarray, np.ndarray]:
        return cuts(self.codes, CHAR_KINDS, MIN_SENTENCE)

    @property
    def pieces(self) -> np.ndarray:
        """``(n, 2)`` start/end offsets of the body's pieces between sentence ends
        (whole body covered; a piece may be blank)."""
        return self._cuts[0]

    @property
    def sentence_spans(self) -> np.ndarray:
        """The ``(n, 2)`` spans of :attr:`sentences`, without making their strings."""
        return self._cuts[1]

    @cached_property
    def sentences(self) -> tuple[list[str], np.ndarray]:
        """The body's sentences (pieces stripped, at least ``MIN_SENTENCE`` long) and
        their ``(n, 2)`` spans in the body."""
        spans = self._cuts[1]
        text = self.text
        return [text[s:e] for s, e in spans.tolist()], spans


def own_document(step, title: str, text: str) -> Document:
    """``title``/``text`` segmented for a keyword extractor or summariser called
    on its own (not through a Tagger): with ``step.lexicon``, made on first use."""
    if step.lexicon is None:
        step.lexicon = Lexicon(step.tokenizer)
    step.lexicon.checkpoint()  # one article at a time: no other document holds ids
    return step.lexicon.document(title, text)


def content_column(word: str, flag: str) -> bool:
    """Column ``content``: a token that can carry a topic (see :func:`.tokenize.is_content`)."""
    return is_content(word)


__all__ = ["Lexicon", "Document", "SENTENCE_END", "END_MARKS", "MIN_SENTENCE", "content_column", "own_document"]
