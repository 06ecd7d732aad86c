"""Compiled per-article loops of the summariser (see :mod:`.summary`).

A broadcast story has ten or twenty sentences: scoring them with NumPy is a
hundred calls on tiny arrays, each costing more in call overhead than in
arithmetic (about 0.5 ms an article in all). These functions do the same
arithmetic in one compiled call (see :mod:`.kernels` for when they are
compiled, and why both ways give the same bits).
"""
from __future__ import annotations

import math
import re
from functools import lru_cache

import numpy as np

from .kernels import is_compiled, kernel

# A sentence's facts and whether it is a sub-heading (see sentence_marks): the
# rules are these regexes; the compiled loop finds the same matches.
_DIGIT = re.compile(r"\d")
_UNIT_CHARS = "%万亿千百"  # a figure's unit, right after its digits
# Facts: \d+(?:\.\d+)?[units]?|《[^》]+》|“[^”]+”, written to begin with a
# character class: the regex engine then skips to the candidates.
FACT = re.compile(rf"[\d《“](?:(?<=\d)\d*(?:\.\d+)?[{_UNIT_CHARS}]?|(?<=《)[^》]+》|(?<=“)[^”]+”)")
# a sub-heading has no sentence punctuation at all and is short
_PUNCT_CHARS = "。！？!?；;，,"
SENTENCE_PUNCT = re.compile(f"[{_PUNCT_CHARS}]")
HEADING_CHARS = 25
_PUNCT_CODES = np.array(sorted(map(ord, _PUNCT_CHARS)), np.int64)
_UNITS = np.array(sorted(map(ord, _UNIT_CHARS)), np.int64)
_NO_DIGITS = np.zeros(0, np.bool_)


def is_heading(sentence: str) -> bool:
    """A sub-heading: shorter than 25 characters, no sentence punctuation."""
    return len(sentence) < HEADING_CHARS and not SENTENCE_PUNCT.search(sentence)


@lru_cache(maxsize=1)
def digit_table() -> np.ndarray:
    """Per code point, whether ``\\d`` matches it (any Unicode decimal digit, as
    the regex has it): asked of the regex itself over every code point (13-15 ms),
    once per Python version; kept in a cache file (see :func:`.arrayfile.cached`)."""
    from .arrayfile import cached, unicode_name

    return cached(unicode_name("digits-1"), _asked_of_the_regex)["digits"]


def _asked_of_the_regex() -> dict[str, np.ndarray]:
    every = np.arange(0x110000, dtype=np.uint32).tobytes().decode("utf-32-le", "surrogatepass")
    table = np.zeros(0x110000, np.bool_)
    table[[m.start() for m in _DIGIT.finditer(every)]] = True
    return {"digits": table}


def digits() -> np.ndarray:
    """The ``digits`` argument of :func:`sentence_marks` and :func:`clause_information`:
    :func:`digit_table` when they run compiled; interpreted, they ask the regex
    and the table is not built."""
    return digit_table() if is_compiled() else _NO_DIGITS


def _sentence_marks_regex(codes, spans, digits, facts):
    """:func:`sentence_marks` by the regexes (the interpreted mode): the rules themselves."""
    text = codes.tobytes().decode("utf-32-le")
    at = np.array([m.start() for m in FACT.finditer(text)] if facts else [], np.int64)
    return at, np.array([is_heading(text[s:e]) for s, e in spans.tolist()], np.bool_).reshape(-1)


@kernel(python=_sentence_marks_regex)
def sentence_marks(codes, spans, digits, facts):
    """``(fact_at, heading)`` of a text's code points ``codes``: the offsets where
    :data:`FACT` matches (none unless ``facts``), and per sentence (``spans``:
    ``(n, 2)`` offsets) whether it is a heading (:func:`is_heading`).
    ``digits``: :func:`digit_table`."""
    return _marks(codes, spans, digits, facts)


@kernel(inline=True)
def _marks(codes, spans, digits, facts):
    n = len(codes)
    at = np.empty(n, np.int64)
    m = 0
    close_book, close_quote = -1, -1  # the first 》 / ” at or after the last look (n: none)
    i = 0
    while facts and i < n:
        c = codes[i]
        if digits[c]:
            j = i + 1
            while j < n and digits[codes[j]]:
                j += 1
            if j + 1 < n and codes[j] == 46 and digits[codes[j + 1]]:  # "." and a digit
                j += 2
                while j < n and digits[codes[j]]:
                    j += 1
            if j < n and _member(_UNITS, codes[j]):
                j += 1
            at[m] = i
            m += 1
            i = j
            continue
        if c == 0x300A or c == 0x201C:  # 《 or “: a match runs to the first 》 / ” after at least one character
            end = 0x300B if c == 0x300A else 0x201D
            close = close_book if c == 0x300A else close_quote
            if close <= i:  # (remembered: many openers and no closer must not cost n each)
                close = i + 1
                while close < n and codes[close] != end:
                    close += 1
                if c == 0x300A:
                    close_book = close
                else:
                    close_quote = close
            if i + 1 < close < n:
                at[m] = i
                m += 1
                i = close + 1
                continue
        i += 1
    heading = np.zeros(len(spans), np.bool_)
    for s in range(len(spans)):
        a, b = spans[s, 0], spans[s, 1]
        if b - a < HEADING_CHARS:
            heading[s] = True
            for k in range(a, b):
                if _member(_PUNCT_CODES, codes[k]):
                    heading[s] = False
                    break
    return at[:m].copy(), heading


@kernel(inline=True)
def _member(sorted_codes, c):
    k = np.searchsorted(sorted_codes, c)
    return k < len(sorted_codes) and sorted_codes[k] == c


@kernel
def _weighted_rows(row, ids, idf, n_rows):
    """Sublinear TF-IDF rows, L2-normalised, of ``(row, word id)`` entries
    (``row`` ascending, below ``n_rows``) with each entry's IDF:
    ``(row_start, cols, weights)``, row ``r`` being ``cols``/``weights``
    ``[row_start[r]:row_start[r + 1]]``, its columns (word numbers) distinct and ascending."""
    row_start = np.zeros(n_rows + 1, np.int64)
    cols = np.empty(len(ids), np.int64)
    weights = np.empty(len(ids), np.float64)
    word = np.empty(len(ids), np.int64)
    word_idf = np.empty(len(ids), np.float64)
    m = 0
    k = 0
    while k < len(ids):
        e = k
        while e < len(ids) and row[e] == row[k]:
            e += 1
        if e - k > 64:
            # a long row (a title or a sentence thousands of words long): insertion
            # would take the square of its length (a 300,000-character title: 30 s)
            order = np.argsort(ids[k:e], kind="mergesort")
            for q in range(e - k):
                word[k + q], word_idf[k + q] = ids[k + order[q]], idf[k + order[q]]
        else:
            # a row has a few dozen words: sorted in place by insertion, cheaper
            # than sorting the whole table (numba's sorts are slow on small arrays)
            for f in range(k, e):
                w, x = ids[f], idf[f]
                q = f
                while q > k and word[q - 1] > w:
                    word[q], word_idf[q] = word[q - 1], word_idf[q - 1]
                    q -= 1
                word[q], word_idf[q] = w, x
        q = k
        while q < e:
            j = q
            while j < e and word[j] == word[q]:
                j += 1
            cols[m] = word[q]
            weights[m] = (1.0 + math.log(j - q)) * word_idf[q]
            m += 1
            q = j
        row_start[row[k] + 1] = m
        k = e
    for r in range(1, n_rows + 1):  # rows with no entry end where the row before does
        row_start[r] = max(row_start[r], row_start[r - 1])
    for r in range(n_rows):
        ss = 0.0
        for k in range(row_start[r], row_start[r + 1]):
            ss += weights[k] * weights[k]
        norm = max(math.sqrt(ss), 1e-9)
        for k in range(row_start[r], row_start[r + 1]):
            weights[k] /= norm
    return row_start, cols[:m], weights[:m]


@kernel
def _first_use_numbers(ids):
    """Each of ``ids`` numbered by the first occurrence of its value (0, 1, ...),
    through an open-addressing hash table."""
    m = len(ids)
    size = 2
    while size < 2 * m:
        size *= 2
    slot_id = np.full(size, -1, np.int64)
    slot_num = np.empty(size, np.int64)
    out = np.empty(m, np.int64)
    n = 0
    for k in range(m):
        h = (ids[k] * 2654435761) & (size - 1)  # (ids stay far below 2**31: no overflow)
        while slot_id[h] >= 0 and slot_id[h] != ids[k]:
            h = (h + 1) & (size - 1)
        if slot_id[h] < 0:
            slot_id[h] = ids[k]
            slot_num[h] = n
            n += 1
        out[k] = slot_num[h]
    return out


@kernel
def _cosines(row_start, cols, weights):
    """The ``(n, n)`` dot products of the ``n`` rows of :func:`_weighted_rows`
    (zero on the diagonal), each summing the products of the words the two rows
    share, in the order of their numbers. The words are numbered 0, 1, ... (by
    :func:`_first_use_numbers`): they index the table below directly.

    Most pairs of sentences share few words, so the products are found through
    the rows each word is in (a word → rows table) rather than by comparing
    every pair of rows."""
    n = len(row_start) - 1
    m = len(cols)
    term = cols
    n_terms = term.max() + 1 if m else 0
    # each term's entries, in row order; where each entry stands among them
    post_start = np.zeros(n_terms + 1, np.int64)
    for k in range(m):
        post_start[term[k] + 1] += 1
    for t in range(n_terms):
        post_start[t + 1] += post_start[t]
    fill = post_start[:n_terms].copy()
    post = np.empty(m, np.int64)
    at = np.empty(m, np.int64)
    entry_row = np.empty(m, np.int64)
    for r in range(n):
        for k in range(row_start[r], row_start[r + 1]):
            post[fill[term[k]]] = k
            at[k] = fill[term[k]]
            fill[term[k]] += 1
            entry_row[k] = r
    # row i's words in word order, each against the later rows that have it
    dot = np.zeros((n, n))
    for i in range(n):
        for k in range(row_start[i], row_start[i + 1]):
            for p in range(at[k] + 1, post_start[term[k] + 1]):
                e = post[p]
                dot[i, entry_row[e]] += weights[k] * weights[e]
    for i in range(n):
        for j in range(i):
            dot[i, j] = dot[j, i]
    return dot


@kernel
def sentence_scores(body_ids, starts, spans, title_ids, idf_col, fact_at, heading,
                    title_weight, position_weight, fact_weight, first):
    """Score of each of the ``n`` sentences (``spans``: ``(n, 2)`` body offsets) and
    the ``(n, n)`` cosine similarity of their TF-IDF vectors.

    ``body_ids``/``starts``: the body's token ids and offsets; ``title_ids``;
    ``idf_col``: IDF per word id (0: not a content word); ``fact_at``: offsets
    of the body's facts (figures, titles, quoted names); ``heading``: per
    sentence, whether it is a sub-heading. Score = TextRank centrality (max 1)
    + ``title_weight`` × title similarity + ``position_weight`` / sqrt(1 + index)
    + ``fact_weight`` × min(facts, 4) / 4, minus 10 for a heading; ``index`` is
    ``first`` + the sentence's place in ``spans`` (``spans`` may be a stretch of
    an article's sentences starting at its sentence ``first``).
    """
    return _scores(body_ids, starts, spans, title_ids, idf_col, fact_at, heading, title_weight, position_weight,
                   fact_weight, first)


@kernel(inline=True)
def _scores(body_ids, starts, spans, title_ids, idf_col, fact_at, heading, title_weight, position_weight, fact_weight,
            first):
    n = spans.shape[0]
    # the content tokens inside sentences, then the title's as row n
    n_tok = len(body_ids)
    row = np.empty(n_tok + len(title_ids), np.int64)
    ids = np.empty(n_tok + len(title_ids), np.int64)
    idf = np.empty(n_tok + len(title_ids), np.float64)
    m = 0
    s = 0
    for k in range(n_tok):
        while s < n and spans[s, 1] <= starts[k]:
            s += 1
        if s < n and spans[s, 0] <= starts[k] and idf_col[body_ids[k]] > 0:
            row[m], ids[m], idf[m] = s, body_ids[k], idf_col[body_ids[k]]
            m += 1
    for k in range(len(title_ids)):
        if idf_col[title_ids[k]] > 0:
            row[m], ids[m], idf[m] = n, title_ids[k], idf_col[title_ids[k]]
            m += 1
    # words numbered by first use in the article: the sums below run in that
    # order, which depends on the article alone (not on the ids the process's
    # lexicon happened to give its words, which depend on what it tagged before)
    row_start, cols, w = _weighted_rows(row[:m], _first_use_numbers(ids[:m]), idf[:m], n + 1)
    cos = _cosines(row_start, cols, w)
    sim = cos[:n, :n].copy()
    to_title = cos[n, :n].copy()
    # TextRank over the similarity graph: PageRank (damping 0.85), solved
    # directly: rank = 0.15 + 0.85 * rank @ P
    A = np.eye(n)
    for i in range(n):
        total = 0.0
        for j in range(n):
            total += sim[i, j]
        total = max(total, 1e-9)
        for j in range(n):
            A[j, i] -= 0.85 * sim[i, j] / total
    rank = solve(A, np.full(n, 0.15))
    top = max(rank.max(), 1e-9)
    facts = np.zeros(n)
    for at in fact_at:
        i = np.searchsorted(spans[:, 0], at, side="right") - 1
        if i >= 0 and at < spans[i, 1]:
            facts[i] += 1.0
    score = np.empty(n)
    for i in range(n):
        score[i] = rank[i] / top + title_weight * to_title[i] + position_weight / math.sqrt(1.0 + first + i) \
            + fact_weight * min(facts[i], 4.0) / 4.0
        if heading[i]:
            score[i] -= 10.0
    return score, sim


@kernel
def spread(lengths, score, want):
    """Indices (ascending) of the best sentence in each of ``want`` stretches of
    about equal length (by ``lengths``); a stretch whose sentences all score
    -5 or less gives none."""
    return _spread(lengths, score, want)


@kernel(inline=True)
def _spread(lengths, score, want):
    sizes = np.cumsum(lengths).astype(np.float64)
    bounds = sizes[-1] * np.arange(1, want) / want
    part = np.searchsorted(bounds, sizes - lengths / 2.0)
    best = np.full(want, -1, np.int64)
    for i in range(len(score)):
        k = part[i]
        if score[i] > -5 and (best[k] < 0 or score[i] > score[best[k]]):
            best[k] = i
    return best[best >= 0]


@kernel
def clause_idf_mass(body_ids, starts, idf_col, base, at, length):
    """IDF mass of each clause's distinct words (in order of first use; see
    :meth:`.summary.Summariser.information`). Clause ``c``'s words are the
    body's tokens (``body_ids``/``starts``) starting in
    ``[base + at[c], base + at[c] + length[c])``; ``idf_col``: IDF per word id."""
    return _idf_mass(body_ids, starts, idf_col, base, at, length)


@kernel(inline=True)
def _idf_mass(body_ids, starts, idf_col, base, at, length):
    out = np.empty(len(at))
    for c in range(len(at)):
        k0 = np.searchsorted(starts, base + at[c])
        k1 = np.searchsorted(starts, base + at[c] + length[c])
        info = 0.0
        for k in range(k0, k1):
            first = True
            for q in range(k0, k):
                if body_ids[q] == body_ids[k]:
                    first = False
                    break
            if first:
                info += idf_col[body_ids[k]]
        out[c] = info
    return out


FIGURE_WEIGHT = 1.5  # a clause with a figure counts this much more (events are told in numbers)


def with_figures(info: float, clause: str) -> float:
    """A clause's information: its IDF mass ``info``, more if it holds a figure."""
    return info * (FIGURE_WEIGHT if _DIGIT.search(clause) else 1.0)


def _clause_information_regex(body_ids, starts, idf_col, base, at, length, codes, digits):
    """:func:`clause_information` with the regex for figures (the interpreted mode)."""
    mass = clause_idf_mass(body_ids, starts, idf_col, base, at, length)
    for c in range(len(at)):
        if at[c] >= 0:
            mass[c] = with_figures(mass[c], codes[base + at[c]: base + at[c] + length[c]].tobytes().decode("utf-32-le"))
    return mass


@kernel(python=_clause_information_regex)
def clause_information(body_ids, starts, idf_col, base, at, length, codes, digits):
    """:func:`clause_idf_mass`, times :data:`FIGURE_WEIGHT` for a clause holding a
    figure (a ``\\d`` character: ``codes``, the body's code points, at
    ``base + at[c]``; ``digits``: :func:`digit_table`). A clause with ``at[c]`` < 0
    gets its mass only (the caller measures it otherwise)."""
    return clause_weights(body_ids, starts, idf_col, base, at, length, codes, digits)


@kernel(inline=True)
def clause_weights(body_ids, starts, idf_col, base, at, length, codes, digits):
    """:func:`clause_information`, inlined into a kernel that calls it."""
    mass = _idf_mass(body_ids, starts, idf_col, base, at, length)
    for c in range(len(at)):
        if at[c] < 0:
            continue
        for k in range(base + at[c], base + at[c] + length[c]):
            if digits[codes[k]]:
                mass[c] = mass[c] * FIGURE_WEIGHT
                break
    return mass


def _solve_numpy(A, b):
    """:func:`solve` with each elimination step as whole-row NumPy operations
    (the same products and differences, so the same bits)."""
    A, b = A.copy(), b.copy()
    n = len(b)
    for k in range(n):
        p = k + int(np.argmax(np.abs(A[k:, k])))
        if p != k:
            A[[k, p]] = A[[p, k]]
            b[k], b[p] = b[p], b[k]
        f = A[k + 1:, k] / A[k, k]
        A[k + 1:, k:] -= f[:, None] * A[k, k:]
        b[k + 1:] -= f * b[k]
    return _back_substitute(A, b)


@kernel
def _back_substitute(A, b):
    """``x`` with ``A @ x = b`` for ``A`` upper triangular (below it is ignored)."""
    x = np.empty(len(b))
    for i in range(len(b) - 1, -1, -1):
        s = b[i]
        for j in range(i + 1, len(b)):
            s -= A[i, j] * x[j]
        x[i] = s / A[i, i]
    return x


@kernel(python=_solve_numpy)
def solve(A, b):
    """``x`` with ``A @ x = b`` (``A`` square and non-singular): Gaussian
    elimination with partial pivoting, then back substitution. Our own rather
    than LAPACK's so that compiled and interpreted runs agree to the bit."""
    A, b = A.copy(), b.copy()
    n = len(b)
    for k in range(n):
        p = k
        for i in range(k + 1, n):
            if abs(A[i, k]) > abs(A[p, k]):
                p = i
        if p != k:
            for j in range(n):
                A[k, j], A[p, j] = A[p, j], A[k, j]
            b[k], b[p] = b[p], b[k]
        for i in range(k + 1, n):
            f = A[i, k] / A[k, k]
            for j in range(k, n):
                A[i, j] -= f * A[k, j]
            b[i] -= f * b[k]
    return _back_substitute(A, b)


@kernel
def pick_sentences(codes, spans, digits, facts, body_ids, starts, title_ids, idf_col, title_weight,
                   position_weight, fact_weight, want):
    """:func:`spread`'s picks among an article's sentences scored by
    :func:`sentence_scores` in one graph (the whole of :meth:`.summary.Summariser.select`
    for an article of at most ``GRAPH_SENTENCES`` sentences), in one call.
    Arguments as those functions'; ``facts``: whether facts count (``fact_weight`` > 0)."""
    # (the kernels' inline bodies: see .kernels on a kernel that Python calls)
    fact_at, heading = _marks(codes, spans, digits, facts)
    k0 = np.searchsorted(starts, spans[0, 0])
    k1 = np.searchsorted(starts, spans[len(spans) - 1, 1])
    score, _ = _scores(body_ids[k0:k1], starts[k0:k1], spans, title_ids, idf_col, fact_at, heading,
                       title_weight, position_weight, fact_weight, 0)
    return _spread(spans[:, 1] - spans[:, 0], score, want)
