"""Training: bundles are deterministic, self-describing and honest about left-out labels."""
from __future__ import annotations

import numpy as np
from conftest import ROOT

from newstag.model.bundle import load_bundle
from newstag.training import TrainSettings, train


def test_same_seeds_and_settings_train_the_same_model(tmp_path, seeds_model):
    again = tmp_path / "again.joblib"
    train([ROOT / "seeds"], again, TrainSettings(n_jobs=1))  # thread count must not matter either
    meta_a, arr_a = load_bundle(seeds_model)
    meta_b, arr_b = load_bundle(again)
    assert arr_a.keys() == arr_b.keys()
    for name in arr_a:
        assert np.array_equal(arr_a[name], arr_b[name]), name
    for key in ("labels", "thresholds", "metrics", "data", "features"):
        assert meta_a[key] == meta_b[key], key


def test_bundle_records_data_settings_labels_and_metrics(seeds_model):
    meta, arrays = load_bundle(seeds_model)
    assert len(meta["data"]["fingerprint"]) == 64
    assert meta["data"]["n_articles"] == len(list((ROOT / "seeds").glob("*.txt")))
    assert meta["train"]["C"] == TrainSettings().C and meta["tokenizer"] in ("jieba", "rjieba")
    assert {"numpy", "scikit-learn", "jieba"} <= meta["versions"].keys()
    for name in ("industries", "technologies"):
        labels = meta["labels"][name]
        assert arrays[f"W.{name}"].shape[1] == len(labels) == len(arrays[f"thresholds.{name}"])
        assert 0 < meta["metrics"]["cv"][name]["micro"]["f1"] <= 1


def test_fingerprint_changes_with_the_data(tmp_path, seeds_model):
    seeds = sorted((ROOT / "seeds").glob("*.txt"))
    out = tmp_path / "fewer.joblib"
    train(seeds[:-1], out, TrainSettings(cv_folds=0))
    assert load_bundle(out)[0]["data"]["fingerprint"] != load_bundle(seeds_model)[0]["data"]["fingerprint"]


def test_rare_labels_are_left_out_and_named(tmp_path):
    out = tmp_path / "m.joblib"
    meta, data, _ = train([ROOT / "seeds"], out, TrainSettings(min_examples=4, cv_folds=0))
    counts = meta["data"]["label_counts"]["technologies"]
    rare = {lab for lab, n in counts.items() if n < 4}
    assert rare, "the starter seeds should have some labels with fewer than 4 examples"
    assert set(meta["excluded_labels"]["technologies"]) == rare
    # a rare label is only tagged through its taxonomy-dictionary rule, and says so
    rule_labels = set(meta["rule_labels"]["technologies"])
    assert rare & set(meta["labels"]["technologies"]) <= rule_labels
    assert all(meta["rule_labels"]["technologies"][lab]["train_examples"] < 4 for lab in rule_labels)
    learned = set(meta["labels"]["technologies"]) - rule_labels
    assert all(counts[lab] >= 4 for lab in learned)


def test_rule_labels_fire_on_their_taxonomy_terms(tmp_path):
    """A label too rare to learn is still given when its own vocabulary dominates."""
    from newstag import load

    out = tmp_path / "m.joblib"
    meta, _, _ = train([ROOT / "seeds"], out, TrainSettings(min_examples=4, cv_folds=0))
    tagger = load(out)
    for name in ("industries", "technologies"):
        for lab, rule in meta["rule_labels"][name].items():
            term = lab  # the label's own name is always one of its terms
            hits = rule["min_hits"]
            text = "。".join([f"这篇报道关于{term}的发展"] * hits)
            assert lab in tagger.predict_one("", text).labels(name), (name, lab)
            assert lab not in tagger.predict_one("", "今天天气晴朗，市民外出游玩。").labels(name)
