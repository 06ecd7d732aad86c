"""Compiled per-article loops of the keyword extractor (see :mod:`.keywords`).

An article has a few hundred candidate tokens: counting them, ranking them
over the co-occurrence graph and gathering the noun compounds around a word
with NumPy or dicts is many calls on tiny arrays, each costing more in call
overhead than in arithmetic. These functions do the same arithmetic in one
call each, summing in the order NumPy's ``bincount`` does, so that the
compiled :func:`textrank` and its NumPy version agree to the bit (see
:mod:`.kernels` for when they are compiled, and why both ways give the same bits).
"""
from __future__ import annotations

import math

import numpy as np

from .kernels import kernel


@kernel
def score_candidates(title_ids, body_ids, cand, prior, title_weight, window, textrank_weight, by_centrality):
    """The candidate words of an article, counted and scored.

    ``title_ids``/``body_ids``: the article's word ids; ``cand``: per word id,
    whether it is a candidate; ``prior``: per word id, the part of its score
    that depends on the word alone. Returns ``(uniq, tf, centrality, score)``:
    the candidate ids ascending, their counts (a title occurrence counts
    ``title_weight``), their TextRank centrality over the body (see
    :func:`textrank`; 0 if not needed) and their scores: (1 + log tf) × prior
    × (1 + ``textrank_weight`` × centrality), or with ``by_centrality``
    (centrality + 1 if in the title) × prior.
    """
    ids = np.empty(len(title_ids) + len(body_ids), np.int64)
    n_t = 0
    for w in title_ids:
        if cand[w]:
            ids[n_t] = w
            n_t += 1
    m = n_t
    for w in body_ids:
        if cand[w]:
            ids[m] = w
            m += 1
    ids = ids[:m]
    # node numbers: the ids' ranks among the distinct ids
    order = np.argsort(ids)
    inv = np.empty(m, np.int64)
    n = 0
    for k in range(m):
        if k > 0 and ids[order[k]] != ids[order[k - 1]]:
            n += 1
        inv[order[k]] = n
    n = n + 1 if m else 0
    uniq = np.empty(n, np.int64)
    for k in range(m):
        uniq[inv[k]] = ids[k]
    tf = np.zeros(n)
    in_title = np.zeros(n, np.bool_)
    for k in range(n_t):
        tf[inv[k]] += title_weight
        in_title[inv[k]] = True
    for k in range(n_t, m):
        tf[inv[k]] += 1.0
    if (textrank_weight or by_centrality) and m - n_t >= 2:
        centrality = textrank(inv[n_t:], n, window)
    else:
        centrality = np.zeros(n)
    score = np.empty(n)
    for k in range(n):
        if by_centrality:
            score[k] = (centrality[k] + (1.0 if in_title[k] else 0.0)) * prior[uniq[k]]
        else:
            # math.log, not np.log: the same bits compiled or not (see .kernels)
            score[k] = (1.0 + math.log(tf[k])) * prior[uniq[k]] * (1.0 + textrank_weight * centrality[k])
    return uniq, tf, centrality, score


def _textrank_numpy(seq, n, window):
    """:func:`textrank` with NumPy: ``bincount`` adds up what each node receives
    edge by edge, in the order of the edges, as the loop does."""
    src, dst = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
    for d in range(1, window):
        a, b = seq[:-d], seq[d:]
        keep = a != b
        src += [a[keep], b[keep]]
        dst += [b[keep], a[keep]]
    src, dst = np.concatenate(src), np.concatenate(dst)
    if not len(src):
        return np.zeros(n)
    out_deg = np.bincount(src, minlength=n).astype(np.float64)
    rank = np.ones(n)
    for _ in range(10):
        share = rank / np.maximum(out_deg, 1.0)
        rank = 0.15 + 0.85 * np.bincount(dst, weights=share[src], minlength=n)
    rank[np.bincount(seq, minlength=n) == 0] = 0.0  # title-only words are not in the graph
    return rank / max(rank.max(), 1e-12)


@kernel(python=_textrank_numpy)
def textrank(seq, n, window):
    """PageRank over co-occurrence of ``seq`` (node numbers ``0..n-1``) within
    ``window`` words (jieba's TextRank), scaled to max 1; 0 for nodes not in ``seq``.

    Each co-occurrence is an edge both ways (none from a node to itself); a
    node spreads its rank evenly over its edges; 10 iterations of
    rank = 0.15 + 0.85 × (rank received).
    """
    n_edges = 0
    for d in range(1, window):
        for i in range(len(seq) - d):
            if seq[i] != seq[i + d]:
                n_edges += 2
    rank = np.zeros(n)
    if n_edges == 0:
        return rank
    # edges in the order of the NumPy version (per distance: forward, then
    # backward), so that each node's received rank is summed in the same order
    src = np.empty(n_edges, np.int64)
    dst = np.empty(n_edges, np.int64)
    e = 0
    for d in range(1, window):
        for way in range(2):
            for i in range(len(seq) - d):
                a, b = seq[i], seq[i + d]
                if a != b:
                    if way == 1:
                        a, b = b, a
                    src[e], dst[e] = a, b
                    e += 1
    out_deg = np.zeros(n)
    for a in src:
        out_deg[a] += 1.0
    rank[:] = 1.0
    share = np.empty(n)
    got = np.empty(n)
    for _ in range(10):
        for v in range(n):
            share[v] = rank[v] / max(out_deg[v], 1.0)
        got[:] = 0.0
        for k in range(n_edges):
            got[dst[k]] += share[src[k]]
        for v in range(n):
            rank[v] = 0.15 + 0.85 * got[v]
    seen = np.zeros(n, np.bool_)
    for v in seq:
        seen[v] = True
    top = 0.0
    for v in range(n):
        if not seen[v]:
            rank[v] = 0.0  # title-only words are not in the graph
        top = max(top, rank[v])
    return rank / max(top, 1e-12)


@kernel
def _in_runs(ids, compound, serial):
    """Per token, whether it is part of a noun run: a word that may chain into a
    compound, or a serial number (二号) right after one, or after one and a
    serial number (a third serial number in a row is not)."""
    run = np.empty(len(ids), np.bool_)
    for k in range(len(ids)):
        w = ids[k]
        run[k] = compound[w] or (serial[w] and k > 0 and (
            compound[ids[k - 1]] or (k > 1 and serial[ids[k - 1]] and compound[ids[k - 2]])))
    return run


@kernel
def _compound_counts(title_ids, body_ids, compound, serial, length, title_weight, max_chars):
    """The noun compounds of an article: 2–4 consecutive tokens of a noun run,
    not starting with a serial number, at most ``max_chars`` characters long,
    told apart by their word ids.

    ``compound``/``serial``/``length``: per word id, whether it may chain into a
    run, whether it is a serial number (which continues a run, never starts
    one: 天问 + 二号), and its length. Returns ``(src, begin, end, count)``: for
    each compound, in order of first occurrence (title first), where it first
    occurs (``src`` 0: title, 1: body; tokens ``begin:end``) and its count (a
    title occurrence counts ``title_weight``).
    """
    # every occurrence, with its words as two keys: the first two, the last two
    n_max = 3 * (len(title_ids) + len(body_ids))
    src = np.empty(n_max, np.int64)
    begin = np.empty(n_max, np.int64)
    end = np.empty(n_max, np.int64)
    hi = np.empty(n_max, np.int64)
    lo = np.empty(n_max, np.int64)
    base = len(compound) + 1
    m = 0
    for s in range(2):
        ids = title_ids if s == 0 else body_ids
        run = _in_runs(ids, compound, serial)
        for i in range(len(ids)):
            if not run[i] or serial[ids[i]]:
                continue
            chars = length[ids[i]]
            for j in range(i + 2, min(i + 4, len(ids)) + 1):
                chars += length[ids[j - 1]]
                if not run[j - 1] or chars > max_chars:
                    break
                src[m], begin[m], end[m] = s, i, j
                hi[m] = (ids[i] + 1) * base + ids[i + 1] + 1
                lo[m] = ((ids[i + 2] + 1) * base if j > i + 2 else 0) + (ids[i + 3] + 1 if j > i + 3 else 0)
                m += 1
    # told apart by their two keys in a hash table (open addressing), numbered in
    # order of first occurrence and counted in order of occurrence (sorting the
    # keys took 40% of the extraction's compiled time)
    size = 2
    while size < 2 * m:
        size *= 2
    slot_hi = np.empty(size, np.int64)
    slot_lo = np.empty(size, np.int64)
    slot_num = np.full(size, -1, np.int64)
    first = np.empty(m, np.int64)
    count = np.zeros(m)
    n = 0
    for k in range(m):
        h = ((hi[k] * 1000003) ^ lo[k]) & (size - 1)  # (an overflow would change the hash only)
        while slot_num[h] >= 0 and (slot_hi[h] != hi[k] or slot_lo[h] != lo[k]):
            h = (h + 1) & (size - 1)
        if slot_num[h] < 0:
            slot_hi[h], slot_lo[h], slot_num[h] = hi[k], lo[k], n
            first[n] = k
            n += 1
        count[slot_num[h]] += title_weight if src[k] == 0 else 1.0
    first = first[:n]
    return src[first], begin[first], end[first], count[:n]


@kernel
def expansions(uniq, tf, title_ids, body_ids, compound, serial, length, title_weight, max_chars, share):
    """The compounds that candidate words ``uniq`` (ascending; weighted counts
    ``tf``) expand to, by the compound rule (the one place it is written): of
    the compounds containing the word that occur twice or more and account
    for at least ``share`` of its count, the most frequent, then the longest,
    then the first. Other arguments as :func:`_compound_counts`.

    Returns a ``(k, 4)`` array of ``(number in uniq, src, begin, end)``: the
    words that expand, and where their compounds first occur.
    """
    src, begin, end, count = _compound_counts(title_ids, body_ids, compound, serial, length, title_weight, max_chars)
    best = np.full(len(uniq), -1, np.int64)
    best_n = np.zeros(len(uniq))
    best_len = np.empty(len(uniq), np.int64)
    for k in range(len(uniq)):
        best_len[k] = length[uniq[k]]
    for c in range(len(count)):
        n = count[c]
        if n < 2:
            continue
        ids = title_ids if src[c] == 0 else body_ids
        chars = 0
        for q in range(begin[c], end[c]):
            chars += length[ids[q]]
        for q in range(begin[c], end[c]):
            k = np.searchsorted(uniq, ids[q])
            if k < len(uniq) and uniq[k] == ids[q] and n >= share * tf[k] \
                    and (n > best_n[k] or (n == best_n[k] and chars > best_len[k])):
                best[k], best_n[k], best_len[k] = c, n, chars
    which = np.flatnonzero(best >= 0)
    out = np.empty((len(which), 4), np.int64)
    for r in range(len(which)):
        k, c = which[r], best[which[r]]
        out[r, 0], out[r, 1], out[r, 2], out[r, 3] = k, src[c], begin[c], end[c]
    return out
