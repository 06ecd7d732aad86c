"""One segmentation per article: folding, the token stream and the fast feature path.

Tagging computes features from token ids with NumPy (``Featurizer.vectors``)
while training counts strings (``Featurizer.analyse`` + ``vector``); the two
must agree, or the model would score different features from those it was
trained on.
"""
from __future__ import annotations

import json
import re
import unicodedata

import numpy as np
import pytest

from conftest import CORPUS, SHIPPED


@pytest.fixture(scope="module")
def tagger():
    from newstag import load

    return load(SHIPPED)


@pytest.fixture(scope="module")
def articles():
    with open(CORPUS / "corpus.jsonl", encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh if line.strip()]
    # every split, short and long articles (passages) alike
    return rows[::23] + [r for r in rows if r["split"] == "other"][:8]


def test_fold_keeps_every_offset_and_agrees_with_nfkc(articles):
    from newstag.model.normalise import fold

    for a in articles:
        text = a["title"] + "\n" + a["text"]
        folded = fold(text)
        assert len(folded) == len(text)
        for ch, f in zip(text, folded):
            nfkc = unicodedata.normalize("NFKC", ch).lower()
            if len(nfkc) == 1 and not ch.isspace():
                assert f == nfkc, (ch, f, nfkc)
    assert fold("ＡＩ芯片，５Ｇ…") == "ai芯片,5g…"


def test_token_offsets_locate_the_original_text(tagger, articles):
    for a in articles[:40]:
        doc = tagger.document(a["title"], a["text"])
        assert "".join(doc.body_words) == doc.body_f
        for word, start in zip(doc.body_words[::7], doc.starts[::7].tolist()):
            assert doc.body_f[start: start + len(word)] == word
        sents, spans = doc.sentences
        for s, (i, j) in zip(sents, spans.tolist()):
            assert a["text"][i:j] == s


@pytest.fixture
def kernel_mode():
    """Run a test in a given kernel mode (model/kernels.py), then restore the mode."""
    from newstag.model import kernels

    before = kernels.mode()
    yield kernels.set_mode
    kernels.set_mode(before)


@pytest.mark.parametrize("mode", ["python", "compiled"])
def test_fast_vectors_equal_the_training_path(tagger, articles, kernel_mode, mode):
    kernel_mode(mode)
    f = tagger.featurizer
    long_ones = 0
    for a in articles:
        doc = tagger.document(a["title"], a["text"])
        vecs = f.vectors(doc)
        ids, vals = f.vector(f.analyse(doc))
        fast_ids, fast_vals = vecs[0]
        dense, fast = np.zeros(f.n_features), np.zeros(f.n_features)
        dense[ids] = vals
        fast[fast_ids] = fast_vals
        np.testing.assert_allclose(fast, dense, rtol=1e-5, atol=1e-6)
        assert len(vecs) == 1 or len(a["text"]) > 2 * f.settings.window_chars
        long_ones += len(vecs) > 1
    assert long_ones >= 5  # the passage path ran


def test_compiled_feature_rows_equal_numpy_rows_bit_for_bit(tagger, articles, kernel_mode):
    """model/feature_kernels.py builds a batch's rows (whole articles and passages)
    in one loop; the NumPy path is the reference, to the last bit."""
    f = tagger.featurizer
    pairs = [(a["title"], a["text"]) for a in articles] + [("", ""), ("标题", ""), ("", "短"), ("芯片", "芯片" * 900)]
    batches = [pairs[lo: lo + 9] for lo in range(0, len(pairs), 9)]
    got = {}
    for mode in ("python", "compiled"):
        kernel_mode(mode)
        got[mode] = [f.rows(tagger.featurizer.lexicon.documents(b)) for b in batches]
    passages = 0
    for numpy_rows, kernel_rows in zip(got["python"], got["compiled"]):
        for name in ("row_doc", "starts", "cols"):
            assert getattr(kernel_rows, name).tolist() == getattr(numpy_rows, name).tolist(), name
        assert kernel_rows.vals.dtype == np.float32
        assert kernel_rows.vals.tobytes() == numpy_rows.vals.tobytes()
        passages += len(numpy_rows.row_doc) - len(np.unique(numpy_rows.row_doc))
    assert passages >= 10


def test_passages_cover_a_long_article_in_order(tagger, articles):
    f = tagger.featurizer
    text = max((a["text"] for a in articles), key=len)
    doc = tagger.document("", text)
    positions = np.arange(len(text))
    passage = f.passage_ids(doc, positions)
    assert passage is not None and np.all(np.diff(passage) >= 0)
    sizes = np.bincount(passage)[np.unique(passage)]
    # about window_chars each (whole sentences), none a stub
    assert sizes.min() >= f.settings.window_chars // 3
    assert np.median(sizes) <= 2 * f.settings.window_chars


def test_lexicon_restart_does_not_change_results(articles):
    """The per-process lexicon starts afresh when full; results must not depend on it."""
    from newstag import load

    small = load(SHIPPED)
    small.featurizer.lexicon.max_words = 150  # restarts many times over these articles
    big = load(SHIPPED)
    for a in articles[:60]:
        p, q = small.predict_one(a["title"], a["text"]), big.predict_one(a["title"], a["text"])
        assert (p.industries, p.technologies, p.keywords, p.summary) == \
               (q.industries, q.technologies, q.keywords, q.summary)
    # and in batches: the lexicon restarts only between them, never under a batch's documents
    pairs = [(a["title"], a["text"]) for a in articles[:80]]
    many = small.predict_many(pairs, batch=16)
    for p, q in zip(many, big.predict_many(pairs)):
        assert (p.industries, p.technologies, p.keywords, p.summary) == \
               (q.industries, q.technologies, q.keywords, q.summary)
    assert small.featurizer.lexicon.generation >= 3
    assert len(big.featurizer.lexicon.ids) > 3000  # (so the small one did start afresh)


@pytest.mark.parametrize("title, text", [("", ""), ("", "预热。"), ("标题", "短"), ("", "a"),
                                         ("芯片", "芯片芯片芯片芯片芯片芯片芯片芯片"), ("", "\n\n\u3000\u3000\n")])
def test_tiny_articles_get_a_full_result(tagger, title, text):
    """Articles with no sentence of six characters still get tags, keywords and a summary
    of at most one point, each taken from the text."""
    p = tagger.predict_one(title, text)
    assert len(p.summary) <= 1
    for point in p.summary:
        assert point.startswith("1. ")
    for kw in p.keywords:
        assert kw in title or kw in text
    # and the batch path gives the same
    q = tagger.predict_many([(title, text), ("", "预热。")])[0]
    assert (q.industries, q.technologies, q.keywords, q.summary) == \
           (p.industries, p.technologies, p.keywords, p.summary)


def test_batches_give_bit_identical_results(tagger, articles):
    """Labels are scored 16 articles at a time; an article's scores, labels, keywords and
    summary must not depend on which articles share its batch (--jobs, Dask partitions)."""
    pairs = [(a["title"], a["text"]) for a in articles[:40]]
    alone = [tagger.predict_one(t, x) for t, x in pairs]
    for batch in (3, 16, 40):
        together = tagger.predict_many(pairs, batch=batch)
        for p, q in zip(alone, together):
            for name in p.scores:
                assert np.array_equal(p.scores[name], q.scores[name])
            assert (p.industries, p.technologies, p.keywords, p.summary) == \
                   (q.industries, q.technologies, q.keywords, q.summary)


def test_threads_sharing_a_tagger_get_the_same_results(articles):
    """A Dask worker may tag with several threads on one tagger; each thread's
    lexicon restarts on its own, and results must equal a single thread's."""
    from concurrent.futures import ThreadPoolExecutor

    from newstag import load

    shared = load(SHIPPED)
    shared.featurizer.lexicon.max_words = 2000  # every thread restarts its lexicon often
    pairs = [(a["title"], a["text"]) for a in articles[:48]]
    alone = [(p.industries, p.technologies, p.keywords, p.summary) for p in load(SHIPPED).predict_many(pairs)]
    with ThreadPoolExecutor(4) as pool:
        chunks = list(pool.map(lambda i: shared.predict_many(pairs[i: i + 6]), range(0, len(pairs), 6)))
    together = [(p.industries, p.technologies, p.keywords, p.summary) for chunk in chunks for p in chunk]
    assert together == alone


@pytest.mark.parametrize("mode", ["python", "compiled"])
def test_a_document_made_in_one_thread_can_be_used_in_another(articles, kernel_mode, mode):
    """Token ids belong to one thread's lexicon; a document handed to another
    thread is re-encoded there (compiled kernels index columns by id unchecked:
    foreign ids crashed the process)."""
    from concurrent.futures import ThreadPoolExecutor

    from newstag import load

    kernel_mode(mode)
    tagger = load(SHIPPED)
    tagger.predict_many([(a["title"], a["text"]) for a in articles[:60]])  # this thread knows many words
    docs = [tagger.document(a["title"], a["text"]) for a in articles[60:70]]

    def use(doc):
        scores = tagger.scores_many([doc])[0]
        return tagger.decide(scores), tagger.keyword_extractor.extract(doc), tagger.summariser.summarise(doc)

    here = [use(d) for d in docs]
    with ThreadPoolExecutor(1) as pool:  # a fresh thread: its lexicon is empty
        there = list(pool.map(use, [tagger.document(a["title"], a["text"]) for a in articles[60:70]]))
        moved = list(pool.map(use, docs))
    assert moved == here == there


def test_other_ngram_sizes_take_the_string_path_with_passages(tmp_path, articles):
    """A model with char_ngrams other than (2,) is scored by counting strings; long
    articles must still get their passage rows, and the whole-article row must be
    the training path's vector."""
    from newstag import load
    from newstag.training import TrainSettings, train
    from newstag.model.features import FeatureSettings
    from conftest import ROOT

    out = tmp_path / "ngrams.joblib"
    train([ROOT / "seeds"], out, TrainSettings(features=FeatureSettings(char_ngrams=(2, 3)), cv_folds=2))
    tagger = load(out)
    f = tagger.featurizer
    long_text = max((a["text"] for a in articles), key=len)
    assert len(long_text) > 2 * f.settings.window_chars
    doc = tagger.document("标题", long_text)
    vecs = f.vectors(doc)
    n_passages = len(np.unique(f.passage_ids(doc, doc.pieces[:, 0])))
    assert len(vecs) == 1 + n_passages >= 3
    ids, vals = f.vector(f.analyse(doc))
    order = np.argsort(ids)
    assert np.array_equal(vecs[0][0], ids[order]) and np.allclose(vecs[0][1], vals[order])
    assert any(n.startswith("c:") and len(n) == 5 for n in (f.feature_names()[i] for i in vecs[0][0]))


def _cuts_by_definition(text: str) -> list[tuple[int, int]]:
    from newstag.model.document import SENTENCE_END

    return [(m.start(), m.end()) for m in SENTENCE_END.finditer(text)]


@pytest.mark.parametrize("mode", ["python", "compiled"])
def test_sentence_pieces_cut_where_the_sentence_rule_says(tagger, articles, mode):
    # Document.pieces finds the cuts with a faster pattern than the rule's own
    # (interpreted) or a loop over code points (compiled)
    from newstag.model import kernels
    from newstag.model.summary import sentences

    tricky = ["“你好。”他说。\n\n\u3000\u3000新段落！", "a。。b", "？\u3000\u3000", "x;\"y", "。\u3000\u3000\u3000z",
              "。”\n", "结尾没有标点", "\n\n\n", "第一句！”“第二句？’", "", "\u3000 \t全角与半角空白之间的句子。\xa0\u2003",
              "短。\r\n\r\n一句带回车换行的句子！\u3000", "𠀀𪚥字符在扩展区的句子。😀后面还有表情？"]
    before = kernels.mode()
    kernels.set_mode(mode)
    try:
        for text in [a["text"] for a in articles] + tricky:
            doc = tagger.document("", text)
            cuts = _cuts_by_definition(text)
            starts = [0] + [e for _, e in cuts]
            ends = [s for s, _ in cuts] + [len(text)]
            assert doc.pieces.tolist() == [list(p) for p in zip(starts, ends)], text[:40]
            found, spans = doc.sentences
            assert found == sentences(text), text[:40]
            assert [text[s:e] for s, e in spans.tolist()] == found, text[:40]
    finally:
        kernels.set_mode(before)


def test_compiled_facts_and_headings_are_the_regexes_matches(articles, kernel_mode):
    """The summariser's facts (figures, 《titles》, “names”) and sub-headings are
    defined by regexes (model/summary_kernels.py); compiled, a loop over code
    points finds them. Both must agree on every article and on edge cases."""
    from newstag.model.summary_kernels import FACT, digit_table, is_heading, sentence_marks

    tricky = ["《》《a》《", "《未闭合的书名号" * 50 + "》", "“”“a”", "“" * 30 + "x", "3.5%，4.x 5. .6 7万8亿",
              "١٢٣ ０１２ 𝟎𝟏𝟐 ²³", "12.34.56千", "1.٢３%", "《1》“2”3", "》《》”“", "第一部分\n\n这是一句，话。\n小标题\n",
              "𠀀𪚥字符😀与数字9在扩展区", "", "1"]
    kernel_mode("compiled")
    for text in [a["text"] for a in articles] + tricky:
        codes = np.frombuffer(text.encode("utf-32-le"), np.uint32)
        lines = [[m.start(), m.end()] for m in re.finditer(r"[^\n]+", text)]
        spans = np.array([[0, len(text)], [0, min(5, len(text))]] + lines, np.int64)
        at, heading = sentence_marks(codes, spans, digit_table(), True)
        assert at.tolist() == [m.start() for m in FACT.finditer(text)], text[:40]
        assert heading.tolist() == [is_heading(text[s:e]) for s, e in spans.tolist()], text[:40]
        assert sentence_marks(codes, spans, digit_table(), False)[0].tolist() == []


def test_compiled_clause_information_counts_figures_as_the_regex_does(tagger, articles, kernel_mode):
    """A clause's information (IDF mass, more with a figure) is computed in one
    kernel call; the interpreted version asks the regex for figures. Both must
    give the same bits for every clause of every sentence, figures of other
    scripts included."""
    from newstag.model.summary import clauses
    from newstag.model.summary_kernels import clause_information, digit_table

    kernel_mode("compiled")
    odd = "第一句有٣个阿拉伯数字，第二句没有；第三句有全角１２，还有𝟗。没有数字的一句话，真的没有。"
    texts = [a["text"] for a in articles[:150]] + [odd]
    n_figures = 0
    for text in texts:
        doc = tagger.document("", text)
        idf = tagger.summariser._idf_column(doc)  # (the lexicon may have grown)
        sents, spans = doc.sentences
        for sentence, (start, _) in zip(sents, spans.tolist()):
            parts = clauses(sentence)
            at = np.array([sentence.find(c) for c in parts] + [-1], np.int64)
            length = np.array([len(c) for c in parts] + [3], np.int64)
            args = (doc.body_ids, doc.starts, idf, start, at, length, doc.codes)
            fast = clause_information(*args, digit_table())
            slow = clause_information.python(*args, np.zeros(0, np.bool_))
            assert fast.tobytes() == slow.tobytes(), sentence
            n_figures += sum(re.search(r"\d", c) is not None and x > 0 for c, x in zip(parts, fast))
    assert n_figures > 100


def test_compiled_word_lookup_gives_the_dicts_ids(articles, kernel_mode):
    """Compiled, the lexicon looks token ids up in its own hash table (model/document_kernels.py,
    here through the compiled segmenter); the ids must be the dict's for every token, as the
    table grows and after restarts."""
    from newstag import load

    with open(CORPUS / "corpus.jsonl", encoding="utf-8") as fh:
        corpus = [json.loads(line)["text"] for line in fh if line.strip()]
    odd = ["", "a", "𠀀𪚥𝐀 emoji 😀 混排", "\n\n\u3000\u3000\n", "同一个词同一个词", "\x1c控制字符\x7f"]
    kernel_mode("compiled")
    small = load(SHIPPED).featurizer.lexicon
    small.max_words = 4000  # starts afresh (a new table) several times
    big = load(SHIPPED).featurizer.lexicon  # learns the whole corpus: the table is rebuilt larger
    runs = [(small, [a["text"] for a in articles[:120]] + odd + [a["title"] for a in articles[:120]]),
            (big, odd + corpus + ["含\0空字符的文本。"])]
    for lex, texts in runs:
        for lo in range(0, len(texts), 32):
            lex.checkpoint()
            batch = texts[lo: lo + 32]
            for text, ids in zip(batch, lex.encode_many(batch)):
                words = lex.tokenizer.raw(text) if text else []
                assert ids.dtype == np.int64 and len(ids) == len(words), text[:20]
                assert ids.tolist() == [lex.ids[w] for w in words], text[:20]
    assert small.generation >= 2
    assert len(big.ids) > 2 ** 15  # past the first table's half (see Lexicon._hash_new_words)


def test_compiled_word_lookup_of_jieba_tokens(articles, kernel_mode):
    """The jieba backend has no compiled segmenter: its tokens are joined and looked up
    by word_ids (a text holding a NUL by the dict); the same ids as the dict's."""
    from newstag import load
    from newstag.model.document import Lexicon
    from newstag.model.tokenize import Tokenizer

    kernel_mode("compiled")
    lex = Lexicon(Tokenizer("jieba", load(SHIPPED).featurizer.tokenizer.user_words), max_words=3000)
    texts = [a["text"] for a in articles[:40]] + ["", "含\0空字符的文本。", "同一个词同一个词"]
    for lo in range(0, len(texts), 8):
        lex.checkpoint()
        batch = texts[lo: lo + 8]
        for text, ids in zip(batch, lex.encode_many(batch)):
            assert ids.tolist() == [lex.ids[w] for w in lex.tokenizer.raw(text)] if text else ids.size == 0
    assert lex.generation >= 1


def test_words_tagged_together_get_the_flags_they_get_alone(tagger, articles):
    """Tokenizer.flags tags a lexicon's new words in one call (one per line);
    each must get the flag Tokenizer.flag gives it alone."""
    tok = tagger.featurizer.tokenizer
    words = sorted({w for a in articles for w in tok.raw(a["title"]) + tok.raw(a["text"])})
    odd = ["中马", "两国", "A/B", "C++", "2.5%", "...", "——", "😀", "", "\n\n", " ", "a b", "天问二号", "\u3000"]
    words += odd
    assert len(words) > 5000
    assert tok.flags(words) == [tok.flag(w) for w in words]
    assert tok.flags(odd[::-1]) == [tok.flag(w) for w in odd[::-1]]


@pytest.mark.parametrize("mode", ["python", "compiled"])
def test_scores_do_not_depend_on_what_the_process_tagged_before(articles, kernel_mode, mode):
    """Word ids depend on the order a process met its words in; no score may:
    the same article gets the same bits in a fresh process and in one that
    tagged other articles first (as a --jobs worker or Dask partition does)."""
    from newstag import load

    kernel_mode(mode)
    fresh, used = load(SHIPPED), load(SHIPPED)
    used.predict_many([(a["title"], a["text"]) for a in articles[::-1][:40]])  # other ids for the same words

    def scores(tagger, a):
        doc = tagger.document(a["title"], a["text"])
        summary, _ = tagger.summariser.scores(doc) if len(doc.sentences[0]) > 1 else (np.zeros(0), None)
        return summary.tobytes(), tagger.keyword_extractor.scored(doc), \
            [p.tobytes() for p in tagger.scores(doc).values()]

    for a in articles[40:100]:
        assert scores(fresh, a) == scores(used, a), a["title"]
