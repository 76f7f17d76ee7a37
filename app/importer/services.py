"""The WordPress import: one streaming pass over the export, each record written through the domain's
own services, all in the caller's transaction (one savepoint: a failure anywhere leaves nothing).

Every record is keyed (``wordpress_items``) by the export's site and its WordPress key, so a second run
of the same file finds everything and writes nothing ("unchanged"), and a later export of the same site
adds only what is new. Published posts are recorded as they were published on WordPress, not put
through today's gates: the report lists which gates each would fail, for editors to review.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO
from urllib.parse import quote, unquote, urlsplit

from bs4 import BeautifulSoup
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.accounts.models import User
from app.audit.services import record
from app.clock import utc_now
from app.comments import services as comments
from app.comments.models import Comment, CommentStatus
from app.db import writing
from app.editorial import services as editorial
from app.editorial.gates import GateSettings, failing
from app.errors import CandorError
from app.gates import privacy
from app.importer import people
from app.importer.images import Images
from app.importer.keys import Keys
from app.importer.models import ItemKind, LegacyPath, PageParent, WordPressItem
from app.importer.report import Report
from app.media.services import Limits
from app.media.storage import Store
from app.posts import services as posts
from app.posts.models import Post, PostType, Topic
from app.text import clean_url_list
from app.wordpress import records as wp
from app.wordpress import wxr
from app.wordpress.convert import convert

MAX_TITLE_CHARS = posts.MAX_TITLE_CHARS
MAX_LEGACY_PATH_CHARS = 2000  # legacy_paths.path
IMPORT_LOCK = 0x5750  # PostgreSQL advisory lock key ("WP"): one import at a time
PUBLISHED, SCHEDULED, DRAFT = "publish", "future", "draft"
DRAFT_STATUSES = frozenset({"draft", "pending", "private"})
POST_TYPES = {"post": PostType.POST, "page": PostType.PAGE}
COMMENT_STATUS = {
    wp.COMMENT_APPROVED: CommentStatus.PUBLISHED,
    wp.COMMENT_PENDING: CommentStatus.HELD,
    wp.COMMENT_SPAM: CommentStatus.SPAM,
    wp.COMMENT_TRASH: CommentStatus.DELETED,
    "post-trashed": CommentStatus.DELETED,
}
_BLANK_LINES = re.compile(r"\n\s*\n\s*")
COMMENT_REASON = {
    CommentStatus.HELD: "wordpress:pending",
    CommentStatus.SPAM: "wordpress:spam",
    CommentStatus.DELETED: "wordpress:trash",
}


@dataclass(frozen=True)
class ImportSettings:
    """What the import needs from configuration: the gates to report on (their privacy terms scan
    comments too), where images go, and the clock (tests freeze it)."""

    gates: GateSettings = field(default_factory=GateSettings)
    store: Store | None = None
    limits: Limits = field(default_factory=lambda: Limits(15 * 1024 * 1024, 40_000_000))


class ImportFailed(Exception):
    """The export could not be read (malformed, unsafe, not WXR): nothing was imported."""

    def __init__(self, error: wxr.WXRError, report: Report):
        super().__init__(str(error))
        self.error, self.report = error, report


def import_wordpress(
    session: Session,
    path: str | Path | BinaryIO,
    uploads: str | Path | None = None,
    dry_run: bool = False,
    *,
    settings: ImportSettings | None = None,
    on_item: Callable[[], None] | None = None,
) -> Report:
    """Import the WXR export at ``path`` into ``session``'s transaction; flushes, never commits.

    Everything happens inside one savepoint: a malformed file (``ImportFailed``, with the line and column)
    or any error rolls it back, and so does ``dry_run`` after doing all the work, so the report of a dry
    run is the report of the real one. ``on_item`` is called after each item (a progress bar).
    """
    settings = settings or ImportSettings()
    report = Report(
        source=str(path) if not hasattr(path, "read") else getattr(path, "name", ""), dry_run=dry_run
    )
    writing(session)
    if session.get_bind().dialect.name == "postgresql":
        # One import at a time: a second run of the same export waits for the first to commit, then
        # finds everything (SQLite's writers are serialised at BEGIN IMMEDIATE by ``writing``).
        session.execute(select(func.pg_advisory_xact_lock(IMPORT_LOCK)))
    savepoint = session.begin_nested()
    try:
        run = _Run(session, report, settings, Path(uploads) if uploads else None, on_item)
        run.read(path)
    except wxr.WXRError as error:
        savepoint.rollback()
        report.note("file", "failed", str(error), line=error.line, column=error.column)
        report.failed = True
        raise ImportFailed(error, report) from None
    except BaseException:
        savepoint.rollback()
        raise
    if dry_run:
        savepoint.rollback()
    else:
        savepoint.commit()
    return report


class _Run:
    def __init__(
        self,
        session: Session,
        report: Report,
        settings: ImportSettings,
        uploads: Path | None,
        on_item: Callable[[], None] | None,
    ):
        self.session, self.report, self.settings, self.on_item = session, report, settings, on_item
        self.now = utc_now()
        self.importer = people.importer_account(session)
        self.keys: Keys | None = None
        self.site: wp.Site | None = None
        self.images = Images(session, report, settings.store, settings.limits, uploads)
        self.authors: dict[str, int] = {}
        self.terms = people.Terms(session, report, self.importer)
        self.page_parents: list[tuple[int, int, int]] = []  # (post id, WordPress parent id, line)

    # --- the pass over the file ------------------------------------------------------------------------

    def read(self, path: str | Path | BinaryIO) -> None:
        reader = wxr.WXRReader(path)
        for rec in reader:
            if isinstance(rec, wp.Site):
                self._site(rec)
            elif isinstance(rec, wp.Author):
                self._author(rec)
            elif isinstance(rec, wp.Category):
                self.terms.category(self._keys(), rec)
            elif isinstance(rec, wp.Tag):
                self.terms.tag(self._keys(), rec)
            elif isinstance(rec, wp.Term):
                self.report.count("term", "skipped")
                self.report.note(
                    "term", "skipped", f"taxonomy {rec.taxonomy!r} is not imported", line=rec.line
                )
            elif isinstance(rec, wp.Item):
                self._item(rec)
                if self.on_item is not None:
                    self.on_item()
        for what, n in sorted(reader.skipped.items()):
            self.report.count("element", "skipped", n)
            self.report.note("element", "skipped", f"unknown element or namespace: {what}", times=n)
        self.terms.link_parents(self._keys())
        self._link_page_parents()
        if not any(c["imported"] or c["matched"] for c in self.report.counts.values()):
            return  # nothing new: a re-run writes nothing at all, not even an audit entry
        record(
            self.session,
            self.importer,
            "wordpress.imported",
            site=self.report.site,
            counts={k: dict(v) for k, v in self.report.counts.items()},
        )

    def _keys(self) -> Keys:
        if self.keys is None:  # an export with no channel fields at all: keyed by nothing but itself
            self._site(wp.Site())
        assert self.keys is not None
        return self.keys

    def _site(self, site: wp.Site) -> None:
        self.site = site
        base = (site.base_blog_url or site.link or site.base_site_url).rstrip("/")
        self.report.site = base
        self.report.wxr_version = site.wxr_version
        self.keys = Keys(self.session, base)
        self.images.site = base

    def _author(self, author: wp.Author) -> None:
        user_id, outcome, why = people.author(self.session, self._keys(), author)
        self.authors[author.login] = user_id
        self.report.count("author", outcome)
        if why:
            self.report.note("author", outcome, why, login=author.login, line=author.line)

    def _author_of(self, login: str) -> int:
        login = login or "unknown"
        if login not in self.authors:
            self._author(wp.Author(login=login))
        return self.authors[login]

    # --- items -----------------------------------------------------------------------------------------

    def _item(self, item: wp.Item) -> None:
        kind = POST_TYPES.get(item.post_type)
        where = {"wp_post_id": item.post_id, "line": item.line}
        if kind is None:
            if item.post_type == "attachment":
                self.images.attachment(item)
            self.report.count(item.post_type or "item", "skipped")
            if item.post_type != "attachment":
                self.report.note(
                    item.post_type, "skipped", f"post type {item.post_type!r} is not imported", **where
                )
            return
        label = kind.value
        for problem in item.problems:
            self.report.note(label, "warning", problem, **where)
        keys = self._keys()
        post_id = keys.find(ItemKind.POST, str(item.post_id))
        if post_id is not None:
            self.report.count(label, "unchanged")
        else:
            # Its author and topics first, outside the post's savepoint: they stand whatever becomes of it.
            self._author_of(item.creator)
            self.terms.of_item(self._keys(), item)
            self.images.begin()
            try:
                with self.session.begin_nested():  # a post that cannot be imported leaves nothing behind
                    post_id = self._new_post(item, kind, where)
            except CandorError as error:
                self.images.forget()  # the images it brought in went with the savepoint
                self.report.count(label, "failed")
                self.report.note(label, "failed", error.message, **where)
                return
            if post_id is None:
                return
        self._comments(item, post_id)

    def _new_post(self, item: wp.Item, kind: PostType, where: dict[str, object]) -> int | None:
        label = kind.value
        status = item.status or DRAFT
        if status not in (PUBLISHED, SCHEDULED) and status not in DRAFT_STATUSES:
            self.report.count(label, "skipped")
            self.report.note(label, "skipped", f"status {status!r} is not imported", **where)
            return None
        if item.post_password and status in (PUBLISHED, SCHEDULED):
            self.report.note(
                label, "warning", "password-protected on WordPress: imported as a draft", **where
            )
            status = DRAFT
        written = _aware(item.date_gmt, item.date) or self.now
        candor = {m.key: m.value for m in item.meta if m.key.startswith("_candor_")}
        if "_candor_markdown" in candor:  # Candor's own export: the Markdown as written, not its HTML
            markdown, kept = candor["_candor_markdown"], []
        else:
            markdown, kept = convert(item.content)
        for part in kept:
            self.report.note(
                label,
                "kept_html",
                f"{part.kind} {part.name} kept as sanitised HTML",
                excerpt=part.excerpt,
                **where,
            )
        markdown = self.images.rewrite(markdown, self.session.get(User, self._author_of(item.creator)), where)
        title = " ".join(item.title.split())[:MAX_TITLE_CHARS] or "(untitled)"
        topics = self.terms.of_item(self._keys(), item)
        author = self.session.get(User, self._author_of(item.creator))
        assert author is not None
        day = f"{self.now:%Y-%m-%d}"
        if status == PUBLISHED:
            note = f"Imported from WordPress on {day}; first published {written:%Y-%m-%d}"
        elif status == SCHEDULED:
            note = f"Imported from WordPress on {day}; scheduled there for {written:%Y-%m-%d %H:%M} UTC"
        else:
            note = f"Imported from WordPress on {day}; a {item.status or 'draft'} there"
        post = posts.create_imported(
            self.session,
            author,
            posts.RevisionInput(title=title, body=markdown, references=_references(candor)),
            topics,
            type=kind.value,
            written_at=written,
            note=note,
        )
        if status in (PUBLISHED, SCHEDULED):
            results = editorial.check_gates(self.session, post, self.settings.gates, False)
            for gate in failing(results):
                self.report.note(
                    label, "would_fail_gate", gate["message"], gate=gate["gate"], post_id=post.id, **where
                )
            editorial.record_import(
                self.session,
                self.importer,
                post,
                published_at=written,
                provenance=note,
                gates=results,
                publish_at=written if status == SCHEDULED else None,
            )
        retraction = _retraction(candor) if status == PUBLISHED else None
        if retraction is not None:
            editorial.record_imported_retraction(
                self.session, self.importer, post, reason=retraction[0], at=retraction[1]
            )
            self.report.note(
                label, "retracted", "retracted as it was in the export", post_id=post.id, **where
            )
        keys = self._keys()
        keys.add(
            ItemKind.POST, str(item.post_id), post.id, guid=item.guid, status=item.status, type=item.post_type
        )
        self._legacy_paths(item, kind, post)
        if kind == PostType.PAGE and item.post_parent:
            self.page_parents.append((post.id, item.post_parent, item.line))
        self.report.count(label, "imported")
        return post.id

    def _legacy_paths(self, item: wp.Item, kind: PostType, post: Post) -> None:
        paths = [f"?p={item.post_id}"]
        if kind == PostType.PAGE:
            paths.append(f"?page_id={item.post_id}")
        link = urlsplit(item.link)
        # Kept decoded, as a request's path arrives: WordPress writes a non-ASCII slug percent-encoded
        # (/2019/07/01/%d7%a9.../), and the browser's request for it reaches the app as /2019/07/01/ש...
        if unquote(link.path).strip("/"):
            paths.append(legacy_key(unquote(link.path), ""))
        if link.query:
            paths.append(legacy_key("", link.query))
        for path in dict.fromkeys(paths):
            if "\x00" in path or len(path) > MAX_LEGACY_PATH_CHARS:
                self.report.note(
                    kind.value,
                    "warning",
                    "old address not kept (it holds a NUL, or is too long to look up)",
                    wp_post_id=item.post_id,
                )
                continue
            owner = self.session.scalar(select(LegacyPath.post_id).where(LegacyPath.path == path))
            if owner is None:
                self.session.add(LegacyPath(path=path, post_id=post.id, created_at=self.now))
            elif owner != post.id:
                self.report.note(
                    kind.value,
                    "warning",
                    f"old address {path} already leads to post {owner}",
                    wp_post_id=item.post_id,
                )
        self.session.flush()

    def _link_page_parents(self) -> None:
        keys = self._keys()
        for post_id, wp_parent, line in self.page_parents:
            parent = keys.find(ItemKind.POST, str(wp_parent))
            if parent is None or parent == post_id:
                self.report.note(
                    "page", "warning", f"parent page {wp_parent} is not in the import", line=line
                )
                continue
            self.session.add(PageParent(post_id=post_id, parent_id=parent))
        self.session.flush()

    # --- comments --------------------------------------------------------------------------------------

    def _comments(self, item: wp.Item, post_id: int) -> None:
        if not item.comments:
            return
        keys = self._keys()
        post = self.session.get(Post, post_id)
        assert post is not None
        known: dict[int, Comment] = {}
        for c in sorted(item.comments, key=lambda c: c.id):
            where = {"wp_comment_id": c.id, "wp_post_id": item.post_id, "line": c.line}
            existing = keys.find(ItemKind.COMMENT, str(c.id))
            if existing is not None:
                comment = self.session.get(Comment, existing)
                if comment is not None:
                    known[c.id] = comment
                self.report.count("comment", "unchanged")
                continue
            if c.type in ("pingback", "trackback"):
                self.report.count("comment", "skipped")
                self.report.note("comment", "skipped", f"a {c.type} is not a reader's comment", **where)
                continue
            status = COMMENT_STATUS.get(c.approved)
            if status is None:
                self.report.count("comment", "skipped")
                self.report.note("comment", "skipped", f"unknown comment state {c.approved!r}", **where)
                continue
            body = comment_text(c.content)
            if not body.strip():
                self.report.count("comment", "skipped")
                self.report.note("comment", "skipped", "the comment is empty", **where)
                continue
            reasons = [COMMENT_REASON[status]] if status in COMMENT_REASON else []
            found = privacy.scan(
                body,
                self.settings.gates.privacy_terms,
                self.settings.gates.privacy_allow,
                region=self.settings.gates.phone_region,
                other_regions=self.settings.gates.phone_regions,
            )
            if found:
                reasons += list(dict.fromkeys(f"privacy:{f.kind}" for f in found))
                if status == CommentStatus.PUBLISHED:
                    status = CommentStatus.HELD
                    self.report.note(
                        "comment",
                        "held",
                        "the privacy scan found " + ", ".join(sorted({f.kind for f in found})),
                        **where,
                    )
            parent = known.get(c.parent) if c.parent else None
            if c.parent and parent is None:
                self.report.note(
                    "comment",
                    "warning",
                    f"parent comment {c.parent} is not in the import: kept as a top-level comment",
                    **where,
                )
            email = (c.author_email or "").strip().lower() or f"comment-{c.id}@wordpress.invalid"
            comment = comments.import_comment(
                self.session,
                post,
                parent=parent,
                author_name=" ".join(c.author.split())[:200],
                author_email=email,
                author_url=c.author_url,
                author_ip=c.author_ip,
                body=body,
                created_at=_aware(c.date_gmt, c.date) or self.now,
                status=status,
                reasons=reasons,
                note=f"Imported from WordPress ({c.approved or 'approved'} there)",
            )
            keys.add(ItemKind.COMMENT, str(c.id), comment.id)
            known[c.id] = comment
            self.report.count("comment", "imported")


def legacy_key(path: str, query: str) -> str:
    """How an old address is stored and looked up: the path without its trailing slash, or ``?query``."""
    if query:
        return "?" + query
    return "/" + path.strip("/")


def comment_text(content: str) -> str:
    """A WordPress comment's HTML as the plain text Candor's comments are written in (the comment
    renderer escapes it and makes its bare URLs links): paragraphs and line breaks kept, a link's
    address kept beside its text, every other tag dropped."""
    soup = BeautifulSoup(content.replace("\r\n", "\n"), "html.parser")
    for br in soup.find_all("br"):
        br.replace_with("\n")
    for link in soup.find_all("a"):
        href = str(link.get("href") or "")
        words = link.get_text()
        link.replace_with(
            f"{words} ({href})" if href.startswith(("http://", "https://")) and href != words else words
        )
    for block in soup.find_all(["p", "div", "blockquote", "li"]):
        block.append("\n\n")
    return _BLANK_LINES.sub("\n\n", soup.get_text()).strip()


def _retraction(candor: dict[str, str]) -> tuple[str, datetime] | None:
    """The retraction of a post exported by Candor (``_candor_retraction``: JSON, reason and date)."""
    try:
        found = json.loads(candor.get("_candor_retraction", "null"))
        reason, at = found["reason"], datetime.fromisoformat(found["at"])
    except (ValueError, TypeError, KeyError):
        return None
    if not isinstance(reason, str) or not reason.strip():
        return None
    return reason, at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def _references(candor: dict[str, str]) -> list[str]:
    """The references of a post exported by Candor (``_candor_references``, a JSON list of URLs), held to
    the rule every reference is held to (absolute http(s), at most 50): anything else in a hostile or
    damaged file is dropped, never shown as a link (``javascript:`` would be one)."""
    try:
        found = json.loads(candor.get("_candor_references", "[]"))
    except ValueError:
        return []
    kept: list[str] = []
    for url in found if isinstance(found, list) else []:
        try:
            kept += clean_url_list([url], "references")
        except CandorError:
            continue
    return list(dict.fromkeys(kept))[:50]


def _aware(gmt: datetime | None, local: datetime | None) -> datetime | None:
    """WordPress's GMT date, else its local date read as UTC (WXR 1.0 and some plugins omit the GMT one)."""
    if gmt is not None:
        return gmt.astimezone(UTC)
    if local is not None:
        return local.replace(tzinfo=UTC) if local.tzinfo is None else local.astimezone(UTC)
    return None


def legacy_target(session: Session, path: str, args: dict[str, str]) -> Post | None:
    """The public post or page an old WordPress address names, if any: ``?p=ID`` or ``?page_id=ID`` (on
    any path, as WordPress answers them) or the item's own path. None for anything else, and for a post
    that is not public (a draft or a scheduled one has no address yet)."""
    candidates = [f"?{name}={args[name]}" for name in ("p", "page_id") if args.get(name, "").isdigit()]
    if path.strip("/"):
        candidates.append(legacy_key(path, ""))
    # No stored address holds a NUL (PostgreSQL text cannot) or runs past the column: never looked up.
    for candidate in (c for c in candidates if "\x00" not in c and len(c) <= MAX_LEGACY_PATH_CHARS):
        post = session.scalar(
            select(Post).join(LegacyPath, LegacyPath.post_id == Post.id).where(LegacyPath.path == candidate)
        )
        if post is not None and post.slug is not None:
            return post
    return None


_ARCHIVES = {"category": "category", "tag": "post_tag"}
"""WordPress's default archive bases (``/category/<parent>/<nicename>/``, ``/tag/<slug>/``) and the
taxonomy each lists: the prefix of the term's key (app/importer/people.py)."""


def legacy_topic(session: Session, path: str) -> Topic | None:
    """The topic an old WordPress category or tag archive address names (``/category/health/sleep/``,
    ``/tag/night-shift/page/2/``), if an import made one of that term. The nicename is looked up as the
    request gives it (decoded) and percent-encoded in lower case, as WordPress writes a non-ASCII one."""
    parts = [p for p in path.split("/") if p]
    if len(parts) >= 4 and parts[-2] == "page" and parts[-1].isdigit():
        parts = parts[:-2]
    if len(parts) < 2 or parts[0] not in _ARCHIVES or "\x00" in path or len(path) > MAX_LEGACY_PATH_CHARS:
        return None
    name = parts[-1]
    keys = {f"{_ARCHIVES[parts[0]]}:{n}"[:500] for n in (name, quote(name, safe="").lower())}
    target = session.scalar(
        select(WordPressItem.target_id)
        .where(WordPressItem.kind == ItemKind.TERM.value, WordPressItem.wp_key.in_(sorted(keys)))
        .order_by(WordPressItem.id)
        .limit(1)
    )
    return session.get(Topic, target) if target is not None else None
