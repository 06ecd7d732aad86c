"""Compiled segmentation: rjieba's ``cut(text, hmm=True)``, token for token.

Tagging used to cut each text with rjieba, which makes a Python string of
every token, then join, encode and hash those strings back into lexicon ids.
:func:`segment_ids` does it in one pass over the texts' code points: it finds
the tokens the way jieba-rs does and looks each one up in the lexicon's hash
table (:mod:`.document_kernels`) where it lies in the text. Only unknown words
ever become strings (to be learned).

The rules (jieba-rs, which rjieba binds):

* **blocks**: runs of *block* characters (CJK ideographs, ASCII letters and
  digits, ``+#&._%-``) are segmented; anything else is one token per
  character, ``\\r\\n`` staying together;
* **dictionary route**: in a block, every dictionary word starting at a
  character is an edge; the route maximises the sum of ``log(freq) -
  log(total)`` (a character starting no word counts ``-log(total)``), ties
  going to the longer word;
* **HMM**: consecutive one-character pieces of the route are joined; a
  join of two or more that is no dictionary word is cut again: runs of
  U+4E00–U+9FD5 by the B/M/E/S Viterbi (ties to the later state), the rest
  into identifier-like runs (``gpt-4o``, ``3.5%``) and the text between them.

The dictionary is a trie (see :mod:`.segmenter`): a node per word or word
prefix, the root's children by code point, the others through a hash table
of ``(node, character)`` pairs. Each node also has a 64-bit mask of its
children's code points modulo 64: most steps of the route's walk find no
child, and the mask tells so without a probe of the large hash table (a
cache miss; segmenting and looking up went 13-16% faster).
``tests/test_segmenter.py`` checks every token against rjieba on the corpus
and the unlabelled stories.
"""
from __future__ import annotations

import numpy as np

from .document_kernels import find_word
from .kernels import kernel

# character classes (bits of the per-code-point table; code points past it have none)
BLOCK, HMM_HAN, ALNUM = 1, 2, 4
MIN_FLOAT = -3.14e100  # jieba's "impossible" log probability
B, E, M, S = 0, 1, 2, 3  # jieba-rs's state numbers (a tie goes to the larger)


@kernel(inline=True)
def _kind(codes, i, cls):
    c = codes[i]
    return cls[c] if c < len(cls) else 0


@kernel(inline=True)
def _slot(k, mask):
    h = (k ^ (k >> 29)) * 0xBF58476D1CE4E5B9 & 0x7FFFFFFFFFFFFFFF
    return (h ^ (h >> 32)) & mask


@kernel
def fill_trie(tkeys, tvals, keys, vals):
    """Enter the trie's steps into its hash table (``tkeys``: -1 where empty, a
    power of two at least twice the steps): step ``q`` is key ``keys[q]`` =
    ``parent node * 0x110000 + code point``, leading to node ``vals[q]``."""
    mask = len(tkeys) - 1
    for q in range(len(keys)):
        s = _slot(keys[q], mask)
        while tkeys[s] >= 0:
            s = (s + 1) & mask
        tkeys[s], tvals[s] = keys[q], vals[q]


@kernel(inline=True)
def _child(node, c, tkeys, tvals):
    """The trie node after ``node`` reading code point ``c`` (-1: none)."""
    k = np.int64(node) * 0x110000 + np.int64(c)
    mask = len(tkeys) - 1
    s = _slot(k, mask)
    while tkeys[s] >= 0:
        if tkeys[s] == k:
            return tvals[s]
        s = (s + 1) & mask
    return -1


@kernel(inline=True)
def _word_node(codes, lo, hi, root, tkeys, tvals):
    """The trie node of ``codes[lo:hi]`` (-1 if it is no word or prefix)."""
    c = codes[lo]
    node = root[c] if c < len(root) else -1
    i = lo + 1
    while node >= 0 and i < hi:
        node = _child(node, codes[i], tkeys, tvals)
        i += 1
    return node


@kernel(inline=True)
def _skip_split(codes, lo, hi, cls, ends, k):
    """Tokens of ``codes[lo:hi]`` (no HMM ideographs): each identifier-like run
    (ASCII letters and digits, joined by ``.``, ``_`` or ``-`` when more follow,
    then an optional ``%``) is one token, and so is the text between two; returns
    the new count."""
    i = lo
    gap = lo  # where the current stretch of other text began
    while i < hi:
        if not _kind(codes, i, cls) & ALNUM:
            i += 1
            continue
        if gap < i:
            ends[k] = i
            k += 1
        j = i
        while True:
            while j < hi:
                if not _kind(codes, j, cls) & ALNUM:
                    break
                j += 1
            if j + 1 < hi and (codes[j] == 46 or codes[j] == 95 or codes[j] == 45) \
                    and _kind(codes, j + 1, cls) & ALNUM:  # . _ - between two runs
                j += 1
            else:
                break
        if j < hi and codes[j] == 37:  # %
            j += 1
        ends[k] = j
        k += 1
        i = j
        gap = j
    if gap < hi:
        ends[k] = hi
        k += 1
    return k


@kernel(inline=True)
def _viterbi(codes, lo, hi, emit, start, trans, v, prev, path, ends, k):
    """Tokens of the ideographs ``codes[lo:hi]`` (two or more) by the B/M/E/S HMM."""
    n = hi - lo
    for y in range(4):
        c = np.int64(codes[lo]) - 0x4E00
        v[0, y] = start[y] + emit[y, c]
    for t in range(1, n):
        c = np.int64(codes[lo + t]) - 0x4E00
        for y in range(4):
            em = emit[y, c]
            # the two states that may come before y, as jieba-rs lists them (typed
            # int64: numba.pycc cannot unify the states' distinct literal types)
            if y == B:
                a, b = np.int64(E), np.int64(S)
            elif y == E:
                a, b = np.int64(B), np.int64(M)
            elif y == M:
                a, b = np.int64(M), np.int64(B)
            else:
                a, b = np.int64(S), np.int64(E)
            pa = v[t - 1, a] + trans[a, y] + em
            pb = v[t - 1, b] + trans[b, y] + em
            if pa > pb or (pa == pb and a > b):
                v[t, y], prev[t, y] = pa, a
            else:
                v[t, y], prev[t, y] = pb, b
    state = S if v[n - 1, S] >= v[n - 1, E] else E
    for t in range(n - 1, -1, -1):
        path[t] = state
        state = prev[t, state]
    last = 0
    for t in range(n):
        if path[t] == E or path[t] == S:
            ends[k] = lo + t + 1
            k += 1
            last = t + 1
    if last < n:
        ends[k] = hi
        k += 1
    return k


@kernel(inline=True)
def _hmm_cut(codes, lo, hi, cls, emit, start, trans, v, prev, path, ends, k):
    """Tokens of a join of one-character pieces that is no dictionary word."""
    i = lo
    while i < hi:
        han = _kind(codes, i, cls) & HMM_HAN
        j = i + 1
        while j < hi:
            if (_kind(codes, j, cls) & HMM_HAN) != han:
                break
            j += 1
        if han and j - i > 1:
            k = _viterbi(codes, i, j, emit, start, trans, v, prev, path, ends, k)
        elif han:
            ends[k] = j
            k += 1
        else:
            k = _skip_split(codes, i, j, cls, ends, k)
        i = j
    return k


@kernel(inline=True)
def _flush(codes, lo, hi, cls, root, tkeys, tvals, is_word, emit, start, trans, v, prev, path, ends, k):
    """Two or more joined one-character pieces ``codes[lo:hi]``: one token, the
    HMM's, or one per character. (A lone piece is its caller's: numba updates the
    reference counts of an inline kernel's array arguments on every call, here
    two dozen atomic updates, more than the piece's work.)"""
    node = _word_node(codes, lo, hi, root, tkeys, tvals)
    if node < 0 or not is_word[node]:
        return _hmm_cut(codes, lo, hi, cls, emit, start, trans, v, prev, path, ends, k)
    for i in range(lo + 1, hi + 1):
        ends[k] = i
        k += 1
    return k


@kernel
def segment_ids(codes, text_off, cls, root, tkeys, tvals, logp, is_word, kids, unknown, emit, start, trans,
                table, keys, key_start):
    """Segment texts and look their tokens up in a lexicon.

    ``codes``: the texts' code points (uint32), text ``t`` being
    ``codes[text_off[t]:text_off[t + 1]]``; ``cls`` … ``trans``: the
    dictionary and HMM (see :class:`.segmenter.Segmenter`); ``table``,
    ``keys``, ``key_start``: the lexicon's hash table (see
    :func:`.document_kernels.insert_words`).

    Returns ``(ends, ids, tok_off, missing)``: token ``q`` ends at
    ``ends[q]`` (an offset into ``codes``) and has lexicon id ``ids[q]``
    (-1: unknown), text ``t``'s tokens are ``tok_off[t]:tok_off[t + 1]``,
    and ``missing`` counts the -1s.
    """
    n_texts = len(text_off) - 1
    longest = 1
    for t in range(n_texts):
        longest = max(longest, text_off[t + 1] - text_off[t])
    ends = np.empty(len(codes), np.int64)
    tok_off = np.empty(n_texts + 1, np.int64)
    route = np.empty(longest + 1, np.float64)
    nxt = np.empty(longest, np.int64)
    v = np.empty((longest, 4), np.float64)
    prev = np.zeros((longest, 4), np.int64)
    path = np.empty(longest, np.int64)
    k = 0
    for t in range(n_texts):
        tok_off[t] = k
        at, stop = text_off[t], text_off[t + 1]
        while at < stop:
            if not _kind(codes, at, cls) & BLOCK:  # one token per character; "\r\n" is one
                at = at + 2 if codes[at] == 13 and at + 1 < stop and codes[at + 1] == 10 else at + 1
                ends[k] = at
                k += 1
                continue
            lo, hi = at, at + 1
            while hi < stop:
                if not _kind(codes, hi, cls) & BLOCK:
                    break
                hi += 1
            at = hi
            # the block codes[lo:hi]: the dictionary route, best from each position to the end
            route[hi - lo] = 0.0
            for i in range(hi - 1, lo - 1, -1):
                best, end = -np.inf, -1
                c = codes[i]
                node = root[c] if c < len(root) else -1
                j = i
                while node >= 0:
                    if is_word[node]:
                        p = logp[node] + route[j + 1 - lo]
                        if p > best or (p == best and j + 1 > end):
                            best, end = p, j + 1
                    j += 1
                    if j >= hi or not (kids[node] >> (codes[j] & 63)) & 1:
                        break
                    node = _child(node, codes[j], tkeys, tvals)
                if end < 0:
                    best, end = unknown + route[i + 1 - lo], i + 1
                route[i - lo], nxt[i - lo] = best, end
            # its tokens: the route's words, runs of one-character pieces flushed through the HMM
            x, joined = lo, -1
            while x < hi:
                y = nxt[x - lo]
                if y - x == 1:
                    if joined < 0:
                        joined = x
                else:
                    if joined >= 0:
                        if x - joined == 1:
                            ends[k] = x
                            k += 1
                        else:
                            k = _flush(codes, joined, x, cls, root, tkeys, tvals, is_word, emit, start, trans, v,
                                       prev, path, ends, k)
                        joined = -1
                    ends[k] = y
                    k += 1
                x = y
            if joined >= 0:
                if hi - joined == 1:
                    ends[k] = hi
                    k += 1
                else:
                    k = _flush(codes, joined, hi, cls, root, tkeys, tvals, is_word, emit, start, trans, v, prev,
                               path, ends, k)
    tok_off[n_texts] = k
    ids = np.empty(k, np.int64)
    missing = 0
    for t in range(n_texts):
        lo = text_off[t]
        for q in range(tok_off[t], tok_off[t + 1]):
            ids[q] = find_word(codes, lo, ends[q], table, keys, key_start)
            missing += ids[q] < 0
            lo = ends[q]
    return ends[:k].copy(), ids, tok_off, missing
