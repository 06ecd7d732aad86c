"""Why does a model trained on broadcast news lose recall on tech-media articles? (issue 9)

    .venv/bin/python benchmarks/analysis_other.py --shared ../shared --out benchmarks/RESULTS.md

Trains newstag on ``corpus/train`` (``--settings`` as in ``quality.py``) and
measures, without tuning anything on ``other``:

1. per label, recall on ``dev`` against recall on ``other``, and which gold
   labels of ``other`` the model cannot give at all (too rare in train);
2. recall by article length (dev and other side by side) and by the number
   of gold labels an article has (how many topics it covers);
3. ``other`` articles cut to their first N characters (N = 500, 1000, 2000,
   all): recall, precision and the gold labels' scores relative to their
   thresholds, and whole-article scoring against the tagger's passage pooling;
4. vocabulary shift: share of ``dev``/``other`` tokens never seen in train,
   and the top TF-IDF terms of each gold label's ``other`` articles, marking
   those that never occur in train, with how often the label's own taxonomy
   terms occur in those articles (evidence a dictionary can use).

``--out`` replaces the ``## Why other loses recall`` section of the results
file but keeps its ``### Interpretation`` subsection (written by hand from
these numbers).
"""
from __future__ import annotations

import argparse
import math
import re
import sys
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import quality  # noqa: E402  (the sibling benchmark: corpus loading, newstag_row, write_section)

HEADING = "## Why other loses recall"
KEEP = "### Interpretation"
LENGTH_EDGES = (0, 300, 600, 1200, 2400, 10**9)
CUTS = (500, 1000, 2000, None)
_LATIN = re.compile(r"(?<![a-z0-9])[a-z][a-z0-9]{2,}(?![a-z0-9])")


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))


def _fmt(x) -> str:
    return "–" if x is None else f"{x:.3f}"


def _table(head: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def _counts(gold: list[list[str]], pred: list[list[str]]) -> tuple[int, int, int]:
    """(true positives, gold labels, predicted labels)."""
    tp = sum(len(set(g) & set(p)) for g, p in zip(gold, pred))
    return tp, sum(len(g) for g in gold), sum(len(p) for p in pred)


def _ratio(a: int, b: int):
    return a / b if b else None


# ---------------------------------------------------------------- 1. per label
def label_recall(row: dict, data: dict) -> str:
    from newstag.model.labels import FIELD_NAMES, SETS

    tagger = row["tagger"]
    out_rows, missing = [], []
    for name in SETS:
        modelled = set(tagger.models[name].labels)
        support = Counter(lab for g in data["other"].gold[name] for lab in g)
        train_n = Counter(lab for g in data["train"].gold[name] for lab in g)
        for lab in sorted(support, key=lambda x: (-support[x], x)):
            dev = row["scores"]["dev"][name]["labels"][lab]
            oth = row["scores"]["other"][name]["labels"][lab]
            loss = dev["recall"] - oth["recall"] if dev["support"] else None
            out_rows.append([FIELD_NAMES[name], lab, train_n[lab], dev["support"],
                             _fmt(dev["recall"] if dev["support"] else None), support[lab], _fmt(oth["recall"]),
                             _fmt(loss), "yes" if lab in modelled else "**no**"])
            if lab not in modelled:
                missing.append((FIELD_NAMES[name], lab, support[lab]))
    totals = []
    for name in SETS:
        n_gold = sum(len(g) for g in data["other"].gold[name])
        n_missing = sum(n for f, lab, n in missing if f == FIELD_NAMES[name])
        totals.append(f"{FIELD_NAMES[name]}: {n_missing} of {n_gold} gold labels on `other` "
                      f"({n_missing / max(1, n_gold):.0%}) belong to labels the model cannot give")
    head = ["set", "label", "n train", "n dev", "recall dev", "n other", "recall other", "dev − other", "modelled"]
    return (_table(head, out_rows) + "\n\nLabels the model does not give at all (neither learned nor by rule): "
            + "; ".join(totals) + ".")


# ---------------------------------------------------------------- 2. length and topics
def _bucket(n: int) -> str:
    for lo, hi in zip(LENGTH_EDGES, LENGTH_EDGES[1:]):
        if lo <= n < hi:
            return f"{lo}–{hi - 1}" if hi < 10**9 else f"≥ {lo}"
    raise ValueError(n)


def by_length_and_topics(row: dict, data: dict) -> str:
    from newstag.model.labels import FIELD_NAMES, SETS

    buckets = [_bucket(lo) for lo in LENGTH_EDGES[:-1]]
    rows = []
    for b in buckets:
        cells = [b]
        for split in quality.SPLITS:
            idx = [i for i, a in enumerate(data[split].articles) if _bucket(len(a.text)) == b]
            cells.append(len(idx))
            for name in SETS:
                gold = [data[split].gold[name][i] for i in idx]
                pred = [row["predictions"][split][name][i] for i in idx]
                tp, ng, npred = _counts(gold, pred)
                cells.append(f"{_fmt(_ratio(tp, ng))} ({ng})")
        rows.append(cells)
    head = ["body chars"]
    for split in quality.SPLITS:
        head += [f"n {split}"] + [f"{split} {FIELD_NAMES[n]} recall (gold)" for n in SETS]
    length = _table(head, rows)

    rows = []
    for k in (1, 2, 3):
        cells = ["≥ 3" if k == 3 else str(k)]
        for split in quality.SPLITS:
            for name in SETS:
                idx = [i for i, g in enumerate(data[split].gold[name]) if (len(g) >= 3 if k == 3 else len(g) == k)]
                gold = [data[split].gold[name][i] for i in idx]
                pred = [row["predictions"][split][name][i] for i in idx]
                tp, ng, npred = _counts(gold, pred)
                cells.append(f"{_fmt(_ratio(tp, ng))} ({len(idx)})")
        rows.append(cells)
    head = ["gold labels in the set"] + [f"{split} {FIELD_NAMES[n]} recall (articles)" for split in quality.SPLITS
                                         for n in SETS]
    topics = _table(head, rows)
    return length + "\n\nBy how many gold labels (topics) an article has in the set:\n\n" + topics


# ---------------------------------------------------------------- 3. truncation and pooling
def truncation(row: dict, data: dict) -> str:
    """Score the first N characters of each ``other`` article."""
    from newstag.model.labels import FIELD_NAMES, SETS

    tagger = row["tagger"]
    arts, golds = data["other"].articles, data["other"].gold
    rows = []
    variants = [(n, "as tagged (passages)") for n in CUTS] + [(None, "whole article only")]
    for cut, mode in variants:
        cells = ["all" if cut is None else str(cut), mode]
        if mode != "whole article only":
            scores = [tagger.scores(a.title, a.text if cut is None else a.text[:cut]) for a in arts]
        else:
            f = tagger.featurizer
            scores = []
            for a in arts:
                ids, vals = f.vector(f.analyse(a.title, a.text))
                scores.append({n: _sigmoid(m.logits(ids, vals)) for n, m in tagger.models.items()})
        for name in SETS:
            m = tagger.models[name]
            index = {lab: j for j, lab in enumerate(m.labels)}
            pred = [[lab for lab, _ in tagger.decide(sc)[name]] for sc in scores]
            tp, ng, npred = _counts(golds[name], pred)
            # gold labels' scores relative to their thresholds (1.0 = just given)
            rel = [float(sc[name][index[lab]] / m.thresholds[index[lab]])
                   for sc, g in zip(scores, golds[name]) for lab in g if lab in index]
            p, r = _ratio(tp, npred), _ratio(tp, ng)
            f1 = 2 * p * r / (p + r) if p and r else 0.0
            cells += [_fmt(r), _fmt(p), _fmt(f1), _fmt(float(np.median(rel)) if rel else None)]
        rows.append(cells)
    head = ["first N chars", "scoring"]
    for name in SETS:
        fn = FIELD_NAMES[name]
        head += [f"{fn} recall", f"{fn} precision", f"{fn} micro-F1", f"{fn} median gold score / threshold"]
    lengths = [len(a.text) for a in arts]
    return (f"`other` bodies: median {int(np.median(lengths))} characters (dev: "
            f"{int(np.median([len(a.text) for a in data['dev'].articles]))}). Scores of modelled gold labels only.\n\n"
            + _table(head, rows))


def peer_truncation(data: dict, shared) -> str:
    """The same cuts for the textbook peer (balanced LR): does a plain TF-IDF model drown topics in long text?"""
    from newstag.model.labels import FIELD_NAMES, SETS

    from newstag.model.labels import load_taxonomy

    model = quality.TextbookLR("balanced").fit(shared)
    arts, golds = data["other"].articles, data["other"].gold
    rows = []
    for cut in CUTS:
        probs = model.predict_proba([quality.jieba_words(a.title, a.text if cut is None else a.text[:cut])
                                     for a in arts])
        cells = ["all" if cut is None else str(cut)]
        for name in SETS:
            labels, P = probs[name]
            index = {lab: j for j, lab in enumerate(labels)}
            pred = [load_taxonomy()[name].close(labels[j] for j in np.flatnonzero(row >= quality.THRESHOLD))
                    for row in P]
            tp, ng, npred = _counts(golds[name], pred)
            gold_p = [float(P[i, index[lab]]) for i, g in enumerate(golds[name]) for lab in g if lab in index]
            cells += [_fmt(_ratio(tp, ng)), _fmt(_ratio(tp, npred)), _fmt(float(np.median(gold_p)) if gold_p else None)]
        rows.append(cells)
    head = ["first N chars"]
    for name in SETS:
        fn = FIELD_NAMES[name]
        head += [f"{fn} recall", f"{fn} precision", f"{fn} median gold p"]
    return _table(head, rows)


# ---------------------------------------------------------------- 4. vocabulary
def vocabulary(row: dict, data: dict, top: int = 12) -> str:
    from newstag.model.labels import FIELD_NAMES, SETS
    from newstag.model.normalise import normalise

    tagger = row["tagger"]
    tok = tagger.featurizer.tokenizer
    taxonomy = tagger.featurizer.taxonomy

    def tokens(a):
        return tok(normalise(f"{a.title}\n{a.text}"))

    docs = {split: [tokens(a) for a in data[split].articles] for split in ("train", *quality.SPLITS)}
    train_df = Counter(t for d in docs["train"] for t in set(d))
    vocab = set(tagger.featurizer.words)
    lines = []
    rows = []
    for split in quality.SPLITS:
        occ = [t for d in docs[split] for t in d]
        types = set(occ)
        unseen_occ = sum(1 for t in occ if t not in train_df)
        unseen_types = sum(1 for t in types if t not in train_df)
        out_vocab = sum(1 for t in occ if t not in vocab)
        rows.append([split, len(occ), f"{unseen_occ / len(occ):.1%}", f"{unseen_types / len(types):.1%}",
                     f"{out_vocab / len(occ):.1%}"])
    lines.append(_table(["split", "tokens", "tokens unseen in train", "word types unseen in train",
                         "tokens outside the model's word vocabulary"], rows))

    # latin words cut apart because a taxonomy alias (ai, eda, ...) is in the
    # tokeniser's dictionary: "openai" → open + ai fires 人工智能 evidence
    terms = {t for t in taxonomy.all_terms()}
    terms_n = {normalise(t) for t in terms}
    rows, examples = [], Counter()
    for split in quality.SPLITS:
        n_words = n_split = n_alias = 0
        for a in data[split].articles:
            for w in _LATIN.findall(normalise(f"{a.title}\n{a.text}")):
                n_words += 1
                pieces = tok(w)
                if len(pieces) > 1:
                    n_split += 1
                    if any(p in terms_n for p in pieces):
                        n_alias += 1
                        if split == "other":
                            examples[f"{w} → {' + '.join(pieces)}"] += 1
        rows.append([split, n_words, f"{_ratio(n_split, n_words) or 0:.1%}", f"{_ratio(n_alias, n_words) or 0:.1%}"])
    lines.append("")
    lines.append("Latin words (≥ 3 letters) that the tokeniser cuts into pieces, and cuts at a taxonomy term:")
    lines.append("")
    lines.append(_table(["split", "latin words", "cut into pieces", "cut at a taxonomy term"], rows))
    if examples:
        lines.append("")
        lines.append("Most frequent in `other`: " + "; ".join(f"{e} ({n})" for e, n in examples.most_common(8)) + ".")

    # TF-IDF of each gold label's other articles; IDF over every labelled article, so
    # a term is not favoured merely for being absent from train
    all_docs = docs["train"] + docs["dev"] + docs["other"]
    df = Counter(t for d in all_docs for t in set(d))
    n_docs = len(all_docs)
    rows = []
    for name in SETS:
        support = Counter(lab for g in data["other"].gold[name] for lab in g)
        for lab in sorted(support, key=lambda x: (-support[x], x)):
            idx = [i for i, g in enumerate(data["other"].gold[name]) if lab in g]
            weight: Counter = Counter()
            for i in idx:
                tf = Counter(docs["other"][i])
                for t, c in tf.items():
                    if len(t) > 1:  # single characters are mostly function words
                        weight[t] += (1 + math.log(c)) * math.log((1 + n_docs) / (1 + df[t]))
            terms = [t for t, _ in weight.most_common(top)]
            unseen = [t for t in terms if t not in train_df]
            arts = [data["other"].articles[i] for i in idx]
            own = sum(1 for a in arts if taxonomy[name].hits(normalise(f"{a.title}\n{a.text}"))[lab])
            listed = ", ".join(f"*{t}*" if t in unseen else t for t in terms)
            rows.append([FIELD_NAMES[name], lab, len(idx), f"{len(unseen)}/{len(terms)}", f"{own}/{len(idx)}",
                         listed])
    lines.append("")
    lines.append(f"Top {top} TF-IDF terms (jieba tokens of length ≥ 2, the model's tokeniser) of each gold label's "
                 "`other` articles; *italic* = never occurs in train. `own terms` = articles in which the label's "
                 "name or a taxonomy alias occurs.")
    lines.append("")
    lines.append(_table(["set", "label", "n other", "top terms unseen in train", "own terms", "top terms"], rows))
    return "\n".join(lines)


# ---------------------------------------------------------------- report
def report(row: dict, data: dict, argv: list[str], shared=quality.DEFAULT_SHARED) -> str:
    import time

    parts = [
        f"Generated by `python benchmarks/analysis_other.py {' '.join(argv)}`".rstrip()
        + f" on {time.strftime('%Y-%m-%d')}: newstag trained on `train` ({row['note']}), "
        "nothing tuned on `other`. Summary: " + quality.brief(row).split(": ", 1)[1],
        "",
        "### Per label: recall on dev and on other",
        "",
        label_recall(row, data),
        "",
        "### Length and number of topics",
        "",
        "Recall by body length (number of gold labels in brackets):",
        "",
        by_length_and_topics(row, data),
        "",
        "### Scoring the beginning of `other` articles",
        "",
        truncation(row, data),
        "",
        "The same cuts for the textbook peer (TF-IDF + LR, balanced; threshold p ≥ 0.5):",
        "",
        peer_truncation(data, shared),
        "",
        "### Vocabulary shift",
        "",
        vocabulary(row, data),
    ]
    return "\n".join(parts) + "\n"


def write(path: str | Path, body: str) -> None:
    """Replace the section, keeping its hand-written ``### Interpretation`` block if there is one."""
    path = Path(path)
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    m = re.search(rf"^{re.escape(HEADING)}[ \t]*\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    if m:
        keep = re.search(rf"^{re.escape(KEEP)}[ \t]*\n.*?(?=^### |\Z)", m.group(1), re.M | re.S)
        if keep:
            body = body.rstrip() + "\n\n" + keep.group(0).rstrip() + "\n"
    quality.write_section(path, HEADING, body)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shared", default=str(quality.DEFAULT_SHARED), help="the shared data directory (holds corpus/)")
    ap.add_argument("--out", help="markdown file whose '## Why other loses recall' section is written")
    ap.add_argument("--settings", help="JSON object of TrainSettings/FeatureSettings overrides (as in quality.py)")
    args = ap.parse_args(argv)
    try:
        settings = quality.settings_from(args.settings)
    except (ValueError, TypeError) as exc:
        print(f"analysis_other: --settings: {exc}", file=sys.stderr)
        return 2
    shared = Path(args.shared).resolve()
    data = quality.load_corpus(shared)
    print("analysis_other: training newstag on train", file=sys.stderr, flush=True)
    row = quality.newstag_row(settings, shared)
    body = report(row, data, argv, shared)
    print(body)
    if args.out:
        write(args.out, body)
        print(f"analysis_other: wrote the '{HEADING}' section of {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
