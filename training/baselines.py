"""Reference systems that the model must beat."""
from __future__ import annotations

from newstag.model.labels import SETS, Taxonomy
from newstag.model.normalise import normalise


def dictionary_predict(taxonomy: Taxonomy, title: str, text: str, min_hits: int = 2) -> dict[str, list[str]]:
    """Keyword-dictionary baseline: every label whose name or an alias occurs in the
    title, or at least ``min_hits`` times in the body (implications applied).

    One passing mention is too weak: annotators label what an article is
    substantially about, and a single hit fires on three times as many
    unlabelled articles as labelled ones.
    """
    title_n, body_n = normalise(title), normalise(text)
    out = {}
    for name in SETS:
        in_title = taxonomy[name].hits(title_n)
        in_body = taxonomy[name].hits(body_n)
        out[name] = taxonomy[name].close(
            lab for lab in set(in_title) | set(in_body) if in_title[lab] or in_body[lab] >= min_hits)
    return out
