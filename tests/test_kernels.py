"""Kernels (model/kernels.py): interpreted and compiled runs give the same output
bit for bit, and a short run never pays for numba."""
from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
import sysconfig

import numpy as np
import pytest

from conftest import CORPUS, SEED, SHIPPED

import newstag
from newstag.model import kernels, native


# `make install` builds the kernels' native module where a C compiler exists
# (model/native.py); elsewhere tagging runs numba's code, and the tests that
# need the module cannot run
_CC = (sysconfig.get_config_var("CC") or "cc").split()[0]
needs_native = pytest.mark.skipif(shutil.which(_CC) is None,
                                  reason=f"no C compiler ({_CC}): no native module, kernels run as numba's code")


@pytest.fixture(scope="module")
def sample():
    """All long-form `other` articles, every 30th broadcast one, and degenerate ones."""
    recs = [json.loads(x) for x in (CORPUS / "corpus.jsonl").read_text(encoding="utf-8").splitlines()]
    picked = [r for r in recs if r["split"] == "other"] + [r for r in recs if r["split"] != "other"][::30]
    edge = [("", "预热。"), ("只有标题", ""), ("", "AI"), ("", "今天。\n\n明天！后天？")]
    return [(r["title"], r["text"]) for r in picked] + edge


@pytest.fixture
def keep_mode():
    before = kernels.mode()
    yield
    kernels.set_mode(before)


def test_compiled_and_interpreted_kernels_give_identical_output(sample, keep_mode):
    kernels.set_mode("python")
    assert not kernels.is_compiled()
    slow = newstag.load(SHIPPED).predict_many(sample)
    kernels.set_mode("compiled")
    assert kernels.is_compiled()
    fast = newstag.load(SHIPPED).predict_many(sample)  # its own lexicon: words learned compiled too
    for (title, _), a, b in zip(sample, slow, fast):
        assert (a.industries, a.technologies) == (b.industries, b.technologies), title
        assert a.keywords == b.keywords, title
        assert a.summary == b.summary, title
        for name in a.scores:  # the probabilities themselves, not only what rounds the same
            assert np.array_equal(a.scores[name], b.scores[name]), (title, name)
    # the sample exercises what the kernels do: passages, summaries, keywords
    assert any(len(p.summary) >= 4 for p in fast) and any(len(p.keywords) == 5 for p in fast)


# sentences that take the summary points' rarer paths: a list longer than a
# point, cut after its last 、 that fits; a sentence with no break at all, cut
# hard; a cut that leaves an opening quote unpaired; figures whose thousands
# separator is no clause break
# (two lists: items of 7 and of 8 characters, so that one of them is not
# cut right at a 、 whatever the topic's length)
_LISTS = ["、".join(["人工智能芯片制", "量子计算机研制", "工业机器人制造", "新能源汽车产业"] * 3) + "等产业加快发展",
          "、".join(["人工智能芯片设计", "量子计算机的研制", "工业机器人的制造", "新能源汽车的产业"] * 3) + "等产业加快发展"]
_UNBROKEN = "人形机器人在工厂里完成搬运和质检任务并且持续改进方法提高效率达到目标" * 2
_QUOTED = "“芯片产业联盟在北京成立，首批成员包括三十家企业，覆盖设计、制造、封装和测试等环节，联盟将推动标准制定，”"
_FIGURES = "另一句话，1,000家企业，2,500亿元投资，将在明年落地"
HARD = [("机器人", f"（{_UNBROKEN}。短句在此。下一句很短，但是也有内容。"),
        ("芯片", f"今天上午，{_QUOTED}记者了解到。{_FIGURES}。")]
HARD += [("人工智能芯片", f"据新华社报道，{listed}。第二句话讲的是别的事情，与前面没有关系。") for listed in _LISTS]


def test_summary_points_take_their_rare_paths_alike_compiled_and_interpreted(keep_mode):
    runs = {}
    for mode in ("python", "compiled"):
        kernels.set_mode(mode)
        runs[mode] = [p.summary for p in newstag.load(SHIPPED).predict_many(HARD)]
    assert runs["python"] == runs["compiled"]
    unbroken, quoted, *listed = ([point.split(". ", 1)[1].split("：", 1)[-1] for point in s] for s in runs["compiled"])
    # a list: cut after a whole item, leaving more than half of the room used
    for whole, cut in zip(_LISTS, listed):
        assert whole.startswith(cut[0]) and whole[len(cut[0])] == "、" and 30 <= len(cut[0]) < 60
    # no break at all: cut hard at the room the topic leaves (60 - topic - "：")
    topic = runs["compiled"][0][0].split(". ", 1)[1].split("：", 1)[0]
    assert unbroken[0] == _UNBROKEN[: 60 - len(topic) - 1]
    # the cut quote loses its unpaired opening mark; the figures stay whole
    assert _QUOTED.startswith("“" + quoted[0]) and not quoted[0].startswith("“")
    assert "1,000家企业" in quoted[1] and "2,500亿元" in quoted[1]


# clauses of 30 and 29 characters: the second fits a 60-character point only
# without its comma, which a cut drops
_TWO_CLAUSES = "人工智能大模型在制造业的应用正在从试点走向规模化推广的新阶段，" \
               "算力基础设施建设持续推进并为大模型训练和推理提供有力的支撑，专家表示前景广阔。"


@pytest.mark.parametrize("compress, merge", [(False, True), (True, False)])
def test_summary_points_alike_with_other_settings(keep_mode, compress, merge):
    """The summariser's other settings (trailing clauses go first; no taking in
    the next sentence) give the same points compiled and interpreted."""
    articles = HARD + [("大模型", f"{_TWO_CLAUSES}短句。"), ("", "短。今天上午，会议召开。会议在北京召开，讨论了人工智能的发展。")]
    runs = {}
    for mode in ("python", "compiled"):
        kernels.set_mode(mode)
        summariser = copy.copy(newstag.load(SHIPPED).summariser)
        summariser.compress, summariser.merge = compress, merge
        summariser.topics = False  # (the whole 60 characters for the text)
        runs[mode] = [summariser(title, text) for title, text in articles]
    assert runs["python"] == runs["compiled"]
    if not compress:  # the two clauses are kept, their second without its comma
        assert any(point.endswith("有力的支撑") for point in runs["compiled"][-2])


def _run(code: str, env_mode: str | None = None, native: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ}
    env.pop("NEWSTAG_KERNELS", None)
    env.pop("NEWSTAG_NATIVE", None)
    if env_mode is not None:
        env["NEWSTAG_KERNELS"] = env_mode
    if not native:
        env["NEWSTAG_NATIVE"] = "off"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=600)


@needs_native
@pytest.mark.parametrize("long_run", [
    'tagger.predict_many([(r["title"], r["text"]) for r in recs])',
    # a caller using one step on its own runs long too
    '[tagger.keyword_extractor(r["title"], r["text"]) for r in recs]',
])
def test_short_run_stays_interpreted_and_long_run_compiles(long_run):
    code = f"""
import json, sys
import newstag
from newstag.model import kernels
tagger = newstag.load({str(SHIPPED)!r})
tagger.predict_one("标题", open({str(SEED)!r}, encoding="utf-8").read())
short = kernels.backend()
recs = [json.loads(x) for x in open({str(CORPUS / 'corpus.jsonl')!r}, encoding="utf-8")][:100]
{long_run}
print(json.dumps([short, kernels.backend(), "numba" in sys.modules, "jieba" in sys.modules]))
"""
    assert native.find() is not None, "the kernels compiled ahead of time are missing: run `make native`"
    r = _run(code)
    assert r.returncode == 0, r.stderr
    # the long run's kernels come from the module built ahead of time: numba is
    # never imported (0.4 s of a start). (The shipped model segments with rjieba:
    # the compiled copy of it reads jieba's dictionary files but never imports
    # jieba, 0.1 s of each start.)
    assert json.loads(r.stdout) == ["python", "native", False, False]


def test_a_processs_own_numba_code_keeps_blas_after_the_kernels_load():
    """The kernels load numba without letting it import scipy.linalg (a start-up
    cost, see kernels._import_numba); the caller's own numba code must still
    get np.dot (which needs BLAS), np.correlate, and scipy.linalg itself."""
    code = """
import json, sys
import numpy as np
from newstag.model import kernels
kernels.warm()
assert kernels.backend() == "numba", kernels.backend()
import numba
import scipy.linalg
a, b = np.arange(4.0), np.array([1.0, -2.0, 3.0, 0.5])
dot = numba.njit(lambda x, y: np.dot(x, y))(a, b)
corr = numba.njit(lambda x, y: np.correlate(x, y))(a, b)
print(json.dumps([bool(dot == np.dot(a, b)), bool(np.allclose(corr, np.correlate(a, b))),
                  float(scipy.linalg.norm(b)) == float(np.sqrt((b * b).sum()))]))
"""
    r = _run(code, native=False)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == [True, True, True]


@pytest.mark.parametrize("mode, native_module, backend", [
    ("python", True, "python"), pytest.param("auto", True, "native", marks=needs_native),
    ("python", False, "python"), ("auto", False, "numba")])
def test_forked_workers_start_warm_unless_told_never_to_compile(mode, native_module, backend):
    """`--jobs` forks workers from a process that loaded its kernels once for them
    (auto), but NEWSTAG_KERNELS=python still means numba is never even imported."""
    code = f"""
import json, sys
import newstag
from newstag.model.pipeline import tag_records
from newstag.model.reader import read_articles
tagger = newstag.load({str(SHIPPED)!r})
out = list(tag_records(read_articles([{str(SEED)!r}]), tagger=tagger, model_path={str(SHIPPED)!r}, jobs=2))
from newstag.model import kernels
print(json.dumps([len(out), "error" in out[0], kernels.backend(), "numba" in sys.modules]))
"""
    r = _run(code, env_mode=mode, native=native_module)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == [1, False, backend, backend == "numba"]


def test_unknown_mode_is_refused_with_a_readable_message(keep_mode):
    with pytest.raises(ValueError, match="NEWSTAG_KERNELS must be one of auto, python, compiled"):
        kernels.set_mode("fast")
    # from the environment: one warning line, and tagging goes on in auto mode
    r = _run("from newstag.model import kernels; print(kernels.mode())", env_mode="fast")
    assert r.returncode == 0 and r.stdout.strip() == "auto"
    assert r.stderr.strip().splitlines() == ["newstag: NEWSTAG_KERNELS must be one of auto, python, compiled, "
                                             "not 'fast'; using auto"]


def test_first_compile_is_announced_once_then_cached(tmp_path):
    # an empty numba cache stands for a machine where `make install` did not compile ahead
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path), "NEWSTAG_KERNELS": "compiled", "NEWSTAG_NATIVE": "off"}
    cmd = [sys.executable, "-m", "newstag.cli", "predict", str(SEED), "--model", str(SHIPPED), "--quiet"]
    runs = [subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600) for _ in range(2)]
    assert [r.returncode for r in runs] == [0, 0], runs[0].stderr
    assert runs[0].stdout == runs[1].stdout and json.loads(runs[0].stdout)["industries"]
    said = [line for line in runs[0].stderr.splitlines() if "compiling the tagging kernels" in line]
    assert len(said) == 1
    assert "compiling" not in runs[1].stderr  # the second run loads them from the cache


@needs_native
def test_native_kernels_run_only_on_the_argument_types_they_were_compiled_for():
    """The module built ahead of time trusts its arguments; its guard sends any
    other types (a dtype, a layout, a read-only array, a scalar's class) to
    numba, which compiles for them: the same results as interpreted, and no
    crash. (Run in a child process: a guard letting them through could crash it.)"""
    code = f"""
import json, sys
import numpy as np
from newstag.model import kernels
from newstag.model.document import CHAR_KINDS, MIN_SENTENCE
from newstag.model.document_kernels import cuts
text = open({str(SEED)!r}, encoding="utf-8").read()
codes = np.frombuffer(text.encode("utf-32-le"), np.uint32)
calls = [(codes, CHAR_KINDS, MIN_SENTENCE),                            # the compiled types
         (codes.astype(np.int64), CHAR_KINDS, MIN_SENTENCE),           # another dtype
         (np.repeat(codes, 2)[::2], CHAR_KINDS, MIN_SENTENCE),         # not contiguous
         (codes, CHAR_KINDS.astype(np.int32), MIN_SENTENCE),           # another table dtype
         (codes, CHAR_KINDS, float(MIN_SENTENCE)),                     # a float for an int
         (codes, CHAR_KINDS, np.int32(MIN_SENTENCE))]                  # a NumPy int32
kernels.set_mode("python")
want = [[a.tolist() for a in cuts(codes, CHAR_KINDS, MIN_SENTENCE)]]
kernels.set_mode("compiled")
first = cuts(*calls[0])
after_first = kernels.backend(), "numba" in sys.modules
got = [[a.tolist() for a in cuts(*args)] for args in calls]
print(json.dumps([after_first, "numba" in sys.modules, got == want * len(calls)]))
"""
    r = _run(code)
    assert r.returncode == 0, r.stderr
    # the compiled types ran natively (numba not even imported); the others
    # went to numba, with the same results
    assert json.loads(r.stdout) == [["native", False], True, True]


@needs_native
def test_a_native_module_whose_types_file_does_not_match_it_is_not_loaded(tmp_path, monkeypatch):
    """A damaged or mixed-up cache (a types file naming functions the module lacks)
    means numba's code, not an error in the first tagging call."""
    from newstag.model import arrayfile

    found = native.find()
    assert found is not None, "the kernels compiled ahead of time are missing: run `make native`"
    path, name, specs = found
    shutil.copy(path, tmp_path / path.name)
    monkeypatch.setattr(arrayfile, "cache_dirs", lambda: [tmp_path])
    (tmp_path / f"{name}.json").write_text(json.dumps({**specs, "no_kernels__such": next(iter(specs.values()))}))
    assert native.load() is None
    (tmp_path / f"{name}.json").write_text(json.dumps(specs))  # the same copy with its own types loads
    loaded = native.load()
    assert loaded is not None and set(loaded) == set(specs)


def test_an_install_without_a_c_compiler_still_succeeds_and_says_why():
    """`make install` runs the ahead-of-time build: where it cannot compile, it
    says so in one line and exits 0 (tagging then runs numba's code), leaving a
    module built before in place."""
    before = native.find()
    env = {**os.environ, "CC": "/nonexistent/cc"}
    r = subprocess.run([sys.executable, "-m", "newstag.model.native"], capture_output=True, text=True, env=env,
                       timeout=600)
    assert r.returncode == 0, r.stderr
    said = [line for line in r.stderr.splitlines() if line.startswith("newstag:")]
    assert len(said) == 1 and "not compiled ahead of time" in said[0] and "numba compiles them" in said[0], r.stderr
    assert native.find() == before
