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
millisecond for a broadcast story) plus the scoring, whose loops over the
tokens are compiled with numba in a long run (:mod:`.keyword_kernels`).
"""
from __future__ import annotations

import bisect
import math
import re
from collections.abc import Callable, Iterator

import numpy as np

from .document import Document, Lexicon, own_document
from .keyword_kernels import expansions, score_candidates

_WORDLIKE = re.compile(r"^(?:[\u4e00-\u9fff]{2,}|[a-z][a-z0-9\-+.]{1,}|[a-z0-9]*[\u4e00-\u9fff][\u4e00-\u9fffa-z0-9]+)$")
_CJK = re.compile(r"[\u4e00-\u9fff]")
# 《书名》 and “quoted” spans name laws, programmes, products and ships
_QUOTED = re.compile(r"《([^《》\n]{2,24})》|“([^“”\n]{2,12})”|\"([^\"\n]{2,12})\"")
# serial numbers inside a name: 天问 + 二号, 神舟 + 十三号
_SERIAL = re.compile(r"^[0-9一二三四五六七八九十百零]+号$")
_SPAN_OK = re.compile(r"^[\u4e00-\u9fffa-z0-9\-·]+$")
MAX_COMPOUND_CHARS = 12  # the longest noun compound, in characters (see KeywordExtractor.expand)
SPAN_CACHE = 20_000  # quoted spans whose words and prior are kept (see KeywordExtractor._span)

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
                 expand_share: float = 0.8, keyness: dict | None = None, keyness_weight: float = 0.3,
                 lexicon: Lexicon | None = None):
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
        self.compounds_on = compounds
        self.window = window
        self.pos_weight = POS_WEIGHT if pos_weight is None else pos_weight
        self.expand_share = expand_share
        self.keyness = keyness or {}
        self.keyness_weight = keyness_weight
        self.lexicon = lexicon
        self._tag = None
        self._spans: dict[str, tuple | None] = {}  # see _span

    def __getstate__(self):
        # the POS tagger is rebuilt in each worker process rather than pickled,
        # and a copy starts its own cache of spans
        return {**self.__dict__, "_tag": None, "_spans": {}}

    # ------------------------------------------------------------ tagging
    def tag(self, text: str) -> list[tuple[str, str]]:
        """``(word, flag)`` pairs of normalised ``text``, with the model's dictionary."""
        if self._tag is None:
            self._tag = pos_tagger(self.tokenizer)
        return self._tag(text)

    def _idf(self, term: str) -> float:
        return self.idf.get(term, self.default_idf)

    # ------------------------------------------------------------ per-word columns
    def columns(self, lexicon: Lexicon) -> str:
        """Register this extractor's per-word columns with ``lexicon`` (once); the
        prefix of their names there."""
        return lexicon.columns_of(self, self._column_specs)

    def _column_specs(self) -> dict[str, tuple]:
        return {
            "cand": (self._is_candidate, bool, False),
            "score": (self._word_score, np.float64, 0.0),
            "idf": (lambda w, f: self._idf(w), np.float64, 0.0),
            "compound": (lambda w, f: f in _COMPOUND_POS and bool(w.strip()), bool, False),
            "serial": (lambda w, f: _SERIAL.match(w) is not None, bool, False),
        }

    def _is_candidate(self, word: str, flag: str) -> bool:
        return word in self.taxonomy_terms or (
            flag in NOUN_POS and word not in _STOP and _WORDLIKE.match(word) is not None)

    def _word_score(self, word: str, flag: str) -> float:
        """Everything of a candidate's score that depends on the word alone."""
        return self._prior(self._idf(word), flag, word in self.taxonomy_terms, (word,))

    def _prior(self, idf: float, flag: str, taxonomy: bool, parts) -> float:
        s = idf * self.pos_weight.get(flag, 1.0)
        if taxonomy:
            s *= self.taxonomy_boost
        if self.keyness:
            get = self.keyness.get
            # (a word alone, for every new word of a run: no generator)
            key = get(parts[0], 1.0) if len(parts) == 1 else max(get(p, 1.0) for p in parts)
            s *= key ** self.keyness_weight
        return s

    # ------------------------------------------------------------ candidates
    def document(self, title: str, text: str) -> Document:
        """``title``/``text`` segmented with this extractor's lexicon."""
        return own_document(self, title, text)

    def scored(self, title, text: str | None = None) -> list[tuple[str, float]]:
        """All candidates (normalised) with their scores, best first."""
        doc = title.refresh() if isinstance(title, Document) else self.document(title, text)
        term, score, _ = self._candidates(doc)
        values = score.tolist()
        return [(term(k), values[k]) for k in _best_first(score, term)]

    def _candidates(self, doc: Document, expand: bool = False) -> tuple[Callable[[int], str], np.ndarray, dict[int, list[int]]]:
        """``(term, score, expanded)``: the candidates (single words, then quoted
        spans) by number, in no particular order: ``term(k)`` is candidate
        ``k``'s term, ``score[k]`` its score; with ``expand``, ``expanded`` maps
        the number of each term that :meth:`expand` replaces to where its compound
        lies (see :func:`compound`).

        Single words are counted, scored and expanded over the document's token
        ids by :mod:`.keyword_kernels`, one call each; 《书名》 and “quoted”
        spans, a handful per article, are scored one by one and expanded in the
        words' call (one call per span cost about 5 µs an article). A word's string is looked up
        only when ``term`` is asked for it: the keyword choice rarely goes past
        the first ten of some seventy candidates.
        """
        lex = doc.lexicon
        col = self.columns(lex)
        by_centrality = self.method == "textrank"
        prior = doc.column(col + (".idf" if by_centrality else ".score"))
        uniq, tf, centrality, score = score_candidates(
            doc.title_ids, doc.body_ids, doc.column(col + ".cand"), prior, float(self.title_weight), int(self.window),
            float(self.textrank_weight), by_centrality)
        ids = uniq.tolist()
        spans, span_score, span_words = self._quoted(doc, ids, centrality)
        expanded = self._expansions(doc, uniq, tf, span_words) if expand else {}
        words, n = lex.words, len(ids)
        if spans:
            score = np.concatenate((score, span_score))
        return (lambda k: words[ids[k]] if k < n else spans[k - n]), score, expanded

    def _quoted(self, doc: Document, uniq: list[int], centrality: np.ndarray
                ) -> tuple[list[str], list[float], tuple[list[int], list[int], list[float]]]:
        """The article's 《书名》 and “quoted” names that are not candidate words
        already (``uniq``: their ids, ascending), with their scores, counted as
        substrings; and ``(numbers, ids, counts)`` of the spans that are words
        of the lexicon (only those can expand to a compound, a run of its
        words), numbered after the words of ``uniq``."""
        spans: list[str] = []
        scores: list[float] = []
        word_numbers: list[int] = []
        word_ids: list[int] = []
        word_counts: list[float] = []
        rank = None  # the words' centrality, as a list when the first span needs it
        ids = doc.lexicon.ids
        cache = self._spans
        for text_n in (doc.title_f, doc.body_f):
            for m in _QUOTED.finditer(text_n):
                span = m.group(m.lastindex)  # the one group of the alternative that matched
                known = cache.get(span, False)
                if known is False:
                    known = self._span(span)
                wid = ids.get(span)
                if known is None or span in spans or _number(uniq, wid) >= 0:
                    continue
                parts, idf, prior = known
                if rank is None:
                    rank = centrality.tolist()
                n = doc.body_f.count(span) + self.title_weight * doc.title_f.count(span)
                # the highest centrality of the parts that are candidate words (an
                # earlier span among them counts 0, as if absent)
                c = 0.0
                for p in parts:
                    k = _number(uniq, ids.get(p))
                    if k >= 0 and rank[k] > c:
                        c = rank[k]
                if self.method == "textrank":
                    sc = (c + (span in doc.title_f)) * idf
                else:
                    sc = (1 + math.log(n)) * prior * (1 + self.textrank_weight * c)
                if wid is not None:
                    word_numbers.append(len(uniq) + len(spans))
                    word_ids.append(wid)
                    word_counts.append(n)
                spans.append(span)
                scores.append(sc)
        return spans, scores, (word_numbers, word_ids, word_counts)

    def _span(self, span: str) -> tuple[tuple[str, ...], float, float] | None:
        """``(parts, idf, prior)`` of a quoted ``span``: its words, the highest
        IDF among them and the part of its score that depends on the span
        alone; None if it is no name (other characters than CJK, latin, digits,
        - and ·, or no CJK).

        Asked only for a span not in ``self._spans``, the bounded per-process
        cache it is kept in (the same names recur across a run's articles and
        tagging is most of their cost; :meth:`_quoted` reads the cache); like
        the lexicon's columns, computed with the settings of the extractor's
        first use."""
        if len(self._spans) >= SPAN_CACHE:
            self._spans.clear()
        known = None
        if _SPAN_OK.match(span) and _CJK.search(span):
            parts = tuple(w for w, _ in self.tag(span))
            idf = max(self._idf(p) for p in parts)
            known = parts, idf, self._prior(idf, "nz", span in self.taxonomy_terms, parts)
        self._spans[span] = known
        return known

    # ------------------------------------------------------------ compounds
    def expand(self, doc: Document, term: str, tf: float) -> str:
        """The compound ``term`` mostly occurs in (天问 → 天问二号), or ``term`` itself.

        Compounds are 2–4 consecutive tokens of a noun run, at most 12
        characters. One replaces its word when it accounts for at least
        ``expand_share`` of the word's count ``tf`` and occurs twice or more;
        of several, the most frequent, then the longest, then the first. The
        rule lives in :func:`.keyword_kernels.expansions`, which expands the
        candidate words; here it is asked about one term.
        """
        wid = doc.lexicon.ids.get(term)
        if wid is None:  # compounds are runs of the lexicon's words
            return term
        where = self._expansions(doc, np.array([wid], np.int64), np.array([float(tf)])).get(0)
        return compound(doc, where) if where else term

    def _expansions(self, doc: Document, uniq: np.ndarray, tf: np.ndarray,
                    spans: tuple[list[int], list[int], list[float]] = ((), (), ())) -> dict[int, list[int]]:
        """Word number ``k`` of ``uniq`` (ids, ascending; counts ``tf``) → where the
        compound it expands to lies (see :func:`compound`), for the words that
        expand; likewise the quoted spans that are words (``spans``: their
        numbers, ids, none in ``uniq``, and counts).

        All in one call of the kernel, which counts the article's compounds
        once whatever the number of words asked about (each word's answer
        depends on its own count alone). A compound's string is made only when
        the keyword choice gets to it: it rarely passes the first ten."""
        span_numbers, span_ids, span_tf = spans
        numbers = None  # the kernel's k → the number asked about (None: the same)
        if len(span_ids):
            # the kernel wants its words ascending: asked in that order, answered by number
            ids = np.concatenate((uniq, np.asarray(span_ids, np.int64)))
            order = ids.argsort(kind="stable")
            uniq, tf = ids[order], np.concatenate((tf, np.asarray(span_tf, np.float64)))[order]
            numbers = np.concatenate((np.arange(len(order) - len(span_ids)), np.asarray(span_numbers, np.int64))
                                     )[order].tolist()
        col = self.columns(doc.lexicon)
        found = expansions(uniq, tf, doc.title_ids, doc.body_ids, doc.column(col + ".compound"),
                           doc.column(col + ".serial"), doc.column("len"), float(self.title_weight),
                           MAX_COMPOUND_CHARS, float(self.expand_share))
        asked = found[:, 0].tolist()
        return dict(zip(asked if numbers is None else [numbers[k] for k in asked], found.tolist()))

    # ------------------------------------------------------------ keywords
    def __call__(self, title: str, text: str) -> list[str]:
        return self.extract(self.document(title, text))

    def extract(self, doc: Document) -> list[str]:
        """Keywords of a segmented article (see :class:`.document.Document`)."""
        # the summariser asks for the article's keywords (its topics) after the
        # tagger did: the answer is kept with the document
        key = ("keywords", id(self))
        out = doc.refresh().cache.get(key)
        if out is None:
            out = doc.cache[key] = self._extract(doc)
        return list(out)

    def _extract(self, doc: Document) -> list[str]:
        term_of, score, expanded = self._candidates(doc, expand=self.compounds_on)
        chosen: list[str] = []
        merged: list[str] = []
        for k in _best_first(score, term_of):
            where = expanded.get(k)
            term = compound(doc, where) if where else term_of(k)
            for c in chosen:
                # overlapping terms are merged: the first (better-scored) one stands
                if term in c or c in term:
                    merged.append(term)
                    break
            else:
                chosen.append(term)
                if len(chosen) == self.top_k:
                    break
        # a short article may have too few distinct terms: give back merged ones
        for term in merged:
            if len(chosen) >= self.min_k:
                break
            if term not in chosen:
                chosen.append(term)
        return [surface_in(doc, t) for t in chosen]


def compound(doc: Document, where: list[int]) -> str:
    """The compound of :meth:`KeywordExtractor._expansions`' ``[k, part, start, end]``:
    tokens ``start:end`` of the title (part 0) or the body (part 1)."""
    _, part, start, end = where
    return "".join(doc.words((doc.title_ids, doc.body_ids)[part][start:end]))


def _best_first(score: np.ndarray, term: Callable[[int], str]) -> Iterator[int]:
    """Numbers of candidates by ``score``, best first, ties by ``term(k)``: the
    order of sorting ``(term, score)`` pairs by ``(-score, term)``. Terms are
    looked up for tied scores only, as the order is walked: the keyword choice
    rarely goes past the first ten."""
    order = (-score).argsort()  # any sort will do: tied scores are ordered by term below
    ranked = score[order]
    tied = ranked[1:] == ranked[:-1]  # tied[k]: the k-th and the next score are equal
    order = order.tolist()
    if not tied.any():  # most articles
        return iter(order)
    return _by_term_where_tied(order, tied.tolist(), term)


def _by_term_where_tied(order: list[int], tied: list[bool], term: Callable[[int], str]) -> Iterator[int]:
    """``order`` with each run of tied scores sorted by term, as it is walked."""
    k = 0
    while k < len(order):
        j = k + 1
        while j < len(order) and tied[j - 1]:
            j += 1
        if j == k + 1:
            yield order[k]
        else:
            yield from sorted(order[k:j], key=term)
        k = j


def _number(ids: list[int], wid: int | None) -> int:
    """Where word id ``wid`` is in ascending ``ids``, or -1."""
    if wid is None:
        return -1
    k = bisect.bisect_left(ids, wid)
    return k if k < len(ids) and ids[k] == wid else -1


def surface_in(doc: Document, term: str) -> str:
    """``term`` (normalised) as spelt where it first occurs in the body, else the title.

    Folding keeps offsets, so the original spelling is the same slice of the
    original text; a term found in neither (a normalised quote) comes back as is."""
    for folded, original in ((doc.body_f, doc.text), (doc.title_f, doc.title)):
        at = folded.find(term)
        if at >= 0:
            return original[at: at + len(term)]
    return term


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
