"""The bundle cache (model/bundle.py, model/arrayfile.py): tagging maps a
bundle's verified arrays from a cache file named by the bundle file's bytes.
It must give exactly what reading the bundle gives, and never stand in for a
bundle whose bytes have changed."""
from __future__ import annotations

import io
import json

import numpy as np
import pytest

from conftest import CORPUS, SHIPPED

import newstag
from newstag.model import arrayfile, bundle, tagger_from_bundle
from newstag.model.bundle import BundleError, load_bundle


@pytest.fixture
def cache(monkeypatch, tmp_path):
    """The cache files go to a folder of the test's own."""
    folder = tmp_path / "cache"
    monkeypatch.setattr(arrayfile, "cache_dirs", lambda: [folder])
    return folder


def _same(got: tuple, want: tuple) -> None:
    assert got[0] == want[0] and got[2:] == want[2:]
    assert got[1].keys() == want[1].keys()
    for name, a in want[1].items():
        assert got[1][name].dtype == a.dtype and np.array_equal(got[1][name], a), name


def test_a_cached_load_gives_exactly_the_bundle(cache, monkeypatch):
    plain = load_bundle(SHIPPED, with_checksum=True)
    _same(load_bundle(SHIPPED, with_checksum=True, cache=True), plain)  # read, verified, kept
    assert len(list(cache.glob("bundle-*.arrays"))) == 1

    def no_zip(*a, **k):
        raise AssertionError("the bundle was decompressed again")

    with monkeypatch.context() as m:
        m.setattr(bundle.np, "load", no_zip)
        _same(load_bundle(SHIPPED, with_checksum=True, cache=True), plain)  # from the cache file alone
        cached = newstag.load(SHIPPED)  # (tagging loads through the cache)
    fresh = tagger_from_bundle(plain[0], plain[1])
    lines = (CORPUS / "corpus.jsonl").read_text(encoding="utf-8").splitlines()[-40:]  # (other, then dev)
    pairs = [(r["title"], r["text"]) for r in map(json.loads, lines)]
    assert [_out(p) for p in cached.predict_many(pairs)] == [_out(p) for p in fresh.predict_many(pairs)]


def _out(p) -> tuple:
    return p.industries, p.technologies, p.keywords, p.summary


def test_a_changed_bundle_is_read_and_verified_afresh(cache, tmp_path):
    copy = tmp_path / "model.joblib"
    copy.write_bytes(SHIPPED.read_bytes())
    meta, arrays, stored = load_bundle(copy, with_checksum=True, cache=True)  # its arrays are cached
    # the same file name, other weights, the old checksum: a modified model
    payload = {"meta.json": np.frombuffer(json.dumps(meta, ensure_ascii=False).encode(), np.uint8),
               **arrays, "idf": arrays["idf"] * 2, "checksum": np.frombuffer(stored.encode(), np.uint8)}
    buf = io.BytesIO()
    np.savez_compressed(buf, **payload)
    copy.write_bytes(buf.getvalue())
    with pytest.raises(BundleError, match="checksum mismatch"):
        load_bundle(copy, cache=True)


@pytest.mark.parametrize("damage", ["garbage", "cut short"])
def test_a_damaged_cache_file_is_written_again(cache, damage):
    want = load_bundle(SHIPPED, with_checksum=True, cache=True)
    (kept,) = cache.glob("bundle-*.arrays")
    good = kept.read_bytes()
    kept.write_bytes(b"not a cache file" if damage == "garbage" else good[: len(good) // 2])
    _same(load_bundle(SHIPPED, with_checksum=True, cache=True), want)
    assert kept.read_bytes() == good


def test_only_the_newest_cache_files_are_kept(cache, monkeypatch, seeds_model):
    monkeypatch.setattr(bundle, "KEEP", 1)
    load_bundle(SHIPPED, cache=True)
    load_bundle(seeds_model, cache=True)
    (kept,) = cache.glob("bundle-*.arrays")
    _same(load_bundle(seeds_model, with_checksum=True, cache=True), load_bundle(seeds_model, with_checksum=True))
    assert kept.exists()  # (the second model's, read back: not written again)
