"""The moderators' desk: the comment queue by status and reason, one comment in context, bulk decisions,
the needs-reply queue (comments and contact messages), the moderation log, and the moderation JSON API.
The contact messages' own pages are app.contact's; the desk's guard and layout words are app/web/desk.py.

Every page works without JavaScript; static/moderation.js only adds keyboard shortcuts. Every form
carries its CSRF token (checked by CSRFProtect before a view runs); each POST calls one service and
redirects back. The request edge commits, then sends what the service queued (e-mail, Akismet
corrections; app/web/jobs.py).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from app.accounts.permissions import require
from app.comments import learning
from app.comments import queries as comment_queries
from app.comments import services as comment_services
from app.comments.models import MODERATOR_ACTIONS, Comment, CommentStatus
from app.comments.views import close_after_days
from app.errors import CommentsClosed, Conflict, InvalidInput, InvalidTransition
from app.moderation import queries, services
from app.spam import pipeline
from app.text import whole_number
from app.web import api, desk, paging
from app.web.api import (
    BOOL,
    DATETIME,
    ID,
    PAGE_QUERY,
    TEXT,
    answer,
    json_body,
    listing,
    listing_of,
    nullable,
    obj,
    page_args,
)
from app.web.auth import current_user
from app.web.database import db
from app.web.errors import FAILURE_RETRY_SECONDS, answer_failures_with, wait_words
from app.web.outside import akismet_enabled, site
from app.web.urls import public_url

bp = Blueprint("moderation", __name__, url_prefix="/staff")
API = api.Routes()  # this module's JSON routes, added to /api/v1 by create_app
bp.before_request(desk.moderators_only)

PER_PAGE = 25
ACTION_LABELS = {
    "approve": "Approve",
    "spam": "Spam",
    "off_topic": "Off-topic",
    "delete": "Delete",
    "ham": "Not spam",
}
ACTION_KEYS = {"approve": "a", "spam": "s", "off_topic": "o"}
STATUS_TABS = (
    ("held", "Held"),
    ("published", "Published"),
    ("spam", "Spam"),
    ("deleted", "Deleted"),
    ("", "All"),
)
DECISION_LABELS = {
    "approve": "Approved",
    "spam": "Marked spam",
    "off_topic": "Removed as off-topic",
    "delete": "Deleted",
    "ham": "Marked not spam",
    "submit": "Arrived",
    "staff": "Posted by staff",
    "recheck": "Rechecked with Akismet",
    "withdraw": "Replaced by its writer",
    "no_reply_needed": "No reply needed",
}


@bp.context_processor
def _vocabulary() -> dict[str, Any]:
    return {
        "action_labels": ACTION_LABELS,
        "action_keys": ACTION_KEYS,
        "decision_labels": DECISION_LABELS,
        "reason_label": pipeline.reason_label,
        "flagged": pipeline.FLAGGED,
        "can_transition": services.can_moderate,
        "moderator_actions": MODERATOR_ACTIONS,
        **desk.vocabulary(),
    }


def _filters() -> tuple[str, str, str]:
    status = request.args.get("status", "held")
    if status not in {s for s, _ in STATUS_TABS}:
        raise InvalidInput(
            "status must be held, published, spam or deleted (or empty for all).", field="status"
        )
    reason = request.args.get("reason", "")
    if reason and reason not in pipeline.ALL_REASONS and reason not in ("privacy:", pipeline.FLAGGED):
        raise InvalidInput("reason is not one the pipeline gives.", field="reason")
    return status, reason, request.args.get("q", "")[:200]


# --- the queue ----------------------------------------------------------------------------------------


@bp.get("/comments/")
def queue() -> ResponseReturnValue:
    actor = require(current_user(), "comments.moderate")
    status, reason, search = _filters()
    after, before = paging.cursors()
    listed = queries.moderation_queue(
        db(),
        actor,
        status=status or None,
        reason=reason or None,
        search=search,
        after=after,
        before=before,
        per_page=PER_PAGE,
    )
    comments = listed.rows
    post_map = queries.posts_by_id(db(), {c.post_id for c in comments})
    found = queries.comments_by_id(db(), {c.parent_id for c in comments if c.parent_id})
    parents = {c.id: found.get(c.parent_id) for c in comments if c.parent_id}
    return render_template(
        "moderation/queue.html",
        comments=comments,
        posts=post_map,
        parents=parents,
        status=status,
        reason=reason,
        search=search,
        **paging.pager(listed, after, before),
        tabs=STATUS_TABS,
        counts=queries.status_counts(db()),
        reason_counts=queries.held_reason_counts(db()),
        waiting=queries.waiting_total(db(), close_after_days()),
    )


@bp.get("/comments/<int:comment_id>")
def comment(comment_id: int) -> ResponseReturnValue:
    require(current_user(), "comments.moderate")
    item = comment_queries.get_comment(db(), comment_id)
    post = queries.posts_by_id(db(), {item.post_id})[item.post_id]
    return render_template(
        "moderation/comment.html",
        comment=item,
        post=post,
        ancestors=queries.ancestors(db(), item),
        replies=queries.replies_to(db(), item),
        decisions=comment_queries.decisions_for(db(), item.id),
    )


# Decisions that cannot simply be taken back (spam is reported to Akismet; a deletion is told to the
# writer) are confirmed on a page first: see app/web/desk.py.
CONFIRM = {
    "spam": [
        "The comment disappears from the post.",
        "Akismet is told it was spam, which trains its filter for every site that uses it.",
        "The writer is not told.",
    ],
    "delete": [
        "The comment disappears from the post; replies to it stay, under “comment removed”.",
        "The writer is told it was deleted, with your reason if you give one.",
    ],
}


def _seen(raw: str | None) -> str | None:
    """The status the moderator saw when they chose (the action forms carry it); None when not sent."""
    if not raw:
        return None
    if raw not in {s.value for s in CommentStatus}:
        raise InvalidInput("seen must be a comment status.", field="seen")
    return raw


def _next_target(default: str) -> str:
    return desk.desk_path(request.values.get("next", ""), default)


@bp.get("/comments/<int:comment_id>/confirm")
def confirm(comment_id: int) -> ResponseReturnValue:
    require(current_user(), "comments.moderate")
    item = comment_queries.get_comment(db(), comment_id)
    action = request.args.get("action", "")
    if action not in CONFIRM:
        raise InvalidInput("Only spam and delete are confirmed on a page.", field="action")
    back = _next_target(url_for(".comment", comment_id=item.id))
    reason = request.args.get("reason", "")[:2000]
    seen = _seen(request.args.get("seen"))
    possible = services.can_moderate(item, action) and seen in (None, item.status)
    return desk.confirm_page(
        title=f"{ACTION_LABELS[action]}: comment {item.id} by {item.author_name}?",
        consequences=[f"“{item.body[:200]}{'…' if len(item.body) > 200 else ''}”", *CONFIRM[action]],
        action=url_for(".moderate", comment_id=item.id),
        hidden=[("action", action), ("reason", reason), ("next", back), *([("seen", seen)] if seen else [])],
        button=f"{ACTION_LABELS[action]}: comment {item.id}",
        back_url=back,
        danger=True,
        notice=""
        if possible
        else f"Comment {item.id} is {item.status} now: it was decided on since your page was loaded."
        if seen not in (None, item.status)
        else f"Comment {item.id} is {item.status}: it cannot be marked that way now.",
        can_confirm=possible,
    )


@bp.post("/comments/<int:comment_id>/moderate")
def moderate(comment_id: int) -> ResponseReturnValue:
    actor = require(current_user(), "comments.moderate")
    item = comment_queries.get_comment(db(), comment_id)
    action = request.form.get("action", "")
    seen = _seen(request.form.get("seen"))
    if action in CONFIRM and not desk.confirmed():
        return redirect(
            url_for(
                ".confirm",
                comment_id=item.id,
                action=action,
                reason=request.form.get("reason", "")[:2000] or None,
                seen=seen,
                next=_next_target(url_for(".queue")),
            ),
            303,
        )
    try:
        services.moderate(
            db(),
            actor,
            item,
            action,
            request.form.get("reason", ""),
            akismet_enabled=akismet_enabled(),
            site=site(),
            seen=seen,
        )
    except Conflict as exc:  # decided on in another tab, or by another moderator: show them what it is now
        flash(exc.message)
        return desk.back(url_for(".queue"))
    flash(f"Comment {item.id} by {item.author_name}: {DECISION_LABELS[action].lower()}.")
    return desk.back(url_for(".queue"))


MAX_BULK = 200  # a page of the queue is 50; the cap keeps one request (and its flash cookie) small


def _bulk_seen(raw: list[str]) -> dict[int, str]:
    """Each listed comment's status as the moderator saw it, from ``<id>:<status>`` pairs."""
    seen: dict[int, str] = {}
    for pair in raw[: MAX_BULK * 2]:
        number, _, status = pair.partition(":")
        comment_id = whole_number(number, upper=2**31 - 1)
        if comment_id is None or _seen(status) is None:
            raise InvalidInput("seen must list comment numbers with their status.", field="seen")
        seen[comment_id] = status
    return seen


def _bulk_ids(raw: list[str]) -> list[int]:
    if len(raw) > MAX_BULK:
        raise InvalidInput(f"Decide at most {MAX_BULK} comments at once.", field="comment_ids")
    if not all(whole_number(value, upper=2**31 - 1) for value in raw):
        raise InvalidInput("comment_ids must be comment numbers.", field="comment_ids")
    return [int(v) for v in raw]


@bp.get("/comments/bulk/confirm")
def bulk_confirm() -> ResponseReturnValue:
    require(current_user(), "comments.moderate")
    ids = _bulk_ids(request.args.getlist("comment_ids"))
    action = request.args.get("action", "")
    if action not in CONFIRM:
        raise InvalidInput("Only spam and delete are confirmed on a page.", field="action")
    back = _next_target(url_for(".queue"))
    found = [c for c in (db().get(Comment, i) for i in dict.fromkeys(ids)) if c is not None]
    reason = request.args.get("reason", "")[:2000]
    return desk.confirm_page(
        title=f"{ACTION_LABELS[action]}: {len(found)} comment{'s' if len(found) != 1 else ''}?",
        consequences=[
            "Comments: "
            + ", ".join(f"{c.id} by {c.author_name}" for c in found[:20])
            + (f", and {len(found) - 20} more" if len(found) > 20 else "")
            + ".",
            *CONFIRM[action],
            "A comment that cannot be moved this way is left as it is, and named afterwards.",
        ],
        action=url_for(".bulk"),
        hidden=[("action", action), ("reason", reason), ("next", back)]
        + [("comment_ids", c.id) for c in found]
        + [("seen", f"{i}:{status}") for i, status in _bulk_seen(request.args.getlist("seen")).items()],
        button=f"{ACTION_LABELS[action]}: {len(found)} comment{'s' if len(found) != 1 else ''}",
        back_url=back,
        danger=True,
        notice="" if found else "None of those comments exist.",
        can_confirm=bool(found),
    )


@bp.post("/comments/bulk")
def bulk() -> ResponseReturnValue:
    actor = require(current_user(), "comments.moderate")
    ids = _bulk_ids(request.form.getlist("comment_ids"))
    action = request.form.get("action", "")
    chosen = set(ids)  # the queue page lists every comment's status; only the chosen ones matter
    seen = {i: status for i, status in _bulk_seen(request.form.getlist("seen")).items() if i in chosen}
    if action in CONFIRM and ids and not desk.confirmed():
        return redirect(
            url_for(
                ".bulk_confirm",
                action=action,
                comment_ids=ids,
                seen=[f"{i}:{status}" for i, status in seen.items()],
                reason=request.form.get("reason", "")[:2000] or None,
                next=_next_target(url_for(".queue")),
            ),
            303,
        )
    done, skipped = services.moderate_many(
        db(),
        actor,
        ids,
        action,
        request.form.get("reason", ""),
        akismet_enabled=akismet_enabled(),
        site=site(),
        seen=seen,
    )
    shown = skipped[:5] + ([f"and {len(skipped) - 5} more"] if len(skipped) > 5 else [])
    flash(
        f"{DECISION_LABELS.get(action, action)}: {done} comment{'s' if done != 1 else ''}."
        + (f" Not changed: {'; '.join(shown)}." if skipped else "")
    )
    return desk.back(url_for(".queue"))


REPLY_NOT_PUBLISHED = {
    409: "The blog was busy saving something else at that very moment, so your reply was not published.",
    503: "The blog's database is not answering, so your reply was not published.",
}


def _reply_again(status: int, message: str) -> str:
    """The reply form again, with the text, from the request alone (the database is what failed); it
    says when to publish again, as the page's ``Retry-After`` does (FAILURE_RETRY_SECONDS)."""
    return render_template(
        "moderation/reply_again.html",
        comment_id=(request.view_args or {}).get("comment_id"),
        body=request.form.get("body", ""),
        message=REPLY_NOT_PUBLISHED.get(status, message),
        wait=wait_words(FAILURE_RETRY_SECONDS.get(status, FAILURE_RETRY_SECONDS[409])),
    )


@bp.post("/comments/<int:comment_id>/reply")
@answer_failures_with(_reply_again)
def reply(comment_id: int) -> ResponseReturnValue:
    """A staff reply under the moderator's own name, published at once, telling the reader if they asked.
    A locked or unanswering database gives the form back with the text (the plain page lost it)."""
    actor = require(current_user(), "comments.moderate")
    parent = comment_queries.get_comment(db(), comment_id)
    post = queries.posts_by_id(db(), {parent.post_id})[parent.post_id]
    data = comment_services.CommentInput(
        author_name=actor.name,
        author_email=actor.email,
        body=request.form.get("body", ""),
        parent_id=parent.id,
        permalink=public_url("posts.show", slug=post.slug),
    )
    try:
        reply_comment = comment_services.staff_comment(
            db(), post, actor, data, site=site(), close_after_days=close_after_days()
        )
    except (CommentsClosed, InvalidTransition) as exc:  # the post takes no comments: no second try helps
        page = render_template(
            "moderation/reply_again.html",
            comment_id=comment_id,
            body=data.body,
            message=exc.message,
            wait=None,
        )
        return page, exc.status
    flash(f"Your reply to {parent.author_name} is published.")
    return redirect(url_for("posts.show", slug=post.slug, _anchor=f"comment-{reply_comment.id}"), 303)


@bp.post("/comments/<int:comment_id>/no-reply-needed")
def no_reply_needed(comment_id: int) -> ResponseReturnValue:
    actor = require(current_user(), "comments.moderate")
    item = comment_queries.get_comment(db(), comment_id)
    services.dismiss_reply(db(), actor, item, request.form.get("reason", ""))
    flash(f"Comment {item.id} taken off the needs-reply queue.")
    return desk.back(url_for(".needs_reply"))


@bp.get("/comments/needs-reply")
def needs_reply() -> ResponseReturnValue:
    """Readers waiting for staff: questions in comments and contact messages, oldest first, with their age."""
    require(current_user(), "comments.moderate")
    after, before = paging.cursors()
    listed = queries.needs_reply_page(db(), after=after, before=before, close_after_days=close_after_days())
    items = listed.rows
    post_map = queries.posts_by_id(db(), {item.post_id for kind, _at, item in items if kind == "comment"})
    return render_template(
        "moderation/needs_reply.html",
        items=items,
        posts=post_map,
        **paging.pager(listed, after, before),
    )


@bp.get("/comments/filter")
def off_topic_filter() -> ResponseReturnValue:
    """How often moderators overruled the off-topic filter, overall and per post (most overruled first)."""
    require(current_user(), "comments.moderate")
    total, per_post = learning.overruled(db())
    return render_template("moderation/filter.html", total=total, per_post=per_post[:100])


@bp.get("/comments/log")
def log() -> ResponseReturnValue:
    actor = require(current_user(), "comments.moderate")
    after, before = paging.cursors()
    listed = queries.moderation_log(db(), actor, after=after, before=before)
    rows = listed.rows
    return render_template(
        "moderation/log.html",
        rows=rows,
        **paging.pager(listed, after, before),
    )


# --- JSON API -----------------------------------------------------------------------------------------


MODERATED_COMMENT = answer(
    {
        "id": ID,
        "post_id": ID,
        "parent_id": nullable(ID),
        "status": TEXT,
        "reasons": {"type": "array", "items": TEXT},
        "author_name": TEXT,
        "author_email": TEXT,
        "author_ip": TEXT,
        "body": TEXT,
        "html": TEXT,
        "created_at": DATETIME,
        "staff": BOOL,
        "relevance": answer({"score": nullable({"type": "number"}), "drivers": {"type": "array"}}),
        "checks": {"type": "array"},
        "akismet": nullable(TEXT),
        "needs_reply": BOOL,
    }
)
ACTIONS = ["approve", "spam", "off_topic", "delete", "ham"]


@API.get(
    "/moderation/comments",
    summary="The moderation queue: comments by status (default held), reason and text (moderators)",
    query={
        "status": {"type": "string", "enum": [s.value for s in CommentStatus], "default": "held"},
        "reason": {
            **TEXT,
            "description": "Only comments held for this reason, e.g. link_count; off_topic:flagged: those "
            "the off-topic filter found off-topic and only recorded (log mode, a blog of few posts).",
        },
        "q": {**TEXT, "description": "Words in the comment, its writer's name or e-mail."},
        **PAGE_QUERY,
    },
    responses={200: listing_of(MODERATED_COMMENT)},
)
def api_moderation_queue() -> ResponseReturnValue:
    actor = require(current_user(), "comments.moderate")
    status = request.args.get("status", "held")
    if status not in {s.value for s in CommentStatus}:
        raise InvalidInput("status must be published, held, spam or deleted.", field="status")
    reason = request.args.get("reason") or None
    after, per_page = page_args()
    search = request.args.get("q", "")[:200]
    comments, nxt = queries.moderation_queue(
        db(), actor, status=status, reason=reason, search=search, after=after, per_page=per_page
    )
    values = {"status": status} | ({"reason": reason} if reason else {}) | ({"q": search} if search else {})
    return listing(
        [queries.summary(c) for c in comments], nxt, "api.api_moderation_queue", per_page, **values
    )


@API.post(
    "/comments/<int:comment_id>/moderate",
    summary="Decide on a comment, recorded with who and why (moderators)",
    body=obj({"action": {"type": "string", "enum": ACTIONS}, "reason": nullable(TEXT)}, "action"),
    responses={
        200: answer(
            {
                "id": ID,
                "status": TEXT,
                "reasons": {"type": "array", "items": TEXT},
                "decision": answer(
                    {
                        "id": ID,
                        "action": TEXT,
                        "from": nullable(TEXT),
                        "to": TEXT,
                        "reason": TEXT,
                        "moderator": TEXT,
                        "at": DATETIME,
                    }
                ),
            }
        )
    },
    errors=(409,),
)
def api_moderate(comment_id: int) -> ResponseReturnValue:
    actor = require(current_user(), "comments.moderate")
    data = json_body()
    action = data.get("action")
    reason = data.get("reason", "")
    if not isinstance(action, str):
        raise InvalidInput("action is required: approve, spam, off_topic, delete or ham.", field="action")
    if reason is not None and not isinstance(reason, str):
        raise InvalidInput("reason must be text.", field="reason")
    item = comment_queries.get_comment(db(), comment_id)
    decision = services.moderate(
        db(), actor, item, action, reason or "", akismet_enabled=akismet_enabled(), site=site()
    )
    return {
        "id": item.id,
        "status": item.status,
        "reasons": list(item.reasons),
        "decision": {
            "id": decision.id,
            "action": decision.action,
            "from": decision.from_status,
            "to": decision.to_status,
            "reason": decision.reason,
            "moderator": actor.name,
            "at": decision.at.isoformat(),
        },
    }
