"""Reader side of comments: the thread and form on post pages, posting, the writer's status page, replies,
unsubscribing (the public JSON calls are app/comments/api/views.py). Parse, call one service, return: the
request edge commits, then sends what the service queued (app/web/jobs.py).

Post pages are cached whole for anonymous readers (app/web/pagecache.py), so the comment form in them
carries nothing per request: no CSRF token (an anonymous form has no session to ride, so it is exempt;
a signed-in staff member's page is never cached and its form is CSRF-checked here) and no timestamp.
The time-to-submit token comes from ``GET /api/v1/comment-form-token``, fetched by static/comments.js;
without it (no script, an API client) the time is "unknown", which is no evidence of spam.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from datetime import timedelta
from typing import Any

from flask import Blueprint, abort, current_app, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from werkzeug.exceptions import HTTPException

from app.accounts.permissions import can
from app.clock import utc_now
from app.comments import closing, queries, services, tokens
from app.comments.models import Comment, CommentStatus
from app.db import on_commit
from app.errors import Busy, CandorError, CommentsClosed, InvalidInput, InvalidTransition, NotFound
from app.posts import services as posts
from app.posts.models import Post
from app.posts.views import public_key
from app.spam import pipeline
from app.text import whole_number
from app.web import paging
from app.web.auth import current_user
from app.web.database import db
from app.web.errors import (
    FAILURE_RETRY_SECONDS,
    SHARED_READER_LIMIT,
    answer_failures_with,
    failure_reading,
    http_error_response,
    wait_words,
)
from app.web.extensions import client_ip, csrf, retry_message
from app.web.outside import budgeted_akismet, burst_counter, site
from app.web.pagecache import cached_page, reads_query
from app.web.reader_forms import (
    REFUSED_UNCOUNTED,
    form_age,
    form_token,
    reader_limit,
)
from app.web.runtime import effective
from app.web.tasks import tasks
from app.web.urls import public_url

bp = Blueprint("comments", __name__)


# --- helpers ------------------------------------------------------------------------------------------


def pipeline_settings() -> pipeline.PipelineSettings:
    return pipeline.PipelineSettings.from_config(effective())


def status_token(comment: Comment | services.Arrival) -> str:
    return tokens.sign(current_app.config["SECRET_KEY"], tokens.Purpose.COMMENT_STATUS, c=comment.id)


def _comment_for_status(token: str) -> Comment:
    try:
        data = tokens.verify(current_app.config["SECRET_KEY"], tokens.Purpose.COMMENT_STATUS, token)
    except tokens.TokenExpired:
        raise NotFound("This link has expired. Links to a comment's status last 30 days.") from None
    except tokens.TokenInvalid:
        raise NotFound("This link is not valid. Check that it was copied whole.") from None
    comment = db().get(Comment, data.get("c")) if isinstance(data.get("c"), int) else None
    if comment is None:
        raise NotFound("There is no such comment.")
    return comment


def finish_later(comment: Comment | services.Arrival) -> None:
    """A comment answered before its checks finished: the job finishes them once it is committed."""
    if services.is_checking(comment):
        backlog().accepted()
        comment_id = comment.id
        on_commit(db(), lambda: tasks().check_comment(comment_id))


def quick() -> bool:
    """CANDOR_COMMENT_CHECK_BUDGET_MS is 0: a reader's comment is stored and answered at once (202
    checking), every check left to the job; otherwise the checks run in the request, Akismet within the
    budget, and only what did not finish goes to the job."""
    return int(current_app.config["COMMENT_CHECK_BUDGET_MS"]) <= 0


BACKLOG_WINDOW = timedelta(minutes=1)  # comments still being checked that arrived within it count
BACKLOG_FRESH = 0.25  # seconds a process trusts its last count (plus what it accepted since)
BACKLOG_RETRY = 5  # seconds a writer is asked to wait (Retry-After; a busy refusal is not counted by the
# rate limit, so its headers are not added)
BUSY = (
    "Many comments are waiting for their checks just now, so this one was not sent. "
    "Please send it again in a few seconds."
)


class Backlog:
    """Reader comments still being checked (``services.waiting_checks``), as this process last counted
    them: read again at most every BACKLOG_FRESH seconds, so a flood's POSTs add no statement each, and
    counted up by what this process accepts meanwhile. Verdicts landing elsewhere only lower the true
    count, so between reads a process refuses a little early, never late (but for other processes'
    comments within BACKLOG_FRESH)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._read_at = float("-inf")
        self._count = 0

    def count(self, session: Session | None = None) -> int:
        """The count, read again (in ``session``, else the request's) when older than BACKLOG_FRESH."""
        now = time.monotonic()
        known = self.recent(now)
        if known is not None:
            return known
        count = services.waiting_checks(session or db(), utc_now() - BACKLOG_WINDOW)
        with self._lock:
            self._read_at, self._count = now, count
        return count

    def recent(self, now: float | None = None) -> int | None:
        """The count if this process read it within BACKLOG_FRESH (plus what it accepted since), else None."""
        now = time.monotonic() if now is None else now
        with self._lock:
            return self._count if now - self._read_at < BACKLOG_FRESH else None

    def accepted(self) -> None:
        with self._lock:
            self._count += 1


@bp.record_once
def _count_backlog(state: Any) -> None:
    state.app.extensions["candor.comment_backlog"] = Backlog()


def backlog() -> Backlog:
    """This process's count of reader comments still being checked (one per app)."""
    backlog: Backlog = current_app.extensions["candor.comment_backlog"]
    return backlog


def _backlog_full() -> bool:
    limit = int(current_app.config.get("COMMENT_BACKLOG") or 0)
    return limit > 0 and backlog().count() >= limit


_COMMENT_POSTS = ("comments.post_comment", "api.api_post_comment")


def refused_as_busy() -> bool:
    """Asked by the readers' rate limit before it counts a post (app.web.reader_forms): a comment that
    will be refused busy is not counted. The answer is kept for admit_reader_comment, so the post is
    refused exactly when it went uncounted."""
    if request.endpoint not in _COMMENT_POSTS:
        return False
    if "comment_busy" not in g:  # asked once per limit ("10 per minute; 100 per day"): one answer for all
        try:
            g.comment_busy = _backlog_full()
        except SQLAlchemyError:
            # The database failed (locked, not answering) inside the rate limiter, which swallows errors
            # (a Redis outage must not refuse readers): roll back so the request is not left in an
            # aborted transaction, and count the post. The view's own statements then meet the failure,
            # answered as any database failure is (the form again, 409/503), never a 500. Asked once:
            # the other limits do not wait for the database again.
            session = g.get("db")  # not db(): on SQLite that takes the write lock again (and waits)
            if session is not None:
                session.rollback()
            g.comment_busy = False
    return bool(g.comment_busy)


@bp.record_once
def _busy_is_not_counted(state: Any) -> None:
    state.app.extensions[REFUSED_UNCOUNTED] = refused_as_busy


def admit_reader_comment() -> None:
    """Refuse (Busy, 503: nothing stored) a reader's comment while CANDOR_COMMENT_BACKLOG comments of the
    last minute are still being checked: a flood then cannot queue more than the checks judge in time,
    so every comment accepted gets its verdict within seconds, and the database work a flood makes (on
    the readers' machines too) stays bounded. Staff comments are never refused. The rate limit has
    already asked (``refused_as_busy``) and counted the post only if it was not to be refused: that
    answer stands."""
    busy = g.pop("comment_busy", None)
    if busy is None:  # not asked (a route without the readers' limit)
        busy = _backlog_full()
    if busy:
        raise Busy(BUSY, retry_after=BACKLOG_RETRY)


def close_after_days() -> int:
    """CANDOR_COMMENTS_CLOSE_AFTER_DAYS: 0 (unset) leaves comments open however old the post."""
    return int(current_app.config.get("COMMENTS_CLOSE_AFTER_DAYS") or 0)


def is_staff_writer() -> bool:
    return can(current_user(), "comments.staff_comment")


bp.add_app_template_filter(pipeline.reason_label, "reason_label")


@bp.app_context_processor
def _comment_helpers() -> dict[str, Any]:
    """``comment_thread(post)`` for templates/comments/_thread.html, included by the post page: its first
    page of threads (oldest or newest first, ``CANDOR_COMMENTS_NEWEST_FIRST``)."""
    return {
        "comment_thread": lambda post: queries.thread(db(), post, newest_first=_newest_first()),
        "comments_closed": lambda post: closing.closed_reason(db(), post, close_after_days()),
        "reason_label": pipeline.reason_label,
    }


# --- posting ------------------------------------------------------------------------------------------


def _comment_input(form: Any, post: Post) -> services.CommentInput:
    raw_parent = (form.get("parent_id") or "").strip()
    if raw_parent and whole_number(raw_parent, upper=2**31 - 1) is None:
        raise InvalidInput("parent_id must be a comment number.", field="parent_id")
    return services.CommentInput(
        author_name=form.get("author_name", ""),
        author_email=form.get("author_email", ""),
        body=form.get("body", ""),
        parent_id=int(raw_parent) if raw_parent else None,
        notify=form.get("notify") in ("1", "on", "yes", "true"),
        ip=client_ip(),
        user_agent=request.headers.get("User-Agent", ""),
        referrer=request.headers.get("Referer", ""),
        permalink=public_url("posts.show", slug=post.slug),
        honeypot=form.get("website", ""),
        form_age=form_age(form.get("form_token")),
    )


def _replaced(token: str | None) -> Comment | None:
    if not token:
        return None
    try:
        return _comment_for_status(token)
    except NotFound:
        return None


@bp.post("/posts/<slug>/comments")
@answer_failures_with(lambda status, message: _form_again(status, message))
@csrf.exempt
@reader_limit
def post_comment(slug: str) -> ResponseReturnValue:
    post = posts.get_public_post(db(), slug)
    staff = is_staff_writer()
    if staff:
        csrf.protect()  # a signed-in page is never cached, so its form carries a token; check it
    data = _comment_input(request.form, post)
    errors = services.field_errors(data, staff=staff)
    if errors:
        return render_template(
            "comments/form_page.html",
            post=post,
            errors=errors,
            values=request.form,
            parent=_parent_or_none(post, data.parent_id),
            token=form_token(),
        ), 422
    if not staff:
        try:
            admit_reader_comment()
        except Busy as busy:
            page = render_template(
                "comments/form_page.html",
                post=post,
                errors={},
                refused=Refused(NOT_SENT["busy"], wait_words(busy.retry_after)),
                values=request.form,
                parent=_parent_or_none(post, data.parent_id),
                token=form_token(),
            )
            return page, busy.status, busy.headers
    try:
        return _send_comment(post, data, staff)
    except (CommentsClosed, InvalidTransition) as exc:
        # The post takes no comments now (closed, retracted): no lost race, so not the busy page of
        # answer_failures_with with its "send it again in 5 seconds", but why, and the text kept.
        page = render_template(
            "comments/form_page.html",
            post=post,
            errors={},
            refused=Refused(exc.message),
            values=request.form,
            parent=_parent_or_none(post, data.parent_id),
            token=form_token(),
        )
        return page, exc.status


def _send_comment(post: Post, data: services.CommentInput, staff: bool) -> ResponseReturnValue:
    """``post_comment``'s sending, once the form is valid and the reader admitted: 303 to the comment."""
    if quick() and not staff:
        replaces = _replaced(request.form.get("replaces"))
        # Without a comment to replace (whose row is locked first), the post's row and the duplicate lock
        # are taken in one statement, and on PostgreSQL the comment is then written in one more.
        cleaned = services.clean(data) if replaces is None else None
        comment = services.accept_comment(
            db(),
            services.comment_target(db(), post.id, close_after_days(), twin_of=cleaned),
            cleaned or data,
            settings=pipeline_settings(),
            replaces=replaces,
            burst_counter=burst_counter(),
            cleaned=cleaned is not None,
        )
        finish_later(comment)
        if comment.status == CommentStatus.PUBLISHED:  # a second click on a comment already judged
            return redirect(url_for("posts.show", slug=post.slug, _anchor=f"comment-{comment.id}"), 303)
        return redirect(url_for("comments.status", token=status_token(comment)), 303)
    comment = services.submit_comment(
        db(),
        post,
        data,
        actor=current_user() if staff else None,
        checker=budgeted_akismet(),
        settings=pipeline_settings(),
        site=site(),
        burst_counter=burst_counter(),
        replaces=_replaced(request.form.get("replaces")),
        close_after_days=close_after_days(),
    )
    finish_later(comment)
    if comment.status == CommentStatus.PUBLISHED:
        return redirect(url_for("posts.show", slug=post.slug, _anchor=f"comment-{comment.id}"), 303)
    return redirect(url_for("comments.status", token=status_token(comment)), 303)


@bp.errorhandler(429)
def _too_many(exc: HTTPException) -> ResponseReturnValue:
    """Over the readers' rate limit: the comment form answers with the form again, what the reader wrote
    in it and when to try again (the plain 429 page lost their text); every other answer is the plain one."""
    if request.endpoint != "comments.post_comment":
        return http_error_response(exc)
    try:
        post = posts.get_public_post(db(), (request.view_args or {}).get("slug", ""))
    except CandorError:  # no such post (or moved): nothing to show the form on
        return http_error_response(exc)
    raw_parent = (request.form.get("parent_id") or "").strip()
    parent = _parent_or_none(post, whole_number(raw_parent, upper=2**31 - 1))
    return render_template(
        "comments/form_page.html",
        post=post,
        errors={},
        refused=Refused(f"{retry_message()} {SHARED_READER_LIMIT}"),
        values=request.form,
        parent=parent,
        token=form_token(),
    ), 429


@dataclasses.dataclass(frozen=True)
class Refused:
    """Why a comment that was not wrong was not sent (the blog was busy or its database failed, or the
    reader's rate limit), shown above the form as one notice for the page, not as an error of a field:
    nothing the reader wrote needs changing. ``wait``: when to send it again, in words, if the reason does
    not say it already."""

    reason: str
    wait: str | None = None


NOT_SENT = {
    "busy": "Many comments are waiting for their checks just now.",
    409: "The blog was busy saving something else at that very moment.",
    503: "The blog cannot save comments just now: its database is not answering.",
}


def _form_again(status: int, message: str) -> ResponseReturnValue:
    """The comment form again, with what the reader wrote and why it was not sent: the answer to a 409 or
    503 (app.web.errors.answer_failures_with), which lost the text when it was the plain error page.

    The request's session was rolled back; the post and the comment replied to are read again in a session
    of their own (``failure_reading``), so that a reply shows what it answers, as the reply form does. If
    that read fails too (a database that is down, a table locked whole), the form comes back from the
    request alone: the post's address rather than its title, the reply's parent by number.
    """
    seconds = FAILURE_RETRY_SECONDS.get(status, FAILURE_RETRY_SECONDS[409])
    refused = Refused(NOT_SENT.get(status, message), wait_words(seconds))
    slug = (request.view_args or {}).get("slug", "")
    raw_parent = (request.form.get("parent_id") or "").strip()
    parent_id = whole_number(raw_parent, upper=2**31 - 1) if raw_parent else None
    headers = {"Retry-After": str(seconds)}
    form = {"errors": {}, "refused": refused, "values": request.form, "token": form_token()}
    try:
        with failure_reading() as session:
            post = posts.get_public_post(session, slug)
            parent = _parent_or_none(post, parent_id, session=session)
            return render_template("comments/form_page.html", post=post, parent=parent, **form), headers
    except (SQLAlchemyError, CandorError):  # not even a read: the form from the request alone
        pass
    return render_template("comments/form_page.html", post=None, slug=slug, parent=None, **form), headers


def _parent_or_none(post: Post, parent_id: int | None, session: Session | None = None) -> Comment | None:
    if parent_id is None:
        return None
    parent = (session or db()).get(Comment, parent_id)
    return (
        parent if parent is not None and parent.post_id == post.id and parent.status == "published" else None
    )


def _newest_first() -> bool:
    return bool(current_app.config.get("COMMENTS_NEWEST_FIRST"))


@bp.get("/posts/<slug>/comments")
@reads_query("after", "before", "thread")
def more(slug: str) -> ResponseReturnValue:
    """Further comments, without JavaScript: the next threads (``?after=``), or the further replies of one
    thread (``?thread=<id>&after=``). Cached like the post page, under the post's own key.

    Going back (``?before=``) to the first threads, or to a thread's first replies, leads to the post
    page, where they live (at its comments, or at the thread), rather than to a page of their own: the
    same rows at a second address, with a pager the post page does not have."""
    key = public_key(slug)
    after, before = paging.cursors()
    raw_thread = request.args.get("thread")
    thread_id = whole_number(raw_thread, upper=2**31 - 1) if raw_thread is not None else None
    if raw_thread is not None and thread_id is None:
        raise InvalidInput("thread must be a comment's number.", field="thread")

    def render() -> str:
        post = posts.get_public_post(db(), slug)
        if thread_id is None:
            page = queries.thread(db(), post, after=after, before=before, newest_first=_newest_first())
            if before and page.previous_cursor is None:
                abort(redirect(url_for("posts.show", slug=post.slug, _anchor="comments"), 303))
            return render_template("comments/more.html", post=post, page=page, root=None, after=after)
        root = db().get(Comment, thread_id)
        if (
            root is None
            or root.post_id != post.id
            or root.parent_id is not None
            or root.status != CommentStatus.PUBLISHED
        ):
            raise NotFound("There is no such thread on this post.")
        listed = queries.thread_replies(db(), post, root, after=after, before=before)
        nodes, next_cursor = listed
        if before and listed.previous is None and _on_post_page(post, root):
            abort(redirect(url_for("posts.show", slug=post.slug, _anchor=f"comment-{root.id}"), 303))
        return render_template(
            "comments/more.html",
            post=post,
            root=root,
            nodes=nodes,
            next_cursor=next_cursor,
            previous_cursor=listed.previous,
            after=after,
            # The thread is part of the page's address: without it the cursor is another list's (a 400).
            # Reached back by ``before``: none (app/web/paging.py).
            canonical_override=None if before else paging.first_page(thread=root.id, **_cursor(after)),
        )

    return cached_page(("comments", key), render)


def _cursor(after: str | None) -> dict[str, str]:
    return {"after": after} if after else {}


def _on_post_page(post: Post, root: Comment) -> bool:
    """Whether the thread ``root`` is among the post page's own threads (so its first replies are there).
    Asked only when a reader goes back to a thread's first replies: a thread on a later page of threads
    keeps its first replies on a page of their own."""
    first = queries.thread(db(), post, newest_first=_newest_first())
    return any(node.comment.id == root.id for node in first.roots)


@bp.get("/posts/<slug>/comments/<int:comment_id>/reply")
def reply_form(slug: str, comment_id: int) -> ResponseReturnValue:
    """A page to reply to one comment; works without JavaScript (not cached, so its token is baked in)."""
    post = posts.get_public_post(db(), slug)
    parent = _parent_or_none(post, comment_id)
    if parent is None:
        raise NotFound("There is no published comment to reply to here.")
    return render_template(
        "comments/form_page.html", post=post, errors={}, values={}, parent=parent, token=form_token()
    )


@bp.get("/comments/status/<token>")
def status(token: str) -> ResponseReturnValue:
    """What became of a comment, for its writer: published, or awaiting review and why (if theirs to fix)."""
    comment = _comment_for_status(token)
    post = posts.get_post(db(), comment.post_id)
    decisions = queries.decisions_for(db(), comment.id)
    told = next(
        (
            d.reason
            for d in reversed(decisions)
            if d.moderator_id is not None and d.reason and d.action != "spam"
        ),
        "",
    )
    page = render_template(
        "comments/status.html",
        checking=services.is_checking(comment),
        comment=comment,
        post=post,
        token=token,
        fixable=pipeline.explain_for_writer(comment.reasons),
        told=told,
        replacement=services.replacement_of(db(), decisions) if comment.status == "deleted" else None,
        status_token=status_token,
        form_token=form_token(),
    )
    # Never kept by the browser: the back button must show what became of the comment now, not what the
    # page said when it was first shown (and its form's time token is for this showing only).
    return page, 200, {"Cache-Control": "no-store"}


# --- unsubscribing ------------------------------------------------------------------------------------


def _subscription_token(token: str) -> dict[str, Any]:
    try:
        data = tokens.verify(current_app.config["SECRET_KEY"], tokens.Purpose.UNSUBSCRIBE, token)
    except tokens.TokenExpired:
        raise NotFound(
            "This unsubscribe link has expired. Reply to any of our e-mails and we will stop them."
        ) from None
    except tokens.TokenInvalid:
        raise NotFound("This is not a valid unsubscribe link. Check that it was copied whole.") from None
    if not isinstance(data.get("s"), int) or not isinstance(data.get("e"), str):
        raise NotFound("This is not a valid unsubscribe link.")
    return data


@bp.get("/unsubscribe/<token>")
def unsubscribe(token: str) -> ResponseReturnValue:
    """Asks before acting: mail scanners open links, and a GET must not unsubscribe anyone."""
    data = _subscription_token(token)
    return render_template("comments/unsubscribe.html", email=data["e"], token=token, done=None)


@bp.post("/unsubscribe/<token>")
@csrf.exempt  # the signed token is the authority; RFC 8058 one-click POSTs from mail clients carry no form
def unsubscribe_confirm(token: str) -> ResponseReturnValue:
    data = _subscription_token(token)
    ended = services.unsubscribe(db(), data["s"], data["e"])
    return render_template("comments/unsubscribe.html", email=data["e"], token=token, done=ended)


# --- confirming (double opt-in) -----------------------------------------------------------------------


def _confirmation_token(token: str) -> dict[str, Any]:
    try:
        data = tokens.verify(current_app.config["SECRET_KEY"], tokens.Purpose.CONFIRM_SUBSCRIPTION, token)
    except tokens.TokenExpired:
        raise NotFound(
            "This confirmation link has expired (they last 7 days). Tick the box again on your next "
            "comment to get a new one."
        ) from None
    except tokens.TokenInvalid:
        raise NotFound("This is not a valid confirmation link. Check that it was copied whole.") from None
    if not isinstance(data.get("s"), int) or not isinstance(data.get("e"), str):
        raise NotFound("This is not a valid confirmation link.")
    return data


@bp.get("/subscriptions/confirm/<token>")
def confirm_subscription(token: str) -> ResponseReturnValue:
    """Asks before acting, like unsubscribing: a mail scanner opening the link must not confirm it."""
    data = _confirmation_token(token)
    subscription = services.subscription_for(db(), data["s"], data["e"])
    return render_template(
        "comments/confirm_subscription.html", email=data["e"], token=token, subscription=subscription
    )


@bp.post("/subscriptions/confirm/<token>")
@csrf.exempt  # the signed token is the authority; the page that posts it is not signed in
def confirm_subscription_post(token: str) -> ResponseReturnValue:
    data = _confirmation_token(token)
    services.confirm_subscription(db(), data["s"], data["e"])
    return redirect(url_for("comments.confirm_subscription", token=token), 303)
