"""Article → sparse feature vector, identical at training and tagging time.

Three blocks share one index space ``[words | char n-grams | evidence]``:

* **words**: jieba tokens of title and body, title tokens counted
  ``title_weight`` times, sublinear TF × IDF, L2-normalised;
* **chars**: CJK character n-grams (default bigrams) of the same text, same
  weighting: they carry across outlets when new compounds segment badly;
* **evidence**: per taxonomy label, ``log1p`` of how often its name or aliases
  occur (title hits count double). Unlike TF-IDF these do not shrink as an
  article gets longer, so a label's own vocabulary still fires in a long,
  multi-topic tech-media piece.

Two paths compute the same values. Training counts strings
(:meth:`Featurizer.analyse` → :meth:`Featurizer.vector`, a CSR matrix with
:meth:`Featurizer.matrix`), which vocabulary building needs. Tagging works on
the token ids of :class:`.document.Document` s, a batch at a time
(:meth:`Featurizer.rows` → :class:`FeatureRows`), with NumPy or, once the
kernels are compiled, in one loop (:mod:`.feature_kernels`), and the rows'
logits are summed by a kernel (:mod:`.label_kernels`); tests check that the
paths agree. A long article also gets one row per passage.
"""
from __future__ import annotations

import math
import operator
import re
import threading
from collections import Counter
from dataclasses import dataclass, field
from itertools import repeat

import numpy as np

from . import kernels
from .document import Document, Lexicon, content_column
from .feature_kernels import BIGRAM_HASH, CJK_FIRST, CJK_LAST, feature_rows, new_scratch
from .label_kernels import row_logits
from .labels import SETS, Taxonomy
from .tokenize import Tokenizer, is_content

_CJK_RUN = re.compile(r"[\u4e00-\u9fff]{2,}")


@dataclass
class FeatureSettings:
    """Feature settings; recorded in the bundle.

    title_weight : int, default 2
        How many times title tokens count.
    char_ngrams : tuple of int, default (2,)
        CJK character n-gram lengths; ``()`` turns the block off.
    word_weight, char_weight, evidence_weight : float
        Block scales applied after normalisation.
    min_df : int, default 2
        Minimum document frequency for a word or n-gram to enter the vocabulary.
    max_words, max_chars : int
        Vocabulary caps (most frequent kept), which bound the bundle size.
    window_chars : int, default 600
        Articles longer than ``2 * window_chars`` are also scored per passage of
        about this many characters, and label scores are pooled (see passage_pooling).
    evidence_length_norm : float, default 0.5
        Exponent alpha: taxonomy hit counts are divided by
        ``max(1, len / evidence_reference_chars) ** alpha`` (0 = raw counts,
        1 = hits per reference length).
    evidence_reference_chars : int, default 600
    passage_pooling : {"max", "blend"}, default "blend"
        How passage scores combine with the whole article's (see Tagger.scores).
    """

    title_weight: int = 2
    char_ngrams: tuple[int, ...] = (2,)
    word_weight: float = 1.0
    char_weight: float = 1.0
    evidence_weight: float = 0.5
    min_df: int = 2
    max_words: int = 40000
    max_chars: int = 40000
    window_chars: int = 600
    evidence_length_norm: float = 0.5
    evidence_reference_chars: int = 600
    passage_pooling: str = "blend"

    def validate(self) -> "FeatureSettings":
        if self.title_weight < 0 or self.min_df < 1:
            raise ValueError("title_weight must be >= 0 and min_df >= 1")
        if any(n < 1 or n > 4 for n in self.char_ngrams):
            raise ValueError("char_ngrams lengths must be between 1 and 4")
        if self.window_chars < 100:
            raise ValueError("window_chars must be at least 100")
        if self.passage_pooling not in ("max", "blend"):
            raise ValueError("passage_pooling must be 'max' or 'blend'")
        return self


def char_grams(text: str, sizes: tuple[int, ...]) -> list[str]:
    """CJK character n-grams of normalised text (n-grams never cross punctuation)."""
    out: list[str] = []
    for run in _CJK_RUN.findall(text):
        for n in sizes:
            if n == 2:  # the common case, with the loop in C
                out.extend(map(operator.add, run, run[1:]))
            else:
                out.extend(run[i:i + n] for i in range(len(run) - n + 1))
    return out


_EMPTY = np.zeros(0, np.int64)
_NO_BIGRAMS = np.full((1, 2), -1, np.int32)  # a bigram table with one empty slot
# 1 + log(tf) for the usual term frequencies (whole multiples of 1 up to 4095):
# a table lookup gives the same bits whatever the batch (NumPy's vectorised
# log may differ in the last bit between its SIMD body and scalar tail)
_LOG_TF = (1 + np.log(np.maximum(np.arange(4096, dtype=np.float32), 1))).astype(np.float32)


def _log_tf(tf: np.ndarray) -> np.ndarray:
    whole = (tf == np.round(tf)) & (tf < len(_LOG_TF))
    if whole.all():
        return _LOG_TF[tf.astype(np.int64)]
    out = np.empty(len(tf), np.float32)
    out[whole] = _LOG_TF[tf[whole].astype(np.int64)]
    out[~whole] = [1 + math.log(x) for x in tf[~whole].tolist()]
    return out


def _weighted_counts(keys: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct ``keys`` (ascending) and the sum of their ``weights`` (float32)."""
    if len(keys) and not np.array_equal(weights, np.round(weights)):
        uniq, inv = np.unique(keys, return_inverse=True)
        return uniq, np.bincount(inv, weights=weights).astype(np.float32)
    # whole weights (title_weight is a count): an entry of weight w is w entries,
    # and a plain sort counts them (no inverse index to build)
    keys = np.sort(np.repeat(keys, weights.astype(np.int64)) if len(keys) and weights.max() > 1 else keys)
    first = np.flatnonzero(np.concatenate([[True], keys[1:] != keys[:-1]])) if len(keys) else _EMPTY
    return keys[first], np.diff(np.append(first, len(keys))).astype(np.float32)


class _BigramTable:
    """CJK bigram → column: an open-addressing hash table (linear probing) of
    the vocabulary's CJK bigrams, at most a third full: 40,000 bigrams take
    2**17 slots, 1 MB, which stay in the CPU's L2 cache. (A dense table over
    their characters, 2,100 × 2,100 int32 or 18 MB, missed the caches at
    almost every bigram and took 11-46 ms to build.) Keys and slots: see
    :mod:`.feature_kernels`, whose ``_bigrams`` probes it the same way."""

    def __init__(self, chars: dict[str, int]):
        pairs = np.frombuffer("".join(chars).encode("utf-32-le"), np.uint32).reshape(-1, 2).astype(np.int64)
        cols = np.fromiter(chars.values(), np.int64, len(chars))
        cjk = ((pairs >= CJK_FIRST) & (pairs <= CJK_LAST)).all(axis=1)  # (no other bigram is looked up)
        keys, cols = (pairs[cjk, 0] - CJK_FIRST) << 15 | (pairs[cjk, 1] - CJK_FIRST), cols[cjk]
        bits = (3 * len(keys)).bit_length() if len(keys) else 0
        self.shift, mask = 32 - bits, (1 << bits) - 1
        self.slots = np.full((1 << bits, 2), -1, np.int32)
        at = self._home(keys)
        todo = np.arange(len(keys))
        while len(todo):  # each round, the first key to reach a free slot takes it; the others move on
            free = self.slots[at[todo], 0] < 0
            _, first = np.unique(at[todo[free]], return_index=True)
            took = todo[free][first]
            self.slots[at[took], 0], self.slots[at[took], 1] = keys[took], cols[took]
            todo = np.setdiff1d(todo, took, assume_unique=True)
            at[todo] = (at[todo] + 1) & mask

    def _home(self, keys: np.ndarray) -> np.ndarray:
        return ((keys * BIGRAM_HASH) & 0xFFFFFFFF) >> self.shift

    def lookup(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        u = np.frombuffer(text.encode("utf-32-le"), np.uint32).astype(np.int64)
        cjk = (u >= CJK_FIRST) & (u <= CJK_LAST)
        pos = np.flatnonzero(cjk[:-1] & cjk[1:])
        keys = (u[pos] - CJK_FIRST) << 15 | (u[pos + 1] - CJK_FIRST)
        cols = np.full(len(keys), -1, np.int64)
        at, mask = self._home(keys), len(self.slots) - 1
        todo = np.arange(len(keys))
        while len(todo):  # probe until the key or an empty slot
            found = self.slots[at[todo], 0] == keys[todo]
            cols[todo[found]] = self.slots[at[todo[found]], 1]
            todo = todo[~found & (self.slots[at[todo], 0] >= 0)]
            at[todo] = (at[todo] + 1) & mask
        hit = cols >= 0
        return cols[hit], pos[hit]


@dataclass
class Analysed:
    """Intermediate per-text counts, before vocabulary lookup."""

    words: Counter
    chars: Counter
    evidence: list[float]


@dataclass
class Featurizer:
    """Maps text to ``(ids, values)`` over a fitted vocabulary.

    Attributes (after :meth:`fit` or loading): ``words``/``chars`` (token → column),
    ``idf`` (float32, one per word/char column), ``evidence_labels`` (the
    ``(set, label)`` pair of each evidence column).
    """

    settings: FeatureSettings
    tokenizer: Tokenizer
    taxonomy: Taxonomy
    words: dict[str, int] = field(default_factory=dict)
    chars: dict[str, int] = field(default_factory=dict)
    idf: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))

    @property
    def evidence_labels(self) -> list[tuple[str, str]]:
        return [(s, lab) for s in SETS for lab in self.taxonomy[s].labels]

    @property
    def n_features(self) -> int:
        return len(self.words) + len(self.chars) + len(self.evidence_labels)

    def feature_names(self) -> list[str]:
        """Readable name per column: ``w:算力``, ``c:算力``, ``tax:技术/算力``."""
        names = [""] * self.n_features
        for t, i in self.words.items():
            names[i] = f"w:{t}"
        for t, i in self.chars.items():
            names[i] = f"c:{t}"
        base = len(self.words) + len(self.chars)
        for j, (s, lab) in enumerate(self.evidence_labels):
            names[base + j] = f"tax:{self.taxonomy[s].field}/{lab}"
        return names

    # ------------------------------------------------------------ analysis
    @property
    def lexicon(self) -> Lexicon:
        """The lexicon documents are encoded with (built on first use, with this
        featurizer's columns; the keyword extractor and summariser add theirs)."""
        lex = self.__dict__.get("_lexicon")
        if lex is None:
            lex = self.__dict__["_lexicon"] = Lexicon(self.tokenizer)
            lex.add_column("content", content_column, bool, False)
            lex.add_column("feat.word", self._word_column, np.int64, -1)
            lex.add_column("feat.term", self._term_column, np.int64, -1)
        return lex

    def __getstate__(self):
        # the lexicon is a per-process cache, rebuilt where it is needed
        state = dict(self.__dict__)
        for key in ("_lexicon", "_term_cols", "_term_index", "_char_lookup", "_targets", "_rows_scratch"):
            state.pop(key, None)
        return state

    def _word_column(self, word: str, flag: str) -> int:
        i = self.words.get(word, -1)  # (most new words are not in the vocabulary: test that first)
        return i if i < 0 or is_content(word) else -1

    def _term_column(self, word: str, flag: str) -> int:
        # index of the word in _term_columns() (-1: no taxonomy term)
        if getattr(self, "_term_index", None) is None:
            self._term_index = {t: i for i, t in enumerate(self._term_columns())}
        i = self._term_index.get(word, -1)  # (as _word_column: the lookup first)
        return i if i < 0 or is_content(word) else -1

    def document(self, title: str, text: str) -> Document:
        """``title`` and ``text`` segmented once (see :class:`.document.Document`)."""
        return self.lexicon.document(title, text)

    def analyse(self, title: str, text: str | None = None) -> Analysed:
        """Count tokens, n-grams and taxonomy hits of one (title, body) pair
        (or of a :class:`Document` passed alone); the string-keyed form that
        :meth:`fit` needs."""
        if isinstance(title, Document):
            return self._analyse(title.refresh())
        self.lexicon.checkpoint()  # counted into strings right away: no ids outlive this call
        return self._analyse(self.document(title, text))

    def _analyse(self, doc: Document) -> Analysed:
        s = self.settings
        content = doc.lexicon.column("content")
        words = Counter(w for w, keep in zip(doc.body_words, content[doc.body_ids]) if keep)
        chars = Counter(char_grams(doc.body_f, s.char_ngrams)) if s.char_ngrams else Counter()
        if doc.title_f and s.title_weight:
            for w, keep in zip(doc.title_words, content[doc.title_ids]):
                if keep:
                    words[w] += s.title_weight
            if s.char_ngrams:
                for g in char_grams(doc.title_f, s.char_ngrams):
                    chars[g] += s.title_weight
        # Taxonomy terms are in the tokeniser's dictionary, so counting them on
        # tokens is as good as substring search and far cheaper than a regex.
        counts = [0] * len(self.evidence_labels)
        term_cols = self._term_columns()
        for t in words.keys() & term_cols.keys():
            for j in term_cols[t]:
                counts[j] += words[t]
        return Analysed(words, chars, self._evidence(counts, len(doc.body_f)))

    def _evidence(self, counts, length: int) -> list[float]:
        """Evidence features of one text: ``log1p`` of its label hit counts, length-scaled."""
        scale = self._length_scale(length)
        return [math.log1p(n / scale) for n in counts]

    def _evidence_values(self, counts: list[float], lengths: list[int]) -> list[float]:
        """``_evidence`` of single counts, each with its text's length, times evidence_weight."""
        w = self.settings.evidence_weight
        return [math.log1p(n / self._length_scale(length)) * w for n, length in zip(counts, lengths)]

    def _length_scale(self, length: int) -> float:
        # Hit counts grow with length while annotators label what an article is
        # mostly about: dividing by (length / reference)^alpha keeps a passing
        # mention in a long analysis from counting like a short story's focus.
        s = self.settings
        return max(1.0, length / s.evidence_reference_chars) ** s.evidence_length_norm

    def _term_columns(self) -> dict[str, tuple[int, ...]]:
        """Taxonomy term → evidence columns of the labels it names (cached)."""
        if getattr(self, "_term_cols", None) is None:
            cols: dict[str, list[int]] = {}
            for j, (name, lab) in enumerate(self.evidence_labels):
                for term, labs in self.taxonomy[name].terms.items():
                    if lab in labs:
                        cols.setdefault(term, []).append(j)
            self._term_cols = {t: tuple(v) for t, v in cols.items()}
        return self._term_cols

    def passage_ids(self, doc: Document, positions: np.ndarray) -> np.ndarray | None:
        """Passage number of each body offset in ``positions``; None for an article
        too short to be cut (at most ``2 * window_chars``).

        Passages are runs of whole sentences: a sentence belongs to passage
        ``start // window_chars``, and a last passage shorter than a third
        of a window joins the one before.
        """
        size = self.settings.window_chars
        if len(doc.body_f) <= 2 * size:
            return None
        starts = doc.pieces[:, 0]
        passage = starts // size
        last = passage[-1]
        first_of_last = starts[np.searchsorted(passage, last)]
        if last > 0 and len(doc.body_f) - first_of_last < size // 3:
            passage[passage == last] = passage[passage < last].max()
        return passage[np.searchsorted(starts, positions, side="right") - 1]

    # ------------------------------------------------------------ fitting
    def fit(self, docs: list[Analysed], extra_df: Counter | None = None, extra_n: int = 0) -> "Featurizer":
        """Build vocabularies and IDF from analysed training documents.

        ``extra_df``/``extra_n``: document frequencies from unlabelled text
        (keys prefixed ``w:``/``c:``), pooled into the IDF so that it reflects
        the language at large, not only the labelled sample.
        """
        s = self.settings
        wdf, cdf = Counter(), Counter()
        for d in docs:
            wdf.update(d.words.keys())
            cdf.update(d.chars.keys())
        words = sorted((t for t, n in wdf.items() if n >= s.min_df), key=lambda t: (-wdf[t], t))[: s.max_words]
        chars = sorted((t for t, n in cdf.items() if n >= s.min_df), key=lambda t: (-cdf[t], t))[: s.max_chars]
        words.sort()
        chars.sort()
        self.words = {t: i for i, t in enumerate(words)}
        self.chars = {t: i + len(words) for i, t in enumerate(chars)}
        n = len(docs) + extra_n
        extra_df = extra_df or Counter()
        df = [wdf[t] + extra_df.get("w:" + t, 0) for t in words] + [cdf[t] + extra_df.get("c:" + t, 0) for t in chars]
        self.idf = (np.log((1 + n) / (1 + np.asarray(df, dtype=np.float64))) + 1).astype(np.float32)
        return self

    # ------------------------------------------------------------ transform
    def vector(self, a: Analysed) -> tuple[np.ndarray, np.ndarray]:
        """Sparse vector ``(ids, values)`` of one analysed text."""
        s = self.settings
        ids: list[np.ndarray] = []
        vals: list[np.ndarray] = []
        for counts, vocab, weight in ((a.words, self.words, s.word_weight), (a.chars, self.chars, s.char_weight)):
            if not counts:
                continue
            # lookups with the loops in C: -1 marks an out-of-vocabulary token
            found = np.fromiter(map(vocab.get, counts, repeat(-1)), np.int64, len(counts))
            keep = found >= 0
            if not keep.any():
                continue
            block_ids = found[keep]
            tf = np.fromiter(counts.values(), np.float32, len(counts))[keep]
            v = (1 + np.log(tf)) * self.idf[block_ids]
            v *= weight / np.linalg.norm(v)
            ids.append(block_ids)
            vals.append(v)
        base = len(self.words) + len(self.chars)
        ev = np.asarray(a.evidence, np.float32)
        nz = np.flatnonzero(ev)
        ids.append(base + nz)
        vals.append(ev[nz] * s.evidence_weight)
        return np.concatenate(ids).astype(np.int32), np.concatenate(vals).astype(np.float32)

    def vectors(self, doc: Document) -> list[tuple[np.ndarray, np.ndarray]]:
        """Sparse vectors ``(ids, values)`` of the whole article, then of each
        passage of a long one (the rows of :meth:`rows` for one document)."""
        return self.rows([doc]).vectors(0)

    def rows(self, docs: list[Document]) -> "FeatureRows":
        """Feature rows of a batch of documents: per document its whole-article
        row, then one per passage of a long article.

        Values equal ``vector(analyse(doc))`` (the training path) for the
        whole-article rows; they are computed from token ids with NumPy, over
        the whole batch at once. A row's values depend on its own document
        only, never on the rest of the batch.
        """
        s = self.settings
        docs = [d.refresh() for d in docs]
        if s.char_ngrams not in ((), (2,)):  # other n-gram sizes: the string path, slower
            return FeatureRows.from_vectors([self._string_vectors(d) for d in docs])
        if kernels.is_compiled() and docs:
            return self._compiled_rows(docs)
        n = len(docs)
        lex = docs[0].lexicon if n else self.lexicon
        word_col, term_col = lex.column("feat.word"), lex.column("feat.term")
        window = s.window_chars
        # rows: one per document, plus its passages
        passages = [self.passage_ids(d, d.pieces[:, 0]) if len(d.body_f) > 2 * window else None for d in docs]
        n_rows = np.asarray([1 if p is None else 1 + len(np.unique(p)) for p in passages], np.int64)
        first = np.concatenate([[0], np.cumsum(n_rows)[:-1]]).astype(np.int64)
        row_doc = np.repeat(np.arange(n), n_rows)
        row_len = np.zeros(int(n_rows.sum()), np.int64)
        row_len[first] = [len(d.body_f) for d in docs]
        title_w = np.asarray([float(s.title_weight) if d.title_f else 0.0 for d in docs])

        def tokens(ids_of):
            lens = np.fromiter((len(ids_of(d)) for d in docs), np.int64, n)
            ids = np.concatenate([ids_of(d) for d in docs]) if n else np.zeros(0, np.int64)
            return ids, np.repeat(np.arange(n), lens)

        t_ids, t_doc = tokens(lambda d: d.title_ids)
        b_ids, b_doc = tokens(lambda d: d.body_ids)
        t_chars, _, t_cdoc = self._bigram_batch([d.title_f for d in docs])
        b_chars, b_cpos, b_cdoc = self._bigram_batch([d.body_f for d in docs])
        t_words, b_words = word_col[t_ids], word_col[b_ids]
        t_terms, b_terms = term_col[t_ids], term_col[b_ids]
        tw_keep, bw_keep, tt_keep, bt_keep = t_words >= 0, b_words >= 0, t_terms >= 0, b_terms >= 0
        # whole-article entries: (row, column or term, weight)
        cols = [t_words[tw_keep], t_chars, b_words[bw_keep], b_chars]
        docs_of = [t_doc[tw_keep], t_cdoc, b_doc[bw_keep], b_cdoc]
        rows = [first[d] for d in docs_of]
        weights = [title_w[docs_of[0]], title_w[docs_of[1]], np.ones(len(cols[2])), np.ones(len(cols[3]))]
        terms = [t_terms[tt_keep], b_terms[bt_keep]]
        term_rows = [first[t_doc[tt_keep]], first[b_doc[bt_keep]]]
        term_w = [title_w[t_doc[tt_keep]], np.ones(len(terms[1]))]
        # passages of long articles: the title again, and the body entries inside
        for i in [i for i, p in enumerate(passages) if p is not None]:
            doc, piece_passage = docs[i], passages[i]
            labels = np.unique(piece_passage)
            bounds = np.append(doc.pieces[:, 0], len(doc.body_f))
            for k, p in enumerate(labels.tolist()):
                inside = np.flatnonzero(piece_passage == p)
                row_len[first[i] + 1 + k] = bounds[inside[-1] + 1] - bounds[inside[0]]
            starts = doc.starts
            w_in, c_in = bw_keep & (b_doc == i), b_cdoc == i
            tt_in, bt_in = tt_keep & (t_doc == i), bt_keep & (b_doc == i)
            t_in = tw_keep & (t_doc == i)
            t_cols = np.concatenate([t_words[t_in], t_chars[t_cdoc == i]])
            body_cols = np.concatenate([b_words[w_in], b_chars[c_in]])
            body_pos = np.concatenate([starts[w_in[b_doc == i]], b_cpos[c_in]])
            body_row = first[i] + 1 + np.searchsorted(labels, self.passage_ids(doc, body_pos))
            term_pos = starts[bt_in[b_doc == i]]
            term_row = first[i] + 1 + np.searchsorted(labels, self.passage_ids(doc, term_pos))
            p_rows = first[i] + 1 + np.arange(len(labels))
            cols += [np.tile(t_cols, len(labels)), body_cols]
            rows += [np.repeat(p_rows, len(t_cols)), body_row]
            weights += [np.full(len(t_cols) * len(labels), title_w[i]), np.ones(len(body_cols))]
            t_t = t_terms[tt_in]
            terms += [np.tile(t_t, len(labels)), b_terms[bt_in]]
            term_rows += [np.repeat(p_rows, len(t_t)), term_row]
            term_w += [np.full(len(t_t) * len(labels), title_w[i]), np.ones(int(bt_in.sum()))]
        return FeatureRows(self, row_doc, row_len, np.concatenate(rows), np.concatenate(cols),
                           np.concatenate(weights), np.concatenate(term_rows), np.concatenate(terms),
                           np.concatenate(term_w))

    def _compiled_rows(self, docs: list[Document]) -> "FeatureRows":
        """:meth:`rows` by :func:`.feature_kernels.feature_rows` (the same values)."""
        s = self.settings
        lex = docs[0].lexicon

        def offsets(lengths) -> np.ndarray:
            return np.concatenate([[0], np.cumsum(lengths, dtype=np.int64)])

        def codes(texts) -> tuple[np.ndarray, np.ndarray]:
            # one line per text: no bigram spans two of them
            joined = "\n".join(texts) + "\n"
            return np.frombuffer(joined.encode("utf-32-le"), np.uint32), offsets([len(t) + 1 for t in texts])

        n_pass, pieces, piece_row = [], [], []
        for d in docs:
            passage = self.passage_ids(d, d.pieces[:, 0])
            if passage is None:
                n_pass.append(0)
                continue
            # passage numbers never decrease along the body: each run of one
            # number is the next passage (np.unique's ranks, without its sort)
            rank = np.zeros(len(passage), np.int64)
            np.cumsum(passage[1:] != passage[:-1], out=rank[1:])
            n_pass.append(int(rank[-1]) + 1)
            pieces.append(d.pieces[:, 0])
            piece_row.append(rank)
        if s.char_ngrams and self.chars:
            bigrams = self._bigram_table()
            table = (bigrams.slots, bigrams.shift)
        else:
            table = (_NO_BIGRAMS, 32)
        out = feature_rows(
            (offsets([len(d.title_ids) for d in docs]), np.concatenate([d.title_ids for d in docs]),
             offsets([len(d.body_ids) for d in docs]), np.concatenate([d.body_ids for d in docs]),
             np.concatenate([d.starts for d in docs])),
            codes([d.title_f for d in docs]) + codes([d.body_f for d in docs]),
            (np.asarray(n_pass, np.int64), offsets([len(d.pieces) if n else 0 for d, n in zip(docs, n_pass)]),
             np.concatenate(pieces or [_EMPTY]), np.concatenate(piece_row or [_EMPTY]).astype(np.int64)),
            (lex.column("feat.word"), lex.column("feat.term"), self.idf) + table,
            (np.asarray([float(s.title_weight) if d.title_f else 0.0 for d in docs]),
             np.asarray([len(d.body_f) for d in docs], np.int64), len(self.words), len(self.words) + len(self.chars),
             np.float32(s.word_weight), np.float32(s.char_weight), _LOG_TF),
            self._term_targets() + (len(self.evidence_labels), float(s.evidence_weight),
                                    int(s.evidence_reference_chars), float(s.evidence_length_norm)),
            self._scratch())
        return FeatureRows.from_arrays(*out)

    def _scratch(self) -> tuple:
        """This thread's work arrays for :func:`.feature_kernels.feature_rows`."""
        local = self.__dict__.get("_rows_scratch")
        if local is None:
            local = self.__dict__.setdefault("_rows_scratch", threading.local())
        arrays = getattr(local, "arrays", None)
        n_feat = len(self.words) + len(self.chars)
        if arrays is None or len(arrays[0]) != n_feat:  # (sized for this vocabulary: unchecked indexing)
            arrays = local.arrays = new_scratch(n_feat)
        return arrays

    def _string_vectors(self, doc: Document) -> list[tuple[np.ndarray, np.ndarray]]:
        """:meth:`vectors` by counting strings (for n-gram sizes the fast path lacks):
        the whole article, then each passage re-segmented on its own with the title."""
        out = [self.vector(self._analyse(doc))]
        if len(doc.body_f) > 2 * self.settings.window_chars:
            starts = doc.pieces[:, 0]
            passage = self.passage_ids(doc, starts)
            bounds = np.append(starts, len(doc.text))
            for p in np.unique(passage).tolist():
                inside = np.flatnonzero(passage == p)
                body = doc.text[bounds[inside[0]]: bounds[inside[-1] + 1]]
                out.append(self.vector(self._analyse(doc.lexicon.document(doc.title, body))))
        return out

    def _bigram_batch(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Bigram columns of several texts at once: ``(columns, offset in its text, text index)``."""
        if not texts:
            return _EMPTY, _EMPTY, _EMPTY
        # joined by line breaks, which no bigram crosses
        cols, pos = self._bigram_columns("\n".join(texts))
        ends = np.cumsum([len(t) + 1 for t in texts])
        which = np.searchsorted(ends, pos, side="right")
        return cols, pos - (ends[which] - np.asarray([len(t) + 1 for t in texts])[which]), which

    def _bigram_columns(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """Columns of the in-vocabulary CJK bigrams of ``text`` and their offsets."""
        if not self.settings.char_ngrams or len(text) < 2 or not self.chars:
            return _EMPTY, _EMPTY
        return self._bigram_table().lookup(text)

    def _bigram_table(self) -> _BigramTable:
        table = self.__dict__.get("_char_lookup")
        if table is None:
            table = self.__dict__["_char_lookup"] = _BigramTable(self.chars)
        return table

    def _term_targets(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Taxonomy term index → the evidence columns it counts for, flattened:
        ``(lens, offsets, flat)``, term ``t``'s columns being
        ``flat[offsets[t]: offsets[t] + lens[t]]`` (cached)."""
        cached = self.__dict__.get("_targets")
        if cached is None:
            targets = list(self._term_columns().values())
            lens = np.asarray([len(t) for t in targets], np.int64)
            flat = np.asarray([j for t in targets for j in t], np.int64)
            cached = self.__dict__["_targets"] = (lens, np.cumsum(lens) - lens, flat)
        return cached

    def matrix(self, docs: list[Analysed]):
        """CSR matrix (n_docs × n_features) for training."""
        from scipy import sparse

        indptr, indices, data = [0], [], []
        for d in docs:
            i, v = self.vector(d)
            indices.append(i)
            data.append(v)
            indptr.append(indptr[-1] + len(i))
        return sparse.csr_matrix(
            (np.concatenate(data) if data else np.zeros(0, np.float32),
             np.concatenate(indices) if indices else np.zeros(0, np.int32),
             np.asarray(indptr)),
            shape=(len(docs), self.n_features),
        )


class FeatureRows:
    """Feature rows of a batch (see :meth:`Featurizer.rows`).

    ``row_doc`` (n_rows,): the document of each row; ``cols``, ``vals``: the
    non-zero features, row after row, each row's by column; ``starts[r]``:
    where row ``r``'s begin (``n_rows + 1`` offsets).
    """

    def __init__(self, f: Featurizer, row_doc, row_len, rows, cols, weights, term_rows, terms, term_w):
        s = f.settings
        n_rows = len(row_doc)
        self.row_doc = row_doc
        n_feat = len(f.words) + len(f.chars)
        # term frequencies per (row, column): title entries weigh title_weight
        keys = rows * n_feat + cols
        keep = weights > 0
        uniq, tf = _weighted_counts(keys[keep], weights[keep])
        rows, cols = uniq // n_feat, uniq % n_feat
        v = _log_tf(tf) * f.idf[cols]
        # words, then bigrams: each block of each row L2-normalised on its own
        block = rows * 2 + (cols >= len(f.words))
        ss = np.bincount(block, weights=v * v, minlength=2 * n_rows)
        v = v / np.sqrt(ss[block]).astype(np.float32)
        v *= np.where(cols >= len(f.words), s.char_weight, s.word_weight).astype(np.float32)
        # taxonomy evidence: term hits → the labels' columns, per row
        n_ev = len(f.evidence_labels)
        ev_rows, ev_cols, ev_vals = _EMPTY, _EMPTY, np.zeros(0, np.float32)
        keep = term_w > 0
        if keep.any():
            lens, offsets, flat = f._term_targets()
            t, r, w = terms[keep], term_rows[keep], term_w[keep]
            reps = lens[t]  # a term names one or more labels: one count for each
            within = np.arange(reps.sum()) - np.repeat(np.cumsum(reps) - reps, reps)
            key = np.repeat(r, reps) * n_ev + flat[np.repeat(offsets[t], reps) + within]
            ukey, inv = np.unique(key, return_inverse=True)
            counts = np.bincount(inv, weights=np.repeat(w, reps))
            ev_rows, ev_cols = ukey // n_ev, n_feat + ukey % n_ev
            ev_vals = np.asarray(f._evidence_values(counts.tolist(), row_len[ev_rows].tolist()), np.float32)
        # one sorted list of (row, column, value): words, bigrams, evidence
        order = np.argsort(np.concatenate([rows, ev_rows]), kind="stable")
        self.cols = np.concatenate([cols, ev_cols])[order]
        self.vals = np.concatenate([v.astype(np.float32), ev_vals])[order]
        self.starts = np.searchsorted(np.concatenate([rows, ev_rows])[order], np.arange(n_rows + 1))

    @classmethod
    def from_arrays(cls, row_doc, starts, cols, vals) -> "FeatureRows":
        """Rows given as ``starts`` (n_rows + 1) into ``cols``/``vals`` (the compiled path)."""
        self = cls.__new__(cls)
        self.row_doc, self.starts, self.cols, self.vals = row_doc, starts, cols, vals
        return self

    @classmethod
    def from_vectors(cls, per_doc: list[list[tuple[np.ndarray, np.ndarray]]]) -> "FeatureRows":
        """Rows built from ready ``(ids, values)`` vectors (the string path)."""
        vecs = [v for d in per_doc for v in d]
        cols, vals = [], []
        for ids, v in vecs:
            order = np.argsort(ids, kind="stable")
            cols.append(ids[order])
            vals.append(v[order])
        return cls.from_arrays(
            np.repeat(np.arange(len(per_doc)), [len(d) for d in per_doc]),
            np.concatenate([[0], np.cumsum([len(ids) for ids, _ in vecs])]).astype(np.int64),
            np.concatenate(cols).astype(np.int64) if cols else _EMPTY,
            np.concatenate(vals).astype(np.float32) if vals else np.zeros(0, np.float32))

    def logits(self, W: np.ndarray, b: np.ndarray) -> np.ndarray:
        """``(n_rows, n_labels)`` = rows @ W + b.

        Each row is summed on its own, term by term in column order (no BLAS,
        whose blocking depends on the batch), so a document's logits are the
        same bit for bit in any batch: ``--jobs``, chunk sizes and Dask
        partitions cannot change a label.
        """
        return row_logits(self.starts.astype(np.int64), self.cols.astype(np.int64), self.vals.astype(np.float32),
                          np.ascontiguousarray(W, np.float32), np.asarray(b, np.float32))

    def vectors(self, doc: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """``(ids, values)`` of each row of document ``doc``."""
        out = []
        for r in np.flatnonzero(self.row_doc == doc).tolist():
            lo, hi = self.starts[r], self.starts[r + 1]
            out.append((self.cols[lo:hi].astype(np.int32), self.vals[lo:hi].copy()))
        return out
