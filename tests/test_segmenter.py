"""The compiled segmenter (model/segment_kernels.py) against rjieba, which it stands in for."""
from __future__ import annotations

import gzip
import json

import numpy as np
import pytest

from conftest import CORPUS, SHIPPED

ODD = ["", "a", "。", "\r\n", "\n\n\r\r\n", "  \t\u3000", "👪😀", "𠀀𪚥𝐀 emoji 😀 混排", "\u3400\u4dbf\u9fd6\u9fff\uf900",
       "gpt-4o、gpt-4.5和o3-mini", "3.5%的增长，-5%与5%%", "abc-", "-abc", "a.b.c..d", "x_y_", "1,234.56元",
       "版本v2.0.1发布", "同一个词同一个词", "\x1c控制字符\x7f", "ｗｈａｔ全角", "他说：“你好！”《三体》", "a" * 300,
       "中" * 500, "的" * 40 + "了" * 40]


@pytest.fixture(scope="module")
def tokenizer():
    from newstag import load
    from newstag.model import kernels

    before = kernels.mode()
    kernels.set_mode("compiled")  # (the segmenter is used in compiled mode only)
    tok = load(SHIPPED).featurizer.lexicon.tokenizer
    yield tok
    kernels.set_mode(before)


def _texts(limit: int | None = None) -> list[str]:
    from newstag.model.normalise import fold

    texts = []
    with open(CORPUS / "corpus.jsonl", encoding="utf-8") as fh:
        for line in fh:
            a = json.loads(line)
            texts += [fold(a["title"]), fold(a["text"])]
    with gzip.open(CORPUS / "unlabelled.jsonl.gz", "rt", encoding="utf-8") as fh:
        for n, line in enumerate(fh):
            if limit is not None and n >= limit:
                break
            a = json.loads(line)
            texts += [fold(a.get("title") or ""), fold(a.get("text") or "")]
    return texts


def test_segments_equal_rjiebas_on_every_shared_text(tokenizer):
    """Every title and body of the corpus and of the unlabelled stories (folded, as
    tagging cuts them), and odd strings, give rjieba's segments exactly."""
    segmenter = tokenizer.compiled()
    assert segmenter is not None
    texts = _texts() + ODD
    assert len(texts) > 50_000
    bad = []
    for lo in range(0, len(texts), 2000):
        batch = texts[lo: lo + 2000]
        for text, got in zip(batch, segmenter.segment(batch)):
            if got != tokenizer.raw(text):
                bad.append(text[:40])
    assert not bad, f"{len(bad)} texts cut differently, e.g. {bad[:3]}"


def test_ids_are_the_lexicons(tokenizer):
    """Lexicon.encode_many by the compiled segmenter gives the ids of rjieba's tokens,
    learning the unknown ones, in batches that mix known and new words."""
    from newstag import load

    lex = load(SHIPPED).featurizer.lexicon
    texts = _texts(limit=300) + ODD
    for lo in range(0, len(texts), 97):
        batch = texts[lo: lo + 97]
        for text, ids in zip(batch, lex.encode_many(batch)):
            assert ids.tolist() == [lex.ids[w] for w in tokenizer.raw(text)], text[:40]


def test_a_segmenter_that_disagrees_is_not_used(tokenizer, capsys):
    """The guard against an rjieba whose rules differ: a tokenizer whose cut does
    not match the compiled rules falls back to its own cut, with a word on stderr."""
    from newstag.model.tokenize import Tokenizer

    tok = Tokenizer("rjieba", tokenizer.user_words)
    assert tok.compiled() is not None
    odd = Tokenizer("rjieba", tokenizer.user_words)
    odd.raw("预热")
    cut = odd._cut
    odd._cut = lambda text, *a: [ch for word in cut(text, *a) for ch in word]  # every character alone
    assert odd.compiled() is None
    assert "segments differently" in capsys.readouterr().err
    assert Tokenizer("jieba").compiled() is None  # jieba's own rules are not compiled


def test_the_cache_file_is_rebuilt_when_damaged(tokenizer, tmp_path, monkeypatch):
    """The arrays are cached on disk and mapped back; a damaged cache file (not
    one at all, or cut short) is built again, to the same arrays. Files of an
    earlier format go when a new one is written."""
    from newstag.model import arrayfile
    from newstag.model import segmenter as mod

    monkeypatch.setattr(arrayfile, "cache_dirs", lambda: [tmp_path])
    stale = [tmp_path / "segmenter-0123456789abcdef.npz", tmp_path / f"segmenter-{mod.FORMAT - 1}-0123456789abcdef.npz"]
    newer = tmp_path / f"segmenter-{mod.FORMAT + 1}-0123456789abcdef.arrays"  # (another install's)
    for f in stale + [newer]:
        f.write_bytes(b"another format")
    words = tokenizer.dictionary_words()
    first = mod.Segmenter(words)
    assert not any(f.exists() for f in stale) and newer.exists()
    newer.unlink()
    (cached,) = tmp_path.glob("segmenter-*.arrays")
    good = cached.read_bytes()
    mapped = mod.Segmenter(words)  # from the file
    assert all(np.array_equal(a, b) for a, b in zip(first.arrays, mapped.arrays))
    for damaged in (b"not an arrays file", good[: len(good) // 2]):
        cached.write_bytes(damaged)
        again = mod.Segmenter(words)
        assert all(np.array_equal(a, b) for a, b in zip(first.arrays, again.arrays))
        assert cached.read_bytes() == good  # written afresh
    other = mod.Segmenter(words[:-1])  # other user words: another file
    assert len(list(tmp_path.glob("segmenter-*.arrays"))) == 2
    assert not np.array_equal(other.arrays[4], first.arrays[4])


def test_ctrl_c_during_a_kernel_is_a_keyboard_interrupt(tokenizer):
    """Ctrl-C while a compiled kernel runs surfaces when the kernel boxes its
    results; for a kernel returning a tuple numba reports it as a SystemError,
    which tagging's per-batch `except Exception` used to swallow (a Ctrl-C lost).
    It must come out as KeyboardInterrupt."""
    import os
    import signal
    import threading

    from newstag import load

    lex = load(SHIPPED).featurizer.lexicon
    texts = _texts(limit=0) * 4  # the corpus 4 times: one segment_ids call of about a second
    lex.encode_many(texts[:10])  # (compiled and warm)
    timer = threading.Timer(0.05, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            lex.encode_many(texts)
            for _ in range(10_000_000):  # (a late signal is raised here instead)
                pass
    finally:
        timer.cancel()
