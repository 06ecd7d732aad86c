"""Keywords and event summaries (issues 7 and 10): form, provenance, every output
format, and the round trip predict --format seed → seed files → train."""
from __future__ import annotations

import csv
import io
import json
import re

import pytest

from conftest import CORPUS, SEED, SHIPPED

_NUMBERED = re.compile(r"^(\d+)\. (.+)$")
_CLAUSE = re.compile(r"[，,；;：:。！？!?]")


@pytest.fixture(scope="module")
def shipped():
    import newstag

    return newstag.load(SHIPPED)


@pytest.fixture(scope="module")
def articles():
    """Real articles: every 40th of dev, the first 8 of other (long tech-media pieces), the seed."""
    from newstag.model.reader import load_articles

    dev = sorted((CORPUS / "dev").glob("*.txt"))[::40]
    other = sorted((CORPUS / "other").glob("*.txt"))[:8]
    arts, failures = load_articles([*dev, *other, SEED])
    assert not failures and len(arts) == len(dev) + len(other) + 1
    return arts


def _drawn_from(body: str, text: str) -> bool:
    """A point body is ``主题：说明`` or ``说明``: the topic is a term of the article and
    every clause of the rest occurs in it verbatim."""
    head, sep, rest = body.partition("：")
    if sep and head in text and _clauses_in(rest, text):
        return True
    return _clauses_in(body, text)


def _clauses_in(s: str, text: str) -> bool:
    parts = [p for p in _CLAUSE.split(s) if p.strip()]
    return bool(parts) and all(p in text for p in parts)


def test_summary_has_the_annotators_form_and_comes_from_the_article(shipped, articles):
    n_points = []
    for art in articles:
        points = shipped.summariser(art.title, art.text)
        assert 1 <= len(points) <= 5, (art.source, points)
        for i, p in enumerate(points, 1):
            m = _NUMBERED.match(p)
            assert m and int(m.group(1)) == i, (art.source, p)
            body = m.group(2)
            assert 8 <= len(body) <= 60, (art.source, p)
            assert _drawn_from(body, art.text), (art.source, p)
        n_points.append((len(art.text), len(points)))
    # longer articles get more points: the longest third never fewer than the shortest third
    n_points.sort()
    third = len(n_points) // 3
    assert min(n for _, n in n_points[-third:]) >= max(n for _, n in n_points[:third])


def test_summary_points_are_distinct_events(shipped, articles):
    for art in articles:
        bodies = [p.split(". ", 1)[1] for p in shipped.summariser(art.title, art.text)]
        stripped = [b.split("：", 1)[-1] for b in bodies]
        assert len(set(stripped)) == len(stripped), (art.source, bodies)


def test_trim_cuts_at_clause_boundaries():
    from newstag.model.summary import trim

    sentence = ("近日，" + "某市发布了一项关于城市更新的实施方案，" + "方案提出到2027年完成老旧小区改造三百个，"
                + "新建口袋公园五十处，" + "同时推进地下管网更新改造工作全面展开。")
    out = trim(sentence, 40)
    assert len(out) <= 40
    assert not out.startswith("近日")  # lead-in dropped
    assert out.startswith("某市发布了一项关于城市更新的实施方案")
    assert all(part in sentence for part in re.split("，", out))  # whole clauses only
    assert trim("短句。", 40) == "短句"


def test_keywords_are_few_distinct_and_verbatim(shipped, articles):
    for art in articles:
        kws = shipped.keyword_extractor(art.title, art.text)
        assert 3 <= len(kws) <= 8, (art.source, kws)
        for k in kws:
            assert k in art.text or k in art.title, (art.source, k)
        assert len(set(kws)) == len(kws)


def test_overlapping_terms_are_merged(shipped):
    title = "2026世界人工智能大会在上海开幕"
    text = ("世界人工智能大会今天在上海开幕。本届世界人工智能大会展示了大模型、机器人等最新成果。"
            "人工智能大会期间，多家企业发布了人工智能芯片和具身智能机器人。") * 2
    kws = shipped.keyword_extractor(title, text)
    for a in kws:
        for b in kws:
            assert a == b or not (a in b or b in a), kws
    assert any("人工智能" in k for k in kws)


def test_keywords_match_gold_better_than_plain_jieba(train_only_model):
    """On held-out dev articles, F1@5 against the gold 关键词 (containment match)
    beats jieba's stock TF-IDF extractor."""
    import logging

    import jieba
    import jieba.analyse

    import newstag
    from newstag.model.reader import load_articles

    jieba.setLogLevel(logging.WARNING)
    arts, _ = load_articles(sorted((CORPUS / "dev").glob("*.txt"))[::8])
    extractor = newstag.load(train_only_model).keyword_extractor

    def f1(pred, gold):
        pred, gold = [p.lower() for p in pred[:5]], [g.lower() for g in gold]
        p = sum(any(x in g or g in x for g in gold) for x in pred) / max(len(pred), 1)
        r = sum(any(x in g or g in x for x in pred) for g in gold) / max(len(gold), 1)
        return 2 * p * r / (p + r) if p + r else 0.0

    ours = sum(f1(extractor(a.title, a.text), a.keywords) for a in arts) / len(arts)
    plain = sum(f1(jieba.analyse.extract_tags(f"{a.title}\n{a.text}", topK=5), a.keywords) for a in arts) / len(arts)
    assert ours > plain + 0.03, (ours, plain)


def test_keyword_tables_are_in_the_bundle(train_only_model):
    from newstag.model.bundle import load_bundle

    meta, arrays = load_bundle(train_only_model)
    words, idf, key = arrays["kw.words"], arrays["kw.idf"], arrays["kw.key"]
    assert len(words) == len(idf) == len(key) > 5000
    assert meta["keywords"]["keyness_docs"] == meta["data"]["n_articles"]
    table = dict(zip(words.tolist(), idf.tolist()))
    assert table["发展"] < table["无人机"]  # a word of every story is worth less than a topic word
    keyness = dict(zip(words.tolist(), key.tolist()))
    assert keyness["强调"] < 0.2 and keyness["举行"] < 0.2  # verbs annotators never keep
    assert keyness["无人机"] > 2


def _jsonl(cli, *args):
    res = cli("predict", *args, "-q")
    assert res.exit_code == 0, res.stderr
    return [json.loads(line) for line in res.stdout.splitlines()]


def test_every_format_carries_the_same_summary(cli, articles):
    from newstag.model.reader import parse_seed

    paths = [a.source for a in articles[:4]]
    records = _jsonl(cli, *paths)
    assert all(r["summary"] for r in records)

    res = cli("predict", *paths, "--format", "csv", "-q")
    assert res.exit_code == 0, res.stderr
    rows = list(csv.DictReader(io.StringIO(res.stdout)))
    assert [row["summary"] for row in rows] == [" ".join(r["summary"]) for r in records]

    res = cli("predict", *paths, "--format", "seed", "-q")
    assert res.exit_code == 0, res.stderr
    chunks = re.split(r"\n(?=标题: )", res.stdout)
    assert len(chunks) == len(records)
    for chunk, rec in zip(chunks, records):
        art = parse_seed(chunk, "<seed output>", rec["id"])
        assert art.summary == rec["summary"]
        assert art.keywords == rec["keywords"]


def test_round_trip_predict_seed_files_then_train(cli, tmp_path):
    """predict --format seed --out-dir → one seed file per article → newstag train → predict."""
    from newstag.model.reader import load_articles

    picked = sorted((CORPUS / "dev").glob("*.txt"))[:40:4] + sorted((CORPUS / "train").glob("*.txt"))[:40:4]
    inbox = tmp_path / "in"
    inbox.mkdir()
    for p in picked:  # unlabelled copies: the body and title only
        src = load_articles([p])[0][0]
        (inbox / p.name).write_text(f"标题: {src.title}\n总结: {src.text}\n", encoding="utf-8")
    records = _jsonl(cli, inbox)

    out_dir = tmp_path / "seeds"
    res = cli("predict", inbox, "--format", "seed", "--out-dir", out_dir, "-q")
    assert res.exit_code == 0, res.stderr
    assert res.stdout == ""
    files = sorted(out_dir.glob("*.txt"))
    assert [f.stem for f in files] == sorted(r["id"] for r in records)

    back, failures = load_articles(files)
    assert not failures
    by_id = {r["id"]: r for r in records}
    for art in back:
        rec = by_id[art.id]
        assert art.annotated
        assert art.keywords == rec["keywords"] and art.summary == rec["summary"]
        assert art.technologies == [x["label"] for x in rec["technologies"]]
        assert art.industries == [x["label"] for x in rec["industries"]]

    model = tmp_path / "round.joblib"
    res = cli("train", out_dir, "--out", model, "--cv-folds", 0, "--min-examples", 1, "-q")
    assert res.exit_code == 0, res.stderr
    again = _jsonl(cli, inbox, "--model", model)
    assert [r["id"] for r in again] == [r["id"] for r in records]
    assert all(r["keywords"] and r["summary"] for r in again)


def test_out_dir_needs_seed_format(cli, tmp_path):
    res = cli("predict", SEED, "--format", "jsonl", "--out-dir", tmp_path / "x")
    assert res.exit_code != 0
    assert "--out-dir" in res.stderr
    assert not (tmp_path / "x").exists()


def test_a_book_length_article_is_summarised_from_every_part(tmp_path):
    """All of dev as one article, through the Python API (which, unlike the
    reader, does not cut long texts): 429,000 characters, over 9,000 sentences.
    One TextRank graph over them would take minutes and gigabytes (the cube and
    the square of their number); the summary comes back in bounded memory, with
    five points drawn from the text in its order, one from each fifth of it."""
    import subprocess
    import sys

    dev = [a for a in map(json.loads, (CORPUS / "corpus.jsonl").open(encoding="utf-8")) if a["split"] == "dev"]
    text = "\n".join(a["text"] for a in dev)
    path = tmp_path / "book.txt"
    path.write_text(text, encoding="utf-8")
    # the peak is the child's own (VmHWM): ru_maxrss would carry the pytest
    # process's peak over, as a process keeps its parent's through fork and exec
    script = ("import json, re, sys, newstag; text = open(sys.argv[1], encoding='utf-8').read(); "
              "points = newstag.load().predict_one('一年的新闻', text).summary; "
              "hwm = re.search(r'VmHWM:\\s+(\\d+) kB', open('/proc/self/status').read()); "
              "print(json.dumps([points, int(hwm.group(1)) // 1024]))")
    # (the timeout only turns a regression's hang into a failure)
    p = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True, timeout=900)
    assert p.returncode == 0, p.stderr
    points, peak_mb = json.loads(p.stdout)
    assert peak_mb < 1000, peak_mb  # one graph's three n × n float matrices alone would be 2 GB
    assert len(points) == 5, points
    where, at = [], 0
    for i, point in enumerate(points, 1):
        m = _NUMBERED.match(point)
        assert m and int(m.group(1)) == i and len(m.group(2)) <= 60 and _drawn_from(m.group(2), text), point
        longest = max(_CLAUSE.split(m.group(2).partition("：")[2] or m.group(2)), key=len)
        at = text.index(longest, at)  # (a short clause may also occur earlier)
        where.append(at * 5 // len(text))
    assert where == [0, 1, 2, 3, 4], (where, points)
