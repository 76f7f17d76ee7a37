"""Verbs on comments: submit (through the spam checks, app.spam), comment as staff, unsubscribe.

Every verb takes a Session and an explicit actor (None for an anonymous reader), flushes, raises
app.errors.*, and never commits. A comment's status is a current pointer; each change of it writes a
``ModerationDecision`` (append-only) through ``record_decision``, here and in app.moderation, whose
verbs build on these. Whenever what readers see of a post's thread changes, the post's cache stamps
move (a Comment is ReaderVisible: app.posts.models stamps the post in the same flush), so cached
pages are rendered afresh.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import bindparam, exists, func, insert, literal, null, select, text, union_all
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.attributes import flag_modified

from app.accounts.models import User, UserRole
from app.accounts.permissions import can, require
from app.clock import utc_now
from app.comments import closing, learning, notifications, states
from app.comments.burst import BurstCounter, earlier_comments
from app.comments.formatting import MAX_COMMENT_CHARS, count_links, render_comment
from app.comments.models import (
    TALLY_SHARDS,
    Action,
    Comment,
    CommentClosure,
    CommentStatus,
    CommentTally,
    ModerationDecision,
    Subscription,
)
from app.db import Prepared
from app.errors import CommentsClosed, InvalidInput, InvalidTransition, NotFound
from app.mail.addresses import clean_email
from app.mail.compose import Site
from app.posts.models import Post, PostType, PublicationState
from app.settings.services import version_column
from app.spam import pipeline, relevance
from app.spam.akismet_adapter import AkismetChecker
from app.text import clean_text

S = CommentStatus
A = Action

MAX_NAME_CHARS = 200
APPROVED_CONTEXT = 50  # approved comments the off-topic scorer reads as part of the post

# The worst verdict of the spam checks decides where a reader's comment goes. Nothing is dropped.
STATUS_FOR_VERDICT: dict[pipeline.CheckVerdict, CommentStatus] = {
    pipeline.CheckVerdict.PUBLISH: S.PUBLISHED,
    pipeline.CheckVerdict.HOLD: S.HELD,
    pipeline.CheckVerdict.SPAM: S.SPAM,
}

# A reader comment asks something of staff: a question, or a request. Moderators can dismiss mistakes.
_ASKS = re.compile(
    r"\?|\b(?:can|could|would|will)\s+(?:you|someone|anyone|the\s+(?:doctor|clinic|team|staff|author))\b"
    r"|\bplease\s+(?:advise|help|tell|explain|let\s+me\s+know|confirm|reply|respond|clarify)\b"
    r"|\b(?:i|we)\s+(?:need|want|would\s+like)\s+to\s+know\b|\bany\s+(?:advice|thoughts|suggestions)\b"
    r"|\b(?:how|what|when|where|who)\s+(?:do|can|should)\s+i\b|\bshould\s+i\b|\bwondering\s+(?:if|whether)\b",
    re.IGNORECASE,
)

log = logging.getLogger(__name__)


def asks_staff(body: str) -> bool:
    return _ASKS.search(body[:MAX_COMMENT_CHARS]) is not None


@dataclass(frozen=True)
class CommentInput:
    """A comment as it arrived, before any checking. Text is cleaned by ``clean``."""

    author_name: str
    author_email: str
    body: str
    parent_id: int | None = None
    notify: bool = False
    ip: str = ""
    user_agent: str = ""
    referrer: str = ""
    permalink: str = ""
    honeypot: str = ""
    form_age: timedelta | None = None


def clean(data: CommentInput, *, staff: bool = False) -> CommentInput:
    """The same text rules for the form, the JSON API and tests; raises InvalidInput naming the field."""
    body = clean_text(data.body, "body", max_chars=MAX_COMMENT_CHARS, multiline=True)
    if staff:
        return dataclasses.replace(data, body=body)
    name = clean_text(data.author_name, "author_name", max_chars=MAX_NAME_CHARS)
    email = clean_email(data.author_email, "author_email")
    return dataclasses.replace(
        data,
        author_name=name,
        author_email=email,
        body=body,
        user_agent=_header_text(data.user_agent, 500),
        referrer=_header_text(data.referrer, 2000),
        honeypot=(data.honeypot or "")[:200],
    )


def _header_text(value: str, limit: int) -> str:
    """A header the writer's browser sent (User-Agent, Referer), kept for Akismet and moderators: its
    printable characters, cut at ``limit``. Never a reason to refuse the comment: the writer did not
    type it (a browser sends a Referer of up to 4,096 characters)."""
    return "".join(ch for ch in (value or "")[: 4 * limit] if ch.isprintable())[:limit]


# The form's own labels: a reader is told "Name is required", not the JSON field's "author_name".
FIELD_LABELS = {"body": "Comment", "author_name": "Name", "author_email": "E-mail"}


def field_errors(data: CommentInput, *, staff: bool = False) -> dict[str, str]:
    """Every field's problem at once (a form shows them all), by the same rules as ``clean``, each
    message naming the field by its label on the form."""
    errors: dict[str, str] = {}
    checks: list[tuple[str, Callable[[str], object]]] = [
        ("body", lambda f: _render(clean_text(data.body, f, max_chars=MAX_COMMENT_CHARS, multiline=True)))
    ]
    if not staff:
        checks += [
            ("author_name", lambda f: clean_text(data.author_name, f, max_chars=MAX_NAME_CHARS)),
            ("author_email", lambda f: clean_email(data.author_email, f)),
        ]
    for name, check in checks:
        label = FIELD_LABELS[name]
        try:
            check(label)
        except InvalidInput as exc:
            if exc.details.get("field", name) in (name, label):
                errors[name] = exc.message
    return errors


def _render(body: str) -> str:
    try:
        return render_comment(body)
    except ValueError as exc:
        raise InvalidInput(str(exc), field="body") from None


def _commentable(
    session: Session, post: Post, parent_id: int | None, close_after_days: int = 0
) -> Comment | None:
    """The parent comment, if any, once the post is known to take comments: published, not retracted,
    not closed (by an editor, or by age)."""
    if post.published_revision_id is None:
        raise NotFound(f"No post {post.id}.")
    if post.is_retracted:
        raise InvalidTransition("This post was retracted; it takes no new comments.")
    closing.require_open(session, post, close_after_days)
    if parent_id is None:
        return None
    # Locked and read afresh: a moderator's deletion in flight is waited for, then seen (PostgreSQL). Not
    # a share lock: a staff reply then updates the parent (needs_reply), and two replies at once that each
    # held a share lock would deadlock upgrading it.
    parent = session.get(
        Comment, parent_id, with_for_update={"key_share": True, "of": Comment}, populate_existing=True
    )
    if parent is None or parent.post_id != post.id or parent.status != S.PUBLISHED:
        raise InvalidInput("parent_id must be a published comment on this post.", field="parent_id")
    return parent


def record_decision(
    session: Session, comment: Comment, actor: User | None, action: Action, old: str, reason: str = ""
) -> ModerationDecision:
    """Log a change to ``comment`` (already made) from status ``old``: who (None: the system), what, why."""
    decision = _decision(comment, actor, action, old, reason)
    session.add(decision)
    session.flush()
    learning.learn(session, comment, decision)
    return decision


def _decision(
    comment: Comment, actor: User | None, action: Action, old: str, reason: str, *, at: datetime | None = None
) -> ModerationDecision:
    return ModerationDecision(
        comment_id=comment.id,
        moderator_id=actor.id if actor else None,
        action=action.value,
        from_status=old,
        to_status=comment.status,
        reason=reason,
        reasons=list(comment.reasons),
        at=at or utc_now(),
    )


def staff_directory(session: Session) -> tuple[list[str], frozenset[str]]:
    """Names and e-mail addresses of active staff, for the impersonation check."""
    rows = session.execute(
        select(User.name, User.email)
        .where(User.is_active.is_(True), User.id.in_(select(UserRole.user_id).distinct()))
        .order_by(User.id)
    ).all()
    return [name for name, _ in rows], frozenset(email.lower() for _, email in rows)


def _facts(
    session: Session,
    data: CommentInput,
    now: datetime,
    burst: int,
    counter: BurstCounter | None,
    *,
    member: str | None = None,
) -> pipeline.Facts:
    """What the checks that always run in the request need; whether the writer is a returning one and
    the off-topic model's ``knowledge`` are added only once Akismet has answered within the budget
    (``submit_comment``): otherwise the job looks them up."""
    recent = earlier_comments(session, data.ip, now, pipeline.BURST_WINDOW, burst, counter, member=member)
    return pipeline.Facts(recent_from_ip=recent)


def _returning(session: Session, email: str, but: int | None = None) -> bool:
    """A reader comment from ``email`` (other than comment ``but``) has been published before."""
    query = select(Comment.id).where(
        Comment.author_email == email, Comment.status == S.PUBLISHED, Comment.staff_user_id.is_(None)
    )
    if but is not None:
        query = query.where(Comment.id != but)
    return session.scalar(query.limit(1)) is not None


def approved_texts(session: Session, post: Post) -> list[str]:
    """What people vouched for on this post, newest first: comments a moderator approved, and staff's.

    Comments the pipeline published on its own are left out on purpose. Were they in, a spammer whose
    first comments slipped through would widen the post's vocabulary for the next ones; and the post's
    vocabulary, rebuilt whenever this list changes, would be rebuilt on every published comment. Read
    from the decisions (approve, ham, staff), so the cost follows what people did, not how many
    comments the post has.
    """
    rows = session.execute(
        select(Comment.id, Comment.body)
        .join(ModerationDecision, ModerationDecision.comment_id == Comment.id)
        .where(
            ModerationDecision.action.in_([A.APPROVE.value, A.HAM.value, A.STAFF.value]),
            ModerationDecision.moderator_id.is_not(None),
            Comment.post_id == post.id,
            Comment.status == S.PUBLISHED,
        )
        .order_by(ModerationDecision.id.desc())
        .limit(2 * APPROVED_CONTEXT)
    ).all()
    return list(dict(rows).values())[:APPROVED_CONTEXT]


def submit_comment(
    session: Session,
    post: Post,
    data: CommentInput,
    *,
    actor: User | None,
    checker: AkismetChecker | pipeline.Asks,
    settings: pipeline.PipelineSettings,
    site: Site | None = None,
    replaces: Comment | None = None,
    burst_counter: BurstCounter | None = None,
    close_after_days: int = 0,
) -> Comment:
    """Store a comment and its verdict: a staff member's is published as theirs, a reader's is checked.

    A reader's comment runs the whole pipeline (pipeline.py) and is published, held or marked spam,
    never dropped. ``replaces`` is the writer's own held comment (proved by a signed link) that this
    corrected one supersedes; it is withdrawn, and the log says so.
    """
    if actor is not None and can(actor, "comments.staff_comment"):
        return staff_comment(session, post, actor, data, site=site, close_after_days=close_after_days)
    data = clean(data)
    _lock_replaced(session, replaces)
    parent = _commentable(session, post, data.parent_id, close_after_days)
    html = _render(data.body)
    now = utc_now()
    revision = post.published_revision
    assert revision is not None
    names, emails = staff_directory(session)
    settings = dataclasses.replace(settings, staff_names=names, staff_emails=emails)
    submission = pipeline.Submission(
        author_name=data.author_name,
        author_email=data.author_email,
        body=data.body,
        ip=data.ip,
        user_agent=data.user_agent,
        referrer=data.referrer,
        permalink=data.permalink,
        is_reply=parent is not None,
        post=learning.post_context(post, revision),
        post_modified_at=post.updated_at,
        submitted_at=now,
        links=count_links(data.body),
        honeypot=data.honeypot,
        form_age=data.form_age,
    )
    facts = _facts(session, data, now, settings.burst, burst_counter)
    local = pipeline.run_local(submission, settings, facts)
    try:
        # Akismet first: when it does not answer within the request's budget, nothing else is loaded
        # (the off-topic model's examples, the post's approved comments); the job does that work.
        answer = checker.check(pipeline.signals(submission)) if pipeline.needs_akismet(local) else None
        submission = dataclasses.replace(
            submission, post=learning.post_context(post, revision, approved_texts(session, post))
        )
        facts = dataclasses.replace(
            facts,
            returning_commenter=_returning(session, data.author_email),
            knowledge=learning.knowledge(session, post),
        )
        outcome = pipeline.run_remote(submission, settings, facts, local, pipeline.Answered(answer))
    except pipeline.Deferred:
        # Akismet did not answer within the request's budget: stored, held as "checking" (never
        # published unchecked), and finished by the job (``finish_checks``) that the edge enqueues.
        outcome = pipeline.Outcome(pipeline.CheckVerdict.HOLD, [pipeline.CHECKING], local)
    checking = outcome.reasons == [pipeline.CHECKING]
    comment, subscription = _store_comment(
        session,
        post.id,
        (parent.id, parent.thread_id) if parent else None,
        data,
        html=html,
        at=now,
        status=STATUS_FOR_VERDICT[outcome.verdict],
        reasons=outcome.reasons,
        checks=outcome.checks_json,
        scored=outcome.relevance,
        akismet_verdict=CHECKING if checking else outcome.akismet_verdict,
    )
    # Spam gets no e-mail from us at all: the box must not be a way to send mail to a stranger.
    # A comment still being checked gets it when its verdict lands (``finish_checks``).
    if subscription is not None and site is not None and comment.status != S.SPAM and not checking:
        notifications.confirmation_requested(session, site, subscription, revision.title)
    _withdraw_replaced(session, post.id, comment, replaces)
    session.flush()
    return comment


def _store_comment(
    session: Session,
    post_id: int,
    parent: tuple[int, int | None] | None,
    data: CommentInput,
    *,
    html: str,
    at: datetime,
    status: CommentStatus,
    reasons: list[str],
    checks: list[dict[str, Any]],
    scored: relevance.Relevance | None,
    akismet_verdict: str,
) -> tuple[Comment, Subscription | None]:
    """Write a reader's comment (cleaned ``data``) with its ``submit`` decision and, if the writer asked
    for replies, its subscription: one flush, so the arrival costs one trip through the unit of work.
    ``parent`` is the published comment replied to, as ``(id, thread_id)``. The inline and the quick
    path differ only in the verdict they store (the quick one: held, ``checking``)."""
    comment = Comment(
        post_id=post_id,
        parent_id=parent[0] if parent else None,
        thread_id=(parent[1] or parent[0]) if parent else None,
        author_name=data.author_name,
        author_email=data.author_email,
        author_ip=data.ip[:64],
        user_agent=data.user_agent,
        referrer=data.referrer,
        permalink=data.permalink[:2000],
        body=data.body,
        html=html,
        status=status.value,
        reasons=reasons,
        checks=checks,
        relevance_score=scored.score if scored else None,
        relevance_drivers=[list(d) for d in scored.drivers] if scored else [],
        akismet_verdict=akismet_verdict,
        needs_reply=asks_staff(data.body),
        notify=data.notify,
        created_at=at,
        status_changed_at=at,
    )
    decision = _decision(comment, None, A.SUBMIT, "", "", at=at)
    decision.comment = comment  # its comment_id once the comment has one, in the same flush
    session.add_all([comment, decision])
    subscription = None
    if data.notify:
        subscription = Subscription(comment=comment, email=data.author_email, created_at=at)
        session.add(subscription)
    session.flush()
    # No ``learning.learn``: the off-topic learner learns from moderators' decisions, never a submission.
    return comment, subscription


# --- the quick way in: stored at once, checked by the job ---------------------------------------------


@dataclass(frozen=True)
class Target:
    """A published post that takes comments, as the quick path reads it: one row, one statement."""

    id: int
    slug: str
    twin_locked: bool = False  # the duplicate lock of ``_same_comment`` is held already
    settings_version: int | None = None  # the settings' version, read by the same statement if asked


def comment_target(
    session: Session,
    post_id: int,
    close_after_days: int = 0,
    *,
    twin_of: CommentInput | None = None,
    settings_version: bool = False,
) -> Target:
    """The post ``post_id`` if it takes a reader's comment now (else NotFound, 409 retracted or closed),
    read in one statement: its row and whether an editor closed its comments. Loads no author, revision
    or topics (``_commentable`` reads those through the ORM for the inline path). With ``twin_of`` (the
    cleaned comment) the same statement takes the duplicate lock of ``_same_comment`` on PostgreSQL.
    With ``settings_version`` it also reads the settings' version (``Target.settings_version``), so the
    caller needs no statement of its own for them (``app.web.runtime.settle``)."""
    dialect = session.get_bind().dialect
    if dialect.name == "postgresql":  # the driver's cursor: every comment POST runs it
        locking = twin_of is not None
        row = _prepared(dialect, "target", locking, settings_version).one_or_none(
            session, _target_params(post_id, twin_of)
        )
    else:
        locking = False
        query = _target_query(locking=False, versioned=settings_version)
        row = session.connection().execute(query, {"post_id": post_id}).one_or_none()
    return _target_from(row, post_id, close_after_days, locking=locking, versioned=settings_version)


def quick_target(
    connection: Any, dialect: Any, post_id: int, data: CommentInput, close_after_days: int
) -> Target:
    """``comment_target(twin_of=data, settings_version=True)`` on PostgreSQL, run on ``connection``: a
    driver connection in its own transaction, outside any Session (``app.web.intake``). The same
    statement, the same locks, the same answers and errors."""
    row = _prepared(dialect, "target", True, True).one_or_none(connection, _target_params(post_id, data))
    return _target_from(row, post_id, close_after_days, locking=True, versioned=True)


def _target_params(post_id: int, twin_of: CommentInput | None) -> dict[str, Any]:
    params: dict[str, Any] = {"post_id": post_id}
    if twin_of is not None:
        params["twin_key"] = _twin_key(post_id, twin_of)
    return params


def _target_from(row: Any, post_id: int, close_after_days: int, *, locking: bool, versioned: bool) -> Target:
    if row is None or row.published_revision_id is None or not row.slug:
        raise NotFound(f"No post {post_id}.")
    if row.publication_state == PublicationState.RETRACTED:
        raise InvalidTransition("This post was retracted; it takes no new comments.")
    reason = closing.reason_for(
        is_page=row.type == PostType.PAGE,
        closed=bool(row.closed),
        first_published_at=row.first_published_at,
        days=close_after_days,
    )
    if reason is not None:
        raise CommentsClosed(reason)
    version = row.settings_version if versioned else None
    return Target(row.id, row.slug, twin_locked=locking, settings_version=version)


@functools.cache
def _prepared(dialect: Any, name: str, *shape: bool) -> Prepared:
    """The quick path's statements compiled once for PostgreSQL (``app.db.Prepared``): ``target`` with
    ``locking, versioned`` (``_target_query``), ``arrival`` with ``reply, notify``
    (``_arrival_statement``)."""
    if name == "target":
        return Prepared(_target_query(locking=shape[0], versioned=shape[1]), dialect)
    return Prepared(_arrival_statement(reply=shape[0], notify=shape[1]), dialect)


@functools.cache
def _target_query(*, locking: bool, versioned: bool = False) -> Any:
    """``comment_target``'s statement with bound parameters, built once (every comment POST runs it)."""
    columns: list[Any] = [
        Post.id,
        Post.slug,
        Post.type,
        Post.publication_state,
        Post.published_revision_id,
        Post.first_published_at,
        exists().where(CommentClosure.post_id == Post.id).label("closed"),
    ]
    if versioned:
        columns.append(version_column().label("settings_version"))
    query = select(*columns).where(Post.id == bindparam("post_id"))
    if not locking:
        return query
    # The post's row is share-locked for its key here, first: every writer of a comment takes the post's
    # row before tally rows, whatever order its statements take (a single-statement arrival writing its
    # tally rows before its foreign-key check share-locks the post deadlocked with a check batch). A
    # key-share lock waits only for a retraction or a key change (FOR UPDATE), not for a check batch or a
    # count update (FOR NO KEY UPDATE).
    columns.append(func.pg_advisory_xact_lock(bindparam("twin_key")).label("locked"))
    return (
        select(*columns)
        .where(Post.id == bindparam("post_id"))
        .with_for_update(read=True, key_share=True, of=Post)
    )


def accept_comment(
    session: Session,
    target: Target,
    data: CommentInput,
    *,
    settings: pipeline.PipelineSettings,
    replaces: Comment | None = None,
    burst_counter: BurstCounter | None = None,
    cleaned: bool = False,
    answer_only: bool = False,
) -> Comment | Arrival:
    """Store a reader's comment as being checked, and nothing more: the quick path of a comment POST.

    The input is validated (text, size, parent) and only what the request alone knows is judged now:
    the hidden field, the form's age and the address's burst (``pipeline.run_at_arrival``). The
    comment is stored ``held`` with the reason ``checking`` (never shown to readers) and its ``submit``
    logged; the caller enqueues the job (``finish_checks``), which runs every other check: impersonation,
    links, privacy, Akismet, off-topic, first comment, then the subscription e-mail. ``replaces`` as in
    ``submit_comment``. ``cleaned``: ``data`` has been through ``clean`` already (the API's view).
    ``answer_only``: on the one-statement arrival (PostgreSQL), answer an ``Arrival`` rather than build
    the ``Comment`` (a twin found is still the ``Comment``).
    """
    if not cleaned:
        data = clean(data)
    html = _render(data.body)
    if replaces is None and target.twin_locked:
        # PostgreSQL, the duplicate lock held: the comment, its decision, tallies and subscription in one
        # statement, which writes nothing for a twin or a reply to no published comment (read after).
        return _arrive_at_once(
            session,
            target,
            data,
            html,
            settings=settings,
            burst_counter=burst_counter,
            answer_only=answer_only,
        )
    _lock_replaced(session, replaces)
    twin = _same_comment(session, target, data)
    if twin is not None:
        return twin  # a double click, or a retry after a lost answer: the comment already stored
    parent: tuple[int, int | None] | None = None
    if data.parent_id is not None:
        row = session.execute(  # share-locked: a deletion in flight is waited for, then seen (PostgreSQL)
            select(Comment.id, Comment.thread_id)
            .where(Comment.id == data.parent_id, Comment.post_id == target.id, Comment.status == S.PUBLISHED)
            .with_for_update(read=True)
        ).one_or_none()
        if row is None:
            raise InvalidInput("parent_id must be a published comment on this post.", field="parent_id")
        parent = (row.id, row.thread_id)
    now = utc_now()
    arrival = _arrival_checks(
        session, target, data, now, settings, burst_counter, is_reply=parent is not None
    )
    # The confirmation e-mail waits for the verdict (``finish_checks``): spam gets none.
    comment, _ = _store_comment(
        session,
        target.id,
        parent,
        data,
        html=html,
        at=now,
        status=S.HELD,
        reasons=[pipeline.CHECKING],
        checks=arrival,
        scored=None,
        akismet_verdict=CHECKING,
    )
    _withdraw_replaced(session, target.id, comment, replaces)
    return comment


def _arrival_checks(
    session: Session,
    target: Target,
    data: CommentInput,
    now: datetime,
    settings: pipeline.PipelineSettings,
    burst_counter: BurstCounter | None,
    *,
    is_reply: bool,
    member: str | None = None,
) -> list[dict[str, Any]]:
    """What only the request can judge (``pipeline.run_at_arrival``), as stored in ``Comment.checks``."""
    facts = _facts(session, data, now, settings.burst, burst_counter, member=member)
    return _arrival_results(target, data, now, settings, facts, is_reply=is_reply)


def _arrival_results(
    target: Target,
    data: CommentInput,
    now: datetime,
    settings: pipeline.PipelineSettings,
    facts: pipeline.Facts,
    *,
    is_reply: bool,
) -> list[dict[str, Any]]:
    submission = pipeline.Submission(
        author_name=data.author_name,
        author_email=data.author_email,
        body=data.body,
        ip=data.ip,
        user_agent=data.user_agent,
        referrer=data.referrer,
        permalink=data.permalink,
        is_reply=is_reply,
        post=relevance.PostContext("", "", key=str(target.id)),  # not read by the arrival checks
        post_modified_at=None,
        submitted_at=now,
        links=0,  # counted by the job's link check
        honeypot=data.honeypot,
        form_age=data.form_age,
    )
    return [r.as_dict() for r in pipeline.run_at_arrival(submission, settings, facts)]


class Arrival(NamedTuple):
    """A comment just stored by the one-statement arrival, as its writer's answer needs it
    (``accept_comment(answer_only=True)``): no ORM object built for a row nothing else reads."""

    id: int
    status: str
    reasons: list[str]
    akismet_verdict: str


# --- the quick way in on PostgreSQL: one statement --------------------------------------------------------

_ARRIVAL_REASONS = [pipeline.CHECKING]
_ARRIVAL_TALLIES = ((S.HELD.value, ""), (S.HELD.value, pipeline.CHECKING))  # in key order: locks in order


def _arrive_at_once(
    session: Session,
    target: Target,
    data: CommentInput,
    html: str,
    *,
    settings: pipeline.PipelineSettings,
    burst_counter: BurstCounter | None,
    answer_only: bool = False,
) -> Comment | Arrival:
    """``accept_comment`` on PostgreSQL with the post's row and the duplicate lock held (``comment_target``):
    the comment, its ``submit`` decision, its tally rows and (if asked) its subscription are written by
    one statement (``_arrival_statement``), which writes nothing when the comment has a twin or replies
    to no published comment on this post; only then are those read, to answer which. Rows and counts
    are those ``_store_comment`` writes (the tallies as ``app.comments.states`` keeps them: the new
    comment's shard, status and reason rows in key order). The comment is then attached to the session
    as loaded, without a flush."""
    now = utc_now()
    reply = data.parent_id is not None
    member = burst_member(target.id, data)
    facts = _facts(session, data, now, settings.burst, burst_counter, member=member)
    values, params = _arrival_values(target, data, html, now, settings, facts)
    arrival = _prepared(session.get_bind().dialect, "arrival", reply, data.notify)
    row = arrival.one_or_none(session, params)
    if row is None:
        twin = _same_comment(session, target, data)  # the lock is held: no second lock taken
        if twin is not None:
            return twin  # a double click, or a retry after a lost answer: the comment already stored
        if reply:
            raise InvalidInput("parent_id must be a published comment on this post.", field="parent_id")
        raise RuntimeError("a comment with no twin was not stored")  # pragma: no cover (cannot happen)
    if answer_only:
        return Arrival(row.id, S.HELD.value, list(_ARRIVAL_REASONS), CHECKING)
    comment = Comment(
        id=row.id,
        parent_id=data.parent_id,
        thread_id=row.thread_id,
        relevance_score=None,
        staff_user_id=None,
        **{**values, "reasons": list(_ARRIVAL_REASONS), "relevance_drivers": []},
    )
    make_transient_to_detached(comment)
    session.add(comment)
    return comment


def quick_arrival(
    connection: Any,
    dialect: Any,
    target: Target,
    data: CommentInput,
    *,
    settings: pipeline.PipelineSettings,
    earlier: int,
) -> Arrival | None:
    """``accept_comment(answer_only=True)`` on PostgreSQL after ``quick_target``, run on its driver
    connection (``app.web.intake``), the sender's burst counted already (``earlier`` comments before this
    one). The same statement writes the same rows. None when it wrote nothing (a twin, or a reply to no
    published comment): the caller rolls back and takes the Session's way, which says which."""
    now = utc_now()
    facts = pipeline.Facts(recent_from_ip=earlier if data.ip else 0)  # as ``earlier_comments`` counts
    _, params = _arrival_values(target, data, _render(data.body), now, settings, facts)
    row = _prepared(dialect, "arrival", data.parent_id is not None, data.notify).one_or_none(
        connection, params
    )
    if row is None:
        return None
    return Arrival(row.id, S.HELD.value, list(_ARRIVAL_REASONS), CHECKING)


def _arrival_values(
    target: Target,
    data: CommentInput,
    html: str,
    now: datetime,
    settings: pipeline.PipelineSettings,
    facts: pipeline.Facts,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The new comment's columns, and the arrival statement's parameters (those, the twin's, the action)."""
    checks = _arrival_results(target, data, now, settings, facts, is_reply=data.parent_id is not None)
    values: dict[str, Any] = {
        "post_id": target.id,
        "author_name": data.author_name,
        "author_email": data.author_email,
        "author_ip": data.ip[:64],
        "user_agent": data.user_agent,
        "referrer": data.referrer,
        "permalink": data.permalink[:2000],
        "body": data.body,
        "html": html,
        "status": S.HELD.value,
        "reasons": _ARRIVAL_REASONS,
        "checks": checks,
        "relevance_drivers": [],
        "akismet_verdict": CHECKING,
        "needs_reply": asks_staff(data.body),
        "notify": data.notify,
        "created_at": now,
        "status_changed_at": now,
    }
    return values, {**values, **_twin_params(target.id, data, now), "action": A.SUBMIT.value}


@functools.cache
def _arrival_statement(*, reply: bool, notify: bool) -> Any:
    """``_arrive_at_once``'s statement, built once per shape (a reply or not, a subscription or not):

    ``WITH arrived AS (INSERT INTO comments ... SELECT ... [FROM the parent, share-locked, published on this
    post] WHERE NOT EXISTS (its twin) RETURNING id, thread_id), d AS (INSERT INTO moderation_decisions ...
    FROM arrived), t AS (INSERT INTO comment_tallies ... FROM arrived ON CONFLICT DO UPDATE SET n = n +
    excluded.n)[, s AS (INSERT INTO comment_subscriptions ... FROM arrived)] SELECT id, thread_id FROM
    arrived``.

    The parent is read ``FOR SHARE``: a moderator deleting it at the same moment either waits for this
    comment (and then sees its reply) or commits first, and this statement, reading the parent again,
    writes nothing (the reply is refused): never a reply to a deleted comment."""
    comments = Comment.__table__

    def param(name: str) -> Any:
        return bindparam(name, type_=comments.c[name].type)

    names = [
        "post_id",
        "author_name",
        "author_email",
        "author_ip",
        "user_agent",
        "referrer",
        "permalink",
        "body",
        "html",
        "status",
        "reasons",
        "checks",
        "relevance_drivers",
        "akismet_verdict",
        "needs_reply",
        "notify",
        "created_at",
        "status_changed_at",
    ]
    columns = [param(n) for n in names]
    twin = comments.alias("twin")
    no_twin = ~exists().where(*_twin_conditions(twin, reply=reply))
    if reply:
        parent = comments.alias("parent")
        source = (
            select(*columns, parent.c.id, func.coalesce(parent.c.thread_id, parent.c.id))
            .where(
                parent.c.id == bindparam("parent_id"),
                parent.c.post_id == bindparam("post_id"),
                parent.c.status == S.PUBLISHED.value,
                no_twin,
            )
            .with_for_update(read=True, of=parent)
        )
        names = [*names, "parent_id", "thread_id"]
    else:
        source = select(*columns).where(no_twin)
    arrived = (
        insert(comments)
        .from_select(names, source, include_defaults=False)
        .returning(comments.c.id, comments.c.thread_id)
        .cte("arrived")
    )
    decisions = ModerationDecision.__table__
    decided = (
        insert(decisions)
        .from_select(
            ["comment_id", "moderator_id", "action", "from_status", "to_status", "reason", "reasons", "at"],
            select(
                arrived.c.id,
                null(),
                bindparam("action", type_=decisions.c.action.type),
                literal(""),
                param("status"),
                literal(""),
                param("reasons"),
                param("created_at"),
            ),
            include_defaults=False,  # redaction_count: the server's 0
        )
        .cte("decided")
    )
    tallies = CommentTally.__table__
    shard = arrived.c.id % TALLY_SHARDS
    rows = union_all(
        *(
            select(literal(status), literal(reason), shard, literal(1)).select_from(arrived)
            for status, reason in _ARRIVAL_TALLIES
        )
    )
    upsert = pg_insert(tallies).from_select(["status", "reason", "shard", "n"], rows, include_defaults=False)
    counted = upsert.on_conflict_do_update(
        index_elements=[tallies.c.status, tallies.c.reason, tallies.c.shard],
        set_={"n": tallies.c.n + upsert.excluded.n},
    ).cte("counted")
    statement = select(arrived.c.id, arrived.c.thread_id).add_cte(decided, counted)
    if notify:
        subscriptions = Subscription.__table__
        subscribed = (
            insert(subscriptions)
            .from_select(
                ["comment_id", "email", "created_at"],
                select(arrived.c.id, param("author_email"), param("created_at")),
                include_defaults=False,
            )
            .cte("subscribed")
        )
        statement = statement.add_cte(subscribed)
    return statement


DUPLICATE_WINDOW = timedelta(minutes=10)


def _twin_key(post_id: int, data: CommentInput) -> int:
    key = f"{post_id}\0{data.parent_id or 0}\0{data.author_email}\0{data.body}"
    digest = hashlib.sha256(key.encode()).digest()
    return int.from_bytes(b"\x01" + digest[:7], "big", signed=True)


def burst_member(post_id: int, data: CommentInput) -> str:
    """This comment's mark in its sender's burst: what makes a comment the twin of another
    (``_twin_conditions``), the whole address included, so a double click is one mark, and the same words
    from another address of the sender's /64 (stored: no twin) are a comment, and a mark, of their own."""
    key = f"{_twin_key(post_id, data)}\0{data.ip[:64]}"
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def _same_comment(session: Session, target: Target, data: CommentInput) -> Comment | None:
    """The same writer's same text on the same post, in reply to the same comment (or to none), from the
    same address within DUPLICATE_WINDOW, if stored already. The same words in reply to two comments are
    two comments.

    On PostgreSQL a transaction-scoped advisory lock keyed by (post, e-mail, text) comes first, held until
    the commit, so of two requests at once the second waits for the first and finds its comment; on
    SQLite every writing request holds the database's write lock already (``app.db.writing``)."""
    post_id = target.id
    if not target.twin_locked and session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _twin_key(post_id, data)})
    twin = session.scalar(
        _twin_query(reply=data.parent_id is not None), _twin_params(post_id, data, utc_now())
    )
    return session.get(Comment, twin) if twin is not None else None


def _same_staff_comment(session: Session, post_id: int, actor: User, data: CommentInput) -> Comment | None:
    """``_same_comment`` for staff, who skip the pipeline: their same words on the same post, in reply to
    the same comment, within DUPLICATE_WINDOW. Locked the same way, so two requests at once (a double
    click) publish one comment."""
    if session.get_bind().dialect.name == "postgresql":
        key = _twin_key(post_id, dataclasses.replace(data, author_email=f"staff:{actor.id}"))
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
    return session.scalars(
        select(Comment)
        .where(
            Comment.post_id == post_id,
            Comment.staff_user_id == actor.id,
            Comment.parent_id.is_(None) if data.parent_id is None else Comment.parent_id == data.parent_id,
            Comment.body == data.body,
            Comment.status != S.DELETED,
            Comment.created_at >= utc_now() - DUPLICATE_WINDOW,
        )
        .order_by(Comment.id.desc())
        .limit(1)
    ).first()


def _twin_conditions(twin: Any, *, reply: bool) -> list[Any]:
    """What makes a comment (the table or alias ``twin``) the twin of the one arriving (bound parameters)."""
    return [
        # From the same address (a double click is): ix_comments_ip_created bounds the search to
        # that address's last minutes, however many comments the e-mail has written.
        twin.c.author_ip == bindparam("ip"),
        twin.c.created_at >= bindparam("since"),
        twin.c.author_email == bindparam("email"),
        twin.c.post_id == bindparam("post_id"),
        twin.c.staff_user_id.is_(None),
        twin.c.body == bindparam("body"),
        # A deleted or withdrawn comment is no twin: sending its words again is a new comment.
        twin.c.status != S.DELETED.value,
        twin.c.parent_id == bindparam("parent_id") if reply else twin.c.parent_id.is_(None),
    ]


@functools.cache
def _twin_query(*, reply: bool) -> Any:
    """``_same_comment``'s query with bound parameters, built once (every comment POST runs it)."""
    table = Comment.__table__
    return select(table.c.id).where(*_twin_conditions(table, reply=reply)).order_by(table.c.id).limit(1)


def _twin_params(post_id: int, data: CommentInput, now: datetime) -> dict[str, Any]:
    return {
        "ip": data.ip[:64],
        "since": now - DUPLICATE_WINDOW,
        "email": data.author_email,
        "post_id": post_id,
        "body": data.body,
        "parent_id": data.parent_id,
    }


def _lock_replaced(session: Session, replaces: Comment | None) -> None:
    """Lock the comment being replaced before anything else is written: in the order of
    ``lock_in_order`` (comments, then posts, then tally rows). Taken after storing the new comment
    (which takes the post's row and tally rows), it waited for a check batch holding it that waited for
    the post's row: a deadlock."""
    if replaces is not None:
        session.refresh(replaces, with_for_update={"of": Comment})


def _withdraw_replaced(session: Session, post_id: int, comment: Comment, replaces: Comment | None) -> None:
    if replaces is None or replaces.post_id != post_id:
        return
    # Lock it and look again: a moderator may have decided it a moment ago. Only a comment still
    # held is withdrawn; a decided one stands, and the new comment simply joins the queue.
    session.refresh(replaces, with_for_update={"of": Comment})
    if replaces.status == S.HELD:
        old = states.move(replaces, A.WITHDRAW).value
        record_decision(session, replaces, None, A.WITHDRAW, old, reason=f"{REPLACED_BY} {comment.id}")
    session.flush()


REPLACED_BY = "replaced by its writer with comment"  # a withdrawal's reason, then the new comment's id


def replacement_of(session: Session, decisions: list[ModerationDecision]) -> Comment | None:
    """The comment its writer sent to replace this one (``decisions`` are this one's), if they did."""
    for decision in reversed(decisions):
        if decision.action == A.WITHDRAW.value and (decision.reason or "").startswith(REPLACED_BY):
            number = decision.reason.removeprefix(REPLACED_BY).strip()
            return session.get(Comment, int(number)) if number.isdigit() else None
    return None


# --- checks that finish after the answer ------------------------------------------------------------

CHECKING = "checking"  # Comment.akismet_verdict while its remaining checks wait for the job


def is_checking(comment: Comment | Arrival) -> bool:
    """Stored and answered, its remaining checks (Akismet, off-topic, first comment) not yet run."""
    return comment.status == S.HELD and comment.akismet_verdict == CHECKING


def waiting_checks(session: Session, since: datetime) -> int:
    """How many comments that arrived at or after ``since`` are still being checked: a range of the held
    comments' partial index (``ix_comments_held``), as cheap at a million comments as at a hundred."""
    return int(
        session.scalar(
            select(func.count())
            .select_from(Comment)
            .where(Comment.status == S.HELD, Comment.created_at >= since, Comment.akismet_verdict == CHECKING)
        )
        or 0
    )


def _submission_of(
    session: Session, comment: Comment, memo: dict[Any, Any] | None = None
) -> pipeline.Submission:
    """The stored comment as the remaining checks see it (what only the request knew has been used).
    ``memo``: a batch's cache of what is the same for every comment on a post (its text, approved ones)."""
    post = session.get(Post, comment.post_id)
    assert post is not None and post.published_revision is not None
    context = _memo(
        memo,
        ("context", post.id),
        lambda: learning.post_context(post, post.published_revision, approved_texts(session, post)),
    )
    return pipeline.Submission(
        author_name=comment.author_name,
        author_email=comment.author_email,
        body=comment.body,
        ip=comment.author_ip,
        user_agent=comment.user_agent,
        referrer=comment.referrer,
        permalink=comment.permalink,
        is_reply=comment.parent_id is not None,
        post=context,
        post_modified_at=post.updated_at,
        submitted_at=comment.created_at,
        links=count_links(comment.body),
    )


def _memo(memo: dict[Any, Any] | None, key: Any, make: Any) -> Any:
    if memo is None:
        return make()
    if key not in memo:
        memo[key] = make()
    return memo[key]


def pending_check(session: Session, comment_id: int) -> pipeline.CommentSignals | None:
    """What to ask Akismet about a comment still being checked (None: nothing to ask, or not pending).

    Read-only: the job asks Akismet outside any transaction, then ``finish_checks`` decides."""
    comment = session.get(Comment, comment_id)
    if comment is None or not is_checking(comment):
        return None
    return _signals_of(session, comment)


def pending_checks(
    session: Session, comment_id: int | None, *, limit: int, since: datetime, but: Iterable[int] = ()
) -> dict[int, pipeline.CommentSignals | None]:
    """A batch for the check job: ``comment_id`` first (if given), then other comments still being
    checked that arrived after ``since`` (oldest first), none of ``but``, ``limit`` in all, each with
    what to ask Akismet (None: nothing to ask). Empty when ``comment_id`` was decided meanwhile.
    Read-only."""
    first: list[Comment] = []
    if comment_id is not None:
        own = session.get(Comment, comment_id)
        if own is None or not is_checking(own):
            return {}
        first.append(own)
    others = session.scalars(
        select(Comment)
        .where(
            Comment.status == S.HELD,
            Comment.akismet_verdict == CHECKING,
            Comment.created_at >= since,
            Comment.id.not_in([c.id for c in first] + list(but)),
        )
        .order_by(Comment.created_at, Comment.id)
        .limit(max(0, limit - len(first)))
    ).all()
    modified: dict[int, datetime | None] = {}
    return {c.id: _readable_signals(session, c, modified) for c in [*first, *others]}


def _readable_signals(
    session: Session, comment: Comment, modified: dict[int, datetime | None]
) -> pipeline.CommentSignals | None:
    """``_signals_of``, or None (ask nothing) for a comment whose stored checks this version cannot
    read: ``finish_batch`` then fails that comment alone, not the batch."""
    try:
        return _signals_of(session, comment, modified)
    except (KeyError, TypeError, ValueError):
        log.warning("comment %s: its stored checks cannot be read", comment.id, exc_info=True)
        return None


def _signals_of(
    session: Session, comment: Comment, modified: dict[int, datetime | None] | None = None
) -> pipeline.CommentSignals | None:
    if not pipeline.needs_akismet(pipeline.results_from_json(comment.checks)):
        return None
    # What Akismet weighs is the comment and when its post last changed; the post's text and approved
    # comments (``_submission_of``) are for the off-topic check, which ``finish_checks`` runs.
    known = modified if modified is not None else {}
    if comment.post_id not in known:
        known[comment.post_id] = session.scalar(select(Post.updated_at).where(Post.id == comment.post_id))
    return pipeline.signals(
        pipeline.Submission(
            author_name=comment.author_name,
            author_email=comment.author_email,
            body=comment.body,
            ip=comment.author_ip,
            user_agent=comment.user_agent,
            referrer=comment.referrer,
            permalink=comment.permalink,
            is_reply=comment.parent_id is not None,
            post=relevance.PostContext("", "", key=str(comment.post_id)),
            post_modified_at=known[comment.post_id],
            submitted_at=comment.created_at,
            links=0,
        )
    )


def finish_checks(
    session: Session,
    comment_id: int,
    answer: pipeline.AkismetResult | None,
    settings: pipeline.PipelineSettings,
    *,
    site: Site | None = None,
    reason: str = "its remaining checks finished after it was answered",
    memo: dict[Any, Any] | None = None,
) -> Comment | None:
    """Run the remaining checks of a comment still being checked, with Akismet's ``answer`` (asked by
    the caller), and move it to the verdict. None if it was decided meanwhile (a moderator, another
    run): the comment's row is locked and looked at again first. ``memo`` (``finish_batch``) keeps
    what is the same for every comment of one post within one transaction."""
    comment = session.get(Comment, comment_id, with_for_update={"of": Comment}, populate_existing=True)
    if comment is None or not is_checking(comment):
        return None
    old = _judge(session, comment, answer, settings, memo)
    record_decision(session, comment, None, A.RECHECK, old, reason=reason)  # flushes both
    _confirm_if_asked(session, comment, site)
    return comment


def _judge(
    session: Session,
    comment: Comment,
    answer: pipeline.AkismetResult | None,
    settings: pipeline.PipelineSettings,
    memo: dict[Any, Any] | None,
) -> str:
    """``finish_checks``'s checks and move of a comment still being checked, locked and loaded afresh;
    its old status (the decision to record). Flushes nothing."""
    # Kept by the memo: the session's identity map holds objects weakly, and would load it again.
    post = _memo(memo, ("post", comment.post_id), lambda: session.get(Post, comment.post_id))
    assert post is not None
    submission = _submission_of(session, comment, memo)
    known = memo.get(_RETURNING) if memo is not None else None
    returning = (
        comment.author_email in known
        if known is not None
        else _returning(session, comment.author_email, but=comment.id)
    )
    knowledge = _memo(memo, ("knowledge", post.id), lambda: learning.knowledge(session, post))
    facts = pipeline.Facts(returning_commenter=returning, knowledge=knowledge)
    local = pipeline.results_from_json(comment.checks)
    if tuple(r.check for r in local) == pipeline.ARRIVAL_NAMES:
        # Stored by the quick path (``accept_comment``): impersonation, links and privacy run here.
        names, emails = _memo(memo, "staff", lambda: staff_directory(session))
        with_staff = dataclasses.replace(settings, staff_names=names, staff_emails=emails)
        local = pipeline.complete_local(submission, with_staff, facts, local)
    outcome = pipeline.run_remote(submission, settings, facts, local, pipeline.Answered(answer))
    status = STATUS_FOR_VERDICT[outcome.verdict]
    reasons = outcome.reasons
    if post.is_retracted and status == S.PUBLISHED:
        # Accepted before the retraction, judged after it: a retracted post takes no new comments, so a
        # moderator decides (the comment is kept, never lost, never published by the checks alone).
        status, reasons = S.HELD, [*reasons, pipeline.RETRACTED]
    old = states.move(comment, A.RECHECK, status).value
    comment.reasons = reasons
    comment.checks = outcome.checks_json
    comment.relevance_score = outcome.relevance.score if outcome.relevance else None
    comment.relevance_drivers = [list(d) for d in outcome.relevance.drivers] if outcome.relevance else []
    comment.akismet_verdict = outcome.akismet_verdict
    if comment.status != S.PUBLISHED:
        comment.needs_reply = False
    return old


_RETURNING = "returning"  # finish_batch's memo: addresses with a published reader comment


def _returning_among(session: Session, comment_ids: list[int]) -> set[str]:
    """Of the writers of these comments, those with a published reader comment (``_returning`` for a
    whole batch, in one statement). The batch's comments are still being checked, so none of them is
    among what this finds."""
    emails = select(Comment.author_email).where(Comment.id.in_(comment_ids))
    return set(
        session.scalars(
            select(Comment.author_email)
            .where(
                Comment.author_email.in_(emails),
                Comment.status == S.PUBLISHED,
                Comment.staff_user_id.is_(None),
            )
            .distinct()
        )
    )


def lock_in_order(session: Session, comment_ids: list[int]) -> list[Comment]:
    """Lock the rows of these comments, in id order, then their posts' rows, in id order, as every
    writer of several comments at once does (a check batch, a moderator's bulk decision) before any
    tally row. Two such writers sharing a comment then wait for one another rather than each holding
    what the other needs next (a deadlock: one of them answered 409 or its work thrown away), and
    neither waits for a post's row while holding tally rows (one comment's writers take a post's row,
    then tally rows: ``states``). Returns the comments, loaded afresh under the lock, in id order (their
    stored status need not be read again before their counts change: ``states.locked_afresh``)."""
    comments = list(
        session.scalars(
            select(Comment)
            .where(Comment.id.in_(comment_ids))
            .order_by(Comment.id)
            .with_for_update(of=Comment)
            .execution_options(populate_existing=True)
        )
    )
    states.locked_afresh(session, comments)
    session.execute(
        select(Post.id)
        .where(Post.id.in_(select(Comment.post_id).where(Comment.id.in_(comment_ids))))
        .order_by(Post.id)
        .with_for_update(key_share=True)  # FOR NO KEY UPDATE: a comment arriving meanwhile is not held up
    )
    return comments


class Batch(NamedTuple):
    """What ``finish_batch`` did: the comments it decided, and those whose checks raised."""

    decided: list[Comment]
    failed: list[int]


def finish_batch(
    session: Session,
    answers: dict[int, pipeline.AkismetResult | None],
    settings: pipeline.PipelineSettings,
    *,
    site: Site | None = None,
) -> Batch:
    """``finish_checks`` for each comment of ``answers`` (id -> Akismet's answer) in one transaction;
    what is the same for every comment of a post (its text, approved comments, the scorer's knowledge,
    the staff directory) is read once. Comments decided meanwhile are skipped.

    If any comment's checks raise (stored results a newer version wrote, a bug on some text), the batch
    is rolled back to its savepoint and each comment is finished again in a savepoint of its own: the one
    that raises is rolled back alone, logged and left being checked, for its own job's retries and the
    one-hour hold, and the rest of the batch is committed all the same.
    Rows are locked (and the comments loaded) first by ``lock_in_order``; the batch's comments, their
    decisions and their counts are then written by one flush (``_finish_together``)."""
    comments = lock_in_order(session, list(answers))
    try:
        with session.begin_nested():  # one savepoint for the batch: two statements, not two a comment
            return _finish_together(session, comments, answers, settings, site)
    except Exception:  # noqa: BLE001 - found out below, comment by comment
        log.warning("a batch of %s comment(s) failed; judging each alone", len(answers), exc_info=True)
    return _finish_each(session, answers, settings, site)


# What ``_judge`` may write: each is set (changed or not) in every comment of a batch.
_JUDGED = (
    "status",
    "status_changed_at",
    "needs_reply",
    "reasons",
    "checks",
    "relevance_score",
    "relevance_drivers",
    "akismet_verdict",
)


def _finish_together(
    session: Session,
    comments: list[Comment],
    answers: dict[int, pipeline.AkismetResult | None],
    settings: pipeline.PipelineSettings,
    site: Site | None,
) -> Batch:
    """``finish_checks`` for each of ``comments`` (locked and loaded afresh, in id order), written by one
    flush: their updates, their decisions (one INSERT of many rows) and their counts (one change per
    post and per tally row, ``states``), rather than a flush, a re-read and a count update a comment."""
    memo: dict[Any, Any] = {_RETURNING: _returning_among(session, list(answers))}
    judged: list[tuple[Comment, ModerationDecision]] = []
    for comment in comments:
        if comment.id not in answers or not is_checking(comment):
            continue  # decided meanwhile
        old = _judge(session, comment, answers[comment.id], settings, memo)
        for name in _JUDGED:  # the same columns in every comment's UPDATE: one executemany, not one each
            flag_modified(comment, name)
        decision = _decision(
            comment, None, A.RECHECK, old, "its remaining checks finished after it was answered"
        )
        session.add(decision)
        judged.append((comment, decision))
        if comment.status == S.PUBLISHED and comment.staff_user_id is None:
            memo[_RETURNING].add(comment.author_email)  # as ``_returning`` would now find
    session.flush()
    found = _asking(session, [c for c, _ in judged]) if site is not None else {}
    for comment, decision in judged:
        learning.learn(session, comment, decision)
        _confirm_if_asked(session, comment, site, found)
    return Batch([c for c, _ in judged], [])


def _asking(session: Session, comments: list[Comment]) -> dict[int, Subscription]:
    """The subscriptions of those of ``comments`` whose writer asked for e-mails, by comment id."""
    ids = [c.id for c in comments if c.notify and c.status != S.SPAM]
    if not ids:
        return {}
    return {
        s.comment_id: s for s in session.scalars(select(Subscription).where(Subscription.comment_id.in_(ids)))
    }


def _finish_each(
    session: Session,
    answers: dict[int, pipeline.AkismetResult | None],
    settings: pipeline.PipelineSettings,
    site: Site | None,
) -> Batch:
    """``finish_checks`` for each comment, in id order, each in a savepoint of its own: one whose checks
    raise is logged, rolled back and listed as failed (after the batch's savepoint failed)."""
    memo: dict[Any, Any] = {_RETURNING: _returning_among(session, list(answers))}
    done = Batch([], [])
    for comment_id in sorted(answers):
        try:
            with session.begin_nested():
                comment = finish_checks(
                    session, comment_id, answers[comment_id], settings, site=site, memo=memo
                )
        except Exception:  # noqa: BLE001 - one comment's failure must not hold back the others'
            log.exception("comment %s: its checks raised; left being checked", comment_id)
            done.failed.append(comment_id)
            memo = {_RETURNING: memo[_RETURNING]}  # the rest may hold what the rollback expired
            continue
        if comment is not None:
            done.decided.append(comment)
            if comment.status == S.PUBLISHED and comment.staff_user_id is None:
                memo[_RETURNING].add(comment.author_email)  # as ``_returning`` would now find
    return done


def hold_overdue(session: Session, before: datetime, settings: pipeline.PipelineSettings) -> None:
    """``hold_unchecked`` every comment still being checked that arrived before ``before``: the ones
    whose checks never finished. One whose local checks raise is held without them."""
    for comment_id in overdue_checks(session, before):
        try:
            with session.begin_nested():
                hold_unchecked(session, comment_id, settings)
        except Exception:  # noqa: BLE001 - held all the same, so a moderator sees it
            log.exception("comment %s: its local checks raised; held without them", comment_id)
            with session.begin_nested():
                hold_unchecked(session, comment_id)


def hold_unchecked(
    session: Session, comment_id: int, settings: pipeline.PipelineSettings | None = None
) -> Comment | None:
    """A comment whose checks did not finish within the hour: held for a moderator, reason ``unchecked``.
    With ``settings``, the local checks the quick path left to the job (impersonation, links, privacy)
    run now, so the moderator sees what they found (a phone number) beside ``unchecked``."""
    comment = session.get(Comment, comment_id, with_for_update={"of": Comment}, populate_existing=True)
    if comment is None or not is_checking(comment):
        return None
    found: list[str] = []
    local = pipeline.results_from_json(comment.checks) if settings is not None else []
    if settings is not None and tuple(r.check for r in local) == pipeline.ARRIVAL_NAMES:
        names, emails = staff_directory(session)
        with_staff = dataclasses.replace(settings, staff_names=names, staff_emails=emails)
        local = pipeline.complete_local(_submission_of(session, comment), with_staff, pipeline.Facts(), local)
        comment.checks = [r.as_dict() for r in local]
        found = [reason for r in local for reason in r.reasons]
    old = states.move(comment, A.RECHECK, S.HELD).value
    kept = [r for r in comment.reasons if r != pipeline.CHECKING]
    comment.reasons = kept + [r for r in dict.fromkeys(found) if r not in kept] + [pipeline.UNCHECKED]
    comment.akismet_verdict = ""
    session.flush()
    record_decision(session, comment, None, A.RECHECK, old, reason="its checks did not finish within an hour")
    return comment


def overdue_checks(session: Session, before: datetime, limit: int = 500) -> list[int]:
    """Comments still being checked that arrived before ``before``, oldest first."""
    return list(
        session.scalars(
            select(Comment.id)
            .where(Comment.status == S.HELD, Comment.akismet_verdict == CHECKING, Comment.created_at < before)
            .order_by(Comment.created_at)
            .limit(limit)
        )
    )


def _confirm_if_asked(
    session: Session, comment: Comment, site: Site | None, found: dict[int, Subscription] | None = None
) -> None:
    """Ask for the confirmation of the comment's subscription, if any and unconfirmed. ``found``: the
    subscriptions of a batch's comments, read at once (``_asking``)."""
    if site is None or not comment.notify or comment.status == S.SPAM:
        return
    if found is not None:
        subscription = found.get(comment.id)
    else:
        subscription = session.scalar(select(Subscription).where(Subscription.comment_id == comment.id))
    post = session.get(Post, comment.post_id)
    if subscription is not None and subscription.confirmed_at is None and post and post.published_revision:
        notifications.confirmation_requested(session, site, subscription, post.published_revision.title)


def staff_comment(
    session: Session,
    post: Post,
    actor: User,
    data: CommentInput,
    *,
    site: Site | None = None,
    close_after_days: int = 0,
) -> Comment:
    """A staff member's comment: always under their real name, badged, published without the pipeline,
    and logged like every other. A reply answers the reader's question and tells them, if they asked."""
    require(actor, "comments.staff_comment")
    data = clean(data, staff=True)
    parent = _commentable(session, post, data.parent_id, close_after_days)
    twin = _same_staff_comment(session, post.id, actor, data)
    if twin is not None:
        return twin  # a double click on "Post reply": the reply is published already, once
    now = utc_now()
    comment = Comment(
        post_id=post.id,
        parent_id=parent.id if parent else None,
        thread_id=(parent.thread_id or parent.id) if parent else None,
        author_name=actor.name,
        author_email=actor.email.lower(),
        author_ip=data.ip[:64],
        user_agent=data.user_agent[:500],
        referrer="",
        permalink=data.permalink[:2000],
        body=data.body,
        html=_render(data.body),
        status=S.PUBLISHED.value,
        reasons=[],
        checks=[
            {
                "check": "staff",
                "verdict": "publish",
                "reasons": [],
                "detail": f"written by signed-in staff member {actor.name}; the pipeline is skipped",
            }
        ],
        staff_user_id=actor.id,
        created_at=now,
        status_changed_at=now,
    )
    session.add(comment)
    session.flush()
    record_decision(session, comment, actor, A.STAFF, "")
    if parent is not None:
        parent.needs_reply = False
        if site is not None and not parent.is_staff:
            revision = post.published_revision
            assert revision is not None
            notifications.staff_replied(session, site, parent, comment, actor, post.slug, revision.title)
    session.flush()
    return comment


def subscription_for(session: Session, subscription_id: int, email: str) -> Subscription:
    subscription = session.get(Subscription, subscription_id)
    if subscription is None or subscription.email != email:
        raise NotFound("This confirmation link does not match a subscription.")
    return subscription


def confirm_subscription(session: Session, subscription_id: int, email: str) -> Subscription:
    """The owner of ``email`` confirmed (double opt-in); idempotent. An ended subscription stays ended."""
    subscription = session.get(Subscription, subscription_id, with_for_update=True)
    if subscription is None or subscription.email != email:
        raise NotFound("This confirmation link does not match a subscription.")
    if subscription.confirmed_at is None and subscription.unsubscribed_at is None:
        subscription.confirmed_at = utc_now()
        session.flush()
    return subscription


def unsubscribe(session: Session, subscription_id: int, email: str) -> int:
    """Stop every "staff replied" e-mail to ``email``; returns how many subscriptions that ended."""
    subscription = session.get(Subscription, subscription_id)
    if subscription is None or subscription.email != email:
        raise NotFound("This unsubscribe link does not match a subscription.")
    now = utc_now()
    ended = 0
    for row in session.scalars(
        select(Subscription).where(Subscription.email == email, Subscription.unsubscribed_at.is_(None))
    ):
        row.unsubscribed_at = now
        ended += 1
    session.flush()
    return ended


@dataclass(frozen=True)
class ImportedComment:
    """One comment brought in from another blog, as ``import_comments`` stores it.

    ``parent``: a stored comment, or the index of an earlier comment of the same call (None: a top-level
    comment). ``reasons`` already carry the privacy scan's findings (the caller ran it).
    """

    author_name: str
    author_email: str
    author_url: str
    author_ip: str
    body: str
    created_at: datetime
    status: CommentStatus
    reasons: list[str]
    note: str
    parent: Comment | int | None = None


def _reserve_ids(session: Session, n: int) -> list[int] | None:
    """``n`` comment ids drawn from PostgreSQL's sequence, ascending (None on SQLite, which has none): a reply
    then knows its parent's id before either is written, and a whole thread goes in one INSERT."""
    if n == 0 or session.get_bind().dialect.name != "postgresql":
        return None
    sequence = func.pg_get_serial_sequence(Comment.__tablename__, "id")
    return sorted(session.scalars(select(func.nextval(sequence)).select_from(func.generate_series(1, n))))


def import_comments(session: Session, post: Post, imported: list[ImportedComment]) -> list[Comment]:
    """Store comments brought in from another blog (the WordPress import) with the status each had there.

    No spam check runs and Akismet is never asked: each comment was decided on where it was written. The
    caller has run the privacy scan and passes a held status with its ``privacy:`` reasons when it found
    an identifier. Each arrival is logged as the system's ``submit`` decision, with ``note`` saying where it
    came from; the author's URL is kept in its ``checks`` (comments have no URL column).

    Written in as few flushes as the threading allows (a reply needs its parent's id, so a flush comes
    before a reply to a comment of the same call that is not stored yet), in the order given, so that the
    ids follow it exactly as one flush per comment would: a post's comments cost a few statements, not a
    few per comment. Returns the comments in the order given.
    """
    made: list[Comment] = []
    pending: set[int] = set()  # indexes added since the last flush
    ids = _reserve_ids(session, len(imported))
    for i, one in enumerate(imported):
        parent: Comment | None
        if isinstance(one.parent, int):
            if not 0 <= one.parent < i:
                raise ValueError(f"comment {i}: its parent must come before it")
            if one.parent in pending and ids is None:
                session.flush()
                pending.clear()
            parent = made[one.parent]
        else:
            parent = one.parent
        comment = Comment(
            **({"id": ids[i]} if ids is not None else {}),
            post_id=post.id,
            parent_id=parent.id if parent else None,
            thread_id=(parent.thread_id or parent.id) if parent else None,
            author_name=one.author_name[:MAX_NAME_CHARS] or "Anonymous",
            author_email=one.author_email[:320],
            author_ip=one.author_ip[:64],
            body=one.body,
            html=render_comment(one.body, max_chars=None),
            status=one.status.value,
            reasons=one.reasons,
            checks=[
                {"check": "import", "verdict": one.status.value, "reason": one.note, "detail": one.author_url}
            ],
            akismet_verdict="",
            needs_reply=False,
            created_at=one.created_at,
            status_changed_at=one.created_at,
        )
        session.add(comment)
        made.append(comment)
        pending.add(i)
    session.flush()
    decisions = [
        _decision(comment, None, A.SUBMIT, "", one.note) for comment, one in zip(made, imported, strict=True)
    ]
    session.add_all(decisions)
    session.flush()
    for comment, decision in zip(made, decisions, strict=True):
        learning.learn(session, comment, decision)
    return made
