"""Extractive event summary (重大事件摘要): numbered points from central sentences.

The annotators' form is ``N. 主题：说明``, 1–5 points of one sentence each, at
most 60 characters, more points for longer articles (their 2-point articles
are about 150 characters long, their 5-point ones over 1000). The summariser
builds that form from the article's own text only:

1. split the body into sentences (。！？; line breaks) and drop headings;
2. score each sentence by **centrality** (TextRank over TF-IDF cosine
   similarity between sentences), **title similarity**, **position** (news
   puts the event first) and **facts** (figures, 《titles》, “names”: events
   are told with them);
3. cut the article into ``n_points(len(text))`` stretches of about equal
   length and pick the best sentence of each (annotators tell an article's
   events in its order, one point per part); or, with ``spread=False``, pick
   the best sentences overall, skipping one too similar to a sentence already
   picked;
4. **trim** each at clause boundaries to ``limit`` characters: lead-ins
   (dates, 据…报道, 记者…了解到) go first, then the least informative
   clauses (IDF mass per character; figures count extra); a point that stays
   short takes in the next sentence when it fits whole (the event told on);
5. prefix a **topic**: the best-ranked keyword of the article found in that
   point, a different one per point where possible (so ``主题`` is a term
   of the article), and number the points in article order.

Every point is therefore ``N. `` + (an article term + ``：``) + whole
clauses of one article sentence (or of two consecutive short ones), in the
article's order; ``limit`` counts everything after ``N. ``. The choices above
are generic ones (compared on the gold of ``dev``/``other`` in
benchmarks/RESULTS.md, never fitted to it).
"""
from __future__ import annotations

import math
import re
from functools import partial
from itertools import accumulate

import numpy as np

from . import kernels
from .document import CHAR_KINDS, END_MARKS, MIN_SENTENCE, SENTENCE_END, Document, Lexicon, own_document
from .normalise import normalise
from .point_kernels import CLAUSE_ENDS, points
from .point_kernels import END_PUNCT as _END_PUNCT
from .point_kernels import QUOTES as _QUOTES
from .summary_kernels import (clause_information, digit_table, digits, is_heading, pick_sentences, sentence_marks,
                              sentence_scores, spread, with_figures)
from .tokenize import is_content

# sentences in one TextRank graph (see Summariser.scores); the longest story
# of the corpus has 104, and of the unlabelled stories 625
GRAPH_SENTENCES = 256
_OPENERS = frozenset(a for a, _ in _QUOTES)
_CLOSERS = frozenset(b for _, b in _QUOTES)
_CLAUSE_END = re.compile(rf"(?<=[{CLAUSE_ENDS}])|(?<=,)(?!\d)")
# opening clauses that carry no event: dates, sources, reporters, "近日"
# (matched at a sentence's start with match(text, start, end): no "^", which would not match there)
_LEAD_IN = re.compile(
    r"(?:(?:今天|昨天|明天|今年|去年|近日|日前|目前|当前|当天|此前|随后|同时|此外|另外|其中|与此同时|"
    r"据悉|据了解|记者了解到|本周|上周|近期|眼下)(?:[（(][^）)]{1,12}[）)])?[上下中晚早]?[午间]?|"
    r"\d{1,2}月\d{1,2}日[上下中晚早]?[午间]?|\d{1,2}日[上下中晚早]?[午间]?|"
    r"记者从[^，,。]{1,24}(?:了解|获悉|得知)到?|记者[^，,。]{0,10}(?:了解|获悉|看到|注意到)到?|"
    r"据[^，,。]{1,20}(?:报道|消息|介绍|统计|显示|数据|通报)|[^，,。]{0,16}(?:数据|统计|调查)显示)[，,]")


def sentences(text: str) -> list[str]:
    """Split text into sentences at 。！？；, line breaks and paragraph indents (≥ 6 characters each)."""
    return [s.strip() for s in SENTENCE_END.split(text) if s and len(s.strip()) >= MIN_SENTENCE]


def strip_lead_in(sentence: str, min_rest: int = 12) -> str:
    """Drop opening clauses that carry no event (dates, sources, 近日, 记者…了解到)."""
    s = sentence.strip()
    return s[lead_in_end(s, 0, len(s), min_rest):]


def lead_in_end(text: str, start: int, end: int, min_rest: int = 12) -> int:
    """Where the stripped sentence ``text[start:end]`` goes on after its lead-in
    clauses (``start`` if it has none); at least ``min_rest`` characters stay."""
    while True:
        m = _LEAD_IN.match(text, start, end)
        if not m or end - m.end() < min_rest:
            return start
        start = m.end()


def clauses(sentence: str) -> list[str]:
    """Clauses of a sentence, each with its closing punctuation."""
    return [c for c in _CLAUSE_END.split(sentence) if c]


def trim(sentence: str, limit: int = 60, weigh=None) -> str:
    """Cut a sentence to at most ``limit`` characters at clause boundaries.

    Lead-in clauses (dates, sources, reporters) are dropped first. If still too
    long: without ``weigh``, trailing clauses go; with ``weigh`` (clause → its
    information), the first clause stays and the others are kept densest
    first (information per character) while they fit, in their order. A first
    clause longer than ``limit`` is cut at its last enumeration comma (、)
    or, failing that, hard at ``limit``.
    """
    return _Cut(sentence, None if weigh is None else lambda parts: [weigh(c) for c in parts])(limit)


class _Cut:
    """:func:`trim` of one sentence to any limit. A point is cut twice (to the
    limit, then shorter to make room for its topic), so the lead-ins are
    dropped once, and the clauses split and ranked once and only if the
    sentence is too long (most fit untrimmed).

    ``weights``: clauses → their informations (a list), or None (trailing clauses go first).
    """

    def __init__(self, sentence: str, weights=None):
        self.text = tidy(strip_lead_in(sentence))
        self.weights = weights
        self._parts: list[str] | None = None
        self._order: list[int] | None = None

    def _ranked(self) -> tuple[list[str], list[int] | None]:
        # the clauses, and those after the first densest first (None: unweighed)
        if self._parts is None:
            self._parts = parts = clauses(self.text)
            if self.weights is not None and len(parts) > 1:
                info = self.weights(parts[1:])
                self._order = sorted(range(1, len(parts)), key=lambda i: -info[i - 1] / len(parts[i]))
        return self._parts, self._order

    def __call__(self, limit: int) -> str:
        s = self.text
        if len(s) <= limit:
            return s
        parts, order = self._ranked()
        if order is not None:
            keep = [0]
            used = len(parts[0])
            for i in order:
                if used + len(parts[i].rstrip(_END_PUNCT)) <= limit:
                    keep.append(i)
                    used += len(parts[i])
            out = "".join(parts[i] for i in sorted(keep))
        else:
            out = ""
            for c in parts:
                if len(out) + len(c.rstrip(_END_PUNCT)) > limit:
                    break
                out += c
        out = tidy(out)
        if min(12, limit) <= len(out) <= limit:
            return out
        head = s[:limit]
        cut = head.rfind("、")
        return tidy(head[:cut] if cut >= limit // 2 else head)


def tidy(s: str) -> str:
    """Strip end punctuation and quote marks left unpaired at either end by the cut."""
    while True:
        t = s.strip().rstrip(_END_PUNCT)
        if t and (t[0] in _OPENERS or t[-1] in _CLOSERS):  # (most cuts end on neither)
            for a, b in _QUOTES:
                if t.startswith(a) and t.count(a) > t.count(b):
                    t = t[1:]
                if t.endswith(b) and t.count(b) > t.count(a):
                    t = t[:-1]
        if t == s:
            return t
        s = t


def n_points(length: int) -> int:
    """How many points an article of ``length`` characters gets: one, plus one per
    started 200 characters, at most 5 (the annotators' long articles get 5)."""
    return max(1, min(5, 1 + math.ceil(length / 200)))


class Summariser:
    """Callable ``(title, text) -> list[str]`` of 1–``max_points`` numbered points ``"N. 主题：说明"``.

    Parameters
    ----------
    tokenizer : Tokenizer
    idf : dict[str, float]
        Word → IDF (the bundle's keyword IDF); unseen words get ``default_idf``.
    default_idf : float
    max_points : int, default 5
    limit : int, default 60
        Characters per point, after the ``N. `` prefix.
    keywords : callable ``(title, text) -> list[str]``, optional
        Supplies the topic terms (the model's keyword extractor); without it
        points carry no ``主题：`` prefix.
    title_weight, position_weight, fact_weight : float, default 1.0 each
        Weights of title similarity, position (1/sqrt(1 + index)) and facts
        (share of up to 4 figures / 《》 titles / quoted names) beside
        centrality, which is scaled to max 1.
    spread : bool, default True
        One point per stretch of the article (see above).
    redundancy : float, default 0.5
        Without ``spread``: the cosine similarity above which a sentence
        repeats one already picked.
    topics, compress, merge : bool, default True
        The ``主题：`` prefix; dropping the least informative clauses (rather
        than the last ones) when trimming; taking in the next sentence.
    """

    def __init__(self, tokenizer, idf: dict[str, float], default_idf: float, max_points: int = 5,
                 limit: int = 60, keywords=None, title_weight: float = 1.0, position_weight: float = 1.0,
                 redundancy: float = 0.5, topics: bool = True, compress: bool = True, merge: bool = True,
                 spread: bool = True, fact_weight: float = 1.0, lexicon: Lexicon | None = None):
        if not 1 <= max_points <= 5:
            raise ValueError("max_points must be between 1 and 5")
        if limit < 20:
            raise ValueError("limit must be at least 20 characters")
        self.tokenizer = tokenizer
        self.idf = idf
        self.default_idf = default_idf
        self.max_points = max_points
        self.limit = limit
        self.keywords = keywords
        self.title_weight = title_weight
        self.position_weight = position_weight
        self.redundancy = redundancy
        self.topics = topics
        self.compress = compress
        self.merge = merge
        self.spread = spread
        self.fact_weight = fact_weight
        self.lexicon = lexicon

    # ------------------------------------------------------------ scoring
    def document(self, title: str, text: str) -> Document:
        """``title``/``text`` segmented with this summariser's lexicon."""
        return own_document(self, title, text)

    def _idf_column(self, doc: Document) -> np.ndarray:
        """Per word id of ``doc``: its IDF if a content word, else 0."""
        return doc.column(self.columns(doc.lexicon) + ".idf")

    def columns(self, lexicon: Lexicon) -> str:
        """Register this summariser's per-word columns with ``lexicon`` (once); the
        prefix of their names there."""
        return lexicon.columns_of(self, self._column_specs)

    def _column_specs(self) -> dict[str, tuple]:
        return {"idf": (self._content_idf, np.float64, 0.0)}

    def _content_idf(self, word: str, flag: str) -> float:
        # as Tokenizer.__call__: no stopwords, punctuation or bare numbers (0)
        return self.idf.get(word, self.default_idf) if is_content(word) else 0.0

    def scores(self, doc: Document):
        """Per sentence of ``doc.sentences`` its score, and the sentence × sentence
        cosine matrix of their TF-IDF vectors (see :func:`.summary_kernels.sentence_scores`).

        An article of more than ``GRAPH_SENTENCES`` sentences is scored in
        consecutive stretches of at most that many, each its own TextRank graph
        (centrality within its part of the article); the matrix is then a sparse
        block diagonal (0 between stretches). One graph over all of them would
        cost the cube of their number in time and its square in memory: hours
        and gigabytes for a book-length text."""
        spans = doc.sentence_spans
        # events are told with figures and names: dates, amounts, places, organisations
        facts, heading = sentence_marks(doc.codes, spans, digits(), bool(self.fact_weight))
        idf = self._idf_column(doc)

        def scored(a: int, b: int):  # sentences a..b-1, and the tokens inside them
            k0, k1 = np.searchsorted(doc.starts, [spans[a, 0], spans[b - 1, 1]])
            return sentence_scores(doc.body_ids[k0:k1], doc.starts[k0:k1], spans[a:b], doc.title_ids, idf,
                                   facts, heading[a:b], float(self.title_weight), float(self.position_weight),
                                   float(self.fact_weight), a)

        n = len(spans)
        if n <= GRAPH_SENTENCES:
            return scored(0, n)
        from scipy import sparse  # (only here: importing it costs a cold start 0.2 s)

        bounds = np.linspace(0, n, -(-n // GRAPH_SENTENCES) + 1).round().astype(int).tolist()
        parts = [scored(a, b) for a, b in zip(bounds, bounds[1:])]
        return np.concatenate([s for s, _ in parts]), sparse.block_diag([m for _, m in parts], format="csr")

    # ------------------------------------------------------------ points
    def select(self, doc: Document) -> tuple[list[str], list[int]]:
        """The article's sentences and the indices of the picked ones, in article order."""
        sents = doc.sentences[0]
        if not sents:  # no sentence of six characters: the whole text stands in for one
            text = doc.text.strip()
            return ([text], [0]) if text else ([], [])
        return sents, self._picked(doc)

    def _picked(self, doc: Document) -> list[int]:
        """:meth:`select`'s picked sentences of an article with at least one sentence
        (from their spans: the sentences' strings are not made)."""
        spans = doc.sentence_spans
        if len(spans) <= 1:
            return [0]
        want = min(self.max_points, n_points(len(doc.text)))
        if self.spread and len(spans) <= GRAPH_SENTENCES and kernels.is_compiled():
            return pick_sentences(doc.codes, spans, digits(), bool(self.fact_weight), doc.body_ids, doc.starts,
                                  doc.title_ids, self._idf_column(doc), float(self.title_weight),
                                  float(self.position_weight), float(self.fact_weight), want).tolist()
        score, sim = self.scores(doc)
        if self.spread:
            return spread(spans[:, 1] - spans[:, 0], score, want).tolist()
        picked: list[int] = []
        for i in np.argsort(-score, kind="stable"):
            if score[i] < -5 and picked:
                break
            if any(sim[i, j] > self.redundancy for j in picked):
                continue
            picked.append(int(i))
            if len(picked) == want:
                break
        return sorted(picked)

    def _point(self, sents: list[str], i: int, picked: list[int], weights):
        """Sentence ``i`` as a point: a function of the limit, the sentence trimmed
        to it (see :class:`_Cut`); a short one takes in the next sentence (the same
        event, told on) when that fits whole and is not a point itself."""
        cut = _Cut(sents[i], weights)
        j = i + 1
        follows = self.merge and j < len(sents) and j not in picked

        def point(limit: int) -> str:
            body = cut(limit)
            if follows and len(body) <= limit // 2 and not is_heading(sents[j]):
                end = sents[i].strip()[-1]
                nxt = strip_lead_in(sents[j]).rstrip(_END_PUNCT).strip()
                if end in END_MARKS and len(body) + 1 + len(nxt) <= limit:
                    body = f"{body}{end}{nxt}"
            return body

        return point

    def _topic(self, point: str, terms: list[str], used: set[str]) -> str:
        # the best keyword in the point, preferring one no earlier point led with
        first = ""
        for t in terms:
            if len(t) <= 10 and t in point:
                if t not in used:
                    return t
                first = first or t
        return first

    def information(self, clause: str) -> float:
        """IDF mass of a clause's words; figures count extra (events are told in numbers)."""
        words = self.tokenizer(normalise(clause))
        return with_figures(sum(self.idf.get(w, self.default_idf) for w in set(words)), clause)

    def _clause_information(self, doc: Document, i: int, parts: list[str]) -> list[float]:
        """:meth:`information` of clauses ``parts`` of sentence ``i``, from the tokens
        the article was segmented into (no second segmentation), in one kernel call."""
        sents, spans = doc.sentences
        if i >= len(sents):  # no sentence of six characters: the whole text stood in for one
            return [self.information(c) for c in parts]
        sentence = sents[i]
        at = [sentence.find(c) for c in parts]
        info = clause_information(doc.body_ids, doc.starts, self._idf_column(doc), int(spans[i, 0]),
                                  np.array(at, np.int64), np.fromiter(map(len, parts), np.int64, len(parts)),
                                  doc.codes, digits()).tolist()
        if -1 in at:  # a clause not verbatim in the sentence (cannot happen with trim's clauses): segmented anew
            info = [x if k >= 0 else self.information(c) for x, k, c in zip(info, at, parts)]
        return info

    def _compiled_points(self, doc: Document, picked: list[int], terms: list[str]) -> list[str] | None:
        """The points of :meth:`summarise` in one compiled call (see :mod:`.point_kernels`),
        the same as the Python loop below makes; None where that loop must make them."""
        spans = doc.sentence_spans
        # where each sentence needed (the picked ones, the ones after them) starts
        # without its lead-in (sentences are stripped already: see .document_kernels.cuts)
        lead = spans[:, 0].copy()
        bounds = spans.tolist()
        for i in {k for i in picked for k in (i, i + 1) if k < len(bounds)}:
            lead[i] = lead_in_end(doc.text, *bounds[i])
        term_start = np.array([0, *accumulate(map(len, terms))], np.int64)
        out, ends = points(doc.codes, spans, np.array(picked, np.int64), lead,
                           np.frombuffer("".join(terms).encode("utf-32-le"), np.uint32), term_start,
                           doc.body_ids, doc.starts, self._idf_column(doc), digit_table(), CHAR_KINDS,
                           self.limit, self.merge, self.compress)
        if ends[0] < 0:
            return None
        joined, at = out.tobytes().decode("utf-32-le"), ends.tolist()
        return [joined[a:b] for a, b in zip(at, at[1:])]

    def __call__(self, title: str, text: str) -> list[str]:
        return self.summarise(self.document(title, text))

    def summarise(self, doc: Document) -> list[str]:
        """Points of a segmented article (see :class:`.document.Document`)."""
        doc.refresh()
        compiled = kernels.is_compiled() and len(doc.sentence_spans) > 0
        # (compiled, the points are made from the sentences' spans, not their strings)
        sents, picked = (None, self._picked(doc)) if compiled else self.select(doc)
        terms: list[str] = []
        if self.topics and self.keywords is not None and picked:
            extract = getattr(self.keywords, "extract", None)
            terms = extract(doc) if extract is not None else self.keywords(doc.title, doc.text)
        if compiled:
            out = self._compiled_points(doc, picked, terms)
            if out is not None:
                return out
            sents = doc.sentences[0]
        out, used = [], set()
        for n, i in enumerate(picked, 1):
            weights = partial(self._clause_information, doc, i) if self.compress else None
            point = self._point(sents, i, picked, weights)
            body = point(self.limit)
            topic = self._topic(body, terms, used)
            if topic:
                # make room for "主题：" and check the topic survived the shorter cut
                shorter = point(self.limit - len(topic) - 1)
                if shorter != body:  # (most points fit both limits untrimmed)
                    topic = self._topic(shorter, terms, used)
                if topic and len(topic) + 1 + len(shorter) <= self.limit:
                    body = f"{topic}：{shorter}"
                    used.add(topic)
            out.append(f"{n}. {body}")
        return out
