"""Word-level diff of two sanitised HTML fragments, for the public changes view.

``diff_html(old, new)`` returns the new fragment's markup with removed words in ``<del>`` and added
words in ``<ins>``. Readers trust a correction notice only if the marked-up text is exact, so the
output keeps one invariant for every input: read with one side's changes removed, it is exactly the
other side's document. Removing a side means:

- dropping its marks, content and all (``<ins>`` to read the old text, ``<del>`` to read the new),
  and every element of its class (``diff-ins``, ``diff-del``);
- unwrapping the other side's marks and taking its class off.

The classes exist because HTML lets a mark stand almost anywhere except where it matters most here:
only ``<li>`` may be a child of ``<ul>``/``<ol>``, only ``<dt>``/``<dd>`` (or their ``<div>``) of
``<dl>``, only rows of a row group and only cells of a row. A ``<del><li>`` there is invalid, and
inside a table a parser even moves the mark out of it (foster parenting). So a list item, row or cell
that only one side has keeps its element, its content goes inside the mark, and the class says that
the element itself belongs to that side (a class, because ``<li><del>x</del></li>`` alone could
equally be an item whose text was emptied). A struck or inserted table, even among other blocks,
is shown the same way, marked in its cells, so that it reads as one table, struck or underlined.
Whitespace between items, rows and cells is the one thing not kept both ways: nothing renders it,
no mark can hold it there, so the output has the new document's. Reading the new side is exact;
reading the old one is exact up to that whitespace. ``tests/support/diff_reading.py`` is this
contract written as a test reads it.

How it works, and why (``tokens.py`` cuts, ``alignment.py`` aligns, this module rebuilds):

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
   as siblings; everything else is a whole unit inside ``<del>`` or ``<ins>``, or, where no mark may
   stand, a whole item as above. So a link whose href changed appears once struck and once inserted,
   a paragraph turned into a list is replaced as a block, a new table row is a ``tr.diff-ins`` whose
   cells hold ``<ins>``, and ``<del>``/``<ins>`` never straddle a tag. Two merges would still give
   invalid HTML, and then the whole container is shown struck and inserted instead: a table whose
   rows would no longer be equally wide (a column and a row changed together, a colspan changed, any
   row or cell added beside a rowspan), and a definition list that would name one term twice (a
   term moved).

Two consequences to know: ``id`` attributes inside ``<del>`` (and on an element of class ``diff-del``)
are dropped when the new document uses the same id (a footnote in both versions must not give the page
duplicate ids), and an author's own ``<del>``/``<ins>`` markup is shown as ``<s>``/``<u>`` so that
every ``<del>``/``<ins>`` in the output means "changed between revisions". The sanitiser allows no
class on the elements that get ``diff-del``/``diff-ins``, so those classes too mean only that.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html import unescape

from app.corrections.alignment import DELETE, EQUAL, INSERT, Alphabet, Diff, Differ
from app.corrections.tokens import TOKEN, VOID, Doc, attributes, tag_name, tokenise

__all__ = ["diff_html", "DIFF_CLASSES", "ENGINE_VERSION"]

# Stored diffs are keyed by this: raise it whenever the output for the same two inputs changes (2: marks
# inside list items, rows and cells), and diffs stored by an older engine are no longer served.
ENGINE_VERSION = 2

DIFF_CLASSES = {"del": "diff-del", "ins": "diff-ins"}
"""The class given to an element removed or added whole where no mark may stand (see above)."""

# Containers whose children an HTML parser keeps only if they are of these kinds: a child removed or
# added whole keeps its element there, with its content inside the mark and the class above on it.
# "dl div" is a div grouping terms and details inside a <dl>.
_ITEMS: dict[str, frozenset[str]] = {
    "ul": frozenset({"li"}),
    "ol": frozenset({"li"}),
    "dl": frozenset({"dt", "dd", "div"}),
    "dl div": frozenset({"dt", "dd"}),
    "table": frozenset({"thead", "tbody", "tfoot", "tr"}),
    "thead": frozenset({"tr"}),
    "tbody": frozenset({"tr"}),
    "tfoot": frozenset({"tr"}),
    "tr": frozenset({"td", "th"}),
}
# Where a misplaced <del> or <ins> would not even stay put (a parser moves it out of the table, or
# drops it): what cannot be shown with whole items escalates to the enclosing element.
_STRICT = frozenset({"table", "thead", "tbody", "tfoot", "tr", "colgroup", "select"})
_ROW_GROUPS = frozenset({"thead", "tbody", "tfoot"})
_CELLS = frozenset({"td", "th"})
_SPACE = " \t\n\r\f"


def _context(name: str, parent: str | None) -> str:
    """What a child element's own children are merged as."""
    return "dl div" if name == "div" and parent == "dl" else name


@dataclass(slots=True)
class _Shape:
    """The grid of a merged table: a row or cell marked whole must not leave its rows uneven.

    The Nu checker, like a reader scanning columns, faults a row wider or narrower than the first;
    rows and cells kept from both versions can be, when a column and a row change together.
    """

    rows: list[int] = field(default_factory=list)
    row: int = 0
    spans_rows: bool = False
    marked: bool = False

    def cell(self, tag: str) -> None:
        width = 1
        for attr, value, _, _ in attributes(tag):
            value = value.strip(_SPACE)
            if attr == "colspan" and value.isdigit():
                width = min(max(int(value), 1), 1000)
            elif attr == "rowspan" and value not in ("", "1"):
                self.spans_rows = True
        self.row += width

    def end_row(self) -> None:
        self.rows.append(self.row)
        self.row = 0

    def even(self) -> bool:
        """Whether the marks left the grid as it was: unmarked, or every row as wide as the first.

        Cells spanning rows are not followed: with rows marked around them the table is replaced.
        """
        return not self.marked or (not self.spans_rows and len(set(self.rows)) <= 1)


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
        self.shapes = [_Shape()]  # one per table being merged, innermost last, above a catch-all

    def markup(self) -> str:
        parts = self._children(0, len(self.old.toks), 0, len(self.new.toks), None)
        assert parts is not None  # the top level always allows marks
        return "".join(parts)

    def _children(self, a_lo: int, a_hi: int, b_lo: int, b_hi: int, context: str | None) -> list[str] | None:
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
                    merged = self._pair(i, end_i, j, end_j, context)
                    if merged is not None:
                        if not self._mark(out, gone, i, came, j, context):
                            return None
                        out.extend(merged)
                        gone, came = end_i, end_j
                    cursor = end_j
            i = end_i
        if not self._mark(out, gone, a_hi, came, b_hi, context):
            return None
        return out

    def _pair(self, i: int, end_i: int, j: int, end_j: int, context: str | None) -> list[str] | None:
        """Both sides of an aligned child: a word, a void tag, or an element to merge inside."""
        old, new = self.old.toks, self.new.toks
        if end_i == i + 1:
            return [new[j]]
        name = tag_name(new[j])
        shape = self.shapes[-1]
        if old[i:end_i] == new[j:end_j]:
            if name in _CELLS:
                shape.cell(new[j])
            elif name == "tr" or name in _ROW_GROUPS:
                self._measure(j, end_j)
            return ["".join(new[j:end_j])]
        if self.matched[end_i - 1] != end_j - 1:
            # The alignment paired the start tags but not the end tags (a paragraph split, say):
            # align the two insides afresh so the pair can still be merged.
            inner = self.differ.diff(self.chars_old[i + 1 : end_i - 1], self.chars_new[j + 1 : end_j - 1])
            _apply(inner, self.matched, i + 1, j + 1)
        if name == "table":
            self.shapes.append(_Shape())
        elif name == "tr":
            shape.row = 0
        elif name in _CELLS:
            shape.cell(new[j])
        inside = self._children(i + 1, end_i - 1, j + 1, end_j - 1, _context(name, context))
        if name == "table" and not self.shapes.pop().even():
            return None
        if inside is None:
            return None
        if name == "tr":
            shape.end_row()
        if name == "dl" and _faulty_list(inside) and not _faulty_list(new[j + 1 : end_j - 1]):
            return None  # one list struck, one inserted, rather than one term twice
        return [new[j], *inside, new[end_j - 1]]

    def _measure(self, lo: int, hi: int) -> None:
        """Count the rows of an unchanged row or row group of the new table into its shape."""
        toks, mate, shape = self.new.toks, self.new.mate, self.shapes[-1]
        if tag_name(toks[lo]) != "tr":
            for k in self._child_tags(self.new, lo, hi):
                if tag_name(toks[k]) == "tr":
                    self._measure(k, mate[k] + 1)
            return
        shape.row = 0
        for k in self._child_tags(self.new, lo, hi):
            if tag_name(toks[k]) in _CELLS:
                shape.cell(toks[k])
        shape.end_row()

    @staticmethod
    def _child_tags(doc: Doc, lo: int, hi: int) -> list[int]:
        """The start (or void) tags of an element's children."""
        found = []
        k = lo + 1
        while k < hi - 1:
            if _is_tag(doc.toks[k]):
                found.append(k)
            k = doc.mate[k] + 1
        return found

    def _mark(self, out: list[str], a_lo: int, a_hi: int, b_lo: int, b_hi: int, context: str | None) -> bool:
        """Show old children [a_lo, a_hi) as removed and new ones [b_lo, b_hi) as added, if the
        context can hold it: wrapped in <del> and <ins>, or as whole items (see _ITEMS)."""
        if a_lo == a_hi and b_lo == b_hi:
            return True
        if context in _ITEMS:
            removed = self._whole_items(DELETE, a_lo, a_hi, context, keep_space=False, outermost=True)
            added = (
                self._whole_items(INSERT, b_lo, b_hi, context, keep_space=True, outermost=True)
                if removed is not None
                else None
            )
            if removed is not None and added is not None:
                out += removed
                out += added
                return True
        if context in _STRICT:
            return False
        self._run(out, DELETE, a_lo, a_hi)
        self._run(out, INSERT, b_lo, b_hi)
        return True

    def _run(self, out: list[str], side: int, lo: int, hi: int) -> None:
        """Children of one side in one mark, except a table: its cells hold the marks instead, so
        that a table removed or added reads as one in every cell, and the grid stays a grid."""
        doc, mark = (self.old, "del") if side == DELETE else (self.new, "ins")
        start = k = lo
        while k < hi:
            end = doc.mate[k] + 1
            if _is_tag(doc.toks[k]) and tag_name(doc.toks[k]) == "table":
                table = self._whole(side, k, end, "table", outermost=True)
                if table is not None:
                    self._run(out, side, start, k)
                    out += table
                    start = end
            k = end
        if start < hi:
            inside = self._struck(start, hi) if side == DELETE else "".join(doc.toks[start:hi])
            out.append(f"<{mark}>{inside}</{mark}>")

    def _whole_items(
        self, side: int, lo: int, hi: int, context: str, keep_space: bool, outermost: bool
    ) -> list[str] | None:
        """Children of one side, each an item of ``context`` marked whole; None if one is not.

        Whitespace between items is not text (nothing renders it) and no mark may hold it here, so
        a reading could not drop it with the item: the output keeps the new document's, and the
        old reading differs from the old document by that alone.
        """
        doc = self.old if side == DELETE else self.new
        items = _ITEMS[context]
        out: list[str] = []
        k = lo
        while k < hi:
            tok, end = doc.toks[k], doc.mate[k] + 1
            if not _is_tag(tok):
                if tok.strip(_SPACE):
                    return None
                if keep_space:
                    out.append(tok)
            else:
                name = tag_name(tok)
                whole = (
                    self._whole(side, k, end, _context(name, context), outermost) if name in items else None
                )
                if whole is None:
                    return None
                out += whole
            k = end
        return out

    def _whole(self, side: int, lo: int, hi: int, context: str, outermost: bool) -> list[str] | None:
        """One item removed (side DELETE) or added whole: its element kept, with the side's class if
        it is the outermost so kept; its content in one <del> or <ins>, or, for a table, row group
        or row, its own items kept likewise (a mark may stand only in cells)."""
        doc, mark = (self.old, "del") if side == DELETE else (self.new, "ins")
        start, name = doc.toks[lo], tag_name(doc.toks[lo])
        if name == "table":  # one side's table: a grid of its own, as even as that side made it
            self.shapes.append(_Shape())
        shape = self.shapes[-1]
        if name == "tr" or name in _ROW_GROUPS or name in _CELLS:
            shape.marked = True
        if name == "tr":
            shape.row = 0
        elif name in _CELLS:
            shape.cell(start)
        if side == DELETE and self.new.ids and "id" in start:
            start = _without_id(start, self.new.ids)
        if outermost:
            start = _with_class(start, DIFF_CLASSES[mark])
        inside = None
        if context in _ITEMS:
            inside = self._whole_items(side, lo + 1, hi - 1, context, keep_space=True, outermost=False)
            if name == "tr":
                shape.end_row()
        if name == "table":
            self.shapes.pop()
        if inside is not None:
            return [start, *inside, doc.toks[hi - 1]]
        if context in _STRICT:
            return None
        content = self._struck(lo + 1, hi - 1) if side == DELETE else "".join(doc.toks[lo + 1 : hi - 1])
        return [start, f"<{mark}>{content}</{mark}>" if content else "", doc.toks[hi - 1]]

    def _struck(self, lo: int, hi: int) -> str:
        """Old markup for a <del>, minus any id the new document also uses."""
        toks = self.old.toks[lo:hi]
        text = "".join(toks)
        if not self.new.ids or "id" not in text:
            return text
        return "".join(_without_id(tok, self.new.ids) if tok[:1] == "<" else tok for tok in toks)


def _faulty_list(parts: list[str]) -> bool:
    """Whether the children of a <dl> name one term twice, as a removed and an added <dt> do when a
    term moves (the Nu checker faults that, as would a reader looking the term up), or mix <div>
    groups with bare terms, as they do when one side grouped its terms and the other did not."""
    seen: set[str] = set()
    kinds: set[bool] = set()
    depth = 0
    term: list[str] | None = None
    for tok in TOKEN.findall("".join(parts)):
        if not _is_tag(tok):
            if term is not None:
                term.append(tok)
            continue
        name = tag_name(tok)
        if name in VOID:
            continue
        if tok[1] != "/":
            if depth == 0:
                kinds.add(name == "div")
            if name == "dt" and term is None and depth <= 1:  # a term of this list (maybe in a <div>)
                term, term_depth = [], depth
            depth += 1
            continue
        depth -= 1
        if term is not None and depth == term_depth:
            text = " ".join(unescape("".join(term)).split())
            if text in seen:
                return True
            seen.add(text)
            term = None
    return len(kinds) > 1


def _is_tag(tok: str) -> bool:
    return tok[0] == "<" and len(tok) > 1


def _without_id(tag: str, taken: frozenset[str]) -> str:
    for attr, value, start, end in attributes(tag):
        if attr == "id" and value in taken:
            return tag[:start] + tag[end:]
    return tag


def _with_class(tag: str, name: str) -> str:
    """A start tag with one more class (appended to its own, if it has one)."""
    for attr, value, start, end in attributes(tag):
        if attr == "class":
            joined = f"{value} {name}".strip(_SPACE).replace('"', "&quot;")
            return f'{tag[:start]} class="{joined}"{tag[end:]}'
    close = tag.rindex(">")
    if tag[close - 1] == "/":
        close -= 1
    return f'{tag[:close]} class="{name}"{tag[close:]}'


def diff_html(old_html: str, new_html: str) -> str:
    """Mark up new_html with what changed since old_html: removed words in <del>, added in <ins>.

    Both inputs are sanitised fragments (``render_markdown`` output). The result is deterministic,
    well formed, valid where both inputs are, and reads as old_html with the additions removed and
    as new_html with the removals removed (the module docstring says exactly what removing means,
    with classes where no mark may stand, and its few exceptions). Input that is not balanced HTML,
    or nested past MAX_NESTING, is shown as wholly replaced.
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
