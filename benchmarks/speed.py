"""Speed benchmark: tagging throughput against plain jieba, memory, training and start-up (issue 5).

    .venv/bin/python benchmarks/speed.py --shared ../shared --out benchmarks/RESULTS.md
    .venv/bin/python benchmarks/speed.py --quick          # small sizes, a smoke run of a minute or two

Everything is measured in one run on the same texts: the ``corpus.jsonl``
articles (title + text), repeated with fresh ids to ``--mb`` MB of JSON Lines
in a temporary folder. "MB" is 10^6 bytes of UTF-8 article text (title +
body), the same unit for every row, so ratios compare like with like.

Rows:

* plain ``jieba.lcut`` and ``rjieba.cut`` on title and body, in this process,
  on a ``--sample-mb`` sample, before and again after the throughput rows
  (the mean of the two jieba rates is the run's baseline);
* plain ``jieba.lcut`` again on a ``--base-mb`` sample right before and
  after each end-to-end row: the mean of the two runs next to a row is that
  row's own baseline, and the ratio the targets are judged by. The machine's
  speed drifts during a run (a neighbour's load comes and goes), so a
  baseline measured minutes away can differ by a fifth; the run's mean
  baseline is shown beside it;
* ``newstag predict`` end to end (process start, model load, reading,
  tagging, writing a JSONL file) as a subprocess on the ``--mb`` file, at
  ``--jobs 1`` and ``--jobs 2``; the two outputs are compared byte for byte;
* the same on ``--fresh-mb`` MB of ``unlabelled.jsonl.gz``: stories never
  repeated, so new words keep arriving (the corpus repeated flatters the
  per-word caches) and the stories are shorter (more per-article overhead);
* where the time goes: labels (features + linear scores), keywords and
  summary of the shipped model, in this process, on the sample, with the
  compiled kernels; and the whole of it with interpreted kernels (what a run
  pays for its first 30,000 characters, see model/kernels.py);
* training time on ``corpus/train`` and the bundle size;
* peak resident memory (sum over the process tree, sampled with psutil)
  while tagging a ``--big-mb`` file with ``--jobs 2``;
* cold start: median wall time of ``newstag predict <seed>``;
* the end-to-end rows again with ``NEWSTAG_NATIVE=off`` (numba's kernels
  instead of the module compiled ahead of time, see model/native.py);
* the tokeniser choice: dev micro-F1 of models trained with ``--tokenizer
  jieba`` and ``--tokenizer rjieba`` (``--no-compare`` skips it).

Wall-clock times on a shared machine vary from run to run; the load average
is printed with the table, and CPU-time rates are given beside wall rates
where a single process does the work. ``--out`` replaces only the
``## Speed`` section of the results file.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SHARED = Path(os.environ.get("NEWSTAG_SHARED", ROOT.parent / "shared"))
DEFAULT_MODEL = ROOT / "artifacts" / "model.joblib"
NEWSTAG = [sys.executable, "-m", "newstag.cli"]
MB = 1e6


def say(msg: str) -> None:
    print(f"[speed] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- data
def load_articles(shared: Path) -> list[dict]:
    """``{"id", "title", "text"}`` of every corpus.jsonl article."""
    out = []
    with open(shared / "corpus" / "corpus.jsonl", encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                obj = json.loads(line)
                out.append({"id": obj["id"], "title": obj.get("title", ""), "text": obj["text"]})
    return out


def text_bytes(a: dict) -> int:
    return len(a["title"].encode("utf-8")) + len(a["text"].encode("utf-8"))


def write_jsonl(articles: list[dict], path: Path, mb: float) -> tuple[int, float]:
    """Repeat ``articles`` (ids suffixed ``#k``) into ``path`` until it holds ``mb`` MB of
    text; return ``(n_articles, text_MB)``."""
    n, size = 0, 0
    with open(path, "w", encoding="utf-8") as fh:
        k = 0
        while size < mb * MB:
            for a in articles:
                fh.write(json.dumps({"id": f"{a['id']}#{k}", "title": a["title"], "text": a["text"]},
                                    ensure_ascii=False) + "\n")
                n += 1
                size += text_bytes(a)
                if size >= mb * MB:
                    break
            k += 1
    return n, size / MB


def sample(articles: list[dict], mb: float) -> list[dict]:
    out, size = [], 0
    while size < mb * MB:
        for a in articles:
            out.append(a)
            size += text_bytes(a)
            if size >= mb * MB:
                break
    return out


# ---------------------------------------------------------------- measurements
def timed(fn) -> tuple[float, float]:
    """``(wall, cpu)`` seconds of ``fn()`` in this process."""
    w, c = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - w, time.process_time() - c


def cut_rate(cut, texts: list[dict]) -> dict:
    """Wall and CPU MB/s of ``cut`` on the titles and texts of ``texts`` (its
    dictionary loaded first: loading is not segmentation)."""
    cut("预热词典")
    mb = sum(map(text_bytes, texts)) / MB
    wall, cpu = timed(lambda: [(cut(a["title"]), cut(a["text"])) for a in texts])
    return {"wall": mb / wall, "cpu": mb / cpu}


def tokenizer_rates(texts: list[dict]) -> dict:
    import logging

    import jieba
    import rjieba

    jieba.setLogLevel(logging.WARNING)
    return {"sample_mb": sum(map(text_bytes, texts)) / MB,
            "jieba": cut_rate(jieba.lcut, texts), "rjieba": cut_rate(rjieba.cut, texts)}


def jieba_rate(texts: list[dict]) -> dict:
    """Plain ``jieba.lcut`` on ``texts``: wall and CPU MB/s."""
    import jieba

    return cut_rate(jieba.lcut, texts)


def component_rates(model: Path, texts: list[dict]) -> dict:
    """MB/s of CPU time of each step of tagging, in this process, as
    ``Tagger.predict_many`` runs them, a batch (``tagger.BATCH`` articles) at
    a time: segmenting (fold + tokenise once per article, and learning the
    words the process has not met yet: most of the sample's, on this first
    pass), labels (scored, then decided), keywords and summary (both from the
    same segmented article); and of ``predict_many`` as a whole, with and
    without keywords and summary (a second pass: the words known)."""
    sys.path.insert(0, str(ROOT))
    import newstag
    from newstag.model import kernels
    from newstag.model.tagger import BATCH

    tagger = newstag.load(model)
    pairs = [(a["title"], a["text"]) for a in texts]
    kernels.set_mode("python")
    few = pairs[: max(1, len(pairs) // 8)]
    interpreted = mb_of(few) / timed(lambda: tagger.predict_many(few))[1]
    kernels.set_mode("compiled")
    tagger.predict_many(pairs[:50])  # lazy tokeniser set-up, kernels compiled or loaded from the cache
    backend = kernels.backend()
    mb = mb_of(pairs)
    spent = dict.fromkeys(("segment", "labels", "keywords", "summary"), 0.0)
    clock = time.process_time
    lexicon = tagger.featurizer.lexicon
    for lo in range(0, len(pairs), BATCH):
        t = clock()
        lexicon.checkpoint()
        docs = lexicon.documents(pairs[lo: lo + BATCH])
        spent["segment"] += clock() - t
        t = clock()
        for sc in tagger.scores_many(docs):
            tagger.decide(sc)
        spent["labels"] += clock() - t
        for doc in docs:
            t = clock()
            tagger.keyword_extractor.extract(doc)
            spent["keywords"] += clock() - t
            t = clock()
            tagger.summariser.summarise(doc)
            spent["summary"] += clock() - t
    out = {name: mb / t for name, t in spent.items()}
    out["all (predict_many)"] = mb / timed(lambda: tagger.predict_many(pairs))[1]
    out["labels only (predict_many)"] = mb / timed(lambda: tagger.predict_many(pairs, keywords=False,
                                                                               summary=False))[1]
    out["all (predict_many), interpreted kernels"] = interpreted
    return out, backend


def mb_of(pairs: list[tuple[str, str]]) -> float:
    return sum(len(t.encode("utf-8")) + len(x.encode("utf-8")) for t, x in pairs) / MB


def write_fresh(shared: Path, path: Path, mb: float) -> tuple[int, float]:
    """The first ``mb`` MB of text of ``unlabelled.jsonl.gz`` as JSON Lines, no story twice."""
    import gzip

    n, size = 0, 0
    with gzip.open(shared / "corpus" / "unlabelled.jsonl.gz", "rt", encoding="utf-8") as src, \
            open(path, "w", encoding="utf-8") as fh:
        for line in src:
            if size >= mb * MB:
                break
            obj = json.loads(line)
            a = {"id": obj.get("id", f"u{n}"), "title": obj.get("title") or "", "text": obj.get("text") or ""}
            fh.write(json.dumps(a, ensure_ascii=False) + "\n")
            n += 1
            size += text_bytes(a)
    return n, size / MB


def run_child(cmd: list[str], *, sample_rss: bool = False, env: dict | None = None) -> dict:
    """Run ``cmd`` (with ``env`` added to the environment); wall and CPU seconds, and
    (``sample_rss``) the peak RSS summed over its process tree and that peak within
    the first fifth of the run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT,
                            env={**os.environ, **(env or {})})
    trace: list[tuple[float, int]] = []
    if sample_rss:
        import psutil

        root = psutil.Process(proc.pid)
        while proc.poll() is None:
            try:
                procs = [root] + root.children(recursive=True)
                rss = 0
                for p in procs:
                    try:
                        rss += p.memory_info().rss
                    except psutil.Error:
                        pass
                trace.append((time.perf_counter() - t0, rss))
            except psutil.Error:
                pass
            time.sleep(0.25)
    _, err = proc.communicate()
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(map(str, cmd))} failed ({proc.returncode}): {err.decode()[-2000:]}")
    out = {"wall": wall, "cpu": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)}
    if trace:
        out["peak_rss"] = max(r for _, r in trace)
        out["early_peak_rss"] = max((r for t, r in trace if t <= wall / 5), default=0)
    return out


def predict_cmd(model: Path, src: Path, out: Path, jobs: int, labels_only: bool = False) -> list[str]:
    return NEWSTAG + ["predict", str(src), "--model", str(model), "--out", str(out), "--jobs", str(jobs),
                      "--quiet"] + (["--labels-only"] if labels_only else [])


def cold_start(model: Path, seed: Path, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        times.append(run_child(NEWSTAG + ["predict", str(seed), "--model", str(model), "--quiet"])["wall"])
    return times


def micro_f1(model: Path, split: Path) -> dict:
    r = subprocess.run(NEWSTAG + ["evaluate", str(split), "--model", str(model), "--json", "--quiet"],
                       capture_output=True, text=True, cwd=ROOT)
    if r.returncode != 0:
        raise SystemExit(f"evaluate failed: {r.stderr[-2000:]}")
    rep = json.loads(r.stdout)["model"]
    return {name: rep[name]["micro"]["f1"] for name in rep}


# ---------------------------------------------------------------- report
def ratio(x: float, base: float) -> str:
    return f"{x / base:.1f}×"


def baseline(r: dict) -> tuple[float, float]:
    """Plain jieba's ``(wall, cpu)`` MB/s: the mean of its runs before and after the throughput rows."""
    runs = [r["tok"]["jieba"]] + ([r["tok_after"]["jieba"]] if "tok_after" in r else [])
    return statistics.mean(x["wall"] for x in runs), statistics.mean(x["cpu"] for x in runs)


def vs_jieba(mbps: float, p: dict, base: float) -> str:
    """A row's ratio to its adjacent baseline, then to the run's mean baseline."""
    return f"{ratio(mbps, p['base'])} ({ratio(mbps, base)})" if "base" in p else ratio(mbps, base)


def render(r: dict) -> str:
    base, base_cpu = baseline(r)
    spread = (f"; {r['tok']['jieba']['wall']:.2f} before the throughput rows, "
              f"{r['tok_after']['jieba']['wall']:.2f} after") if "tok_after" in r else ""
    rows = [
        ("plain `jieba.lcut` (baseline)", f"{base:.2f} MB/s ({base_cpu:.2f} MB/s CPU{spread})", "1.0×"),
        ("plain `rjieba.cut`", f"{r['tok']['rjieba']['wall']:.2f} MB/s", ratio(r["tok"]["rjieba"]["wall"], base)),
    ]
    for jobs in (1, 2):
        p = r["predict"][jobs]
        mbps, aps = r["mb"] / p["wall"], r["n"] / p["wall"]
        cpu = f"; {r['mb'] / p['cpu']:.2f} MB/s CPU" if jobs == 1 else ""
        rows.append((f"`newstag predict --jobs {jobs}` end to end",
                     f"{mbps:.2f} MB/s, {aps:.0f} articles/s{cpu}",
                     vs_jieba(mbps, p, base)
                     + (f"; {r['mb'] / p['cpu'] / p.get('base_cpu', base_cpu):.1f}× in CPU time" if jobs == 1 else "")))
    for jobs, p in r.get("numba", {}).items():
        mbps = r["mb"] / p["wall"]
        rows.append((f"the same, `--jobs {jobs}`, with numba's kernels (`NEWSTAG_NATIVE=off`)",
                     f"{mbps:.2f} MB/s, {r['n'] / p['wall']:.0f} articles/s", vs_jieba(mbps, p, base)))
    rows.append(("`--jobs 2` output identical to `--jobs 1`" + (" (and to numba's)" if "numba" in r else ""),
                 "yes" if r["identical"] else "**NO**", ""))
    for jobs, p in r.get("labels_only", {}).items():
        mbps = r["mb"] / p["wall"]
        rows.append((f"`newstag predict --labels-only --jobs {jobs}` end to end",
                     f"{mbps:.2f} MB/s, {r['n'] / p['wall']:.0f} articles/s", vs_jieba(mbps, p, base)))
    for jobs, p in r.get("fresh", {}).items():
        mbps = r["fresh_mb"] / p["wall"]
        rows.append((f"`newstag predict --jobs {jobs}` on {r['fresh_mb']:.0f} MB of unlabelled stories "
                     f"({r['fresh_n']}, none repeated)", f"{mbps:.2f} MB/s, {r['fresh_n'] / p['wall']:.0f} articles/s",
                     vs_jieba(mbps, p, base)))
    for name, v in r["components"].items():
        rows.append((f"in-process: {name}", f"{v:.2f} MB/s CPU", f"{v / base_cpu:.1f}× (CPU)"))
    if "train" in r:
        rows.append(("training on `corpus/train`", f"{r['train']['wall']:.1f} s ({r['train']['cpu']:.1f} s CPU)", ""))
    rows.append(("model bundle size", f"{r['bundle'] / 1e6:.2f} MB", ""))
    if "big" in r:
        b = r["big"]
        rows.append((f"peak RSS tagging {b['mb']:.0f} MB ({b['n']} articles) `--jobs 2`",
                     f"{b['peak_rss'] / 1e6:.0f} MB (first fifth of the run: {b['early_peak_rss'] / 1e6:.0f} MB)",
                     f"{b['mb'] / b['wall']:.2f} MB/s"))
    cs = r["cold"]
    rows.append((f"cold start `newstag predict <seed>` (median of {len(cs)})",
                 f"{statistics.median(cs):.2f} s (min {min(cs):.2f}, max {max(cs):.2f})", ""))
    lines = [
        f"Measured {r['date']} on {os.cpu_count()} CPUs, load average {r['load'][0]:.1f} at the start and "
        f"{r['load'][1]:.1f} at the end (a shared machine: wall-clock rates vary between runs; ratios in CPU "
        f"time are steadier). Texts: the {r['n_corpus']} `corpus.jsonl` articles repeated to {r['mb']:.1f} MB of "
        f"article text ({r['n']} articles, {r['file_mb']:.1f} MB of JSONL); baseline sample "
        f"{r['tok']['sample_mb']:.1f} MB. Model: `{r['model']}` (tokeniser {r['tokenizer']}). Kernels: "
        + ("the native module compiled ahead of time (`make native`). " if r.get("kernels") == "native"
           else f"{r.get('kernels', '?')} (no native module built). ")
        + f"Command: `{r['command']}`.",
        "",
        "The ratio column gives each end-to-end row's ratio to plain jieba measured right before and after "
        "it, then (in brackets) to the run's mean jieba rate."
        + (f" Plain jieba next to the rows ran at {min(a['wall'] for a in r['adjacent']):.2f}–"
           f"{max(a['wall'] for a in r['adjacent']):.2f} MB/s." if r.get("adjacent") else ""),
        "",
        "| measure | value | vs plain jieba |",
        "| --- | --- | --- |",
    ]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    if "compare" in r:
        c = r["compare"]
        lines += ["", "Tokeniser choice (train on `corpus/train`, evaluate on `corpus/dev`, micro-F1):", "",
                  "| tokeniser | 行业 micro-F1 | 技术 micro-F1 | training time |", "| --- | --- | --- | --- |"]
        for tok in ("jieba", "rjieba"):
            f = c[tok]["f1"]
            lines.append(f"| {tok} | {f['industries']:.3f} | {f['technologies']:.3f} | {c[tok]['wall']:.1f} s |")
        d = {k: c["rjieba"]["f1"][k] - c["jieba"]["f1"][k] for k in ("industries", "technologies")}
        verdict = "within 0.01 on both sets" if all(abs(v) <= 0.01 or v > 0 for v in d.values()) \
            else "more than 0.01 worse on a set"
        lines += ["", f"rjieba − jieba: 行业 {d['industries']:+.3f}, 技术 {d['technologies']:+.3f} ({verdict})."]
    lines += ["", "Issue 5 targets, as measured here:", ""]
    lines += [f"- {'met' if ok else '**missed**'}: {what}" for what, ok in targets(r)]
    comp = r["components"]
    steps = ("segment", "labels", "keywords", "summary")
    if set(steps) <= comp.keys():
        cost = {k: 1 / comp[k] for k in steps}  # CPU seconds per MB
        total = sum(cost.values())
        shares = ", ".join(f"{k} {v / total:.0%}" for k, v in cost.items())
        seg = 1 / r["tok"]["rjieba"]["cpu"] / total
        lines += ["", f"Where the CPU time of tagging goes (in-process rows): {shares}; plain rjieba "
                      f"segmentation of the same text would be {seg:.0%} of it ('segment' is folding the "
                      "text, segmenting it with newstag's compiled copy of rjieba's rules and looking the "
                      "tokens up, and learning the words the process had not met: most of the sample's, "
                      "in this first pass over it)."]
    return "\n".join(lines) + "\n"


def targets(r: dict) -> list[tuple[str, bool]]:
    """The issue's "done when" figures: ``(description, met)``."""
    base = baseline(r)[0]
    out = []
    for jobs, want in ((2, 8), (1, 4)):
        p = r["predict"][jobs]
        got = r["mb"] / p["wall"] / p.get("base", base)
        out.append((f"`--jobs {jobs}` ≥ {want}× plain jieba (measured {got:.1f}× against the jieba runs beside it, "
                    f"{r['mb'] / p['wall'] / base:.1f}× against the run's mean)", got >= want))
    if "big" in r:
        peak = r["big"]["peak_rss"] / 1e6
        out.append((f"peak memory < 1 GB on {r['big']['mb']:.0f} MB (measured {peak:.0f} MB)", peak < 1000))
    cold = statistics.median(r["cold"])
    out.append((f"cold start ≤ 1.5 s (measured {cold:.2f} s)", cold <= 1.5))
    if "compare" in r:
        c = r["compare"]
        worst = min(c["rjieba"]["f1"][k] - c["jieba"]["f1"][k] for k in ("industries", "technologies"))
        out.append((f"rjieba dev micro-F1 within 0.01 of jieba's (worst set {worst:+.3f})", worst >= -0.01))
    out.append((f"bundle ≤ 5 MB (measured {r['bundle'] / 1e6:.2f} MB)", r["bundle"] <= 5e6))
    return out


# ---------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shared", default=str(DEFAULT_SHARED), help="the shared data folder (holds corpus/)")
    ap.add_argument("--model", default=str(DEFAULT_MODEL), help="model bundle to tag with [artifacts/model.joblib]")
    ap.add_argument("--mb", type=float, default=50, help="MB of article text for the throughput rows [50]")
    ap.add_argument("--fresh-mb", type=float, default=10,
                    help="MB of unlabelled stories for the fresh-text rows [10]; 0 skips them")
    ap.add_argument("--big-mb", type=float, default=200, help="MB for the peak-memory run [200]; 0 skips it")
    ap.add_argument("--sample-mb", type=float, default=5, help="MB for the in-process baseline rows [5]")
    ap.add_argument("--base-mb", type=float, default=2,
                    help="MB of plain jieba run before and after each end-to-end row [2]")
    ap.add_argument("--cold-runs", type=int, default=7, help="cold-start runs (median reported) [7]")
    ap.add_argument("--no-compare", action="store_true", help="skip the jieba-vs-rjieba training comparison")
    ap.add_argument("--quick", action="store_true", help="small sizes for a smoke run (2 MB, 5 MB, 0.5 MB sample)")
    ap.add_argument("--out", help="markdown file whose '## Speed' section is written (e.g. benchmarks/RESULTS.md)")
    args = ap.parse_args(argv)
    if args.quick:
        args.mb, args.fresh_mb, args.big_mb, args.sample_mb, args.cold_runs, args.base_mb = 2, 1, 5, 0.5, 3, 0.3
    shared, model = Path(args.shared), Path(args.model).resolve()
    seed = shared / "seeds" / "000_69f682ce4369dada.txt"
    if not (shared / "corpus" / "corpus.jsonl").is_file():
        ap.error(f"{shared}/corpus/corpus.jsonl not found (give --shared)")
    if not model.is_file():
        ap.error(f"{model}: model not found")

    r: dict = {"date": time.strftime("%Y-%m-%d %H:%M"), "load": [os.getloadavg()[0]],
               "model": os.path.relpath(model, ROOT) if model.is_relative_to(ROOT) else str(model),
               "command": "python benchmarks/speed.py " + " ".join(argv if argv is not None else sys.argv[1:])}
    sys.path.insert(0, str(ROOT))
    from newstag.model.bundle import load_bundle

    # as an installed package's are (`make bytecode`): otherwise, where
    # PYTHONDONTWRITEBYTECODE is set, each newstag process compiles them afresh
    import compileall

    for package in ("newstag", "model", "training"):
        compileall.compile_dir(ROOT / package, quiet=1)

    articles = load_articles(shared)
    r["n_corpus"] = len(articles)
    with tempfile.TemporaryDirectory(prefix="newstag-speed-") as tmp:
        tmp = Path(tmp)
        # every row uses this copy, so a model rebuilt meanwhile cannot mix into the run
        data = model.read_bytes()
        r["model"] += f" sha256 {hashlib.sha256(data).hexdigest()[:12]}"
        model = tmp / "model.joblib"
        model.write_bytes(data)
        r["tokenizer"] = load_bundle(model)[0].get("tokenizer", "?")
        texts = sample(articles, args.sample_mb)
        say(f"baseline: jieba / rjieba on {args.sample_mb} MB")
        r["tok"] = tokenizer_rates(texts)
        say("components in process")
        r["components"], r["kernels"] = component_rates(model, sample(articles, min(args.sample_mb, 2)))
        if r["kernels"] != "native":
            say("no native kernels built for this source (make native): the rows run numba's")

        # each end-to-end row between two runs of plain jieba (see the docstring)
        base_texts = sample(articles, args.base_mb)
        r["adjacent"] = [jieba_rate(base_texts)]

        def row(cmd: list[str], env: dict | None = None) -> dict:
            res = run_child(cmd, env=env)
            r["adjacent"].append(jieba_rate(base_texts))
            around = r["adjacent"][-2:]
            res["base"] = statistics.mean(a["wall"] for a in around)
            res["base_cpu"] = statistics.mean(a["cpu"] for a in around)
            return res

        src = tmp / "articles.jsonl"
        r["n"], r["mb"] = write_jsonl(articles, src, args.mb)
        r["file_mb"] = src.stat().st_size / MB
        r["predict"] = {}
        outs = {}
        for jobs in (1, 2):
            say(f"predict --jobs {jobs} on {r['mb']:.1f} MB")
            outs[jobs] = tmp / f"out{jobs}.jsonl"
            r["predict"][jobs] = row(predict_cmd(model, src, outs[jobs], jobs))
        r["identical"] = outs[1].read_bytes() == outs[2].read_bytes()
        if r["kernels"] == "native":  # what the module built ahead of time saves: the same rows with numba's
            r["numba"] = {}
            for jobs in (1, 2):
                say(f"predict --jobs {jobs} on {r['mb']:.1f} MB, NEWSTAG_NATIVE=off")
                r["numba"][jobs] = row(predict_cmd(model, src, tmp / "numba.jsonl", jobs), {"NEWSTAG_NATIVE": "off"})
                r["identical"] &= (tmp / "numba.jsonl").read_bytes() == outs[1].read_bytes()
            (tmp / "numba.jsonl").unlink()
        for f in outs.values():
            f.unlink()
        r["labels_only"] = {}
        for jobs in (1, 2):
            say(f"predict --labels-only --jobs {jobs} on {r['mb']:.1f} MB")
            r["labels_only"][jobs] = row(predict_cmd(model, src, tmp / "labels.jsonl", jobs, labels_only=True))
        (tmp / "labels.jsonl").unlink()
        if args.fresh_mb > 0:
            fresh = tmp / "fresh.jsonl"
            r["fresh_n"], r["fresh_mb"] = write_fresh(shared, fresh, args.fresh_mb)
            r["fresh"] = {}
            for jobs in (1, 2):
                say(f"predict --jobs {jobs} on {r['fresh_mb']:.1f} MB of unlabelled stories")
                r["fresh"][jobs] = row(predict_cmd(model, fresh, tmp / "fresh.out.jsonl", jobs))
            (tmp / "fresh.out.jsonl").unlink()
            fresh.unlink()
        say(f"baseline again: jieba / rjieba on {args.sample_mb} MB")
        r["tok_after"] = tokenizer_rates(texts)

        r["bundle"] = model.stat().st_size
        say("cold start")
        r["cold"] = cold_start(model, seed, args.cold_runs)

        if args.big_mb > 0:
            big = tmp / "big.jsonl"
            n_big, mb_big = write_jsonl(articles, big, args.big_mb)
            say(f"peak memory: predict --jobs 2 on {mb_big:.0f} MB")
            res = run_child(predict_cmd(model, big, tmp / "big.out.jsonl", 2), sample_rss=True)
            r["big"] = {**res, "n": n_big, "mb": mb_big}
            big.unlink()
            (tmp / "big.out.jsonl").unlink()

        train = shared / "corpus" / "train"
        toks = () if args.no_compare else ("jieba", "rjieba")
        say("training" + (" with each tokeniser" if toks else ""))
        r["compare"] = {}
        for tok in toks or ("rjieba",):
            out = tmp / f"train-{tok}.joblib"
            res = run_child(NEWSTAG + ["train", str(train), "--tokenizer", tok, "--out", str(out), "--quiet"])
            if tok == "rjieba":
                r["train"] = res
            if toks:
                r["compare"][tok] = {**res, "f1": micro_f1(out, shared / "corpus" / "dev")}
        if not toks:
            del r["compare"]
    r["load"].append(os.getloadavg()[0])
    table = render(r)
    print(table)
    if args.out:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from results_md import write_section  # one writer for every benchmark's section

        write_section(Path(args.out), "## Speed", table)
        say(f"wrote the '## Speed' section of {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
