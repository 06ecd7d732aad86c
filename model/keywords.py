"""Keyword extraction: TF-IDF and TextRank over the model's own tables.

jieba's stock IDF comes from general text; a bundle carries an IDF learned
from the training news and a *keyness* learned from its annotated keywords
(``kw.idf``, ``kw.key``; see :mod:`newstag.training.keywords`), so terms
common in news (发展, 工作) rank low, names of products, companies, places
and programmes high, and words annotators pass over (会见, 记者) lower still.

Candidates are words kept by part of speech (names, places, organisations,
nouns, verbal nouns, latin terms; verbs, adjectives, numbers and times are
dropped), taxonomy terms whatever their tag, and quoted or book-title spans
(“深海一号”, 《…意见》), which is how broadcast news names things.

Score = sublinear TF (a title occurrence counts ``title_weight`` times) ×
IDF × (1 + ``textrank_weight`` × TextRank centrality over the word
co-occurrence graph) × a part-of-speech prior × keyness ** ``keyness_weight``
(× ``taxonomy_boost`` for taxonomy terms). Going down the ranking, a word
that mostly occurs inside one recurring noun compound is replaced by the
compound (天问 → 天问二号), and overlapping terms are merged: of 人工智能 /
人工智能大会 only the first-ranked one is kept. Each keyword is returned as
spelt in the article (case and full-width forms kept), so every keyword
occurs verbatim in the text.

Cost: one POS-tagging pass over title and body (rjieba: about half a
millisecond for a broadcast story) plus the scoring in Python.
"""
from __future__ import annotations

import math
import re
from collections import Counter

import numpy as np

from .normalise import normalise

_WORDLIKE = re.compile(r"^(?:[\u4e00-\u9fff]{2,}|[a-z][a-z0-9\-+.]{1,}|[a-z0-9]*[\u4e00-\u9fff][\u4e00-\u9fffa-z0-9]+)$")
_CJK = re.compile(r"[\u4e00-\u9fff]")
# 《书名》 and “quoted” spans name laws, programmes, products and ships
_QUOTED = re.compile(r"《([^《》\n]{2,24})》|“([^“”\n]{2,12})”|\"([^\"\n]{2,12})\"")
# serial numbers inside a name: 天问 + 二号, 神舟 + 十三号
_SERIAL = re.compile(r"^[0-9一二三四五六七八九十百零]+号$")
_SPAN_OK = re.compile(r"^[\u4e00-\u9fffa-z0-9\-·]+$")

# jieba part-of-speech flags kept as single-word candidates; "" is what
# rjieba gives dictionary words added at run time (the taxonomy terms)
NOUN_POS = frozenset({"n", "nr", "nrfg", "nrt", "ns", "nt", "nz", "vn", "eng", "j", "l", "an", ""})
# flags that may chain into a compound (numbers only inside: 天问 + 二号)
_COMPOUND_POS = frozenset({"n", "ns", "nt", "nz", "vn", "eng", "j", "nrt", ""})
# how much a part of speech is worth as a keyword: in the training annotations
# names of places, people and organisations are kept far more often than
# common nouns, and verbal nouns and idioms (l) less often still
POS_WEIGHT = {"nrt": 1.3, "nrfg": 1.3, "nr": 1.2, "ns": 1.2, "nt": 1.2, "": 1.2, "nz": 1.1, "eng": 1.1,
              "n": 1.0, "j": 0.9, "an": 0.8, "vn": 0.8, "l": 0.7}
_STOP = frozenset(
    "记者 新闻 央视 总台 报道 今天 今年 去年 明天 昨天 目前 日前 近日 方面 问题 情况 工作 时间 地方 地区 "
    "我国 全国 国家 中国 我们 他们 大家 人们 这里 那里 以来 其中 同时 此外 表示 介绍 指出 认为 发展 建设 "
    "活动 领域 项目 企业 产业 行业 国际 全球 世界 国内 相关 有关 部门 负责人 方式 数据 水平 能力 作用 "
    "重要 进行 推动 推进 加快 加强 实现 提升 开展 举行 召开 成为 通过 显示 持续 不断 进一步 日益 "
    "人次 万元 亿元 同比 记者会 发布会 新闻发布会 一批 一系列 亮点 特点 成果 任务 要求 措施 工程 "
    "经济 社会 人民 群众 高质量 新质 生产力 体系 机制 平台 服务 市场 产品 技术 科技 创新 合作".split()
)


def _variants(ch: str) -> str:
    # the spellings NFKC + lower-casing fold into ``ch``: itself, upper case, full width
    out = {ch, ch.upper()}
    if "!" <= ch <= "~":
        out |= {chr(ord(c) + 0xFEE0) for c in set(out) if "!" <= c <= "~"}
    return "[" + "".join(re.escape(c) for c in sorted(out)) + "]" if len(out) > 1 else re.escape(ch)


def surface(term: str, *texts: str) -> str:
    """``term`` (normalised) as spelt in the first of ``texts`` that contains it
    (case and full-width forms as written there), else ``term``."""
    for text in texts:
        if term in text:
            return term
    pattern = re.compile("".join(_variants(c) for c in term))
    for text in texts:
        m = pattern.search(text)
        if m:
            return m.group(0)
    return term


class KeywordExtractor:
    """Callable ``(title, text) -> list[str]`` of keywords, as spelt in the article.

    Parameters
    ----------
    tokenizer : Tokenizer
        The model's tokeniser; its backend and dictionary also drive POS tagging.
    idf : dict[str, float]
        Word → IDF (normalised words); unseen words get ``default_idf``.
    default_idf : float
    taxonomy_terms : set of str
        Normalised taxonomy terms and aliases: always candidates.
    top_k : int, default 5 (the bundle's ``keywords.top_k``)
        Keywords returned, at most; a short article whose distinct terms run
        out first gets back merged ones up to ``min_k`` (default 3), fewer only
        if it has fewer candidate terms at all.
    title_weight : float, default 3.0
    taxonomy_boost : float, default 1.0
        Extra factor for taxonomy terms (1: the learned keyness already knows them).
    textrank_weight : float, default 0.5
        0 gives pure TF-IDF.
    method : {"tfidf", "textrank"}, default "tfidf"
        "textrank" ranks by centrality × IDF alone (jieba's TextRank, with the
        bundle's IDF as node prior).
    compounds : bool, default True
        Replace a word by the noun compound it mostly occurs in.
    expand_share : float, default 0.8
        ... when the compound accounts for this share of its occurrences.
    pos_weight : dict, default :data:`POS_WEIGHT`
    keyness : dict[str, float], optional
        Word → learned keyness (1 = average); absent words count 1.
    keyness_weight : float, default 0.3
        Exponent of keyness. Higher fits the broadcast annotations better
        (F1@5 on dev 0.596 at 0.3, 0.613 at 0.6) but transfers worse to
        other outlets (0.614 → 0.533 on ``other``); see benchmarks/RESULTS.md.
    """

    def __init__(self, tokenizer, idf: dict[str, float], default_idf: float, taxonomy_terms=frozenset(),
                 top_k: int = 5, title_weight: float = 3.0, taxonomy_boost: float = 1.0,
                 textrank_weight: float = 0.5, method: str = "tfidf", min_k: int = 3,
                 compounds: bool = True, window: int = 5, pos_weight: dict | None = None,
                 expand_share: float = 0.8, keyness: dict | None = None, keyness_weight: float = 0.3):
        if not 1 <= top_k <= 20:
            raise ValueError("top_k must be between 1 and 20")
        if method not in ("tfidf", "textrank"):
            raise ValueError("method must be 'tfidf' or 'textrank'")
        self.tokenizer = tokenizer
        self.idf = idf
        self.default_idf = default_idf
        self.taxonomy_terms = frozenset(taxonomy_terms)
        self.top_k = top_k
        self.min_k = min(min_k, top_k)
        self.title_weight = title_weight
        self.taxonomy_boost = taxonomy_boost
        self.textrank_weight = textrank_weight
        self.method = method
        self.compounds = compounds
        self.window = window
        self.pos_weight = POS_WEIGHT if pos_weight is None else pos_weight
        self.expand_share = expand_share
        self.keyness = keyness or {}
        self.keyness_weight = keyness_weight
        self._tag = None
        self._last = None

    def __getstate__(self):
        # the POS tagger is rebuilt in each worker process rather than pickled
        return {**self.__dict__, "_tag": None, "_last": None}

    # ------------------------------------------------------------ tagging
    def tag(self, text: str) -> list[tuple[str, str]]:
        """``(word, flag)`` pairs of normalised ``text``, with the model's dictionary."""
        if self._tag is None:
            self._tag = pos_tagger(self.tokenizer)
        return self._tag(text)

    # ------------------------------------------------------------ candidates
    def _idf(self, term: str) -> float:
        return self.idf.get(term, self.default_idf)

    def candidates(self, title: str, text: str) -> tuple[dict[str, dict], list[str], Counter]:
        """Candidates of one article.

        Returns ``(cands, seq, runs)``: normalised candidate → ``{"tf", "idf",
        "title", "pos", "parts"}``; the body's kept words in order (for
        TextRank); and how often each noun compound (a tuple of words) occurs.
        """
        title_n, body_n = normalise(title), normalise(text)
        cands: dict[str, dict] = {}
        seq: list[str] = []
        runs: Counter = Counter()

        def add(term: str, idf: float, in_title: bool, flag: str, parts=None, weight: float = 1.0):
            c = cands.get(term)
            if c is None:
                c = cands[term] = {"tf": 0.0, "idf": idf, "title": False, "pos": flag, "parts": parts or [term]}
            c["tf"] += self.title_weight * weight if in_title else weight
            c["title"] |= in_title

        for in_title, text_n in ((True, title_n), (False, body_n)):
            run: list[str] = []
            for word, flag in (self.tag(text_n) if text_n else []) + [("", "x")]:
                if word in self.taxonomy_terms or (
                        flag in NOUN_POS and word not in _STOP and _WORDLIKE.match(word) is not None):
                    add(word, self._idf(word), in_title, flag)
                    if not in_title:
                        seq.append(word)
                if flag in _COMPOUND_POS and word.strip() or (run and _SERIAL.match(word)):
                    run.append(word)
                    continue
                if len(run) >= 2:
                    self._count_runs(run, runs, self.title_weight if in_title else 1)
                run = []
            # 《书名》 and “quoted” names: candidates of their own, counted as substrings
            for m in _QUOTED.finditer(text_n):
                span = next(g for g in m.groups() if g)
                if _SPAN_OK.match(span) and _CJK.search(span) and span not in cands:
                    parts = [w for w, _ in self.tag(span)]
                    idf = max(self._idf(p) for p in parts)
                    tf = body_n.count(span) + self.title_weight * title_n.count(span)
                    add(span, idf, span in title_n, "nz", parts, weight=0.0)
                    cands[span]["tf"] = tf
        return cands, seq, runs

    @staticmethod
    def _count_runs(run: list[str], runs: Counter, weight: float) -> None:
        # every contiguous stretch of 2–4 words (at most 12 characters) of a noun run
        for i in range(len(run)):
            for j in range(i + 2, min(i + 4, len(run)) + 1):
                parts = tuple(run[i:j])
                if len("".join(parts)) <= 12 and not _SERIAL.match(parts[0]):
                    runs[parts] += weight

    def expand(self, term: str, tf: float, runs: Counter) -> str:
        """The compound ``term`` mostly occurs in (天问 → 天问二号), or ``term`` itself.

        A compound replaces its word when it accounts for at least
        ``expand_share`` of the word's occurrences, and occurs twice or more.
        """
        best, best_n = term, 0.0
        for parts, n in runs.items():
            if term in parts and n >= 2 and n >= self.expand_share * tf:
                joined = "".join(parts)
                if (n, len(joined)) > (best_n, len(best)):
                    best, best_n = joined, n
        return best

    # ------------------------------------------------------------ scoring
    def _textrank(self, seq: list[str]) -> dict[str, float]:
        """PageRank over co-occurrence within ``window`` words (jieba's TextRank), scaled to max 1."""
        if len(seq) < 2:
            return {}
        index: dict[str, int] = {}
        ids = np.fromiter((index.setdefault(w, len(index)) for w in seq), np.int64, len(seq))
        n = len(index)
        src, dst = [], []
        for d in range(1, self.window):
            a, b = ids[:-d], ids[d:]
            keep = a != b
            src += [a[keep], b[keep]]
            dst += [b[keep], a[keep]]
        src, dst = np.concatenate(src), np.concatenate(dst)
        if not len(src):
            return {}
        # each edge occurrence carries weight 1; a node spreads its rank over its edges
        out_deg = np.bincount(src, minlength=n).astype(np.float64)
        rank = np.ones(n)
        for _ in range(10):
            share = rank / np.maximum(out_deg, 1)
            rank = 0.15 + 0.85 * np.bincount(dst, weights=share[src], minlength=n)
        rank /= rank.max()
        return dict(zip(index, rank.tolist()))

    def scored(self, title: str, text: str) -> list[tuple[str, float]]:
        """All candidates (normalised) with their scores, best first."""
        return self._scored(*self.candidates(title, text))[0]

    def _scored(self, cands: dict, seq: list[str], runs: Counter):
        tr = self._textrank(seq) if (self.textrank_weight or self.method == "textrank") else {}
        out = []
        for term, c in cands.items():
            centrality = max((tr.get(p, 0.0) for p in c["parts"]), default=0.0)
            if self.method == "textrank":
                s = (centrality + (1.0 if c["title"] else 0.0)) * c["idf"]
            else:
                s = (1 + math.log(c["tf"])) * c["idf"] * (1 + self.textrank_weight * centrality)
            if term in self.taxonomy_terms:
                s *= self.taxonomy_boost
            s *= self.pos_weight.get(c["pos"], 1.0)
            if self.keyness:
                s *= max(self.keyness.get(p, 1.0) for p in c["parts"]) ** self.keyness_weight
            out.append((term, s))
        out.sort(key=lambda kv: (-kv[1], kv[0]))
        return out, cands, runs

    def __call__(self, title: str, text: str) -> list[str]:
        # the summariser asks for the same article's keywords (its topics) right
        # after the tagger did: answer the repeat from the last call
        last = self._last
        if last is not None and last[0] == title and last[1] == text:
            return list(last[2])
        out = self._extract(title, text)
        self._last = (title, text, out)
        return list(out)

    def _extract(self, title: str, text: str) -> list[str]:
        ranked, cands, runs = self._scored(*self.candidates(title, text))
        chosen: list[str] = []
        merged: list[str] = []
        for term, _ in ranked:
            if self.compounds:
                term = self.expand(term, cands[term]["tf"], runs)
            # overlapping terms are merged: the first (better-scored) one stands
            if any(term in c or c in term for c in chosen):
                merged.append(term)
                continue
            chosen.append(term)
            if len(chosen) == self.top_k:
                break
        # a short article may have too few distinct terms: give back merged ones
        for term in merged:
            if len(chosen) >= self.min_k:
                break
            if term not in chosen:
                chosen.append(term)
        return [surface(t, text, title) for t in chosen]


def pos_tagger(tokenizer):
    """A ``text -> [(word, flag)]`` function using ``tokenizer``'s backend and dictionary."""
    if hasattr(tokenizer, "tag"):
        # the tokeniser's own segmenter, built the same way: no second
        # dictionary to build (~0.3 s at start-up and in every worker process)
        return tokenizer.tag
    words = [w for w in tokenizer.user_words if not re.search(r"\s", w)]
    key = (tokenizer.backend, tuple(words))
    if key in _TAGGERS:
        return _TAGGERS[key]
    if tokenizer.backend == "rjieba":
        import rjieba

        tok = rjieba.Jieba()
        for w in words:
            tok.add_word(w, 20000, None)
        fn = tok.tag
    else:
        import logging

        import jieba
        import jieba.posseg

        jieba.setLogLevel(logging.WARNING)
        base = jieba.Tokenizer()
        for w in words:
            base.add_word(w, freq=20000)
        pt = jieba.posseg.POSTokenizer(base)
        fn = lambda text: [(p.word, p.flag) for p in pt.cut(text)]  # noqa: E731
    _TAGGERS.clear()  # one model's dictionary at a time
    _TAGGERS[key] = fn
    return fn


_TAGGERS: dict = {}
