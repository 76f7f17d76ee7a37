"""The comments' JSON API: the form's time token, a post's published comments, and a comment POST.

A reader's comment POST on the quick path (budget 0) with the rate limits in Redis is counted by one
script with the sender's burst (``app.web.reader_forms.count_at_once``) and stored by two statements on
the driver's cursor (``services.comment_target``, ``services.accept_comment``): two round trips to
Redis and four to the database. Any other POST (a staff token, a budget above 0, Redis not answering)
takes the decorated view, which Flask-Limiter counts. The HTML pages and forms are app/comments/views.py.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from flask import current_app, g, request
from flask.typing import ResponseReturnValue

from app.clock import utc_now
from app.comments import queries, services
from app.comments.burst import BurstCounter, Counted
from app.comments.models import Comment, CommentStatus
from app.comments.views import (
    admit_reader_comment,
    close_after_days,
    finish_later,
    is_staff_writer,
    pipeline_settings,
    quick,
    refused_as_busy,
    status_token,
)
from app.errors import InvalidInput, NotFound
from app.posts import services as posts
from app.posts.models import Post
from app.spam import pipeline
from app.web import api
from app.web.api import (
    BOOL,
    DATETIME,
    ID,
    OPTIONAL,
    PAGE_QUERY,
    PUBLIC,
    TEXT,
    URL,
    answer,
    bool_field,
    int_field,
    json_body,
    listing,
    listing_of,
    nullable,
    obj,
    page_args,
)
from app.web.auth import current_user
from app.web.database import db
from app.web.extensions import client_ip
from app.web.outside import budgeted_akismet, burst_counter, site
from app.web.reader_forms import (
    PRECOUNTED,
    can_count_at_once,
    count_at_once,
    form_token,
    reader_limit,
    shares_redis_with,
)
from app.web.runtime import settle
from app.web.urls import public_url

API = api.Routes()  # this module's JSON routes, added to /api/v1 by create_app


COMMENT_STATUS: dict[str, Any] = {"type": "string", "enum": [s.value for s in CommentStatus]}
STAFF = answer({"name": TEXT, "title": TEXT, "department": TEXT, "roles": {"type": "array", "items": TEXT}})
PUBLIC_COMMENT = answer(
    {
        "id": ID,
        "parent_id": nullable(ID),
        "author_name": TEXT,
        "html": TEXT,
        "created_at": DATETIME,
        "staff": {**nullable(STAFF), "description": "Who, when a staff member wrote it."},
    }
)
NEW_COMMENT = obj(
    {
        "author_name": {**TEXT, "description": "Required without a staff token."},
        "author_email": {**TEXT, "description": "Required without a staff token; never shown."},
        "body": TEXT,
        "parent_id": {**nullable(ID), "description": "The published comment this replies to."},
        "notify": {**BOOL, "description": "E-mail the writer when someone replies."},
    },
    "body",
)
COMMENT_ANSWER = obj(
    {
        "id": ID,
        "status": COMMENT_STATUS,
        "reasons": {
            "type": "array",
            "items": TEXT,
            "description": "Why it is held; to anonymous writers, only what they can act on.",
        },
        "status_url": {**URL, "description": "Where the writer can follow a held comment (202)."},
    },
    "id",
    "status",
    "reasons",
)


@API.get(
    "/comment-form-token",
    summary="A signed token saying when the comment form was shown (for the time-to-submit check)",
    auth=PUBLIC,
    responses={200: answer({"token": TEXT, "min_seconds": {"type": "integer", "minimum": 0}})},
    headers={200: {"Cache-Control": "no-store"}},
)
def api_form_token() -> ResponseReturnValue:
    """A signed "this form was shown now" for the comment form of a cached page (static/comments.js)."""
    body = {"token": form_token(), "min_seconds": current_app.config["COMMENT_MIN_SECONDS"]}
    return body, 200, {"Cache-Control": "no-store"}


def public_json(comment: Comment) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": comment.id,
        "parent_id": comment.parent_id,
        "author_name": comment.author_name,
        "html": comment.html,
        "created_at": comment.created_at.isoformat(),
        "staff": None,
    }
    if comment.staff_user is not None:
        user = comment.staff_user
        data["staff"] = {
            "name": user.name,
            "title": user.title,
            "department": user.department,
            "roles": sorted(r.value for r in user.roles),
        }
    return data


@API.get(
    "/posts/<int:post_id>/comments",
    summary="A published post's published comments, oldest first",
    auth=PUBLIC,
    query=PAGE_QUERY,
    responses={200: listing_of(PUBLIC_COMMENT)},
)
def api_list_comments(post_id: int) -> ResponseReturnValue:
    post = posts.get_post(db(), post_id)
    if post.published_revision_id is None:
        raise NotFound(f"No post {post_id}.")
    after, per_page = page_args(50)
    items, nxt = queries.public_comments(db(), post.id, after=after, per_page=per_page)
    return listing([public_json(c) for c in items], nxt, "api.api_list_comments", per_page, post_id=post_id)


@API.post(
    "/posts/<int:post_id>/comments",
    summary="Comment on a published post: 201 published, 202 held for a moderator or still being checked",
    description="With a staff member's token the comment is theirs, signed as staff.",
    auth=OPTIONAL,
    body=NEW_COMMENT,
    responses={201: COMMENT_ANSWER, 202: COMMENT_ANSWER},
    errors=(429, 503),
)
def api_post_comment(post_id: int) -> ResponseReturnValue:
    """201 when published, 202 when held (or spam): ``{id, status, reasons}``. A comment whose checks
    did not finish within CANDOR_COMMENT_CHECK_BUDGET_MS is 202 ``held`` with the reason ``checking``
    and its ``status_url``, where the verdict shows once the job has run. Counted by the readers'
    limits when they are in Redis (``_post_at_once``), else by their decorator."""
    precounted = PRECOUNTED in request.environ  # the intake counted it, then left it to Flask
    if precounted or (quick() and not g.get("via_token") and can_count_at_once()):
        answer = _post_at_once(post_id)
        if answer is not None:
            return answer
    return _post_comment_limited(post_id)


def _reader_input(data: dict[str, Any], slug: str | None) -> services.CommentInput:
    return reader_input(
        data,
        ip=client_ip(),
        user_agent=request.headers.get("User-Agent", ""),
        referrer=request.headers.get("Referer", ""),
        permalink=public_url("posts.show", slug=slug) if slug else "",
    )


def reader_input(
    data: dict[str, Any], *, ip: str, user_agent: str, referrer: str, permalink: str = ""
) -> services.CommentInput:
    """A reader's comment as the JSON API reads it (also ``app.web.intake``, from the WSGI environ)."""
    return services.CommentInput(
        author_name=data.get("author_name") or "",
        author_email=data.get("author_email") or "",
        body=data["body"],
        parent_id=int_field(data, "parent_id", required=False),
        notify=bool_field(data, "notify", default=False),
        ip=ip,
        user_agent=user_agent,
        referrer=referrer,
        permalink=permalink,
    )


def _post_at_once(post_id: int) -> ResponseReturnValue | None:
    """A reader's comment on the quick path (budget 0), its post counted by the readers' limits and its
    sender's burst in one Redis script (``count_at_once``) once the input is read: so a comment POST
    makes two round trips to Redis (that script, and the job's push after the commit) and four to the
    database (BEGIN, the post's row with the duplicate lock, the arrival, COMMIT). None, with
    nothing counted or stored, when Redis cannot count now: the caller takes the decorated view."""
    # The backlog is full: refused 503, and not counted (as the decorator does). A post the intake counted
    # was admitted by it already (``app.web.intake``).
    if PRECOUNTED not in request.environ and refused_as_busy():
        admit_reader_comment()
    try:
        data = json_body(schema=False)
        for name in ("author_name", "author_email", "body"):
            if not isinstance(data.get(name), str):
                raise InvalidInput(f"{name} is required and must be text.", field=name)
        if not plainly_new_comment(data):
            api.check(NEW_COMMENT, data)  # says what is wrong, as every route's schema check does
        given = services.clean(_reader_input(data, None))
    except Exception:
        # Counted as every post is (a 429 before the 4xx if over), whatever refused it: invalid input, and
        # as much a body too large (413) or unreadable, which Werkzeug raises when the view reads it, where
        # the decorator had counted the post before the view ran.
        if count_at_once() is None:
            return None
        raise
    now = utc_now()
    counter = burst_counter()
    ask = None
    if counter is not None and shares_redis_with(current_app.config.get("REDIS_URL")):
        member = services.burst_member(post_id, given)
        ask = counter.ask(given.ip, now, pipeline.BURST_WINDOW, member)
    counted = count_at_once(ask)
    if counted is None:
        return None
    g.pop("comment_busy", None)
    try:
        comment = _store_at_once(
            post_id, given, Counted(counted.earlier) if counted.earlier is not None else counter
        )
    except Exception:  # no comment stored (no such post, closed, ...): the burst counts comments only
        counted.forget_burst()
        raise
    return _quick_answer(comment)


def _store_at_once(
    post_id: int, given: services.CommentInput, burst: BurstCounter | None
) -> Comment | services.Arrival:
    """The quick path's store: the post read with the duplicate lock and the settings' version (one
    statement), then the comment accepted as being checked; every check left to the job."""
    target = services.comment_target(db(), post_id, close_after_days(), twin_of=given, settings_version=True)
    assert target.settings_version is not None
    settle(target.settings_version)  # the settings in force, read by the same statement
    return services.accept_comment(
        db(),
        target,
        dataclasses.replace(given, permalink=public_url("posts.show", slug=target.slug)),
        settings=pipeline_settings(),
        burst_counter=burst,
        cleaned=True,
        answer_only=True,
    )


def plainly_new_comment(data: dict[str, Any]) -> bool:
    """``data`` (its three texts checked) conforms to NEW_COMMENT without asking jsonschema: ``parent_id``
    absent, null or a whole number in ID's range, ``notify`` absent or a boolean. Anything else is
    checked against the schema, which names what is wrong."""
    parent = data.get("parent_id")
    notify = data.get("notify", False)
    return (parent is None or (type(parent) is int and 1 <= parent <= MAX_ID)) and type(notify) is bool


MAX_ID: int = ID["maximum"]


def _quick_answer(comment: Comment | services.Arrival) -> ResponseReturnValue:
    finish_later(comment)
    body = {
        "id": comment.id,
        "status": comment.status,
        "reasons": pipeline.reasons_for_writer(comment.reasons),
    }
    if comment.status == CommentStatus.PUBLISHED:  # a second click on a comment already judged
        return body, 201
    body["status_url"] = public_url("comments.status", token=status_token(comment))
    return body, 202


def _post_comment(post_id: int) -> ResponseReturnValue:
    actor = current_user() if g.get("via_token") and is_staff_writer() else None
    post: Post | None = None
    if actor is not None or not quick():  # else read with the input below, in one statement
        post = posts.get_post(db(), post_id)
        if post.published_revision_id is None:
            raise NotFound(f"No post {post_id}.")
    data = json_body()
    for name in ("author_name", "author_email", "body"):
        if actor is None or name == "body":
            if not isinstance(data.get(name), str):
                raise InvalidInput(f"{name} is required and must be text.", field=name)

    def given(slug: str | None) -> services.CommentInput:
        return _reader_input(data, slug)

    if actor is None:
        admit_reader_comment()
    if post is None:
        # Stored and answered at once; every check runs in the job enqueued after the commit.
        return _quick_answer(_store_at_once(post_id, services.clean(given(None)), burst_counter()))
    assert post is not None
    comment = services.submit_comment(
        db(),
        post,
        given(post.slug),
        actor=actor,
        checker=budgeted_akismet(),
        settings=pipeline_settings(),
        site=site(),
        burst_counter=burst_counter(),
        close_after_days=close_after_days(),
    )
    finish_later(comment)
    published = comment.status == CommentStatus.PUBLISHED
    # A writer is told only what they can fix; the rest (impersonation, Akismet, first comment ...)
    # would teach a spammer which check caught them. Moderators see every reason in the queue.
    shown = list(comment.reasons) if actor is not None else pipeline.reasons_for_writer(comment.reasons)
    body = {"id": comment.id, "status": comment.status, "reasons": shown}
    if not published:
        body["status_url"] = public_url("comments.status", token=status_token(comment))
    return body, 201 if published else 202


_post_comment_limited = reader_limit(_post_comment)
