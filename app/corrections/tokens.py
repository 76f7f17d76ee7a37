"""The diff engine's view of HTML: tokens, tag names and attributes, and which tags pair up.

Kept apart from the alignment (which sees only characters) and the rebuild (which sees trees) so
that the one reading of sanitised markup both rely on lives in one place.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Han, kana, bopomofo, CJK punctuation and fullwidth forms: one token per character.
_CJK = (
    "\u2e80-\u2fdf\u3000-\u303f\u3040-\u30ff\u3100-\u312f\u3190-\u31ff"
    "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef\U00020000-\U0003ffff"
)
_ATTRS = r"""(?:[^>"']|"[^"]*"|'[^']*')*"""
# A parser drops the first newline after these start tags, so it belongs to the tag: kept apart, a
# struck or inserted newline there would change the text the parser sees.
TOKEN = re.compile(
    rf"<(?:pre|textarea|listing)(?=[\s/>]){_ATTRS}>\n?"
    rf"|</?[A-Za-z][^\s/>]*{_ATTRS}>"
    r"|[ \t\n\r\f]+"
    rf"|[{_CJK}]"
    rf"|[^ \t\n\r\f<{_CJK}]+"
    r"|<"
)
NAME = re.compile(r"[A-Za-z][^\s/>]*")
_ATTR = re.compile(r"""\s+([^\s"'>/=]+)(?:\s*=\s*("[^"]*"|'[^']*'|[^\s"'=<>`]+))?""")
VOID = frozenset("area base br col embed hr img input keygen link meta param source track wbr".split())
_AUTHOR_MARKS = {"del": "s", "ins": "u"}
# An unchanged stretch holding one of these tags is never folded into the edits around it.
BLOCKS = frozenset(
    "address article aside blockquote dd details div dl dt figcaption figure footer h1 h2 h3 h4 h5 h6 "
    "header hr li main nav ol p pre section table tbody td tfoot th thead tr ul".split()
)

MAX_NESTING = 200
"""Deeper documents are shown as wholly replaced rather than risk Python's recursion limit."""


@dataclass(frozen=True, slots=True)
class Doc:
    """A tokenised fragment: ``mate[i]`` is the matching end tag of a start tag, or ``i`` itself."""

    toks: list[str]
    mate: list[int]
    ids: frozenset[str]


def tag_name(tag: str) -> str:
    """The lower-cased element name of a start or end tag token."""
    match = NAME.match(tag, 2 if tag[1] == "/" else 1)
    return match.group().lower() if match else ""


def attributes(tag: str) -> list[tuple[str, str, int, int]]:
    """(name, unquoted value, start, end) of each attribute of a start tag, in order."""
    name = NAME.match(tag, 1)
    pos = name.end() if name else len(tag)
    found = []
    while (m := _ATTR.match(tag, pos)) is not None:
        value = m.group(2) or ""
        if value[:1] in ("'", '"'):
            value = value[1:-1]
        found.append((m.group(1).lower(), value, m.start(), m.end()))
        pos = m.end()
    return found


def tokenise(html: str) -> Doc | None:
    """Cut a fragment into tokens and pair its tags; None when it is not balanced HTML.

    Sanitiser output always is (every element closed, void elements bare); anything else is left to
    the whole-document fallback rather than guessed at.
    """
    toks = TOKEN.findall(html)
    mate = list(range(len(toks)))
    stack: list[tuple[int, str]] = []
    ids: set[str] = set()
    for i in [i for i, t in enumerate(toks) if t[0] == "<" and len(t) > 1]:
        tok = toks[i]
        closing = tok[1] == "/"
        start = 2 if closing else 1
        match = NAME.match(tok, start)
        if match is None:  # pragma: no cover - the token pattern guarantees a name
            return None
        name = match.group().lower()
        if name in _AUTHOR_MARKS:
            toks[i] = tok[:start] + _AUTHOR_MARKS[name] + tok[match.end() :]
        if closing:
            if not stack or stack[-1][1] != name:
                return None
            opened, _ = stack.pop()
            mate[opened], mate[i] = i, opened
            continue
        if "id" in tok:
            ids.update(value for attr, value, _, _ in attributes(tok) if attr == "id")
        if name not in VOID:
            stack.append((i, name))
            if len(stack) > MAX_NESTING:
                return None
    if stack:
        return None
    return Doc(toks, mate, frozenset(ids))
