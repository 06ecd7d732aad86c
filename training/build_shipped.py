"""Rebuild the shipped model ``artifacts/model.joblib`` and its card ``artifacts/MODEL.md``.

    python -m newstag.training.build_shipped --shared ../shared

1. trains on ``corpus/train`` only and scores ``dev`` and ``other``: the
   honest held-out figures the card quotes;
2. trains the shipped model on ``train`` + ``dev`` (the newest articles
   matter most, as topics drift) and scores ``other`` again;
3. writes the bundle (with both sets of figures) and the card.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from newstag.model import tagger_from_bundle
from newstag.model.labels import FIELD_NAMES, SETS
from newstag.model.reader import load_articles
from newstag.model.bundle import save_bundle

from .evaluate import evaluate_tagger
from .metrics import format_report
from .train import TrainSettings, _compact, fit

ROOT = Path(__file__).resolve().parent.parent


def shipped_settings() -> TrainSettings:
    """The settings of the shipped model (chosen by cross-validation on train; see benchmarks/RESULTS.md)."""
    return TrainSettings()


def _say(msg: str) -> None:
    print(f"build_shipped: {msg}", file=sys.stderr, flush=True)


def build(shared: Path, out: Path, card: Path) -> dict:
    corpus = shared / "corpus"
    train, _ = load_articles([corpus / "train"])
    dev, _ = load_articles([corpus / "dev"])
    other, _ = load_articles([corpus / "other"])
    settings = shipped_settings()

    _say("training on train only, for held-out figures")
    meta_t, arrays_t, _ = fit(train, settings, progress=_say)
    tagger_t = tagger_from_bundle(meta_t, arrays_t)
    held = {split: evaluate_tagger(tagger_t, arts) for split, arts in (("dev", dev), ("other", other))}

    _say("training the shipped model on train + dev")
    meta, arrays, _ = fit(train + dev, settings, progress=_say)
    shipped_other = evaluate_tagger(tagger_from_bundle(meta, arrays), other)
    meta["metrics"]["train_only"] = {split: {name: _compact(r["model"][name]) for name in SETS}
                                     for split, r in held.items()}
    meta["metrics"]["other"] = {name: _compact(shipped_other["model"][name]) for name in SETS}
    meta["data"]["sources"] = ["corpus/train", "corpus/dev"]
    save_bundle(out, meta, arrays)
    card.write_text(model_card(meta, held, shipped_other, out), encoding="utf-8")
    _say(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB) and {card}")
    return meta


def _row(name: str, r: dict) -> str:
    m, M = r["micro"], r["macro"]
    return (f"| {name} | {m['precision']:.3f} | {m['recall']:.3f} | **{m['f1']:.3f}** | {M['f1']:.3f} |")


def model_card(meta: dict, held: dict, shipped_other: dict, out: Path) -> str:
    lines = [
        "# newstag shipped model",
        "",
        f"`{out.name}`: trained on `../shared/corpus` train + dev ({meta['data']['n_articles']} articles, "
        f"fingerprint `{meta['data']['fingerprint'][:16]}…`), tokeniser `{meta['tokenizer']}`, "
        f"newstag {meta['newstag_version']}. Rebuild with `make model`. "
        "Agreement between two independent annotators on this corpus is 0.896 micro-F1 (行业) and 0.935 (技术): "
        "the practical ceiling.",
        "",
        "## Held-out quality",
        "",
        "A model with the same settings trained on `train` only (articles before 2025-07), scored on `dev` "
        "(broadcast news, 2025-07 to 2026-03) and `other` (33 long-form tech/finance articles from another outlet, "
        "a warning light rather than a score). The keyword-dictionary baseline uses the taxonomy aliases.",
        "",
        "| set / split / system | micro P | micro R | micro F1 | macro F1 |",
        "|---|---|---|---|---|",
    ]
    for name in SETS:
        for split in ("dev", "other"):
            lines.append(_row(f"{FIELD_NAMES[name]} {split} newstag", held[split]["model"][name]))
            lines.append(_row(f"{FIELD_NAMES[name]} {split} dictionary", held[split]["dictionary"][name]))
    lines += ["", "The shipped model itself (train + dev) on `other`:", "",
              "| set | micro P | micro R | micro F1 | macro F1 |", "|---|---|---|---|---|"]
    for name in SETS:
        lines.append(_row(FIELD_NAMES[name], shipped_other["model"][name]))
    cv = meta["metrics"].get("cv", {})
    if cv:
        lines += ["", "Cross-validated on train + dev (5 multilabel-stratified folds, thresholds tuned on the same "
                      "out-of-fold scores, so slightly optimistic):", "",
                  "| set | micro P | micro R | micro F1 | macro F1 |", "|---|---|---|---|---|"]
        for name in SETS:
            lines.append(_row(FIELD_NAMES[name], cv[name]))
    lines += ["", "## Per label (train-only model)", ""]
    for name in SETS:
        for split in ("dev", "other"):
            lines += [f"### {FIELD_NAMES[name]} on {split}", "", "```",
                      format_report(FIELD_NAMES[name], held[split]["model"][name]), "```", ""]
    excluded = {n: v for n, v in meta["excluded_labels"].items() if v}
    lines += ["## Labels", ""]
    for name in SETS:
        lines.append(f"- {FIELD_NAMES[name]}: {len(meta['labels'][name])} labels learned"
                     + ("; too few examples to learn: " + ", ".join(f"{k} ({v})" for k, v in excluded[name].items())
                        if name in excluded else ""))
    lines += ["", "Only load model files you trust: bundles are plain arrays and JSON, read without pickle, "
                  "and verified (format version, SHA-256) before use.", ""]
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shared", type=Path, default=ROOT / ".." / "shared")
    ap.add_argument("--out", type=Path, default=ROOT / "artifacts" / "model.joblib")
    ap.add_argument("--card", type=Path, default=ROOT / "artifacts" / "MODEL.md")
    args = ap.parse_args(argv)
    if not (args.shared / "corpus" / "train").is_dir():
        print(f"build_shipped: error: {args.shared / 'corpus' / 'train'}: not found (pass --shared)", file=sys.stderr)
        return 2
    build(args.shared, args.out, args.card)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
