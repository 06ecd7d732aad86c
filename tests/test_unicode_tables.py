"""The Unicode tables tagging reads (the fold table of model/normalise.py, the
digit table of the compiled summary) are made once per Python version and kept
in a cache file (model/arrayfile.py): read back, or made again after damage,
they must be the tables themselves."""
from __future__ import annotations

import importlib
import unicodedata

import numpy as np
import pytest

from newstag.model import arrayfile, summary_kernels

normalise = importlib.import_module("newstag.model.normalise")  # (the package exports a function of that name)

TEXT = "ＡＢＣ１２３，Ｔｅｓｔ　中文：﹝ⅫⅢ﹞ℌ𝐀!\tＫ"


@pytest.fixture
def cache(monkeypatch, tmp_path):
    """Cache files go to a folder of the test's own; the tables are made afresh."""
    monkeypatch.setattr(arrayfile, "cache_dirs", lambda: [tmp_path])

    def forget():
        monkeypatch.setattr(normalise, "_FOLD", None)
        monkeypatch.setattr(normalise, "_FOLD_RE", None)
        monkeypatch.setattr(normalise, "_FOLD_STR", {})
        summary_kernels.digit_table.cache_clear()

    forget()
    yield tmp_path, forget
    summary_kernels.digit_table.cache_clear()


def _folded(text: str) -> str:
    """The folding rule itself, character by character (normalise.fold's docstring)."""
    out = []
    for ch in text:
        if ch in "\t\u3000\xa0":
            out.append(" ")
            continue
        nf = unicodedata.normalize("NFKC", ch).lower()
        out.append(nf if len(nf) == 1 and ord(ch) < 0x10000 else ch)
    return "".join(out)


def test_tables_read_back_or_made_again_are_the_tables(cache, monkeypatch):
    folder, forget = cache
    want_digits = np.array([chr(c).isdecimal() for c in range(0x110000)])  # what \d matches: category Nd
    assert normalise.fold(TEXT) == _folded(TEXT)
    assert np.array_equal(summary_kernels.digit_table(), want_digits)
    files = sorted(folder.glob("unicode-*.arrays"))
    assert len(files) == 2
    good = [f.read_bytes() for f in files]

    forget()
    with monkeypatch.context() as m:  # from the files alone
        m.setattr(normalise, "_build_fold_table", lambda: pytest.fail("fold table made again"))
        m.setattr(summary_kernels, "_asked_of_the_regex", lambda: pytest.fail("digit table made again"))
        assert normalise.fold(TEXT) == _folded(TEXT)
        assert np.array_equal(summary_kernels.digit_table(), want_digits)

    for f in files:
        f.write_bytes(f.read_bytes()[:100])  # cut short
    forget()
    assert normalise.fold(TEXT) == _folded(TEXT)
    assert np.array_equal(summary_kernels.digit_table(), want_digits)
    assert [f.read_bytes() for f in files] == good  # written afresh
