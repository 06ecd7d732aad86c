"""rjieba's segmentation as arrays for :mod:`.segment_kernels`.

A :class:`Segmenter` holds jieba's dictionary (``dict.txt``, which rjieba
embeds too) with a model's taxonomy terms added as rjieba's ``add_word``
adds them, and jieba's HMM probabilities, in the layout the compiled
segmenter reads. Building it from the text files takes about 2.5 s, so the
arrays (about 23 MB) are kept in a cache file (``model/__pycache__`` or, if
that is not writable, the user's cache folder), keyed by what they are made
from (jieba's files by path, size and time; the user words); later
processes map them into memory (see :mod:`.arrayfile`) in about a millisecond.
``make install`` builds it (by warming the kernels).
"""
from __future__ import annotations

import hashlib
import importlib.util
import math
import pickle
from pathlib import Path
from typing import Iterable

import numpy as np

from . import arrayfile
from .segment_kernels import ALNUM, BLOCK, HMM_HAN, MIN_FLOAT, fill_trie, segment_ids
from .tokenize import USER_WORD_FREQ

FORMAT = 3  # bump when the arrays or their file change (3: an arrayfile, mapped, not an .npz)
_CLASSES_UP_TO = 0x30000  # past it no code point is a block character (nor starts a dictionary word)
# jieba-rs's block characters (RE_HAN_DEFAULT)
_BLOCK_RANGES = ((0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F),
                 (0x2B740, 0x2B81F), (0x2B820, 0x2CEAF), (0x2CEB0, 0x2EBEF), (0x2F800, 0x2FA1F))
_HMM_RANGE = (0x4E00, 0x9FD5)  # the HMM's ideographs (its RE_HAN)
_STATES = "BEMS"  # jieba-rs's state numbers: B 0, E 1, M 2, S 3
_NO_LEXICON = (np.full(1, -1, np.int64), np.zeros(0, np.uint32), np.zeros(1, np.int64))  # every id -1


def _jieba_files() -> list[Path]:
    # found, not imported: importing jieba costs 0.1 s of each start (its
    # dictionary loads lazily, but its modules do not)
    spec = importlib.util.find_spec("jieba")
    if spec is None or spec.origin is None:
        raise ImportError("the compiled segmenter needs jieba's dictionary files: pip install jieba")
    folder = Path(spec.origin).parent
    return [folder / "dict.txt"] + [folder / "finalseg" / f"prob_{p}.p" for p in ("start", "trans", "emit")]


def file_stamps(files: Iterable[Path]) -> bytes:
    """The files by path, size and time, for a cache key (hashing the contents of
    jieba's 5.6 MB cost up to 80 ms of each start)."""
    out = []
    for f in files:
        st = f.stat()
        out.append(f"{f.resolve()}\0{st.st_size}\0{st.st_mtime_ns}\n")
    return "".join(out).encode()


# What :meth:`Segmenter.agrees` cuts both ways: each rule of .segment_kernels at least once
_CHECK = ("我们中出了一个叛徒", "他来到了网易杭研大厦", "小明硕士毕业于中国科学院计算所，后在日本京都大学深造",
          "更新时间:2023-09-04t14:19 总台cctv-8k超高清频道, 增长3.5%，gpt-4o与l-sar 01组卫星, abc- x_y",
          "第一行\r\n第二行  两个空格\t制表", "emoji👪与罕见字\u3400\u4dbf和\U00020000、\u9fd6字", "abc网球拍卖会def", "")


class Segmenter:
    """The dictionary trie, character classes and HMM tables of :func:`.segment_kernels.segment_ids`.

    Parameters
    ----------
    user_words : iterable of str
        Words added with frequency ``USER_WORD_FREQ`` (a model's taxonomy terms, as
        :class:`.tokenize.Tokenizer` adds them to rjieba).
    """

    def __init__(self, user_words: Iterable[str] = ()):
        self.user_words = tuple(sorted(set(user_words)))
        files = _jieba_files()
        h = hashlib.sha256(f"{FORMAT}\n".encode() + file_stamps(files))
        h.update("\n".join(self.user_words).encode("utf-8"))
        self.key = h.hexdigest()[:16]
        self.arrays = self._cached() or self._build(files)

    def run(self, texts: list[str], lexicon: tuple = _NO_LEXICON) -> tuple:
        """:func:`.segment_kernels.segment_ids` on ``texts`` joined, with ``lexicon``'s
        ``(table, keys, key_start)``: ``(joined, ends, ids, tok_off, missing)``.
        Tokens cover the joined text without gaps: token ``q`` is
        ``joined[ends[q - 1]:ends[q]]`` (from 0 for the first)."""
        joined = "".join(texts)
        off = np.zeros(len(texts) + 1, np.int64)
        off[1:] = np.cumsum(np.fromiter(map(len, texts), np.int64, len(texts)))
        codes = np.frombuffer(joined.encode("utf-32-le"), np.uint32)
        return (joined, *segment_ids(codes, off, *self.arrays, *lexicon))

    def segment(self, texts: list[str]) -> list[list[str]]:
        """The segments of each of ``texts`` (strings: for checks, not for speed)."""
        joined, ends, _, tok_off, _ = self.run(texts)
        bounds = [0] + ends.tolist()
        return [[joined[a:b] for a, b in zip(bounds[lo: hi], bounds[lo + 1: hi + 1])]
                for lo, hi in zip(tok_off[:-1].tolist(), tok_off[1:].tolist())]

    def agrees(self, cut) -> bool:
        """Whether ``cut`` (rjieba's, with the same user words) gives the same
        segments on a sample exercising every rule: a guard against an rjieba
        release whose rules differ from the ones compiled here."""
        return self.segment(list(_CHECK)) == [cut(t) for t in _CHECK]

    def _file_name(self) -> str:
        return f"segmenter-{FORMAT}-{self.key}.arrays"

    def _cached(self) -> tuple | None:
        arrays = arrayfile.find(self._file_name())
        try:
            return None if arrays is None else self._pack(arrays)
        except (KeyError, IndexError):  # a damaged cache file: built afresh
            return None

    def _build(self, files: list[Path]) -> tuple:
        freq: dict[str, int] = {}
        with open(files[0], encoding="utf-8") as fh:
            for line in fh:
                parts = line.split()
                if parts:
                    freq[parts[0]] = int(parts[1]) if len(parts) > 1 else 0
        for word in self.user_words:
            freq[word] = USER_WORD_FREQ
        logtotal = math.log(sum(freq.values()))
        # every word and word prefix is a trie node; a prefix before its extensions
        nodes = set(freq)
        for word in freq:
            nodes.update(word[:k] for k in range(1, len(word)))
        order = sorted(nodes, key=lambda w: (len(w), w))
        node = {w: i for i, w in enumerate(order)}
        logp = np.array([math.log(freq[w]) - logtotal if freq.get(w, 0) > 0 else 0.0 for w in order])
        is_word = np.array([freq.get(w, 0) > 0 for w in order])
        root = np.full(_CLASSES_UP_TO, -1, np.int32)
        longer = [w for w in order if len(w) > 1]
        for w in order:
            if len(w) == 1 and ord(w) < _CLASSES_UP_TO:
                root[ord(w)] = node[w]
        size = 1 << (2 * len(longer)).bit_length()  # at most half full
        tkeys, tvals = np.full(size, -1, np.int64), np.full(size, -1, np.int32)
        steps = np.array([node[w[:-1]] * 0x110000 + ord(w[-1]) for w in longer], np.int64)
        fill_trie(tkeys, tvals, steps, np.array([node[w] for w in longer], np.int32))
        # each node's children's code points modulo 64, as bits (see .segment_kernels)
        kids = np.zeros(len(order), np.uint64)
        bits = np.left_shift(np.uint64(1), (steps % 0x110000 & 63).astype(np.uint64))
        np.bitwise_or.at(kids, steps // 0x110000, bits)
        arrays = {"root": root, "tkeys": tkeys, "tvals": tvals, "logp": logp, "is_word": is_word, "kids": kids,
                  "unknown": np.array([0.0 - logtotal]), "cls": self._classes()}
        arrays.update(self._hmm(files[1:]))
        self._save(arrays)
        return self._pack(arrays)

    @staticmethod
    def _classes() -> np.ndarray:
        cls = np.zeros(_CLASSES_UP_TO, np.uint8)
        for lo, hi in _BLOCK_RANGES:
            cls[lo: min(hi, _CLASSES_UP_TO - 1) + 1] |= BLOCK
        for ch in "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789":
            cls[ord(ch)] |= BLOCK | ALNUM
        for ch in "+#&._%-":
            cls[ord(ch)] |= BLOCK
        cls[_HMM_RANGE[0]: _HMM_RANGE[1] + 1] |= HMM_HAN
        return cls

    @staticmethod
    def _hmm(files: list[Path]) -> dict[str, np.ndarray]:
        start_p, trans_p, emit_p = (pickle.loads(f.read_bytes()) for f in files)
        start = np.array([start_p.get(s, MIN_FLOAT) for s in _STATES])
        trans = np.array([[trans_p.get(a, {}).get(b, MIN_FLOAT) for b in _STATES] for a in _STATES])
        emit = np.full((4, _HMM_RANGE[1] - _HMM_RANGE[0] + 1), MIN_FLOAT)
        for y, s in enumerate(_STATES):
            for ch, p in emit_p.get(s, {}).items():
                if len(ch) == 1 and _HMM_RANGE[0] <= ord(ch) <= _HMM_RANGE[1]:
                    emit[y, ord(ch) - _HMM_RANGE[0]] = p
        return {"start": start, "trans": trans, "emit": emit}

    def _save(self, arrays: dict[str, np.ndarray]) -> None:
        folder = arrayfile.keep(self._file_name(), arrays)
        if folder is None:
            return
        # files of earlier formats are never read again (about 20 MB each); a
        # later format's may be another install's (a shared user cache)
        try:
            for old in folder.glob("segmenter-*.*"):
                version = old.name.split("-")[1]
                if not version.isdigit() or int(version) < FORMAT:
                    old.unlink(missing_ok=True)
        except OSError:
            pass  # (another process cleaning up at the same time)

    @staticmethod
    def _pack(a: dict[str, np.ndarray]) -> tuple:
        return (a["cls"], a["root"], a["tkeys"], a["tvals"], a["logp"], a["is_word"], a["kids"],
                float(a["unknown"][0]), a["emit"], a["start"], a["trans"])
