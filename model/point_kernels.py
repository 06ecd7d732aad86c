"""Compiled summary points: the trimming, topics and numbering of :mod:`.summary`.

Making a point from a picked sentence is string work: drop the lead-in,
tidy the ends, split clauses, keep the densest that fit, take in the next
sentence, find a topic, number it. In Python that was about twenty calls a
point, an eighth of all the tagging time. Here one call does every point of
an article, on the body's code points; only the lead-in, a regex, is
matched in Python (:func:`.summary.lead_in_end`, passed in as offsets).

The rules are those of :mod:`.summary` (``_Cut``, ``tidy``, ``clauses``,
``Summariser._point``, ``Summariser._topic``), which remain the reference: an
interpreted run uses them, and ``tests/test_kernels.py`` checks that both
give the same points. Strings are ``(lo, hi)`` ranges of one code-point
buffer (``heap``): the body first, then the topic terms, then every string
the points are built from, appended as they are made.
"""
from __future__ import annotations

import numpy as np

from .document_kernels import END_MARKS, SPACE, _kind
from .kernels import kernel
from .summary_kernels import _PUNCT_CODES, HEADING_CHARS, _member, clause_weights

# quote marks a cut may leave unpaired at either end; end punctuation a point drops
QUOTES = (("“", "”"), ("‘", "’"), ("「", "」"), ("『", "』"), ("（", "）"), ("(", ")"))
END_PUNCT = "。！？!?；;，,：:、"
CLAUSE_ENDS = "，；;：:"  # a clause ends after these, and after "," unless a digit follows
_QUOTE_CODES = np.array([[ord(a), ord(b)] for a, b in QUOTES], np.int64)
_END_PUNCT_CODES = np.array(sorted(set(map(ord, END_PUNCT))), np.int64)
_CLAUSE_CODES = np.array(sorted(map(ord, CLAUSE_ENDS)), np.int64)
_END_MARK_CODES = np.array(sorted(map(ord, END_MARKS)), np.int64)
_COMMA, _ENUM_COMMA, _COLON, _DOT, _BLANK = ord(","), ord("、"), ord("："), ord("."), ord(" ")


@kernel(inline=True)
def _n_digits(number):
    width = 1
    while number >= 10 ** width:
        width += 1
    return width


@kernel(inline=True)
def _strip(heap, lo, hi, kinds):
    """``str.strip()``: the range without white space at either end."""
    while lo < hi:
        if not _kind(kinds, heap[lo]) & SPACE:
            break
        lo += 1
    while hi > lo:
        if not _kind(kinds, heap[hi - 1]) & SPACE:
            break
        hi -= 1
    return lo, hi


@kernel(inline=True)
def _rstrip_punct(heap, lo, hi):
    """``str.rstrip(END_PUNCT)``: the new end."""
    while hi > lo:
        if not _member(_END_PUNCT_CODES, heap[hi - 1]):
            break
        hi -= 1
    return hi


@kernel(inline=True)
def _count(heap, lo, hi, c):
    n = 0
    for k in range(lo, hi):
        if heap[k] == c:
            n += 1
    return n


@kernel
def _tidy(heap, lo, hi, kinds):
    """:func:`.summary.tidy`: end punctuation, white space and unpaired quote
    marks stripped from both ends until nothing changes (a sub-range)."""
    while True:
        a, b = _strip(heap, lo, hi, kinds)
        b = _rstrip_punct(heap, a, b)
        if b > a:
            ends_on_quote = False
            for q in range(len(_QUOTE_CODES)):
                if heap[a] == _QUOTE_CODES[q, 0] or heap[b - 1] == _QUOTE_CODES[q, 1]:
                    ends_on_quote = True
            if ends_on_quote:
                for q in range(len(_QUOTE_CODES)):
                    op, cl = _QUOTE_CODES[q, 0], _QUOTE_CODES[q, 1]
                    if b > a and heap[a] == op and _count(heap, a, b, op) > _count(heap, a, b, cl):
                        a += 1
                    if b > a and heap[b - 1] == cl and _count(heap, a, b, cl) > _count(heap, a, b, op):
                        b -= 1
        if b - a == hi - lo:  # (a sub-range as long as the range is the range)
            return a, b
        lo, hi = a, b


@kernel
def _find(heap, lo, hi, n_lo, n_hi):
    """``str.find``: where ``heap[n_lo:n_hi]`` first occurs in ``heap[lo:hi]`` (an offset from ``lo``), or -1."""
    n = n_hi - n_lo
    for start in range(lo, hi - n + 1):
        same = True
        for k in range(n):
            if heap[start + k] != heap[n_lo + k]:
                same = False
                break
        if same:
            return start - lo
    return -1


@kernel(inline=True)
def _equal(heap, a_lo, a_hi, b_lo, b_hi):
    return a_hi - a_lo == b_hi - b_lo and _find(heap, a_lo, a_hi, b_lo, b_hi) == 0


@kernel(inline=True)
def _copy(heap, top, lo, hi):
    """Append ``heap[lo:hi]`` at ``top``; returns the new top."""
    for k in range(lo, hi):
        heap[top] = heap[k]
        top += 1
    return top


@kernel
def _clauses(heap, lo, hi, digits, part_lo, part_hi):
    """:func:`.summary.clauses` of ``heap[lo:hi]`` into ``part_lo``/``part_hi``; returns their number."""
    n = 0
    start = lo
    for p in range(lo + 1, hi + 1):
        c = heap[p - 1]
        if _member(_CLAUSE_CODES, c) or (c == _COMMA and (p == hi or not digits[heap[p]])):
            if p > start:
                part_lo[n], part_hi[n] = start, p
                n += 1
            start = p
    if hi > start:
        part_lo[n], part_hi[n] = start, hi
        n += 1
    return n


@kernel
def _cut(heap, top, lo, hi, limit, part_lo, part_hi, n_parts, order, kinds):
    """``_Cut(limit)`` of the tidied text ``heap[lo:hi]``, its clauses given
    (``order``: the clauses after the first, densest first; empty: unweighed).
    Returns ``(lo, hi, top)``: the cut, and the heap's new top."""
    if hi - lo <= limit:
        return lo, hi, top
    start = top
    if len(order) > 0:
        keep = np.zeros(n_parts, np.bool_)
        keep[0] = True
        used = part_hi[0] - part_lo[0]
        for q in order:
            if used + _rstrip_punct(heap, part_lo[q], part_hi[q]) - part_lo[q] <= limit:
                keep[q] = True
                used += part_hi[q] - part_lo[q]
        for q in range(n_parts):
            if keep[q]:
                top = _copy(heap, top, part_lo[q], part_hi[q])
    else:
        for q in range(n_parts):
            if top - start + _rstrip_punct(heap, part_lo[q], part_hi[q]) - part_lo[q] > limit:
                break
            top = _copy(heap, top, part_lo[q], part_hi[q])
    a, b = _tidy(heap, start, top, kinds)
    if min(12, limit) <= b - a <= limit:
        return a, b, top
    head = lo + limit
    cut = -1
    for k in range(lo, head):
        if heap[k] == _ENUM_COMMA:
            cut = k - lo
    if cut >= limit // 2:
        head = lo + cut
    a, b = _tidy(heap, lo, head, kinds)
    return a, b, top


@kernel
def _topic(heap, lo, hi, term_lo, term_hi, used, n_used):
    """``Summariser._topic``: the first term (≤ 10 characters) found in
    ``heap[lo:hi]`` that no earlier point led with, else the first found;
    -1 if none (an empty term counts as none)."""
    first = -1
    for t in range(len(term_lo)):
        if term_hi[t] - term_lo[t] <= 10 and _find(heap, lo, hi, term_lo[t], term_hi[t]) >= 0:
            fresh = True
            for u in range(n_used):
                if _equal(heap, term_lo[t], term_hi[t], term_lo[used[u]], term_hi[used[u]]):
                    fresh = False
            if fresh:
                return t
            if first < 0 or term_hi[first] == term_lo[first]:
                first = t
    return first


@kernel
def points(codes, spans, picked, lead, terms, term_start, body_ids, starts, idf_col, digits,
           kinds, limit, merge, compress):
    """The numbered points ``"N. 主题：说明"`` of an article's picked sentences (see
    :meth:`.summary.Summariser.summarise`), as ``(out, bounds)``: point ``k`` is
    the code points ``out[bounds[k]:bounds[k + 1]]``; ``bounds[0]`` is -1 if a
    clause was not found in its sentence (the caller then makes the points in
    Python, which measures such a clause otherwise).

    ``codes``: the body's code points; ``spans``: its sentences (``(n, 2)``);
    ``picked``: the sentences to make points of, ascending; ``lead``: per
    sentence, where it starts without its lead-in (needed for the picked ones
    and the sentence after each); ``terms``/``term_start``:
    the topic terms' code points, term ``t`` being ``terms[term_start[t]:term_start[t + 1]]``;
    ``body_ids``/``starts``/``idf_col``/``digits``: for the clauses' information
    (:func:`.summary_kernels.clause_information`); ``kinds``: :data:`.document_kernels.CHAR_KINDS`;
    ``limit``: characters after ``N. ``; ``merge``, ``compress``: as the summariser's.
    """
    n, n_sent, n_pick = len(codes), len(spans), len(picked)
    cap = n + len(terms) + 64
    for p in range(n_pick):
        i = picked[p]
        cap += 2 * (spans[i, 1] - spans[i, 0]) + 4 * limit + 32
    heap = np.empty(cap, np.uint32)
    heap[:n] = codes
    heap[n: n + len(terms)] = terms
    top = n + len(terms)
    n_terms = len(term_start) - 1
    term_lo = np.empty(n_terms, np.int64)
    term_hi = np.empty(n_terms, np.int64)
    for t in range(n_terms):
        term_lo[t], term_hi[t] = n + term_start[t], n + term_start[t + 1]
    used = np.empty(max(n_pick, 1), np.int64)
    n_used = 0
    final_lo = np.empty(n_pick, np.int64)
    final_hi = np.empty(n_pick, np.int64)
    is_picked = np.zeros(n_sent, np.bool_)
    for p in range(n_pick):
        is_picked[picked[p]] = True
    for p in range(n_pick):
        i = picked[p]
        s_lo, s_hi = spans[i, 0], spans[i, 1]
        lo, hi = _tidy(heap, lead[i], s_hi, kinds)
        part_lo = np.empty(hi - lo + 1, np.int64)
        part_hi = np.empty(hi - lo + 1, np.int64)
        n_parts = -1  # the clauses, split when a cut first needs them
        order = np.zeros(0, np.int64)
        j = i + 1
        follows = merge and j < n_sent and not is_picked[j]
        heading = True  # the next sentence is a sub-heading (is_heading)
        if follows:
            heading = spans[j, 1] - spans[j, 0] < HEADING_CHARS
            for k in range(spans[j, 0], spans[j, 1]):
                if heading and _member(_PUNCT_CODES, heap[k]):
                    heading = False
        # the point at the limit, then (with a topic) at the limit less the topic's room
        topic = -1
        body_lo, body_hi = 0, 0
        for attempt in range(2):
            cap_now = limit if attempt == 0 else limit - (term_hi[topic] - term_lo[topic]) - 1
            if hi - lo > cap_now and n_parts < 0:
                n_parts = _clauses(heap, lo, hi, digits, part_lo, part_hi)
                if compress and n_parts > 1:
                    at = np.empty(n_parts - 1, np.int64)
                    length = np.empty(n_parts - 1, np.int64)
                    for q in range(1, n_parts):
                        at[q - 1] = _find(heap, s_lo, s_hi, part_lo[q], part_hi[q])
                        length[q - 1] = part_hi[q] - part_lo[q]
                        if at[q - 1] < 0:
                            return np.zeros(0, np.uint32), np.full(1, -1, np.int64)
                    info = clause_weights(body_ids, starts, idf_col, s_lo, at, length, codes, digits)
                    density = np.empty(n_parts - 1)
                    for q in range(n_parts - 1):
                        density[q] = -info[q] / length[q]
                    order = np.argsort(density, kind="mergesort") + 1
            a, b, top = _cut(heap, top, lo, hi, cap_now, part_lo, part_hi, n_parts, order, kinds)
            if follows and b - a <= cap_now // 2 and not heading:
                e_lo, e_hi = _strip(heap, s_lo, s_hi, kinds)
                end = heap[e_hi - 1]
                x_hi = _rstrip_punct(heap, lead[j], spans[j, 1])
                x_lo, x_hi = _strip(heap, lead[j], x_hi, kinds)
                if _member(_END_MARK_CODES, end) and b - a + 1 + x_hi - x_lo <= cap_now:
                    start = top
                    top = _copy(heap, top, a, b)
                    heap[top] = end
                    top = _copy(heap, top + 1, x_lo, x_hi)
                    a, b = start, top
            if attempt == 0:
                body_lo, body_hi = a, b
                topic = _topic(heap, a, b, term_lo, term_hi, used, n_used)
                if topic < 0 or term_hi[topic] == term_lo[topic]:
                    break
            else:
                if not _equal(heap, a, b, body_lo, body_hi):
                    topic = _topic(heap, a, b, term_lo, term_hi, used, n_used)
                if topic >= 0 and term_hi[topic] > term_lo[topic] \
                        and term_hi[topic] - term_lo[topic] + 1 + b - a <= limit:
                    start = top
                    top = _copy(heap, top, term_lo[topic], term_hi[topic])
                    heap[top] = _COLON
                    top = _copy(heap, top + 1, a, b)
                    body_lo, body_hi = start, top
                    used[n_used] = topic
                    n_used += 1
        final_lo[p], final_hi[p] = body_lo, body_hi
    # "N. " + body, one after another
    size = 0
    for p in range(n_pick):
        size += _n_digits(p + 1) + 2 + final_hi[p] - final_lo[p]
    out = np.empty(size, np.uint32)
    bounds = np.empty(n_pick + 1, np.int64)
    m = 0
    for p in range(n_pick):
        bounds[p] = m
        width = _n_digits(p + 1)
        for d in range(width - 1, -1, -1):
            out[m] = 48 + ((p + 1) // 10 ** d) % 10
            m += 1
        out[m], out[m + 1] = _DOT, _BLANK
        m += 2
        for k in range(final_lo[p], final_hi[p]):
            out[m] = heap[k]
            m += 1
    bounds[n_pick] = m
    return out, bounds
