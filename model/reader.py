"""Read articles from seed files, JSON Lines, plain text, directories and stdin.

Every input yields records in order: an :class:`Article`, or a :class:`Failure`
that names the source and the problem. Nothing is dropped silently; callers
decide whether a failure stops the run (``--strict``) or is reported and
counted.

Seed format (the format annotators write)::

    标题: <title>
    链接: <url>
    总结: <article body, may span lines>
    关键词: <comma-separated keywords>
    AI技术: <free-form technology labels>
    行业: <free-form industry labels>
    重大事件摘要: <numbered points, one per line>

Keys take an ASCII or full-width colon. A value continues over the following
lines until the next known key. ``技术`` is accepted for ``AI技术``. A value
line that would read as a known key is escaped with a backslash
(``\\行业: …``, one more for a line that already starts with backslashes);
:func:`format_seed` writes, and :func:`parse_seed` removes, that backslash,
so bodies from plain text or JSON Lines survive a round trip.
"""
from __future__ import annotations

import gzip
import io
import json
import re
import sys
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Iterable, Iterator

from .normalise import cjk_ratio

#: seed key → Article attribute
SEED_KEYS: dict[str, str] = {
    "标题": "title",
    "链接": "link",
    "总结": "text",
    "关键词": "keywords",
    "AI技术": "technologies",
    "技术": "technologies",
    "行业": "industries",
    "重大事件摘要": "summary",
}
#: Seed fields written back by :func:`format_seed`, in the reference order.
SEED_ORDER = ("标题", "链接", "总结", "关键词", "AI技术", "行业", "重大事件摘要")
_ATTR_TO_SEED_KEY = {"title": "标题", "link": "链接", "text": "总结", "keywords": "关键词",
                     "technologies": "AI技术", "industries": "行业", "summary": "重大事件摘要"}
# Fields whose values are prose: inside them a "xx：" line is a quotation
# ("记者表示：…"), not an unknown key, so only known keys end them.
_PROSE_FIELDS = {"text", "summary"}

#: JSON Lines field names → Article attribute (first present wins)
JSON_FIELDS: dict[str, tuple[str, ...]] = {
    "id": ("id",),
    "title": ("title", "标题"),
    "text": ("text", "总结", "content", "body"),
    "link": ("link", "链接", "url"),
    "keywords": ("keywords", "关键词"),
    "industries": ("industries", "行业"),
    "technologies": ("technologies", "AI技术", "技术"),
    "summary": ("summary", "重大事件摘要"),
}
_JSON_KEYS = frozenset(k for keys in JSON_FIELDS.values() for k in keys)  # what is not kept in Article.extra

TEXT_SUFFIXES = (".txt",)
JSONL_SUFFIXES = (".jsonl", ".jsonl.gz", ".ndjson")

_KEY_LINE = re.compile(r"^[ \t\u3000]*([^\s:：]{1,20})[ \t\u3000]*[:：][ \t\u3000]?(.*)$")
_LABEL_SPLIT = re.compile(r"[,，、;；\n]+")
_POINT_START = re.compile(r"^\s*\d{1,2}\s*[.、．)）]\s*")
# a key line escaped with backslash(es): a value line, not a key
_ESCAPED_KEY = re.compile(r"^([ \t\u3000]*)\\(\\*[^\s:：\\][^\s:：]{0,19}[ \t\u3000]*[:：].*)$")
_UNKNOWN_KEY_CHARS = 12  # outside prose, a line "word: value" with a longer word is a value line
_NONE_MARKERS = {"无", "没有", "none", "n/a", "na", "-", "—", "null"}


#: Longer article texts are cut to this many characters, with a warning. The
#: longest real news article seen is ~22,000 characters (99% are under 3,000);
#: a 50 MB "article" (a dump, a log) would cost as much as tens of thousands of
#: stories, in time and in memory for its tokens, and must not stall a batch.
MAX_TEXT_CHARS = 50_000
#: Longer titles are cut to this many characters, with a warning. A title
#: counts in every passage of its article, so a text pasted into the title
#: field (seen: 300,000 characters) would cost as much as hundreds of articles.
MAX_TITLE_CHARS = 1_000


class ReadError(ValueError):
    """An input that cannot be read as an article; ``str()`` is a one-line message."""

    def __init__(self, source: str, problem: str):
        super().__init__(f"{source}: {problem}")
        self.source = source
        self.problem = problem


@dataclass
class Article:
    """One article.

    ``industries``/``technologies`` hold the raw (free-form, split) label
    strings as annotated, or ``None`` when the input carries no such field at
    all (unannotated); an empty list means "annotated: no label".
    """

    id: str
    source: str
    title: str = ""
    text: str = ""
    link: str = ""
    keywords: list[str] = field(default_factory=list)
    industries: list[str] | None = None
    technologies: list[str] | None = None
    summary: list[str] = field(default_factory=list)
    extra: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def annotated(self) -> bool:
        return self.industries is not None or self.technologies is not None


def _limited(article: Article) -> Article:
    """Cut an over-long text to :data:`MAX_TEXT_CHARS` and title to
    :data:`MAX_TITLE_CHARS`, saying so in ``warnings``."""
    for field, what, limit in (("text", "article text", MAX_TEXT_CHARS), ("title", "title", MAX_TITLE_CHARS)):
        value = getattr(article, field)
        if len(value) > limit:
            setattr(article, field, value[:limit])
            article.warnings.append(f"{article.source}: {what} has {len(value):,} characters; "
                                    f"only the first {limit:,} are used")
    return article


@dataclass
class Failure:
    """An input that yielded no article: ``error`` says why, ``source`` where."""

    id: str
    source: str
    error: str


Record = Article | Failure


# ---------------------------------------------------------------- decoding

def decode(data: bytes, source: str) -> tuple[str, list[str]]:
    """Decode file bytes to text; return ``(text, warnings)``.

    UTF-8 (with or without BOM) is expected; UTF-16/32 are read when a BOM says
    so. A file cut off inside a multi-byte character keeps what came before it,
    with a warning. GB18030 (a superset of GBK) is accepted only when the result
    is plainly Chinese text (see :func:`_plainly_chinese`), since almost any
    byte string decodes as GB18030: Japanese or Korean legacy encodings, or
    Big5, would come out as plausible-looking nonsense. Raises
    :class:`ReadError` otherwise, with the offending byte's offset.
    """
    if not data.strip():
        raise ReadError(source, "empty file")
    for bom, codec in _UNICODE_BOMS:
        if data.startswith(bom):
            try:
                return data[len(bom):].decode(codec), [f"{source}: decoded as {codec.upper()} (byte-order mark)"]
            except UnicodeDecodeError as exc:
                raise ReadError(source, f"invalid {codec.upper()} text at byte {exc.start + len(bom)}") from None
    if b"\x00" in data[:65536]:
        raise ReadError(source, "binary file (contains NUL bytes), not text")
    try:
        return data.decode("utf-8-sig"), []
    except UnicodeDecodeError as exc:
        if exc.reason == "unexpected end of data" and exc.end == len(data):
            text = data[: exc.start].decode("utf-8-sig")
            return text, [f"{source}: truncated inside a UTF-8 character at byte {exc.start}; kept the text before it"]
        utf8_error = exc
    try:
        text = data.decode("gb18030")
    except UnicodeDecodeError as exc:
        # a GB18030 file cut off inside a character, like the UTF-8 case above
        text = data[: exc.start].decode("gb18030", "replace") if exc.end == len(data) else ""
    if text and _plainly_chinese(text):
        return text, [f"{source}: not UTF-8; decoded as GB18030/GBK (reliably detected Chinese text)"]
    raise ReadError(
        source,
        f"not UTF-8 text (invalid byte 0x{data[utf8_error.start]:02x} at offset {utf8_error.start}), "
        "and not recognisably GBK/GB18030 Chinese either; save it as UTF-8",
    )


_UNICODE_BOMS = ((b"\xff\xfe\x00\x00", "utf-32-le"), (b"\x00\x00\xfe\xff", "utf-32-be"),
                 (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be"))
# The most frequent characters of written Chinese (a general frequency list,
# not this corpus'): at least a fifth of any news article, under 5% of
# Shift-JIS, EUC-JP/KR or Big5 bytes misread as GB18030.
_COMMON_HANZI = frozenset(
    "的一是不了在人有我他这个们中来上大为和国地到以说时要就出会可也你对生能而子那得于着下自之年过发后作里"
    "用道行所然家种事成方多经么去法学如都同现当没动面起看定天分还进好小部其些主样理心本前开但因只从想实日"
    "者意无力它与长把机十民第公此已工使情明性知全三又关点正业外将两高间由问很最重并物手应战向头文体政美相"
    "见被利什二等产或新己制身果加"
)


def _plainly_chinese(text: str) -> bool:
    """Reliably Chinese: mostly printable CJK text, enough of it to judge (20+
    ideographs), and common characters among them at the rate real text has."""
    hanzi = [c for c in text if "\u4e00" <= c <= "\u9fff"]
    if len(hanzi) < 20 or cjk_ratio(text) < 0.3 or _printable_ratio(text) <= 0.98:
        return False
    return sum(c in _COMMON_HANZI for c in hanzi) / len(hanzi) >= 0.08


def _printable_ratio(text: str) -> float:
    return sum(1 for c in text if c.isprintable() or c in "\r\n\t") / max(1, len(text))


# ---------------------------------------------------------------- seed format

def is_seed(text: str) -> bool:
    """True when the first non-blank line is a ``key: value`` line with a known key."""
    # lines end at \n, \r\n or \r, as in parse_seed (not at str.splitlines'
    # \x85, \u2028, ...); and a huge file is not split whole to find its first line
    for m in re.finditer(r"[^\r\n]+", text.lstrip("\ufeff")):
        line = m.group(0)
        if line.strip():
            m = _KEY_LINE.match(line)
            return bool(m and m.group(1) in SEED_KEYS)
    return False


def split_labels(value: str | Iterable) -> list[str]:
    """Split a free-form label value on ``,，、;；`` (and newlines); drop "无"/"none" markers.

    Lists are flattened, and ``{"label": ...}`` items (newstag's own output) are
    accepted, so predictions can be fed back as annotations.
    """
    if value is None:
        return []
    if not isinstance(value, (str, list, tuple)):  # a number or an object in JSON: its text
        value = str(value)
    if isinstance(value, str):
        parts = _LABEL_SPLIT.split(value)
    else:
        parts = []
        for item in value:
            if isinstance(item, dict):
                item = item.get("label", "")
            parts.extend(split_labels(str(item)))
    return [p.strip() for p in parts if p.strip() and p.strip().lower() not in _NONE_MARKERS]


def split_points(value: str | list) -> list[str]:
    """Summary points: numbered lines (numbering kept), or every non-blank line."""
    if isinstance(value, (list, tuple)):
        return [str(v).strip() for v in value if str(v).strip()]
    lines = [ln.strip() for ln in str(value).splitlines() if ln.strip()]
    numbered = [ln for ln in lines if _POINT_START.match(ln)]
    return numbered or lines


def parse_seed(text: str, source: str, article_id: str) -> Article:
    """Parse one seed-format document. Raises :class:`ReadError` if it has no body."""
    text = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    values: dict[str, list[str]] = {}
    extra: dict[str, list[str]] = {}
    current: tuple[dict, str] | None = None
    current_attr = None
    for line in text.split("\n"):
        e = _ESCAPED_KEY.match(line) if current is not None else None
        if e:  # "\\行业: …" is a value line reading "行业: …" (see format_seed)
            current[0][current[1]].append(e.group(1) + e.group(2))
            continue
        m = _KEY_LINE.match(line)
        if m and m.group(1) in SEED_KEYS:
            current_attr = SEED_KEYS[m.group(1)]
            current = (values, current_attr)
            values.setdefault(current_attr, []).append(m.group(2))
        elif m and current_attr not in _PROSE_FIELDS and len(m.group(1)) <= _UNKNOWN_KEY_CHARS:
            # unknown key outside prose: keep it rather than fail
            current_attr = None
            current = (extra, m.group(1))
            extra.setdefault(m.group(1), []).append(m.group(2))
        elif current is not None:
            current[0][current[1]].append(line)
        elif line.strip():
            extra.setdefault("preamble", []).append(line)

    def joined(attr: str) -> str:
        return "\n".join(values.get(attr, [])).strip()

    body = joined("text")
    if not body:
        raise ReadError(source, "seed file has no body (总结 is missing or empty)")
    title = " ".join(ln.strip() for ln in values.get("title", []) if ln.strip())
    return _limited(Article(
        id=article_id,
        source=source,
        title=title,
        text=body,
        link=joined("link"),
        keywords=split_labels(joined("keywords")),
        industries=split_labels(joined("industries")) if "industries" in values else None,
        technologies=split_labels(joined("technologies")) if "technologies" in values else None,
        summary=split_points(joined("summary")),
        extra={k: "\n".join(v).strip() for k, v in extra.items()},
    ))


def parse_plain(text: str, source: str, article_id: str) -> Article:
    """A text file without keys: the whole file is the body, its first line the title."""
    text = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n").strip()
    if not text:
        raise ReadError(source, "empty file")
    return _limited(Article(id=article_id, source=source, title=text.split("\n", 1)[0][:200].strip(), text=text))


def parse_document(text: str, source: str, article_id: str) -> Article:
    """Seed format if the text starts with a known key, plain text otherwise."""
    if is_seed(text):
        return parse_seed(text, source, article_id)
    return parse_plain(text, source, article_id)


def format_seed(fields: dict[str, object]) -> str:
    """Write a seed-format record. ``fields`` maps seed keys or Article attributes to
    strings or lists (labels joined with ``, ``, summary points one per line).

    A ``None`` value leaves the key out, so an unannotated label set (``None``)
    stays unannotated when read back, unlike ``[]`` ("annotated: no label").
    """
    out = []
    normalised = {_ATTR_TO_SEED_KEY.get(k, k): v for k, v in fields.items() if v is not None}
    keys = [k for k in SEED_ORDER if k in normalised] + [k for k in normalised if k not in SEED_ORDER]
    for key in keys:
        value = normalised[key]
        if isinstance(value, (list, tuple)):
            value = ("\n" if key == "重大事件摘要" else ", ").join(str(v) for v in value)
        value = _escape_value(str(value or ""), prose=SEED_KEYS.get(key) in _PROSE_FIELDS)
        if key == "重大事件摘要" and value:
            value = "\n" + value
        out.append(f"{key}: {value}")
    return "\n".join(out) + "\n"


def _escape_value(value: str, prose: bool) -> str:
    """Backslash-escape value lines that :func:`parse_seed` would read as a key: a
    known one anywhere, an unknown one outside prose (or as an escaped one)."""
    lines = value.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    for i, line in enumerate(lines[1:], 1):  # the first line follows "key: ", never at a line start
        m = _KEY_LINE.match(line)
        if (m and (m.group(1) in SEED_KEYS or (not prose and len(m.group(1)) <= _UNKNOWN_KEY_CHARS))) \
                or _ESCAPED_KEY.match(line):
            blanks = len(line) - len(line.lstrip(" \t\u3000"))
            lines[i] = line[:blanks] + "\\" + line[blanks:]
    return "\n".join(lines)


# ---------------------------------------------------------------- JSON Lines

def parse_json_record(obj: object, source: str, default_id: str) -> Article:
    """Build an Article from one decoded JSON value; raises ReadError if unusable."""
    if not isinstance(obj, dict):
        raise ReadError(source, f"expected a JSON object, got {type(obj).__name__}")

    def first(attr: str):
        for key in JSON_FIELDS[attr]:
            if key in obj and obj[key] is not None:
                return obj[key]
        return None

    text = first("text")
    if not isinstance(text, str) or not text.strip():
        raise ReadError(source, "no article text (expected a non-empty 'text', '总结' or 'content' field)")
    title = first("title")
    industries, technologies = first("industries"), first("technologies")
    summary = first("summary")
    return _limited(Article(
        id=str(first("id") or default_id),
        source=source,
        title=str(title or "").strip(),
        text=text.strip(),
        link=str(first("link") or ""),
        keywords=split_labels(first("keywords")),
        industries=None if industries is None else split_labels(industries),
        technologies=None if technologies is None else split_labels(technologies),
        summary=split_points(summary) if summary else [],
        extra={k: v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)
               for k, v in obj.items() if k not in _JSON_KEYS},
    ))


@dataclass
class RawLine:
    """One JSON Lines line, read but not parsed yet (see ``iter_jsonl(raw=True)``):
    ``--jobs`` workers parse their own lines with :func:`parse_jsonl_line`, so the
    process that reads the input does not do the decoding for all of them."""

    name: str
    lineno: int
    raw: bytes


def iter_jsonl(stream: IO[bytes], name: str, start: int = 0, raw: bool = False) -> Iterator[Record]:
    """Records from a JSON Lines byte stream, one per non-blank line, read lazily.

    ``start``: lines of ``name`` before this stream (a partition of a bigger
    file), so that ids and sources keep the file's global line numbers.
    ``raw``: yield :class:`RawLine` s instead of parsed records (read errors
    are still Failures); ``parse_jsonl_line`` turns each into its record.
    """
    lineno = start
    while True:
        try:
            line = stream.readline()
        except (OSError, EOFError, gzip.BadGzipFile, zlib.error) as exc:
            # e.g. a truncated .jsonl.gz: what came before is kept, the rest is one failure
            source = f"{name}:{lineno + 1}"
            yield Failure(source, source, f"{source}: cannot read further ({type(exc).__name__}: {exc})")
            return
        if not line:
            return
        lineno += 1
        if not line.strip():
            continue
        yield RawLine(name, lineno, line) if raw else parse_jsonl_line(name, lineno, line)


def parse_jsonl_line(name: str, lineno: int, raw: bytes) -> Record:
    """The record of line ``lineno`` of ``name`` (its bytes, line end included if any)."""
    source = f"{name}:{lineno}"
    cut_short = not raw.endswith(b"\n")  # only the last line can lack its end: the input stopped there
    try:
        # without its line end, a line cut short reads "Unterminated string", not "Invalid control character"
        line = raw.decode("utf-8-sig" if lineno == 1 else "utf-8").rstrip("\r\n")
        obj = json.loads(line)
        warnings = []
        if _SURROGATE_ESCAPE.search(line):
            obj, n = _scrub(obj)
            if n:
                warnings.append(f"{source}: replaced {n} unpaired surrogate escape(s) (\\ud800-\\udfff) "
                                "with '?'")
        article = parse_json_record(obj, source, source)
        article.warnings.extend(warnings)
        return article
    except UnicodeDecodeError as exc:
        if cut_short and exc.reason == "unexpected end of data":
            return Failure(source, source, f"{source}: incomplete line: the input ended inside a UTF-8 character")
        return Failure(source, source, f"{source}: not UTF-8 (invalid byte 0x{raw[exc.start]:02x} "
                                       f"at column {exc.start + 1})")
    except json.JSONDecodeError as exc:
        msg = exc.msg.removesuffix(" at")  # "Invalid control character at"
        return Failure(source, source, f"{source}: invalid JSON ({msg} at column {exc.colno})"
                                       + ("; the input ended mid-line" if cut_short else ""))
    except RecursionError:
        return Failure(source, source, f"{source}: invalid JSON (nested too deeply)")
    except ReadError as exc:
        return Failure(source, source, str(exc))
    except Exception as exc:  # noqa: BLE001 -- one odd line must not end the batch
        return Failure(source, source, f"{source}: unusable record ({type(exc).__name__}: {exc})")


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _scrub(obj) -> tuple[object, int]:
    """``obj`` with unpaired surrogates (valid JSON, but not encodable text) replaced
    by "?"; returns ``(clean, number of strings changed)``."""
    if isinstance(obj, str):
        try:
            obj.encode("utf-8")
            return obj, 0
        except UnicodeEncodeError:
            return obj.encode("utf-8", "replace").decode("utf-8"), 1
    if isinstance(obj, list):
        items = [_scrub(v) for v in obj]
        return [v for v, _ in items], sum(n for _, n in items)
    if isinstance(obj, dict):
        items = [(_scrub(k), _scrub(v)) for k, v in obj.items()]
        return {k: v for (k, _), (v, _) in items}, sum(a + b for (_, a), (_, b) in items)
    return obj, 0


# ---------------------------------------------------------------- paths

def _is_jsonl(path: Path) -> bool:
    return path.name.lower().endswith(JSONL_SUFFIXES)


def _read_file(path: Path, raw: bool = False) -> Iterator[Record]:
    name = str(path)
    if _is_jsonl(path):
        try:
            opener = gzip.open if path.name.lower().endswith(".gz") else open
            with opener(path, "rb") as stream:
                yield from iter_jsonl(stream, name, raw=raw)
        except OSError as exc:
            yield Failure(name, name, f"{name}: cannot read ({exc.strerror or exc})")
        return
    try:
        data = path.read_bytes()
        text, warnings = decode(data, name)
        article = parse_document(text, name, path.stem)
        article.warnings.extend(warnings)
        yield article
    except ReadError as exc:
        yield Failure(path.stem, name, str(exc))
    except OSError as exc:
        yield Failure(path.stem, name, f"{name}: cannot read ({exc.strerror or exc})")
    except Exception as exc:  # noqa: BLE001 -- one odd file must not end the batch
        yield Failure(path.stem, name, f"{name}: unusable file ({type(exc).__name__}: {exc})")


def _read_stdin(stream: IO[bytes] | None = None, raw: bool = False) -> Iterator[Record]:
    if stream is None:
        if sys.stdin is None:  # started with stdin closed (`newstag predict - <&-`)
            yield Failure("stdin", "<stdin>", "<stdin>: standard input is closed; nothing to read")
            return
        stream = sys.stdin.buffer
    try:
        head = stream.peek(1)[:1] if hasattr(stream, "peek") else b""
        if head.lstrip()[:1] in (b"{", b"["):
            yield from iter_jsonl(stream, "<stdin>", raw=raw)
            return
        data = stream.read()
    except (OSError, ValueError) as exc:  # a closed or unreadable descriptor
        yield Failure("stdin", "<stdin>", f"<stdin>: cannot read ({getattr(exc, 'strerror', None) or exc})")
        return
    if data.lstrip()[:1] == b"{":
        yield from iter_jsonl(io.BytesIO(data), "<stdin>", raw=raw)
        return
    try:
        text, warnings = decode(data, "<stdin>")
        article = parse_document(text, "<stdin>", "stdin")
        article.warnings.extend(warnings)
        yield article
    except ReadError as exc:
        yield Failure("stdin", "<stdin>", str(exc))


def expand_paths(paths: Iterable[str | Path]) -> Iterator[Path | str | Failure]:
    """Files in order: directories are searched recursively for ``.txt``/``.jsonl``
    files (sorted); ``-`` stays as stdin; a missing path or an empty directory is a
    Failure."""
    for p in paths:
        if str(p) == "-":
            yield "-"
            continue
        path = Path(p)
        if path.is_dir():
            found = sorted(
                f for f in path.rglob("*")
                if f.is_file() and (f.suffix.lower() in TEXT_SUFFIXES or _is_jsonl(f))
            )
            if not found:
                yield Failure(str(path), str(path), f"{path}: directory has no .txt or .jsonl files")
            yield from found
        elif path.is_file():
            yield path
        elif path.exists():
            yield Failure(str(path), str(path), f"{path}: not a regular file")
        else:
            yield Failure(str(path), str(path), f"{path}: no such file or directory")


def read_articles(paths: Iterable[str | Path], stdin: IO[bytes] | None = None,
                  raw: bool = False) -> Iterator[Record]:
    """Stream :class:`Article` or :class:`Failure` records from ``paths``, in order.

    ``raw``: JSON Lines come as :class:`RawLine` s, to be parsed where they are
    tagged (:func:`parse_jsonl_line`); other files as records."""
    for item in expand_paths(paths):
        if isinstance(item, Failure):
            yield item
        elif item == "-":
            yield from _read_stdin(stdin, raw)
        else:
            yield from _read_file(item, raw)


def load_articles(paths: Iterable[str | Path]) -> tuple[list[Article], list[Failure]]:
    """Read everything eagerly (for training and evaluation)."""
    articles, failures = [], []
    for rec in read_articles(paths):
        (articles if isinstance(rec, Article) else failures).append(rec)
    return articles, failures
