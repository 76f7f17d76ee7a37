"""Alignment of two token strings: which tokens of the old text stay, go, or come.

Each token is one character here (see ``Alphabet``), so diff-match-patch's character diff does the
work; what this module adds is keeping that work bounded and the result readable. The module
docstring of ``app.corrections.diff`` explains the whole pipeline and why each step is there.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter

from diff_match_patch import diff_match_patch

from app.corrections.tokens import BLOCKS, NAME, VOID

DELETE, EQUAL, INSERT = -1, 0, 1
Diff = tuple[int, str]

DIRECT_TOKENS = 1200
"""Regions up to this many tokens (both sides together) go straight to Myers."""
WORK_BUDGET = 2_000_000
"""Sum of len(old) x len(new) over the Myers calls of one diff; about a second in the worst case."""
CLEANUP_BUDGET = 2_000_000
"""Sum of the squared sizes (in tokens) of the stretches given to dmp's semantic cleanup in one diff."""
_CLEANUP_STRETCH = 256
_LONG_EQUALITY = 64
_EDGE = 16
_MAX_ANCHOR_DEPTH = 8
_SLIDE_WINDOW = 32

_OPEN, _CLOSE, _VOIDTAG = 1, -1, 0


def code_point(index: int) -> str:
    """The index-th character of the token alphabet: from U+0100 on, skipping surrogates."""
    cp = 0x100 + index
    if cp >= 0xD800:
        cp += 0x800
    if cp > 0x10FFFF:
        raise ValueError("too many distinct tokens to diff (more than a million)")
    return chr(cp)


class Alphabet:
    """The token <-> character map shared by both documents, with what the slide pass needs to know."""

    def __init__(self, old: list[str], new: list[str]) -> None:
        self.char = {tok: code_point(n) for n, tok in enumerate(dict.fromkeys(old + new))}
        # A bare newline sits between blocks: as itself it lets the first pass split into lines.
        self.char["\n"] = "\n"
        self.tags: dict[str, tuple[int, str]] = {}
        self.space: set[str] = set()
        self.blocks: set[str] = set()
        for tok, ch in self.char.items():
            if tok[0] == "<" and len(tok) > 1:
                closing = tok[1] == "/"
                match = NAME.match(tok, 2 if closing else 1)
                name = match.group().lower() if match else ""
                kind = _CLOSE if closing else (_VOIDTAG if name in VOID else _OPEN)
                self.tags[ch] = (kind, name)
                if name in BLOCKS:
                    self.blocks.add(ch)
            elif tok[0] in " \t\n\r\f":
                self.space.add(ch)

    def encode(self, toks: list[str]) -> str:
        return "".join(map(self.char.__getitem__, toks))

    def balanced(self, run: str) -> bool:
        """Whether a run of tokens is a sequence of whole elements and text."""
        stack: list[str] = []
        tags = self.tags
        for ch in run:
            tag = tags.get(ch)
            if tag is None:
                continue
            kind, name = tag
            if kind == _OPEN:
                stack.append(name)
            elif kind == _CLOSE and (not stack or stack.pop() != name):
                return False
        return not stack


def _longest_increasing(pairs: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Longest chain of pairs increasing in both coordinates (pairs come sorted by the first)."""
    tails: list[int] = []
    tail_at: list[int] = []
    back: list[int] = []
    for n, (_, j) in enumerate(pairs):
        k = bisect_left(tails, j)
        back.append(tail_at[k - 1] if k else -1)
        if k == len(tails):
            tails.append(j)
            tail_at.append(n)
        else:
            tails[k] = j
            tail_at[k] = n
    chain = []
    n = tail_at[-1] if tail_at else -1
    while n >= 0:
        chain.append(pairs[n])
        n = back[n]
    chain.reverse()
    return chain


class Differ:
    """Token-string diff: deterministic Myers within a token budget, patience anchors to split."""

    def __init__(self, alphabet: Alphabet) -> None:
        self.dmp = diff_match_patch()
        self.dmp.Diff_Timeout = 0
        self.alphabet = alphabet
        self.budget = WORK_BUDGET
        self.cleanup_budget = CLEANUP_BUDGET

    def diff(self, old: str, new: str) -> list[Diff]:
        raw: list[Diff] = []
        self._by_lines(old, new, raw)
        return normalise(self._slide(self._semantic(normalise(raw))))

    def _semantic(self, diffs: list[Diff]) -> list[Diff]:
        """dmp's semantic cleanup, which folds short unchanged runs into the edits around them
        ("<del>the cat sat</del><ins>a dog ran</ins>" rather than word confetti), applied between
        block boundaries only: an unchanged paragraph between two rewritten ones stays unchanged."""
        out: list[Diff] = []
        segment: list[Diff] = []
        for op, text in diffs:
            if op == EQUAL and not self.alphabet.blocks.isdisjoint(text):
                out += self._cleanup(segment)
                out.append((op, text))
                segment = []
            else:
                segment.append((op, text))
        return out + self._cleanup(segment)

    def _cleanup(self, diffs: list[Diff]) -> list[Diff]:
        """dmp's semantic cleanup, in stretches whose cost is counted against CLEANUP_BUDGET.

        Its loop backs up after every equality it folds and splices a Python list each time, so on
        many small edits it is quadratic (100,000 alternating tokens took minutes). It is given short
        stretches instead: one ends at an unchanged run of _LONG_EQUALITY tokens, which it would fold
        only between edits at least as long, keeping _EDGE tokens of it on each side so that edits
        can still shift to a word boundary; or at the first unchanged run once it holds
        _CLEANUP_STRETCH tokens. A stretch of n tokens is charged n squared, its worst case; past
        the budget a stretch is left as Myers found it, finer than it might be but still exact.
        """
        out: list[Diff] = []
        stretch: list[Diff] = []
        size = 0
        for op, text in diffs:
            if op == EQUAL and stretch and (len(text) >= _LONG_EQUALITY or size >= _CLEANUP_STRETCH):
                head, middle, tail = text, "", ""
                if len(text) >= _LONG_EQUALITY:
                    head, middle, tail = text[:_EDGE], text[_EDGE:-_EDGE], text[-_EDGE:]
                stretch.append((EQUAL, head))
                out += self._cleaned(stretch)
                if middle:
                    out.append((EQUAL, middle))
                stretch = [(EQUAL, tail)] if tail else []
                size = len(tail)
            else:
                stretch.append((op, text))
                size += len(text)
        return out + self._cleaned(stretch)

    def _cleaned(self, stretch: list[Diff]) -> list[Diff]:
        if all(op == EQUAL for op, _ in stretch):
            return stretch
        size = sum(len(text) for _, text in stretch)
        if size * size > self.cleanup_budget:
            return stretch
        self.cleanup_budget -= size * size
        self.dmp.diff_cleanupSemantic(stretch)
        return stretch

    def _by_lines(self, a: str, b: str, out: list[Diff]) -> None:
        """Diff the lines (blocks, mostly) first, then the tokens of the lines that differ.

        dmp's line mode, on token strings: in a long text with scattered edits almost every line is
        equal, and a line is found equal without looking at its tokens one by one.
        """
        lines_a, lines_b = _lines(a), _lines(b)
        if len(lines_a) < 3 or len(lines_b) < 3:
            self._region(a, b, out, 0)
            return
        code = {line: code_point(n) for n, line in enumerate(dict.fromkeys(lines_a + lines_b))}
        line_of = {ch: line for line, ch in code.items()}
        by_line: list[Diff] = []
        self._region(
            "".join(map(code.__getitem__, lines_a)), "".join(map(code.__getitem__, lines_b)), by_line, 0
        )
        by_line = self._cleanup(normalise(by_line))
        gone: list[str] = []
        came: list[str] = []
        for op, chars in [*by_line, (EQUAL, "")]:
            text = "".join(map(line_of.__getitem__, chars))
            if op == DELETE:
                gone.append(text)
            elif op == INSERT:
                came.append(text)
            else:
                if gone or came:
                    self._region("".join(gone), "".join(came), out, 1)
                    gone, came = [], []
                if text:
                    out.append((EQUAL, text))

    def _region(self, a: str, b: str, out: list[Diff], depth: int) -> None:
        if a == b:
            if a:
                out.append((EQUAL, a))
            return
        prefix = self.dmp.diff_commonPrefix(a, b)
        if prefix:
            out.append((EQUAL, a[:prefix]))
            a, b = a[prefix:], b[prefix:]
        suffix = self.dmp.diff_commonSuffix(a, b)
        tail = a[len(a) - suffix :] if suffix else ""
        if suffix:
            a, b = a[:-suffix], b[:-suffix]
        if not a or not b or len(a) + len(b) <= DIRECT_TOKENS or depth >= _MAX_ANCHOR_DEPTH:
            self._myers(a, b, out)
        else:
            anchors = self._anchors(a, b)
            if anchors:
                ai = bi = 0
                for i, j in anchors:
                    self._region(a[ai:i], b[bi:j], out, depth + 1)
                    out.append((EQUAL, a[i]))
                    ai, bi = i + 1, j + 1
                self._region(a[ai:], b[bi:], out, depth + 1)
            else:
                self._myers(a, b, out)
        if tail:
            out.append((EQUAL, tail))

    def _myers(self, a: str, b: str, out: list[Diff]) -> None:
        cost = len(a) * len(b)
        if cost and cost <= self.budget:
            self.budget -= cost
            out.extend(self.dmp.diff_main(a, b, False))
            return
        if a:
            out.append((DELETE, a))
        if b:
            out.append((INSERT, b))

    @staticmethod
    def _anchors(a: str, b: str) -> list[tuple[int, int]]:
        """Tokens found exactly once on each side, in an order both sides agree on."""
        count_a, count_b = Counter(a), Counter(b)
        unique = {ch for ch, n in count_a.items() if n == 1 and count_b.get(ch) == 1}
        if not unique:
            return []
        where_b = {ch: j for j, ch in enumerate(b) if ch in unique}
        return _longest_increasing([(i, where_b[ch]) for i, ch in enumerate(a) if ch in unique])

    def _slide(self, diffs: list[Diff]) -> list[Diff]:
        """Shift each lone insertion or deletion to the equivalent place that keeps its tags whole.

        "<p>A</p><p>C</p>" to "<p>A</p><p>B</p><p>C</p>" may align as inserting "B</p><p>"; the
        same edit placed as "<p>B</p>" lets the rebuild insert one whole paragraph. Among places
        equally whole, one that starts with a word or tag beats one that starts with a space.
        """
        out = list(diffs)
        for k, (op, run) in enumerate(out):
            if op == EQUAL:
                continue
            before = out[k - 1][1] if k > 0 and out[k - 1][0] == EQUAL else None
            after = out[k + 1][1] if k + 1 < len(out) and out[k + 1][0] == EQUAL else None
            if (k > 0 and before is None) or (k + 1 < len(out) and after is None):
                continue  # next to the other kind of edit: not a lone one
            left, right = (before or "")[-_SLIDE_WINDOW:], (after or "")[:_SLIDE_WINDOW]
            window, base, size = left + run + right, len(left), len(run)
            lo = hi = base
            while lo > 0 and window[lo - 1] == window[lo + size - 1]:
                lo -= 1
            while hi < len(right) + base and window[hi] == window[hi + size]:
                hi += 1
            if lo == hi:
                continue
            best = max(range(lo, hi + 1), key=lambda p: self._placement(window[p : p + size], -p))
            if best == base:
                continue
            cut = len(before or "") - base
            if k > 0:
                out[k - 1] = (EQUAL, (before or "")[:cut] + window[:best])
            out[k] = (op, window[best : best + size])
            if k + 1 < len(out):
                out[k + 1] = (EQUAL, window[best + size :] + (after or "")[_SLIDE_WINDOW:])
        return out

    def _placement(self, run: str, leftness: int) -> tuple[bool, bool, int]:
        return (self.alphabet.balanced(run), run[0] not in self.alphabet.space, leftness)


def _lines(chars: str) -> list[str]:
    """Split a token string after each newline token, keeping the newlines."""
    parts = chars.split("\n")
    lines = [part + "\n" for part in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return lines


def normalise(diffs: list[Diff]) -> list[Diff]:
    """Merge runs of equal operations into dmp's canonical equal/delete/insert order, without the
    repeated string concatenation that makes dmp's own cleanupMerge quadratic on many anchors."""
    out: list[Diff] = []
    same: list[str] = []
    dels: list[str] = []
    inss: list[str] = []

    def flush_edits() -> None:
        if dels:
            out.append((DELETE, "".join(dels)))
            dels.clear()
        if inss:
            out.append((INSERT, "".join(inss)))
            inss.clear()

    for op, text in diffs:
        if not text:
            continue
        if op == EQUAL:
            flush_edits()
            same.append(text)
            continue
        if same:
            out.append((EQUAL, "".join(same)))
            same.clear()
        (dels if op == DELETE else inss).append(text)
    flush_edits()
    if same:
        out.append((EQUAL, "".join(same)))
    return out
