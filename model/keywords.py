"""Keyword extraction: TF-IDF over the model's own IDF table.

jieba's stock IDF comes from general text; the bundle carries an IDF learned
from news, so terms common in news (发展, 工作) rank low and product, company
and technology names rank high. Title words count extra; taxonomy terms get a
boost; a term contained in a longer chosen term (人工智能 / 人工智能大会) is merged.
"""
from __future__ import annotations

import math
import re
from collections import Counter

from .normalise import normalise

_WORDLIKE = re.compile(r"^(?:[\u4e00-\u9fff]{2,}|[a-z][a-z0-9\-+.]{1,})$")


class KeywordExtractor:
    """Callable ``(title, text) -> list[str]`` of 3–8 keywords.

    Parameters
    ----------
    tokenizer : Tokenizer
    idf : dict[str, float]
        Word → IDF; unseen words get ``default_idf``.
    taxonomy_terms : set of str
        Normalised taxonomy terms, boosted by ``taxonomy_boost``.
    top_k : int, default 5
    """

    def __init__(self, tokenizer, idf: dict[str, float], default_idf: float, taxonomy_terms=frozenset(),
                 top_k: int = 5, title_weight: float = 2.0, taxonomy_boost: float = 1.5):
        if not 1 <= top_k <= 20:
            raise ValueError("top_k must be between 1 and 20")
        self.tokenizer = tokenizer
        self.idf = idf
        self.default_idf = default_idf
        self.taxonomy_terms = frozenset(taxonomy_terms)
        self.top_k = top_k
        self.title_weight = title_weight
        self.taxonomy_boost = taxonomy_boost

    def scored(self, title: str, text: str) -> list[tuple[str, float]]:
        body = normalise(text)
        counts = Counter(t for t in self.tokenizer(body) if _WORDLIKE.match(t))
        for t in self.tokenizer(normalise(title)):
            if _WORDLIKE.match(t):
                counts[t] += self.title_weight
        scored = []
        for term, tf in counts.items():
            s = (1 + math.log(tf)) * self.idf.get(term, self.default_idf)
            if term in self.taxonomy_terms:
                s *= self.taxonomy_boost
            scored.append((term, s))
        scored.sort(key=lambda kv: (-kv[1], kv[0]))
        return scored

    def __call__(self, title: str, text: str) -> list[str]:
        chosen: list[str] = []
        for term, _ in self.scored(title, text):
            if any(term in c or c in term for c in chosen):
                continue
            chosen.append(term)
            if len(chosen) == self.top_k:
                break
        return chosen
