"""newstag: tag Chinese technology news with 行业 and 技术 labels, keywords and summaries.

The common case::

    import newstag
    tagger = newstag.load()                      # the shipped model
    for p in tagger.predict(["工信部发布算力基础设施行动计划……"]):
        print(p.industries, p.technologies, p.keywords)

    newstag.train(["seeds/"], "artifacts/my-model.joblib")   # retrain on your annotations
"""
from __future__ import annotations

__version__ = "0.1.0"

from .model import DEFAULT_MODEL, BundleError, Prediction, Tagger, load
from .model.reader import Article, Failure, ReadError, read_articles


def train(paths, out, **settings):
    """Train on annotated files or folders ``paths`` and write a bundle to ``out``.

    ``settings`` are :class:`newstag.training.TrainSettings` fields. Returns the
    bundle's metadata (labels, thresholds, cross-validated metrics).
    """
    from .training import TrainSettings, train as _train

    meta, _, _ = _train(paths, out, TrainSettings(**settings))
    return meta


__all__ = ["load", "train", "Tagger", "Prediction", "BundleError", "Article", "Failure", "ReadError",
           "read_articles", "DEFAULT_MODEL", "__version__"]
