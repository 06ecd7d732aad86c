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

A document is a pair ``(ids, values)`` (int32, float32); a batch is a CSR
matrix for training. Only NumPy is needed at tagging time.
"""
from __future__ import annotations

import math
import operator
import re
from collections import Counter
from dataclasses import dataclass, field
from itertools import repeat

import numpy as np

from .labels import SETS, Taxonomy
from .normalise import normalise, paragraphs
from .tokenize import Tokenizer

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
    def analyse(self, title: str, text: str) -> Analysed:
        """Count tokens, n-grams and taxonomy hits of one (title, body) pair."""
        s = self.settings
        title_n, body_n = normalise(title), normalise(text)
        words = self.tokenizer.content_counts(body_n)
        chars = Counter(char_grams(body_n, s.char_ngrams)) if s.char_ngrams else Counter()
        if title_n and s.title_weight:
            for tok in self.tokenizer(title_n):
                words[tok] += s.title_weight
            if s.char_ngrams:
                for g in char_grams(title_n, s.char_ngrams):
                    chars[g] += s.title_weight
        # Taxonomy terms are in the tokeniser's dictionary, so counting them on
        # tokens is as good as substring search and far cheaper than a regex.
        counts = [0] * len(self.evidence_labels)
        term_cols = self._term_columns()
        for t in words.keys() & term_cols.keys():
            for j in term_cols[t]:
                counts[j] += words[t]
        # Hit counts grow with length while annotators label what an article is
        # mostly about: dividing by (length / reference)^alpha keeps a passing
        # mention in a long analysis from counting like a short story's focus.
        scale = max(1.0, len(body_n) / s.evidence_reference_chars) ** s.evidence_length_norm
        return Analysed(words, chars, [math.log1p(n / scale) for n in counts])

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

    def passages(self, title: str, text: str) -> list[str]:
        """Bodies of the passages a long article is scored on ([] for short ones)."""
        size = self.settings.window_chars
        if len(text) <= 2 * size:
            return []
        out, cur = [], ""
        for para in paragraphs(text):
            while len(para) > 2 * size:  # a wall of text: cut it at sentence ends
                cut = max(para.rfind("。", 0, size + size // 2), size)
                out.append((cur + para[: cut + 1]).strip())
                cur, para = "", para[cut + 1:]
            if len(cur) + len(para) > size and cur:
                out.append(cur.strip())
                cur = ""
            cur += para + "\n"
        if cur.strip():
            if out and len(cur) < size // 3:
                out[-1] += "\n" + cur.strip()
            else:
                out.append(cur.strip())
        return out

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
