"""Compiled word → id lookup of the lexicon (see :class:`.document.Lexicon`).

An article has a few hundred tokens; looking each up in a Python dict costs
more than segmenting the article did. Compiled, the lookup runs over the
tokens' code points: the batch's tokens are joined with a NUL after each
(one C call to join, one to encode) and an open-addressing hash table of the
known words, whose code points are kept in one flat array, gives their ids.

The table only answers what the dict would: a word is found only if its
code points equal a known word's, so ids are the same either way (an unknown
word gets -1 and is learned the usual way). The hash uses integer arithmetic
that never overflows, so interpreted and compiled code agree too.
"""
from __future__ import annotations

import numpy as np

from .kernels import kernel

_MASK = (1 << 40) - 1  # hash values stay below 2**40: times 1,000,003 fits in int64


@kernel
def _hash(codes, lo, hi):
    h = 5381
    for i in range(lo, hi):
        h = ((h * 1000003) ^ np.int64(codes[i])) & _MASK
    return h


@kernel
def insert_words(table, keys, key_start, first, last):
    """Enter words ``first:last`` (word ``w``'s code points are
    ``keys[key_start[w]:key_start[w + 1]]``) into ``table`` (a power-of-two
    sized int64 array, -1 where empty, kept at most half full by the caller)."""
    mask = len(table) - 1
    for w in range(first, last):
        slot = _hash(keys, key_start[w], key_start[w + 1]) & mask
        while table[slot] >= 0:
            slot = (slot + 1) & mask
        table[slot] = w


@kernel
def word_ids(codes, table, keys, key_start):
    """Ids of the tokens in ``codes`` (uint32 code points, each token followed
    by a 0), -1 for a token not in ``table`` (see :func:`insert_words`)."""
    n = 0
    for c in codes:
        if c == 0:
            n += 1
    ids = np.empty(n, np.int64)
    mask = len(table) - 1
    k, lo = 0, 0
    for hi in range(len(codes)):
        if codes[hi] != 0:
            continue
        slot = _hash(codes, lo, hi) & mask
        found = -1
        while table[slot] >= 0:
            w = table[slot]
            a, b = key_start[w], key_start[w + 1]
            if b - a == hi - lo:
                same = True
                for i in range(hi - lo):
                    if keys[a + i] != codes[lo + i]:
                        same = False
                        break
                if same:
                    found = w
                    break
            slot = (slot + 1) & mask
        ids[k] = found
        k += 1
        lo = hi + 1
    return ids
