"""Keyword ranking (model/keywords.py): candidates come best first, ties by term,
however the ranking is computed."""
from __future__ import annotations

import json
from copy import copy

import pytest

from conftest import CORPUS, SHIPPED

import newstag


@pytest.fixture(scope="module")
def rows():
    with open(CORPUS / "corpus.jsonl", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()][::4]


@pytest.mark.parametrize("method", ["tfidf", "textrank"])
def test_scored_is_a_full_sort_by_score_then_term(rows, method):
    """``scored`` orders candidates as sorting (term, score) pairs by (-score, term)
    would; the sample has tied scores, so an order that left ties as they came
    (by word id, by position) would fail."""
    extractor = copy(newstag.load(SHIPPED).keyword_extractor)
    extractor.method = method
    tied = 0
    for r in rows:
        got = extractor.scored(r["title"], r["text"])
        assert got == sorted(got, key=lambda pair: (-pair[1], pair[0])), r["id"]
        assert len({term for term, _ in got}) == len(got), r["id"]
        tied += sum(a[1] == b[1] for a, b in zip(got, got[1:]))
    assert tied >= 20


def test_a_word_expands_to_the_compound_it_mostly_occurs_in():
    """The compound rule (KeywordExtractor.expand, and the kernel that expands
    candidate words): 高质量 becomes 高质量发展 when that compound is at least
    ``expand_share`` of the word's count and occurs twice or more, else stays;
    天问二号, once in its article, never replaces 天问, however rare 天问 is."""
    extractor = newstag.load(SHIPPED).keyword_extractor
    with open(CORPUS / "corpus.jsonl", encoding="utf-8") as fh:
        arts = {a["id"]: a for a in map(json.loads, fh) if a["id"] in ("cctv-20240826-00", "cctv-20250530-00")}

    def count(art, compound):
        return art["text"].count(compound) + extractor.title_weight * art["title"].count(compound)

    art = arts["cctv-20240826-00"]
    doc = extractor.document(art["title"], art["text"])
    n = count(art, "高质量发展")
    assert n >= 2
    share = extractor.expand_share
    assert extractor.expand(doc, "高质量", n / share * (1 - 1e-9)) == "高质量发展"
    assert extractor.expand(doc, "高质量", n / share * 1.01) == "高质量"
    assert extractor.expand(doc, "不在文中", 1.0) == "不在文中"
    once = arts["cctv-20250530-00"]
    assert count(once, "天问二号") == 1
    assert extractor.expand(extractor.document(once["title"], once["text"]), "天问", 0.5) == "天问"


def test_a_quoted_word_expands_like_a_candidate_word():
    """A quoted span that is a word of the lexicon but no candidate (高质量 is a
    stop word) expands by the same rule, next to a quoted span that is no word
    (“四个统一”), which keeps its own spelling: the two spans' numbers must not
    be mixed up when their expansions are looked up together with the words'."""
    tagger = newstag.load(SHIPPED)
    extractor = tagger.keyword_extractor
    title = "长三角谈一体化"
    # 高质量 occurs 6 times (once quoted), 5 of them in 高质量发展: 5 >= 0.8 × 6
    text = ("长三角坚持“四个统一”，推动高质量发展。高质量发展是首要任务，各地把高质量发展落到实处。"
            "专家说，“高质量”三个字，落脚点在高质量发展，在高质量发展中创新。")
    doc = extractor.document(title, text)
    assert extractor.expand(doc, "高质量", text.count("高质量")) == "高质量发展"
    keywords = tagger.predict_one(title, text).keywords
    assert "高质量发展" in keywords and "高质量" not in keywords, keywords
    assert "四个统一" in keywords, keywords
