"""A changes view read as one revision: the contract of ``diff_html``, written out for the tests.

``#post-diff`` reads, with its additions removed, exactly as revision *from*'s ``#post-body``, and, with
its removals removed, exactly as revision *to*'s. Removing a side means:

- its marks go, content and all: ``<ins>`` when reading the old text, ``<del>`` when reading the new;
- so does every element of its class, ``diff-ins`` or ``diff-del``. Inside a list, a table or a
  definition list no mark may stand (only ``<li>`` is a child of ``<ul>``, only cells of ``<tr>``), so
  an item, row or cell that only one side has keeps its element there, its content is in that
  side's mark, and the class says the element itself belongs to that side;
- the other side's marks are unwrapped, and its class taken off (the attribute too, once empty).

One thing is not kept: whitespace directly inside those containers, between items or rows. It is
not text (nothing renders it) and no mark can hold it there, so the diff keeps the new document's.
The new reading is exact; the old one is compared with that whitespace set aside (``without_gaps``).
"""

from __future__ import annotations

import copy
from typing import Literal

from bs4 import NavigableString, Tag

MARKS = ("del", "ins")
CLASSES = {"del": "diff-del", "ins": "diff-ins"}
ITEM_CONTAINERS = frozenset({"ul", "ol", "dl", "table", "thead", "tbody", "tfoot", "tr"})


def read_side(node: Tag, keep: Literal["old", "new"]) -> Tag:
    """A copy of a parsed changes view as the reader of one revision sees it."""
    node = copy.copy(node)
    drop, unwrap = ("ins", "del") if keep == "old" else ("del", "ins")
    for el in node.find_all(class_=CLASSES[drop]):
        if not el.decomposed:
            el.decompose()
    for el in node.find_all(drop):
        el.decompose()
    for el in node.find_all(unwrap):
        el.unwrap()
    for el in node.find_all(class_=CLASSES[unwrap]):
        classes = [c for c in el["class"] if c != CLASSES[unwrap]]
        if classes:
            el["class"] = classes
        else:
            del el["class"]
    return node


def without_gaps(node: Tag) -> Tag:
    """A copy without the whitespace between the items of lists and the rows and cells of tables."""
    node = copy.copy(node)
    for text in node.find_all(string=True):
        if (
            isinstance(text, NavigableString)
            and text.parent is not None
            and text.parent.name in ITEM_CONTAINERS
            and not text.strip()
        ):
            text.extract()
    return node
