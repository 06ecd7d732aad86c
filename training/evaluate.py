"""Score a tagger (and the dictionary baseline) on annotated articles."""
from __future__ import annotations

from typing import Callable

from newstag.model.labels import SETS, load_taxonomy
from newstag.model.reader import Article

from .baselines import dictionary_predict
from .metrics import score_sets
from .train import build_dataset


def evaluate_tagger(tagger, articles: list[Article], top_k: int | None = None, min_score: float | None = None,
                    progress: Callable[[int], None] = lambda n: None) -> dict:
    """Per label set, the model's and the dictionary baseline's scores.

    Gold labels are mapped with the model's own taxonomy, so free-form
    annotations are scored the way the model was trained. Returns
    ``{"model": {set: result}, "dictionary": {set: result}, "n_articles": n,
    "skipped_unannotated": k}``.
    """
    from newstag.model.labels import taxonomy_from_dict

    taxonomy = taxonomy_from_dict(tagger.meta["taxonomy"]) if "taxonomy" in tagger.meta else load_taxonomy()
    data = build_dataset(articles, taxonomy)
    preds = {s: [] for s in SETS}
    base = {s: [] for s in SETS}
    for i, art in enumerate(data.articles):
        p = tagger.predict_one(art.title, art.text, top_k=top_k, min_score=min_score, keywords=False, summary=False)
        d = dictionary_predict(taxonomy, art.title, art.text)
        for s in SETS:
            preds[s].append(p.labels(s))
            base[s].append(d[s])
        progress(i + 1)
    return {
        "model": {s: score_sets(data.gold[s], preds[s], list(taxonomy[s].labels)) for s in SETS},
        "dictionary": {s: score_sets(data.gold[s], base[s], list(taxonomy[s].labels)) for s in SETS},
        "n_articles": len(data.articles),
        "skipped_unannotated": len(data.skipped),
        "predictions": preds,
        "gold": data.gold,
    }
