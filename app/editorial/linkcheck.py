"""``flask links check``: every link in published posts, checked politely, dead ones listed for their authors.

Every request goes through :class:`app.outbound.Fetcher`: a link (or a redirect) into a private
network is reported as refused, never fetched.

Results are kept per (post, link): a link that keeps failing keeps the time it first failed, so an
author sees "dead since", and one that recovers is cleared.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.clock import utc_now
from app.editorial.models import LinkCheck
from app.gates import links
from app.outbound import Fetcher
from app.posts.models import Post


@dataclass(frozen=True)
class DeadLink:
    author: str
    slug: str
    url: str
    status: int | None
    error: str
    failing_since: datetime


@dataclass
class Report:
    posts: int = 0
    checked: int = 0
    dead: list[DeadLink] = field(default_factory=list)

    def by_author(self) -> dict[str, list[DeadLink]]:
        grouped: dict[str, list[DeadLink]] = defaultdict(list)
        for row in sorted(self.dead, key=lambda d: (d.author, d.slug, d.url)):
            grouped[row.author].append(row)
        return dict(grouped)


def published_links(post: Post) -> list[str]:
    revision = post.published_revision
    assert revision is not None
    found = list(revision.references) + [
        u for u in links.extract_links(revision.html) if u.startswith(("http://", "https://"))
    ]
    return list(dict.fromkeys(found))


def check_published_links(
    session: Session,
    fetcher: Fetcher,
    *,
    per_host_delay: float = 1.0,
    timeout: float = 10.0,
    sleep: object = None,
) -> Report:
    posts = list(session.scalars(select(Post).where(Post.published_revision_id.is_not(None))))
    wanted = {post.id: published_links(post) for post in posts}
    all_urls = list(dict.fromkeys(u for urls in wanted.values() for u in urls))
    kwargs = {"sleep": sleep} if sleep is not None else {}
    statuses = {
        s.url: s
        for s in links.check_urls(all_urls, fetcher, per_host_delay=per_host_delay, timeout=timeout, **kwargs)
    }
    now = utc_now()
    existing = {(c.post_id, c.url): c for c in session.scalars(select(LinkCheck))}
    report = Report(posts=len(posts), checked=len(all_urls))
    for post in posts:
        for url in wanted[post.id]:
            result = statuses[url]
            if result.error and result.error.startswith("skipped"):
                continue
            row = existing.get((post.id, url))
            if row is None:
                row = LinkCheck(post_id=post.id, url=url, ok=result.ok)
                session.add(row)
            row.ok, row.status, row.error, row.checked_at = result.ok, result.status, result.error or "", now
            row.failing_since = None if result.ok else (row.failing_since or now)
            if not result.ok:
                assert row.failing_since is not None
                report.dead.append(
                    DeadLink(post.author.name, post.slug, url, result.status, row.error, row.failing_since)
                )
    session.flush()
    return report


def dead_links_for(session: Session, author_id: int) -> list[LinkCheck]:
    return list(
        session.scalars(
            select(LinkCheck)
            .join(Post, Post.id == LinkCheck.post_id)
            .where(Post.author_id == author_id, LinkCheck.ok.is_(False))
            .order_by(LinkCheck.failing_since)
        )
    )
