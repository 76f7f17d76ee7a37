"""Word-level diff of two sanitised HTML fragments, for the public changes view.

``diff_html(old, new)`` returns the new fragment's markup with removed words in ``<del>`` and added
words in ``<ins>``. Readers trust a correction notice only if the marked-up text is exact, so the
output keeps one invariant for every input: drop the ``<ins>`` elements and unwrap the ``<del>`` ones
and you have the old document; drop ``<del>`` and unwrap ``<ins>`` and you have the new one.

How it works, and why:

1. **Tokens.** The HTML is cut into tags (atomic), whitespace runs and words (text between ASCII
   whitespace and tags), so a change never strikes half a word or half an entity. Han, kana and other
   CJK characters are one token each: those scripts put no spaces between words, and a whole
   paragraph as a single "word" would hide a one-character correction. Thai, Lao, Khmer and Myanmar
   runs stay whole (no dictionary here to find their word breaks; one character would split
   graphemes). Text is never decoded, so entities such as ``&amp;`` pass through untouched.
2. **Alignment.** Each distinct token becomes one character (diff-match-patch's lines-to-chars
   trick; code points from U+0100 on, past the BMP when needed, skipping surrogates, so a million
   distinct tokens fit) and the two strings are diffed with ``Diff_Timeout = 0``: the same input
   always yields the same output. Myers' algorithm is O(N·D), so long texts are first diffed line by
   line (a newline token sits between blocks), only the differing lines token by token; big regions
   are cut at tokens that occur exactly once on each side (patience anchors); and a work budget
   counted in tokens (not seconds, which would make the result depend on the machine's load) caps the
   Myers calls. A region past the budget is shown as wholly replaced, which is coarse but still exact.
   dmp's semantic cleanup then folds word confetti into readable runs, but never across a block
   boundary.
3. **Rebuilding.** The token alignment is turned back into a tree walk: two elements are kept as one
   (with the diff inside them) only when their start tags are identical and the alignment pairs them
   as siblings; everything else is a whole unit inside ``<del>`` or ``<ins>``. So a link whose href
   changed appears once struck and once inserted, a paragraph turned into a list is replaced as a
   block, and ``<del>``/``<ins>`` never straddle a tag. Inside table structure (``table``, ``tbody``,
   ``tr`` ...) an HTML parser would move a ``<del>`` out of the table, so a change there replaces the
   whole table.

Two consequences to know: ``id`` attributes inside ``<del>`` are dropped when the new document uses
the same id (a footnote in both versions must not give the page duplicate ids), and an author's own
``<del>``/``<ins>`` markup is shown as ``<s>``/``<u>`` so that every ``<del>``/``<ins>`` in the output
means "changed between revisions".
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections import Counter
from dataclasses import dataclass

from diff_match_patch import diff_match_patch

__all__ = ["diff_html"]

_DELETE, _EQUAL, _INSERT = -1, 0, 1
_Diff = tuple[int, str]

# Han, kana, bopomofo, CJK punctuation and fullwidth forms: one token per character.
_CJK = (
    "\u2e80-\u2fdf\u3000-\u303f\u3040-\u30ff\u3100-\u312f\u3190-\u31ff"
    "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef\U00020000-\U0003ffff"
)
_ATTRS = r"""(?:[^>"']|"[^"]*"|'[^']*')*"""
# A parser drops the first newline after these start tags, so it belongs to the tag: kept apart, a
# struck or inserted newline there would change the text the parser sees.
_TOKEN = re.compile(
    rf"<(?:pre|textarea|listing)(?=[\s/>]){_ATTRS}>\n?"
    rf"|</?[A-Za-z][^\s/>]*{_ATTRS}>"
    r"|[ \t\n\r\f]+"
    rf"|[{_CJK}]"
    rf"|[^ \t\n\r\f<{_CJK}]+"
    r"|<"
)
_NAME = re.compile(r"[A-Za-z][^\s/>]*")
_ATTR = re.compile(r"""\s+([^\s"'>/=]+)(?:\s*=\s*("[^"]*"|'[^']*'|[^\s"'=<>`]+))?""")
_VOID = frozenset(
    "area base br col embed hr img input keygen link meta param source track wbr".split()
)
# Elements whose children an HTML parser does not leave in place when they are <del> or <ins>
# (foster parenting): a change among their children escalates to the whole element.
_NO_MARKS_INSIDE = frozenset({"table", "thead", "tbody", "tfoot", "tr", "colgroup", "select"})
_AUTHOR_MARKS = {"del": "s", "ins": "u"}
# An unchanged stretch holding one of these tags is never folded into the edits around it.
_BLOCKS = frozenset(
    "address article aside blockquote dd details div dl dt figcaption figure footer h1 h2 h3 h4 h5 h6 "
    "header hr li main nav ol p pre section table tbody td tfoot th thead tr ul".split()
)

MAX_NESTING = 200
"""Deeper documents are shown as wholly replaced rather than risk Python's recursion limit."""
DIRECT_TOKENS = 1200
"""Regions up to this many tokens (both sides together) go straight to Myers."""
WORK_BUDGET = 2_000_000
"""Sum of len(old) x len(new) over the Myers calls of one diff; about a second in the worst case."""
_MAX_ANCHOR_DEPTH = 8
_SLIDE_WINDOW = 32

_OPEN, _CLOSE, _VOIDTAG = 1, -1, 0


@dataclass(frozen=True, slots=True)
class _Doc:
    """A tokenised fragment: ``mate[i]`` is the matching end tag of a start tag, or ``i`` itself."""

    toks: list[str]
    mate: list[int]
    ids: frozenset[str]


def _attributes(tag: str) -> list[tuple[str, str, int, int]]:
    """(name, unquoted value, start, end) of each attribute of a start tag, in order."""
    name = _NAME.match(tag, 1)
    pos = name.end() if name else len(tag)
    found = []
    while (m := _ATTR.match(tag, pos)) is not None:
        value = m.group(2) or ""
        if value[:1] in ("'", '"'):
            value = value[1:-1]
        found.append((m.group(1).lower(), value, m.start(), m.end()))
        pos = m.end()
    return found


def _tokenise(html: str) -> _Doc | None:
    """Cut a fragment into tokens and pair its tags; None when it is not balanced HTML.

    Sanitiser output always is (every element closed, void elements bare); anything else is left to
    the whole-document fallback rather than guessed at.
    """
    toks = _TOKEN.findall(html)
    mate = list(range(len(toks)))
    stack: list[tuple[int, str]] = []
    ids: set[str] = set()
    for i in [i for i, t in enumerate(toks) if t[0] == "<" and len(t) > 1]:
        tok = toks[i]
        closing = tok[1] == "/"
        start = 2 if closing else 1
        match = _NAME.match(tok, start)
        if match is None:  # pragma: no cover - the token pattern guarantees a name
            return None
        name = match.group().lower()
        if name in _AUTHOR_MARKS:
            toks[i] = tok[:start] + _AUTHOR_MARKS[name] + tok[match.end():]
        if closing:
            if not stack or stack[-1][1] != name:
                return None
            opened, _ = stack.pop()
            mate[opened], mate[i] = i, opened
            continue
        if "id" in tok:
            ids.update(value for attr, value, _, _ in _attributes(tok) if attr == "id")
        if name not in _VOID:
            stack.append((i, name))
            if len(stack) > MAX_NESTING:
                return None
    if stack:
        return None
    return _Doc(toks, mate, frozenset(ids))


def _code_point(index: int) -> str:
    """The index-th character of the token alphabet: from U+0100 on, skipping surrogates."""
    cp = 0x100 + index
    if cp >= 0xD800:
        cp += 0x800
    if cp > 0x10FFFF:
        raise ValueError("too many distinct tokens to diff (more than a million)")
    return chr(cp)


class _Alphabet:
    """The token <-> character map shared by both documents, with what the slide pass needs to know."""

    def __init__(self, old: list[str], new: list[str]) -> None:
        self.char = {tok: _code_point(n) for n, tok in enumerate(dict.fromkeys(old + new))}
        # A bare newline sits between blocks: as itself it lets the first pass split into lines.
        self.char["\n"] = "\n"
        self.tags: dict[str, tuple[int, str]] = {}
        self.space: set[str] = set()
        self.blocks: set[str] = set()
        for tok, ch in self.char.items():
            if tok[0] == "<" and len(tok) > 1:
                closing = tok[1] == "/"
                match = _NAME.match(tok, 2 if closing else 1)
                name = match.group().lower() if match else ""
                kind = _CLOSE if closing else (_VOIDTAG if name in _VOID else _OPEN)
                self.tags[ch] = (kind, name)
                if name in _BLOCKS:
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


class _Differ:
    """Token-string diff: deterministic Myers within a token budget, patience anchors to split."""

    def __init__(self, alphabet: _Alphabet) -> None:
        self.dmp = diff_match_patch()
        self.dmp.Diff_Timeout = 0
        self.alphabet = alphabet
        self.budget = WORK_BUDGET

    def diff(self, old: str, new: str) -> list[_Diff]:
        raw: list[_Diff] = []
        self._by_lines(old, new, raw)
        return _normalise(self._slide(self._semantic(_normalise(raw))))

    def _semantic(self, diffs: list[_Diff]) -> list[_Diff]:
        """dmp's semantic cleanup, which folds short unchanged runs into the edits around them
        ("<del>the cat sat</del><ins>a dog ran</ins>" rather than word confetti), applied between
        block boundaries only: an unchanged paragraph between two rewritten ones stays unchanged."""
        out: list[_Diff] = []
        segment: list[_Diff] = []
        for op, text in diffs:
            if op == _EQUAL and not self.alphabet.blocks.isdisjoint(text):
                self.dmp.diff_cleanupSemantic(segment)
                out += segment
                out.append((op, text))
                segment = []
            else:
                segment.append((op, text))
        self.dmp.diff_cleanupSemantic(segment)
        return out + segment

    def _by_lines(self, a: str, b: str, out: list[_Diff]) -> None:
        """Diff the lines (blocks, mostly) first, then the tokens of the lines that differ.

        dmp's line mode, on token strings: in a long text with scattered edits almost every line is
        equal, and a line is found equal without looking at its tokens one by one.
        """
        lines_a, lines_b = _lines(a), _lines(b)
        if len(lines_a) < 3 or len(lines_b) < 3:
            self._region(a, b, out, 0)
            return
        code = {line: _code_point(n) for n, line in enumerate(dict.fromkeys(lines_a + lines_b))}
        line_of = {ch: line for line, ch in code.items()}
        by_line: list[_Diff] = []
        self._region("".join(map(code.__getitem__, lines_a)), "".join(map(code.__getitem__, lines_b)),
                     by_line, 0)
        by_line = _normalise(by_line)
        self.dmp.diff_cleanupSemantic(by_line)
        gone: list[str] = []
        came: list[str] = []
        for op, chars in [*by_line, (_EQUAL, "")]:
            text = "".join(map(line_of.__getitem__, chars))
            if op == _DELETE:
                gone.append(text)
            elif op == _INSERT:
                came.append(text)
            else:
                if gone or came:
                    self._region("".join(gone), "".join(came), out, 1)
                    gone, came = [], []
                if text:
                    out.append((_EQUAL, text))

    def _region(self, a: str, b: str, out: list[_Diff], depth: int) -> None:
        if a == b:
            if a:
                out.append((_EQUAL, a))
            return
        prefix = self.dmp.diff_commonPrefix(a, b)
        if prefix:
            out.append((_EQUAL, a[:prefix]))
            a, b = a[prefix:], b[prefix:]
        suffix = self.dmp.diff_commonSuffix(a, b)
        tail = a[len(a) - suffix:] if suffix else ""
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
                    out.append((_EQUAL, a[i]))
                    ai, bi = i + 1, j + 1
                self._region(a[ai:], b[bi:], out, depth + 1)
            else:
                self._myers(a, b, out)
        if tail:
            out.append((_EQUAL, tail))

    def _myers(self, a: str, b: str, out: list[_Diff]) -> None:
        cost = len(a) * len(b)
        if cost and cost <= self.budget:
            self.budget -= cost
            out.extend(self.dmp.diff_main(a, b, False))
            return
        if a:
            out.append((_DELETE, a))
        if b:
            out.append((_INSERT, b))

    @staticmethod
    def _anchors(a: str, b: str) -> list[tuple[int, int]]:
        """Tokens found exactly once on each side, in an order both sides agree on."""
        count_a, count_b = Counter(a), Counter(b)
        unique = {ch for ch, n in count_a.items() if n == 1 and count_b.get(ch) == 1}
        if not unique:
            return []
        where_b = {ch: j for j, ch in enumerate(b) if ch in unique}
        return _longest_increasing([(i, where_b[ch]) for i, ch in enumerate(a) if ch in unique])

    def _slide(self, diffs: list[_Diff]) -> list[_Diff]:
        """Shift each lone insertion or deletion to the equivalent place that keeps its tags whole.

        "<p>A</p><p>C</p>" to "<p>A</p><p>B</p><p>C</p>" may align as inserting "B</p><p>"; the
        same edit placed as "<p>B</p>" lets the rebuild insert one whole paragraph. Among places
        equally whole, one that starts with a word or tag beats one that starts with a space.
        """
        out = list(diffs)
        for k, (op, run) in enumerate(out):
            if op == _EQUAL:
                continue
            before = out[k - 1][1] if k > 0 and out[k - 1][0] == _EQUAL else None
            after = out[k + 1][1] if k + 1 < len(out) and out[k + 1][0] == _EQUAL else None
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
            best = max(range(lo, hi + 1), key=lambda p: self._placement(window[p:p + size], -p))
            if best == base:
                continue
            cut = len(before or "") - base
            if k > 0:
                out[k - 1] = (_EQUAL, (before or "")[:cut] + window[:best])
            out[k] = (op, window[best:best + size])
            if k + 1 < len(out):
                out[k + 1] = (_EQUAL, window[best + size:] + (after or "")[_SLIDE_WINDOW:])
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


def _normalise(diffs: list[_Diff]) -> list[_Diff]:
    """Merge runs of equal operations into dmp's canonical equal/delete/insert order, without the
    repeated string concatenation that makes dmp's own cleanupMerge quadratic on many anchors."""
    out: list[_Diff] = []
    same: list[str] = []
    dels: list[str] = []
    inss: list[str] = []

    def flush_edits() -> None:
        if dels:
            out.append((_DELETE, "".join(dels)))
            dels.clear()
        if inss:
            out.append((_INSERT, "".join(inss)))
            inss.clear()

    for op, text in diffs:
        if not text:
            continue
        if op == _EQUAL:
            flush_edits()
            same.append(text)
            continue
        if same:
            out.append((_EQUAL, "".join(same)))
            same.clear()
        (dels if op == _DELETE else inss).append(text)
    flush_edits()
    if same:
        out.append((_EQUAL, "".join(same)))
    return out


def _apply(diffs: list[_Diff], matched: list[int], a_from: int, b_from: int) -> None:
    """Record, for each old token in the diffed range, the index of the new token it equals (or -1)."""
    i, j = a_from, b_from
    for op, text in diffs:
        size = len(text)
        if op == _EQUAL:
            matched[i:i + size] = range(j, j + size)
            i += size
            j += size
        elif op == _DELETE:
            matched[i:i + size] = [-1] * size
            i += size
        else:
            j += size


class _Rebuild:
    """Walk both trees along the token alignment and emit the new tree with changes marked."""

    def __init__(self, old: _Doc, new: _Doc, alphabet: _Alphabet) -> None:
        self.old, self.new = old, new
        self.chars_old, self.chars_new = alphabet.encode(old.toks), alphabet.encode(new.toks)
        self.differ = _Differ(alphabet)
        self.matched = [-1] * len(old.toks)
        _apply(self.differ.diff(self.chars_old, self.chars_new), self.matched, 0, 0)

    def markup(self) -> str:
        parts = self._children(0, len(self.old.toks), 0, len(self.new.toks), marks_allowed=True)
        assert parts is not None  # the top level always allows marks
        return "".join(parts)

    def _children(
        self, a_lo: int, a_hi: int, b_lo: int, b_hi: int, marks_allowed: bool
    ) -> list[str] | None:
        """Merge the children of two paired elements, or None if a change needs marks where the
        parent cannot hold them (the caller then replaces the parent as a whole)."""
        old_mate, new_mate, matched = self.old.mate, self.new.mate, self.matched
        out: list[str] = []
        gone, came = a_lo, b_lo  # starts of the pending deletion and insertion
        cursor = b_lo  # start of the next new child not yet passed
        i = a_lo
        while i < a_hi:
            end_i = old_mate[i] + 1
            j = matched[i]
            if cursor <= j < b_hi:
                while cursor < j and new_mate[cursor] + 1 <= j:
                    cursor = new_mate[cursor] + 1
                if cursor == j:  # the new partner is a child here too: a pair
                    end_j = new_mate[j] + 1
                    merged = self._pair(i, end_i, j, end_j)
                    if merged is None and not marks_allowed:
                        return None
                    if merged is not None:
                        if (gone < i or came < j) and not marks_allowed:
                            return None
                        self._mark(out, gone, i, came, j)
                        out.extend(merged)
                        gone, came = end_i, end_j
                    cursor = end_j
            i = end_i
        if (gone < a_hi or came < b_hi) and not marks_allowed:
            return None
        self._mark(out, gone, a_hi, came, b_hi)
        return out

    def _pair(self, i: int, end_i: int, j: int, end_j: int) -> list[str] | None:
        """Both sides of an aligned child: a word, a void tag, or an element to merge inside."""
        old, new = self.old.toks, self.new.toks
        if end_i == i + 1:
            return [new[j]]
        if old[i:end_i] == new[j:end_j]:
            return ["".join(new[j:end_j])]
        if self.matched[end_i - 1] != end_j - 1:
            # The alignment paired the start tags but not the end tags (a paragraph split, say):
            # align the two insides afresh so the pair can still be merged.
            inner = self.differ.diff(self.chars_old[i + 1:end_i - 1], self.chars_new[j + 1:end_j - 1])
            _apply(inner, self.matched, i + 1, j + 1)
        name_match = _NAME.match(new[j], 1)
        name = name_match.group().lower() if name_match else ""
        inside = self._children(i + 1, end_i - 1, j + 1, end_j - 1, name not in _NO_MARKS_INSIDE)
        if inside is None:
            return None
        return [new[j], *inside, new[end_j - 1]]

    def _mark(self, out: list[str], a_lo: int, a_hi: int, b_lo: int, b_hi: int) -> None:
        if a_lo < a_hi:
            out.append(f"<del>{self._struck(a_lo, a_hi)}</del>")
        if b_lo < b_hi:
            out.append(f"<ins>{''.join(self.new.toks[b_lo:b_hi])}</ins>")

    def _struck(self, lo: int, hi: int) -> str:
        """Old markup for a <del>, minus any id the new document also uses."""
        toks = self.old.toks[lo:hi]
        text = "".join(toks)
        if not self.new.ids or "id" not in text:
            return text
        return "".join(_without_id(tok, self.new.ids) if tok[:1] == "<" else tok for tok in toks)


def _without_id(tag: str, taken: frozenset[str]) -> str:
    for attr, value, start, end in _attributes(tag):
        if attr == "id" and value in taken:
            return tag[:start] + tag[end:]
    return tag


def diff_html(old_html: str, new_html: str) -> str:
    """Mark up new_html with what changed since old_html: removed words in <del>, added in <ins>.

    Both inputs are sanitised fragments (``render_markdown`` output). The result is deterministic
    and well formed, and removing the ``<ins>`` elements (unwrapping ``<del>``) gives back
    old_html, removing ``<del>`` (unwrapping ``<ins>``) gives back new_html; see the module
    docstring for the two exceptions (ids inside ``<del>``, an author's own ``<del>``/``<ins>``).
    Input that is not balanced HTML, or nested past MAX_NESTING, is shown as wholly replaced.
    """
    old, new = _tokenise(old_html), _tokenise(new_html)
    if old is None or new is None:
        if old_html == new_html:
            return new_html
        return "".join(
            f"<{tag}>{html}</{tag}>" for tag, html in (("del", old_html), ("ins", new_html)) if html
        )
    if old.toks == new.toks:
        return "".join(new.toks)
    return _Rebuild(old, new, _Alphabet(old.toks, new.toks)).markup()
