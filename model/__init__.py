"""What tagging needs at run time: reading, features, the tagger and bundles.

Nothing here imports scikit-learn or :mod:`newstag.training`, so tagging
starts fast.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from . import prelearned
from .bundle import BundleError, load_bundle
from .features import FeatureSettings, Featurizer
from .keywords import KeywordExtractor
from .labels import SETS, load_taxonomy, taxonomy_from_dict
from .normalise import normalise
from .summary import Summariser
from .tagger import LabelModel, Prediction, Tagger
from .tokenize import Tokenizer

DEFAULT_MODEL = Path(__file__).resolve().parent.parent / "artifacts" / "model.joblib"


def tagger_from_bundle(meta: dict, arrays: dict[str, np.ndarray], source: str = "<bundle>") -> Tagger:
    """Assemble a :class:`Tagger` from verified bundle contents."""
    try:
        taxonomy = taxonomy_from_dict(meta["taxonomy"])
        settings = FeatureSettings(**{**meta["features"], "char_ngrams": tuple(meta["features"]["char_ngrams"])})
        tokenizer = Tokenizer(meta["tokenizer"], taxonomy.all_terms())
        featurizer = Featurizer(settings, tokenizer, taxonomy)
        words = arrays["vocab.words"].tolist()
        chars = arrays["vocab.chars"].tolist()
        featurizer.words = {t: i for i, t in enumerate(words)}
        featurizer.chars = {t: i + len(words) for i, t in enumerate(chars)}
        featurizer.idf = arrays["idf"].astype(np.float32)
        names = [name for name in SETS if name in meta["labels"]]
        ends = np.cumsum([0] + [len(meta["labels"][name]) for name in names]).tolist()
        # every set's weights side by side (what tagging multiplies by), each model's W a view:
        # stored as float16, converted once here, not per article, nor copied again
        weights = np.empty((featurizer.n_features, ends[-1]), np.float32)
        models = {}
        for name, a, b in zip(names, ends, ends[1:]):
            W = arrays[f"W.{name}"]
            if W.shape != (featurizer.n_features, b - a):
                raise BundleError(source, f"weights of {name} have shape {W.shape}, "
                                          f"expected {(featurizer.n_features, b - a)}")
            weights[:, a:b] = W
            models[name] = LabelModel(
                labels=list(meta["labels"][name]),
                W=weights[:, a:b],
                b=arrays[f"b.{name}"].astype(np.float32),
                thresholds=arrays[f"thresholds.{name}"].astype(np.float32),
                label_set=taxonomy[name],
                # the no-empty rule is for 技术 only (see TrainSettings.fallback_ratio)
                fallback_ratio=float(meta.get("decision", {}).get("fallback_ratio", 0.0))
                if name == "technologies" else 0.0,
            )
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, BundleError):
            raise
        raise BundleError(source, f"model bundle is incomplete ({type(exc).__name__}: {exc})") from None
    kw = meta.get("keywords", {})
    keyness = None
    if "kw.words" in arrays and "kw.idf" in arrays:
        # the keyword tables (newstag.training.keywords): every content word, not only the vocabulary
        kw_words = arrays["kw.words"].tolist()
        idf = dict(zip(kw_words, arrays["kw.idf"].astype(np.float64).tolist()))
        default_idf = float(kw.get("default_idf", max(idf.values(), default=10.0)))
        if "kw.key" in arrays and kw.get("keyness_docs", 0):
            keyness = dict(zip(kw_words, arrays["kw.key"].astype(np.float64).tolist()))
    else:  # older bundles: the feature IDF
        idf = dict(zip(words, featurizer.idf[: len(words)].tolist()))
        default_idf = float(featurizer.idf.max()) if len(featurizer.idf) else 10.0
    taxonomy_terms = {normalise(t) for t in taxonomy.all_terms()}
    keyword_extractor = KeywordExtractor(tokenizer, idf, default_idf, taxonomy_terms,
                                         top_k=int(kw.get("top_k", 5)), keyness=keyness,
                                         lexicon=featurizer.lexicon)
    summariser = Summariser(tokenizer, idf, default_idf, keywords=keyword_extractor, lexicon=featurizer.lexicon)
    return Tagger(featurizer, models, meta, keyword_extractor, summariser, weights)


def load(path: str | Path | None = None) -> Tagger:
    """Load and verify a model bundle (the shipped default if ``path`` is None)."""
    path = Path(path) if path is not None else DEFAULT_MODEL
    meta, arrays, checksum = load_bundle(path, with_checksum=True, cache=True)
    tagger = tagger_from_bundle(meta, arrays, str(path))
    prelearned.attach(tagger, checksum)  # long runs start with the model's vocabulary learned
    return tagger


__all__ = ["load", "Tagger", "Prediction", "BundleError", "DEFAULT_MODEL", "load_taxonomy", "SETS"]
