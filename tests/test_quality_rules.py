"""Decision rules of the shipped model, through the CLI on real articles (issues 4 and 9).

* hierarchy: an AI sub-label brings 人工智能, and 具身智能 also brings 机器人;
* no-empty fallback: if the best 技术 label scores within the model's
  ``decision.fallback_ratio`` of its threshold, the 技术 list is not empty;
* a long multi-topic tech-media article gets labels for more than one topic.

Ratio and thresholds come from ``newstag info``; articles from ../shared.
"""
from __future__ import annotations

import json

import pytest

from conftest import CORPUS, SHIPPED

# the hierarchy of issue 4: AI sub-labels imply 人工智能, 具身智能 also 机器人
AI_CHILDREN = ("大模型", "生成式AI", "多模态", "计算机视觉", "语音与自然语言处理",
               "具身智能")
PARENTS = {child: {"人工智能"} for child in AI_CHILDREN} | {"具身智能": {"人工智能", "机器人"}}


def _jsonl(text):
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def corpus():
    """``{id: record}`` of every annotated article in corpus.jsonl."""
    out = {}
    with open(CORPUS / "corpus.jsonl", encoding="utf-8") as fh:
        for line in fh:
            rec = json.loads(line)
            out[rec["id"]] = rec
    return out


@pytest.fixture(scope="module")
def sample(corpus):
    """Seed files likely to get AI or robot labels: every `other` article and the dev
    articles whose gold 技术 has AI or robot labels."""
    wanted = {"人工智能", "机器人", *AI_CHILDREN}
    files = sorted((CORPUS / "other").glob("*.txt"))
    for path in sorted((CORPUS / "dev").glob("*.txt")):
        rec = corpus.get(path.stem)
        if rec and set(rec.get("技术") or []) & wanted:
            files.append(path)
    assert len(files) > 40, "expected the shared corpus to hold AI/robot articles"
    return files


def _meta(cli, model):
    r = cli("info", model)
    assert r.exit_code == 0, r.stderr
    return json.loads(r.stdout)


def _predict(cli, model, files, *extra):
    r = cli("predict", *files, "--quiet", "--model", model, *extra)
    assert r.exit_code == 0, r.stderr
    recs = _jsonl(r.stdout)
    assert [x["id"] for x in recs] == [p.stem for p in files]
    return recs


@pytest.fixture(scope="module")
def tagged(cli, sample):
    return _predict(cli, SHIPPED, sample)


def _labels(rec, group):
    return [x["label"] for x in rec[group]]


@pytest.mark.parametrize("extra", [(), ("--min-score", "0.2")])
def test_ai_sub_labels_bring_their_parents(cli, sample, tagged, extra):
    recs = tagged if not extra else _predict(cli, SHIPPED, sample, *extra)
    with_child = 0
    for rec in recs:
        techs = _labels(rec, "technologies")
        for child in set(techs) & set(AI_CHILDREN):
            with_child += 1
            missing = PARENTS[child] - set(techs)
            assert not missing, f"{rec['id']}: {child} given without {sorted(missing)} ({techs})"
            score = {x["label"]: x["score"] for x in rec["technologies"]}
            for parent in PARENTS[child]:
                assert score[parent] >= score[child], f"{rec['id']}: {parent} scored below its child {child}"
    # the rule must actually have been exercised, or this test proves nothing
    assert with_child >= 3, f"only {with_child} AI sub-labels given on {len(recs)} AI-related articles"


def check_fallback(cli, model, files, tagged=None) -> None:
    """No article comes back without 技术 while its best 技术 label is within the fallback ratio."""
    meta = _meta(cli, model)
    ratio = meta["decision"]["fallback_ratio"]
    thresholds = meta["thresholds"]["technologies"]
    assert 0 < ratio < 1, f"{model}: no no-empty fallback (decision.fallback_ratio = {ratio})"
    tagged = tagged if tagged is not None else _predict(cli, model, files)
    # every label's score: with --min-score 0 nothing is cut (and no fallback applies)
    everything = _predict(cli, model, files, "--min-score", "0")
    # a parent's reported score is raised to its children's, so only labels that are
    # nobody's parent witness a raw score
    parents = {p for ps in PARENTS.values() for p in ps}
    near = fallback_cases = 0
    for full, rec in zip(everything, tagged):
        ratios = [x["score"] / thresholds[x["label"]] for x in full["technologies"]
                  if x["label"] in thresholds and x["label"] not in parents]
        best = max(ratios, default=0.0)
        if best >= ratio + 1e-3:  # clear of the 4-decimal rounding of scores
            near += 1
            assert rec["technologies"], (f"{rec['id']}: best 技术 label at {best:.3f} × its threshold "
                                         f"(fallback ratio {ratio}) but no 技术 label given")
            fallback_cases += best < 1 - 1e-3
    assert near >= 10, f"only {near} articles near a 技术 threshold"
    assert fallback_cases >= 1, "no article fell between the fallback ratio and the threshold: rule not exercised"


def test_close_to_threshold_technology_is_not_dropped(cli, sample, tagged):
    check_fallback(cli, SHIPPED, sample, tagged)


def _topics(gold: list[str]) -> set[str]:
    """Distinct topics of a gold label list: an AI sub-label counts as its parents' topic
    (大模型 + 生成式AI is one AI topic; 具身智能 is AI and robots)."""
    return {t for lab in gold for t in PARENTS.get(lab, {lab})}


def test_long_multi_topic_article_gets_more_than_one_topic(cli, corpus):
    # the `other` article with the most distinct gold topics over both sets (ties: the longest)
    chosen = max((path for path in sorted((CORPUS / "other").glob("*.txt"))),
                 key=lambda p: (sum(len(_topics(corpus[p.stem].get(f) or [])) for f in ("行业", "技术")),
                                len(corpus[p.stem]["text"])))
    gold = corpus[chosen.stem]
    assert len(gold["text"]) > 1500, "the chosen article should be long-form"
    (rec,) = _predict(cli, SHIPPED, [chosen])
    checked = 0
    for field, group in (("行业", "industries"), ("技术", "technologies")):
        topics = _topics(gold.get(field) or [])
        if len(topics) < 2:
            continue
        checked += 1
        got = _topics(_labels(rec, group)) & topics
        assert len(got) >= 2, f"{chosen.name}: gold {field} topics {sorted(topics)}, tagged only {sorted(got)}"
    assert checked, f"{chosen.name} has fewer than two topics in every set"
