"""Reader comments to safe HTML: a deliberately small, single-pass, linear-time format.

Posts go through Python-Markdown, which is not linear-time (runs of ``*``, ``[`` or ``](`` go quadratic,
nesting recurses), so it needs a forked worker under a time budget (app/posts/rendering.py). Comments
arrive from anyone, in bulk, so they get a format that cannot be slow instead of a budget:

* paragraphs split on blank lines, single newlines become ``<br>``;
* ``*emphasis*`` / ``_emphasis_`` and ``**strong**`` on one line, not nested;
* bare ``http(s)://`` URLs and ``[text](https://url)`` become links with ``rel="nofollow ugc noopener"``
  (the ``ugc`` tells search engines the clinic does not vouch for them);
* everything else is escaped text: no raw HTML, no images, no other URL schemes.

Every construct is recognised with precomputed "next occurrence" tables, so a failed opener costs O(1)
and the scanner never re-reads a character range: 100 KB of ``*`` or ``[`` or ``](`` is as cheap as prose.
The output is built only from escaped text and four fixed tags, so it is always a well-formed fragment.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from html import escape

MAX_COMMENT_CHARS = 5000
"""Longer comments are refused with ValueError; the web edge answers 422."""

LINK_REL = "nofollow ugc noopener"

# Control characters, lone surrogates and Unicode noncharacters: HTML calls them all parse errors.
_NONCHARACTERS = "".join(chr(plane * 0x10000 + 0xFFFE) + chr(plane * 0x10000 + 0xFFFF) for plane in range(17))
_CONTROL = re.compile(f"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufdd0-\ufdef{_NONCHARACTERS}]")
_SPECIAL = re.compile(r"[*_\[]|https?://", re.IGNORECASE)
_SCHEME = re.compile(r"https?://", re.IGNORECASE)
# Characters a URL may contain here: RFC 3986 minus quotes and brackets, plus non-ASCII letters.
_URL_PUNCT = frozenset("-._~:/?#@!$&()*+,;=%")
_TRAILING = frozenset(".,;:!?*_")


@dataclass(frozen=True)
class _Text:
    text: str


@dataclass(frozen=True)
class _Link:
    text: str
    href: str


@dataclass(frozen=True)
class _Span:
    tag: str  # "em" or "strong"
    children: tuple[_Text | _Link, ...]


_Token = _Text | _Link | _Span


def _clean(text: str) -> str:
    """Unix newlines; control characters, surrogates and noncharacters dropped (tabs and newlines kept)."""
    return _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


def _next_table(line: str, needle: str) -> list[int]:
    """``table[i]`` is the first index >= i where ``needle`` starts in ``line``, or -1. One pass."""
    table = [-1] * (len(line) + 2)
    nxt = -1
    width = len(needle)
    for i in range(len(line) - 1, -1, -1):
        if line.startswith(needle, i) if width > 1 else line[i] == needle:
            nxt = i
        table[i] = nxt
    return table


def _url_end(line: str, start: int) -> int:
    """Index just past the URL-ish characters from ``start``: stops at spaces, quotes, brackets."""
    i = start
    n = len(line)
    while i < n:
        ch = line[i]
        if not (ch.isalnum() or ch in _URL_PUNCT):
            break
        i += 1
    return i


def _bare_url(line: str, start: int) -> tuple[str, int] | None:
    """The bare URL starting at ``start`` (trailing punctuation left out) and where it ends, or None."""
    if start > 0 and (line[start - 1].isalnum() or line[start - 1] in "/@"):
        return None  # part of a word, or of another URL
    end = _url_end(line, start)
    opens = line.count("(", start, end)
    closes = line.count(")", start, end)
    while end > start:
        last = line[end - 1]
        if last in _TRAILING or (last == ")" and closes > opens):
            closes -= last == ")"
            end -= 1
        else:
            break
    url = line[start:end]
    scheme_end = url.find("://") + 3
    if len(url) <= scheme_end or not url[scheme_end].isalnum():
        return None
    return url, end


def _is_scheme(line: str, i: int) -> bool:
    head = line[i : i + 8].lower()
    return head.startswith("http://") or head.startswith("https://")


def _autolinked(text: str) -> Iterator[_Text | _Link]:
    """Plain text with bare URLs linked: the content of emphasis."""
    i = 0
    for match in _SCHEME.finditer(text):
        found = None if match.start() < i else _bare_url(text, match.start())
        if found is None:
            continue
        if match.start() > i:
            yield _Text(text[i : match.start()])
        yield _Link(found[0], found[0])
        i = found[1]
    if i < len(text):
        yield _Text(text[i:])


class _LineScanner:
    """One left-to-right pass over a line, with next-occurrence tables for every delimiter."""

    def __init__(self, line: str) -> None:
        self.line = line
        self.close_bracket = _next_table(line, "]")
        self.open_bracket = _next_table(line, "[")
        self.star = _next_table(line, "*")
        self.underscore = _next_table(line, "_")
        self.double_star = _next_table(line, "**")

    def tokens(self) -> Iterator[_Token]:
        line = self.line
        n = len(line)
        i = 0
        text_start = 0
        while i < n:
            match = _SPECIAL.search(line, i)
            if match is None:
                break
            i = match.start()
            found = self._construct(i)
            if found is None:
                i += 1
                continue
            token, end = found
            if text_start < i:
                yield _Text(line[text_start:i])
            yield token
            i = text_start = end
        if text_start < n:
            yield _Text(line[text_start:])

    def _construct(self, i: int) -> tuple[_Token, int] | None:
        """The link or emphasis starting at ``i`` and the index after it, or None for a plain char."""
        line = self.line
        ch = line[i]
        if ch == "[":
            return self._explicit_link(i)
        if ch == "*" and line.startswith("**", i):
            return self._span(i, "**", self.double_star, "strong")
        if ch in "*_":
            return self._span(i, ch, self.star if ch == "*" else self.underscore, "em")
        found = _bare_url(line, i)
        return None if found is None else (_Link(found[0], found[0]), found[1])

    def _explicit_link(self, i: int) -> tuple[_Token, int] | None:
        """``[text](http...)``: the text holds no ``[``, the URL no space, bracket or quote."""
        line = self.line
        close = self.close_bracket[i + 1]
        if close == -1:
            return None
        inner_open = self.open_bracket[i + 1]
        if inner_open != -1 and inner_open < close:
            return None
        label = line[i + 1 : close].strip()
        if not label or not line.startswith("](", close) or not _is_scheme(line, close + 2):
            return None
        # The link ends at the first ")" that closes nothing inside the URL, so balanced parentheses
        # stay in it: [A](https://en.wikipedia.org/wiki/A_(b)). One scan, stopped by any space or bracket.
        depth = 0
        for k in range(close + 2, len(line)):
            ch = line[k]
            if ch == "(":
                depth += 1
            elif ch == ")":
                if depth == 0:
                    href = line[close + 2 : k]
                    found = _bare_url(href, 0)
                    return None if found is None or found[0] != href else (_Link(label, href), k + 1)
                depth -= 1
            elif not (ch.isalnum() or ch in _URL_PUNCT):
                return None
        return None

    def _span(self, i: int, marker: str, table: list[int], tag: str) -> tuple[_Token, int] | None:
        """``*em*``, ``_em_`` or ``**strong**`` closing on the same line; "_" only between words."""
        line = self.line
        width = len(marker)
        start = i + width
        if start >= len(line) or line[start].isspace() or line[start] == marker[0]:
            return None
        if marker == "_" and i > 0 and line[i - 1].isalnum():
            return None  # snake_case stays as written
        close = table[start]
        if close == -1 or line[close - 1].isspace():
            return None
        after = close + width
        if marker == "_" and after < len(line) and line[after].isalnum():
            return None
        return _Span(tag, tuple(_autolinked(line[start:close]))), after


def _paragraphs(text: str) -> Iterator[list[str]]:
    """Groups of consecutive non-blank lines."""
    lines: list[str] = []
    for line in text.split("\n"):
        if line.strip():
            lines.append(line.rstrip())
        elif lines:
            yield lines
            lines = []
    if lines:
        yield lines


def _tokens(text: str) -> Iterator[list[list[_Token]]]:
    for paragraph in _paragraphs(_clean(text)):
        yield [list(_LineScanner(line).tokens()) for line in paragraph]


def _html(token: _Token) -> str:
    if isinstance(token, _Text):
        return escape(token.text)
    if isinstance(token, _Link):
        return f'<a href="{escape(token.href)}" rel="{LINK_REL}">{escape(token.text)}</a>'
    inner = "".join(_html(child) for child in token.children)
    return f"<{token.tag}>{inner}</{token.tag}>"


def render_comment(text: str, *, max_chars: int | None = MAX_COMMENT_CHARS) -> str:
    """Safe HTML for a reader comment; raises ValueError past ``max_chars`` (None: no cap, for tests
    and tools that have already checked the length)."""
    if max_chars is not None and len(text) > max_chars:
        raise ValueError(f"A comment can be at most {max_chars:,} characters; this one has {len(text):,}.")
    return "\n".join(
        "<p>" + "<br>\n".join("".join(_html(t) for t in line) for line in paragraph) + "</p>"
        for paragraph in _tokens(text)
    )


def count_links(text: str) -> int:
    """How many links the comment would render, for the moderation rule on link count.

    Works on text of any length (it is linear), so a caller may count before checking the length.
    """
    total = 0
    for paragraph in _tokens(text):
        for line in paragraph:
            for token in line:
                if isinstance(token, _Link):
                    total += 1
                elif isinstance(token, _Span):
                    total += sum(isinstance(child, _Link) for child in token.children)
    return total
