"""Staff pages for health information: mark a post, record its medical review, list what is due again.

Marking is for the post's author or an editor; recording a review is an editor's act (audited, append-
only). The list of posts due for re-review is linked from the staff navigation for editors.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from wtforms import DateField, RadioField, SelectChoice, SelectField
from wtforms.validators import DataRequired, InputRequired

from app.accounts.permissions import can, require
from app.clock import utc_now
from app.errors import InvalidInput
from app.medical import services
from app.posts.models import Post
from app.web import timezones
from app.web.auth import current_user
from app.web.database import db
from app.web.forms import Form

bp = Blueprint("medical", __name__, url_prefix="/staff")


class HealthForm(Form):
    health = RadioField(
        "Is this post health information?",
        choices=[
            SelectChoice("yes", "Yes: health information (shown to search engines as a medical web page)"),
            SelectChoice("no", "No"),
        ],
        validators=[InputRequired(message="Choose yes or no.")],
    )


def _reviewer_id(value: Any) -> int | None:
    """The select's value as a user id; the placeholder's empty value is no choice (None)."""
    if value is None or value == "":
        return None
    return int(value)  # a ValueError here is WTForms' "not a valid choice"


class ReviewForm(Form):
    reviewer_id = SelectField(
        "Medically reviewed by",
        coerce=_reviewer_id,
        validators=[DataRequired(message="Choose the reviewer.")],
    )
    reviewed_on = DateField("Reviewed on", validators=[DataRequired(message="Give the date of the review.")])
    due_on = DateField("Review again by", validators=[DataRequired(message="Give the date it falls due.")])


def today() -> date:
    """The organisation's date: what "reviewed today" and "due" mean to its editors."""
    return utc_now().astimezone(timezones.organisation_zone()).date()


def _review_form(post: Post) -> ReviewForm:
    form = ReviewForm()
    form.reviewer_id.choices = [SelectChoice("", "Choose a member of staff")] + [
        SelectChoice(u.id, f"{u.name}{', ' + u.title if u.title else ''}")
        for u in services.reviewers(db())
        if u.id != post.author_id
    ]
    if request.method == "GET":
        form.reviewed_on.data = today()
        form.due_on.data = today() + timedelta(days=365)
    return form


def _page(
    post: Post,
    *,
    health_form: HealthForm | None = None,
    review_form: ReviewForm | None = None,
    status: int = 200,
) -> Any:
    actor = current_user()
    health = services.is_health(db(), post.id)
    if health_form is None:
        health_form = HealthForm()
        health_form.health.data = "yes" if health else "no"
    return render_template(
        "medical/post.html",
        post=post,
        health=health,
        health_form=health_form,
        review_form=review_form or _review_form(post),
        reviews=services.reviews(db(), post.id),
        can_mark=can(actor, "post.revise", post),
        can_review=can(actor, "post.medical_review", post),
        today=today(),
    ), status


@bp.get("/posts/<int:post_id>/health")
def post_page(post_id: int) -> Any:
    require(current_user(), "post.view_unpublished")
    return _page(services.get_review_post(db(), post_id))


@bp.post("/posts/<int:post_id>/health")
def mark(post_id: int) -> Any:
    actor = require(current_user(), "post.view_unpublished")
    post = services.get_review_post(db(), post_id)
    require(actor, "post.revise", post)
    form = HealthForm()
    if not form.validate_on_submit():
        return _page(post, health_form=form, status=422)
    changed = services.mark_health(db(), actor, post, form.health.data == "yes")
    if changed is None:
        flash("Nothing changed.")
    else:
        flash(
            "Marked as health information." if changed.health else "No longer marked as health information."
        )
    return redirect(url_for("medical.post_page", post_id=post.id), 303)


@bp.post("/posts/<int:post_id>/medical-reviews")
def record(post_id: int) -> Any:
    actor = require(current_user(), "post.view_unpublished")
    post = services.get_review_post(db(), post_id)
    require(actor, "post.medical_review", post)
    form = _review_form(post)
    if not form.validate_on_submit():
        return _page(post, review_form=form, status=422)
    assert form.reviewed_on.data is not None and form.due_on.data is not None
    data = services.ReviewInput(form.reviewer_id.data, form.reviewed_on.data, form.due_on.data)
    try:
        _review, created = services.record_review(db(), actor, post, data, today=today())
    except InvalidInput as exc:
        target = form._fields.get(str(exc.details.get("field", ""))) or form.reviewer_id
        target.errors = [exc.message]
        return _page(post, review_form=form, status=422)
    flash("Medical review recorded." if created else "That review was already recorded.")
    return redirect(url_for("medical.post_page", post_id=post.id), 303)


@bp.get("/medical-reviews/due")
def due() -> Any:
    actor = require(current_user(), "post.view_unpublished")
    require(actor, "post.medical_review")
    return render_template("medical/due.html", items=services.due_for_review(db(), today()), today=today())
