"""`predict --jobs N`: same output as one process, bounded memory, clean stops."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import CORPUS, ROOT, SEED, SHIPPED, restore_sigint

from newstag.model.pipeline import PipelineError, tag_records
from newstag.model.reader import Failure, read_articles


@pytest.fixture(scope="module")
def mixed_input(tmp_path_factory):
    """600 corpus articles as JSONL with a broken line and a blank line in the
    middle and a title too long (a warning) further on, plus two seed files:
    every kind of record, in a known order, and more than two chunks of 256 (so
    that several workers take part)."""
    d = tmp_path_factory.mktemp("jobs")
    lines = (CORPUS / "corpus.jsonl").read_text(encoding="utf-8").splitlines()[:600]
    long_title = json.loads(lines[300])
    long_title["title"] *= 40
    lines[300] = json.dumps(long_title, ensure_ascii=False)
    lines[70:70] = ["{not json", ""]
    big = d / "articles.jsonl"
    big.write_text("\n".join(lines) + "\n", encoding="utf-8")
    seeds = sorted((CORPUS / "dev").glob("*.txt"))[:2]
    return [big, SEED, *seeds]


def test_two_jobs_give_byte_identical_output(cli, mixed_input, tmp_path):
    one, two = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    r1 = cli("predict", *mixed_input, "--out", one, "--jobs", "1")
    r2 = cli("predict", *mixed_input, "--out", two, "--jobs", "2")
    assert r1.exit_code == r2.exit_code == 1  # the broken line fails in both
    assert two.read_bytes() == one.read_bytes()
    recs = [json.loads(x) for x in one.read_text(encoding="utf-8").splitlines()]
    assert len(recs) == 600 + 1 + 3  # 600 articles, 1 error record, the seeds
    # output order is input order: the error sits where the broken line was
    assert "error" in recs[70] and recs[70]["source"].endswith("articles.jsonl:71")
    assert recs[71]["source"].endswith("articles.jsonl:73")
    assert [r["id"] for r in recs[-3:]] == [p.stem for p in mixed_input[1:]]


@pytest.mark.parametrize("fmt", ["csv", "table", "seed"])
def test_two_jobs_give_byte_identical_output_in_every_format(cli, mixed_input, tmp_path, fmt):
    one, two = tmp_path / f"one.{fmt}", tmp_path / f"two.{fmt}"
    r1 = cli("predict", *mixed_input, "--format", fmt, "--out", one, "--jobs", "1")
    r2 = cli("predict", *mixed_input, "--format", fmt, "--out", two, "--jobs", "2")
    assert r1.exit_code == r2.exit_code == 1
    assert two.read_bytes() == one.read_bytes() and one.stat().st_size > 100_000


def test_workers_copied_from_the_command_write_what_one_process_writes(cli, mixed_input, tmp_path):
    """A fresh `newstag predict --jobs 2` forks its workers from itself (model and
    machine code loaded once) and has them format the JSON Lines: its output and
    its --errors file must equal a one-process run's, byte for byte."""
    one, two = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    err1, err2 = tmp_path / "err1.jsonl", tmp_path / "err2.jsonl"
    r1 = cli("predict", *mixed_input, "--out", one, "--errors", err1, "--jobs", "1")
    exe = ROOT / ".venv" / "bin" / "newstag"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "newstag.cli"]
    r2 = subprocess.run(cmd + ["predict", *map(str, mixed_input), "--out", str(two), "--errors", str(err2),
                               "--jobs", "2"], capture_output=True, text=True, timeout=300)
    assert r1.exit_code == r2.returncode == 1, r2.stderr  # the broken line fails in both
    assert two.read_bytes() == one.read_bytes()
    assert err2.read_bytes() == err1.read_bytes()
    errors = [json.loads(x) for x in err1.read_text(encoding="utf-8").splitlines()]
    assert [sorted(e) for e in errors] == [["error", "id", "source"]]
    # the same messages, in the same order: the error, the warning, the summary
    assert r2.stderr == r1.stderr, (r1.stderr, r2.stderr)
    assert r2.stderr.count("newstag: ") == 2 and "articles.jsonl:71" in r2.stderr, r2.stderr
    assert "newstag: warning: " in r2.stderr and "articles.jsonl:303" in r2.stderr, r2.stderr
    # the command ends its process without the interpreter's teardown (cli._finish):
    # nothing written to a pipe may be lost (stdout buffered, as it is by default),
    # and the exit status stays
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    r3 = subprocess.run(cmd + ["predict", *map(str, mixed_input)], capture_output=True, timeout=300, env=env)
    assert r3.returncode == 1 and r3.stdout == one.read_bytes()
    assert r3.stderr.decode().endswith(f"tagged {len(one.read_bytes().splitlines()) - 1}, failed 1\n")


def test_tagging_makes_no_reference_cycles(mixed_input):
    """`newstag predict` makes garbage collection rare (``settle_gc``), which is
    only safe while reading, tagging and formatting leave nothing for it to
    collect: all their garbage goes by reference counting."""
    import gc

    import newstag
    from newstag.model import kernels
    from newstag.model.writers import jsonl_line

    tagger = newstag.load(SHIPPED)
    kernels.warm(tagger)  # loading machine code makes cycles, once; so does first use
    assert len(list(tag_records(read_articles([SEED]), tagger=tagger))) == 1
    gc.collect()
    gc.disable()
    try:
        lines = [jsonl_line(r) for r in tag_records(read_articles(mixed_input), tagger=tagger)]
        found = gc.collect()
    finally:
        gc.enable()
    assert len(lines) == 604 and sum('"error"' in x for x in lines) == 1
    assert found == 0


def test_predict_invoked_inside_another_program_leaves_its_garbage_collector_alone(cli, tmp_path):
    """Only the `newstag` process itself settles garbage collection (``settle_gc``):
    the settings are process-wide, and an object frozen while alive is never
    collected if it dies later in a cycle (a test runner's fixtures, say)."""
    import gc

    before = gc.get_threshold(), gc.get_freeze_count()
    r = cli("predict", SEED, "--out", tmp_path / "out.jsonl")
    assert r.exit_code == 0, r.stderr
    assert (gc.get_threshold(), gc.get_freeze_count()) == before


def test_workers_pull_input_lazily():
    """Only a bounded number of chunks is read ahead of the consumer, however long the input."""
    pulled = 0

    def endless():
        nonlocal pulled
        while True:
            pulled += 1
            yield Failure(str(pulled), "gen", f"gen: record {pulled}")

    results = tag_records(endless(), model_path=SHIPPED, jobs=2, chunk_size=8)
    first = [next(results) for _ in range(20)]
    results.close()
    assert [r["id"] for r in first] == [str(i) for i in range(1, 21)]
    # 2 * jobs + 2 chunks in flight, plus the one being consumed
    assert pulled <= (2 * 2 + 2 + 1) * 8 + 8


def test_worker_that_cannot_load_the_model_stops_the_run(tmp_path):
    bad = tmp_path / "bad.joblib"
    bad.write_bytes(SHIPPED.read_bytes()[:5000])  # truncated bundle
    records = read_articles([SEED])
    with pytest.raises(PipelineError, match="cannot load the model"):
        list(tag_records(records, model_path=bad, jobs=2))


def test_ctrl_c_stops_workers_and_leaves_no_output(tmp_path):
    out = tmp_path / "tags.jsonl"
    exe = ROOT / ".venv" / "bin" / "newstag"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "newstag.cli"]
    proc = subprocess.Popen(cmd + ["predict", str(CORPUS / "corpus.jsonl"), "--jobs", "2", "--out", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=restore_sigint)
    # wait until results are being written (the whole file takes minutes)
    deadline = time.monotonic() + 120
    while not any(f.stat().st_size for f in tmp_path.glob(".tags.jsonl.*")):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "predict wrote nothing in 120 s"
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C sends: the whole process group
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    assert not out.exists() and not list(tmp_path.glob(".tags.jsonl.*"))
    _assert_group_ends(proc, "worker processes outlived the interrupted run")  # fork server too


def test_ctrl_c_while_the_workers_get_ready_ends_cleanly(tmp_path):
    """Ctrl-C during the start-up of `--jobs 2`, just before or while the kernels
    load for the workers (before any worker exists; numba loads them through
    ctypes callbacks, which would swallow a KeyboardInterrupt, so it is held
    until they are loaded): exit 130, one line, no traceback, and no output or
    error file left behind."""
    out, errors = tmp_path / "tags.jsonl", tmp_path / "errors.jsonl"
    exe = ROOT / ".venv" / "bin" / "newstag"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "newstag.cli"]
    proc = subprocess.Popen(cmd + ["predict", str(CORPUS / "corpus.jsonl"), "--jobs", "2", "--out", str(out),
                                   "--errors", str(errors)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=restore_sigint)
    # the error file is opened once the model is loaded, right before the kernels
    # load for the workers (under a second; the corpus then takes minutes)
    deadline = time.monotonic() + 120
    while not errors.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "predict did not start in 120 s"
        time.sleep(0.005)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err, err
    assert len(err.strip().splitlines()) == 1, err
    assert not out.exists() and not list(tmp_path.glob(".tags.jsonl.*"))
    assert not errors.exists()  # nothing was tagged: no empty error file left behind
    _assert_group_ends(proc, "processes outlived the interrupted run")


def test_reader_going_away_stops_workers_quietly():
    """`newstag predict big.jsonl --jobs 2 | head -1`: exit 0, no worker tracebacks."""
    exe = ROOT / ".venv" / "bin" / "newstag"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "newstag.cli"]
    proc = subprocess.Popen(cmd + ["predict", str(CORPUS / "corpus.jsonl"), "--jobs", "2"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    first = json.loads(proc.stdout.readline())
    proc.stdout.close()  # what `head -1` does after its line
    proc.stdout = None
    _, err = proc.communicate(timeout=120)
    assert first["source"].endswith("corpus.jsonl:1")
    assert proc.returncode == 0, err
    assert "Traceback" not in err and "leaked" not in err, err
    _assert_group_ends(proc, "worker processes outlived the run")


def test_workers_that_cannot_start_give_one_line_and_exit_2(cli, monkeypatch, tmp_path):
    """No process to be had (a process limit, no memory to fork): one line, exit 2, no output."""
    import multiprocessing.process

    def refuse(self):
        raise BlockingIOError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(multiprocessing.process.BaseProcess, "start", refuse)
    out, errors = tmp_path / "tags.jsonl", tmp_path / "errors.jsonl"
    r = cli("predict", SEED, "--jobs", "2", "--out", out, "--errors", errors)
    assert r.exit_code == 2, r.output
    assert r.stderr.strip() == ("newstag: error: cannot start 2 worker processes (Resource temporarily "
                                "unavailable); try fewer --jobs")
    assert not out.exists()
    assert not errors.exists()  # (nothing was tagged: no empty error file left behind)


def test_a_killed_worker_stops_the_run_with_an_error(tmp_path):
    """A worker killed mid-run (the OOM killer, a crash) must not hang the run,
    as it did with multiprocessing.Pool (which waited for the lost chunk forever):
    one line naming the articles it held, exit 2, no output file, no process left."""
    out = tmp_path / "tags.jsonl"
    exe = ROOT / ".venv" / "bin" / "newstag"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "newstag.cli"]
    big = CORPUS / "corpus.jsonl"
    proc = subprocess.Popen(cmd + ["predict", str(big), str(big), "--jobs", "2", "--out", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # the workers: forked by the command itself
        pids = children.read_text().split() if children.exists() else []
        if len(pids) >= 2:
            break
        time.sleep(0.05)
    else:
        proc.kill()
        pytest.fail("no worker processes appeared")
    time.sleep(0.5)  # mid-chunk
    os.kill(int(pids[-1]), signal.SIGKILL)
    try:
        _, err = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # (a hung run must not outlive the test)
        raise
    assert proc.returncode == 2, err
    assert "a worker process was killed by signal 9 while tagging input records" in err, err
    assert len(err.strip().splitlines()) == 1, err
    assert not out.exists()
    _assert_group_ends(proc, "worker processes outlived the run")


def _assert_group_ends(proc: subprocess.Popen, message: str, seconds: float = 5) -> None:
    """Fail unless every process of ``proc``'s session (its workers) is gone within ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    pytest.fail(message)


def test_two_jobs_parse_stdin_jsonl_like_one(cli, tmp_path):
    """With workers, JSON Lines are parsed in the workers; stdin input, a broken and
    a blank line included, must come out exactly as a single process reads it."""
    lines = (CORPUS / "corpus.jsonl").read_text(encoding="utf-8").splitlines()[:40]
    lines[5:5] = ["", '{"title": "没有正文"}', "[1, 2"]
    data = "\n".join(lines) + "\n"
    one, two = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    r1 = cli("predict", "-", "--out", one, "--jobs", "1", input=data)
    r2 = cli("predict", "-", "--out", two, "--jobs", "2", input=data)
    assert r1.exit_code == r2.exit_code == 1
    assert two.read_bytes() == one.read_bytes()
    recs = [json.loads(x) for x in two.read_text(encoding="utf-8").splitlines()]
    assert len(recs) == 42 and [("error" in r) for r in recs[5:7]] == [True, True]
    assert recs[5]["source"] == "<stdin>:7" and recs[6]["source"] == "<stdin>:8"
