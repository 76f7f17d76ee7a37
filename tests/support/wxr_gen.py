"""Generate a large WordPress export, streamed to a file, for memory tests and the WXR bench.

Items are written one at a time through ``app.wordpress.write.WXRWriter``, so generating 200 MB takes
no more memory than generating 2 MB. The text is seeded, varied (classic and block-editor content,
shortcodes, ``]]>`` to split, right-to-left and emoji text) and every item carries threaded comments.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from app.wordpress.records import Author, Category, Comment, Item, ItemTerm, Meta, Site, Tag
from app.wordpress.write import WXRWriter

WORDS = (
    "ward clinic patient nurse doctor care night shift rota visit heart lung test result team week "
    "study trial consent ethics policy report public staff quiet busy morning evening العيادة מרפאה "
    "café naïve 🩺 🫀 e\u0301"
).split()
STATUSES = ("publish", "publish", "publish", "draft", "future", "pending", "private", "trash")
APPROVALS = ("1", "1", "1", "0", "spam", "trash")


@dataclass(frozen=True)
class Generated:
    items: int
    comments: int
    bytes: int


def _prose(rng: random.Random, words: int) -> str:
    return " ".join(rng.choices(WORDS, k=words))


def _content(rng: random.Random, number: int) -> str:
    paragraphs = [_prose(rng, rng.randint(40, 90)).capitalize() + "." for _ in range(rng.randint(3, 7))]
    if number % 3 == 0:
        return "\n\n".join(f"<!-- wp:paragraph -->\n<p>{p}</p>\n<!-- /wp:paragraph -->" for p in paragraphs)
    if number % 7 == 0:
        paragraphs.insert(1, f'[gallery ids="{number},{number + 1}"] and a[b[0]]> c')
    return "\n\n".join(paragraphs)


def generate(path: Path, target_bytes: int, *, seed: int = 13, comments_per_item: int = 3) -> Generated:
    """Write an export of about ``target_bytes`` to ``path``; what it holds."""
    rng = random.Random(seed)
    start = datetime(2009, 1, 1, tzinfo=UTC)
    items = comments = 0
    with open(path, "wb") as out:
        site = Site(title="Generated 🩺", link="https://gen.example", base_site_url="https://gen.example")
        writer = WXRWriter(out, site)
        for n in range(1, 6):
            writer.write(Author(login=f"author{n}", id=n, email=f"a{n}@gen.example", display_name=f"A {n}"))
        writer.write(Category(nicename="top", name="Top", term_id=1))
        for n in range(2, 20):
            writer.write(Category(nicename=f"cat{n}", name=f"Cat {n}", parent="top", term_id=n))
        for n in range(20, 60):
            writer.write(Tag(slug=f"tag{n}", name=f"Tag {n} ✨", term_id=n))
        while out.tell() < target_bytes:
            items += 1
            when = start + timedelta(hours=items)
            thread = []
            for c in range(comments_per_item):
                comment_id = items * 100 + c
                thread.append(
                    Comment(
                        id=comment_id,
                        author=f"Reader {c}\n{rng.choice(WORDS)}",
                        author_email=f"r{c}@reader.example",
                        date=when.replace(tzinfo=None),
                        date_gmt=when,
                        content=_prose(rng, rng.randint(10, 40)),
                        approved=APPROVALS[(items + c) % len(APPROVALS)],
                        parent=comment_id - 1 if c else 0,
                    )
                )
            comments += len(thread)
            writer.write(
                Item(
                    post_id=items,
                    post_type="page" if items % 50 == 0 else "post",
                    status=STATUSES[items % len(STATUSES)],
                    title=_prose(rng, 6),
                    link=f"https://gen.example/?p={items}",
                    guid=f"https://gen.example/?p={items}",
                    creator=f"author{items % 5 + 1}",
                    content=_content(rng, items),
                    date=when.replace(tzinfo=None),
                    date_gmt=when,
                    post_name=f"post-{items}",
                    terms=(ItemTerm("category", f"cat{items % 18 + 2}", f"Cat {items % 18 + 2}"),),
                    meta=(Meta("_edit_last", "1"),),
                    comments=tuple(thread),
                )
            )
        writer.close()
        size = out.tell()
    return Generated(items=items, comments=comments, bytes=size)
