"""The input formats: seed files, JSON Lines, plain text, folders, stdin."""
from __future__ import annotations

import io
import json

from conftest import CORPUS, SEED

from newstag.model.reader import Article, Failure, format_seed, load_articles, parse_seed, read_articles


def test_reference_seed_file_parses_every_field():
    (art,), failures = load_articles([SEED])
    assert failures == []
    raw = SEED.read_text(encoding="utf-8")
    assert art.id == SEED.stem
    assert art.title and art.title in raw.splitlines()[0]
    assert art.link.startswith("https://")
    assert len(art.text) > 1000 and "\n" not in art.link
    assert art.keywords and all(k in raw for k in art.keywords)
    # labels split on commas, kept raw (mapping happens later)
    assert "芯片市场" in art.industries and "多模态AI技术" in art.technologies
    # the summary spans many lines: one point per numbered line, the preamble dropped
    assert len(art.summary) >= 5 and all(p[0].isdigit() for p in art.summary)
    assert art.extra == {}


def test_multiline_values_and_fullwidth_colon_and_unknown_keys():
    text = ("标题：第一行标题\n总结：第一段。\n第二段里有冒号：这不是新键。\n\n第三段。\n"
            "关键词：甲, 乙\n作者: 张三\n技术：大模型算力、具身智能\n行业： \n")
    art = parse_seed(text, "x.txt", "x")
    assert art.title == "第一行标题"
    assert art.text == "第一段。\n第二段里有冒号：这不是新键。\n\n第三段。"
    assert art.keywords == ["甲", "乙"]
    assert art.technologies == ["大模型算力", "具身智能"]  # 技术 is a synonym of AI技术
    assert art.extra["作者"] == "张三"  # unknown key kept, not fatal
    assert art.industries == []  # annotated as "no industry", unlike a missing field (None)
    assert parse_seed("总结: 正文", "y", "y").industries is None


def test_bom_and_crlf_give_the_same_article(tmp_path):
    raw = SEED.read_bytes()
    crlf = tmp_path / "crlf.txt"
    crlf.write_bytes(b"\xef\xbb\xbf" + raw.replace(b"\n", b"\r\n"))
    (a,), _ = load_articles([SEED])
    (b,), _ = load_articles([crlf])
    assert (a.title, a.text, a.industries, a.technologies, a.summary) == \
           (b.title, b.text, b.industries, b.technologies, b.summary)


def test_jsonl_accepts_both_namings_and_keeps_ids(tmp_path):
    rows = [
        {"id": "a1", "title": "标题一", "text": "正文一", "行业": ["半导体"], "技术": "芯片, 算力"},
        {"标题": "标题二", "总结": "正文二", "industries": [], "AI技术": ["大模型"]},
        {"title": "三", "content": "正文三"},
    ]
    p = tmp_path / "batch.jsonl"
    p.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n\n", encoding="utf-8")
    arts, failures = load_articles([p])
    assert failures == []
    assert [a.id for a in arts] == ["a1", f"{p}:2", f"{p}:3"]
    assert arts[0].technologies == ["芯片", "算力"] and arts[0].industries == ["半导体"]
    assert arts[1].industries == [] and arts[1].technologies == ["大模型"]
    assert arts[2].text == "正文三" and not arts[2].annotated


def test_plain_text_file_first_line_is_title(tmp_path):
    p = tmp_path / "plain.txt"
    p.write_text("国产大模型发布\n某公司今天发布新一代大模型。\n", encoding="utf-8")
    (art,), _ = load_articles([p])
    assert art.title == "国产大模型发布"
    assert art.text.startswith("国产大模型发布") and "新一代大模型" in art.text


def test_directories_are_read_recursively_in_order():
    arts, failures = load_articles([CORPUS / "other"])
    assert failures == []
    assert len(arts) == len(list((CORPUS / "other").glob("*.txt")))
    assert [a.id for a in arts] == sorted(a.id for a in arts)


def test_stdin_jsonl_and_seed():
    recs = list(read_articles(["-"], stdin=io.BufferedReader(io.BytesIO(b'{"title": "t", "text": "x"}\n[1]\n'))))
    assert isinstance(recs[0], Article) and recs[0].source == "<stdin>:1"
    assert isinstance(recs[1], Failure) and "expected a JSON object" in recs[1].error
    recs = list(read_articles(["-"], stdin=io.BufferedReader(io.BytesIO(SEED.read_bytes()))))
    assert recs[0].title and recs[0].industries


def test_seed_round_trip_through_format_seed():
    (art,), _ = load_articles([SEED])
    again = parse_seed(format_seed({"标题": art.title, "链接": art.link, "总结": art.text, "关键词": art.keywords,
                                    "AI技术": art.technologies, "行业": art.industries,
                                    "重大事件摘要": art.summary}), "x", "x")
    assert (again.title, again.text, again.keywords, again.technologies, again.industries, again.summary) == \
           (art.title, art.text, art.keywords, art.technologies, art.industries, art.summary)
