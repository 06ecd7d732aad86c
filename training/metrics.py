"""Multi-label quality figures and their report, in the style of
scikit-learn's ``classification_report`` and fastText's ``test``."""
from __future__ import annotations

import numpy as np


def prf(tp: float, fp: float, fn: float) -> tuple[float, float, float]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f


def score_sets(gold: list[list[str]], pred: list[list[str]], labels: list[str] | None = None) -> dict:
    """Micro and macro P/R/F1 and a per-label table for one label set.

    ``gold``/``pred``: per article, the label lists. ``labels``: the rows of the
    table (default: every label seen in gold or pred, sorted by support).
    Macro averages run over labels with support > 0, as a label absent from
    the evaluation data has no defined recall.
    """
    if len(gold) != len(pred):
        raise ValueError(f"gold has {len(gold)} articles, pred {len(pred)}")
    seen = {lab for g in gold for lab in g} | {lab for p in pred for lab in p}
    labels = list(labels) if labels is not None else []
    labels += sorted(seen - set(labels))
    tp = dict.fromkeys(labels, 0)
    fp = dict.fromkeys(labels, 0)
    fn = dict.fromkeys(labels, 0)
    exact = 0
    for g, p in zip(gold, pred):
        g, p = set(g), set(p)
        exact += g == p
        for lab in g & p:
            tp[lab] += 1
        for lab in p - g:
            fp[lab] += 1
        for lab in g - p:
            fn[lab] += 1
    per_label = {}
    for lab in labels:
        p, r, f = prf(tp[lab], fp[lab], fn[lab])
        per_label[lab] = {"precision": p, "recall": r, "f1": f, "support": tp[lab] + fn[lab],
                          "predicted": tp[lab] + fp[lab]}
    mp, mr, mf = prf(sum(tp.values()), sum(fp.values()), sum(fn.values()))
    supported = [v for v in per_label.values() if v["support"] > 0]
    n = max(1, len(supported))
    macro = {k: sum(v[k] for v in supported) / n for k in ("precision", "recall", "f1")}
    return {
        "micro": {"precision": mp, "recall": mr, "f1": mf, "support": sum(tp.values()) + sum(fn.values())},
        "macro": macro,
        "exact_match": exact / max(1, len(gold)),
        "empty_gold": sum(1 for g in gold if not g),
        "empty_pred": sum(1 for p in pred if not p),
        "n_articles": len(gold),
        "labels": per_label,
    }


def format_report(title: str, result: dict, baseline: dict | None = None, digits: int = 3) -> str:
    """A fixed-width per-label table plus micro/macro rows (and the baseline's, if given)."""
    rows = result["labels"]
    width = max([len("macro avg")] + [len(lab) * 2 for lab in rows]) + 2

    def pad(s: str) -> str:
        # CJK characters are two columns wide in a terminal
        return s + " " * max(1, width - sum(2 if ord(c) > 0x2e80 else 1 for c in s))

    head = pad(title) + f"{'precision':>10}{'recall':>10}{'f1':>10}{'support':>9}"
    lines = [head, "-" * len(head)]
    for lab, v in sorted(rows.items(), key=lambda kv: (-kv[1]["support"], kv[0])):
        lines.append(pad(lab) + f"{v['precision']:>10.{digits}f}{v['recall']:>10.{digits}f}"
                     f"{v['f1']:>10.{digits}f}{v['support']:>9d}")
    lines.append("-" * len(head))
    micro, macro = result["micro"], result["macro"]
    lines.append(pad("micro avg") + f"{micro['precision']:>10.{digits}f}{micro['recall']:>10.{digits}f}"
                 f"{micro['f1']:>10.{digits}f}{micro['support']:>9d}")
    lines.append(pad("macro avg") + f"{macro['precision']:>10.{digits}f}{macro['recall']:>10.{digits}f}"
                 f"{macro['f1']:>10.{digits}f}{micro['support']:>9d}")
    if baseline is not None:
        bm = baseline["micro"]
        lines.append(pad("dictionary micro") + f"{bm['precision']:>10.{digits}f}{bm['recall']:>10.{digits}f}"
                     f"{bm['f1']:>10.{digits}f}{bm['support']:>9d}")
        bma = baseline["macro"]
        lines.append(pad("dictionary macro") + f"{bma['precision']:>10.{digits}f}{bma['recall']:>10.{digits}f}"
                     f"{bma['f1']:>10.{digits}f}{bm['support']:>9d}")
    lines.append(f"articles: {result['n_articles']}, with no gold label: {result['empty_gold']}, "
                 f"with no predicted label: {result['empty_pred']}, exact match: {result['exact_match']:.3f}")
    return "\n".join(lines)


def best_threshold(y: np.ndarray, p: np.ndarray, grid: np.ndarray, prior: float = 0.5, shrink: float = 5.0) -> float:
    """Threshold maximising F1 of scores ``p`` against 0/1 ``y``.

    With few positives the F1 curve is jagged and its argmax is noise, so the
    choice is pulled towards ``prior`` with weight ``shrink / (shrink + n_pos)``.
    """
    n_pos = int(y.sum())
    if n_pos == 0:
        return float(max(prior, grid.max()))
    best_t, best_f = prior, -1.0
    for t in grid:
        pred = p >= t
        tp = float(np.sum(pred & (y == 1)))
        fp = float(np.sum(pred & (y == 0)))
        f = 2 * tp / (2 * tp + fp + (n_pos - tp)) if tp else 0.0
        if f > best_f + 1e-9:
            best_t, best_f = float(t), f
    w = shrink / (shrink + n_pos)
    return float(w * prior + (1 - w) * best_t)
