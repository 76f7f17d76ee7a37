"""The WordPress import: one streaming pass over the export, each record written through the domain's
own services, all in the caller's transaction (one savepoint: a failure anywhere leaves nothing).

Every record is keyed (``wordpress_items``) by the export's site and its WordPress key, so a second run
of the same file finds everything and writes nothing ("unchanged"), and a later export of the same site
adds only what is new. Published posts are recorded as they were published on WordPress, not put
through today's gates: the report lists which gates each would fail, for editors to review.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO
from urllib.parse import unquote, urlsplit

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
from app.errors import CandorError, RenderError
from app.gates import privacy
from app.importer import people
from app.importer.images import Images
from app.importer.keys import Keys
from app.importer.legacy import MAX_LEGACY_PATH_CHARS, legacy_key
from app.importer.models import ItemKind, LegacyPath, PageParent, WordPressItem
from app.importer.report import Report
from app.media.services import Limits, referenced_hashes
from app.media.storage import Store
from app.posts import services as posts
from app.posts.models import Post, PostType, ReviewState, Revision
from app.posts.rendering import render_many
from app.text import clean_url_list
from app.wordpress import records as wp
from app.wordpress import wxr
from app.wordpress.convert import ReportItem, convert

MAX_TITLE_CHARS = posts.MAX_TITLE_CHARS
BATCH_ITEMS = 32
"""Items read ahead and prepared together: their texts rendered in one sandboxed child (a fork per text
cost more than most renders). Bounded, so memory stays flat however large the export."""
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
        # Held here for the run: the session's identity map holds objects weakly, and would load each
        # author again for every post.
        self.users: dict[int, User] = {}
        self.terms = people.Terms(session, report, self.importer)
        self.page_parents: list[tuple[int, int, int]] = []  # (post id, WordPress parent id, line)

    # --- the pass over the file ------------------------------------------------------------------------

    def read(self, path: str | Path | BinaryIO) -> None:
        reader = wxr.WXRReader(path)
        batch: list[wp.Item] = []
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
                batch.append(rec)
                if len(batch) >= BATCH_ITEMS:
                    self._items(batch)
                    batch = []
                continue
            if batch:  # a record between items (never in a WordPress export): the items before it first
                self._items(batch)
                batch = []
        self._items(batch)
        for what, n in sorted(reader.skipped.items()):
            self.report.count("element", "skipped", n)
            self.report.note("element", "skipped", f"unknown element or namespace: {what}", times=n)
        self.terms.link_parents(self._keys())
        self._link_page_parents()
        if not any(c["imported"] or c["matched"] or c["updated"] for c in self.report.counts.values()):
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

    def _user(self, user_id: int) -> User:
        if user_id not in self.users:
            user = self.session.get(User, user_id)
            assert user is not None
            self.users[user_id] = user
        return self.users[user_id]

    def _author_of(self, login: str) -> int:
        login = login or "unknown"
        if login not in self.authors:
            self._author(wp.Author(login=login))
        return self.authors[login]

    # --- items -----------------------------------------------------------------------------------------

    def _items(self, batch: list[wp.Item]) -> None:
        """A few items at a time: their keys looked up in one query, the new posts' texts converted and
        rendered together (one sandboxed child for the batch, each text within its own budget), then each
        item written as if alone."""
        if not batch:
            return
        rows = self._keys().rows(ItemKind.POST, [str(i.post_id) for i in batch if i.post_type in POST_TYPES])
        stored = {key: row.target_id for key, row in rows.items()}
        prepared: dict[int, _Prepared] = {}
        for n, item in enumerate(batch):
            if item.post_type in POST_TYPES and str(item.post_id) not in stored and _importable(item):
                markdown, kept = _source(item)
                prepared[n] = _Prepared(markdown, kept)
        # A text that shows our library's images is rendered by itself, with them, when it is written.
        plain = [n for n, p in prepared.items() if not referenced_hashes(p.markdown)]
        for n, html in zip(plain, render_many([prepared[n].markdown for n in plain]), strict=True):
            prepared[n].html = html
        seen: dict[str, tuple[int, str]] = {}  # posts written by this batch: an export that repeats an item
        for n, item in enumerate(batch):
            key = str(item.post_id)
            if key in seen and key not in stored and item.post_type in POST_TYPES:
                self._repeated(item, *seen[key])
            else:
                post_id = stored.get(key)
                post = self._item(item, post_id, prepared.get(n) if post_id is None else None, rows.get(key))
                if post is not None and post_id is None and item.post_type in POST_TYPES:
                    seen[key] = (post.id, fingerprint(item))
            if self.on_item is not None:
                self.on_item()

    def _repeated(self, item: wp.Item, post_id: int, first: str) -> None:
        """An item the export holds twice, the first imported a moment ago: the post is written once (its
        comments that only the second holds are added, as a later export's would be)."""
        label = POST_TYPES[item.post_type].value
        if fingerprint(item) == first:
            self.report.count(label, "unchanged")
        else:
            self.report.count(label, "skipped")
            self.report.note(
                label,
                "skipped",
                "the export holds this item twice, the second time changed: the first was imported",
                wp_post_id=item.post_id,
                line=item.line,
            )
        post = self.session.get(Post, post_id) if item.comments else None
        if post is not None:
            self._comments(item, post)

    def _item(
        self,
        item: wp.Item,
        post_id: int | None,
        prepared: _Prepared | None,
        row: WordPressItem | None = None,
    ) -> Post | None:
        """One item; ``post_id``: the post it already became (``row``: its key, as stored); ``prepared``:
        its text, converted and rendered with its batch. Returns the post it became by this call."""
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
            return None
        label = kind.value
        for problem in item.problems:
            self.report.note(label, "warning", problem, **where)
        post: Post | None = None
        if post_id is not None:
            if row is None or row.data.get("fingerprint", fingerprint(item)) == fingerprint(item):
                self.report.count(label, "unchanged")  # (imported before fingerprints: taken as it is)
            else:
                self._changed(item, kind, row, where)
        else:
            # Its author and topics first, outside the post's savepoint: they stand whatever becomes of it.
            self._author_of(item.creator)
            self.terms.of_item(self._keys(), item)
            self.images.begin()
            try:
                with self.session.begin_nested():  # a post that cannot be imported leaves nothing behind
                    post = self._new_post(item, kind, where, prepared)
            except CandorError as error:
                self.images.forget()  # the images it brought in went with the savepoint
                self.report.count(label, "failed")
                self.report.note(label, "failed", error.message, **where)
                return None
            if post is None:
                return None
        written = post
        if post is None and item.comments:
            post = self.session.get(Post, post_id)
        if post is not None:
            self._comments(item, post)
        return written

    def _new_post(
        self, item: wp.Item, kind: PostType, where: dict[str, object], prepared: _Prepared | None = None
    ) -> Post | None:
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
        markdown, kept = (prepared.markdown, prepared.kept) if prepared else _source(item)
        for part in kept:
            self.report.note(
                label,
                "kept_html",
                f"{part.kind} {part.name} kept as sanitised HTML",
                excerpt=part.excerpt,
                **where,
            )
        author = self._user(self._author_of(item.creator))
        converted, markdown = markdown, self.images.rewrite(markdown, author, where)
        html = None
        if prepared is not None and prepared.html is not None and markdown == converted:
            if isinstance(prepared.html, RenderError):
                raise prepared.html  # as ``create_imported`` would have raised it
            html = prepared.html
        title = " ".join(item.title.split())[:MAX_TITLE_CHARS] or "(untitled)"
        topics = self.terms.of_item(self._keys(), item)
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
            html=html,
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
            ItemKind.POST,
            str(item.post_id),
            post.id,
            flush=False,  # with the old addresses, just below
            guid=item.guid,
            status=item.status,
            type=item.post_type,
            fingerprint=fingerprint(item),
            revision=1,
        )
        self._legacy_paths(item, kind, post)
        if kind == PostType.PAGE and item.post_parent:
            self.page_parents.append((post.id, item.post_parent, item.line))
        self.report.count(label, "imported")
        return post

    def _changed(self, item: wp.Item, kind: PostType, row: WordPressItem, where: dict[str, object]) -> None:
        """An item changed on WordPress since it was imported (its fingerprint differs): applied as a new
        revision of a draft nobody has worked on in Candor ("updated"), otherwise left alone and reported
        ("skipped", with why). See README, "Importing from WordPress"."""
        label = kind.value
        post = self.session.get(Post, row.target_id)
        why = _not_applied(item, post, row)
        if why:
            self.report.count(label, "skipped")
            self.report.note(
                label, "skipped", f"changed on WordPress since the import; not applied: {why}", **where
            )
            return
        assert post is not None
        self.terms.of_item(self._keys(), item)  # outside the savepoint, as for a new post: they stand
        self.images.begin()
        try:
            with self.session.begin_nested():
                revision = self._update_draft(item, post, where)
                row.data = {**row.data, "fingerprint": fingerprint(item)}
                if revision is not None:
                    row.data = {**row.data, "revision": revision.number}
                self.session.flush()
        except CandorError as error:
            self.images.forget()
            self.report.count(label, "failed")
            self.report.note(label, "failed", error.message, **where)
            return
        if revision is None:  # changed there, but not in what Candor keeps (its status among drafts)
            self.report.count(label, "unchanged")
            return
        self.report.count(label, "updated")
        self.report.note(
            label, "updated", f"changed on WordPress: revision {revision.number} of the draft", **where
        )

    def _update_draft(self, item: wp.Item, post: Post, where: dict[str, object]) -> Revision | None:
        markdown, kept = _source(item)
        for part in kept:
            self.report.note(
                post.type,
                "kept_html",
                f"{part.kind} {part.name} kept as sanitised HTML",
                excerpt=part.excerpt,
                **where,
            )
        author = self._user(post.author_id)
        markdown = self.images.rewrite(markdown, author, where)
        candor = {m.key: m.value for m in item.meta if m.key.startswith("_candor_")}
        changed = _aware(item.modified_gmt, item.modified) or self.now
        return posts.revise_imported(
            self.session,
            post,
            posts.RevisionInput(
                title=" ".join(item.title.split())[:MAX_TITLE_CHARS] or "(untitled)",
                body=markdown,
                references=_references(candor),
            ),
            self.terms.of_item(self._keys(), item),
            written_at=changed,
            note=f"Updated from WordPress on {self.now:%Y-%m-%d}; changed there {changed:%Y-%m-%d}",
        )

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
        kept = []
        for path in dict.fromkeys(paths):
            if "\x00" in path or len(path) > MAX_LEGACY_PATH_CHARS:
                self.report.note(
                    kind.value,
                    "warning",
                    "old address not kept (it holds a NUL, or is too long to look up)",
                    wp_post_id=item.post_id,
                )
                continue
            kept.append(path)
        owners = (
            dict(
                self.session.execute(
                    select(LegacyPath.path, LegacyPath.post_id).where(LegacyPath.path.in_(kept))
                ).all()
            )
            if kept
            else {}
        )
        for path in kept:
            owner = owners.get(path)
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

    def _comments(self, item: wp.Item, post: Post) -> None:
        if not item.comments:
            return
        keys = self._keys()
        ordered = sorted(item.comments, key=lambda c: c.id)
        # One query for the item's comments already imported, one for those of them that are parents here.
        stored = keys.find_many(ItemKind.COMMENT, [str(c.id) for c in ordered])
        parents = {c.parent for c in ordered if c.parent}
        wanted = [stored[str(p)] for p in parents if str(p) in stored]
        loaded = (
            {c.id: c for c in self.session.scalars(select(Comment).where(Comment.id.in_(wanted)))}
            if wanted
            else {}
        )
        known: dict[int, Comment | int] = {}  # WordPress id -> stored comment, or index in ``new``
        new: list[comments.ImportedComment] = []
        new_keys: list[int] = []
        for c in ordered:
            where = {"wp_comment_id": c.id, "wp_post_id": item.post_id, "line": c.line}
            existing = stored.get(str(c.id))
            if existing is not None:
                if existing in loaded:
                    known[c.id] = loaded[existing]
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
            known[c.id] = len(new)
            new_keys.append(c.id)
            new.append(
                comments.ImportedComment(
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
            )
        if not new:
            return
        made = comments.import_comments(self.session, post, new)
        for wp_id, comment in zip(new_keys, made, strict=True):
            keys.add(ItemKind.COMMENT, str(wp_id), comment.id, flush=False)
            self.report.count("comment", "imported")
        self.session.flush()


@dataclass
class _Prepared:
    """A new post's text, converted (and rendered, unless it shows our library's images) with its batch."""

    markdown: str
    kept: list[ReportItem]
    html: str | RenderError | None = None


def fingerprint(item: wp.Item) -> str:
    """What an import keeps of an item, hashed: a later export of it with another fingerprint was
    changed on WordPress since (its modified date alone also moves when nothing Candor keeps did)."""
    candor = sorted(
        (m.key, m.value) for m in item.meta if m.key in ("_candor_markdown", "_candor_references")
    )
    kept = [item.title, item.content, item.status, item.post_password, [list(c) for c in candor]]
    kept.append(sorted([t.domain, t.nicename, t.name] for t in item.terms))
    return hashlib.sha256(json.dumps(kept, ensure_ascii=False).encode("utf-8", "surrogatepass")).hexdigest()


def _not_applied(item: wp.Item, post: Post | None, row: WordPressItem) -> str:
    """Why a change made on WordPress since the import is not applied to ``post`` ("": it is)."""
    if post is None:
        return "the post it became is gone"
    if post.is_public:
        return "it is published in Candor, where a change is a correction an editor decides on"
    if post.review_state != ReviewState.NONE.value:
        return f"it is {post.review_state.replace('_', ' ')} in Candor"
    current = post.current_revision
    if current is None or current.number != row.data.get("revision", 1):
        return "it was edited in Candor since"
    status = item.status or DRAFT
    if status not in DRAFT_STATUSES:
        return f"it is {status!r} on WordPress now, and publishing is decided in Candor"
    return ""


def _importable(item: wp.Item) -> bool:
    status = item.status or DRAFT
    return status in (PUBLISHED, SCHEDULED) or status in DRAFT_STATUSES


def _source(item: wp.Item) -> tuple[str, list[ReportItem]]:
    """An item's text as Markdown, and what of it stays HTML."""
    candor = {m.key: m.value for m in item.meta if m.key == "_candor_markdown"}
    if candor:  # Candor's own export: the Markdown as written, not its HTML
        return candor["_candor_markdown"], []
    return convert(item.content)


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
