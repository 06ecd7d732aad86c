"""Compiled loops of :mod:`.document`: word → id lookup and sentence cuts.

**Word ids** (:class:`.document.Lexicon`). An article has a few hundred
tokens; looking each up in a Python dict costs more than segmenting the
article did. Compiled, the lookup runs over the
tokens' code points: the batch's tokens are joined with a NUL after each
(one C call to join, one to encode) and an open-addressing hash table of the
known words, whose code points are kept in one flat array, gives their ids.

The table only answers what the dict would: a word is found only if its
code points equal a known word's, so ids are the same either way (an unknown
word gets -1 and is learned the usual way). The hash uses integer arithmetic
that never overflows, so interpreted and compiled code agree too.

**Sentence cuts** (:attr:`.document.Document.pieces`). The rule's characters
are defined here once: the ``_CUTS`` regex, the per-code-point table the
compiled loop reads (:data:`CHAR_KINDS`) and :data:`.document.SENTENCE_END`
are all made from them. The loop finds the regex's cuts and strips the
pieces without making a string per piece; the interpreted mode runs the
regex itself.
"""
from __future__ import annotations

import re

import numpy as np

from .kernels import kernel

# a sentence ends after an end mark (a closing quote right after it stays with
# it), at a line break or at a paragraph indent (two or more U+3000)
END_MARKS = "。！？!?；;"
CLOSING_QUOTES = "”’」』\""
# the cuts of .document.SENTENCE_END found twice as fast: the end mark itself
# is matched (group 1; the cut is after it) rather than every position tried
# with look-behinds
_CUTS = re.compile(f"([{END_MARKS}][{CLOSING_QUOTES}]?)|\n+|\u3000\u3000+")
# per code point, for the compiled loop: SPACE (str.strip's white space), END, CLOSE
SPACE, END, CLOSE = 1, 2, 4
CHAR_KINDS = np.zeros(max(map(ord, END_MARKS + CLOSING_QUOTES + "\u3000")) + 1, np.uint8)
CHAR_KINDS[[c for c in range(0x3001) if chr(c).isspace()]] |= SPACE  # (none lies beyond U+3000)
CHAR_KINDS[list(map(ord, END_MARKS))] |= END
CHAR_KINDS[list(map(ord, CLOSING_QUOTES))] |= CLOSE

_MASK = (1 << 40) - 1  # hash values stay below 2**40: times 1,000,003 fits in int64


@kernel(inline=True)
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


@kernel(inline=True)
def find_word(codes, lo, hi, table, keys, key_start):
    """The id of the word ``codes[lo:hi]`` in ``table`` (see :func:`insert_words`), -1 if none."""
    mask = len(table) - 1
    slot = _hash(codes, lo, hi) & mask
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
                return w
        slot = (slot + 1) & mask
    return -1


@kernel
def word_ids(codes, table, keys, key_start):
    """Ids of the tokens in ``codes`` (uint32 code points, each token followed
    by a 0), -1 for a token not in ``table`` (see :func:`insert_words`)."""
    n = 0
    for c in codes:
        if c == 0:
            n += 1
    ids = np.empty(n, np.int64)
    k, lo = 0, 0
    for hi in range(len(codes)):
        if codes[hi] != 0:
            continue
        ids[k] = find_word(codes, lo, hi, table, keys, key_start)
        k += 1
        lo = hi + 1
    return ids


def _cuts_numpy(codes, kinds, min_len):
    """:func:`cuts` by the regex (the interpreted mode): the rule itself."""
    text = codes.tobytes().decode("utf-32-le")
    found = [(m.end(), m.end()) if m.lastindex else m.span() for m in _CUTS.finditer(text)]
    pieces = np.asarray([[0] + [e for _, e in found], [s for s, _ in found] + [len(text)]], np.int64).T.copy()
    spans = []
    for s, e in pieces.tolist():
        piece = text[s:e]
        stripped = piece.strip()
        if len(stripped) >= min_len:
            s += len(piece) - len(piece.lstrip())
            spans.append((s, s + len(stripped)))
    return pieces, np.asarray(spans, np.int64).reshape(-1, 2)


@kernel(python=_cuts_numpy)
def cuts(codes, kinds, min_len):
    """``(pieces, spans)`` of a text's code points ``codes``: the ``(n, 2)``
    start/end of each piece between sentence ends (the whole text covered; a
    cut after an end mark and its closing quote, or over a run of line breaks
    or of two or more ideographic spaces), and the ``(m, 2)`` spans of the
    pieces stripped of white space that keep at least ``min_len`` characters.
    ``kinds``: :data:`CHAR_KINDS`."""
    n = len(codes)
    bounds = np.empty(2 * n + 2, np.int64)  # piece i is bounds[2i]:bounds[2i + 1]
    bounds[0] = 0
    k = 1
    i = 0
    while i < n:
        c = codes[i]
        j = i
        if _kind(kinds, c) & END:
            j = i + 2 if i + 1 < n and _kind(kinds, codes[i + 1]) & CLOSE else i + 1
            bounds[k], bounds[k + 1] = j, j
        elif c == 10 or (c == 0x3000 and i + 1 < n and codes[i + 1] == 0x3000):
            while j < n and codes[j] == c:
                j += 1
            bounds[k], bounds[k + 1] = i, j
        else:
            i += 1
            continue
        k += 2
        i = j
    bounds[k] = n
    pieces = bounds[: k + 1].reshape(-1, 2).copy()
    spans = np.empty_like(pieces)
    m = 0
    for p in range(len(pieces)):
        s, e = pieces[p, 0], pieces[p, 1]
        while s < e:
            if not _kind(kinds, codes[s]) & SPACE:
                break
            s += 1
        while e > s:
            if not _kind(kinds, codes[e - 1]) & SPACE:
                break
            e -= 1
        if e - s >= min_len:
            spans[m, 0], spans[m, 1] = s, e
            m += 1
    return pieces, spans[:m].copy()


@kernel(inline=True)
def _kind(kinds, c):
    return kinds[c] if c < len(kinds) else 0
