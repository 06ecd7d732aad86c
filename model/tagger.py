"""The run-time tagger: features → linear scores → labels (+ keywords, summary).

A :class:`Tagger` is built from a model bundle (see :mod:`.bundle`). For each
label set it holds a weight matrix ``W`` (n_features × n_labels), biases and
one tuned threshold per label. Scores are logistic probabilities in [0, 1].

Decision rules, applied in this order:

1. **passages**: a long article is also scored passage by passage, and each
   label's score blends the whole article's with its best passage's (see
   :meth:`Tagger.scores`), so one topic of a long multi-topic piece is not
   drowned by the rest;
2. **threshold**: a label is given when its score reaches its tuned threshold
   (or ``min_score``/``top_k`` when the caller overrides them);
3. **hierarchy**: labels imply their parents (大模型 → 人工智能), which get at
   least the child's score;
4. **fallback** (技术 only): if no technology label was given but the best one scored within
   ``fallback_ratio`` of its threshold, that label is given.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from .document import Document
from .features import Featurizer
from .label_kernels import pooled_probabilities
from .labels import SETS, LabelSet
from .normalise import normalise


# Articles tagged together, step by step: on the corpus, 256 took 25% less
# time than 16 (each step's kernels ran faster with their tables kept warm,
# and per-batch costs are shared out) and 512 no less; a batch's documents
# are a few MB.
BATCH = 256


@dataclass
class LabelModel:
    """Linear scorer of one label set."""

    labels: list[str]
    W: np.ndarray  # (n_features, n_labels) float32
    b: np.ndarray  # (n_labels,)
    thresholds: np.ndarray  # (n_labels,)
    label_set: LabelSet
    fallback_ratio: float = 0.0

    def logits(self, ids: np.ndarray, vals: np.ndarray) -> np.ndarray:
        return vals @ self.W[ids] + self.b

    def parents(self) -> dict[str, tuple[str, ...]]:
        """Label → the labels it implies (not itself), for every label of the set (cached)."""
        cached = self.__dict__.get("_parents")
        if cached is None:
            cached = self.__dict__["_parents"] = {
                lab: tuple(x for x in self.label_set.close([lab]) if x != lab) for lab in self.label_set.labels}
        return cached

    def index(self) -> dict[str, int]:
        """Label → its column in ``W`` (cached)."""
        cached = self.__dict__.get("_index")
        if cached is None:
            cached = self.__dict__["_index"] = {lab: j for j, lab in enumerate(self.labels)}
        return cached


@dataclass
class Prediction:
    """Tags of one article: per set a list of ``(label, score)`` sorted by score."""

    industries: list[tuple[str, float]]
    technologies: list[tuple[str, float]]
    scores: dict[str, np.ndarray] = field(repr=False, default_factory=dict)
    keywords: list[str] = field(default_factory=list)
    summary: list[str] = field(default_factory=list)

    def labels(self, name: str) -> list[str]:
        return [lab for lab, _ in getattr(self, name)]


def decide_matrix(P: np.ndarray, thr: np.ndarray, ratio: float) -> np.ndarray:
    """Which labels are given: ``(n, labels)`` bool from scores ``P`` and
    thresholds ``thr``; with a ``ratio``, an article given none gets its label of
    highest score / threshold if that score is at least ``ratio`` × its threshold
    (the fallback; training tunes thresholds with the same rule)."""
    D = P >= thr
    if ratio and P.shape[1]:
        empty = ~D.any(axis=1)
        j = (P / np.maximum(thr, 1e-6)).argmax(axis=1)
        ok = empty & (P[np.arange(len(P)), j] >= ratio * thr[j])
        D[np.flatnonzero(ok), j[ok]] = True
    return D


class Tagger:
    """Tag articles with a trained model; see :func:`newstag.load`."""

    def __init__(self, featurizer: Featurizer, models: dict[str, LabelModel], meta: dict,
                 keyword_extractor=None, summariser=None, weights: np.ndarray | None = None):
        """``weights``: every set's ``W`` side by side, in the order of ``models``,
        each model's ``W`` being a view of it (as :func:`newstag.model.tagger_from_bundle`
        loads them); None: put side by side on first use (a copy)."""
        self.featurizer = featurizer
        self.models = models
        self.meta = meta
        self.keyword_extractor = keyword_extractor
        self.summariser = summariser
        self._joint = None if weights is None else self._joined(weights)

    def _joined(self, W: np.ndarray) -> tuple:
        # every set's weights side by side: one product for all
        models = list(self.models.values())
        ends = np.cumsum([len(m.labels) for m in models]).tolist()
        return W, np.concatenate([m.b for m in models]), [(name, a, b) for name, a, b in
                                                          zip(self.models, [0] + ends[:-1], ends)]

    # ------------------------------------------------------------ scoring
    def document(self, title: str, text: str) -> Document:
        """The article segmented once, for :meth:`scores` and the keyword and summary steps."""
        return self.featurizer.document(title, text)

    def vectors(self, title, text: str | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
        """Feature vectors of the whole article, then of each passage of a long one
        (``title`` may be a :class:`Document` instead of a string)."""
        doc = title if isinstance(title, Document) else self.document(title, text)
        return self.featurizer.vectors(doc)

    def scores(self, title, text: str | None = None) -> dict[str, np.ndarray]:
        """Per set, label probabilities, pooled over the whole article and its passages.

        ``max`` pooling takes each label's best logit; ``blend`` averages the
        whole-article logit with the best passage's, so a topic confined to one
        passage counts, but less than one that runs through the article.
        """
        doc = title if isinstance(title, Document) else self.document(title, text)
        return self.scores_many([doc])[0]

    def scores_many(self, docs: list[Document]) -> list[dict[str, np.ndarray]]:
        """:meth:`scores` of several documents, computed together (the same values)."""
        return self._pooled(self.featurizer.rows(docs), len(docs))

    def _pooled(self, rows, n_docs: int) -> list[dict[str, np.ndarray]]:
        # per document, per set: label probabilities from its feature rows (see scores)
        if self._joint is None:
            self._joint = self._joined(np.hstack([m.W for m in self.models.values()]))
        W, b, spans = self._joint
        first = np.searchsorted(rows.row_doc, np.arange(n_docs + 1))
        P = pooled_probabilities(rows.logits(W, b), first, self.featurizer.settings.passage_pooling == "blend")
        return [{name: P[i, a:b] for name, a, b in spans} for i in range(n_docs)]

    def decide(self, scores: dict[str, np.ndarray], top_k: int | None = None,
               min_score: float | None = None, fallback: bool = True) -> dict[str, list[tuple[str, float]]]:
        """Turn scores into sorted ``(label, score)`` lists by the rules above."""
        return self.decide_many([scores], top_k=top_k, min_score=min_score, fallback=fallback)[0]

    def decide_many(self, scores: list[dict[str, np.ndarray]], top_k: int | None = None,
                    min_score: float | None = None, fallback: bool = True) -> list[dict[str, list[tuple[str, float]]]]:
        """:meth:`decide` of each of ``scores``: the thresholds and the fallback are
        applied to the batch's ``(n, labels)`` score matrix at once, and only an
        article given a label costs a loop in Python (for 技术, few do)."""
        out: list[dict] = [{} for _ in scores]
        for name, m in self.models.items():
            P = np.array([sc[name] for sc in scores]).reshape(len(scores), len(m.labels))
            thr = np.full_like(m.thresholds, min_score) if min_score is not None else m.thresholds
            given = decide_matrix(P, thr, m.fallback_ratio if fallback and min_score is None else 0.0)
            rows = given.any(axis=1)
            for d in range(len(scores)):
                out[d][name] = []
            for d in np.flatnonzero(rows).tolist():
                out[d][name] = self._ranked(m, P[d], np.flatnonzero(given[d]).tolist(), top_k)
        return out

    @staticmethod
    def _ranked(m: LabelModel, p: np.ndarray, given: list[int], top_k: int | None) -> list[tuple[str, float]]:
        # the given labels and the parents they imply, best first
        chosen = {m.labels[j]: float(p[j]) for j in given}
        # hierarchy: a child label brings its parents, at least at its own score
        parents = m.parents()
        index = m.index()
        for lab in list(chosen):
            for parent in parents[lab]:
                j = index.get(parent)
                own = float(p[j]) if j is not None else 0.0
                chosen[parent] = max(chosen.get(parent, 0.0), own, chosen[lab])
        # a parent scores at least as high as its child; at a tie it ranks
        # first, so cutting the list at top_k never keeps a child without it
        implied = {par for lab in chosen for par in parents[lab]}
        ranked = sorted(chosen.items(), key=lambda kv: (-kv[1], kv[0] not in implied, kv[0]))
        if top_k is not None:
            ranked = ranked[:top_k]
        return [(lab, round(s, 4)) for lab, s in ranked]

    def predict_one(self, title: str, text: str, *, top_k: int | None = None,
                    min_score: float | None = None, keywords: bool = True, summary: bool = True) -> Prediction:
        """Tag one article (segmented once for labels, keywords and summary)."""
        return self.predict_many([(title, text)], top_k=top_k, min_score=min_score,
                                 keywords=keywords, summary=summary)[0]

    def predict_many(self, pairs, *, top_k: int | None = None, min_score: float | None = None,
                     keywords: bool = True, summary: bool = True, batch: int = BATCH) -> list[Prediction]:
        """Tag ``(title, text)`` pairs; the same results as :meth:`predict_one` on each.

        Articles go ``batch`` at a time through each step in turn (segmenting,
        label scores, keywords, summaries): a step's tables stay in the CPU
        cache from one article to the next (see :data:`BATCH`)."""
        pairs = list(pairs)
        out: list[Prediction] = []
        lexicon = self.featurizer.lexicon
        for lo in range(0, len(pairs), batch):
            lexicon.checkpoint()  # the lexicon may start afresh between batches, never inside one
            docs = lexicon.documents(pairs[lo: lo + batch])
            scores = self.scores_many(docs)
            preds = [Prediction(tags.get("industries", []), tags.get("technologies", []), sc)
                     for sc, tags in zip(scores, self.decide_many(scores, top_k=top_k, min_score=min_score))]
            # step by step over the batch rather than article by article: each
            # step's tables stay in the CPU cache
            if keywords and self.keyword_extractor is not None:
                for doc, pred in zip(docs, preds):
                    pred.keywords = self.keyword_extractor.extract(doc)
            if summary and self.summariser is not None:
                for doc, pred in zip(docs, preds):
                    pred.summary = self.summariser.summarise(doc)
            out += preds
        return out

    def predict(self, texts, **kwargs) -> list[Prediction]:
        """Tag a list of texts (strings, ``(title, text)`` pairs, or Articles)."""
        pairs = []
        for t in texts:
            if isinstance(t, str):
                pairs.append(("", t))
            elif isinstance(t, tuple):
                pairs.append(t)
            else:
                pairs.append((t.title, t.text))
        return self.predict_many(pairs, **kwargs)

    # ------------------------------------------------------------ explaining
    def explain(self, title: str, text: str, n_terms: int = 6) -> dict[str, list[dict]]:
        """Per set, for each given label and the best missed one: the terms that
        pushed its score most (feature value × weight, on the passage that scored best)."""
        names = self._feature_names()
        rows = self.featurizer.rows([self.document(title, text)])
        vecs = rows.vectors(0)
        scores = self._pooled(rows, 1)[0]
        tags = self.decide(scores)
        norm = normalise(f"{title}\n{text}")
        out = {}
        for name, m in self.models.items():
            evidence = m.label_set.term_hits(norm)
            given = [lab for lab, _ in tags[name]]
            missed = [m.labels[j] for j in np.argsort(-scores[name]) if m.labels[j] not in given][:1]
            rows = []
            for lab, status in [(g, "given") for g in given] + [(x, "missed") for x in missed]:
                if lab not in m.labels:
                    continue
                j = m.labels.index(lab)
                best = int(np.argmax([m.logits(i, v)[j] for i, v in vecs]))
                ids, vals = vecs[best]
                contrib = vals * m.W[ids, j]
                order = np.argsort(-np.abs(contrib))[:n_terms]
                rows.append({
                    "label": lab, "status": status, "score": round(float(scores[name][j]), 4),
                    "threshold": round(float(m.thresholds[j]), 4),
                    "passage": best,
                    "terms": [{"term": names[ids[k]], "weight": round(float(contrib[k]), 4)} for k in order
                              if contrib[k] != 0],
                    # the label's own taxonomy terms found in the article: what the
                    # tax: feature (and a rule label) counted
                    "evidence": dict(Counter(evidence.get(lab, {})).most_common()),
                })
            out[name] = rows
        return out

    def _feature_names(self) -> list[str]:
        if not hasattr(self, "_names"):
            self._names = self.featurizer.feature_names()
        return self._names


__all__ = ["Tagger", "Prediction", "LabelModel", "SETS"]
