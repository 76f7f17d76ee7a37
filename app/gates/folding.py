"""Fold look-alike characters before the privacy scan, so they cannot hide an identifier.

``١٢٣-٤٥-٦٧٨٩`` (Arabic-Indic digits), ``１２３-４５-６７８９`` (fullwidth) and ``123\u200b-45-6789`` (a
zero-width space inside) all read as ``123-45-6789``; the scanner must see them that way too. Folding
maps every Unicode decimal digit to its ASCII digit, every dash to ``-``, drops format characters
(zero-width spaces and joiners, soft hyphens, direction marks) and marks that sit on a digit or on
punctuation, and applies NFKC where the result is plain ASCII (fullwidth letters, ``＠``, ``（``).

Findings are reported against the text the writer typed, so folding keeps a map from folded offsets
back to original ones. ASCII text is returned as it is, and non-ASCII characters are folded once each
(cached), so a megabyte costs a single pass.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from dataclasses import dataclass, field
from functools import lru_cache

_NON_ASCII = re.compile(r"[^\x00-\x7f]+")
_DASHES = frozenset("\u2010\u2011\u2012\u2013\u2014\u2015\u2043\u2212\ufe58\ufe63\uff0d")


@lru_cache(maxsize=4096)
def _fold_char(ch: str) -> str:
    """The ASCII stand-in for one character, ``""`` to drop it, or the character itself."""
    category = unicodedata.category(ch)
    if category == "Cf":
        return ""
    if category == "Nd":
        return str(unicodedata.decimal(ch))
    if ch in _DASHES:
        return "-"
    if category == "Zs" or ch in "\u2028\u2029\x85":
        return " " if category == "Zs" else "\n"
    folded = unicodedata.normalize("NFKC", ch)
    if folded.isascii() and 0 < len(folded) <= 3:
        return folded
    return ch


@dataclass
class Folded:
    """Folded text and the way back: ``original(i)`` is where folded offset ``i`` came from."""

    text: str
    # (folded offset, original offset) pairs: from each folded offset on, characters map one to one
    # until the next pair.
    _folded_at: list[int] = field(default_factory=list)
    _original_at: list[int] = field(default_factory=list)

    def original(self, index: int) -> int:
        k = bisect_right(self._folded_at, index) - 1
        if k < 0:
            return index
        return self._original_at[k] + (index - self._folded_at[k])

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The original span of folded ``[start, end)``, including characters dropped inside it."""
        if end <= start:
            at = self.original(start)
            return at, at
        return self.original(start), self.original(end - 1) + 1


def fold(text: str) -> Folded:
    """Fold ``text`` (see the module docstring); ASCII text comes back unchanged, without a map."""
    if text.isascii():
        return Folded(text)
    pieces: list[str] = []
    folded_at: list[int] = []
    original_at: list[int] = []
    out = 0  # length of the folded text so far
    pos = 0  # original offset up to which pieces are copied
    previous = ""  # the last folded character, to drop marks that sit on digits or punctuation
    for run in _NON_ASCII.finditer(text):
        if run.start() > pos:
            pieces.append(text[pos : run.start()])
            out += run.start() - pos
            previous = text[run.start() - 1]
        pos = run.start()
        for offset, ch in enumerate(run.group(), start=run.start()):
            rep = _fold_char(ch)
            if rep == ch and unicodedata.category(ch) in ("Mn", "Me") and previous and not previous.isalpha():
                rep = ""
            if len(rep) == 1:
                pieces.append(rep)
                out += 1
                previous = rep
                continue
            # A dropped or expanded character shifts everything after it: record where.
            for j in range(len(rep)):
                folded_at.append(out + j)
                original_at.append(offset)
            pieces.append(rep)
            out += len(rep)
            folded_at.append(out)
            original_at.append(offset + 1)
            if rep:
                previous = rep[-1]
        pos = run.end()
    pieces.append(text[pos:])
    return Folded("".join(pieces), folded_at, original_at)


def fold_value(value: str) -> str:
    """Fold a setting's value (a term, an allow-list entry) the way scanned text is folded."""
    return fold(value).text
