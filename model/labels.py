"""The label taxonomy: canonical labels, their aliases, and label mapping.

``taxonomy.json`` beside this module holds the two label sets of
``TAXONOMY.md`` (``industries`` = 行业, ``technologies`` = 技术) with aliases
and implications (AI sub-labels imply 人工智能). The same alias lists serve
two jobs:

* mapping free-form annotations to canonical labels (``芯片市场`` → 半导体,
  ``大模型算力`` → 大模型 + 算力): a raw label maps to every label whose name
  or alias occurs in it, longest match first;
* finding taxonomy evidence in article text (the dictionary baseline and the
  alias-hit features of the classifier).
"""
from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from functools import cached_property, lru_cache
from importlib import resources
from pathlib import Path
from typing import Iterable

from .normalise import normalise

SETS = ("industries", "technologies")
FIELD_NAMES = {"industries": "行业", "technologies": "技术"}


@dataclass(frozen=True)
class LabelSet:
    """One label set: canonical labels in taxonomy order, term → labels, implications."""

    name: str
    field: str
    labels: tuple[str, ...]
    terms: dict[str, tuple[str, ...]]  # normalised name or alias → canonical labels
    implies: dict[str, tuple[str, ...]]
    descriptions: dict[str, str]

    @cached_property
    def _pattern(self) -> re.Pattern:
        # Longest terms first so that 生成式ai wins over ai at the same position;
        # latin terms need word boundaries or "ai" fires inside "mail".
        parts = []
        for term in sorted(self.terms, key=lambda t: (-len(t), t)):
            escaped = re.escape(term)
            if re.fullmatch(r"[a-z0-9][a-z0-9 .+\-]*", term):
                escaped = rf"(?<![a-z0-9]){escaped}(?![a-z0-9])"
            parts.append(escaped)
        return re.compile("|".join(parts))

    def close(self, labels: Iterable[str]) -> list[str]:
        """``labels`` plus everything they imply, in taxonomy order."""
        out = set(labels)
        stack = list(out)
        while stack:
            for implied in self.implies.get(stack.pop(), ()):
                if implied not in out:
                    out.add(implied)
                    stack.append(implied)
        return [lab for lab in self.labels if lab in out]

    def map_raw(self, raw: str) -> list[str]:
        """Canonical labels for one free-form label string ([] if it maps to nothing)."""
        key = normalise(raw)
        if key in self.terms and raw.strip() in self.labels:
            return self.close([raw.strip()])
        found = [lab for m in self._pattern.finditer(key) for lab in self.terms[m.group(0)]]
        return self.close(found)

    def hits(self, text: str) -> Counter:
        """Count taxonomy-term occurrences per label in (already normalised) text."""
        counts: Counter = Counter()
        for m in self._pattern.finditer(text):
            for lab in self.terms[m.group(0)]:
                counts[lab] += 1
        return counts

    def term_hits(self, text: str) -> dict[str, Counter]:
        """Per label, which terms occurred in (normalised) text and how often."""
        out: dict[str, Counter] = {}
        for m in self._pattern.finditer(text):
            for lab in self.terms[m.group(0)]:
                out.setdefault(lab, Counter())[m.group(0)] += 1
        return out


@dataclass(frozen=True)
class Taxonomy:
    """Both label sets; ``taxonomy[name]`` gives a :class:`LabelSet`."""

    sets: dict[str, LabelSet]

    def __getitem__(self, name: str) -> LabelSet:
        return self.sets[name]

    def all_terms(self) -> list[str]:
        """Every label name and alias (original spelling), for the tokeniser dictionary."""
        return sorted({t for s in self.sets.values() for t in s.terms})

    def gold(self, article) -> tuple[dict[str, list[str] | None], dict[str, list[str]]]:
        """Canonical labels of an annotated article, and raw labels that mapped to nothing.

        A set the article does not annotate at all maps to ``None``.
        """
        gold: dict[str, list[str] | None] = {}
        unmapped: dict[str, list[str]] = {}
        for name in SETS:
            raw = getattr(article, name)
            if raw is None:
                gold[name] = None
                continue
            labels: set[str] = set()
            for item in raw:
                mapped = self.sets[name].map_raw(item)
                if mapped:
                    labels.update(mapped)
                else:
                    unmapped.setdefault(name, []).append(item)
            gold[name] = self.sets[name].close(labels)
        return gold, unmapped


def _build(data: dict) -> Taxonomy:
    sets = {}
    for name in SETS:
        spec = data["sets"][name]
        terms: dict[str, list[str]] = {}
        implies, descriptions = {}, {}
        for label, info in spec["labels"].items():
            descriptions[label] = info.get("description", "")
            implies[label] = tuple(info.get("implies", ()))
            for term in [label, *info.get("aliases", ())]:
                bucket = terms.setdefault(normalise(term), [])
                if label not in bucket:
                    bucket.append(label)
        sets[name] = LabelSet(
            name=name,
            field=spec.get("field", FIELD_NAMES[name]),
            labels=tuple(spec["labels"]),
            terms={t: tuple(v) for t, v in terms.items() if t},
            implies=implies,
            descriptions=descriptions,
        )
    return Taxonomy(sets)


@lru_cache(maxsize=4)
def load_taxonomy(path: str | Path | None = None) -> Taxonomy:
    """Load ``taxonomy.json`` (the packaged one by default)."""
    if path is None:
        text = resources.files(__package__).joinpath("taxonomy.json").read_text(encoding="utf-8")
    else:
        text = Path(path).read_text(encoding="utf-8")
    return _build(json.loads(text))


def taxonomy_from_dict(data: dict) -> Taxonomy:
    """Build a taxonomy from the decoded ``taxonomy.json`` structure (as stored in bundles)."""
    return _build(data)


def audit(articles, taxonomy: Taxonomy) -> dict[str, dict]:
    """Every raw label string per set with its count and mapping.

    Returns ``{set: {"counts": Counter(raw), "mapping": {raw: [labels]},
    "unmapped": [raw, ...]}}``.
    """
    report = {}
    for name in SETS:
        counts: Counter = Counter()
        for art in articles:
            counts.update(getattr(art, name) or [])
        mapping = {raw: taxonomy[name].map_raw(raw) for raw in counts}
        report[name] = {
            "counts": counts,
            "mapping": mapping,
            "unmapped": sorted((r for r, m in mapping.items() if not m), key=lambda r: (-counts[r], r)),
        }
    return report
