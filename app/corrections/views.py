"""Reader pages for corrections (changes, history, log, feeds, error reports) and the staff report queue."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, redirect, render_template, request, url_for
from werkzeug.exceptions import HTTPException
from wtforms import EmailField, IntegerField, StringField, TextAreaField
from wtforms.validators import URL, DataRequired, Length, NumberRange, Optional, Regexp

from app.accounts.permissions import can, require
from app.corrections import services
from app.editorial.services import retraction_for
from app.errors import CandorError, InvalidInput, NotFound
from app.posts import services as posts
from app.posts.addresses import versions_of
from app.posts.models import Post, PostType
from app.posts.views import earlier_notices, public_key
from app.redaction import services as redaction
from app.text import clean_text, whole_number
from app.web import desk, feeds, fragments, paging
from app.web.auth import current_user
from app.web.database import db
from app.web.errors import http_error_response
from app.web.extensions import client_ip, csrf, limiter, retry_message
from app.web.forms import Form, TextSafe
from app.web.pagecache import cached_page, reads_query

bp = Blueprint("corrections", __name__)


def reader_versions(post: Post, numbers: list[int]) -> tuple[dict[int, int], dict[int, int]]:
    """({internal number: readers' version}, {internal number: the previous published one}) for the
    published revisions ``numbers`` of ``post`` and their predecessors: counted over every publication
    (a later page of history does not number from 1 again), answered for these numbers only."""
    found = versions_of(db(), post.id, numbers)
    versions = {number: version for number, (version, _previous) in found.items()}
    previous = {number: before for number, (_version, before) in found.items() if before is not None}
    versions |= {before: found[number][0] - 1 for number, before in previous.items()}
    return versions, previous


PER_PAGE = 20


class ReportForm(Form):
    """Anonymous and shown on cached pages, so no CSRF token; a honeypot and a rate limit instead."""

    class Meta:
        csrf = False

    what = TextAreaField(
        "What is wrong?", validators=[DataRequired(), Length(max=4000), TextSafe(multiline=True)]
    )
    source = StringField(
        "A source that shows it (optional)", validators=[Optional(), Length(max=2000), URL(), TextSafe()]
    )
    email = EmailField(
        "Your e-mail, if you would like to hear back (optional)",
        validators=[
            Optional(),
            Length(max=320),
            TextSafe(),
            Regexp(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", message="That is not an e-mail address."),
        ],
    )
    website = StringField("Leave this empty", validators=[Optional(), Length(max=200)])


class AcceptForm(Form):
    correction_revision = IntegerField(
        "Revision that corrects it", validators=[DataRequired(), NumberRange(1, 10**6)]
    )


class DeclineForm(Form):
    reason = TextAreaField(
        "Why (the reader is told)", validators=[DataRequired(), Length(max=2000), TextSafe(multiline=True)]
    )


def _number(name: str) -> int | None:
    raw = request.args.get(name)
    if raw is None:
        return None
    number = whole_number(raw, upper=10**6)
    if number is None:
        raise InvalidInput(f"{name} must be a revision number.", field=name)
    return number


@bp.get("/posts/<slug>/changes")
@reads_query("from", "to")
def changes(slug: str) -> Any:
    return _changes(slug, PostType.POST.value)


@bp.get("/pages/<slug>/changes")
@reads_query("from", "to")
def page_changes(slug: str) -> Any:
    return _changes(slug, PostType.PAGE.value)


def _changes(slug: str, type: str) -> Any:
    key = public_key(slug, type)
    from_n, to_n = _number("from"), _number("to")

    def render() -> str:
        post = posts.get_public_post(db(), slug, type)
        old, new, html = services.changes(db(), post, from_n, to_n, cache=fragments.diff)
        choices, more = services.version_choices(db(), post, old, new)
        versions, _previous = reader_versions(post, [rev.number for rev, _pub in choices])
        notices = services.notices(db(), post)
        return render_template(
            "corrections/changes.html",
            post=post,
            old=old,
            new=new,
            diff=html,
            references=services.reference_changes(old, new),
            history=choices,
            history_more=more,
            versions=versions,
            notices=notices,
            earlier_notices=earlier_notices(post, notices),
        )

    return cached_page(("changes", key), render)


@bp.get("/posts/<slug>/history")
@reads_query("after", "before")
def history(slug: str) -> Any:
    return _history(slug, PostType.POST.value)


@bp.get("/pages/<slug>/history")
@reads_query("after", "before")
def page_history(slug: str) -> Any:
    return _history(slug, PostType.PAGE.value)


def _history(slug: str, type: str) -> Any:
    key = public_key(slug, type)
    after, before = paging.cursors()

    def render() -> str:
        post = posts.get_public_post(db(), slug, type)
        listed = services.history_page(db(), post, after=after, before=before)
        rows = listed.rows
        # Each published revision's predecessor, so the first row of a later page compares too.
        versions, previous = reader_versions(post, [rev.number for rev, _pub in rows])
        return render_template(
            "corrections/history.html",
            versions=versions,
            previous=previous,
            post=post,
            history=rows,
            **paging.pager(listed, after, before),
            retraction=retraction_for(db(), post),
            redactions=redaction.revision_notes(db(), [rev.id for rev, _pub in rows]),
        )

    return cached_page(("history", key), render)


@bp.get("/corrections")
@reads_query("after", "before")
def log() -> Any:
    after, before = paging.cursors()

    def render() -> str:
        listed = services.corrections_log(db(), after=after, before=before, per_page=PER_PAGE)
        entries = listed.rows
        if not entries and (after or before):
            raise NotFound("There is no such page of corrections.")
        median = services.median_time_to_correct(db())
        return render_template(
            "corrections/log.html",
            entries=entries,
            **paging.pager(listed, after, before),
            median=services.describe_duration(median) if median else None,
        )

    return cached_page(("corrections", services.corrections_stamp(db()), posts.public_stamp(db())), render)


def _feed_response(key: tuple[object, ...], build: Any, render: Any, mimetype: str) -> Any:
    response = cached_page(key, lambda: render(build()))
    response.mimetype = mimetype
    return response


def _posts_key(name: str) -> tuple[object, ...]:
    return (name, posts.public_stamp(db()), services.corrections_stamp(db()))


def _corrections_key(name: str) -> tuple[object, ...]:
    # The posts' versions too: a redaction rewrites a title or note the feed quotes, and moves only those.
    return (name, services.corrections_stamp(db()), posts.public_stamp(db()))


@bp.get("/feed.atom")
@reads_query()
def feed() -> Any:
    return _feed_response(_posts_key("feed"), feeds.posts_feed, feeds.atom, "application/atom+xml")


@bp.get("/feed.json")
@reads_query()
def json_feed() -> Any:
    return _feed_response(_posts_key("feed.json"), feeds.posts_feed, feeds.json_feed, "application/feed+json")


@bp.get("/corrections.atom")
@reads_query()
def corrections_feed() -> Any:
    return _feed_response(
        _corrections_key("corrections-feed"), feeds.corrections_feed, feeds.atom, "application/atom+xml"
    )


@bp.get("/corrections.json")
@reads_query()
def corrections_json_feed() -> Any:
    return _feed_response(
        _corrections_key("corrections.json"), feeds.corrections_feed, feeds.json_feed, "application/feed+json"
    )


@bp.route("/posts/<slug>/report", methods=["GET", "POST"])
@csrf.exempt
@limiter.limit("5 per minute; 30 per day", methods=["POST"])
def report(slug: str) -> Any:
    post = posts.get_public_post(db(), slug, None)  # posts and pages alike
    form = ReportForm()
    if form.validate_on_submit():
        if form.website.data:  # the honeypot: people never see it, bots fill it
            return render_template("corrections/report_thanks.html", post=post)
        services.report_error(
            db(),
            post,
            what=form.what.data or "",
            source=form.source.data or "",
            email=(form.email.data or "").lower(),
            ip=client_ip(),
        )
        return render_template("corrections/report_thanks.html", post=post), 201
    status = 422 if request.method == "POST" else 200
    return render_template("corrections/report.html", post=post, form=form), status


@bp.errorhandler(429)
def _too_many(exc: HTTPException) -> Any:
    """Over the report form's rate limit: the form again, with what the reader wrote and when to try
    again (the plain 429 page lost their report). Nothing is stored."""
    if request.endpoint != "corrections.report":
        return http_error_response(exc)
    try:
        post = posts.get_public_post(db(), (request.view_args or {}).get("slug", ""), None)
    except CandorError:  # no such post (or moved): nothing to show the form on
        return http_error_response(exc)
    form = ReportForm()
    form.what.errors = [retry_message()]
    return render_template("corrections/report.html", post=post, form=form), 429


REPORTS_PER_PAGE = 50


@bp.get("/staff/error-reports")
def report_queue() -> Any:
    actor = current_user()
    if actor is None:
        return redirect(url_for("accounts.login", next=request.path))
    state = request.args.get("state", "open")
    if state not in ("open", "accepted", "declined"):
        raise InvalidInput("state must be open, accepted or declined.")
    after, before = paging.cursors()
    listed = services.report_queue(
        db(), actor, state=state, after=after, before=before, per_page=REPORTS_PER_PAGE
    )
    reports = listed.rows
    return render_template(
        "corrections/queue.html",
        reports=reports,
        posts=posts.posts_by_id(db(), {r.post_id for r in reports}),
        **paging.pager(listed, after, before),
        state=state,
        accept_form=AcceptForm(),
        decline_form=DeclineForm(),
        can_redact=can(actor, "history.redact"),
    )


def _report_confirm(report_id: int, decision: str, value: Any) -> Any:
    """Deciding a report e-mails the reader, so it is asked twice (see app/web/desk.py)."""
    actor = require(current_user(), "post.view_unpublished")
    report, post = services.report_for_decision(db(), actor, report_id)
    title = post.published_revision.title if post.published_revision else ""
    if decision == "accept":
        lines = [
            f"The report on “{title}” is marked accepted, corrected by revision {value}.",
            "The reader is e-mailed that the post was corrected, with a link to the correction."
            if report.email
            else "The reader left no e-mail address, so nobody is told.",
        ]
        hidden: list[tuple[str, Any]] = [("correction_revision", value)]
    else:
        lines = [
            f"The report on “{title}” is marked declined, with your reason: “{value}”.",
            "The reader is e-mailed your reason." if report.email else "The reader left no e-mail address.",
        ]
        hidden = [("reason", value)]
    lines.append("A decision on a report is final.")
    possible = report.state == "open"
    return desk.confirm_page(
        title=f"{decision.capitalize()} this error report?",
        consequences=lines,
        action=url_for(f"corrections.{decision}", report_id=report.id),
        hidden=hidden,
        button=f"{decision.capitalize()} the report",
        back_url=url_for("corrections.report_queue"),
        danger=decision == "decline",
        notice="" if possible else f"This report was already {report.state}.",
        can_confirm=possible,
    )


@bp.get("/staff/error-reports/<int:report_id>/accept")
def accept_confirm(report_id: int) -> Any:
    number = whole_number(request.args.get("correction_revision", ""), upper=10**6)
    if number is None:
        raise InvalidInput(
            "Give the number of the revision that corrects this report.", field="correction_revision"
        )
    return _report_confirm(report_id, "accept", number)


@bp.get("/staff/error-reports/<int:report_id>/decline")
def decline_confirm(report_id: int) -> Any:
    reason = clean_text(request.args.get("reason", ""), "reason", max_chars=2000, multiline=True).strip()
    if not reason:
        raise InvalidInput("Say why the report is declined; the reader is told.", field="reason")
    return _report_confirm(report_id, "decline", reason)


@bp.post("/staff/error-reports/<int:report_id>/accept")
def accept(report_id: int) -> Any:
    actor = require(current_user(), "post.view_unpublished")
    form = AcceptForm()
    if not form.validate_on_submit() or form.correction_revision.data is None:
        raise InvalidInput(
            "Give the number of the revision that corrects this report.", field="correction_revision"
        )
    if not desk.confirmed():
        return redirect(
            url_for(
                ".accept_confirm", report_id=report_id, correction_revision=form.correction_revision.data
            ),
            303,
        )
    services.accept_report(db(), actor, report_id, form.correction_revision.data)
    return redirect(url_for("corrections.report_queue"), 303)


@bp.post("/staff/error-reports/<int:report_id>/decline")
def decline(report_id: int) -> Any:
    actor = require(current_user(), "post.view_unpublished")
    form = DeclineForm()
    if not form.validate_on_submit():
        raise InvalidInput("Say why the report is declined; the reader is told.", field="reason")
    reason = clean_text(form.reason.data, "reason", max_chars=2000, multiline=True)
    if not desk.confirmed():
        return redirect(url_for(".decline_confirm", report_id=report_id, reason=reason), 303)
    services.decline_report(db(), actor, report_id, reason)
    return redirect(url_for("corrections.report_queue"), 303)


@bp.get("/staff/posts/<int:post_id>/diff")
def staff_diff(post_id: int) -> Any:
    actor = require(current_user(), "post.view_unpublished")
    post = posts.get_post(db(), post_id)
    assert post.current_revision is not None
    to_n = _number("to") or post.current_revision.number
    from_n = _number("from") or (post.published_revision.number if post.published_revision else 1)
    old, new, html = services.staff_changes(db(), actor, post, from_n, to_n)
    return render_template(
        "corrections/staff_diff.html",
        post=post,
        old=old,
        new=new,
        diff=html,
        revisions=posts.revisions(db(), post, published_only=False),
        can_redact=can(actor, "history.redact"),
    )
