"""Compiled feature rows of a batch (see :meth:`.features.Featurizer.rows`).

With NumPy, a batch's rows are built by sorting every (row, column) entry
of the batch, then counting, weighing and normalising with a few dozen
array calls, plus a dozen more per long article for its passages. Compiled,
each row is counted into a dense accumulator, only its own columns are
sorted, and no intermediate arrays are made: a fifth of the time.

The arithmetic is the NumPy path's, operation by operation and in the same
order (float32 where it works in float32, sums in float64 in column order),
so both give the same bits; ``tests/test_kernels.py`` checks it.
"""
from __future__ import annotations

import math

import numpy as np

from .kernels import kernel


@kernel
def feature_rows(tokens, texts, passages, vocab, weights, evidence, scratch):
    """Feature rows of a batch of documents: ``(row_doc, starts, cols, vals)``.

    Arguments are tuples of arrays (``n`` documents; ``*_off`` are ``n + 1``
    offsets, document ``i``'s part being ``[off[i], off[i + 1])``):

    * ``tokens = (t_off, t_ids, b_off, b_ids, b_pos)``: title and body word
      ids, and each body token's offset in the body;
    * ``texts = (t_codes, t_coff, b_codes, b_coff)``: the folded titles and
      bodies as UTF-32 code points (bigrams are looked up here);
    * ``passages = (n_pass, p_off, piece_start, piece_row)``: a document with
      ``n_pass[i]`` > 0 passages has pieces starting at the body offsets
      ``piece_start``, piece ``k`` in passage ``piece_row[k]`` (0, 1, ...);
    * ``vocab = (word_col, term_col, idf, slots, shift)``: per word id its
      column (-1: none) and taxonomy term (-1: none); per column its IDF; the
      bigram table (see :func:`_bigrams`; an empty one for no bigrams);
    * ``weights = (title_w, body_len, n_words, n_feat, word_weight,
      char_weight, log_tf)``: per document the title's weight and the body's
      length; the numbers of word and of word + bigram columns; block scales
      (float32); ``log_tf[k]`` = 1 + log(k) in float32;
    * ``evidence = (t_lens, t_offsets, t_flat, n_ev, evidence_weight,
      reference_chars, length_norm)``: term ``t`` counts for the labels
      ``t_flat[t_offsets[t]:t_offsets[t] + t_lens[t]]``, and the length scale;
    * ``scratch`` (see :func:`new_scratch`): work arrays kept between calls
      (allocating them cost more than a batch's counting).

    Rows: per document its whole-article row, then its passages' (title
    entries + the body entries inside). Columns ascending within a row:
    words and bigrams (sublinear TF × IDF, each block L2-normalised and
    scaled), then evidence (``log1p`` of taxonomy term hits per label over
    the length scale, times ``evidence_weight``).
    """
    t_off, t_ids, b_off, b_ids, b_pos = tokens
    t_codes, t_coff, b_codes, b_coff = texts
    n_pass, p_off, piece_start, piece_row = passages
    word_col, term_col, idf, slots, shift = vocab
    title_w, body_len, n_words, n_feat, word_weight, char_weight, log_tf = weights
    t_lens, t_offsets, t_flat, n_ev, evidence_weight, reference_chars, length_norm = evidence
    n_docs = len(title_w)
    n_rows = 0
    cap = 0
    for i in range(n_docs):
        n_title = (t_off[i + 1] - t_off[i]) + (t_coff[i + 1] - t_coff[i])
        n_body = (b_off[i + 1] - b_off[i]) + (b_coff[i + 1] - b_coff[i])
        n_rows += 1 + n_pass[i]
        cap += (1 + n_pass[i]) * (n_title + n_ev) + 2 * n_body
    row_doc = np.empty(n_rows, np.int64)
    starts = np.empty(n_rows + 1, np.int64)
    cols = np.empty(cap, np.int64)
    vals = np.empty(cap, np.float32)
    acc, mark, touched, order, buckets, serial = scratch
    ev_acc = np.zeros(n_ev, np.float64)
    # a document's bigram columns by offset, looked up once for all of its rows
    t_big = np.empty(max(t_coff[1:] - t_coff[:-1]) if n_docs else 0, np.int64)
    b_big = np.empty(max(b_coff[1:] - b_coff[:-1]) if n_docs else 0, np.int64)
    hits = np.empty(max(b_off[1:] - b_off[:-1]) if n_docs else 0, np.int64)
    r = 0
    m = 0
    for i in range(n_docs):
        tw = title_w[i]
        p0, p1 = p_off[i], p_off[i + 1]
        n_tb = _bigrams(t_codes, t_coff[i], t_coff[i + 1] - 1, slots, shift, t_big)
        n_bb = _bigrams(b_codes, b_coff[i], b_coff[i + 1] - 1, slots, shift, b_big)
        for k in range(-1, n_pass[i]):  # -1: the whole article
            lo_b, hi_b = b_off[i], b_off[i + 1]
            begin, end = 0, body_len[i]
            if k >= 0:  # the passage's pieces, and the body entries whose offsets fall in them
                a = p0
                while piece_row[a] != k:
                    a += 1
                e = a
                while e < p1 and piece_row[e] == k:
                    e += 1
                begin = piece_start[a]
                end = piece_start[e] if e < p1 else body_len[i]
                lo_b = _first_at(b_pos, lo_b, hi_b, begin)
                hi_b = _first_at(b_pos, lo_b, hi_b, end)
            row_doc[r], starts[r] = i, m
            row = serial[0] + r  # marks of earlier rows (and calls) are smaller
            nt = 0
            ev_acc[:] = 0.0
            # counts, in the NumPy path's order: title words, title bigrams, body words, body bigrams
            if tw > 0:
                for j in range(t_off[i], t_off[i + 1]):
                    nt = _count(word_col[t_ids[j]], tw, row, acc, mark, touched, nt)
                    t = term_col[t_ids[j]]
                    if t >= 0:  # a taxonomy term: a hit for each label it names
                        for q in range(t_offsets[t], t_offsets[t] + t_lens[t]):
                            ev_acc[t_flat[q]] += tw
                for j in range(n_tb):
                    nt = _count(t_big[j], tw, row, acc, mark, touched, nt)
            # the body's taxonomy terms are noted here and counted after the loop,
            # in the same order: with the count inside, this loop took 40% longer
            # (the inner loop over a term's labels, rarely run, slows every token)
            n_hits = 0
            for j in range(lo_b, hi_b):
                nt = _count(word_col[b_ids[j]], 1.0, row, acc, mark, touched, nt)
                t = term_col[b_ids[j]]
                if t >= 0:
                    hits[n_hits] = t
                    n_hits += 1
            for h in range(n_hits):
                t = hits[h]
                for q in range(t_offsets[t], t_offsets[t] + t_lens[t]):
                    ev_acc[t_flat[q]] += 1.0
            for j in range(begin, min(end, n_bb)):
                nt = _count(b_big[j], 1.0, row, acc, mark, touched, nt)
            _sort_columns(touched, nt, buckets, order)
            # sublinear TF × IDF; each block's sum of squares in column order
            ss_w, ss_c = 0.0, 0.0
            for q in range(nt):
                c = order[q]
                tf = np.float32(acc[c])
                if tf == math.floor(tf) and tf < len(log_tf):
                    lt = log_tf[np.int64(tf)]
                else:
                    lt = np.float32(1 + math.log(np.float64(tf)))
                v = lt * idf[c]
                cols[m + q], vals[m + q] = c, v
                if c < n_words:
                    ss_w += np.float64(v * v)
                else:
                    ss_c += np.float64(v * v)
            norm_w, norm_c = np.float32(math.sqrt(ss_w)), np.float32(math.sqrt(ss_c))
            for q in range(nt):
                if cols[m + q] < n_words:
                    vals[m + q] = vals[m + q] / norm_w * word_weight
                else:
                    vals[m + q] = vals[m + q] / norm_c * char_weight
            m += nt
            scale = max(1.0, (end - begin) / reference_chars) ** length_norm
            for j in range(n_ev):
                if ev_acc[j] > 0:
                    cols[m] = n_feat + j
                    vals[m] = np.float32(math.log1p(ev_acc[j] / scale) * evidence_weight)
                    m += 1
            r += 1
    starts[r] = m
    serial[0] += r
    return row_doc, starts, cols[:m].copy(), vals[:m].copy()


def new_scratch(n_feat: int) -> tuple:
    """Work arrays of :func:`feature_rows` for ``n_feat`` word + bigram columns
    (one set per thread: a call writes them)."""
    return (np.zeros(n_feat, np.float64), np.full(n_feat, -1, np.int64), np.zeros(n_feat, np.int64),
            np.zeros(n_feat, np.int64), np.zeros((n_feat >> 8) + 2, np.int64), np.zeros(1, np.int64))


# CJK bigrams as keys of a hash table (see .features._BigramTable): both characters
# in U+4E00-U+9FFF, key = (first - 0x4E00) << 15 | (second - 0x4E00), home slot =
# the top bits of the key times BIGRAM_HASH (32-bit, Fibonacci hashing)
CJK_FIRST, CJK_LAST, BIGRAM_HASH = 0x4E00, 0x9FFF, 0x9E3779B1


@kernel(inline=True)
def _bigrams(codes, lo, hi, slots, shift, out):
    """``out[j]``: the column of the CJK bigram starting at ``codes[lo + j]``
    (-1 if none) for ``j < hi - lo - 1``; returns that count. ``slots``: the
    table's (key, column) pairs, key -1 where empty; ``shift``: 32 - log2(its size)."""
    n = max(hi - lo - 1, 0)
    mask = len(slots) - 1
    for j in range(n):
        out[j] = -1
        a, b = np.int64(codes[lo + j]), np.int64(codes[lo + j + 1])
        if a < CJK_FIRST or a > CJK_LAST or b < CJK_FIRST or b > CJK_LAST:
            continue
        key = (a - CJK_FIRST) << 15 | (b - CJK_FIRST)
        s = ((key * BIGRAM_HASH) & 0xFFFFFFFF) >> shift
        while slots[s, 0] >= 0:
            if slots[s, 0] == key:
                out[j] = slots[s, 1]
                break
            s = (s + 1) & mask
    return n


@kernel(inline=True)
def _count(c, w, r, acc, mark, touched, nt):
    """Add ``w`` to column ``c`` of row ``r`` (nothing for ``c`` < 0); returns the new ``nt``."""
    if c < 0:
        return nt
    if mark[c] != r:
        mark[c] = r
        acc[c] = w
        touched[nt] = c
        return nt + 1
    acc[c] += w
    return nt


@kernel(inline=True)
def _first_at(pos, lo, hi, at):
    """The first index in ``lo:hi`` whose ``pos`` is at least ``at`` (``pos`` ascending)."""
    while lo < hi and pos[lo] < at:
        lo += 1
    return lo


@kernel(inline=True)
def _sort_columns(cols, n, buckets, out):
    """``out[:n]`` = ``cols[:n]`` ascending (distinct columns): a counting sort by
    ``col >> 8``, then an insertion sort over what is left out of order (within
    a bucket). Several times faster than ``np.sort`` on rows of a few hundred."""
    if n >= 48:
        buckets[:] = 0
        for q in range(n):
            buckets[(cols[q] >> 8) + 1] += 1
        for b in range(1, len(buckets)):
            buckets[b] += buckets[b - 1]
        for q in range(n):
            b = cols[q] >> 8
            out[buckets[b]] = cols[q]
            buckets[b] += 1
    else:
        out[:n] = cols[:n]
    for q in range(1, n):
        x = out[q]
        p = q - 1
        while p >= 0 and out[p] > x:
            out[p + 1] = out[p]
            p -= 1
        out[p + 1] = x
