"""Corrections as readers see them: notices, history, the changes view, the corrections log, error reports.

Diffs are computed once per pair of revisions (at publication for the pairs readers will ask for, or on
first view for any other) and kept: both sides are immutable, so the result is too.
"""

from __future__ import annotations

import difflib
import statistics
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import Select, func, literal, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from app import cursors, events
from app.accounts.models import Role, User
from app.accounts.permissions import require
from app.audit.services import record
from app.clock import utc_now
from app.corrections.diff import ENGINE_VERSION, diff_html
from app.corrections.models import ErrorReport, ReportState, RevisionDiff
from app.errors import InvalidInput, InvalidTransition, NotFound
from app.mail import services as mail
from app.posts.addresses import last_published_number, published_window
from app.posts.models import Post, Publication, Retraction, Revision, RevisionKind
from app.posts.services import published_revision, site_stamp

M = TypeVar("M", Publication, Retraction, Post)
NOTICE_KINDS = (RevisionKind.CORRECTION.value, RevisionKind.CLARIFICATION.value, RevisionKind.UPDATE.value)


@dataclass(frozen=True)
class Notice:
    revision: Revision
    publication: Publication
    previous_number: int


def history(session: Session, post: Post) -> list[tuple[Revision, Publication]]:
    """Every published revision of a post, oldest first, with who approved it and when."""
    rows = session.execute(
        select(Revision, Publication)
        .join(Publication, Publication.revision_id == Revision.id)
        .where(Publication.post_id == post.id)
        .order_by(Publication.published_at, Revision.number)
    ).all()
    return [(r, p) for r, p in rows]


HISTORY_PER_PAGE = 50

NOTICES_SHOWN = 20
"""Notices on a post page (from its latest publications); the history page lists every one."""


def history_page(
    session: Session,
    post: Post,
    *,
    after: str | None = None,
    before: str | None = None,
    per_page: int = HISTORY_PER_PAGE,
) -> cursors.Page:
    """A page of ``history``: keyset on (published_at, publication id) over ix_publications_post_published."""
    kind = f"history:{post.id}"
    key, backward = cursors.position(after, before, kind, (datetime, int))
    query = (
        select(Revision, Publication)
        .join(Publication, Publication.revision_id == Revision.id)
        .where(Publication.post_id == post.id)
    )
    query = cursors.after(
        query, (Publication.published_at, Publication.id), key, descending=False, backward=backward
    )
    rows = [(r, p) for r, p in session.execute(query.limit(per_page + 1)).all()]
    return cursors.page(
        rows, per_page, kind, lambda row: (row[1].published_at, row[1].id), key=key, backward=backward
    )


def notices(session: Session, post: Post, limit: int = NOTICES_SHOWN) -> list[Notice]:
    """Corrections, clarifications and updates among the latest ``limit`` publications, newest first, each
    with the revision it replaced: a post corrected a thousand times shows its latest, not a thousand."""
    rows = session.execute(
        select(Revision, Publication)
        .join(Publication, Publication.revision_id == Revision.id)
        .where(Publication.post_id == post.id)
        .order_by(Publication.published_at.desc(), Publication.id.desc())
        .limit(limit + 1)
    ).all()
    return [
        Notice(rev, pub, rows[i + 1][0].number)
        for i, (rev, pub) in enumerate(rows[:limit])
        if i + 1 < len(rows) and rev.kind in NOTICE_KINDS
    ]


def cached_diff(session: Session, old: Revision, new: Revision, *, store: bool = False) -> str:
    """The marked-up diff of two revisions: the stored one, or computed (and stored when ``store``).

    Publication stores the pairs readers are shown by default; any other pair a GET asks for is
    computed for that page (which the page cache then keeps) and never written by a reader's request.
    """
    found = session.scalar(
        select(RevisionDiff.html).where(
            RevisionDiff.from_revision_id == old.id,
            RevisionDiff.to_revision_id == new.id,
            RevisionDiff.engine == ENGINE_VERSION,
            RevisionDiff.from_redactions == old.redaction_count,
            RevisionDiff.to_redactions == new.redaction_count,
        )
    )
    if found is not None:
        return found
    html = diff_html(old.html, new.html)
    if not store:
        return html
    try:
        with session.begin_nested():
            session.add(
                RevisionDiff(
                    from_revision_id=old.id,
                    to_revision_id=new.id,
                    html=html,
                    engine=ENGINE_VERSION,
                    from_redactions=old.redaction_count,
                    to_redactions=new.redaction_count,
                    created_at=utc_now(),
                )
            )
    except IntegrityError:
        pass  # another worker stored the same pair first; theirs is identical
    return html


def changes(
    session: Session,
    post: Post,
    from_number: int | None,
    to_number: int | None,
    *,
    cache: Callable[[Revision, Revision, Callable[[], str]], str] | None = None,
) -> tuple[Revision, Revision, str]:
    """Compare two published revisions (default: first publication against the current one).

    ``cache(old, new, compute)``, when given, keeps the diff (the web's fragment cache).
    """
    rows, _ = history_page(session, post, per_page=1)
    if not rows:
        raise NotFound("This post has not been published.")
    old = published_revision(session, post, from_number)[0] if from_number is not None else rows[0][0]
    new = (
        published_revision(session, post, to_number)[0] if to_number is not None else post.published_revision
    )
    assert new is not None
    if cache is not None:
        return old, new, cache(old, new, lambda: cached_diff(session, old, new))
    return old, new, cached_diff(session, old, new)


CHOOSER_AROUND = 5
"""The changes page's version chooser lists this many published versions either side of each of the two
compared, and the first and the latest: a bounded window, whatever the post's history; the history
page links every other pair."""


def version_choices(
    session: Session, post: Post, old: Revision, new: Revision, around: int = CHOOSER_AROUND
) -> tuple[list[tuple[Revision, Publication]], bool]:
    """The published revisions the chooser offers (ascending by number), and whether the post has others.

    A few seeks on the (post, number) index, one lookup of at most ``4 * around + 4`` rows, and a count
    that stops one past them: never the whole history.
    """
    numbers: set[int] = set()
    for revision in (old, new):
        numbers.update(published_window(session, post.id, revision.number, around, around + 1))
    numbers.update(published_window(session, post.id, 1, 0, 1))  # the first published
    latest = last_published_number(session, post.id)
    if latest is not None:
        numbers.add(latest)
    rows = session.execute(
        select(Revision, Publication)
        .join(Publication, Publication.revision_id == Revision.id)
        .where(Revision.post_id == post.id, Revision.number.in_(sorted(numbers)))
        .order_by(Revision.number)
    ).all()
    shown = len(rows)
    bounded = select(Publication.id).where(Publication.post_id == post.id).limit(shown + 1).subquery()
    more = (session.scalar(select(func.count()).select_from(bounded)) or 0) > shown
    return [(r, p) for r, p in rows], more


@dataclass(frozen=True)
class ReferenceChange:
    url: str
    change: str  # "kept", "removed" or "added"


def reference_changes(old: Revision, new: Revision) -> list[ReferenceChange]:
    """The reference lists of two revisions as one list: kept, removed (where they stood) and added.

    Sources are part of what a correction changes: a reader must see a dropped or replaced citation
    as plainly as changed words. The lists are short (at most 50), so a sequence match is cheap.
    """
    matcher = difflib.SequenceMatcher(a=list(old.references), b=list(new.references), autojunk=False)
    out: list[ReferenceChange] = []
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            out += [ReferenceChange(url, "kept") for url in new.references[j1:j2]]
            continue
        out += [ReferenceChange(url, "removed") for url in old.references[i1:i2]]
        out += [ReferenceChange(url, "added") for url in new.references[j1:j2]]
    return out


def staff_changes(
    session: Session, actor: User, post: Post, from_number: int, to_number: int
) -> tuple[Revision, Revision, str]:
    """Any two revisions, drafts included, for staff: the same engine as readers' changes view."""
    require(actor, "post.view_unpublished", post)
    pair = []
    for number in (from_number, to_number):
        rev = session.scalar(select(Revision).where(Revision.post_id == post.id, Revision.number == number))
        if rev is None:
            raise NotFound(f"This post has no revision {number}.")
        pair.append(rev)
    return pair[0], pair[1], cached_diff(session, pair[0], pair[1])


def after_publication(session: Session, post: Post, revision: Revision, publication: Publication) -> None:
    """At publication (called by the editorial workflow, inside its transaction): store the diffs readers
    will ask for, against the original and the previous text, so no reader's GET computes or writes one;
    and date the reader reports this correction answers."""
    # A first publication (every imported post's) has nothing to compare with: asked cheaply first.
    if (
        session.scalar(select(func.count()).select_from(Publication).where(Publication.post_id == post.id))
        < 2
    ):
        return
    rows = history(session, post)
    if len(rows) < 2:
        return
    for old, _pub in {rows[0], rows[-2]}:
        cached_diff(session, old, revision, store=True)
    for report in session.scalars(
        select(ErrorReport).where(
            ErrorReport.post_id == post.id,
            ErrorReport.state == ReportState.ACCEPTED.value,
            ErrorReport.correction_revision == revision.number,
            ErrorReport.corrected_at.is_(None),
        )
    ):
        report.corrected_at = publication.published_at


@dataclass(frozen=True)
class LogEntry:
    """One line of the corrections log and feed: a published correction, clarification, update or retraction.

    ``revision`` is the correcting revision, or for a retraction the text that was retracted;
    ``previous_number`` is the published revision a correction replaced (None for a retraction).
    """

    kind: str  # a NOTICE_KINDS value, or RETRACTION
    post: Post
    at: datetime
    revision: Revision
    previous_number: int | None = None
    publication: Publication | None = None
    retraction: Retraction | None = None


RETRACTION = "retraction"


def corrections_log(
    session: Session, *, after: str | None = None, before: str | None = None, per_page: int
) -> cursors.Page:
    """Corrections and retractions, newest first, interleaved by date; and the next page's cursor.

    Each kind is read from its own index from the cursor on, at most a page of each, and the two merged
    (keyset on (at, source, id), all descending: a retraction comes before a correction of the same
    instant); then one query
    per kind loads the page's rows: a retraction is no revision, so it cannot ride along in the join.
    ``before`` reads the page before from the same bounds, the other way.
    """
    key, backward = cursors.position(after, before, "corrections", (datetime, str, int))
    if key is not None and key[1] not in ("correction", RETRACTION):
        raise cursors.BadCursor("after is not a cursor of this list; use the next link of a page.")

    def bound(source: str) -> cursors.Key | None:
        """The (at, id) after which this kind's rows continue, given the cursor's (at, source, id)."""
        if key is None:
            return None
        at, last_source, ref = key
        if last_source == source:
            return (at, ref)
        # After a retraction at ``at``, every correction of that instant is still to come; after a
        # correction at ``at``, the retractions of that instant were shown before it.
        return (at, 2**62) if source == "correction" else (at, -1)

    corrections_query = cursors.after(
        select(literal("correction"), Publication.id, Publication.published_at)
        .join(Revision, Revision.id == Publication.revision_id)
        .where(Revision.kind.in_(NOTICE_KINDS)),
        (Publication.published_at, Publication.id),
        bound("correction"),
        descending=True,
        backward=backward,
    )
    retractions_query = cursors.after(
        select(literal(RETRACTION), Retraction.id, Retraction.at),
        (Retraction.at, Retraction.id),
        bound(RETRACTION),
        descending=True,
        backward=backward,
    )
    merged = [
        tuple(row)
        for query in (corrections_query, retractions_query)
        for row in session.execute(query.limit(per_page + 1)).all()
    ]
    merged.sort(key=lambda r: (r[2], r[0], r[1]), reverse=not (backward and key is not None))
    found = cursors.page(
        merged[: per_page + 1],
        per_page,
        "corrections",
        lambda r: (r[2], r[0], r[1]),
        key=key,
        backward=backward,
    )
    rows = found.rows
    pubs = _by_id(session, Publication, {ref for source, ref, _at in rows if source != RETRACTION})
    rets = _by_id(session, Retraction, {ref for source, ref, _at in rows if source == RETRACTION})
    posts = _by_id(session, Post, {p.post_id for p in pubs.values()} | {r.post_id for r in rets.values()})
    previous = _previous_numbers(session, list(pubs.values()))
    entries = []
    for source, ref, _at in rows:
        if source == RETRACTION:
            ret = rets[ref]
            post = posts[ret.post_id]
            assert post.published_revision is not None
            entries.append(LogEntry(RETRACTION, post, ret.at, post.published_revision, retraction=ret))
        else:
            pub = pubs[ref]
            entries.append(
                LogEntry(
                    pub.revision.kind,
                    posts[pub.post_id],
                    pub.published_at,
                    pub.revision,
                    previous_number=previous.get(pub.id),
                    publication=pub,
                )
            )
    return cursors.Page(entries, found.next, found.previous)


def _by_id(session: Session, model: type[M], ids: set[int]) -> dict[int, M]:
    return {row.id: row for row in session.scalars(select(model).where(model.id.in_(ids)))} if ids else {}


def _previous_numbers(session: Session, pubs: list[Publication]) -> dict[int, int]:
    """For each publication, the number of the post's published revision before it (absent: none).

    One correlated lookup per publication of the page (each an index seek on the post's publications),
    never every published number of a post corrected a thousand times.
    """
    if not pubs:
        return {}
    earlier = aliased(Publication)
    earlier_revision = aliased(Revision)
    # Walks the post's revisions down from this one (uq_post_revisions_post_number) to the first published.
    previous = (
        select(earlier_revision.number)
        .join(earlier, earlier.revision_id == earlier_revision.id)
        .where(earlier_revision.post_id == Revision.post_id, earlier_revision.number < Revision.number)
        .order_by(earlier_revision.number.desc())
        .limit(1)
        .scalar_subquery()
    )
    rows = session.execute(
        select(Publication.id, previous)
        .join(Revision, Revision.id == Publication.revision_id)
        .where(Publication.id.in_([p.id for p in pubs]))
    )
    return {pub_id: number for pub_id, number in rows if number is not None}


def retractions_by_post(session: Session, post_ids: Iterable[int]) -> dict[int, Retraction]:
    """The retraction of each of these posts that has one: how lists and feeds label a retracted post."""
    ids = list(post_ids)
    if not ids:
        return {}
    return {r.post_id: r for r in session.scalars(select(Retraction).where(Retraction.post_id.in_(ids)))}


def corrected_post_ids(session: Session, post_ids: Iterable[int]) -> set[int]:
    """Which of these posts have a published correction: how lists label a post "Corrected"."""
    ids = list(post_ids)
    if not ids:
        return set()
    return set(
        session.scalars(
            select(Publication.post_id)
            .join(Revision, Revision.id == Publication.revision_id)
            .where(Publication.post_id.in_(ids), Revision.kind == RevisionKind.CORRECTION.value)
            .distinct()
        )
    )


def last_published_at(session: Session, post_ids: Iterable[int]) -> dict[int, datetime]:
    """When each post last had a revision published: its feed entry's ``updated``.

    Not ``Post.updated_at``, which also moves for what a feed entry does not carry (a published comment).
    """
    ids = list(post_ids)
    if not ids:
        return {}
    rows = session.execute(
        select(Publication.post_id, func.max(Publication.published_at))
        .where(Publication.post_id.in_(ids))
        .group_by(Publication.post_id)
    )
    return {post_id: at for post_id, at in rows}


def corrections_stamp(session: Session) -> tuple[object, ...]:
    """Changes whenever a publication or a retraction happens: the cache key of the log and the feeds.

    A counter moved in the transaction that writes either (``app.posts.models.SiteStamp``): one
    primary-key read, whatever the size of the log. Retractions count on their own: a retraction
    publishes no revision.
    """
    return site_stamp(session, "corrections")


# --- reader error reports ---------------------------------------------------------------------------


def report_error(session: Session, post: Post, *, what: str, source: str, email: str, ip: str) -> ErrorReport:
    if post.published_revision is None:
        raise NotFound("There is no published post here.")
    report = ErrorReport(
        post_id=post.id,
        revision_number=post.published_revision.number,
        what=what,
        source=source,
        email=email,
        reporter_ip=ip,
        created_at=utc_now(),
    )
    session.add(report)
    session.flush()
    record(
        session,
        None,
        "report.received",
        post_id=post.id,
        revision_number=report.revision_number,
        report_id=report.id,
    )
    return report


def _reports(actor: User, state: str) -> Select[Any]:
    require(actor, "post.view_unpublished")
    query = select(ErrorReport).where(ErrorReport.state == state)
    if not actor.has_role(Role.EDITOR):
        query = query.join(Post, Post.id == ErrorReport.post_id).where(Post.author_id == actor.id)
    return query


def report_queue(
    session: Session,
    actor: User,
    *,
    state: str = ReportState.OPEN.value,
    after: str | None = None,
    before: str | None = None,
    per_page: int = 50,
) -> cursors.Page:
    """Reports in ``state`` on the posts this person wrote (editors: every post's), open ones oldest
    first, decided ones newest first: a page and the cursor of the next one (keyset on (created_at, id)
    over ix_error_reports_state_created)."""
    kind = f"reports:{state}"
    key, backward = cursors.position(after, before, kind, (datetime, int))
    query = cursors.after(
        _reports(actor, state),
        (ErrorReport.created_at, ErrorReport.id),
        key,
        descending=state != ReportState.OPEN.value,
        backward=backward,
    )
    rows = session.scalars(query.limit(per_page + 1)).all()
    return cursors.page(rows, per_page, kind, lambda r: (r.created_at, r.id), key=key, backward=backward)


def open_report_count(session: Session, actor: User) -> int:
    """How many open reports wait for this person (the dashboard's card): counted on the index."""
    query = _reports(actor, ReportState.OPEN.value).with_only_columns(func.count()).order_by(None)
    return session.scalar(query) or 0


# A report's one transition table: decided once, never re-decided.
REPORT_MOVES: dict[tuple[ReportState, str], ReportState] = {
    (ReportState.OPEN, "accept"): ReportState.ACCEPTED,
    (ReportState.OPEN, "decline"): ReportState.DECLINED,
}


def _decidable(session: Session, actor: User, report_id: int) -> tuple[ErrorReport, Post]:
    """The report, locked for this transaction (a double-clicked decision meets a 409, not two e-mails)."""
    report = session.scalar(
        select(ErrorReport)
        .where(ErrorReport.id == report_id)
        .with_for_update(of=ErrorReport)
        .execution_options(populate_existing=True)
    )
    if report is None:
        raise NotFound(f"No error report {report_id}.")
    post = session.get(Post, report.post_id)
    assert post is not None
    require(actor, "post.revise", post)
    return report, post


def report_for_decision(session: Session, actor: User, report_id: int) -> tuple[ErrorReport, Post]:
    """A report and its post, for someone who may decide it (its post's author, or an editor); no lock."""
    report = session.get(ErrorReport, report_id)
    if report is None:
        raise NotFound(f"No error report {report_id}.")
    post = session.get(Post, report.post_id)
    assert post is not None
    require(actor, "post.revise", post)
    return report, post


def _move_report(report: ErrorReport, action: str) -> None:
    """The one writer of ``ErrorReport.state``."""
    target = REPORT_MOVES.get((ReportState(report.state), action))
    if target is None:
        raise InvalidTransition(f"This report was already {report.state}.")
    report.state = target.value


def accept_report(session: Session, actor: User, report_id: int, correction_number: int) -> ErrorReport:
    """Accept a report, linking the revision that corrects it (published or on its way through review)."""
    report, post = _decidable(session, actor, report_id)
    revision = session.scalar(
        select(Revision).where(Revision.post_id == post.id, Revision.number == correction_number)
    )
    if revision is None or revision.kind not in NOTICE_KINDS:
        raise InvalidInput(
            "Link the correction, clarification or update that fixes this report.",
            field="correction_revision",
        )
    publication = session.scalar(select(Publication).where(Publication.revision_id == revision.id))
    if publication is not None and publication.published_at < report.created_at:
        raise InvalidInput(
            f"Revision {correction_number} was published before this report was made, so it cannot "
            "be the correction that answers it. Link a later one, or decline the report.",
            field="correction_revision",
        )
    _move_report(report, "accept")
    report.decided_by_id, report.decided_at = actor.id, utc_now()
    report.correction_revision = correction_number
    report.corrected_at = publication.published_at if publication else None
    session.flush()
    record(
        session,
        actor,
        "report.accepted",
        post_id=post.id,
        revision_number=correction_number,
        report_id=report.id,
    )
    _tell_reporter(
        session,
        report,
        post,
        f"Thank you: you were right. We have corrected the post (revision {correction_number}); "
        "the correction shows against the original text once it is published.",
    )
    events.error_report_decided.send(report, post=post)
    return report


def decline_report(session: Session, actor: User, report_id: int, reason: str) -> ErrorReport:
    report, post = _decidable(session, actor, report_id)
    if not reason.strip():
        raise InvalidInput("Tell the reader why the report was declined.", field="reason")
    _move_report(report, "decline")
    report.decided_by_id, report.decided_at, report.decision_note = actor.id, utc_now(), reason
    session.flush()
    record(session, actor, "report.declined", post_id=post.id, note=reason, report_id=report.id)
    _tell_reporter(
        session, report, post, f"We looked into it and are not changing the post. Our reason: {reason}"
    )
    events.error_report_decided.send(report, post=post)
    return report


def _tell_reporter(session: Session, report: ErrorReport, post: Post, outcome: str) -> None:
    """Queue an e-mail to the reader who reported, if they left an address (sent from the outbox)."""
    if not report.email:
        return
    title = post.published_revision.title if post.published_revision else post.slug
    body = (
        f'You reported an error in "{title}":\n\n{report.what}\n\n{outcome}\n\n'
        f"Every correction on the blog is listed at /corrections.\n"
    )
    mail.queue(
        session, to=report.email, subject=f'Your report on "{title}"', body=body, purpose="error_report"
    )


def median_time_to_correct(session: Session) -> timedelta | None:
    """How promptly the blog corrects: median time from a report to its published correction."""
    rows = session.execute(
        select(ErrorReport.created_at, ErrorReport.corrected_at).where(
            ErrorReport.state == ReportState.ACCEPTED.value, ErrorReport.corrected_at.is_not(None)
        )
    ).all()
    if not rows:
        return None
    seconds = statistics.median(max((c - r).total_seconds(), 0.0) for r, c in rows)
    return timedelta(seconds=seconds)


def describe_duration(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    if hours < 1:
        amount, unit = max(round(hours * 60), 1), "minute"
    elif hours < 48:
        amount, unit = round(hours), "hour"
    else:
        amount, unit = round(hours / 24), "day"
    return f"{amount} {unit}{'' if amount == 1 else 's'}"


def published_at_of(session: Session, revision: Revision) -> datetime | None:
    return session.scalar(select(Publication.published_at).where(Publication.revision_id == revision.id))


def jsonld(post: Post, revision: Revision, found: list[Notice], url: str) -> dict[str, Any] | None:
    """schema.org markup for a corrected post: each correction as a CorrectionComment."""
    if not found:
        return None
    return {
        "@context": "https://schema.org",
        "@type": "BlogPosting",
        "headline": revision.title,
        "url": url,
        "author": {"@type": "Person", "name": post.author.name},
        "datePublished": post.first_published_at.isoformat() if post.first_published_at else None,
        "correction": [
            {
                "@type": "CorrectionComment",
                "text": f"{n.revision.kind.capitalize()}: {n.revision.note}",
                "datePublished": n.publication.published_at.isoformat(),
            }
            for n in found
        ],
    }


def last_correction_at(session: Session) -> datetime | None:
    """When the corrections log last gained an entry (a published correction or a retraction)."""
    corrected = session.scalar(
        select(func.max(Publication.published_at))
        .join(Revision, Revision.id == Publication.revision_id)
        .where(Revision.kind.in_(NOTICE_KINDS))
    )
    retracted = session.scalar(select(func.max(Retraction.at)))
    return max((t for t in (corrected, retracted) if t is not None), default=None)


def notices_by_post(session: Session, post_ids: Iterable[int]) -> dict[int, list[Notice]]:
    """``notices`` for many posts in one query: what each feed entry of a corrected post says."""
    ids = list(post_ids)
    if not ids:
        return {}
    rows = session.execute(
        select(Revision, Publication)
        .join(Publication, Publication.revision_id == Revision.id)
        .where(Publication.post_id.in_(ids))
        .order_by(Publication.post_id, Publication.published_at, Revision.number)
    ).all()
    by_post: dict[int, list[tuple[Revision, Publication]]] = {}
    for rev, pub in rows:
        by_post.setdefault(pub.post_id, []).append((rev, pub))
    found: dict[int, list[Notice]] = {}
    for post_id, history_rows in by_post.items():
        notes = [
            Notice(rev, pub, history_rows[i - 1][0].number)
            for i, (rev, pub) in enumerate(history_rows)
            if i > 0 and rev.kind in NOTICE_KINDS
        ]
        if notes:
            found[post_id] = list(reversed(notes))
    return found
