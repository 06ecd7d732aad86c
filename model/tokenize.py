"""Word segmentation with jieba or rjieba (jieba-rs), plus taxonomy terms.

The backend is chosen at training time and recorded in the model bundle, so
tagging segments text exactly as training did. Both backends share jieba's
dictionary; taxonomy labels and aliases are added to it so that terms such as
具身智能 or 算力与数据中心 stay whole.
"""
from __future__ import annotations

import logging
import re
from typing import Iterable

BACKENDS = ("jieba", "rjieba")

# A token is kept if it has a CJK ideograph or a latin letter; punctuation,
# whitespace and bare numbers carry no topic.
_KEEP = re.compile(r"[\u4e00-\u9fffa-z]")
_STOP = frozenset(
    "的 了 和 是 在 也 与 及 等 对 将 为 这 那 就 都 而 并 又 从 到 向 被 把 让 给 于 以 之 其 "
    "中 上 下 个 年 月 日 我们 他们 一个 一些 这个 这些 那些 以及 已经 进行 表示 记者 目前 "
    "今年 去年 今天 近日 同时 通过 其中 没有 可以 还是 就是 因为 所以 如果 但是 不是".split()
)


class Tokenizer:
    """Callable ``text -> list[str]`` for normalised text.

    Parameters
    ----------
    backend : {"jieba", "rjieba"}, default "jieba"
    user_words : iterable of str
        Extra dictionary entries (taxonomy terms), added with a high frequency.
    """

    def __init__(self, backend: str = "jieba", user_words: Iterable[str] = ()):
        if backend not in BACKENDS:
            raise ValueError(f"unknown tokeniser backend {backend!r}; choose one of {', '.join(BACKENDS)}")
        self.backend = backend
        self.user_words = tuple(sorted({w for w in user_words if len(w) > 1}))
        self._cut = None

    def _init(self):
        words = [w for w in self.user_words if not re.search(r"\s", w)]
        if self.backend == "jieba":
            import jieba

            jieba.setLogLevel(logging.WARNING)
            tok = jieba.Tokenizer()
            for w in words:
                tok.add_word(w, freq=20000)
            self._cut = lambda text: tok.lcut(text, HMM=True)
        else:
            import rjieba

            tok = rjieba.Jieba()
            for w in words:
                tok.add_word(w, 20000, None)
            self._cut = tok.cut

    def __getstate__(self):
        # the segmenter is rebuilt in each worker process rather than pickled
        return {"backend": self.backend, "user_words": self.user_words, "_cut": None}

    def raw(self, text: str) -> list[str]:
        """All segments, punctuation included (for keyword and sentence work)."""
        if self._cut is None:
            self._init()
        return self._cut(text)

    def __call__(self, text: str) -> list[str]:
        """Content tokens of normalised text: no punctuation, numbers or stopwords."""
        if self._cut is None:
            self._init()
        return [t for t in self._cut(text) if t not in _STOP and _KEEP.search(t) and not t.isspace()]
