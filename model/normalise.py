"""Text normalisation shared by training and tagging.

Both sides must see the same characters, so every feature path goes through
:func:`normalise`: NFKC folds full-width latin, digits and punctuation into
their ASCII forms (``ＡＩ`` → ``AI``, ``：`` → ``:``), latin is lower-cased so
``5G``/``5g`` and ``AI``/``ai`` are one feature, and runs of whitespace
(including the ideographic space used as paragraph indent) collapse.
"""
from __future__ import annotations

import re
import unicodedata

_SPACE_RUN = re.compile(r"[ \t\u3000\xa0]+")
_PARAGRAPH_SPLIT = re.compile(r"\n\s*|\u3000\u3000|(?<=[。！？!?])\s+")
_CJK = re.compile(r"[\u4e00-\u9fff]")


def normalise(text: str) -> str:
    """Return ``text`` NFKC-folded, lower-cased and with whitespace runs collapsed."""
    text = unicodedata.normalize("NFKC", text).lower()
    return _SPACE_RUN.sub(" ", text).strip()


def paragraphs(text: str) -> list[str]:
    """Split an article body into non-empty paragraphs.

    Broadcast transcripts mark paragraphs with newlines; copied web text often
    uses a double ideographic space instead, so both count as breaks.
    """
    return [p.strip() for p in _PARAGRAPH_SPLIT.split(text) if p and p.strip()]


def cjk_ratio(text: str) -> float:
    """Share of non-space characters that are CJK ideographs (0 for empty text)."""
    visible = [c for c in text if not c.isspace()]
    if not visible:
        return 0.0
    return sum(1 for c in visible if _CJK.match(c)) / len(visible)
