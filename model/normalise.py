"""Text normalisation shared by training and tagging.

Both sides must see the same characters, so every feature path goes through
:func:`fold` (or :func:`normalise`, which also tidies whitespace):

* :func:`fold` maps each character on its own to its NFKC form, lower-cased
  (``ＡＩ`` → ``ai``, ``：`` → ``:``, ideographic and no-break spaces → `` ``),
  wherever that form is a single character. It never changes the length of
  the text, so an offset in the folded text is an offset in the original:
  tokens found once in folded text locate the original sentences and
  spellings (summaries, keywords) without segmenting the text a second time.
  The few characters whose NFKC form is several characters (``…``, ``①``,
  ligatures) are kept as they are.
* :func:`normalise` is ``fold`` with whitespace runs collapsed and the ends
  stripped, for short strings compared as wholes (labels, keywords, terms).
"""
from __future__ import annotations

import re
import sys
import unicodedata

_SPACE_RUN = re.compile(r"[ \t\u3000\xa0]+")
_CJK = re.compile(r"[\u4e00-\u9fff]")
_FOLD: dict[int, int] | None = None
_FOLD_RE: re.Pattern | None = None
_FOLD_STR: dict[str, str] = {}


def _fold_table() -> dict[int, int]:
    """Code point → code point of every BMP character whose one-character NFKC
    form, lower-cased, differs from it (:func:`fold` turns it into a regex of
    those characters). Built in about 7 ms, once per Python version: kept in a
    cache file (see :func:`.arrayfile.cached`) and read back in well under one."""
    global _FOLD
    if _FOLD is None:
        from .arrayfile import cached, unicode_name

        arrays = cached(unicode_name("fold-1"), _build_fold_table)
        _FOLD = dict(zip(arrays["from"].tolist(), arrays["to"].tolist()))
    return _FOLD


def _build_fold_table() -> dict[str, "np.ndarray"]:
    import numpy as np

    table = {}
    for cp in range(sys.maxunicode if sys.maxunicode < 0x10000 else 0x10000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        ch = chr(cp)
        out = unicodedata.normalize("NFKC", ch).lower()
        if len(out) == 1 and out != ch:
            table[cp] = ord(out)
    for ch in "\t\u3000\xa0":  # whitespace that is not a line break reads as a space
        table[ord(ch)] = 32
    return {"from": np.fromiter(table, np.int32, len(table)), "to": np.fromiter(table.values(), np.int32, len(table))}


def fold(text: str) -> str:
    """``text`` with every character NFKC-folded and lower-cased where that keeps it
    one character; ``len(fold(text)) == len(text)`` always."""
    global _FOLD_RE
    if text.isascii():  # the common title or English name: no table needed
        return text.lower().replace("\t", " ")
    if _FOLD_RE is None:
        _FOLD_STR.update((chr(k), chr(v)) for k, v in _fold_table().items())
        _FOLD_RE = re.compile("[" + "".join(re.escape(c) for c in sorted(_FOLD_STR)) + "]")
    # a regex finds the few characters to change (Chinese text: mostly
    # full-width punctuation) three times faster than str.translate walks them
    # all; the full-width comma, nine in ten of them in news, goes first in C
    return _FOLD_RE.sub(lambda m: _FOLD_STR[m.group()], text.replace("\uff0c", ","))


def normalise(text: str) -> str:
    """``fold(text)`` with whitespace runs collapsed to one space and the ends stripped."""
    return _SPACE_RUN.sub(" ", fold(text)).strip()


def cjk_ratio(text: str) -> float:
    """Share of non-space characters that are CJK ideographs (0 for empty text)."""
    visible = [c for c in text if not c.isspace()]
    if not visible:
        return 0.0
    return sum(1 for c in visible if _CJK.match(c)) / len(visible)
