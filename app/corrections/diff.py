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
   boundary, and only in short stretches whose squared sizes are counted against a budget of their
   own: left to itself it backs up and splices a list after every fold, quadratic in the number of
   edits. Past that budget the confetti stays, exact but finer than it might be.
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

from app.corrections.alignment import DELETE, EQUAL, Alphabet, Diff, Differ
from app.corrections.tokens import NAME, Doc, attributes, tokenise

__all__ = ["diff_html"]

# Elements whose children an HTML parser does not leave in place when they are <del> or <ins>
# (foster parenting): a change among their children escalates to the whole element.
_NO_MARKS_INSIDE = frozenset({"table", "thead", "tbody", "tfoot", "tr", "colgroup", "select"})


def _apply(diffs: list[Diff], matched: list[int], a_from: int, b_from: int) -> None:
    """Record, for each old token in the diffed range, the index of the new token it equals (or -1)."""
    i, j = a_from, b_from
    for op, text in diffs:
        size = len(text)
        if op == EQUAL:
            matched[i : i + size] = range(j, j + size)
            i += size
            j += size
        elif op == DELETE:
            matched[i : i + size] = [-1] * size
            i += size
        else:
            j += size


class _Rebuild:
    """Walk both trees along the token alignment and emit the new tree with changes marked."""

    def __init__(self, old: Doc, new: Doc, alphabet: Alphabet) -> None:
        self.old, self.new = old, new
        self.chars_old, self.chars_new = alphabet.encode(old.toks), alphabet.encode(new.toks)
        self.differ = Differ(alphabet)
        self.matched = [-1] * len(old.toks)
        _apply(self.differ.diff(self.chars_old, self.chars_new), self.matched, 0, 0)

    def markup(self) -> str:
        parts = self._children(0, len(self.old.toks), 0, len(self.new.toks), marks_allowed=True)
        assert parts is not None  # the top level always allows marks
        return "".join(parts)

    def _children(self, a_lo: int, a_hi: int, b_lo: int, b_hi: int, marks_allowed: bool) -> list[str] | None:
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
            inner = self.differ.diff(self.chars_old[i + 1 : end_i - 1], self.chars_new[j + 1 : end_j - 1])
            _apply(inner, self.matched, i + 1, j + 1)
        name_match = NAME.match(new[j], 1)
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
    for attr, value, start, end in attributes(tag):
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
    old, new = tokenise(old_html), tokenise(new_html)
    if old is None or new is None:
        if old_html == new_html:
            return new_html
        return "".join(
            f"<{tag}>{html}</{tag}>" for tag, html in (("del", old_html), ("ins", new_html)) if html
        )
    if old.toks == new.toks:
        return "".join(new.toks)
    return _Rebuild(old, new, Alphabet(old.toks, new.toks)).markup()
