"""Result records and their output formats: jsonl, csv, seed and table.

A result is a plain dict (what JSONL prints): ``id``, ``source``, ``title``,
``industries``/``technologies`` (lists of ``{"label", "score"}`` sorted by
score), ``keywords`` and ``summary``; an input that failed is ``{"id",
"source", "error"}`` instead.
"""
from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import IO

from .reader import Article, Failure, format_seed
from .tagger import Prediction

FORMATS = ("jsonl", "csv", "seed", "table")
CSV_COLUMNS = ("id", "source", "title", "industries", "technologies", "keywords", "summary", "error")


def result_record(article: Article, pred: Prediction) -> dict:
    rec = {
        "id": article.id,
        "source": article.source,
        "title": article.title,
        "industries": [{"label": lab, "score": s} for lab, s in pred.industries],
        "technologies": [{"label": lab, "score": s} for lab, s in pred.technologies],
        "keywords": pred.keywords,
        "summary": pred.summary,
    }
    if article.link:
        rec["link"] = article.link
    if article.warnings:
        rec["warnings"] = article.warnings
    return rec


def error_record(failure: Failure) -> dict:
    return {"id": failure.id, "source": failure.source, "error": failure.error}


def jsonl_line(rec: dict) -> str:
    """A record as one JSON line (keys starting with ``_`` are not printed)."""
    return rec.get("_jsonl") or json.dumps({k: v for k, v in rec.items() if not k.startswith("_")},
                                           ensure_ascii=False) + "\n"


def preformatted(rec: dict) -> dict:
    """``rec`` with its JSON line made (``_jsonl``) and, besides, only what a caller
    still reads (``id``, ``source``, ``error``, ``warnings``): a worker process
    formats, so the process writing the output does little more than write."""
    out = {k: rec[k] for k in ("id", "source", "error", "warnings") if k in rec}
    out["_jsonl"] = jsonl_line(rec)
    return out


class Writer:
    """Writes result/error records to a text stream in one of :data:`FORMATS`.

    ``with_text``: the seed format needs the article body; the pipeline passes
    it in ``record["_text"]``, which no other format prints.
    """

    def __init__(self, stream: IO[str], fmt: str = "jsonl"):
        if fmt not in FORMATS:
            raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
        self.stream = stream
        self.fmt = fmt
        self._csv = None
        self._first = True

    def write(self, rec: dict) -> None:
        getattr(self, f"_write_{self.fmt}")(rec)

    def write_lines(self, text: str) -> None:
        """Results already made into JSON Lines (format jsonl only; see :class:`.pipeline.Block`)."""
        if self.fmt != "jsonl":
            raise ValueError(f"JSON Lines cannot be written as {self.fmt}")
        self.stream.write(text)

    # ---------------------------------------------------------------- formats
    def _write_jsonl(self, rec: dict) -> None:
        self.stream.write(jsonl_line(rec))

    def _write_csv(self, rec: dict) -> None:
        if self._csv is None:
            self._csv = csv.writer(self.stream)
            self._csv.writerow(CSV_COLUMNS)
        self._csv.writerow([
            rec.get("id", ""), rec.get("source", ""), rec.get("title", ""),
            "; ".join(f"{x['label']}:{x['score']:.2f}" for x in rec.get("industries", [])),
            "; ".join(f"{x['label']}:{x['score']:.2f}" for x in rec.get("technologies", [])),
            "; ".join(rec.get("keywords", [])),
            " ".join(rec.get("summary", [])),
            rec.get("error", ""),
        ])

    def _write_seed(self, rec: dict) -> None:
        if "error" in rec:
            return  # errors go to stderr / --errors; a seed stream holds articles only
        if not self._first:
            self.stream.write("\n")
        self._first = False
        self.stream.write(seed_text(rec))

    def _write_table(self, rec: dict) -> None:
        if "error" in rec:
            self.stream.write(f"{rec['id']}\tERROR\t{rec['error']}\n")
            return
        ind = ", ".join(f"{x['label']}({x['score']:.2f})" for x in rec["industries"]) or "-"
        tech = ", ".join(f"{x['label']}({x['score']:.2f})" for x in rec["technologies"]) or "-"
        kws = ", ".join(rec.get("keywords", [])) or "-"
        self.stream.write(f"{rec['id']}  {rec.get('title', '')}\n  行业: {ind}\n  技术: {tech}\n  关键词: {kws}\n")
        if rec.get("summary"):
            self.stream.write("  摘要: " + " ".join(rec["summary"]) + "\n")


def seed_text(rec: dict) -> str:
    """A complete seed-format record for one result (body from ``rec["_text"]``)."""
    return format_seed({
        "标题": rec.get("title", ""),
        "链接": rec.get("link", ""),
        "总结": rec.get("_text", ""),
        "关键词": rec.get("keywords", []),
        "AI技术": [x["label"] for x in rec.get("technologies", [])],
        "行业": [x["label"] for x in rec.get("industries", [])],
        "重大事件摘要": rec.get("summary", []),
    })


class SeedDirWriter:
    """Writes each result as its own seed file ``DIR/<id>.txt`` (errors are skipped),
    ready to be corrected by an annotator and fed back to ``newstag train``.

    File names come from the article id, with characters other than letters,
    digits, ``.``, ``-`` and ``_`` replaced by ``_``; a repeated id gets ``-2``,
    ``-3``… Each file is written atomically.
    """

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self._used: set[str] = set()
        self.written: list[Path] = []

    def write(self, rec: dict) -> None:
        if "error" in rec:
            return
        from .bundle import atomic_write_bytes

        stem = re.sub(r"[^\w.\-]", "_", str(rec.get("id") or "article")).strip("._") or "article"
        name, n = stem, 1
        while name in self._used:
            n += 1
            name = f"{stem}-{n}"
        self._used.add(name)
        path = self.folder / f"{name}.txt"
        atomic_write_bytes(path, seed_text(rec).encode("utf-8"))
        self.written.append(path)


def render(records: list[dict], fmt: str) -> str:
    """All records in one string (for tests and small batches)."""
    buf = io.StringIO()
    w = Writer(buf, fmt)
    for r in records:
        w.write(r)
    return buf.getvalue()
