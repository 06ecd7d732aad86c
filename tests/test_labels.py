"""Label mapping from free-form annotations to the taxonomy, and the audit verb."""
from __future__ import annotations

import json
import re

import pytest
from conftest import CORPUS, SEED

from newstag.model.labels import load_taxonomy
from newstag.model.reader import split_labels as split_labels_text


@pytest.mark.parametrize("field,raw,expected", [
    ("industries", "芯片市场", {"半导体"}),
    ("industries", "高性能芯片的供给不足", {"半导体"}),
    ("industries", "服务器", {"算力与数据中心"}),
    ("technologies", "大模型算力", {"大模型", "算力"}),
    ("technologies", "多模态AI技术", {"多模态"}),
    ("technologies", "生成式AI", {"生成式AI"}),
])
def test_issue_examples_map(field, raw, expected):
    mapped = set(load_taxonomy()[field].map_raw(raw))
    assert expected <= mapped
    # implications only add parents, never unrelated labels
    assert mapped - expected <= {"人工智能"}


def test_sub_labels_imply_their_parents():
    tech = load_taxonomy()["technologies"]
    assert set(tech.map_raw("具身智能")) == {"具身智能", "人工智能", "机器人"}
    assert "人工智能" in tech.map_raw("大模型")


def test_taxonomy_has_every_label_of_TAXONOMY_md():
    md = (CORPUS / "TAXONOMY.md").read_text(encoding="utf-8")
    sections = md.split("## ")
    tax = load_taxonomy()
    for name, heading in (("industries", "行业"), ("technologies", "技术")):
        section = next(s for s in sections if s.startswith(heading))
        labels = re.findall(r"^\| ([^|\s]+) \|", section, flags=re.M)
        labels = [lab for lab in labels if lab != "label"]
        assert list(tax[name].labels) == labels


def test_canonical_corpus_labels_map_to_themselves():
    tax = load_taxonomy()
    seen = {"industries": set(), "technologies": set()}
    for line in (CORPUS / "corpus.jsonl").open(encoding="utf-8"):
        row = json.loads(line)
        seen["industries"].update(row["行业"])
        seen["technologies"].update(row["技术"])
    for name, labels in seen.items():
        for lab in labels:
            assert tax[name].close([lab]) == tax[name].map_raw(lab), lab


def test_label_strings_split_on_every_separator():
    assert split_labels_text("芯片,算力，大模型、机器人;无人机；5G") == ["芯片", "算力", "大模型", "机器人", "无人机", "5G"]
    assert split_labels_text("无") == []


def test_labels_verb_reports_mapping_and_unmapped(cli, tmp_path):
    p = tmp_path / "a.txt"
    p.write_text("标题: t\n总结: 正文\nAI技术: 大模型算力, 时空折叠术\n行业: 芯片市场\n", encoding="utf-8")
    r = cli("labels", SEED, p)
    assert r.exit_code == 0
    assert re.search(r"芯片市场\s+→\s+半导体", r.stdout)
    assert re.search(r"2\s+芯片市场", r.stdout)  # counted across both files
    assert "unmapped 技术: 时空折叠术" in r.stdout
    data = json.loads(cli("labels", SEED, p, "--json").stdout)
    assert data["technologies"]["unmapped"] == ["时空折叠术"]
    assert data["industries"]["counts"]["芯片市场"] == 2


def test_latin_product_names_are_not_cut_into_taxonomy_terms():
    """"eda" (chip design software) is a 半导体 alias; it must not fire inside "seedance"."""
    from newstag import load

    tagger = load()
    text = "字节跳动发布视频生成模型Seedance 2.0，OpenAI也更新了视频模型。" * 3
    explained = tagger.explain("Seedance 2.0发布", text)
    evidence = {row["label"]: row["evidence"] for name in explained for row in explained[name]}
    assert "eda" not in evidence.get("半导体", {})
    tokens = tagger.featurizer.tokenizer("seedance 2.0与openai的模型")
    assert "seedance" in tokens and "openai" in tokens
