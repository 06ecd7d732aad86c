"""Extractive event summary (重大事件摘要): numbered points from central sentences."""
from __future__ import annotations

import re

_SENT_END = re.compile(r"(?<=[。！？!?；;])|\n+")
_CLAUSE = re.compile(r"[，,；;：:]")


def sentences(text: str) -> list[str]:
    """Split text into sentences at 。！？；and line breaks."""
    return [s.strip() for s in _SENT_END.split(text) if s and len(s.strip()) >= 6]


def trim(sentence: str, limit: int = 60) -> str:
    """Cut a sentence to at most ``limit`` characters at a clause boundary."""
    s = sentence.strip().rstrip("。！？!?；;")
    if len(s) <= limit:
        return s
    cut = max((m.start() for m in _CLAUSE.finditer(s, 0, limit)), default=-1)
    return s[:cut] if cut >= 10 else s[:limit]


class Summariser:
    """Callable ``(title, text) -> list[str]`` of 1–``max_points`` numbered points."""

    def __init__(self, tokenizer, idf: dict[str, float], default_idf: float, max_points: int = 3,
                 limit: int = 60):
        self.tokenizer = tokenizer
        self.idf = idf
        self.default_idf = default_idf
        self.max_points = max_points
        self.limit = limit

    def __call__(self, title: str, text: str) -> list[str]:
        sents = sentences(text)
        if not sents:
            return []
        picked = sents[: self.max_points]
        return [f"{i}. {trim(s, self.limit)}" for i, s in enumerate(picked, 1)]
