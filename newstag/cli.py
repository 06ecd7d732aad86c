"""The ``newstag`` command line: labels → train → evaluate → predict / explain.

Every verb reads seed files, JSON Lines, plain text, folders or ``-``
(stdin). Errors are one line naming the file and the problem; exit status is
0 only when every input succeeded.
"""
from __future__ import annotations

import json
import os
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import List, Optional

import typer

from . import __version__
from .model import DEFAULT_MODEL


# Whether this process runs `newstag` and nothing else (see _App.__call__).
_PROCESS = {"ours": False}


class _App(typer.Typer):
    """Typer, except that the console script never ends in a Python traceback:
    Ctrl-C anywhere is one line and exit status 130, and an unexpected error is
    one line and status 70 (``NEWSTAG_DEBUG=1`` shows the traceback instead)."""

    def __call__(self, *args, **kwargs):
        _PROCESS["ours"] = True  # the console script (not a test runner invoking a command)
        try:
            return super().__call__(*args, **kwargs)
        except SystemExit as exc:
            # Typer ends a Ctrl-C with a silent exit 130; say what happened
            if _caused_by(exc, KeyboardInterrupt):
                typer.echo("\nnewstag: interrupted (Ctrl-C)", err=True)
            raise
        except KeyboardInterrupt:
            typer.echo("\nnewstag: interrupted (Ctrl-C)", err=True)
            sys.exit(130)
        except BrokenPipeError:  # `newstag ... | head`: the reader went away
            _silence_stdout()
            sys.exit(1)
        except Exception as exc:
            if os.environ.get("NEWSTAG_DEBUG"):
                raise
            typer.echo(f"newstag: internal error: {type(exc).__name__}: {exc} "
                       "(run with NEWSTAG_DEBUG=1 for the traceback, and please report it)", err=True)
            sys.exit(70)


def _caused_by(exc: BaseException, kind: type) -> bool:
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, kind):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


def _silence_stdout() -> None:
    """Point file descriptor 1 at /dev/null after a failed write to stdout, so the
    interpreter's final flush does not fail (and print) a second time."""
    if sys.stdout is not sys.__stdout__:  # not the real stdout (e.g. a test runner's)
        return
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError):
        pass


app = _App(
    add_completion=False,
    no_args_is_help=True,
    rich_markup_mode=None,
    help="Tag Chinese technology news with 行业 (industry) and 技术 (technology) labels, keywords and "
         "event summaries, and train the tagger on your own annotations.\n\n"
         "Workflow: newstag labels → newstag train → newstag evaluate → newstag predict.",
)

SHIPPED = str(DEFAULT_MODEL)


def _die(message: str, code: int = 2) -> None:
    typer.echo(f"newstag: error: {message}", err=True)
    raise typer.Exit(code)


def _progress(total: Optional[int], desc: str, quiet: bool):
    """A tqdm bar on an interactive stderr, nothing in pipes, CI or with --quiet."""
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="art", disable=quiet or not sys.stderr.isatty(), leave=False)


def _load_model(path: str):
    from .model import BundleError, load

    try:
        return load(path)
    except BundleError as exc:
        _die(str(exc))
    except Exception as exc:  # a bundle that verifies but does not fit together
        _die(f"{path}: model bundle is unusable ({type(exc).__name__}: {exc})")


@contextmanager
def _output(path: Optional[str]):
    """Stdout, or a file written atomically (temp file, then rename on success)."""
    if path in (None, "-"):
        yield sys.stdout
        sys.stdout.flush()
        return
    target = Path(path)
    if target.is_dir():
        _die(f"{path}: is a directory (give a file name for --out)")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent if str(target.parent) else ".")
    except OSError as exc:
        _die(f"{path}: cannot write output ({exc.strerror or exc})")
    ok = False
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            yield fh
        # mkstemp's 0600 would hide the output from other users
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, target)
        ok = True
    except OSError as exc:
        _die(f"{path}: cannot write output ({exc.strerror or exc}); an existing {path} is unchanged")
    finally:
        if not ok:
            try:
                os.unlink(tmp)
            except OSError:
                pass


def _read_or_die(paths):
    from .model.reader import load_articles

    articles, failures = load_articles(paths)
    for f in failures:
        typer.echo(f"newstag: warning: {f.error}", err=True)
    _warn_articles(articles)
    if not articles:
        _die("no readable articles in " + ", ".join(map(str, paths)))
    return articles, failures


def _warn_articles(articles) -> None:
    """Reader warnings (decoded as GB18030, truncated, cut to length) on stderr."""
    for art in articles:
        for w in art.warnings:
            typer.echo(f"newstag: warning: {w}", err=True)


def _warn_unmapped(articles, taxonomy_data=None) -> None:
    """Raw labels that map to no canonical label are named, never dropped silently."""
    from .model.labels import FIELD_NAMES, SETS, audit, load_taxonomy, taxonomy_from_dict

    taxonomy = taxonomy_from_dict(taxonomy_data) if taxonomy_data else load_taxonomy()
    report = audit(articles, taxonomy)
    for name in SETS:
        um = report[name]["unmapped"]
        if um:
            typer.echo(f"newstag: warning: {len(um)} raw {FIELD_NAMES[name]} labels map to no {FIELD_NAMES[name]} "
                       "label and are not scored: "
                       + ", ".join(f"{raw} ({report[name]['counts'][raw]})" for raw in um), err=True)


def _check_writable(path: str) -> None:
    """Fail before hours of work if ``path`` cannot be created: its nearest existing
    folder must be a writable folder, and ``path`` itself not a folder."""
    target = Path(path)
    if target.is_dir():
        _die(f"{path}: is a directory (give a file name)")
    parent = target.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        _die(f"{path}: cannot write here ({parent} is not a directory)")
    if not os.access(parent, os.W_OK | os.X_OK):
        _die(f"{path}: cannot write here (no write permission in {parent})")


# ------------------------------------------------------------------------- labels
@app.command()
def labels(
    paths: List[str] = typer.Argument(..., help="Annotated seed files, JSONL files or folders."),
    as_json: bool = typer.Option(False, "--json", help="Print the audit as JSON."),
):
    """Audit free-form labels: every raw label with its count and canonical mapping.

    \b
    Example:
      newstag labels seeds/
      newstag labels ../shared/seeds/000_69f682ce4369dada.txt --json
    Raw labels that map to nothing are listed at the end; training reports
    them too instead of dropping them silently.
    """
    from .model.labels import FIELD_NAMES, SETS, audit, load_taxonomy

    articles, failures = _read_or_die(paths)
    report = audit(articles, load_taxonomy())
    if as_json:
        typer.echo(json.dumps({s: {"counts": dict(r["counts"].most_common()), "mapping": r["mapping"],
                                   "unmapped": r["unmapped"]} for s, r in report.items()},
                              ensure_ascii=False, indent=2))
    else:
        for name in SETS:
            r = report[name]
            typer.echo(f"{FIELD_NAMES[name]} ({name}): {len(r['counts'])} distinct raw labels")
            for raw, n in sorted(r["counts"].items(), key=lambda kv: (-kv[1], kv[0])):
                typer.echo(f"  {n:5d}  {raw}  →  {', '.join(r['mapping'][raw]) or '(unmapped)'}")
        for name in SETS:
            um = report[name]["unmapped"]
            typer.echo(f"unmapped {FIELD_NAMES[name]}: " + (", ".join(um) if um else "none"))
    if failures:
        raise typer.Exit(1)


# ------------------------------------------------------------------------- train
@app.command()
def train(
    paths: List[str] = typer.Argument(None, help="Annotated seed files, JSONL files or folders [default: seeds/]."),
    out: str = typer.Option("artifacts/model.joblib", "--out", "-o", help="Where to write the model bundle."),
    tokenizer: str = typer.Option("rjieba", help="Tokeniser backend: rjieba (fast) or jieba."),
    min_examples: int = typer.Option(5, help="Leave out labels with fewer positive examples."),
    cv_folds: int = typer.Option(5, help="Cross-validation folds for threshold tuning (0 = off)."),
    c: float = typer.Option(4.0, "--C", help="Inverse regularisation strength."),
    seed: int = typer.Option(0, help="Random seed (folds); same data + settings → same model."),
    idf_corpus: Optional[List[str]] = typer.Option(None, help="Unlabelled JSONL/text to pool into the IDF."),
    eval_paths: Optional[List[str]] = typer.Option(None, "--eval", help="Held-out annotated data to score and record in the bundle."),
    quiet: bool = typer.Option(False, "--quiet", "-q"),
):
    """Train a model on annotated articles and write a bundle.

    \b
    Example:
      newstag train                                   # the starter seeds in seeds/
      newstag train ../shared/corpus/train --out artifacts/train-only.joblib \\
          --eval ../shared/corpus/dev --eval ../shared/corpus/other
    The bundle records label sets, tuned thresholds, settings, library
    versions, a fingerprint of the training data and cross-validated metrics.
    """
    from .model.labels import FIELD_NAMES, SETS
    from .model.reader import Article, read_articles
    from .training.train import TrainSettings, train as run_train

    paths = paths or ["seeds"]
    try:
        settings = TrainSettings(C=c, min_examples=min_examples, cv_folds=cv_folds, tokenizer=tokenizer,
                                 seed=seed).validate()
    except ValueError as exc:
        _die(str(exc))
    say = (lambda m: None) if quiet else (lambda m: typer.echo(f"newstag: {m}", err=True))
    # fail now, not after training: an unwritable --out, nothing readable in the inputs;
    # unreadable inputs are named (and skipped) before training starts
    _check_writable(out)
    _read_or_die(paths)
    idf_texts = None
    if idf_corpus:
        def idf_pairs():
            for r in read_articles(idf_corpus):
                if isinstance(r, Article):
                    yield r.title, r.text
                else:
                    typer.echo(f"newstag: warning: --idf-corpus: {r.error}", err=True)

        idf_texts = idf_pairs()
    holdout = {}
    for p in eval_paths or []:
        arts, _ = _read_or_die([p])
        holdout[Path(p).name or p] = arts
    kept = f"; the existing {out} is unchanged" if Path(out).exists() else ""
    try:
        meta, data, failures = run_train(paths, out, settings, idf_texts=idf_texts, progress=say, holdout=holdout)
    except ValueError as exc:
        _die(f"{exc}{kept}")
    except OSError as exc:
        _die(f"{out}: cannot write model ({exc.strerror or exc}){kept}")
    except KeyboardInterrupt:
        _die(f"interrupted (Ctrl-C): no model written{kept}", 130)
    if data.skipped:
        typer.echo(f"newstag: warning: {len(data.skipped)} articles carry no label fields and were not used "
                   f"(e.g. {data.skipped[0]})", err=True)
    typer.echo(f"trained on {meta['data']['n_articles']} articles in {meta['train_seconds']}s → {out}")
    for name in SETS:
        labs = meta["labels"][name]
        typer.echo(f"{FIELD_NAMES[name]}: {len(labs)} labels" + (
            f"; left out (fewer than {min_examples} examples): "
            + ", ".join(f"{k} ({v})" for k, v in meta["excluded_labels"][name].items())
            if meta["excluded_labels"][name] else ""))
        um = meta["data"]["unmapped_labels"][name]
        if um:
            typer.echo(f"  unmapped raw {FIELD_NAMES[name]} labels (not used): "
                       + ", ".join(f"{k} ({v})" for k, v in um.items()))
        for split, m in meta["metrics"].items():
            mm = m[name]["micro"]
            typer.echo(f"  {split}: micro P {mm['precision']:.3f} R {mm['recall']:.3f} F1 {mm['f1']:.3f}, "
                       f"macro F1 {m[name]['macro']['f1']:.3f}")


# ------------------------------------------------------------------------- evaluate
@app.command()
def evaluate(
    paths: List[str] = typer.Argument(..., help="Annotated seed files, JSONL files or folders."),
    model: str = typer.Option(SHIPPED, "--model", "-m", help="Model bundle."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    top_k: Optional[int] = typer.Option(None, help="Override thresholds: at most K labels per set."),
    min_score: Optional[float] = typer.Option(None, help="Override thresholds: one score cut-off for all labels."),
    quiet: bool = typer.Option(False, "--quiet", "-q"),
):
    """Score a model on annotated articles, per label, beside the keyword-dictionary baseline.

    \b
    Example:
      newstag train ../shared/corpus/train --out /tmp/train.joblib
      newstag evaluate ../shared/corpus/dev --model /tmp/train.joblib
      newstag evaluate ../shared/corpus/other --model /tmp/train.joblib --json
    """
    from .model.labels import FIELD_NAMES, SETS
    from .training.evaluate import evaluate_tagger
    from .training.metrics import format_report

    tagger = _load_model(model)
    articles, failures = _read_or_die(paths)
    _warn_unmapped(articles, tagger.meta.get("taxonomy"))
    with _progress(len(articles), "evaluating", quiet) as bar:
        result = evaluate_tagger(tagger, articles, top_k=top_k, min_score=min_score,
                                 progress=lambda n: bar.update(1))
    if result["n_articles"] == 0:
        _die("none of the articles carries 行业/技术 annotations; nothing to evaluate")
    if as_json:
        typer.echo(json.dumps({k: result[k] for k in ("model", "dictionary", "n_articles", "skipped_unannotated")},
                              ensure_ascii=False, indent=2))
    else:
        typer.echo(f"model: {model}\narticles: {result['n_articles']}"
                   + (f" (skipped {result['skipped_unannotated']} unannotated)" if result["skipped_unannotated"] else ""))
        for name in SETS:
            typer.echo("")
            typer.echo(format_report(f"{FIELD_NAMES[name]}", result["model"][name], result["dictionary"][name]))
    if failures:
        raise typer.Exit(1)


# ------------------------------------------------------------------------- predict
@app.command()
def predict(
    paths: List[str] = typer.Argument(..., help="Files, folders (recursive .txt/.jsonl) or - for stdin."),
    model: str = typer.Option(SHIPPED, "--model", "-m", help="Model bundle."),
    fmt: str = typer.Option("jsonl", "--format", "-f", help="jsonl | csv | seed | table"),
    out: Optional[str] = typer.Option(None, "--out", "-o", help="Output file (written atomically) [default: stdout]."),
    out_dir: Optional[str] = typer.Option(None, "--out-dir", help="With --format seed: one seed file per article, DIR/<id>.txt."),
    top_k: Optional[int] = typer.Option(None, help="At most K labels per set (overrides thresholds' count)."),
    min_score: Optional[float] = typer.Option(None, help="One score cut-off for every label, instead of the tuned thresholds."),
    jobs: int = typer.Option(1, "--jobs", "-j", help="Worker processes (output order is kept)."),
    dask: Optional[str] = typer.Option(None, "--dask", metavar="SCHEDULER",
                                       help="Tag on a Dask cluster (e.g. tcp://host:8786); same output as a local run."),
    errors: Optional[str] = typer.Option(None, "--errors", help="Also write error records (JSONL) to this file."),
    strict: bool = typer.Option(False, "--strict", help="Stop at the first input that fails."),
    explain_: bool = typer.Option(False, "--explain", help="Add, per label, the terms that pushed its score (jsonl)."),
    labels_only: bool = typer.Option(False, "--labels-only", help="Skip keywords and summary: about 1.5x as fast."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar or summary line."),
):
    """Tag articles: one result (or error record) per input article, in input order.

    \b
    Example:
      newstag predict ../shared/seeds/000_69f682ce4369dada.txt
      newstag predict articles/ --format csv --out tags.csv --jobs 2
      newstag predict big.jsonl --out tags.jsonl --dask tcp://scheduler:8786
      cat batch.jsonl | newstag predict - --format table
      newstag predict new/ --format seed --out-dir to-review/   # correct, then: newstag train to-review/
    JSONL result: {"id", "source", "title", "industries": [{"label", "score"}],
    "technologies": [...], "keywords": [...], "summary": [...]}; a failed input
    gives {"id", "source", "error"}. Exit status 0 only if nothing failed.
    """
    from .model.pipeline import Block, PipelineError, settle_gc, tag_records
    from .model.reader import read_articles
    from .model.writers import FORMATS, SeedDirWriter, Writer

    if fmt not in FORMATS:
        _die(f"--format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    if out_dir is not None and (fmt != "seed" or out):
        _die("--out-dir works with --format seed and without --out")
    if out_dir is not None and Path(out_dir).exists() and not Path(out_dir).is_dir():
        _die(f"{out_dir}: is not a directory")
    if top_k is not None and top_k < 1:
        _die("--top-k must be at least 1")
    if min_score is not None and not 0 <= min_score <= 1:
        _die("--min-score must be between 0 and 1")
    if jobs < 1:
        _die("--jobs must be at least 1")
    tagger = _load_model(model)  # verify before reading anything, and fail fast
    if _PROCESS["ours"]:
        settle_gc()
    if explain_ and (jobs > 1 or dask or fmt != "jsonl"):
        _die("--explain works with --format jsonl and --jobs 1 (not --dask)")
    err_stream = None
    if errors:
        try:
            err_stream = open(errors, "w", encoding="utf-8")
        except OSError as exc:
            _die(f"{errors}: cannot write error file ({exc.strerror or exc})")
    tagged = failed = 0
    # with workers (or Dask), JSON Lines are parsed where they are tagged: this
    # process only reads lines and writes results, so it keeps up with more workers
    records = read_articles(paths, raw=jobs > 1 or bool(dask))
    try:
        preformat = fmt == "jsonl" and (jobs > 1 or bool(dask))
        results = tag_records(records, tagger=tagger, model_path=model, jobs=jobs, dask=dask, top_k=top_k,
                              min_score=min_score, with_text=fmt == "seed", explain=explain_, labels_only=labels_only,
                              preformat=preformat, blocks=preformat and not strict)
    except BaseException as exc:  # workers start here: they cannot, or Ctrl-C while they get ready
        if err_stream:  # nothing was tagged: leave no empty error file behind
            err_stream.close()
            Path(errors).unlink(missing_ok=True)
        if isinstance(exc, PipelineError):
            _die(str(exc))
        raise
    interrupted = False
    try:
        with _output(out) as stream, _progress(None, "tagging", quiet) as bar:
            writer = SeedDirWriter(out_dir) if out_dir else Writer(stream, fmt)
            for rec in results:
                if isinstance(rec, Block):  # a worker's chunk, its JSON Lines in one string
                    for note in rec.notes:
                        _report(note, err_stream)
                    errors = sum("error" in note for note in rec.notes)
                    failed, tagged = failed + errors, tagged + rec.count - errors
                    writer.write_lines(rec.text)
                    bar.update(rec.count)
                    continue
                _report(rec, err_stream)
                if "error" in rec:
                    failed += 1
                    if strict:
                        writer.write(rec)
                        _die(f"stopped at the first failure (--strict): tagged {tagged}, failed {failed}"
                             + (f"; {out} was not written" if out else ""), 1)
                else:
                    tagged += 1
                writer.write(rec)
                bar.update(1)
    except PipelineError as exc:
        _die(str(exc))
    except KeyboardInterrupt:
        interrupted = True
    except BrokenPipeError:
        # the reader went away (e.g. `| head`): stop quietly, as Unix tools do
        results.close()  # os._exit skips `finally`: stop --jobs workers before they write to a dead pipe
        if err_stream:
            err_stream.close()  # (os._exit would drop what is still buffered)
        sys.stderr.close()
        os._exit(0 if not failed else 1)
    except OSError as exc:  # stdout on a full disk, a closed descriptor, ...
        _silence_stdout()
        _die(f"{out or '<stdout>'}: cannot write output ({exc.strerror or exc})")
    finally:
        results.close()  # stops worker processes / Dask tasks still running (Ctrl-C, --strict)
        if err_stream:
            err_stream.close()
    if interrupted:
        typer.echo(f"newstag: interrupted: tagged {tagged}, failed {failed} before Ctrl-C"
                   + (f"; {out} was not written" if out else ""), err=True)
        raise typer.Exit(130)
    if not quiet:
        typer.echo(f"tagged {tagged}, failed {failed}", err=True)
    _finish(1 if failed else 0)


def _report(rec: dict, err_stream) -> None:
    """On stderr, an error record's message (and the record in the ``--errors``
    file, if any) or a result's warnings."""
    from .model.writers import jsonl_line

    if "error" in rec:
        typer.echo(f"newstag: {rec['error']}", err=True)
        if err_stream:
            err_stream.write(jsonl_line(rec))
    for w in rec.get("warnings", ()):
        typer.echo(f"newstag: warning: {w}", err=True)


def _finish(code: int) -> None:
    """End a finished ``newstag predict``: in the console script's own process,
    at once, without the interpreter's teardown, which freed the lexicon, the
    model and the kernels' machine code object by object for 0.05-0.2 s after a
    large batch. By now the output is flushed and closed, the error file
    closed and the workers stopped."""
    if not _PROCESS["ours"]:  # (a test runner, a caller of the command function)
        if code:
            raise typer.Exit(code)
        return
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass  # (written and flushed before; nothing is left to lose)
    os._exit(code)


# ------------------------------------------------------------------------- explain
@app.command()
def explain(
    path: str = typer.Argument(..., help="One article (seed, plain text or a JSONL file's first line)."),
    model: str = typer.Option(SHIPPED, "--model", "-m", help="Model bundle."),
    terms: int = typer.Option(6, help="Terms to show per label."),
    as_json: bool = typer.Option(False, "--json"),
):
    """Show why each label fired: the terms that pushed its score most, with their weights.

    \b
    Example:
      newstag explain ../shared/seeds/000_69f682ce4369dada.txt
    For every label given, and for the best label just missed, prints its
    score, its threshold and the top terms (w: word, c: character n-gram,
    tax: taxonomy evidence) with their contribution to the score.
    """
    from .model.labels import FIELD_NAMES
    from .model.reader import Article, read_articles

    tagger = _load_model(model)
    rec = next(iter(read_articles([path])), None)
    if rec is None:
        _die(f"{path}: no article found")
    if not isinstance(rec, Article):
        _die(rec.error, 1)
    result = tagger.explain(rec.title, rec.text, n_terms=terms)
    if as_json:
        typer.echo(json.dumps({"id": rec.id, "title": rec.title, **result}, ensure_ascii=False, indent=2))
        return
    typer.echo(f"{rec.id}  {rec.title}")
    for name, rows in result.items():
        typer.echo(f"{FIELD_NAMES[name]}:")
        for row in rows:
            mark = "+" if row["status"] == "given" else "-"
            typer.echo(f"  {mark} {row['label']}  score {row['score']:.3f} (threshold {row['threshold']:.3f})"
                       + (f", passage {row['passage']}" if row["passage"] else ""))
            for t in row["terms"]:
                typer.echo(f"      {t['weight']:+.3f}  {t['term']}")
            if row["evidence"]:
                typer.echo("      taxonomy terms in the article: "
                           + ", ".join(f"{term}×{n}" for term, n in row["evidence"].items()))


# ------------------------------------------------------------------------- info
@app.command()
def info(model: str = typer.Argument(SHIPPED, help="Model bundle.")):
    """Print a model bundle's card: data, settings, labels, thresholds and metrics.

    \b
    Example:
      newstag info artifacts/model.joblib
    """
    tagger = _load_model(model)
    meta = dict(tagger.meta)
    meta.pop("taxonomy", None)
    typer.echo(json.dumps(meta, ensure_ascii=False, indent=2))


def _version(value: bool):
    if value:
        typer.echo(f"newstag {__version__}")
        raise typer.Exit()


@app.callback()
def main(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                      help="Show the version and exit.")):
    """newstag: tag Chinese technology news."""


if __name__ == "__main__":
    app()
