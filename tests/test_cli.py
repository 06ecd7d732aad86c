"""Each verb through the command line, on real files from ../shared."""
from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys

from conftest import CORPUS, ROOT, SEED, SHIPPED


def _jsonl(text):
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_shipped_model_tags_the_reference_seed(cli):
    r = cli("predict", SEED)
    assert r.exit_code == 0, r.stderr
    (rec,) = _jsonl(r.stdout)
    assert rec["id"] == SEED.stem and rec["source"] == str(SEED)
    inds = [x["label"] for x in rec["industries"]]
    techs = [x["label"] for x in rec["technologies"]]
    assert {"半导体", "算力与数据中心"} & set(inds)
    assert {"大模型", "算力"} & set(techs)
    for group in (rec["industries"], rec["technologies"]):
        scores = [x["score"] for x in group]
        assert scores == sorted(scores, reverse=True) and all(0 <= s <= 1 for s in scores)
    assert 3 <= len(rec["keywords"]) <= 8
    assert "tagged 1, failed 0" in r.stderr


def test_console_script_runs_as_installed():
    exe = ROOT / ".venv" / "bin" / "newstag"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "newstag.cli"]
    out = subprocess.run(cmd + ["predict", str(SEED), "--format", "table"], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert "行业:" in out.stdout and "技术:" in out.stdout


def test_every_output_format_has_one_record_per_article(cli, tmp_path):
    files = sorted((CORPUS / "other").glob("*.txt"))[:3]
    recs = _jsonl(cli("predict", *files).stdout)
    assert [r["id"] for r in recs] == [f.stem for f in files]
    rows = list(csv.DictReader(io.StringIO(cli("predict", *files, "--format", "csv").stdout)))
    assert [r["id"] for r in rows] == [f.stem for f in files]
    assert rows[0]["industries"].split(";")[0].split(":")[0] == recs[0]["industries"][0]["label"]
    seed_out = cli("predict", *files, "--format", "seed").stdout
    assert seed_out.count("标题: ") == 3 and seed_out.count("行业: ") == 3
    table = cli("predict", *files, "--format", "table").stdout
    assert all(f.stem in table for f in files)
    out = tmp_path / "tags.jsonl"
    r = cli("predict", *files, "--out", out)
    assert r.stdout == "" and _jsonl(out.read_text(encoding="utf-8")) == recs


def test_top_k_and_min_score_override_thresholds(cli):
    base = _jsonl(cli("predict", SEED).stdout)[0]
    top1 = _jsonl(cli("predict", SEED, "--top-k", "1").stdout)[0]
    assert len(top1["industries"]) == 1 and top1["industries"][0] == base["industries"][0]
    low = _jsonl(cli("predict", SEED, "--min-score", "0.01").stdout)[0]
    assert len(low["industries"]) > len(base["industries"])
    assert all(x["score"] >= 0.01 for x in low["industries"])
    high = _jsonl(cli("predict", SEED, "--min-score", "0.999999").stdout)[0]
    assert all(x["score"] >= 0.999999 for x in high["technologies"] + high["industries"])


def test_evaluate_train_only_model_on_dev_beats_the_dictionary(cli, train_only_model):
    r = cli("evaluate", CORPUS / "dev", "--model", train_only_model)
    assert r.exit_code == 0, r.stderr
    for heading in ("行业", "技术"):
        assert re.search(rf"^{heading}\s+precision\s+recall\s+f1\s+support", r.stdout, re.M)
    assert r.stdout.count("micro avg") == 2 and r.stdout.count("macro avg") == 2
    data = json.loads(cli("evaluate", CORPUS / "dev", "--model", train_only_model, "--json").stdout)
    assert data["n_articles"] == 800
    for name in ("industries", "technologies"):
        model, base = data["model"][name], data["dictionary"][name]
        assert model["micro"]["f1"] > base["micro"]["f1"], name
        support = sum(v["support"] for v in model["labels"].values())
        assert support == model["micro"]["support"]


def test_model_card_quotes_the_measured_dev_figures(train_only_model):
    """MODEL.md's dev rows come from a train-only model with the shipped settings."""
    from newstag import load
    from newstag.model.reader import load_articles
    from newstag.training.evaluate import evaluate_tagger

    card = (ROOT / "artifacts" / "MODEL.md").read_text(encoding="utf-8")
    dev, _ = load_articles([CORPUS / "dev"])
    result = evaluate_tagger(load(train_only_model), dev)
    for name, field in (("industries", "行业"), ("technologies", "技术")):
        quoted = float(re.search(rf"\| {field} dev newstag \| [\d.]+ \| [\d.]+ \| \*\*([\d.]+)\*\*", card).group(1))
        assert abs(quoted - result["model"][name]["micro"]["f1"]) < 0.0015, name


def test_train_verb_defaults_to_seeds(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    out = tmp_path / "m.joblib"
    r = cli("train", "--out", out, "--cv-folds", "3", "-q")
    assert r.exit_code == 0, r.stderr
    assert out.exists() and "trained on" in r.stdout
    (rec,) = _jsonl(cli("predict", SEED, "--model", out).stdout)
    assert rec["id"] == SEED.stem


def test_explain_names_terms_for_given_labels(cli):
    r = cli("explain", SEED, "--json")
    assert r.exit_code == 0
    data = json.loads(r.stdout)
    given = [row for row in data["technologies"] if row["status"] == "given"]
    assert given and all(row["terms"] for row in given)
    assert any(row["status"] == "missed" for row in data["technologies"])
    assert all(row["score"] >= row["threshold"] for row in given if row["label"] != "人工智能")


def test_explain_shows_which_taxonomy_evidence_fired_on_a_tech_media_article(cli):
    from newstag.model.normalise import normalise

    article = sorted((CORPUS / "other").glob("*.txt"))[3]
    data = json.loads(cli("explain", article, "--json").stdout)
    text = normalise(article.read_text(encoding="utf-8"))
    rows = [row for name in ("industries", "technologies") for row in data[name] if row["status"] == "given"]
    with_evidence = [row for row in rows if row["evidence"]]
    assert with_evidence, "a tech-media article should fire on taxonomy terms"
    for row in with_evidence:
        for term, n in row["evidence"].items():
            assert n >= 1 and text.count(term) >= n, (row["label"], term)
    plain = cli("explain", article).stdout
    assert "taxonomy terms in the article:" in plain


def test_help_of_every_verb_shows_an_example(cli):
    for verb in ("labels", "train", "evaluate", "predict", "explain", "info"):
        r = cli(verb, "--help")
        assert r.exit_code == 0 and "Example:" in r.stdout and f"newstag {verb}" in r.stdout, verb


def test_info_prints_the_model_card(cli):
    meta = json.loads(cli("info", SHIPPED).stdout)
    assert meta["labels"]["industries"] and meta["data"]["fingerprint"]


def test_labels_only_gives_the_same_labels_without_keywords_or_summary(cli):
    files = sorted((CORPUS / "other").glob("*.txt"))[:4]
    full = _jsonl(cli("predict", *files).stdout)
    fast = _jsonl(cli("predict", *files, "--labels-only").stdout)
    assert [(r["id"], r["industries"], r["technologies"]) for r in fast] == \
           [(r["id"], r["industries"], r["technologies"]) for r in full]
    assert all(r["keywords"] == [] and r["summary"] == [] for r in fast)
    assert all(r["keywords"] and r["summary"] for r in full)
