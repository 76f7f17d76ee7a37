"""Bare ``http(s)://`` addresses in post text become links, in one linear pass over the rendered tree.

Readers expect a pasted address to be clickable. The linking is a Markdown tree processor that runs
after the inline patterns, not one more inline pattern, for two reasons:

* Python-Markdown rebuilds a paragraph's text after every inline match, so a pattern that matches often
  is quadratic in the number of matches; this pass reads each piece of text once.
* By then code spans and blocks are ``code``/``pre`` elements, Markdown links (``[x](url)``,
  ``<https://x>``) are ``a`` elements, and raw inline HTML tags are stash placeholders: the first two are
  skipped by tag, and a raw ``<a>``, ``<code>``, ``<pre>``, ``<kbd>`` or ``<samp>`` is followed through
  the stash, so nothing is linked twice or inside code.

It runs before the smarty and abbreviation processors, and marks the link text atomic, so ``--`` or a
known abbreviation inside an address is not rewritten. Emphasis has already been applied, so an address
holding ``*a*`` is split by it; ``<https://...>`` keeps such an address whole. A backslash-escaped
character (``\\_``) is part of the address.

An address ends before the first character RFC 3986 does not allow (whitespace, quotes, ``<``, ``>``,
backticks) or a bracket; trailing ``.,;:!?`` and a ``)`` that the address did not open are left out, so
"(see https://x.org/a_(b))." links ``https://x.org/a_(b)``. The resulting ``<a href>`` goes through the
sanitiser like any other link.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as etree
from collections.abc import Iterator

from markdown import Markdown
from markdown.extensions import Extension
from markdown.treeprocessors import Treeprocessor
from markdown.util import ETX, HTML_PLACEHOLDER, STX, AtomicString

PRIORITY = 12
"""After the inline patterns (20) and footnote processors (19, 15); before abbreviations (7), smarty (6)."""

# Where an address may start (not inside a word or another address), and raw HTML stash placeholders,
# found by one regex in document order. Backslash escapes are held as STX, the code point, ETX.
_TOKEN = re.compile(r"(?<![\w/@])(https?)://|" + re.escape(HTML_PLACEHOLDER) % r"(\d{1,9})", re.IGNORECASE)
_ESCAPED = re.compile(re.escape(STX) + r"(\d{1,7})" + re.escape(ETX))
# RFC 3986 characters minus quotes and brackets; letters and digits of any script are allowed too.
_URL_PUNCT = frozenset("-._~:/?#@!$&()*+,;=%")
_TRAILING = frozenset(".,;:!?")
_RAW_TAG = re.compile(r"<(/?)(a|code|pre|kbd|samp)(?:\s[^<]*)?>", re.IGNORECASE)
_SKIP = frozenset({"a", "code", "pre", "kbd", "samp", "script", "style"})
_INLINE = frozenset("a abbr b br code del em i img ins kbd mark q s samp small span strong sub sup u".split())


def _url_char(ch: str) -> bool:
    return ch.isalnum() or ch in _URL_PUNCT


def _url_end(text: str, start: int) -> int:
    """Index just past the address characters from ``start``, a Markdown escape counting as its character."""
    i, n = start, len(text)
    while i < n:
        ch = text[i]
        if ch == STX:
            escaped = _ESCAPED.match(text, i)
            if escaped is None or not _url_char(chr(min(int(escaped.group(1)), 0x10FFFF))):
                break
            i = escaped.end()
        elif _url_char(ch):
            i += 1
        else:
            break
    return i


def bare_url(text: str, start: int, scheme: str) -> int | None:
    """Where the address whose ``scheme`` starts at ``start`` ends, trailing punctuation left out; or
    None when no letter or digit follows ``://``.

    The host is checked before anything is scanned, so a scan always yields an address and the caller
    can skip every start inside it: each character is read a bounded number of times.
    """
    host = start + len(scheme) + 3
    if host >= len(text) or not text[host].isalnum():
        return None
    end = _url_end(text, host)
    opens = text.count("(", start, end)
    closes = text.count(")", start, end)
    while end > host:
        last = text[end - 1]
        if last in _TRAILING:
            end -= 1
        elif last == ")" and closes > opens:
            closes -= 1
            end -= 1
        else:
            break
    return end


class BareUrlTreeprocessor(Treeprocessor):
    """Wrap bare addresses in ``a`` elements, outside links and code (Markdown or raw HTML)."""

    def __init__(self, md: Markdown) -> None:
        super().__init__(md)
        self._raw_depth = 0  # raw <a>/<code>/... tags open at this point of the walk

    def run(self, root: etree.Element) -> None:
        self._raw_depth = 0
        self._walk(root)

    def _walk(self, el: etree.Element) -> None:
        """Link in ``el``'s text and its children's tails, in document order; ``el``'s own tail is the
        parent's business. Children are rebuilt in one list, so many links cost no repeated inserts."""
        if el.tag in _SKIP:
            return
        if el.tag not in _INLINE:
            self._raw_depth = 0  # a raw inline tag left open does not reach into the next block
        rebuilt: list[etree.Element] = []
        changed = False
        if el.text:
            el.text, links = self._split(el.text)
            rebuilt += links
            changed = bool(links)
        for child in list(el):
            self._walk(child)
            rebuilt.append(child)
            if child.tail:
                child.tail, links = self._split(child.tail)
                rebuilt += links
                changed = changed or bool(links)
        if changed:
            el[:] = rebuilt

    def _split(self, text: str) -> tuple[str, list[etree.Element]]:
        """``text`` up to its first address, and one ``a`` per address, each carrying what follows it."""
        if isinstance(text, AtomicString):
            return text, []
        head: str | None = None
        links: list[etree.Element] = []
        done = 0  # text[:done] is placed (in head or a link's tail)
        for match in _TOKEN.finditer(text):
            if match.group(2) is not None:
                self._follow_raw(int(match.group(2)))
                continue
            start = match.start()
            if start < done or self._raw_depth:
                continue
            end = bare_url(text, start, match.group(1))
            if end is None:
                continue
            if links:
                links[-1].tail = text[done:start]
            else:
                head = text[:start]
            links.append(self._link(match.group(1), text[start:end]))
            done = end
        if not links:
            return text, []
        links[-1].tail = text[done:]
        return head or "", links

    def _follow_raw(self, index: int) -> None:
        blocks = self.md.htmlStash.rawHtmlBlocks
        raw = blocks[index] if index < len(blocks) else None
        tag = _RAW_TAG.fullmatch(raw) if isinstance(raw, str) else None
        if tag is not None:
            self._raw_depth = max(0, self._raw_depth + (-1 if tag.group(1) else 1))

    @staticmethod
    def _link(scheme: str, url: str) -> etree.Element:
        # An upper-case scheme is lowered, so the link is recognised as external like any other.
        link = etree.Element("a", {"href": scheme.lower() + url[len(scheme) :]})
        link.text = AtomicString(url)
        return link


class BareUrlExtension(Extension):
    def extendMarkdown(self, md: Markdown) -> None:  # noqa: N802 - Python-Markdown's name
        md.treeprocessors.register(BareUrlTreeprocessor(md), "candor-bare-urls", PRIORITY)


def find_bare_urls(text: str) -> Iterator[str]:
    """The bare addresses in plain ``text``, as this module would link them (for tests and tools)."""
    done = 0
    for match in _TOKEN.finditer(text):
        if match.group(1) is None or match.start() < done:
            continue
        end = bare_url(text, match.start(), match.group(1))
        if end is not None:
            yield text[match.start() : end]
            done = end
