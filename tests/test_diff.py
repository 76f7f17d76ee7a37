"""The changes view's diff: exact both ways, well formed, valid, word-level, within its budget.

Every check parses HTML: html5lib, as a browser would, and the literal html.parser beside it to show
that the browser moved nothing. Nothing is asserted by substring. "Exact both ways" reads the diff as
tests/support/diff_reading.py says a reader of one revision does. Validity is the Nu HTML Checker's
word, on the fixed cases and on generated revisions. No app fixtures: the diff is a pure function.
"""

from __future__ import annotations

import copy
import random
import tempfile
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, Literal

import pytest
from bs4 import BeautifulSoup, NavigableString, Tag
from diff_match_patch import diff_match_patch
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from app.corrections import alignment
from app.corrections.diff import diff_html
from app.posts.rendering import render_markdown
from tests.support.diff_reading import CLASSES, ITEM_CONTAINERS, MARKS, read_side, without_gaps
from tests.support.html_checks import format_messages, validate, vnu_command

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


# --- reading the output ------------------------------------------------------------------------------


def _body(html: str, parser: str = "html5lib") -> Tag:
    soup = BeautifulSoup(f"<body>{html}</body>", parser)
    body = soup.body
    assert body is not None
    return body


def _ids(node: Tag) -> list[str]:
    return [str(el["id"]) for el in node.find_all(id=True)]


def strip_changes(diff_output: str, keep: Literal["old", "new"], parser: str = "html5lib") -> Tag:
    """The document a reader of one side sees (the rule is in tests/support/diff_reading.py)."""
    return read_side(_body(diff_output, parser), keep)


def _canonical(body: Tag, ignore_ids: Collection[str] = ()) -> str:
    """Serialise a parsed tree; adjacent text nodes come out joined, so unwrapping leaves no trace."""
    body = copy.copy(body)
    for el in body.find_all(id=True):
        if el["id"] in ignore_ids:
            del el["id"]
    return body.decode_contents()


def assert_exact_both_ways(old_html: str, new_html: str, output: str, parser: str = "html5lib") -> None:
    new_ids = set(_ids(_body(new_html, parser)))
    # ids the new text also uses are dropped inside <del>, by design, and whitespace between list
    # items and table rows follows the new text: compare the rest exactly.
    assert _canonical(without_gaps(strip_changes(output, "old", parser)), new_ids) == _canonical(
        without_gaps(_body(old_html, parser)), new_ids
    )
    assert _canonical(strip_changes(output, "new", parser)) == _canonical(_body(new_html, parser))


class _StrictNesting(HTMLParser):
    """Checks the markup as written: every end tag closes the innermost open element, and no mark
    stands where only items may (in a list, a table's structure) or inside another mark."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, str | None]] = []
        self.errors: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        whole = next(
            (
                mark
                for mark, cls in CLASSES.items()
                for name, value in attrs
                if name == "class" and cls in (value or "").split()
            ),
            None,
        )
        sides = {side for name, side in self.stack if side is not None}
        parent = self.stack[-1][0] if self.stack else None
        if tag in MARKS:
            if any(name in MARKS for name, _ in self.stack):
                self.errors.append(f"<{tag}> inside another change mark")
            if parent in ITEM_CONTAINERS:
                self.errors.append(f"<{tag}> directly inside <{parent}>")
            sides.add(tag)
        if whole is not None:
            if parent not in ITEM_CONTAINERS and tag != "table" and not (tag == "div" and parent == "dl"):
                self.errors.append(f"<{tag} class={CLASSES[whole]}> in <{parent}>, where a mark may stand")
            if any(name in MARKS for name, _ in self.stack):
                self.errors.append(f"<{tag} class={CLASSES[whole]}> inside a change mark")
            sides.add(whole)
        if len(sides) > 1:
            self.errors.append(f"<{tag}> is both removed and added")
        if tag not in VOID:
            self.stack.append((tag, tag if tag in MARKS else whole))

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1][0] != tag:
            self.errors.append(f"</{tag}> closes <{self.stack[-1][0] if self.stack else None}>")
            return
        self.stack.pop()


def assert_well_formed(output: str) -> None:
    checker = _StrictNesting()
    checker.feed(output)
    checker.close()
    assert checker.errors == [] and checker.stack == []
    # A browser's parser keeps the tree exactly as written: nothing fostered out of a table, no
    # element closed early, so each <del>/<ins> holds whole elements where it was put. (The literal
    # parser is only told the one thing it does not know: a newline right after <pre> is dropped.)
    literal = _body(output, "html.parser")
    for pre in literal.find_all(("pre", "textarea", "listing")):
        first = pre.contents[0] if pre.contents else None
        if isinstance(first, NavigableString) and first.startswith("\n"):
            first.replace_with(first[1:])
    assert _canonical(_body(output, "html5lib")) == _canonical(literal)
    ids = _ids(_body(output))
    assert len(ids) == len(set(ids)), "duplicate ids"


class _Streamed(HTMLParser):
    """One side's reading, streamed: BeautifulSoup's unwrap searches the parent's children each time,
    quadratic in a paragraph of 50,000 marks. Marks never nest (assert_well_formed checks it)."""

    def __init__(self, drop: str | None, unwrap: str | None) -> None:
        super().__init__(convert_charrefs=False)
        self.drop, self.unwrap = drop, unwrap
        self.skipping = False
        self.out: list[str] = []
        self.marks = 0

    def __str__(self) -> str:
        return "".join(self.out)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.marks += tag in MARKS
        self.skipping |= tag == self.drop
        if not self.skipping and tag != self.unwrap:
            self.out.append(self.get_starttag_text() or "")

    def handle_endtag(self, tag: str) -> None:
        if not self.skipping and tag != self.unwrap:
            self.out.append(f"</{tag}>")
        self.skipping &= tag != self.drop

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.out.append(data)

    def handle_entityref(self, name: str) -> None:
        self.handle_data(f"&{name};")

    def handle_charref(self, name: str) -> None:
        self.handle_data(f"&#{name};")


def _streamed(html: str, drop: str | None = None, unwrap: str | None = None) -> _Streamed:
    reading = _Streamed(drop, unwrap)
    reading.feed(html)
    reading.close()
    return reading


def marks(output: str) -> list[tuple[str, str]]:
    return [(el.name, el.get_text()) for el in _body(output).find_all(MARKS)]


# --- a fixed table of cases ------------------------------------------------------------------------


CASES: list[Any] = [
    pytest.param(
        "The quick brown fox.",
        "The slow brown fox.",
        "<p>The <del>quick</del><ins>slow</ins> brown fox.</p>",
        id="paragraph-word-changed",
    ),
    pytest.param(
        "The brown fox.", "The quick brown fox.", "<p>The <ins>quick </ins>brown fox.</p>", id="word-added"
    ),
    pytest.param(
        "The quick brown fox.", "The brown fox.", "<p>The <del>quick </del>brown fox.</p>", id="word-removed"
    ),
    pytest.param(
        "one two three", "one two three four", "<p>one two three<ins> four</ins></p>", id="word-added-at-end"
    ),
    pytest.param(
        "## Old title",
        "## New title",
        "<h2><del>Old</del><ins>New</ins> title</h2>",
        id="heading-text-changed",
    ),
    pytest.param(
        "# Title",
        "## Title",
        "<del><h1>Title</h1></del><ins><h2>Title</h2></ins>",
        id="heading-level-changed",
    ),
    pytest.param(
        "- one\n- two",
        "- one\n- two\n- three",
        '<ul>\n<li>one</li>\n<li>two</li>\n<li class="diff-ins"><ins>three</ins></li>\n</ul>',
        id="list-item-added",
    ),
    pytest.param(
        "- one\n- two\n- three",
        "- one\n- three",
        '<ul>\n<li>one</li>\n<li class="diff-del"><del>two</del></li><li>three</li>\n</ul>',
        id="list-item-removed",
    ),
    pytest.param(
        "1. one\n2. two",
        "1. one\n2. too",
        "<ol>\n<li>one</li>\n<li><del>two</del><ins>too</ins></li>\n</ol>",
        id="list-item-changed",
    ),
    pytest.param(
        "see [the report](/r/1)",
        "see [the new report](/r/1)",
        '<p>see <a href="/r/1">the <ins>new </ins>report</a></p>',
        id="link-text-changed",
    ),
    pytest.param(
        "see [the report](/r/1)",
        "see [the report](/r/2)",
        '<p>see <del><a href="/r/1">the report</a></del><ins><a href="/r/2">the report</a></ins></p>',
        id="link-href-changed",
    ),
    pytest.param(
        "hello world",
        "hello *world*",
        "<p>hello <del>world</del><ins><em>world</em></ins></p>",
        id="emphasis-added",
    ),
    pytest.param(
        "| a | b |\n|---|---|\n| 1 | 2 |",
        "| a | b |\n|---|---|\n| 1 | 3 |",
        "<table>\n<thead>\n<tr>\n<th>a</th>\n<th>b</th>\n</tr>\n</thead>\n<tbody>\n<tr>\n"
        "<td>1</td>\n<td><del>2</del><ins>3</ins></td>\n</tr>\n</tbody>\n</table>",
        id="table-cell-changed",
    ),
    pytest.param(
        "| a |\n|---|\n| 1 |",
        "| a |\n|---|\n| 1 |\n| 2 |",
        "<table>\n<thead>\n<tr>\n<th>a</th>\n</tr>\n</thead>\n<tbody>\n<tr>\n<td>1</td>\n</tr>\n"
        '<tr class="diff-ins">\n<td><ins>2</ins></td>\n</tr>\n</tbody>\n</table>',
        id="table-row-added",
    ),
    pytest.param(
        "| a |\n|---|\n| 1 |\n| 2 |\n| 3 |",
        "| a |\n|---|\n| 1 |\n| 3 |",
        "<table>\n<thead>\n<tr>\n<th>a</th>\n</tr>\n</thead>\n<tbody>\n<tr>\n<td>1</td>\n</tr>\n"
        '<tr class="diff-del">\n<td><del>2</del></td>\n</tr><tr>\n<td>3</td>\n</tr>\n'
        "</tbody>\n</table>",
        id="table-row-removed",
    ),
    pytest.param(
        "```python\nx = 1\ny = 2\n```",
        "```python\nx = 1\ny = 3\n```",
        '<pre><code class="language-python">x = 1\ny = <del>2</del><ins>3</ins>\n</code></pre>',
        id="code-block-changed",
    ),
    pytest.param(
        "> quoted words here",
        "> quoted text here",
        "<blockquote>\n<p>quoted <del>words</del><ins>text</ins> here</p>\n</blockquote>",
        id="block-quote-changed",
    ),
    pytest.param(
        "AT&T says 1 < 2 & more",
        "AT&T says 1 > 2 & more",
        "<p>AT&amp;T says 1 <del>&lt;</del><ins>&gt;</ins> 2 &amp; more</p>",
        id="entities",
    ),
    pytest.param(
        "Fish & chips",
        "Fish &amp; peas",
        "<p>Fish &amp; <del>chips</del><ins>peas</ins></p>",
        id="entity-written-either-way",
    ),
    pytest.param(
        "Привет, мир!", "Привет, друг!", "<p>Привет, <del>мир!</del><ins>друг!</ins></p>", id="cyrillic"
    ),
    pytest.param(
        "مرحبا بالعالم الجميل",
        "مرحبا بالجميع الجميل",
        "<p>مرحبا <del>بالعالم</del><ins>بالجميع</ins> الجميل</p>",
        id="arabic",
    ),
    pytest.param(
        "你好世界。", "你好中国。", "<p>你好<del>世界</del><ins>中国</ins>。</p>", id="chinese-per-character"
    ),
    pytest.param("A\n\nC", "A\n\nB\n\nC", "<p>A</p>\n<ins><p>B</p>\n</ins><p>C</p>", id="paragraph-added"),
    pytest.param("A\n\nB\n\nC", "A\n\nC", "<p>A</p>\n<del><p>B</p>\n</del><p>C</p>", id="paragraph-removed"),
    pytest.param(
        "A x\n\nC",
        "A y\n\nB\n\nC",
        "<p>A <del>x</del><ins>y</ins></p><ins>\n<p>B</p></ins>\n<p>C</p>",
        id="paragraph-changed-and-one-added",
    ),
    pytest.param(
        "Para one",
        "- Para one",
        "<del><p>Para one</p></del><ins><ul>\n<li>Para one</li>\n</ul></ins>",
        id="paragraph-became-list",
    ),
    pytest.param(
        "the cat sat on the mat",
        "a dog ran to a rug",
        "<p><del>the cat sat on the mat</del><ins>a dog ran to a rug</ins></p>",
        id="rewrite-is-one-change-not-word-confetti",
    ),
    pytest.param(
        "Same *text* here.\n\n- and\n- a list",
        "Same *text* here.\n\n- and\n- a list",
        "<p>Same <em>text</em> here.</p>\n<ul>\n<li>and</li>\n<li>a list</li>\n</ul>",
        id="identical",
    ),
]


@pytest.mark.parametrize(("old_md", "new_md", "expected"), CASES)
def test_changes_are_marked_exactly_as_expected(old_md: str, new_md: str, expected: str) -> None:
    old_html, new_html = render_markdown(old_md), render_markdown(new_md)
    output = diff_html(old_html, new_html)
    assert _canonical(_body(output)) == _canonical(_body(expected))
    assert_exact_both_ways(old_html, new_html, output)
    assert_well_formed(output)


# --- lists and tables: items, rows and cells --------------------------------------------------------


HEADED = "| a | b |\n|---|---|\n"
RAW_TABLE = '<table><tbody><tr><td colspan="2">x</td></tr><tr><td>a</td><td>b</td></tr></tbody></table>'

# Each case names elements by (tag, text) and says how the diff must show them: "same" (no mark or
# class inside), "del"/"ins" (the element kept, of class diff-del/diff-ins, all its text in that
# mark), or "changed" (marks inside). The "same" ones are the point: unchanged items stay unmarked.
STRUCTURE: list[Any] = [
    pytest.param(
        "- one\n- two\n- three",
        "- one\n- three",
        {("li", "one"): "same", ("li", "two"): "del", ("li", "three"): "same"},
        id="ul-item-removed",
    ),
    pytest.param(
        "- one\n- two",
        "- zero\n- one\n- two",
        {("li", "zero"): "ins", ("li", "one"): "same", ("li", "two"): "same"},
        id="ul-item-added-first",
    ),
    pytest.param(
        "1. one\n2. two",
        "1. one\n2. two\n3. three",
        {("li", "one"): "same", ("li", "two"): "same", ("li", "three"): "ins"},
        id="ol-item-added-last",
    ),
    pytest.param(
        "1. one\n2. two\n3. three",
        "1. one\n2. three",
        {("li", "one"): "same", ("li", "two"): "del", ("li", "three"): "same"},
        id="ol-item-removed",
    ),
    pytest.param(
        "1. one\n2. two\n3. three",
        "1. one\n2. too\n3. three",
        {("li", "one"): "same", ("li", "two too"): "changed", ("li", "three"): "same"},
        id="ol-item-changed",
    ),
    pytest.param(
        "- a\n- b\n    - c\n    - d\n- e",
        "- a\n- b\n    - c\n- e",
        {
            ("li", "a"): "same",
            ("li", "b c d"): "changed",
            ("li", "c"): "same",
            ("li", "d"): "del",
            ("li", "e"): "same",
        },
        id="nested-item-removed",
    ),
    pytest.param(
        "- a\n- b\n    - c\n- e",
        "- a\n- b\n    - c\n    - d\n- e",
        {("li", "a"): "same", ("li", "c"): "same", ("li", "d"): "ins", ("li", "e"): "same"},
        id="nested-item-added",
    ),
    pytest.param(
        "- a\n- b\n    - c\n- e",
        "- a\n- e",
        {("li", "a"): "same", ("li", "b c"): "del", ("li", "e"): "same"},
        id="item-with-sub-list-removed",
    ),
    pytest.param(
        "- a\n- b",
        "- a\n- b\n    1. c\n    2. d",
        {("li", "a"): "same", ("li", "b c d"): "changed"},
        id="sub-list-added",
    ),
    pytest.param(
        "Tea\n:   Hot\n\nMilk\n:   Cold",
        "Tea\n:   Hot",
        {("dt", "Tea"): "same", ("dd", "Hot"): "same", ("dt", "Milk"): "del", ("dd", "Cold"): "del"},
        id="definition-removed",
    ),
    pytest.param(
        "Tea\n:   Hot",
        "Tea\n:   Hot\n\nMilk\n:   Cold",
        {("dt", "Tea"): "same", ("dd", "Hot"): "same", ("dt", "Milk"): "ins", ("dd", "Cold"): "ins"},
        id="definition-added",
    ),
    pytest.param(
        "x[^1] y[^2]\n\n[^1]: one\n[^2]: two",
        "x[^1] y\n\n[^1]: one",
        {("li", "one \u21a9"): "same", ("li", "two \u21a9"): "del"},
        id="footnote-removed",
    ),
    pytest.param(
        HEADED + "| 1 | 2 |",
        HEADED + "| 1 | 2 |\n| 3 | 4 |",
        {("tr", "a b"): "same", ("tr", "1 2"): "same", ("tr", "3 4"): "ins"},
        id="table-row-added-last",
    ),
    pytest.param(
        HEADED + "| 1 | 2 |\n| 5 | 6 |",
        HEADED + "| 1 | 2 |\n| 3 | 4 |\n| 5 | 6 |",
        {("tr", "a b"): "same", ("tr", "1 2"): "same", ("tr", "3 4"): "ins", ("tr", "5 6"): "same"},
        id="table-row-added-between",
    ),
    pytest.param(
        HEADED + "| 1 | 2 |\n| 3 | 4 |\n| 5 | 6 |",
        HEADED + "| 1 | 2 |\n| 5 | 6 |",
        {("tr", "a b"): "same", ("tr", "1 2"): "same", ("tr", "3 4"): "del", ("tr", "5 6"): "same"},
        id="table-row-removed",
    ),
    pytest.param(
        HEADED + "| 1 | 2 |\n| 3 | 4 |",
        HEADED + "| 1 | 2 |\n| 3 | 5 |",
        {("tr", "a b"): "same", ("tr", "1 2"): "same", ("td", "3"): "same", ("td", "4 5"): "changed"},
        id="table-cell-changed",
    ),
    pytest.param(
        HEADED + "| 1 | 2 |",
        "| a | b | c |\n|---|---|---|\n| 1 | 2 | 3 |",
        {
            ("th", "a"): "same",
            ("th", "b"): "same",
            ("th", "c"): "ins",
            ("td", "1"): "same",
            ("td", "2"): "same",
            ("td", "3"): "ins",
        },
        id="table-column-added",
    ),
    pytest.param(
        "| a | b | c |\n|---|---|---|\n| 1 | 2 | 3 |",
        "| a | c |\n|---|---|\n| 1 | 3 |",
        {
            ("th", "a"): "same",
            ("th", "b"): "del",
            ("th", "c"): "same",
            ("td", "1"): "same",
            ("td", "2"): "del",
            ("td", "3"): "same",
        },
        id="table-column-removed",
    ),
    pytest.param(
        HEADED + "| 1 | 2 |\n| 3 | 4 |",
        "| a | b | c |\n|---|---|---|\n| 1 | 2 | 9 |\n| 5 | 6 | 7 |\n| 3 | 4 | 8 |",
        {
            ("td", "1"): "same",
            ("td", "9"): "ins",
            ("tr", "5 6 7"): "ins",
            ("td", "3"): "same",
            ("td", "8"): "ins",
        },
        id="table-row-and-column-added",
    ),
    pytest.param(
        "| a |\n|---|",
        "| a |\n|---|\n| 1 |\n| 2 |",
        {("tr", "a"): "same", ("tr", "2"): "ins"},
        id="table-given-its-first-rows",
    ),
    pytest.param(
        "Intro\n\n" + HEADED + "| 1 | 2 |",
        "Intro",
        {("p", "Intro"): "same", ("table", "a b 1 2"): "del"},
        id="table-removed",
    ),
    pytest.param(
        "Intro",
        "Intro\n\n" + HEADED + "| 1 | 2 |",
        {("p", "Intro"): "same", ("table", "a b 1 2"): "ins"},
        id="table-added",
    ),
    pytest.param(
        RAW_TABLE,
        RAW_TABLE.replace('<td colspan="2">x</td>', "<td>x</td><td>y</td>"),
        {("table", "x a b"): "del", ("table", "x y a b"): "ins"},
        id="colspan-changed-replaces-the-table",
    ),
]


def _text(el: Tag) -> str:
    return " ".join(el.get_text(" ").split())


def _state(el: Tag) -> str:
    """How the diff shows an element: "same", "changed", or "del"/"ins" if it is one side's whole."""
    whole = [mark for mark, cls in CLASSES.items() if cls in (el.get("class") or [])]
    if whole:
        marked = "".join(m.get_text() for m in el.find_all(whole[0]))
        return whole[0] if "".join(marked.split()) == "".join(el.get_text().split()) else "partly marked"
    if el.find(MARKS) is None and el.find(class_=list(CLASSES.values())) is None:
        return "same"
    return "changed"


def _row_widths(table: Tag) -> set[int]:
    """Each row's width in columns (rowspans are not followed: the generated tables have none)."""
    spans = [
        [str(cell.get("colspan", "1")) for cell in row.find_all(("td", "th"), recursive=False)]
        for row in table.find_all("tr")
    ]
    return {sum(int(span) if span.isdigit() and int(span) else 1 for span in row) for row in spans}


def assert_tables_even(old_html: str, new_html: str, output: str) -> None:
    """The Nu checker faults a row wider or narrower than the first: while no table of either
    version is uneven, no table of the diff may be (row and column changes together can make one)."""
    if all(len(_row_widths(t)) <= 1 for html in (old_html, new_html) for t in _body(html).find_all("table")):
        assert [_row_widths(t) for t in _body(output).find_all("table") if len(_row_widths(t)) > 1] == []


@pytest.mark.parametrize(("old_md", "new_md", "expected"), STRUCTURE)
def test_items_rows_and_cells_are_marked_inside_and_the_rest_left_alone(
    old_md: str, new_md: str, expected: dict[tuple[str, str], str]
) -> None:
    old_html, new_html = render_markdown(old_md), render_markdown(new_md)
    output = diff_html(old_html, new_html)
    body = _body(output)
    seen = {}
    for name, text in expected:
        found = [el for el in body.find_all(name) if _text(el) == text]
        assert len(found) == 1, (name, text, output)
        seen[name, text] = _state(found[0])
    assert seen == expected, output
    assert_exact_both_ways(old_html, new_html, output)
    assert_well_formed(output)
    assert_tables_even(old_html, new_html, output)


def _page(fragment: str) -> str:
    """A minimal document around a changes view, for the Nu HTML Checker."""
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Changes</title></head>'
        f'<body><main><h1>Changes</h1><div id="post-diff">{fragment}</div></main></body></html>'
    )


def test_every_fixed_case_is_valid_html(tmp_path: Path) -> None:
    """All in one run of the Nu checker (the JVM takes seconds to start), with the site's stylesheets,
    which style the diff's classes."""
    command = vnu_command()
    documents = {}
    for case in [*STRUCTURE, *CASES]:
        old_md, new_md = case.values[:2]
        documents[f"diff {case.id}"] = _page(diff_html(render_markdown(old_md), render_markdown(new_md)))
    problems = validate(documents, tmp_path / "vnu", command=command)
    assert not problems, format_messages(problems)


def test_identical_input_comes_back_unchanged() -> None:
    html = render_markdown("Same *text*[^1] here.\n\n[^1]: A note.")
    assert diff_html(html, html) == html
    assert marks(diff_html(html, html)) == []


def test_footnote_ids_stay_unique_when_an_element_is_both_struck_and_inserted() -> None:
    old_html = render_markdown("One[^a] and two[^b].\n\n[^a]: First.\n[^b]: Second.")
    new_html = render_markdown("Two[^b] and one[^a].\n\n[^a]: First.\n[^b]: Second.")
    output = diff_html(old_html, new_html)
    assert_well_formed(output)
    assert_exact_both_ways(old_html, new_html, output)
    body = _body(output)
    assert sorted(_ids(body)) == sorted(_ids(_body(new_html)))
    assert all(el.find_all(id=True) == [] for el in body.find_all("del"))
    assert [el.find("sup")["id"] for el in body.find_all("ins")] == ["fnref:b", "fnref:a"]


def test_ids_inside_del_are_kept_when_the_new_text_does_not_use_them() -> None:
    old_html = render_markdown("Claim[^x].\n\n[^x]: Gone.")
    new_html = render_markdown("Claim.")
    output = diff_html(old_html, new_html)
    assert_exact_both_ways(old_html, new_html, output)
    assert sorted(_ids(_body(output))) == ["fn:x", "fnref:x"]


def test_an_authors_own_del_and_ins_are_not_mistaken_for_changes() -> None:
    old_html = render_markdown("Price <del>10</del> <ins>12</ins> euros")
    new_html = render_markdown("Price <del>10</del> <ins>14</ins> euros")
    output = diff_html(old_html, new_html)
    assert marks(output) == [("del", "12"), ("ins", "14")]
    body = _body(output)
    assert [el.get_text() for el in body.find_all("s")] == ["10"]
    assert body.find("u") is not None and body.find("u").get_text() == "1214"


@pytest.mark.parametrize(
    ("old_html", "new_html"),
    [
        pytest.param("<pre>\nb</pre>", "<pre>a\nb</pre>", id="text-put-before-the-newline"),
        pytest.param("<pre>\nx y</pre>", "<pre>\nx z</pre>", id="newline-kept-both-sides"),
    ],
)
def test_a_newline_right_after_pre_stays_with_its_tag(old_html: str, new_html: str) -> None:
    """A parser drops that newline; struck or inserted on its own it would change the text read."""
    output = diff_html(old_html, new_html)
    assert_well_formed(output)
    assert_exact_both_ways(old_html, new_html, output)


def test_output_is_deterministic() -> None:
    old_html = render_markdown("a b c d e f g\n\n- x\n- y")
    new_html = render_markdown("a c b d f e g\n\n- y\n- x")
    assert len({diff_html(old_html, new_html) for _ in range(5)}) == 1


def test_more_distinct_tokens_than_the_basic_multilingual_plane_holds() -> None:
    rng = random.Random(7)
    words = [f"t{n}" for n in range(70_000)]
    old_paras = [" ".join(words[i : i + 100]) for i in range(0, len(words), 100)]
    new_paras = list(old_paras)
    for n in rng.sample(range(len(new_paras)), 5):
        new_paras[n] = new_paras[n].replace(f"t{n * 100 + 50} ", "changed ")
    old_html = "\n".join(f"<p>{p}</p>" for p in old_paras)
    new_html = "\n".join(f"<p>{p}</p>" for p in new_paras)
    output = diff_html(old_html, new_html)
    assert_exact_both_ways(old_html, new_html, output, parser="html.parser")
    assert len(marks(output)) == 10


def _alternating_words(n: int) -> tuple[str, str]:
    """One long paragraph, a word changed between every two unique ones: no block boundary to cut at."""
    return (
        "<p>" + " ".join(f"u{i} a a" for i in range(n)) + "</p>",
        "<p>" + " ".join(f"u{i} b b" for i in range(n)) + "</p>",
    )


def _alternating_lines(n: int) -> tuple[str, str]:
    """Every other paragraph changed: the line-level pass sees an edit after every one-line equality."""
    return (
        "\n".join(f"<p>w{i}</p>" for i in range(n)),
        "\n".join(f"<p>w{i}</p>" if i % 2 else f"<p>v{i}</p>" for i in range(n)),
    )


def _overlapping_replacement(n: int) -> tuple[str, str]:
    """Past the Myers budget, replaced whole; the old text's tail is the new text's head, which dmp's
    overlap search finds one token at a time (eleven seconds for 100,000 tokens on its own)."""
    return "<p>Q " + "x " * n + "</p>", "<p>" + "x " * n + "R</p>"


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    ("pair", "min_edits"),
    [
        pytest.param(_alternating_words(17_000), 17_000, id="alternating-words"),
        pytest.param(_alternating_lines(20_000), 10_000, id="alternating-lines"),
        pytest.param(_overlapping_replacement(50_000), 1, id="overlapping-replacement"),
    ],
)
def test_semantic_cleanup_stays_within_its_budget(
    pair: tuple[str, str], min_edits: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """About 100,000 tokens a side, built so that dmp's cleanup, given them whole, works quadratically.

    Its work is measured where it is done: every list dmp's cleanup is handed, by size. A stretch of
    n tokens costs at most about n squared, so the sum of the squares is the work done, and it must
    stay within CLEANUP_BUDGET however many edits there are (min_edits: at least that many separate
    edits are in the output, so a single cleanup over them all would have cost min_edits squared).
    """
    handed: list[int] = []
    cleanup = diff_match_patch.diff_cleanupSemantic

    def measured(self: diff_match_patch, diffs: list[tuple[int, str]]) -> None:
        handed.append(sum(len(text) for _, text in diffs))
        cleanup(self, diffs)

    monkeypatch.setattr(diff_match_patch, "diff_cleanupSemantic", measured)
    old_html, new_html = pair
    output = diff_html(old_html, new_html)
    assert sum(n * n for n in handed) <= alignment.CLEANUP_BUDGET
    assert _streamed(output).marks >= min_edits
    assert str(_streamed(output, drop="ins", unwrap="del")) == str(_streamed(old_html))
    assert str(_streamed(output, drop="del", unwrap="ins")) == str(_streamed(new_html))


def test_unbalanced_input_falls_back_to_a_whole_replacement() -> None:
    output = diff_html("<p>old", "<p>new</p>")
    assert [(el.name, el.get_text()) for el in _body(output, "html.parser").find_all(MARKS)] == [
        ("del", "old"),
        ("ins", "new"),
    ]


# --- properties over generated Markdown ----------------------------------------------------------


VOCAB = [
    "alpha",
    "beta",
    "gamma",
    "delta",
    "the",
    "a",
    "of",
    "report",
    "AT&T",
    "1<2",
    "x>y",
    "Tom's",
    "&amp;",
    "e.g.",
    "café",
    "naïve",
    "привет",
    "мир",
    "مرحبا",
    "عالم",
    "你好",
    "世界",
    "한국어",
]
CODE_WORDS = ["x", "=", "1", "print(x)", "<tag>", "a&b", "if", "return"]
words = st.lists(st.sampled_from(VOCAB), min_size=1, max_size=4)
plain = st.sampled_from(VOCAB).map(lambda w: ["w", w])
inline = st.one_of(
    plain,
    plain,
    plain,
    words.map(lambda ws: ["em", ws]),
    words.map(lambda ws: ["strong", ws]),
    st.tuples(words, st.integers(0, 2)).map(lambda t: ["link", t[0], t[1]]),
    st.sampled_from(CODE_WORDS).map(lambda w: ["code", w]),
)
inlines = st.lists(inline, min_size=1, max_size=8)
with_notes = st.lists(
    st.one_of(inline, inline, st.sampled_from(["1", "2"]).map(lambda n: ["fn", n])), min_size=1, max_size=8
)
cells = st.lists(
    st.one_of(plain, plain, st.sampled_from(CODE_WORDS).map(lambda w: ["code", w])), min_size=1, max_size=3
)
block = st.one_of(
    with_notes.map(lambda x: ["p", x]),
    with_notes.map(lambda x: ["p", x]),
    st.tuples(st.integers(1, 3), inlines).map(lambda t: ["h", t[0], t[1]]),
    st.lists(with_notes, min_size=1, max_size=4).map(lambda items: ["ul", items]),
    st.lists(inlines, min_size=1, max_size=4).map(lambda items: ["ol", items]),
    st.lists(st.tuples(inlines, st.lists(inlines, max_size=3)).map(list), min_size=1, max_size=4).map(
        lambda items: ["nest", items]
    ),
    st.lists(st.tuples(inlines, inlines).map(list), min_size=1, max_size=3).map(lambda terms: ["dl", terms]),
    inlines.map(lambda x: ["quote", x]),
    st.lists(st.lists(st.sampled_from(CODE_WORDS), min_size=1, max_size=4), min_size=1, max_size=4).map(
        lambda lines: ["pre", lines]
    ),
    st.integers(1, 3)
    .flatmap(lambda n: st.lists(st.lists(cells, min_size=n, max_size=n), min_size=2, max_size=4))
    .map(lambda rows: ["table", rows]),
)
documents = st.fixed_dictionaries(
    {"blocks": st.lists(block, min_size=1, max_size=6), "notes": st.lists(words, min_size=2, max_size=2)}
)


def _inline_md(item: list[Any]) -> str:
    kind = item[0]
    if kind == "w":
        return item[1]
    if kind in ("em", "strong"):
        mark = "*" if kind == "em" else "**"
        return mark + " ".join(item[1]) + mark
    if kind == "link":
        return f"[{' '.join(item[1])}](https://example.org/page-{item[2]})"
    if kind == "code":
        return f"`{item[1]}`"
    return f"[^{item[1]}]"


def _text_md(items: list[Any]) -> str:
    return " ".join(_inline_md(item) for item in items)


def to_markdown(doc: dict[str, Any]) -> str:
    out = []
    for b in doc["blocks"]:
        kind = b[0]
        if kind == "p":
            out.append(_text_md(b[1]))
        elif kind == "h":
            out.append("#" * b[1] + " " + _text_md(b[2]))
        elif kind in ("ul", "ol"):
            out.append(
                "\n".join(
                    ("- " if kind == "ul" else f"{n}. ") + _text_md(item) for n, item in enumerate(b[1], 1)
                )
            )
        elif kind == "nest":
            out.append(
                "\n".join(
                    "- " + _text_md(text) + "".join("\n    - " + _text_md(sub) for sub in subs)
                    for text, subs in b[1]
                )
            )
        elif kind == "dl":
            out.append("\n\n".join(f"{_text_md(term)}\n:   {_text_md(details)}" for term, details in b[1]))
        elif kind == "quote":
            out.append("> " + _text_md(b[1]))
        elif kind == "pre":
            out.append("```\n" + "\n".join(" ".join(line) for line in b[1]) + "\n```")
        else:
            rows = ["| " + " | ".join(_text_md(cell) for cell in row) + " |" for row in b[1]]
            rows.insert(1, "|" + "---|" * len(b[1][0]))
            out.append("\n".join(rows))
    out += [f"[^{n}]: {' '.join(note)}" for n, note in zip(("1", "2"), doc["notes"], strict=True)]
    return "\n\n".join(out)


def _word_lists(doc: dict[str, Any]) -> Iterator[list[Any]]:
    """Every list of inline items or of words in a document, to edit in place."""

    def texts(items: list[Any]) -> Iterator[list[Any]]:
        yield items
        for item in items:
            if item[0] in ("em", "strong", "link"):
                yield item[1]

    for b in doc["blocks"]:
        if b[0] in ("p", "quote"):
            yield from texts(b[1])
        elif b[0] == "h":
            yield from texts(b[2])
        elif b[0] in ("ul", "ol"):
            for item in b[1]:
                yield from texts(item)
        elif b[0] in ("nest", "dl"):
            for first, second in b[1]:
                yield from texts(first)
                for sub in second if b[0] == "nest" else [second]:
                    yield from texts(sub)
        elif b[0] == "pre":
            yield from b[1]
        else:
            for row in b[1]:
                for cell in row:
                    yield from texts(cell)
    yield from doc["notes"]


EDIT_ACTIONS = [
    "word",
    "word",
    "word",
    "add",
    "drop",
    "move",
    "retype",
    "href",
    "row",
    "item",
    "item",
    "column",
]


def _item_lists(blocks: list[Any]) -> Iterator[list[Any]]:
    """Every list of items (list items, sub-list items, definition entries), to add to or take from."""
    for b in blocks:
        if b[0] in ("ul", "ol", "dl", "nest"):
            yield b[1]
        if b[0] == "nest":
            yield from (subs for _, subs in b[1])


def _edit_items(draw: st.DrawFn, blocks: list[Any]) -> None:
    """Add, remove or move one item of a list, a sub-list or a definition list."""
    lists = list(_item_lists(blocks))
    if not lists:
        return
    items = lists[draw(st.integers(0, len(lists) - 1))]
    edit = draw(st.sampled_from(["add", "remove", "move"]))
    if not items:  # an item without a sub-list: give it one
        items.append([["w", draw(st.sampled_from(VOCAB))]])
    elif edit == "remove" and len(items) > 1:
        del items[draw(st.integers(0, len(items) - 1))]
    elif edit == "move" and len(items) > 1:
        items.insert(draw(st.integers(0, len(items) - 1)), items.pop(draw(st.integers(0, len(items) - 1))))
    else:
        # A copy of an item with a word put in front: like enough to its model to tempt the alignment.
        new_item = copy.deepcopy(items[draw(st.integers(0, len(items) - 1))])
        text = new_item if isinstance(new_item[0][0], str) else new_item[0]  # an inline list, or (term, ...)
        text.insert(0, ["w", draw(st.sampled_from(VOCAB))])
        items.insert(draw(st.integers(0, len(items))), new_item)


@st.composite
def edited_pairs(draw: st.DrawFn) -> tuple[str, str]:
    """A document and a revision of it: word edits, block insertions, deletions, moves, retyping."""
    old = draw(documents)
    new = copy.deepcopy(old)
    for _ in range(draw(st.integers(0, 5))):
        action = draw(st.sampled_from(EDIT_ACTIONS))
        blocks = new["blocks"]
        if action == "word":
            targets = list(_word_lists(new))
            target = targets[draw(st.integers(0, len(targets) - 1))]
            at = draw(st.integers(0, len(target) - 1))
            word = draw(st.sampled_from(VOCAB))
            item: Any = word if isinstance(target[0], str) else ["w", word]
            edit = draw(st.sampled_from(["replace", "insert", "delete"]))
            if edit == "replace":
                target[at] = item
            elif edit == "insert":
                target.insert(at + draw(st.integers(0, 1)), item)
            elif len(target) > 1:
                del target[at]
        elif action == "add":
            blocks.insert(draw(st.integers(0, len(blocks))), draw(block))
        elif action == "drop" and len(blocks) > 1:
            del blocks[draw(st.integers(0, len(blocks) - 1))]
        elif action == "move" and len(blocks) > 1:
            moved = blocks.pop(draw(st.integers(0, len(blocks) - 1)))
            blocks.insert(draw(st.integers(0, len(blocks))), moved)
        elif action == "retype":
            at = draw(st.integers(0, len(blocks) - 1))
            if blocks[at][0] == "p":
                blocks[at] = ["ul", [blocks[at][1]]]
            elif blocks[at][0] in ("ul", "ol"):
                blocks[at] = ["p", blocks[at][1][0]]
        elif action == "item":
            _edit_items(draw, blocks)
        elif action == "column":
            tables = [b for b in blocks if b[0] == "table"]
            if tables:
                rows = tables[draw(st.integers(0, len(tables) - 1))][1]
                at = draw(st.integers(0, len(rows[0])))
                if len(rows[0]) > 1 and draw(st.booleans()):
                    for row in rows:
                        del row[min(at, len(row) - 1)]
                else:
                    for row in rows:
                        row.insert(at, draw(cells))
        elif action == "row":
            tables = [b for b in blocks if b[0] == "table"]
            if tables:
                rows = tables[draw(st.integers(0, len(tables) - 1))][1]
                at = draw(st.integers(1, len(rows)))  # row 0 is the header
                if len(rows) > 2 and draw(st.booleans()):
                    del rows[min(at, len(rows) - 1)]
                else:
                    rows.insert(at, [draw(cells) for _ in rows[0]])
        else:
            links = [x for wl in _word_lists(new) for x in wl if isinstance(x, list) and x[0] == "link"]
            if links:
                links[draw(st.integers(0, len(links) - 1))][2] += 1
    return to_markdown(old), to_markdown(new)


@contextmanager
def _limits(direct: int, budget: int) -> Iterator[None]:
    """Shrink the Myers thresholds and both budgets so small documents take every path too."""
    saved = alignment.DIRECT_TOKENS, alignment.WORK_BUDGET, alignment.CLEANUP_BUDGET
    alignment.DIRECT_TOKENS, alignment.WORK_BUDGET, alignment.CLEANUP_BUDGET = direct, budget, budget
    try:
        yield
    finally:
        alignment.DIRECT_TOKENS, alignment.WORK_BUDGET, alignment.CLEANUP_BUDGET = saved


PATHS = [
    pytest.param(alignment.DIRECT_TOKENS, alignment.WORK_BUDGET, id="myers"),
    pytest.param(6, alignment.WORK_BUDGET, id="patience-anchors"),
    pytest.param(6, 40, id="budget-exhausted"),
]
PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize(("direct", "budget"), PATHS)
@PROPERTY
@given(pair=edited_pairs())
def test_any_revision_reads_exactly_as_old_and_new_and_is_well_formed(
    direct: int, budget: int, pair: tuple[str, str]
) -> None:
    old_html, new_html = render_markdown(pair[0]), render_markdown(pair[1])
    with _limits(direct, budget):
        output = diff_html(old_html, new_html)
    assert_well_formed(output)
    assert_exact_both_ways(old_html, new_html, output)
    assert_tables_even(old_html, new_html, output)


@settings(
    max_examples=4,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(pairs=st.lists(edited_pairs(), min_size=10, max_size=10))
def test_generated_revisions_diff_to_valid_html(pairs: list[tuple[str, str]]) -> None:
    """Ten generated revisions through the Nu checker in one run, each beside its two versions.

    A message about a diff counts only if neither version has it too (generated headings skip
    levels, say: the renderer is not under test here). Hypothesis tries the simplest batch first,
    where nothing changed, and that one needs no run; nor does it shrink a failure, a JVM start
    per attempt: the failure names the revisions instead.
    """
    documents = {}
    for n, (old_md, new_md) in enumerate(pairs):
        old_html, new_html = render_markdown(old_md), render_markdown(new_md)
        output = diff_html(old_html, new_html)
        if output != new_html:
            documents |= {
                f"{n} old": _page(old_html),
                f"{n} new": _page(new_html),
                f"{n} diff": _page(output),
            }
    if not documents:
        return
    with tempfile.TemporaryDirectory() as workdir:
        problems = validate(documents, Path(workdir), stylesheets=[], command=vnu_command())
    said = {(m.document, m.text) for m in problems}
    at_fault = [
        m
        for m in problems
        if m.document.endswith(" diff")
        and not {(m.document.replace("diff", side), m.text) for side in ("old", "new")} & said
    ]
    culprits = [pairs[int(m.document.split()[0])] for m in at_fault]
    assert not at_fault, f"{format_messages(at_fault)}\nfrom revisions (old, new): {culprits!r}"


@PROPERTY
@given(doc=documents)
def test_a_document_diffed_with_itself_has_no_marks(doc: dict[str, Any]) -> None:
    html = render_markdown(to_markdown(doc))
    assert diff_html(html, html) == html


@PROPERTY
@given(pair=edited_pairs())
def test_marks_hold_whole_words(pair: tuple[str, str]) -> None:
    """Whatever a <del> or <ins> holds, the text around it is cut at a word boundary."""
    old_html, new_html = render_markdown(pair[0]), render_markdown(pair[1])
    body = _body(diff_html(old_html, new_html))
    for mark in body.find_all(MARKS):
        before, after = mark.previous_sibling, mark.next_sibling
        text = mark.get_text()
        if not text.strip() or mark.find(True) is not None:
            continue  # whitespace only, or whole elements: no word to cut
        for neighbour, edge in ((before, text[0]), (after, text[-1])):
            if isinstance(neighbour, str) and neighbour and not edge.isspace():
                touching = neighbour[-1] if neighbour is before else neighbour[0]
                cjk = any("\u3000" <= c <= "\u9fff" for c in (touching, edge))
                assert touching.isspace() or cjk, (neighbour, text)
