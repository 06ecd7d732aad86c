"""Prelearned words (model/prelearned.py): a long run starts with the model's
vocabulary learned from a cache file, and tags exactly as without it."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest

from conftest import CORPUS, SHIPPED

import newstag
from newstag.model import arrayfile, kernels, prelearned
from newstag.model.bundle import load_bundle


@pytest.fixture(scope="module")
def pairs():
    lines = (CORPUS / "corpus.jsonl").read_text(encoding="utf-8").splitlines()[:300]
    return [(r["title"], r["text"]) for r in map(json.loads, lines)]


@pytest.fixture
def cache(monkeypatch, tmp_path):
    """The lexicon files go to a folder of the test's own."""
    monkeypatch.setattr(arrayfile, "cache_dirs", lambda: [tmp_path])
    return tmp_path


@pytest.fixture
def compiled():
    before = kernels.mode()
    kernels.set_mode("compiled")  # a long run (prelearned words are for those only)
    yield
    kernels.set_mode(before)


def _columns(tagger) -> dict[str, np.ndarray]:
    """The tagger's lexicon's columns by a name that does not depend on the process."""
    lex = tagger.featurizer.lexicon
    role = {id(tagger.keyword_extractor): "keywords", id(tagger.summariser): "summary"}
    out = {}
    for name, owner in lex.column_names().items():
        out[name if owner is None else role[id(owner)] + name[name.index("."):]] = lex.column(name)
    return out


def test_a_long_run_starts_with_the_vocabulary_learned_and_tags_alike(pairs, cache, compiled, monkeypatch):
    with_words = newstag.load()
    monkeypatch.setenv("NEWSTAG_PRELEARN", "off")
    without = newstag.load()
    assert without.featurizer.lexicon.prelearned is None

    got, want = with_words.predict_many(pairs), without.predict_many(pairs)
    assert [repr(p) for p in got] == [repr(p) for p in want]
    for p, q in zip(got, want):
        assert all(np.array_equal(p.scores[s], q.scores[s]) for s in q.scores)

    # the vocabulary came first, before any article's words, and from a file written for it
    vocab = prelearned.vocabulary(with_words)
    lex, plain = with_words.featurizer.lexicon, without.featurizer.lexicon
    assert len(vocab) > 10_000 and lex.words[: len(vocab)] == vocab
    assert len(list(cache.glob("lexicon-*.arrays"))) == 1
    # every word the plain run learned has the same flag and column values
    at = np.array([lex.ids[w] for w in plain.words])
    assert [lex.flags[i] for i in at.tolist()] == plain.flags
    cols, plain_cols = _columns(with_words), _columns(without)
    assert set(plain_cols) <= set(cols) and len(plain_cols) >= 8
    for name, col in plain_cols.items():
        assert np.array_equal(cols[name][at], col[: len(plain.words)]), name


def test_a_damaged_or_stale_lexicon_file_is_learned_afresh(cache):
    tagger = newstag.load()
    checksum = load_bundle(SHIPPED, with_checksum=True)[2]
    words, flags, cols = prelearned.start(tagger, checksum)
    (path,) = cache.glob("lexicon-*.arrays")

    def rewrite(**changes):
        arrays = {name: np.array(a) for name, a in arrayfile.load(path).items()}
        arrays.update(changes)
        arrayfile.write_cached(path.parent, path.name, lambda fh: arrayfile.save(fh, arrays))

    def same(got) -> bool:
        return got[0] == words and got[1] == flags and all(np.array_equal(got[2][n], cols[n]) for n in cols)

    # stale: one word's flag, or one word's feature column, not what the tagger gives
    wrong_flags = ["zz", *flags[1:]]
    rewrite(flags=np.array("\n".join(wrong_flags)))
    assert same(prelearned.start(tagger, checksum))
    assert str(arrayfile.load(path)["flags"][()]).split("\n") == flags  # and the file was written again
    column = next(n for n in cols if n == "feat.word")
    wrong = cols[column].copy()
    wrong[0] += 7
    rewrite(**{f"col:{column}": wrong})
    assert same(prelearned.start(tagger, checksum))
    # damaged: cut short, or not a lexicon file at all
    for damaged in (path.read_bytes()[:200], b"not a lexicon file"):
        path.write_bytes(damaged)
        assert same(prelearned.start(tagger, checksum))
        assert arrayfile.load(path) is not None  # (written again)


def test_each_model_gets_its_own_lexicon_file(seeds_model, cache, monkeypatch):
    """...and only the newest files stay, an older format's among those that go."""
    monkeypatch.setattr(prelearned, "KEEP", 2)
    old = cache / "lexicon-1-0123456789abcdef.npz"  # (the format before)
    old.write_bytes(b"an older format")
    os.utime(old, (1, 1))
    vocabularies = []
    for path in (SHIPPED, seeds_model):
        tagger = newstag.load(path)
        words, _, _ = prelearned.start(tagger, load_bundle(path, with_checksum=True)[2])
        assert words == prelearned.vocabulary(tagger)
        vocabularies.append(words)
    assert len(list(cache.glob("lexicon-*.arrays"))) == 2 and not old.exists()
    assert vocabularies[0] != vocabularies[1]
