"""The staff desk: dashboard, editor, review, disclosure and audit pages, rendered on the server.

Every page works without JavaScript. Every form carries its CSRF token, which ``CSRFProtect`` checks
before a view runs. Each POST calls one service and commits once. What the writer can fix (text that
will not render, a failing gate, an edit based on a stale revision) re-renders the form with their input
kept; what nobody can fix from the form (a forbidden or impossible move) propagates as the service's
NotAllowed or InvalidTransition, which the error handlers turn into a 403 or 409 page.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from wtforms import SelectChoice

from app.accounts import services as accounts
from app.accounts.models import User
from app.accounts.permissions import can, require
from app.audit import services as audit
from app.clock import LocalTimeError, available_zones, from_local, utc_now
from app.comments import closing
from app.comments.views import close_after_days
from app.contact import services as contact
from app.corrections import services as corrections
from app.corrections.diff import diff_html
from app.disclosures import services as disclosures
from app.disclosures.models import Disclosure
from app.drafts import services as drafts
from app.editorial import services as editorial
from app.editorial.gates import GateResult
from app.editorial.models import OVERRIDABLE, Gate
from app.errors import InvalidInput, PublishBlocked, RenderError, StaleRevision
from app.media.services import image_infos
from app.moderation import queries as comment_queries
from app.posts import services as posts
from app.posts.models import Post, Revision
from app.posts.rendering import render_markdown
from app.staff.forms import (
    INTEREST_ROWS,
    ApproveForm,
    DisclosureForm,
    EditorForm,
    OverrideForm,
    RequestChangesForm,
    RetractForm,
    SettingsForm,
    SubmitForm,
)
from app.text import clean_text, clean_url_list, whole_number
from app.web import desk, paging, timezones
from app.web.api import gate_settings
from app.web.auth import current_user
from app.web.database import db

bp = Blueprint("staff", __name__, url_prefix="/staff")

AUDIT_PER_PAGE = 50

STATUS_GROUPS: tuple[tuple[str, str], ...] = (
    ("draft", "Drafts"),
    ("in_review", "In review"),
    ("changes_requested", "Changes requested"),
    ("scheduled", "Scheduled"),
    ("published", "Published"),
    ("retracted", "Retracted"),
)
STATUS_LABELS = {
    status: label.removesuffix("s") if status == "draft" else label for status, label in STATUS_GROUPS
}

GATE_LABELS = {
    Gate.IDENTITY: "Identity",
    Gate.DISCLOSURE: "Conflict-of-interest disclosure",
    Gate.REFERENCES: "References",
    Gate.DIRECT_LINKS: "Direct links",
    Gate.PRIVACY: "Patient privacy",
    Gate.MEDIA_ALT: "Image descriptions (alt text)",
    Gate.MEDIA_CONSENT: "Patient consent for images",
    Gate.TOPICS: "Topics",
    Gate.EXTERNAL_SITES: "Approved external sites",
}

ACTION_LABELS = {
    "post.created": "Created",
    "post.revised": "Revised",
    "post.submit": "Submitted for review",
    "post.request_changes": "Changes requested",
    "post.approve": "Approved and published",
    "post.schedule": "Approved and scheduled",
    "post.withdraw": "Withdrawn from review",
    "post.publish_due": "Published on schedule",
    "post.publish_direct": "Corrected and published by an editor",
    "post.edit": "Edited after approval; approval withdrawn",
    "post.recheck_failed": "Sent back to the editor: something changed after approval",
    "post.retract": "Retracted",
    "gate.override": "Gate overridden",
    "comments.closed": "Comments closed",
    "comments.reopened": "Comments reopened",
    "topic.created": "Topic added",
    "topic.renamed": "Topic renamed",
    "disclosure.recorded": "Disclosure recorded",
    "account.sso_linked": "Single sign-on identity linked",
    "account.sso_provisioned": "Account created at first single sign-on",
    "account.roles_from_sso": "Roles set from the sign-on provider's groups",
    "redaction.requested": "Redaction asked for",
    "redaction.applied": "Redaction carried out",
    "user.created": "Staff account created",
    "user.updated": "Staff profile edited",
    "user.roles": "Roles changed",
    "user.deactivated": "Account deactivated (sessions ended, tokens revoked)",
    "user.reactivated": "Account reactivated",
    "user.password_set": "Password set by an admin",
    "user.password_changed": "Password changed by its owner",
    "user.password_reset": "Password reset through an e-mailed link",
    "user.reset_link_sent": "Password reset link e-mailed",
    "token.created": "API token created",
    "token.revoked": "API token revoked",
    "site.proposed": "External site proposed",
    "site.approve": "External site approved",
    "site.revoke": "External site approval revoked",
}


@bp.before_request
def _staff_only() -> Any:
    """Anonymous visitors go to sign-in and come back; signed-in non-staff get the 403 page."""
    if current_user() is None:
        target = request.full_path if request.query_string else request.path
        if request.method != "GET":
            target = url_for(".dashboard")  # a form cannot be re-sent by a redirect; start from the desk
        return redirect(url_for("accounts.login", next=target))
    require(current_user(), "post.view_unpublished")
    return None


@bp.context_processor
def _vocabulary() -> dict[str, Any]:
    user = current_user()
    return {
        "gate_labels": GATE_LABELS,
        "status_labels": STATUS_LABELS,
        "action_labels": ACTION_LABELS,
        "is_editor": can(user, "post.request_changes"),
        "can_write": can(user, "post.create"),
        "can_manage_settings": can(user, "settings.manage"),
        "is_admin": can(user, "users.manage"),
    }


# --- helpers ----------------------------------------------------------------------------------------


def _coi_max_age() -> int:
    return int(current_app.config["CANDOR_COI_MAX_AGE_DAYS"])


def _disclosure_status(user: User) -> dict[str, Any]:
    """current / expired / missing, with the disclosure and when it stops (or stopped) being current."""
    latest = disclosures.latest(db(), user)
    if latest is None:
        return {"state": "missing", "disclosure": None, "expires": None}
    state = "current" if disclosures.is_current(latest, _coi_max_age()) else "expired"
    expires = latest.created_at + timedelta(days=_coi_max_age())
    return {"state": state, "disclosure": latest, "expires": expires}


def _asks_interests(post: Post) -> bool:
    """Whether the submit form must ask if the post touches an interest: the disclosure lists some."""
    latest = disclosures.latest(db(), post.author)
    return latest is not None and not latest.no_conflicts


def _age(seconds: float) -> str:
    minutes = int(seconds // 60)
    for unit, size in (("day", 1440), ("hour", 60), ("minute", 1)):
        if minutes >= size:
            n = minutes // size
            return f"{n} {unit}{'s' if n != 1 else ''}"
    return "under a minute"


def _form_data(revision: Revision) -> dict[str, Any]:
    return {
        "title": revision.title,
        "body": revision.body,
        "references": "\n".join(revision.references),
        "personal_view": revision.personal_view,
        "base_revision": revision.number,
        "topics": [t.name for t in revision.topics],
    }


def _revision_input(form: EditorForm) -> posts.RevisionInput | None:
    """The form as a RevisionInput, or None with the error on the references field."""
    try:
        references = clean_url_list(form.references.data or "", "References")
    except InvalidInput as exc:
        form.references.errors.append(exc.message)
        return None
    return posts.RevisionInput(
        title=form.title.data or "",
        body=form.body.data or "",
        references=references,
        kind=form.kind.data or None,
        note=form.note.data or "",
        personal_view=bool(form.personal_view.data),
        topics=tuple(form.topics.data or ()),
    )


def _field_error(form: Any, exc: InvalidInput, fallback: str) -> None:
    """Put a service's InvalidInput on the field it names, so aria-describedby can point at it."""
    name = exc.details.get("field")
    field = getattr(form, name, None) if isinstance(name, str) else None
    if field is None or not hasattr(field, "errors"):
        field = getattr(form, fallback)
    field.errors = [*field.errors, exc.message]


def _editor_form(post: Post | None) -> EditorForm:
    if request.method == "POST":
        form = EditorForm(request.form)
    elif post is not None and post.current_revision is not None:
        data = _form_data(post.current_revision)
        user = current_user()
        buffer = drafts.offered(db(), user, post) if user is not None else None
        if buffer is not None and request.args.get("restore") == "1":
            # The autosaved words, on the revision it was typed against: a Save still meets a newer one.
            data |= {"title": buffer.title, "body": buffer.body, "references": buffer.references}
            data["base_revision"] = buffer.base_revision
        form = EditorForm(data=data)
    else:
        user = current_user()
        buffer = drafts.offered_new(db(), user) if post is None and user is not None else None
        if buffer is not None and request.args.get("restore") == "1":
            # A new post's autosaved words: nothing was saved yet, so nothing newer can have been.
            form = EditorForm(
                data={"title": buffer.title, "body": buffer.body, "references": buffer.references}
            )
        else:
            form = EditorForm()
    form.topics.choices = [SelectChoice(t.name, t.name) for t in posts.all_topics(db())]
    return form


# --- dashboard ---------------------------------------------------------------------------------------


def _work(user: User) -> list[dict[str, Any]]:
    """What waits for each of ``user``'s roles, with counts and where to find it: the dashboard's cards."""
    cards: list[dict[str, Any]] = []
    dash = url_for(".dashboard")
    open_reports = corrections.open_report_count(db(), user) if can(user, "post.view_unpublished") else 0
    if can(user, "post.create"):
        mine = posts.status_counts(db(), user)
        cards.append(
            {
                "key": "author",
                "title": "Your writing",
                "items": [
                    ("drafts", "Drafts", mine["draft"], f"{dash}#group-draft"),
                    ("in_review", "In review", mine["in_review"], f"{dash}#group-in_review"),
                    (
                        "changes_requested",
                        "Changes requested",
                        mine["changes_requested"],
                        f"{dash}#group-changes_requested",
                    ),
                    *(
                        []
                        if can(user, "post.request_changes")
                        else [
                            (
                                "reports",
                                "Error reports on your posts",
                                open_reports,
                                url_for("corrections.report_queue"),
                            )
                        ]
                    ),
                ],
            }
        )
    if can(user, "post.request_changes"):
        every = posts.status_counts(db())
        cards.append(
            {
                "key": "editor",
                "title": "Editing",
                "items": [
                    (
                        "review_queue",
                        "Waiting for review",
                        editorial.open_review_count(db()),
                        url_for(".reviews"),
                    ),
                    ("all_posts", "All posts", sum(every.values()), url_for(".post_list")),
                    ("scheduled", "Scheduled", every["scheduled"], url_for(".post_list", state="scheduled")),
                    ("reports", "Open error reports", open_reports, url_for("corrections.report_queue")),
                ],
            }
        )
    if can(user, "comments.moderate"):
        cards.append(
            {
                "key": "moderator",
                "title": "Readers",
                "items": [
                    (
                        "comment_queue",
                        "Held comments",
                        comment_queries.status_counts(db())["held"],
                        url_for("moderation.queue"),
                    ),
                    (
                        "needs_reply",
                        "Waiting for a reply",
                        comment_queries.waiting_total(db(), close_after_days()),
                        url_for("moderation.needs_reply"),
                    ),
                    (
                        "contact",
                        "Open contact messages",
                        len(contact.waiting(db())),
                        url_for("contact_desk.messages"),
                    ),
                ],
            }
        )
    if can(user, "users.manage"):
        cards.append(
            {
                "key": "admin",
                "title": "Administration",
                "items": [
                    ("users", "Staff accounts", None, url_for("people.users")),
                    ("settings", "Site settings", None, url_for("settings.edit")),
                ],
            }
        )
    return cards


@bp.get("/")
def dashboard() -> Any:
    user = require(current_user(), "post.view_unpublished")
    groups: dict[str, list[Post]] = {status: [] for status, _ in STATUS_GROUPS}
    for post in posts.all_posts_by(db(), user):
        groups[post.status].append(post)
    notes = {
        p.id: audit.latest_entry(db(), p.id, "post.request_changes") for p in groups["changes_requested"]
    }
    return render_template(
        "staff/dashboard.html",
        groups=groups,
        group_titles=STATUS_GROUPS,
        notes=notes,
        disclosure=_disclosure_status(user),
        cards=_work(user),
        shows_own_posts=can(user, "post.create") or any(groups.values()),
    )


POSTS_PER_PAGE = 25


@bp.get("/posts")
def post_list() -> Any:
    """Every post, for editors: by state, by author, and by a piece of the title, a page at a time."""
    user = require(current_user(), "post.request_changes")
    if "page" in request.args:
        raise InvalidInput(
            "This list pages with its “Older posts” link (after=), not by number.", field="page"
        )
    after, before = paging.cursors()
    state = request.args.get("state", "")
    if state and state not in posts.STATUSES:
        raise InvalidInput("Choose a state from the list.", field="state")
    raw_author = request.args.get("author", "")
    author_id = whole_number(raw_author, upper=2**31 - 1) if raw_author else None
    if raw_author and author_id is None:
        raise InvalidInput("Choose an author from the list.", field="author")
    title = clean_text(request.args.get("q", ""), "Title", max_chars=200, required=False)
    listed = posts.find_posts(
        db(),
        user,
        status=state,
        author_id=author_id,
        title=title,
        after=after,
        before=before,
        per_page=POSTS_PER_PAGE,
    )
    items = listed.rows
    return render_template(
        "staff/posts.html",
        items=items,
        **paging.pager(listed, after, before),
        state=state,
        author_id=author_id,
        q=title,
        authors=posts.post_authors(db()),
        filters={k: v for k, v in (("state", state), ("author", author_id), ("q", title)) if v},
    )


# --- the editor ---------------------------------------------------------------------------------------


def _editor(
    form: EditorForm,
    post: Post | None,
    *,
    status: int = 200,
    preview_html: str | None = None,
    stale: Revision | None = None,
    blocked: list[dict[str, str]] | None = None,
    submit_form: SubmitForm | None = None,
) -> Any:
    """The editor page: form, preview, the newer text after a stale save, the gates and the submit form."""
    user = current_user()
    context: dict[str, Any] = {
        "form": form,
        "post": post,
        "preview_html": preview_html,
        "stale": stale,
        "blocked": blocked or [],
        "shows_kind": False,
    }
    if post is None and user is not None:
        context |= {
            "buffer": drafts.offered_new(db(), user),
            "restored": request.method == "GET" and request.args.get("restore") == "1",
        }
    if post is not None:
        assert post.current_revision is not None
        asks = _asks_interests(post)
        answer = submit_form.touches_interests.data if submit_form is not None else None
        touches = {"yes": True, "no": False}.get(answer or "", None)
        if touches is None and asks:
            touches = True  # the checklist assumes the question gets answered: the submit form requires it
        gates = editorial.check_gates(db(), post, gate_settings(), touches)
        nothing_new = post.published_revision_id == post.current_revision_id
        context |= {
            "revision": post.current_revision,
            "gates": gates,
            "shows_kind": post.first_published_at is not None,
            "asks_interests": asks,
            "submit_form": submit_form or SubmitForm(),
            "can_submit": (
                can(user, "post.submit", post) and editorial.can_move(post, "submit") and not nothing_new
            ),
            "can_withdraw": can(user, "post.withdraw", post)
            and post.review_state in ("in_review", "scheduled"),
            "can_edit": not post.is_retracted,
            "review_note": audit.latest_entry(db(), post.id, "post.request_changes")
            if post.review_state == "changes_requested"
            else None,
            "retraction": (editorial.retraction_for(db(), post) if post.is_retracted else None),
            "comments_closure": closing.closure(db(), post),
            "comments_closed_reason": closing.closed_reason(db(), post, close_after_days()),
            "can_close_comments": can(user, "comments.close", post) and post.is_live and not post.is_page,
            "buffer": drafts.offered(db(), user, post) if user is not None else None,
            "restored": request.method == "GET" and request.args.get("restore") == "1",
        }
    return render_template("staff/editor.html", **context), status


def _preview(form: EditorForm, post: Post | None) -> Any:
    try:
        html = render_markdown(form.body.data or "", image_infos(db(), form.body.data or ""))
    except RenderError as exc:
        form.body.errors.append(exc.message)
        return _editor(form, post, status=422)
    return _editor(form, post, preview_html=html)


@bp.route("/posts/new", methods=["GET", "POST"])
def new_post() -> Any:
    user = require(current_user(), "post.create")
    form = _editor_form(None)
    if request.method == "GET":
        return _editor(form, None)
    if not form.validate() or (data := _revision_input(form)) is None:
        return _editor(form, None, status=422)
    if request.form.get("action") == "preview":
        return _preview(form, None)
    try:
        post_type = form.post_type.data if form.post_type.data in ("post", "page") else "post"
        post = posts.create_draft(db(), user, data, type=post_type)
    except RenderError as exc:
        db().rollback()
        form.body.errors.append(exc.message)
        return _editor(form, None, status=422)
    except InvalidInput as exc:
        db().rollback()
        _field_error(form, exc, "body")
        return _editor(form, None, status=422)
    drafts.drop_new(db(), user)  # saved as revision 1: the new post's working copy has done its work
    flash("Draft saved as revision 1. The publishing checklist below shows what still needs doing.")
    return redirect(url_for(".edit_post", post_id=post.id), 303)


@bp.route("/posts/<int:post_id>/edit", methods=["GET", "POST"])
def edit_post(post_id: int) -> Any:
    post = posts.get_post(db(), post_id)
    user = require(current_user(), "post.revise", post)
    form = _editor_form(post)
    if request.method == "GET":
        return _editor(form, post)
    if not form.validate() or (data := _revision_input(form)) is None:
        return _editor(form, post, status=422)
    if request.form.get("action") == "preview":
        return _preview(form, post)
    try:
        revision, created = editorial.revise(db(), user, post, data, form.base_revision.data or 0)
    except StaleRevision:
        db().rollback()
        newer = post.current_revision
        assert newer is not None
        # The writer has now seen the newer text: their next save is based on it, and keeps their words.
        form.base_revision.raw_data = None
        form.base_revision.data = newer.number
        return _editor(form, post, stale=newer, status=409)
    except RenderError as exc:
        db().rollback()
        form.body.errors.append(exc.message)
        return _editor(form, post, status=422)
    except InvalidInput as exc:
        db().rollback()
        _field_error(form, exc, "body")
        return _editor(form, post, status=422)
    drafts.drop(db(), user, post)  # saved as a revision: the working copy is no longer ahead of it
    flash(
        f"Saved revision {revision.number}." if created else "Nothing changed, so no new revision was saved."
    )
    return redirect(url_for(".edit_post", post_id=post.id), 303)


@bp.post("/posts/<int:post_id>/submit")
def submit_post(post_id: int) -> Any:
    post = posts.get_post(db(), post_id)
    user = require(current_user(), "post.submit", post)
    form = SubmitForm(request.form)
    assert post.current_revision is not None
    editor_form = EditorForm(data=_form_data(post.current_revision))  # the saved text, not this form's
    editor_form.topics.choices = [SelectChoice(t.name, t.name) for t in posts.all_topics(db())]
    valid = form.validate()
    if _asks_interests(post) and form.touches_interests.data not in ("yes", "no"):
        form.touches_interests.errors = [
            *form.touches_interests.errors,
            "Say whether this post touches an interest in your disclosure.",
        ]
        valid = False
    if not valid:
        return _editor(editor_form, post, submit_form=form, status=422)
    touches = {"yes": True, "no": False}.get(form.touches_interests.data or "")
    try:
        editorial.submit(
            db(),
            user,
            post,
            gate_settings(),
            touches_interests=touches,
            interest_statement=form.interest_statement.data or "",
        )
    except PublishBlocked as exc:
        db().rollback()
        return _editor(editor_form, post, submit_form=form, blocked=exc.gates, status=422)
    flash(
        f"Revision {post.current_revision.number} is in review. An editor will approve it or ask for changes."
    )
    return redirect(url_for(".dashboard"), 303)


@bp.get("/posts/<int:post_id>/withdraw")
def withdraw_confirm(post_id: int) -> Any:
    post = posts.get_post(db(), post_id)
    user = require(current_user(), "post.view_unpublished", post)
    title = post.current_revision.title if post.current_revision else ""
    scheduled = post.review_state == "scheduled"
    possible = post.review_state in ("in_review", "scheduled")
    notice = "" if possible else "This post is not in review, so there is nothing to withdraw."
    if not can(user, "post.withdraw", post):
        possible, notice = False, "Only the post’s author can withdraw it from review."
    return desk.confirm_page(
        title=f"Withdraw “{title}” from review?",
        consequences=[
            "The post leaves the editors’ review queue and goes back to you to edit.",
            *(
                ["Its approval is withdrawn: it will not be published at the scheduled time."]
                if scheduled
                else []
            ),
            "To publish it, you submit it again and an editor approves it again.",
        ],
        action=url_for(".withdraw_post", post_id=post.id),
        button="Withdraw from review",
        back_url=url_for(".edit_post", post_id=post.id),
        danger=True,
        notice=notice,
        can_confirm=possible,
    )


@bp.post("/posts/<int:post_id>/withdraw")
def withdraw_post(post_id: int) -> Any:
    post = posts.get_post(db(), post_id)
    user = require(current_user(), "post.view_unpublished", post)
    if not desk.confirmed():
        return redirect(url_for(".withdraw_confirm", post_id=post.id), 303)
    editorial.withdraw(db(), user, post)
    flash("Withdrawn from review. Submit it again when it is ready.")
    return redirect(url_for(".edit_post", post_id=post.id), 303)


# --- review -------------------------------------------------------------------------------------------


@bp.get("/reviews")
def reviews() -> Any:
    require(current_user(), "post.request_changes")
    now = utc_now()
    after, before = paging.cursors()
    listed = editorial.review_queue(db(), after=after, before=before, per_page=editorial.REVIEW_QUEUE_PAGE)
    rows = listed.rows
    queue = [(post, review, _age((now - review.submitted_at).total_seconds())) for post, review in rows]
    return render_template(
        "staff/reviews.html",
        queue=queue,
        waiting=editorial.open_review_count(db()),
        **paging.pager(listed, after, before),
    )


def _review_page(
    post: Post,
    *,
    status: int = 200,
    notice: str = "",
    blocked: list[dict[str, str]] | None = None,
    **forms: Any,
) -> Any:
    revision = post.current_revision
    assert revision is not None
    review = editorial.open_review(db(), post)
    gates: list[GateResult] = editorial.check_gates(
        db(), post, gate_settings(), review.touches_interests if review else None
    )
    live = post.published_revision
    diff = diff_html(live.html, revision.html) if live is not None and live.id != revision.id else None
    overridable = [r for r in gates if r.gate in OVERRIDABLE and not r.passes]
    override_form = forms.get("override_form") or OverrideForm(data={"revision": revision.number})
    if overridable and "override_form" not in forms:
        override_form.gate.data = overridable[0].gate.value
    user = current_user()
    writer_ids = editorial.writers_since_publication(db(), post, revision)
    writers = [u for u in (db().get(User, i) for i in sorted(writer_ids)) if u is not None]
    wrote_it = user is not None and user.id in writer_ids
    return render_template(
        "staff/review.html",
        post=post,
        revision=revision,
        review=review,
        gates=gates,
        live=live,
        diff=diff,
        writers=writers,
        wrote_it=wrote_it,
        blocked=blocked or [],
        notice=notice,
        overridable=overridable,
        author_disclosure=disclosures.latest(db(), post.author),
        may_approve=can(user, "post.approve", post) and not wrote_it,
        approve_form=_with_hint(forms.get("approve_form") or ApproveForm(data={"revision": revision.number})),
        changes_form=forms.get("changes_form") or RequestChangesForm(),
        override_form=override_form,
        retract_form=forms.get("retract_form") or RetractForm(),
        can_retract=editorial.can_move(post, "retract"),
    ), status


@bp.get("/reviews/<int:post_id>")
def review_post(post_id: int) -> Any:
    post = posts.get_post(db(), post_id)
    require(current_user(), "post.request_changes", post)
    return _review_page(post)


def _publish_at(form: ApproveForm) -> tuple[datetime | None, str] | None:
    """The form's "publish at", entered on the editor's own wall clock, as a UTC instant and a note.

    A time the clocks skip (spring forward) is refused on the field; a time they show twice (fall
    back) takes the earlier of the two, and the note says so. None when the field has an error.
    """
    if form.publish_at.data is None:
        return None, ""
    where = timezones.viewer_zone()
    try:
        moment = from_local(form.publish_at.data, where)
    except LocalTimeError:
        form.publish_at.errors = [
            *form.publish_at.errors,
            f"{form.publish_at.data:%-d %B %Y, %H:%M} does not exist in {where.key}: the clocks go forward "
            "over it. Choose a time before or after the change.",
        ]
        return None
    note = ""
    if moment.ambiguous:
        note = (
            f"{form.publish_at.data:%-d %B %Y, %H:%M} happens twice in {where.key} (the clocks go back); "
            f"the first one is used: {timezones.local_text(moment.utc, 'long', where)}."
        )
    return moment.utc, note


def _with_hint(form: ApproveForm) -> ApproveForm:
    form.publish_at.description = _approve_hint()
    field = form.publish_at
    if field.data is None and field.raw_data and any(field.raw_data):
        # Not a date and time at all: say what was typed in the message, and give the input back
        # empty, since a datetime-local control cannot hold it (the page would not be valid HTML).
        typed = "".join(c for c in " ".join(map(str, field.raw_data))[:40] if c.isprintable())
        field.errors = [f"“{typed}” is not a date and time. Pick one, or leave it empty to publish now."]
        field.raw_data = []
    return form


def _approve_hint() -> str:
    return (
        f"Your time zone: {timezones.viewer_zone().key} (change it on Your settings). "
        "In the past or empty: published at once."
    )


def _approve_consequences(
    post: Post, revision_number: int, publish_at: datetime | None, note: str
) -> list[str]:
    title = post.current_revision.title if post.current_revision else ""
    lines = []
    if publish_at is None or publish_at <= utc_now():
        lines.append(f"Revision {revision_number} of “{title}” is published now, with your name as approver.")
    else:
        lines.append(
            f"Revision {revision_number} of “{title}” is scheduled for "
            f"{timezones.local_text(publish_at, 'long')}, with your name as approver."
        )
        lines.append("An edit, a new disclosure or a changed gate before then withdraws the approval.")
    if note:
        lines.append(note)
    if post.published_revision is not None:
        lines.append("Readers see the change as a dated correction; the earlier text stays in the history.")
    else:
        lines.append("The post gets its public address from its title; published text is never rewritten.")
    return lines


@bp.get("/reviews/<int:post_id>/approve")
def approve_confirm(post_id: int) -> Any:
    """Approving is asked twice: what will be published, and when, on the approver's own clock."""
    post = posts.get_post(db(), post_id)
    user = require(current_user(), "post.approve", post)
    form = ApproveForm(request.args)
    form.publish_at.description = _approve_hint()
    if not form.validate() or (resolved := _publish_at(form)) is None:
        return _review_page(post, approve_form=form, status=422)
    publish_at, note = resolved
    notice = ""
    current = post.current_revision
    if current is None or current.number != form.revision.data or post.status != "in_review":
        notice = "This is no longer the revision in review: go back to the review page to see what changed."
    elif user.id in editorial.writers_since_publication(db(), post, current):
        notice = (
            "You wrote part of this text: another editor must approve it. Nobody approves their own words."
        )
    return desk.confirm_page(
        title=f"Approve “{current.title if current else ''}”?",
        consequences=_approve_consequences(post, form.revision.data or 0, publish_at, note),
        action=url_for(".approve_post", post_id=post.id),
        hidden=[("revision", form.revision.data), ("publish_at", request.args.get("publish_at", ""))],
        button=f"Approve revision {form.revision.data}",
        back_url=url_for(".review_post", post_id=post.id),
        notice=notice,
        can_confirm=not notice,
    )


@bp.post("/reviews/<int:post_id>/approve")
def approve_post(post_id: int) -> Any:
    post = posts.get_post(db(), post_id)
    user = require(current_user(), "post.approve", post)
    form = ApproveForm(request.form)
    form.publish_at.description = _approve_hint()
    if not form.validate() or (resolved := _publish_at(form)) is None:
        return _review_page(post, approve_form=form, status=422)
    if not desk.confirmed():
        return redirect(
            url_for(
                ".approve_confirm",
                post_id=post.id,
                revision=form.revision.data,
                publish_at=request.form.get("publish_at") or None,
            ),
            303,
        )
    publish_at, note = resolved
    try:
        publication = editorial.approve(
            db(), user, post, form.revision.data, gate_settings(), publish_at=publish_at
        )
    except StaleRevision as exc:
        db().rollback()
        return _review_page(post, notice=exc.message, status=409)
    except PublishBlocked as exc:
        db().rollback()
        return _review_page(post, blocked=exc.gates, status=422)
    title = post.current_revision.title if post.current_revision else post.slug
    if publication is None and post.publish_at is not None:
        flash(
            f"Approved “{title}”; it will be published "
            f"{timezones.local_text(post.publish_at, 'long')}. {note}".strip()
        )
    else:
        flash(f"Approved and published “{title}”.")
    return redirect(url_for(".reviews"), 303)


@bp.post("/reviews/<int:post_id>/request-changes")
def request_changes(post_id: int) -> Any:
    post = posts.get_post(db(), post_id)
    user = require(current_user(), "post.request_changes", post)
    form = RequestChangesForm(request.form)
    if not form.validate():
        return _review_page(post, changes_form=form, status=422)
    editorial.request_changes(db(), user, post, form.note.data or "")
    flash("Sent back to the author with your note.")
    return redirect(url_for(".reviews"), 303)


@bp.post("/reviews/<int:post_id>/override")
def override_gate(post_id: int) -> Any:
    post = posts.get_post(db(), post_id)
    user = require(current_user(), "post.override_gate", post)
    form = OverrideForm(request.form)
    if not form.validate():
        return _review_page(post, override_form=form, status=422)
    try:
        override = editorial.override_gate(
            db(), user, post, form.gate.data or "", form.justification.data or "", form.revision.data
        )
    except StaleRevision as exc:
        db().rollback()
        return _review_page(post, notice=exc.message, status=409)
    except InvalidInput as exc:
        db().rollback()
        _field_error(form, exc, "justification")
        return _review_page(post, override_form=form, status=422)
    flash(
        f"The {GATE_LABELS[Gate(override.gate)].lower()} gate is overridden for revision "
        f"{override.revision_number}, with your justification on the record."
    )
    return redirect(url_for(".review_post", post_id=post.id), 303)


def _retract_confirm(post: Post, form: RetractForm, *, status: int = 200) -> Any:
    title = post.published_revision.title if post.published_revision else ""
    return desk.confirm_page(
        title=f"Retract “{title}”?",
        consequences=[
            "Readers see the post marked “Retracted”, with today’s date and your reason, "
            "its text struck through.",
            "It keeps its address, its history and its place in the feeds; nothing is deleted.",
            "A retraction is not undone: a retracted post cannot be revised or published again.",
        ],
        action=url_for(".retract_post", post_id=post.id),
        fields=[form.reason],
        button="Retract the post",
        back_url=url_for(".review_post", post_id=post.id),
        danger=True,
        notice="" if editorial.can_move(post, "retract") else "This post cannot be retracted now.",
        can_confirm=editorial.can_move(post, "retract"),
        status=status,
    )


@bp.get("/reviews/<int:post_id>/retract")
def retract_confirm(post_id: int) -> Any:
    post = posts.get_post(db(), post_id)
    require(current_user(), "post.retract", post)
    return _retract_confirm(post, RetractForm(request.args))


@bp.post("/reviews/<int:post_id>/retract")
def retract_post(post_id: int) -> Any:
    post = posts.get_post(db(), post_id)
    user = require(current_user(), "post.retract", post)
    form = RetractForm(request.form)
    if not form.validate():
        return _retract_confirm(post, form, status=422)
    if not desk.confirmed():
        return redirect(url_for(".retract_confirm", post_id=post.id, reason=form.reason.data), 303)
    editorial.retract(db(), user, post, form.reason.data or "")
    flash("Retracted. The post keeps its address and history, with your reason shown to readers.")
    return redirect(url_for(".review_post", post_id=post.id), 303)


@bp.post("/posts/<int:post_id>/comments/close")
def close_comments(post_id: int) -> Any:
    """An editor closes a post's comments (audited): the form gives way to "Comments are closed"."""
    post = posts.get_post(db(), post_id)
    user = require(current_user(), "comments.close", post)
    reason = clean_text(request.form.get("reason", ""), "reason", max_chars=500, required=False)
    closing.close(db(), user, post, reason)
    flash("Comments are closed on this post. Published comments stay; no new ones are taken.")
    return redirect(url_for(".edit_post", post_id=post.id), 303)


@bp.post("/posts/<int:post_id>/comments/reopen")
def reopen_comments(post_id: int) -> Any:
    post = posts.get_post(db(), post_id)
    user = require(current_user(), "comments.close", post)
    closing.reopen(db(), user, post)
    flash("Comments are open again on this post.")
    return redirect(url_for(".edit_post", post_id=post.id), 303)


# --- disclosure -----------------------------------------------------------------------------------------


def _disclosure_data(latest: Disclosure | None) -> dict[str, Any]:
    """Start a new version from the latest one: renewing an unchanged disclosure is one click."""
    rows: list[dict[str, Any]] = []
    if latest is not None:
        rows = [
            {
                "entity": i["entity"],
                "relationship": i["relationship"],
                "paid": "yes" if i.get("paid") else "no",
                "since": i.get("since", ""),
            }
            for i in latest.interests
        ]
    rows += [{"paid": "yes"}] * max(INTEREST_ROWS - len(rows), 2 if rows else 0)
    return {
        "no_conflicts": None if latest is None else ("yes" if latest.no_conflicts else "no"),
        "interests": rows,
        "statement": latest.statement if latest else "",
    }


_BAD_ROW_NAME = re.compile(r"interests-(?![0-9]+-)")


@bp.route("/disclosure", methods=["GET", "POST"])
def disclosure() -> Any:
    user = require(current_user(), "disclosure.record")
    if request.method == "GET":
        form = DisclosureForm(data=_disclosure_data(disclosures.latest(db(), user)))
    else:
        # WTForms reads a row's index with int() after str.isdigit(), which "²" passes: refuse such names.
        if any(_BAD_ROW_NAME.match(key) for key in request.form):
            raise InvalidInput(
                "The form's interest rows are numbered 0, 1, 2 …; reload the page and try again."
            )
        form = DisclosureForm(request.form)
        if form.validate():
            try:
                disclosures.record_disclosure(
                    db(),
                    user,
                    no_conflicts=form.no_conflicts.data == "yes",
                    interests=form.filled_interests(),
                    statement=form.statement.data or "",
                )
                editorial.disclosure_changed(db(), user)
            except InvalidInput as exc:
                db().rollback()
                target = form.statement if exc.details.get("field") == "statement" else form.no_conflicts
                target.errors = [*target.errors, exc.message]
            else:
                flash("Disclosure recorded. Earlier versions are kept in the history below.")
                return redirect(url_for(".disclosure"), 303)
    status = 422 if request.method == "POST" else 200
    return render_template(
        "staff/disclosure.html",
        form=form,
        status=_disclosure_status(user),
        failed=status == 422,
        history=disclosures.history(db(), user),
        max_age=_coi_max_age(),
    ), status


# --- your settings ------------------------------------------------------------------------------------


def _zone_choices() -> list[tuple[str, str]]:
    organisation = current_app.config["TIMEZONE"]
    return [("", f"The organisation’s ({organisation})")] + [
        (name, name) for name in sorted(available_zones())
    ]


@bp.route("/me", methods=["GET", "POST"])
def my_settings() -> Any:
    """Each member of staff's own settings; only their own, so the page has no user in its address."""
    user = require(current_user(), "post.view_unpublished")
    form = (
        SettingsForm(request.form)
        if request.method == "POST"
        else SettingsForm(data={"timezone": user.timezone or ""})
    )
    form.timezone.choices = _zone_choices()
    status = 200
    if request.method == "POST":
        if form.validate():
            try:
                accounts.set_timezone(db(), user, user, form.timezone.data)
            except InvalidInput as exc:
                db().rollback()
                _field_error(form, exc, "timezone")
            else:
                shown = user.timezone or f"the organisation’s, {current_app.config['TIMEZONE']}"
                flash(f"Saved. Times are now shown in {shown}.")
                return redirect(url_for(".my_settings"), 303)
        status = 422
    return render_template(
        "staff/settings.html", form=form, now=utc_now(), organisation_zone=current_app.config["TIMEZONE"]
    ), status


# --- audit ----------------------------------------------------------------------------------------------


@bp.get("/audit")
def audit_log() -> Any:
    require(current_user(), "audit.view")
    after, before = paging.cursors()
    listed = audit.entries(db(), after=after, before=before, per_page=AUDIT_PER_PAGE)
    entries = listed.rows
    titles = posts.posts_by_id(db(), {e.post_id for e in entries if e.post_id is not None})
    return render_template(
        "staff/audit.html",
        entries=entries,
        **paging.pager(listed, after, before),
        post=None,
        posts_by_id=titles,
    )


@bp.get("/posts/<int:post_id>/audit")
def post_audit(post_id: int) -> Any:
    require(current_user(), "audit.view")
    post = posts.get_post(db(), post_id)
    after, before = paging.cursors()
    listed = audit.entries(db(), post_id=post.id, after=after, before=before, per_page=AUDIT_PER_PAGE)
    entries = listed.rows
    return render_template(
        "staff/audit.html",
        entries=entries,
        **paging.pager(listed, after, before),
        post=post,
        posts_by_id={post.id: post},
    )
