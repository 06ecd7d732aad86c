"""The keyword tables stored in a bundle (``kw.words``, ``kw.idf``, ``kw.key``).

Keyword extraction needs an IDF for every word a news article may contain,
not only for the words that made it into the classifier's vocabulary (which
is capped and pruned for the label model's sake, and may change when the
label model is tuned). So training also records, separately, the document
frequency of every content word seen at least ``min_df`` times, turned into a
smoothed IDF. Only this table is added to the bundle; the label model is not
touched.

Where the training articles carry annotated keywords (``关键词``), training
also learns each word's *keyness* (as in KEA): how often, among the
articles that contain the word, the annotators' keywords include it (or a
keyword contains it, or it contains one), smoothed towards the average and
stored relative to it, so 1 is neutral, 2 twice as likely as the average
word, 0.2 a word annotators pass over (记者, 发展, 会议…). It replaces a
hand-written stoplist with one learned from the annotations.
"""
from __future__ import annotations

from collections import Counter
from typing import Iterable

import numpy as np


def keyword_idf(doc_words: Iterable[Iterable[str]], extra_df: Counter | None = None, extra_n: int = 0,
                min_df: int = 2, doc_keywords: Iterable[Iterable[str]] | None = None,
                smoothing: float = 5.0) -> tuple[dict[str, np.ndarray], dict]:
    """Arrays and meta for the keyword IDF and keyness.

    Parameters
    ----------
    doc_words : iterable of iterables of str
        Per training document, its content tokens (duplicates are ignored).
    extra_df, extra_n : Counter, int
        Document frequencies of unlabelled text, keys prefixed ``w:`` (as
        :meth:`Featurizer.fit` takes them), and how many documents they cover.
    min_df : int, default 2
        Words seen in fewer documents are left out; they get ``default_idf``
        at run time, the IDF of a word seen once.
    doc_keywords : iterable of iterables of str, optional
        Per training document (same order as ``doc_words``), its annotated
        keywords, normalised; documents without any are not counted for keyness.
    smoothing : float, default 5.0
        Pseudo-documents of average keyness added to every word's counts.

    Returns
    -------
    arrays : ``{"kw.words": str array (n,), "kw.idf": float32 array (n,), "kw.key": float32 array (n,)}``
    meta : ``{"n_docs", "default_idf", "min_df", "keyness_docs"}``
    """
    df: Counter = Counter()
    seen: Counter = Counter()  # documents with keywords that contain the word
    chosen: Counter = Counter()  # ... whose keywords include it
    n = n_key = 0
    keywords_iter = iter(doc_keywords) if doc_keywords is not None else None
    for words in doc_words:
        words = set(words)
        df.update(words)
        n += 1
        gold = [k for k in (next(keywords_iter, None) or [] if keywords_iter else []) if k]
        if gold:
            n_key += 1
            seen.update(words)
            chosen.update(w for w in words if any(w in g or g in w for g in gold))
    for key, count in (extra_df or {}).items():
        if key.startswith("w:"):
            df[key[2:]] += count
    n += extra_n
    words = sorted(t for t, c in df.items() if c >= min_df)
    counts = np.asarray([df[t] for t in words], dtype=np.float64)
    # the same smoothing as the feature IDF, so the two tables are comparable
    idf = (np.log((1 + n) / (1 + counts)) + 1).astype(np.float32)
    default_idf = float(np.log((1 + n) / 2) + 1)
    key = np.ones(len(words), np.float32)
    if n_key:
        base = sum(chosen.values()) / max(sum(seen.values()), 1)
        hits = np.asarray([chosen[t] for t in words], np.float64)
        tries = np.asarray([seen[t] for t in words], np.float64)
        key = ((hits + smoothing * base) / (tries + smoothing) / base).astype(np.float32)
    arrays = {"kw.words": np.array(words, dtype=np.str_), "kw.idf": idf, "kw.key": key}
    return arrays, {"n_docs": n, "default_idf": round(default_idf, 6), "min_df": min_df, "keyness_docs": n_key}


__all__ = ["keyword_idf"]
