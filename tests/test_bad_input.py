"""Bad input never crashes a batch, never loses an article, never runs untrusted code.

Every case goes through the command line (in-process, or a real
``newstag`` process where only one can show the behaviour: Ctrl-C, a closed
or cut-off stdin, a full disk). Every message is one line that names the file
(and the line, for JSON Lines) and the problem; there is never a traceback;
in every batch ``tagged N, failed M`` adds up to the number of inputs, the
output holds one record per input, and the exit status is 0 only when
nothing failed.
"""
from __future__ import annotations

import glob
import json
import os
import pickle
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import CORPUS, ROOT, restore_sigint

from newstag.model import bundle as bundle_mod
from newstag.model.labels import load_taxonomy

OTHER = sorted((CORPUS / "other").glob("*.txt"))
EXE = ROOT / ".venv" / "bin" / "newstag"
CMD = [str(EXE)] if EXE.exists() else [sys.executable, "-m", "newstag.cli"]
COUNTS = re.compile(r"^tagged (\d+), failed (\d+)$", re.M)
# made-up labels: checked below to map to no canonical label
ODD_INDUSTRY, ODD_TECH = "ZQX甲类", "QQZ乙类"


# ------------------------------------------------------------------ helpers
def _jsonl(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _clean(stderr: str) -> None:
    """No traceback, and every message is one line of newstag's own."""
    assert "Traceback" not in stderr, stderr
    for line in stderr.splitlines():
        if line.strip():
            assert line.startswith("newstag: ") or COUNTS.match(line), f"stray stderr line: {line!r}"


def _errors(stderr: str) -> list[str]:
    return [ln for ln in stderr.splitlines() if ln.startswith("newstag: ") and "warning:" not in ln]


def _predict(cli, *args, n_inputs: int, model, input=None) -> tuple[list[dict], object]:
    """Run a batch and check the accounting every batch must satisfy."""
    r = cli("predict", *args, "--model", model, input=input)
    _clean(r.stderr)
    (tagged, failed), = [tuple(map(int, m)) for m in COUNTS.findall(r.stderr)]
    assert tagged + failed == n_inputs, r.stderr
    assert r.exit_code == (0 if failed == 0 else 1), r.stderr
    recs = _jsonl(r.stdout) if "--out" not in args else []
    if recs or "--out" not in args:
        assert len(recs) == n_inputs
        errors = [x for x in recs if "error" in x]
        assert len(errors) == failed
        for e in errors:
            assert set(e) == {"id", "source", "error"}
            assert f"newstag: {e['error']}" in r.stderr.splitlines()  # the same one line on stderr
    return recs, r


def _seed_text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _without_body(text: str) -> str:
    """A seed with its 总结 value (and continuation lines) taken out."""
    out, skipping = [], False
    for line in text.split("\n"):
        if line.startswith("总结"):
            skipping = True
            continue
        if skipping and re.match(r"^(关键词|AI技术|行业|重大事件摘要|标题|链接)\s*[:：]", line):
            skipping = False
        if not skipping:
            out.append(line)
    return "\n".join(out)


def _cjk_offset(raw: bytes) -> int:
    """Byte offset of a (3-byte) Chinese character inside the body of seed ``raw``."""
    text = raw.decode("utf-8")
    i = next(k for k in range(text.index("总结") + 10, len(text)) if "\u4e00" <= text[k] <= "\u9fff")
    return len(text[:i].encode("utf-8"))


def _tags(rec: dict) -> tuple:
    return ([x["label"] for x in rec["industries"]], [x["label"] for x in rec["technologies"]], rec["keywords"])


@pytest.fixture(scope="module")
def good(tmp_path_factory) -> list[Path]:
    """Three real seed files, copied so tests can sit bad files beside them."""
    d = tmp_path_factory.mktemp("good")
    out = []
    for src in OTHER[:3]:
        dst = d / src.name
        dst.write_bytes(src.read_bytes())
        out.append(dst)
    return out


# ------------------------------------------------------------------ file contents
def test_empty_and_blank_files_are_errors_the_batch_goes_on(cli, seeds_model, good, tmp_path):
    empty, blank = tmp_path / "empty.txt", tmp_path / "blank.txt"
    empty.write_bytes(b"")
    blank.write_bytes(b" \n\r\n\t\n")
    recs, r = _predict(cli, good[0], empty, blank, good[1], n_inputs=4, model=seeds_model)
    assert [x.get("error") is None for x in recs] == [True, False, False, True]
    assert recs[1]["error"] == f"{empty}: empty file" and recs[1]["source"] == str(empty)
    assert recs[2]["error"] == f"{blank}: empty file"


def test_binary_files_are_reported_not_decoded(cli, seeds_model, good, tmp_path):
    elf = tmp_path / "program.txt"
    elf.write_bytes(Path(sys.executable).resolve().read_bytes()[:4096])
    noise = tmp_path / "noise.txt"
    noise.write_bytes(bytes(range(0x80, 0x100)) * 8)  # no NUL, not UTF-8, not Chinese
    recs, r = _predict(cli, elf, good[0], noise, n_inputs=3, model=seeds_model)
    assert re.fullmatch(rf"{re.escape(str(elf))}: binary file .*", recs[0]["error"])
    assert re.fullmatch(rf"{re.escape(str(noise))}: not UTF-8 text \(invalid byte 0x80 at offset 0\).*",
                        recs[2]["error"])


def test_gb18030_file_is_decoded_and_tagged_like_the_utf8_original(cli, seeds_model, good, tmp_path):
    gbk = tmp_path / "gbk.txt"
    gbk.write_bytes(_seed_text(good[0]).encode("gb18030"))
    recs, r = _predict(cli, good[0], gbk, n_inputs=2, model=seeds_model)
    assert _tags(recs[1]) == _tags(recs[0]) and recs[1]["title"] == recs[0]["title"]
    assert f"newstag: warning: {gbk}: not UTF-8; decoded as GB18030" in r.stderr
    assert recs[1]["warnings"] and "warnings" not in recs[0]


def test_legacy_encodings_that_cannot_be_told_apart_are_reported(cli, seeds_model, tmp_path):
    # Shift-JIS Japanese decodes as (nonsense) GB18030; a two-word GBK file is too short to judge
    sjis = tmp_path / "sjis.txt"
    sjis.write_bytes(("東京都の天気は晴れです。今日は良い日ですね。日本の経済は回復しています。" * 3).encode("shift_jis"))
    short = tmp_path / "short-gbk.txt"
    short.write_bytes("芯片算力".encode("gbk"))
    recs, r = _predict(cli, sjis, short, n_inputs=2, model=seeds_model)
    for path, rec in zip((sjis, short), recs):
        assert rec["error"].startswith(f"{path}: not UTF-8 text (invalid byte 0x")
        assert "save it as UTF-8" in rec["error"]


def test_utf8_bom_and_crlf_tag_exactly_like_the_original(cli, seeds_model, good, tmp_path):
    variant = tmp_path / "bom-crlf.txt"
    variant.write_bytes(b"\xef\xbb\xbf" + good[0].read_bytes().replace(b"\n", b"\r\n"))
    cr_only = tmp_path / "cr.txt"
    cr_only.write_bytes(good[0].read_bytes().replace(b"\n", b"\r"))
    recs, r = _predict(cli, good[0], variant, cr_only, n_inputs=3, model=seeds_model)
    assert "warning" not in r.stderr
    strip = lambda rec: {k: v for k, v in rec.items() if k not in ("id", "source")}  # noqa: E731
    assert strip(recs[1]) == strip(recs[0]) == strip(recs[2])


def test_seed_without_a_body_is_an_error(cli, seeds_model, good, tmp_path):
    no_body = tmp_path / "no-body.txt"
    no_body.write_text(_without_body(_seed_text(good[0])), encoding="utf-8")
    assert "总结" not in no_body.read_text(encoding="utf-8") and "标题" in no_body.read_text(encoding="utf-8")
    empty_body = tmp_path / "empty-body.txt"
    empty_body.write_text("标题: 某标题\n总结:   \n\n关键词: 甲, 乙\n行业: 半导体\n", encoding="utf-8")
    recs, r = _predict(cli, no_body, empty_body, good[1], n_inputs=3, model=seeds_model)
    for path, rec in zip((no_body, empty_body), recs):
        assert rec["error"] == f"{path}: seed file has no body (总结 is missing or empty)"


def test_seed_truncated_mid_line_and_mid_character(cli, seeds_model, good, tmp_path):
    raw = good[0].read_bytes()
    cut = _cjk_offset(raw)
    mid_line = tmp_path / "cut-mid-line.txt"  # inside a body line, on a character boundary
    mid_line.write_bytes(raw[:cut])
    assert not raw[:cut].endswith(b"\n")
    mid_char = tmp_path / "cut-mid-char.txt"  # one byte into a 3-byte character
    mid_char.write_bytes(raw[:cut + 1])
    in_title = tmp_path / "cut-in-title.txt"  # before the body starts
    in_title.write_bytes(raw[:raw.index(b"\n") - 4])
    recs, r = _predict(cli, mid_line, mid_char, in_title, n_inputs=3, model=seeds_model)
    assert "error" not in recs[0] and "error" not in recs[1]
    assert f"newstag: warning: {mid_char}: truncated inside a UTF-8 character at byte {cut}" in r.stderr
    assert _tags(recs[1]) == _tags(recs[0])  # the same text minus the broken character
    assert recs[2]["error"].startswith(f"{in_title}: ")


def test_one_50_mb_article_is_tagged_from_its_first_part(cli, seeds_model, tmp_path):
    from newstag.model.reader import MAX_TEXT_CHARS

    texts, size = [], 0
    with open(CORPUS / "corpus.jsonl", encoding="utf-8") as fh:
        for line in fh:
            texts.append(json.loads(line)["text"])
            size += len(texts[-1].encode())
            if size > 2_000_000:
                break
    chunk = "\n".join(texts) + "\n"
    big = tmp_path / "big.txt"
    with open(big, "w", encoding="utf-8") as fh:
        fh.write("标题: 一篇极长的文章\n总结: ")
        while fh.tell() < 50 * 1024 * 1024:
            fh.write(chunk)
    assert big.stat().st_size >= 50 * 1024 * 1024
    t0 = time.perf_counter()
    recs, r = _predict(cli, big, n_inputs=1, model=seeds_model)
    print(f"\n50 MB article ({big.stat().st_size:,} bytes) tagged in {time.perf_counter() - t0:.1f}s")
    (rec,) = recs
    assert rec["id"] == "big" and rec["keywords"] and rec["summary"]
    assert re.search(rf"newstag: warning: {re.escape(str(big))}: article text has [\d,]+ characters; "
                     rf"only the first {MAX_TEXT_CHARS:,} are used", r.stderr)


def test_an_over_long_jsonl_article_is_cut_with_a_warning(cli, seeds_model, tmp_path, monkeypatch):
    from newstag.model import reader

    monkeypatch.setattr(reader, "MAX_TEXT_CHARS", 3000)  # the same rule as above, at a test-sized length
    rows = [json.loads(line) for line in (CORPUS / "corpus.jsonl").open(encoding="utf-8").readlines()[:40]]
    long_text = "\n".join(r["text"] for r in rows)
    assert len(long_text) > 3000
    p = tmp_path / "long.jsonl"
    p.write_text(json.dumps({"id": "long", "text": long_text}, ensure_ascii=False) + "\n", encoding="utf-8")
    recs, r = _predict(cli, p, n_inputs=1, model=seeds_model)
    assert recs[0]["warnings"] == [f"{p}:1: article text has {len(long_text):,} characters; "
                                   "only the first 3,000 are used"]


def test_an_over_long_title_is_cut_with_a_warning(cli, seeds_model, tmp_path):
    """A text pasted into the title field: the title is cut (it counts in every
    passage of the article), the article tagged, the cut said."""
    from newstag.model.reader import MAX_TITLE_CHARS

    rows = [json.loads(line) for line in (CORPUS / "corpus.jsonl").open(encoding="utf-8").readlines()[:10]]
    title = "".join(r["text"] for r in rows)
    assert len(title) > MAX_TITLE_CHARS
    p = tmp_path / "title.jsonl"
    p.write_text(json.dumps({"id": "t", "title": title, "text": rows[0]["text"]}, ensure_ascii=False) + "\n",
                 encoding="utf-8")
    recs, r = _predict(cli, p, n_inputs=1, model=seeds_model)
    assert recs[0]["title"] == title[:MAX_TITLE_CHARS] and recs[0]["summary"]
    assert recs[0]["warnings"] == [f"{p}:1: title has {len(title):,} characters; "
                                   f"only the first {MAX_TITLE_CHARS:,} are used"]


# ------------------------------------------------------------------ JSON Lines
def test_jsonl_bad_lines_are_errors_with_line_numbers_and_good_lines_are_tagged(cli, seeds_model, tmp_path):
    rows = [json.loads(line) for line in (CORPUS / "corpus.jsonl").open(encoding="utf-8").readlines()[:5]]
    good_lines = [json.dumps(r, ensure_ascii=False) for r in rows]
    lines = [
        good_lines[0],
        '{"id": "cut", "text": "正文没有写完',            # 2: malformed (unterminated)
        good_lines[1],
        "[1, 2, 3]",                                       # 4: valid JSON, not an object
        '"just a string"',                                 # 5: ditto
        "",                                                # blank: not an input
        good_lines[2],
        "null",                                            # 8
        '{"title": "no text here"}',                       # 9: an object without text
        "[" * 50_000 + "]" * 50_000,                       # 10: nested too deeply for the parser
        good_lines[3],
        json.dumps({"id": "odd", "text": rows[4]["text"], "keywords": 5, "行业": 3, "重大事件摘要": 7}),  # 12: odd types
        json.dumps({"id": "sur", "text": rows[4]["text"] + "\ud800"}),  # 13: lone surrogate escape
        good_lines[4],
    ]
    p = tmp_path / "batch.jsonl"
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    errors_file = tmp_path / "errors.jsonl"
    recs, r = _predict(cli, p, "--errors", errors_file, n_inputs=13, model=seeds_model)
    failed = {rec["source"]: rec["error"] for rec in recs if "error" in rec}
    assert set(failed) == {f"{p}:{n}" for n in (2, 4, 5, 8, 9, 10)}
    assert failed[f"{p}:2"].startswith(f"{p}:2: invalid JSON (Unterminated string")
    assert failed[f"{p}:4"] == f"{p}:4: expected a JSON object, got list"
    assert failed[f"{p}:5"] == f"{p}:5: expected a JSON object, got str"
    assert failed[f"{p}:8"] == f"{p}:8: expected a JSON object, got NoneType"
    assert failed[f"{p}:9"].startswith(f"{p}:9: no article text")
    assert failed[f"{p}:10"] == f"{p}:10: invalid JSON (nested too deeply)"
    tagged = [rec for rec in recs if "error" not in rec]
    assert [t["id"] for t in tagged] == [rows[0]["id"], rows[1]["id"], rows[2]["id"], rows[3]["id"], "odd", "sur",
                                         rows[4]["id"]]
    assert tagged[5]["warnings"] == [f"{p}:13: replaced 1 unpaired surrogate escape(s) (\\ud800-\\udfff) with '?'"]
    # --errors collects exactly the error records, in order
    assert _jsonl(errors_file.read_text(encoding="utf-8")) == [rec for rec in recs if "error" in rec]


def test_truncated_gzip_jsonl_keeps_what_came_before(cli, seeds_model, tmp_path):
    import gzip

    data = gzip.compress((CORPUS / "corpus.jsonl").read_bytes()[:120_000])
    p = tmp_path / "cut.jsonl.gz"
    p.write_bytes(data[: len(data) // 2])
    r = cli("predict", p, "--model", seeds_model, "-q")
    recs = _jsonl(r.stdout)
    _clean(r.stderr)
    assert r.exit_code == 1 and len(recs) > 5
    assert all("error" not in x for x in recs[:-1])
    assert recs[-1]["error"].startswith(f"{p}:{len(recs)}: cannot read further (EOFError")


# ------------------------------------------------------------------ labels
@pytest.fixture(scope="module")
def odd_label_dir(tmp_path_factory) -> Path:
    """12 real training seeds; two carry labels that map to nothing."""
    tax = load_taxonomy()
    assert tax["industries"].map_raw(ODD_INDUSTRY) == [] and tax["technologies"].map_raw(ODD_TECH) == []
    d = tmp_path_factory.mktemp("odd-labels")
    for i, src in enumerate(sorted((CORPUS / "train").glob("*.txt"))[:12]):
        text = _seed_text(src)
        if i in (3, 7):
            text = re.sub(r"^行业[:：] ?(.*)$", lambda m: f"行业: {m.group(1)}, {ODD_INDUSTRY}", text, count=1, flags=re.M)
            text = re.sub(r"^AI技术[:：] ?(.*)$", lambda m: f"AI技术: {ODD_TECH}, {m.group(1)}", text, count=1,
                          flags=re.M)
        (d / src.name).write_text(text, encoding="utf-8")
    return d


def test_labels_lists_label_values_that_map_to_nothing(cli, odd_label_dir):
    r = cli("labels", odd_label_dir)
    _clean(r.stderr)
    assert r.exit_code == 0
    assert re.search(rf"^unmapped 行业: (.*, )?{ODD_INDUSTRY}(,|$)", r.stdout, re.M)
    assert re.search(rf"^unmapped 技术: (.*, )?{ODD_TECH}(,|$)", r.stdout, re.M)
    assert re.search(rf"^\s+2\s+{ODD_INDUSTRY}\s+→\s+\(unmapped\)$", r.stdout, re.M)
    audit = json.loads(cli("labels", odd_label_dir, "--json").stdout)
    assert ODD_INDUSTRY in audit["industries"]["unmapped"] and audit["industries"]["counts"][ODD_INDUSTRY] == 2


def test_train_and_evaluate_report_label_values_that_map_to_nothing(cli, odd_label_dir, tmp_path):
    from newstag.model.bundle import load_bundle

    out = tmp_path / "odd.joblib"
    r = cli("train", odd_label_dir, "--out", out, "--cv-folds", "0", "--min-examples", "1", "-q")
    _clean(r.stderr)
    assert r.exit_code == 0, r.stderr
    assert re.search(rf"unmapped raw 行业 labels \(not used\): (.*, )?{ODD_INDUSTRY} \(2\)", r.stdout)
    assert re.search(rf"unmapped raw 技术 labels \(not used\): (.*, )?{ODD_TECH} \(2\)", r.stdout)
    assert load_bundle(out)[0]["data"]["unmapped_labels"]["industries"][ODD_INDUSTRY] == 2
    r = cli("evaluate", odd_label_dir, "--model", out)
    _clean(r.stderr)
    assert r.exit_code == 0
    assert re.search(rf"newstag: warning: \d+ raw 行业 labels map to no 行业 label and are not scored: "
                     rf"(.*, )?{ODD_INDUSTRY} \(2\)", r.stderr)


# ------------------------------------------------------------------ paths
def test_directory_without_supported_files_and_missing_path(cli, seeds_model, good, tmp_path):
    d = tmp_path / "nothing-here"
    (d / "sub").mkdir(parents=True)
    (d / "notes.md").write_text("# 说明\n", encoding="utf-8")
    (d / "table.csv").write_text("a,b\n", encoding="utf-8")
    missing = tmp_path / "no-such-file.txt"
    recs, r = _predict(cli, d, good[0], missing, n_inputs=3, model=seeds_model)
    assert recs[0] == {"id": str(d), "source": str(d), "error": f"{d}: directory has no .txt or .jsonl files"}
    assert recs[2]["error"] == f"{missing}: no such file or directory"


@pytest.mark.parametrize("verb", ["labels", "train", "evaluate", "explain"])
def test_other_verbs_give_one_line_errors_for_unreadable_inputs(cli, seeds_model, verb, tmp_path):
    d = tmp_path / "empty-dir"
    d.mkdir()
    binary = tmp_path / "binary.txt"
    binary.write_bytes(b"\x00\x01\x02" * 100)
    missing = tmp_path / "missing.txt"
    extra = {"train": ["--out", tmp_path / "m.joblib"], "evaluate": ["--model", seeds_model],
             "explain": ["--model", seeds_model]}.get(verb, [])
    for bad, problem in ((missing, "no such file or directory"), (d, "directory has no .txt or .jsonl files"),
                         (binary, "binary file")):
        r = cli(verb, bad, *extra)
        _clean(r.stderr)
        assert r.exit_code != 0 and r.stdout == ""
        assert f"{bad}: {problem}" in r.stderr
    assert not (tmp_path / "m.joblib").exists()


# ------------------------------------------------------------------ model files
class _Payload:
    """Unpickling this would create a file: the proof that code ran."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def _write_bundle(path: Path, meta: dict, arrays: dict, checksum: str | None = None) -> None:
    """A bundle written like ``save_bundle``, but with ``meta`` exactly as given."""
    meta_bytes = json.dumps(meta, ensure_ascii=False).encode("utf-8")
    payload = {"meta.json": np.frombuffer(meta_bytes, dtype=np.uint8), **arrays}
    payload["checksum"] = np.frombuffer((checksum or bundle_mod._checksum(meta_bytes, arrays)).encode(), np.uint8)
    with open(path, "wb") as fh:
        np.savez_compressed(fh, **payload)


def _bad_model(kind: str, seeds_model: Path, tmp_path: Path) -> tuple[Path, str]:
    """A model file of the given ``kind`` and the problem its error must name."""
    p = tmp_path / f"{kind}.joblib"
    raw = seeds_model.read_bytes()
    if kind == "missing":
        return p, "model file not found"
    if kind == "directory":
        p.mkdir()
        return p, "is a directory"
    if kind == "truncated":
        p.write_bytes(raw[: len(raw) // 2])
        return p, "model file is truncated or corrupt"
    if kind == "damaged":
        buf = bytearray(raw)
        mid = len(buf) // 2
        buf[mid:mid + 64] = bytes(b ^ 0x5A for b in buf[mid:mid + 64])
        p.write_bytes(bytes(buf))
        return p, "model file is truncated or corrupt"
    if kind == "text":
        p.write_bytes(OTHER[0].read_bytes())
        return p, "not a newstag model bundle (unknown file type)"
    if kind == "other-npz":
        with open(p, "wb") as fh:
            np.savez(fh, weights=np.ones(3))
        return p, "not a newstag model bundle (no meta.json or checksum)"
    meta, arrays = bundle_mod.load_bundle(seeds_model)
    if kind == "old-version":
        _write_bundle(p, {**meta, "format_version": 99, "newstag_version": "9.9.0"}, arrays)
        return p, "model format version 99 is not supported by this newstag (reads version 1, made by newstag 9.9.0)"
    if kind == "modified":
        meta_bytes = json.dumps(meta, ensure_ascii=False).encode("utf-8")
        stored = bundle_mod._checksum(meta_bytes, arrays)
        arrays = {**arrays, "idf": arrays["idf"] * 2}
        _write_bundle(p, meta, arrays, checksum=stored)
        return p, "checksum mismatch"
    if kind == "weights-shape":  # a consistent file whose weights do not fit its vocabulary
        W = arrays["W.technologies"]
        _write_bundle(p, meta, {**arrays, "W.technologies": W[:-1]})
        return p, (f"weights of technologies have shape {(W.shape[0] - 1, W.shape[1])}, "
                   f"expected {W.shape}")
    marker = tmp_path / f"{kind}-code-ran"
    if kind == "pickle":
        p.write_bytes(pickle.dumps({"model": _Payload(marker)}, protocol=4))
        return p, "is a pickle"
    if kind == "pickle-in-npz":
        arr = np.empty(1, dtype=object)
        arr[0] = _Payload(marker)
        _write_bundle(p, meta, {**arrays, "idf": arr}, checksum="0" * 64)
        return p, "model file is truncated or corrupt (ValueError: Object arrays cannot be loaded"
    raise ValueError(kind)


MODEL_KINDS = ["missing", "directory", "truncated", "damaged", "text", "other-npz", "old-version", "modified",
               "weights-shape", "pickle", "pickle-in-npz"]


@pytest.mark.parametrize("kind", MODEL_KINDS)
def test_bad_model_files_are_refused_before_any_input_is_read(cli, seeds_model, good, tmp_path, kind):
    model, problem = _bad_model(kind, seeds_model, tmp_path)
    r = cli("predict", good[0], "--model", model)
    _clean(r.stderr)
    assert r.exit_code == 2 and r.stdout == ""
    assert r.stderr.startswith(f"newstag: error: {model}: {problem}"), r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert not list(tmp_path.glob("*-code-ran"))  # nothing was unpickled


@pytest.mark.parametrize("verb", ["evaluate", "explain", "info"])
def test_every_verb_refuses_a_pickle_or_an_incompatible_model(cli, seeds_model, good, tmp_path, verb):
    for kind in ("pickle", "old-version"):
        model, problem = _bad_model(kind, seeds_model, tmp_path)
        args = [verb, model] if verb == "info" else [verb, good[0], "--model", model]
        r = cli(*args)
        _clean(r.stderr)
        assert r.exit_code == 2 and f"{model}: {problem}" in r.stderr
    assert not list(tmp_path.glob("*-code-ran"))


# ------------------------------------------------------------------ outputs
def test_output_paths_that_cannot_be_written(cli, seeds_model, good, tmp_path):
    cases = [
        (tmp_path / "no" / "such" / "dir" / "out.jsonl", "cannot write output (No such file or directory)"),
        (good[0] / "out.jsonl", "cannot write output (Not a directory)"),
        (tmp_path, "is a directory"),
    ]
    for out, problem in cases:
        r = cli("predict", good[0], "--model", seeds_model, "--out", out)
        _clean(r.stderr)
        assert r.exit_code == 2 and r.stdout == ""
        assert f"newstag: error: {out}: {problem}" in r.stderr
    r = cli("predict", good[0], "--model", seeds_model, "--errors", good[0] / "errors.jsonl")
    assert r.exit_code == 2 and f"{good[0] / 'errors.jsonl'}: cannot write error file" in r.stderr
    # training checks its --out before it starts, not after the work is done
    r = cli("train", good[0].parent, "--out", good[0] / "model.joblib", "--cv-folds", "0")
    _clean(r.stderr)
    assert r.exit_code == 2 and f"{good[0] / 'model.joblib'}: cannot write here" in r.stderr
    assert "analysing" not in r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no temp files left behind


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_stdout_on_a_full_disk_is_one_line_error(seeds_model, good):
    with open("/dev/full", "w") as full:
        p = subprocess.run(CMD + ["predict", str(good[0]), "--model", str(seeds_model)], stdout=full,
                           stderr=subprocess.PIPE, text=True, timeout=120)
    _clean(p.stderr)
    assert p.returncode == 2
    assert p.stderr.strip() == "newstag: error: <stdout>: cannot write output (No space left on device)"


def test_strict_stops_at_the_first_failure_and_keeps_the_old_output(cli, seeds_model, good, tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    r = cli("predict", good[0], empty, good[1], "--model", seeds_model, "--strict")
    _clean(r.stderr)
    recs = _jsonl(r.stdout)
    assert r.exit_code == 1 and len(recs) == 2 and recs[1]["error"] == f"{empty}: empty file"
    assert "newstag: error: stopped at the first failure (--strict): tagged 1, failed 1" in r.stderr
    out = tmp_path / "out.jsonl"
    out.write_text("old content\n", encoding="utf-8")
    r = cli("predict", good[0], empty, good[1], "--model", seeds_model, "--strict", "--out", out)
    assert r.exit_code == 1 and f"{out} was not written" in r.stderr
    assert out.read_text(encoding="utf-8") == "old content\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.txt", "out.jsonl"]


def test_a_failed_training_run_leaves_the_existing_model_alone(cli, seeds_model, good, tmp_path):
    out = tmp_path / "model.joblib"
    out.write_bytes(seeds_model.read_bytes())
    r = cli("train", good[0], "--out", out)  # one article: too few to train on
    _clean(r.stderr)
    assert r.exit_code == 2
    assert re.search(rf"newstag: error: need at least \d+ annotated articles, got 1; the existing {re.escape(str(out))} "
                     "is unchanged", r.stderr)
    assert out.read_bytes() == seeds_model.read_bytes()
    assert [p.name for p in tmp_path.iterdir()] == ["model.joblib"]


# ------------------------------------------------------------------ real processes: stdin, Ctrl-C
def test_stdin_closed_or_cut_off_early(seeds_model):
    """A real process: stdin not open at all, and a pipe whose writer stops mid-line."""
    base = CMD + ["predict", "-", "--model", str(seeds_model)]
    # stdin not open at all
    p = subprocess.run(base, stdin=subprocess.DEVNULL, preexec_fn=lambda: os.close(0), capture_output=True,
                       text=True, timeout=120)
    _clean(p.stderr)
    assert p.returncode == 1 and "newstag: <stdin>: standard input is closed" in p.stderr
    assert "tagged 0, failed 1" in p.stderr
    # the writer goes away mid-line: the lines before are tagged, the cut one is one error
    lines = (CORPUS / "corpus.jsonl").read_bytes().splitlines(keepends=True)[:4]
    proc = subprocess.Popen(base, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdin.write(b"".join(lines[:3]))
    proc.stdin.flush()
    time.sleep(0.5)
    proc.stdin.write(lines[3][: len(lines[3]) // 2])
    proc.stdin.close()
    out, err = proc.stdout.read(), proc.stderr.read().decode()  # small: no pipe can fill up
    proc.wait(timeout=120)
    _clean(err)
    recs = _jsonl(out.decode())
    assert proc.returncode == 1 and len(recs) == 4 and "tagged 3, failed 1" in err
    assert [r["id"] for r in recs[:3]] == [json.loads(x)["id"] for x in lines[:3]]
    assert re.fullmatch(r"<stdin>:4: .*the input ended (inside a UTF-8 character|mid-line)", recs[3]["error"])


def test_stdin_cut_inside_a_character_or_empty(cli, seeds_model):
    seed = OTHER[0].read_bytes()
    cut = _cjk_offset(seed)
    recs, r = _predict(cli, "-", n_inputs=1, model=seeds_model, input=seed[:cut + 2])
    assert recs[0]["id"] == "stdin" and recs[0]["title"]
    assert f"newstag: warning: <stdin>: truncated inside a UTF-8 character at byte {cut}" in r.stderr
    recs, r = _predict(cli, "-", n_inputs=1, model=seeds_model, input=b"")
    assert recs == [{"id": "stdin", "source": "<stdin>", "error": "<stdin>: empty file"}]


def _interrupt_when(proc: subprocess.Popen, ready, timeout: float = 90) -> None:
    """Send Ctrl-C (SIGINT to the process group, as a terminal does) once ``ready()``."""
    t0 = time.monotonic()
    while not ready():
        assert proc.poll() is None, "finished before it could be interrupted"
        assert time.monotonic() - t0 < timeout, "never got going"
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGINT)


@pytest.mark.parametrize("jobs", [1, 2])
def test_ctrl_c_mid_batch_keeps_the_old_output_file(seeds_model, tmp_path, jobs):
    out = tmp_path / "tags.jsonl"
    out.write_text("old content\n", encoding="utf-8")
    proc = subprocess.Popen(CMD + ["predict", str(CORPUS / "corpus.jsonl"), "--model", str(seeds_model),
                                   "--out", str(out), "--jobs", str(jobs)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=restore_sigint)
    # interrupt once results are being written (the temp file beside --out has grown)
    tmp_glob = str(tmp_path / ".tags.jsonl.*.tmp")
    _interrupt_when(proc, lambda: any(os.path.getsize(f) > 0 for f in glob.glob(tmp_glob)))
    stdout, stderr = proc.communicate(timeout=60)
    _clean(stderr)
    assert proc.returncode == 130, stderr
    (line,) = [ln for ln in stderr.splitlines() if ln.strip()]
    m = re.fullmatch(rf"newstag: interrupted: tagged (\d+), failed 0 before Ctrl-C; {re.escape(str(out))} was not "
                     "written", line)
    assert m and int(m.group(1)) > 0
    assert out.read_text(encoding="utf-8") == "old content\n"
    assert not glob.glob(tmp_glob)


def test_ctrl_c_during_training_keeps_the_old_model(seeds_model, tmp_path):
    out = tmp_path / "model.joblib"
    out.write_bytes(seeds_model.read_bytes())
    proc = subprocess.Popen(CMD + ["train", str(CORPUS / "train"), "--out", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=restore_sigint)
    seen: list[str] = []

    def analysing() -> bool:
        seen.append(proc.stderr.readline())
        return "analysing" in seen[-1]

    _interrupt_when(proc, analysing)
    stdout, stderr = proc.communicate(timeout=60)
    stderr = "".join(seen) + stderr
    _clean(stderr)
    assert proc.returncode == 130, stderr
    assert f"newstag: error: interrupted (Ctrl-C): no model written; the existing {out} is unchanged" in stderr
    assert out.read_bytes() == seeds_model.read_bytes()
    assert [p.name for p in tmp_path.iterdir()] == ["model.joblib"]
