"""Word segmentation with jieba or rjieba (jieba-rs), plus taxonomy terms.

The backend is chosen at training time and recorded in the model bundle, so
tagging segments text exactly as training did. Both backends share jieba's
dictionary; taxonomy labels and aliases are added to it so that terms such as
具身智能 or 算力与数据中心 stay whole.
"""
from __future__ import annotations

import importlib.machinery
import importlib.util
import logging
import re
import sys
from functools import lru_cache
from pathlib import Path
from typing import Iterable

BACKENDS = ("jieba", "rjieba")
USER_WORD_FREQ = 20000  # the dictionary frequency of the user words (taxonomy terms): they stay whole

# A token is kept if it has a CJK ideograph or a latin letter; punctuation,
# whitespace and bare numbers carry no topic.
_KEEP = re.compile(r"[\u4e00-\u9fffa-z]")
_CJK = re.compile(r"[\u4e00-\u9fff]")
_SPACE = re.compile(r"\s")
_STOP = frozenset(
    "的 了 和 是 在 也 与 及 等 对 将 为 这 那 就 都 而 并 又 从 到 向 被 把 让 给 于 以 之 其 "
    "中 上 下 个 年 月 日 我们 他们 一个 一些 这个 这些 那些 以及 已经 进行 表示 记者 目前 "
    "今年 去年 今天 近日 同时 通过 其中 没有 可以 还是 就是 因为 所以 如果 但是 不是".split()
)


def _rjieba_class():
    """rjieba's ``Jieba`` class, loaded without running ``rjieba/__init__.py``.

    That ``__init__`` builds a module-level default segmenter we never use,
    which costs as much start-up time (~0.3 s) as our own segmenter; loading
    the compiled module directly skips it. Any surprise → the normal import.
    """
    if "rjieba" in sys.modules:
        return sys.modules["rjieba"].Jieba
    try:
        mod = sys.modules.get("rjieba.rjieba")
        if mod is None:
            spec = importlib.util.find_spec("rjieba")
            folder = Path(next(iter(spec.submodule_search_locations)))
            ext = next(f for f in sorted(folder.iterdir()) if f.name.startswith("rjieba.")
                       and f.name.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES)))
            loader = importlib.machinery.ExtensionFileLoader("rjieba.rjieba", str(ext))
            mod = importlib.util.module_from_spec(importlib.util.spec_from_loader("rjieba.rjieba", loader))
            loader.exec_module(mod)
            sys.modules["rjieba.rjieba"] = mod  # a later `import rjieba` reuses it
        return mod.Jieba
    except Exception:  # noqa: BLE001 - an unusual install: take the documented route
        import rjieba

        return rjieba.Jieba


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
        self._tag = None
        self._compiled = None

    def dictionary_words(self) -> list[str]:
        """The user words the segmenter's dictionary gets (with frequency ``USER_WORD_FREQ``)."""
        # Only terms with a CJK character: latin runs are kept whole by the
        # segmenter anyway, while a latin alias in the dictionary cuts product
        # names apart (seedance → se|eda|nce makes "eda" fire 半导体).
        return [w for w in self.user_words if not re.search(r"\s", w) and _CJK.search(w)]

    def compiled(self):
        """The :class:`.segmenter.Segmenter` that gives this tokeniser's segments
        from compiled code (see :mod:`.segment_kernels`), or None for a backend
        it does not reproduce (jieba's own rules differ in details)."""
        if self.backend != "rjieba" or self._compiled is False:
            return None
        if self._compiled is None:
            from .segmenter import Segmenter

            segmenter = Segmenter(self.dictionary_words())
            if not segmenter.agrees(self.raw):
                print("newstag: the installed rjieba segments differently from newstag's compiled copy of it; "
                      "using rjieba itself (slower)", file=sys.stderr)
                self._compiled = False
                return None
            self._compiled = segmenter
        return self._compiled

    def _init(self):
        words = self.dictionary_words()
        if self.backend == "jieba":
            import jieba

            jieba.setLogLevel(logging.WARNING)
            tok = jieba.Tokenizer()
            for w in words:
                tok.add_word(w, freq=USER_WORD_FREQ)
            self._cut = lambda text: tok.lcut(text, HMM=True)

            pos = None

            def tag(text):
                nonlocal pos
                if pos is None:  # built on first use: most callers never tag
                    import jieba.posseg

                    pos = jieba.posseg.POSTokenizer(tok)
                return [(p.word, p.flag) for p in pos.cut(text, HMM=True)]

            self._tag = tag
        else:
            tok = _rjieba_class()()
            for w in words:
                tok.add_word(w, USER_WORD_FREQ, None)
            self._cut = tok.cut
            self._tag = tok.tag

    def __getstate__(self):
        # the segmenter is rebuilt in each worker process rather than pickled
        return {"backend": self.backend, "user_words": self.user_words, "_cut": None, "_tag": None,
                "_compiled": None}

    def __setstate__(self, state):
        self.__dict__.update({"_compiled": None, **state})  # (bundles pickled before it had one)

    def raw(self, text: str) -> list[str]:
        """All segments, punctuation included (for keyword and sentence work)."""
        if self._cut is None:
            self._init()
        return self._cut(text)

    def tag(self, text: str) -> list[tuple[str, str]]:
        """``(segment, part-of-speech flag)`` pairs with the same dictionary as
        :meth:`raw` (with rjieba the same segments too; jieba's POS tagger has
        its own rules). Keyword extraction can use it instead of building a
        second dictionary, which costs ~0.3 s at start-up and in every worker."""
        if self._cut is None:
            self._init()
        return self._tag(text)

    def flag(self, word: str) -> str:
        """The part-of-speech flag :meth:`tag` gives ``word`` (a segment of :meth:`raw`).

        rjieba's flag is a function of the word alone (its dictionary tag, or
        ``eng``/``m``/``x`` by its characters), so tagging the word on its
        own gives it. A word that does not come back whole gets the flag of its
        characters: an unknown word the HMM found in context (rjieba's flag for
        it too) or a dictionary word that splits when alone (中马, 两国: about
        0.1 % of tokens on the corpus, where it differs from in-context tagging).
        """
        pairs = self.tag(word)
        if len(pairs) == 1 and pairs[0][0] == word:
            return pairs[0][1]
        return _flag_of_characters(word)

    def flags(self, words: list[str]) -> list[str]:
        """:meth:`flag` of each of ``words``, the same flags.

        With rjieba the words are tagged in one call, one per line: the
        segmenter cuts text into blocks at characters such as line breaks
        before it looks at words, so each word is tagged as if alone, and
        one call costs less than a call per word (the lexicon learns tens of
        thousands of words in a run). Words holding white space are tagged
        one by one, and if the tokens do not line up with the words, all are.
        """
        if self.backend != "rjieba":
            return [self.flag(w) for w in words]
        out: list[str | None] = [None] * len(words)
        lined = [i for i, w in enumerate(words) if w and not _SPACE.search(w)]
        pairs = self.tag("\n".join(words[i] for i in lined))
        # word k's tokens lie between the line breaks before and after it
        ends = [p for p, (token, _) in enumerate(pairs) if token == "\n"] + [len(pairs)]
        if len(ends) != len(lined):
            return [self.flag(w) for w in words]  # out of line: not as expected
        start = 0
        for i, end in zip(lined, ends):
            word = words[i]
            if end - start == 1 and pairs[start][0] == word:  # (nearly every word)
                out[i] = pairs[start][1]
            elif "".join(t for t, _ in pairs[start:end]) == word:
                out[i] = _flag_of_characters(word)
            else:
                return [self.flag(w) for w in words]
            start = end + 1
        return [f if f is not None else self.flag(w) for w, f in zip(words, out)]

    def __call__(self, text: str) -> list[str]:
        """Content tokens of normalised text: no punctuation, numbers or stopwords."""
        if self._cut is None:
            self._init()
        return [t for t in self._cut(text) if is_content(t)]


def _flag_of_characters(word: str) -> str:
    # the flag of a word that does not come back whole from tagging (see Tokenizer.flag)
    if not word.isascii() or not word.isalnum():
        return "x"
    return "m" if word.isdigit() else "eng"


@lru_cache(maxsize=1 << 18)
def is_content(token: str) -> bool:
    """A token that can carry a topic: has a CJK ideograph or a latin letter, is no stopword."""
    return token not in _STOP and bool(_KEEP.search(token)) and not token.isspace()
