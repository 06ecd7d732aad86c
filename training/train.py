"""Fit a newstag model from annotated articles and write its bundle.

Pipeline: read → map labels to the taxonomy → analyse (normalise, tokenise,
count) → fit vocabulary and IDF → one-vs-rest logistic regression per label
set → per-label thresholds from multilabel-stratified cross-validation →
bundle with settings, fingerprint and metrics.
"""
from __future__ import annotations

import hashlib
import json
import platform
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from newstag.model import tagger_from_bundle
from newstag.model.bundle import save_bundle
from newstag.model.features import Analysed, FeatureSettings, Featurizer
from newstag.model.labels import SETS, Taxonomy, load_taxonomy
from newstag.model.normalise import normalise
from newstag.model.reader import Article, load_articles
from newstag.model.tagger import decide_matrix
from newstag.model.tokenize import BACKENDS, Tokenizer

from .keywords import keyword_idf
from .metrics import best_threshold, score_sets

VERSION = "0.1.0"


@dataclass
class TrainSettings:
    """Everything that shapes a model; recorded in the bundle.

    C : float, default 4.0
        Inverse L2 regularisation of the logistic regressions.
    class_weight : {"balanced", None}, default None
    min_examples : int, default 5
        Labels with fewer positive training articles are left out (and named).
    cv_folds : int, default 5
        Folds for threshold tuning and cross-validated metrics (0 = no CV:
        thresholds stay at ``default_threshold``).
    fallback_ratio : float or None, default None
        No-empty rule for 技术: if no technology label reaches its threshold but
        the best one reaches ``fallback_ratio`` × its threshold, it is given.
        None = choose by cross-validation among 0.5–0.9 (0.8 without CV).
    tokenizer : {"jieba", "rjieba"}, default "rjieba"
    seed : int, default 0
    n_jobs : int, default -1
        Worker processes for fitting (results do not depend on it).
    prune : float, default 0.01
        Weights smaller than this in absolute value are stored as zero.
    rules : bool, default True
        Tag labels with fewer than ``min_examples`` examples by a taxonomy
        dictionary rule (see :func:`_rule_labels`) instead of never.
    rule_min_precision : float, default 0.3
    """

    C: float = 4.0
    class_weight: str | None = None
    min_examples: int = 5
    cv_folds: int = 5
    default_threshold: float = 0.35
    threshold_shrink: float = 5.0
    fallback_ratio: float | None = None
    tokenizer: str = "rjieba"
    seed: int = 0
    n_jobs: int = -1
    prune: float = 0.01
    rules: bool = True
    rule_min_precision: float = 0.3
    features: FeatureSettings = field(default_factory=FeatureSettings)

    def validate(self) -> "TrainSettings":
        if self.C <= 0:
            raise ValueError("C must be positive")
        if self.class_weight not in (None, "balanced"):
            raise ValueError("class_weight must be 'balanced' or None")
        if self.min_examples < 1:
            raise ValueError("min_examples must be >= 1")
        if self.cv_folds not in (0,) and self.cv_folds < 2:
            raise ValueError("cv_folds must be 0 (off) or >= 2")
        if self.tokenizer not in BACKENDS:
            raise ValueError(f"tokenizer must be one of {', '.join(BACKENDS)}")
        if self.fallback_ratio is not None and not 0 <= self.fallback_ratio <= 1:
            raise ValueError("fallback_ratio must be in [0, 1]")
        self.features.validate()
        return self


@dataclass
class Dataset:
    """Annotated articles with canonical gold labels."""

    articles: list[Article]
    gold: dict[str, list[list[str]]]  # set → per article canonical labels
    unmapped: dict[str, Counter]
    skipped: list[str]  # sources of unannotated articles

    def fingerprint(self) -> str:
        h = hashlib.sha256()
        for a, i in sorted(((a, i) for i, a in enumerate(self.articles)), key=lambda t: (t[0].id, t[0].source)):
            h.update(json.dumps([a.id, a.title, a.text, [self.gold[s][i] for s in SETS]],
                                ensure_ascii=False).encode())
        return h.hexdigest()


def build_dataset(articles: Iterable[Article], taxonomy: Taxonomy) -> Dataset:
    """Map every article's free-form labels to canonical ones.

    Unannotated articles (no label field at all) are skipped and listed; a set
    the article leaves out counts as "no label" for that set.
    """
    kept, gold, skipped = [], {s: [] for s in SETS}, []
    unmapped = {s: Counter() for s in SETS}
    for art in articles:
        if not art.annotated:
            skipped.append(art.source)
            continue
        g, um = taxonomy.gold(art)
        for s in SETS:
            gold[s].append(g[s] or [])
            unmapped[s].update(um.get(s, []))
        kept.append(art)
    return Dataset(kept, gold, unmapped, skipped)


def _label_matrix(gold: list[list[str]], labels: list[str]) -> np.ndarray:
    index = {lab: j for j, lab in enumerate(labels)}
    Y = np.zeros((len(gold), len(labels)), dtype=np.int8)
    for i, g in enumerate(gold):
        for lab in g:
            if lab in index:
                Y[i, index[lab]] = 1
    return Y


def _fit_columns(X, Y: np.ndarray, C: float, class_weight, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Logistic regressions for the columns of ``Y``, one after another."""
    from sklearn.linear_model import LogisticRegression

    W = np.zeros((X.shape[1], Y.shape[1]), dtype=np.float32)
    b = np.zeros(Y.shape[1], dtype=np.float32)
    for j in range(Y.shape[1]):
        y = Y[:, j]
        if y.min() == y.max():  # a fold without positives: never fire
            b[j] = -10.0
            continue
        # dual liblinear: much faster than the primal when features outnumber articles
        clf = LogisticRegression(C=C, class_weight=class_weight, solver="liblinear", dual=True,
                                 tol=1e-3, max_iter=1000, random_state=seed)
        clf.fit(X, y)
        W[:, j] = clf.coef_[0]
        b[j] = clf.intercept_[0]
    return W, b


def _fit_linear(X, Y: np.ndarray, s: TrainSettings) -> tuple[np.ndarray, np.ndarray]:
    """One logistic regression per column of ``Y``; returns ``(W, b)``.

    Columns are split across ``n_jobs`` worker *processes*: liblinear seeds a
    process-global C random generator, so threads would interleave its draws
    and the same data could give different models.
    """
    from joblib import Parallel, delayed, effective_n_jobs

    X = X.astype(np.float64).tocsr()  # liblinear's input format, converted once
    X.sort_indices()
    n = min(effective_n_jobs(s.n_jobs), Y.shape[1])
    if n <= 1:
        return _fit_columns(X, Y, s.C, s.class_weight, s.seed)
    chunks = np.array_split(np.arange(Y.shape[1]), n)
    parts = Parallel(n_jobs=n)(delayed(_fit_columns)(X, Y[:, c], s.C, s.class_weight, s.seed) for c in chunks)
    return np.hstack([w for w, _ in parts]), np.concatenate([b for _, b in parts])


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))


def _folds(Y_all: np.ndarray, k: int, seed: int):
    """Multilabel-stratified folds, so every fold sees some of each rare label."""
    from iterstrat.ml_stratifiers import MultilabelStratifiedKFold

    mskf = MultilabelStratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    return list(mskf.split(np.zeros(len(Y_all)), Y_all))


def _oof_scores(X, Ys: dict[str, np.ndarray], s: TrainSettings, progress: Callable[[str], None]):
    """Out-of-fold probabilities per label set."""
    Y_all = np.hstack([Ys[name] for name in SETS])
    oof = {name: np.zeros(Ys[name].shape, dtype=np.float32) for name in SETS}
    for f, (tr, te) in enumerate(_folds(Y_all, s.cv_folds, s.seed), 1):
        progress(f"cross-validation fold {f}/{s.cv_folds}")
        for name in SETS:
            W, b = _fit_linear(X[tr], Ys[name][tr], s)
            oof[name][te] = _sigmoid(X[te] @ W + b)
    return oof


# A rule label fires when its taxonomy terms occur at least ``n`` times (a title
# hit counts as 1 + title_weight): a positive weight on its evidence column and
# a bias that puts the 0.5 threshold between n - 1 and n hits.
_RULE_SLOPE = 8.0
_RULE_CUTS = (2, 3, 5, 8)


def _rule_labels(featurizer: Featurizer, X, name: str, gold: list[list[str]], counts: Counter,
                 s: TrainSettings) -> dict[str, dict]:
    """Taxonomy-dictionary rules for labels with too few examples to learn.

    For each such label the smallest hit count ``n`` (of 2, 3, 5, 8) is chosen
    at which, on the training articles, at least ``rule_min_precision`` of the
    articles the rule fires on carry the label, so a label whose terms are
    common in passing (芯片 in broadcast news) needs a dense article. A rule
    that never fires is kept: nothing in the data contradicts the taxonomy.
    Labels for which no cut is precise enough stay off.
    """
    base = len(featurizer.words) + len(featurizer.chars)
    names = [lab for sname, lab in featurizer.evidence_labels if sname == name]
    first = base + [sname for sname, _ in featurizer.evidence_labels].index(name)
    ev = np.asarray(X[:, first:first + len(names)].todense()) / max(s.features.evidence_weight, 1e-9)
    out = {}
    for j, lab in enumerate(names):
        if counts[lab] >= s.min_examples:
            continue
        for n in _RULE_CUTS:
            cut = float(np.log1p(n - 0.5))
            fires = ev[:, j] > cut
            n_fire = int(fires.sum())
            hits = sum(1 for i in np.flatnonzero(fires) if lab in gold[i])
            if not n_fire or hits / n_fire >= s.rule_min_precision:
                break
        else:
            continue
        w = np.zeros(X.shape[1], np.float32)
        w[first + j] = _RULE_SLOPE / max(s.features.evidence_weight, 1e-9)  # the column holds weight × log1p(n)
        out[lab] = {"w": w, "b": -_RULE_SLOPE * cut, "min_hits": n, "train_examples": counts[lab],
                    "train_fires": n_fire, "train_precision": round(hits / n_fire, 3) if n_fire else None}
    return out


def _with_rules(P: np.ndarray, thr: np.ndarray, labels: list[str], X, rules: dict):
    """Append rule-label columns to out-of-fold scores."""
    if not rules:
        return P, thr, list(labels)
    extra = np.column_stack([_sigmoid(X @ r["w"] + r["b"]) for r in rules.values()])
    return (np.hstack([P, extra]), np.concatenate([thr, np.full(len(rules), 0.5, np.float32)]),
            list(labels) + list(rules))


def fit(articles: list[Article], settings: TrainSettings | None = None, taxonomy: Taxonomy | None = None,
        idf_texts: Iterable[tuple[str, str]] | None = None,
        progress: Callable[[str], None] = lambda msg: None) -> tuple[dict, dict[str, np.ndarray], Dataset]:
    """Train on annotated ``articles``; return bundle ``(meta, arrays)`` and the dataset.

    ``idf_texts``: optional unlabelled ``(title, text)`` pairs whose document
    frequencies are pooled into the IDF.
    """
    s = (settings or TrainSettings()).validate()
    taxonomy = taxonomy or load_taxonomy()
    t0 = time.perf_counter()
    data = build_dataset(articles, taxonomy)
    if len(data.articles) < max(2, s.cv_folds):
        raise ValueError(f"need at least {max(2, s.cv_folds)} annotated articles, got {len(data.articles)}")

    tokenizer = Tokenizer(s.tokenizer, taxonomy.all_terms())
    featurizer = Featurizer(s.features, tokenizer, taxonomy)
    progress(f"analysing {len(data.articles)} articles")
    docs: list[Analysed] = [featurizer.analyse(a.title, a.text) for a in data.articles]
    extra_df, extra_n = Counter(), 0
    if idf_texts is not None:
        progress("counting document frequencies of unlabelled text")
        for title, text in idf_texts:
            a = featurizer.analyse(title, text)
            extra_df.update("w:" + t for t in a.words)
            extra_df.update("c:" + t for t in a.chars)
            extra_n += 1
    featurizer.fit(docs, extra_df, extra_n)
    X = featurizer.matrix(docs)

    labels, excluded, rules, Ys = {}, {}, {}, {}
    for name in SETS:
        counts = Counter(lab for g in data.gold[name] for lab in g)
        labels[name] = [lab for lab in taxonomy[name].labels if counts[lab] >= s.min_examples]
        excluded[name] = {lab: counts[lab] for lab in taxonomy[name].labels if 0 < counts[lab] < s.min_examples}
        Ys[name] = _label_matrix(data.gold[name], labels[name])
        rules[name] = _rule_labels(featurizer, X, name, data.gold[name], counts, s) if s.rules else {}

    thresholds = {name: np.full(len(labels[name]), s.default_threshold, np.float32) for name in SETS}
    fallback_ratio = s.fallback_ratio if s.fallback_ratio is not None else 0.8
    cv_metrics = None
    if s.cv_folds:
        oof = _oof_scores(X, Ys, s, progress)
        grid = np.round(np.arange(0.05, 0.951, 0.025), 3)
        for name in SETS:
            thresholds[name] = np.array(
                [best_threshold(Ys[name][:, j], oof[name][:, j], grid, s.default_threshold, s.threshold_shrink)
                 for j in range(len(labels[name]))], np.float32)
        # rule labels have fixed weights: their out-of-fold scores are their scores
        full = {name: _with_rules(oof[name], thresholds[name], labels[name], X, rules[name]) for name in SETS}
        if s.fallback_ratio is None:
            # The no-empty rule is for 技术 (most articles rightly have none, so an
            # empty list is the common answer and a near-miss is the costly error):
            # the least costly ratio on out-of-fold scores; it is never switched off.
            P, thr, labs = full["technologies"]
            best = (-1.0, 0.9)
            for ratio in (0.5, 0.6, 0.7, 0.8, 0.9):
                D = decide_matrix(P, thr, ratio)
                pred = [taxonomy["technologies"].close(labs[j] for j in np.flatnonzero(row)) for row in D]
                f1 = score_sets(data.gold["technologies"], pred)["micro"]["f1"]
                if f1 > best[0] + 1e-9:
                    best = (f1, ratio)
            fallback_ratio = best[1]
        cv_metrics = {}
        for name in SETS:
            P, thr, labs = full[name]
            D = decide_matrix(P, thr, fallback_ratio if name == "technologies" else 0.0)
            pred = [taxonomy[name].close(labs[j] for j in np.flatnonzero(row)) for row in D]
            r = score_sets(data.gold[name], pred, list(taxonomy[name].labels))
            cv_metrics[name] = _compact(r)

    progress("fitting final model")
    arrays: dict[str, np.ndarray] = {
        "vocab.words": np.array(sorted(featurizer.words, key=featurizer.words.get), dtype=np.str_),
        "vocab.chars": np.array(sorted(featurizer.chars, key=featurizer.chars.get), dtype=np.str_),
        "idf": featurizer.idf.astype(np.float32),
    }
    for name in SETS:
        W, b = _fit_linear(X, Ys[name], s)
        # near-zero weights change no decision but dominate the bundle's size;
        # zeroed, they compress away (float16 keeps 3 significant digits)
        W[np.abs(W) < s.prune] = 0.0
        for lab, rule in rules[name].items():
            W = np.hstack([W, rule["w"][:, None]])
            b = np.append(b, rule["b"])
            thresholds[name] = np.append(thresholds[name], 0.5).astype(np.float32)
            labels[name] = labels[name] + [lab]
        arrays[f"W.{name}"] = W.astype(np.float16)
        arrays[f"b.{name}"] = b.astype(np.float32)
        arrays[f"thresholds.{name}"] = thresholds[name]

    import joblib
    import scipy
    import sklearn

    meta = {
        "newstag_version": VERSION,
        "created_by": "newstag train",
        "tokenizer": s.tokenizer,
        "features": {**asdict(s.features), "char_ngrams": list(s.features.char_ngrams)},
        "train": {k: v for k, v in asdict(s).items() if k != "features"},
        "decision": {"fallback_ratio": fallback_ratio},
        "labels": labels,
        "excluded_labels": excluded,
        "rule_labels": {name: {lab: {k: v for k, v in r.items() if k not in ("w", "b")}
                               for lab, r in rules[name].items()} for name in SETS},
        "thresholds": {name: dict(zip(labels[name], map(float, thresholds[name]))) for name in SETS},
        "taxonomy": _taxonomy_dict(taxonomy),
        "data": {
            "fingerprint": data.fingerprint(),
            "n_articles": len(data.articles),
            "skipped_unannotated": len(data.skipped),
            "unmapped_labels": {name: dict(data.unmapped[name].most_common()) for name in SETS},
            "idf_extra_documents": extra_n,
            "label_counts": {name: dict(Counter(lab for g in data.gold[name] for lab in g).most_common())
                             for name in SETS},
        },
        "metrics": {"cv": cv_metrics} if cv_metrics else {},
        "versions": {
            "python": platform.python_version(), "numpy": np.__version__, "scipy": scipy.__version__,
            "scikit-learn": sklearn.__version__, "joblib": joblib.__version__, **_tokenizer_versions(),
        },
        "train_seconds": round(time.perf_counter() - t0, 2),
    }
    # keyword tables (IDF over every content word, learned keyness): added
    # beside the label model, which they do not touch; see training/keywords.py
    kw_arrays, kw_meta = keyword_idf((d.words for d in docs), extra_df, extra_n,
                                     doc_keywords=([normalise(k) for k in a.keywords] for a in data.articles))
    arrays.update(kw_arrays)
    meta["keywords"] = {"top_k": 5, **kw_meta}
    return meta, arrays, data


def _compact(result: dict) -> dict:
    """Metrics without per-label noise for labels the data never has."""
    out = {k: v for k, v in result.items() if k != "labels"}
    out["labels"] = {lab: {k: (round(x, 4) if isinstance(x, float) else x) for k, x in v.items()}
                     for lab, v in result["labels"].items() if v["support"] or v["predicted"]}
    for k in ("micro", "macro"):
        out[k] = {m: (round(x, 4) if isinstance(x, float) else x) for m, x in out[k].items()}
    return out


def _taxonomy_dict(taxonomy: Taxonomy) -> dict:
    """The taxonomy as stored in the bundle, so a model keeps the aliases it was trained with."""
    sets = {}
    for name in SETS:
        ls = taxonomy[name]
        aliases: dict[str, list[str]] = {lab: [] for lab in ls.labels}
        for term, labs in ls.terms.items():
            for lab in labs:
                aliases[lab].append(term)
        sets[name] = {"field": ls.field, "labels": {
            lab: {"description": ls.descriptions.get(lab, ""), "aliases": sorted(aliases[lab]),
                  "implies": list(ls.implies.get(lab, ()))} for lab in ls.labels}}
    return {"version": 1, "sets": sets}


def _tokenizer_versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for pkg in ("jieba", "rjieba"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            pass
    return out


def train(paths: Iterable[str | Path], out: str | Path, settings: TrainSettings | None = None,
          idf_texts: Iterable[tuple[str, str]] | None = None,
          progress: Callable[[str], None] = lambda msg: None, holdout: dict[str, list[Article]] | None = None):
    """Read ``paths``, train, evaluate on ``holdout`` splits if given, and write the bundle to ``out``.

    Returns ``(meta, dataset, failures)``. Unreadable inputs are returned as
    failures; training goes ahead on the rest.
    """
    articles, failures = load_articles(paths)
    meta, arrays, data = fit(articles, settings, idf_texts=idf_texts, progress=progress)
    if holdout:
        from .evaluate import evaluate_tagger

        tagger = tagger_from_bundle(meta, arrays)
        for split, arts in holdout.items():
            progress(f"evaluating on {split}")
            meta["metrics"][split] = {name: _compact(r)
                                      for name, r in evaluate_tagger(tagger, arts)["model"].items()}
    meta["data"]["sources"] = sorted({str(p) for p in paths})
    meta["data"]["read_failures"] = [f.error for f in failures]
    save_bundle(out, meta, arrays)
    return meta, data, failures


__all__ = ["TrainSettings", "fit", "train", "build_dataset", "Dataset"]
