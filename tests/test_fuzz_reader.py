"""Fuzzing the seed parser with hypothesis.

Two properties, on arbitrary text and on text built from seed-like lines
(known keys with either colon, unknown keys, numbered points, label lists,
blank lines, CR/CRLF line ends, a BOM):

* parsing never raises anything but :class:`ReadError`;
* a parsed record written with :func:`format_seed` and read again is the
  same record.
"""
from __future__ import annotations

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from newstag.model.reader import Article, ReadError, format_seed, is_seed, parse_document, parse_seed

FIELDS = ("title", "link", "text", "keywords", "industries", "technologies", "summary")
KNOWN_KEYS = ("标题", "链接", "总结", "关键词", "AI技术", "技术", "行业", "重大事件摘要")

# characters that matter to the parser: separators, colons, digits, blanks of all kinds
_TRICKY = st.sampled_from(list(":：,，、;；。.、)）无 \t\u3000\u00a0\u2028\u0085\x0b\x0c\r\n\ufeff-—0123456789"))
_CHARS = st.one_of(_TRICKY, st.characters(codec="utf-8"), st.sampled_from(list("芯片算力大模型人工智能半导体abcNA")))
_WORDS = st.text(_CHARS, max_size=30)


@st.composite
def seed_lines(draw) -> str:
    kind = draw(st.integers(0, 5))
    if kind == 0:  # a known key
        key = draw(st.sampled_from(KNOWN_KEYS))
        lead = draw(st.sampled_from(["", " ", "\u3000", "\t"]))
        colon = draw(st.sampled_from([":", "：", " :", "： "]))
        return f"{lead}{key}{colon}{draw(_WORDS)}"
    if kind == 1:  # an unknown key, short or long
        return f"{draw(st.text(_CHARS, min_size=1, max_size=16))}{draw(st.sampled_from([':', '：']))}{draw(_WORDS)}"
    if kind == 2:  # a numbered point
        return f"{draw(st.integers(0, 120))}{draw(st.sampled_from(['.', '、', '．', ')', '）']))} {draw(_WORDS)}"
    if kind == 3:  # a label list
        return draw(st.sampled_from(["、", ", ", "，", ";"])).join(draw(st.lists(_WORDS, max_size=4)))
    if kind == 4:
        return ""
    return draw(_WORDS)


@st.composite
def seed_documents(draw) -> str:
    lines = draw(st.lists(seed_lines(), max_size=14))
    eol = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    return draw(st.sampled_from(["", "\ufeff"])) + eol.join(lines) + draw(st.sampled_from(["", eol]))


def _record(art: Article) -> dict:
    return {f: getattr(art, f) for f in FIELDS}


def _parse(text: str):
    try:
        return parse_document(text, "fuzz.txt", "fuzz")
    except ReadError as exc:
        # the error is a one-line message naming the source
        assert str(exc).startswith("fuzz.txt: ") and "\n" not in str(exc)
        return None


def _round_trip(art: Article) -> None:
    fields = {f: getattr(art, f) for f in FIELDS}
    again = parse_seed(format_seed(fields), "again.txt", "again")
    assert _record(again) == _record(art)
    # what format_seed writes is recognised as a seed file, and read the same way
    assert is_seed(format_seed(fields))


FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(st.text(max_size=400))
@example("总结:\n")
@example("\u2028总结: 正文")
@example("总结: 正文\n行业: 无")
@example("标题:\n总结: a\n链接：b\n作者: c\n重大事件摘要:\n1. x\n作者: y")
def test_arbitrary_text_parses_or_raises_read_error(text):
    art = _parse(text)
    if art is not None:
        assert art.text and art.text == art.text.strip()
        _round_trip(art)


@FUZZ
@given(seed_documents())
# a repeated 链接 key whose value reads as an unknown key ("0:"): written as a
# continuation line of the link, it must not read back as a key of its own
@example("标题:\n标题:\n链接:0\n链接:0:\n总结:0")
def test_seed_like_text_round_trips_through_format_seed(text):
    art = _parse(text)
    if art is not None:
        _round_trip(art)


@FUZZ
@given(st.binary(max_size=300))
def test_arbitrary_bytes_decode_or_raise_read_error(data):
    from newstag.model.reader import decode

    try:
        text, warnings = decode(data, "fuzz.bin")
    except ReadError as exc:
        assert str(exc).startswith("fuzz.bin: ") and "\n" not in str(exc)
        return
    assert isinstance(text, str) and all(w.startswith("fuzz.bin: ") for w in warnings)
    _parse(text)


def test_unannotated_sets_stay_unannotated_after_a_round_trip():
    # None (no 行业 field at all) and [] ("annotated: none") must not be conflated
    art = parse_seed("标题: t\n总结: 正文\nAI技术: 无\n", "x", "x")
    assert art.industries is None and art.technologies == []
    _round_trip(art)
