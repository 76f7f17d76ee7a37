"""The staff desk's forms, as plain WTForms (no Flask here, so no FlaskForm).

CSRF is not a field of these forms: ``CSRFProtect`` checks the ``csrf_token`` of every POST before a
view runs, and every staff template puts that token in every form. The text rules are the JSON API's
(``TextSafe``), so a form and an API call accept exactly the same input.
"""

from __future__ import annotations

from wtforms import (
    BooleanField,
    DateTimeLocalField,
    FieldList,
    Form,
    FormField,
    HiddenField,
    IntegerField,
    RadioField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    widgets,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, Regexp

from app.disclosures.models import RELATIONSHIP_LABELS
from app.posts.models import CHANGE_KINDS
from app.posts.services import MAX_TITLE_CHARS
from app.web.forms import TextSafe

MAX_BODY_CHARS = 200_000
MAX_NOTE_CHARS = 2000
INTEREST_ROWS = 5
MAX_INT = 2**31 - 1

KIND_LABELS = {
    "correction": "Correction: the post said something wrong",
    "clarification": "Clarification: the post was unclear or could mislead",
    "update": "Update: something changed since publication",
    "minor": "Minor: spelling, formatting or a broken link (no note needed)",
}


class EditorForm(Form):
    """A revision: the same fields as ``POST /api/v1/posts/<id>/revisions``."""

    title = StringField(
        "Title", validators=[DataRequired("Give the post a title."), Length(max=MAX_TITLE_CHARS), TextSafe()]
    )
    body = TextAreaField(
        "Text (Markdown)",
        validators=[
            DataRequired("Write the post's text."),
            TextSafe(multiline=True, max_chars=MAX_BODY_CHARS),
        ],
    )
    references = TextAreaField(
        "References (one URL per line)", validators=[TextSafe(multiline=True, max_chars=100_000)]
    )
    personal_view = BooleanField(
        "Personal perspective (adds the ethics code's disclaimer: my views, not my employer's)"
    )
    kind = SelectField(
        "Kind of change",
        choices=[SelectChoice("", "Choose the kind of change")]
        + [SelectChoice(k.value, KIND_LABELS[k.value]) for k in CHANGE_KINDS],
        validators=[Optional()],
    )
    note = TextAreaField(
        "Note for readers (what changed and why)",
        validators=[TextSafe(multiline=True, max_chars=MAX_NOTE_CHARS)],
    )
    base_revision = IntegerField(widget=HiddenField.widget, validators=[Optional(), NumberRange(1, MAX_INT)])
    # The editors' list, as checkboxes; the choices are set per request (app.staff.views._editor_form),
    # and an unknown name is the service's to refuse, on this field.
    topics = SelectMultipleField(
        "Topics",
        choices=[],
        validate_choice=False,
        widget=widgets.ListWidget(prefix_label=False),
        option_widget=widgets.CheckboxInput(),
    )
    # Only on a new post: a post's type never changes.
    post_type = RadioField(
        "What are you writing?",
        choices=[
            SelectChoice("post", "A post: dated, on the home page, in the feed and its topics"),
            SelectChoice("page", "A page: a standing text such as About or a policy, at /pages/…"),
        ],
        default="post",
        validators=[Optional()],
    )


class SubmitForm(Form):
    """For review; ``touches_interests`` is asked only when the author's disclosure lists interests."""

    touches_interests = RadioField(
        "Does this post touch an interest listed in your disclosure?",
        choices=[SelectChoice("yes", "Yes"), SelectChoice("no", "No")],
        validators=[Optional()],
    )
    interest_statement = TextAreaField(
        "Statement for readers about that interest (optional)",
        validators=[TextSafe(multiline=True, max_chars=MAX_NOTE_CHARS)],
    )


class ApproveForm(Form):
    revision = IntegerField(widget=HiddenField.widget, validators=[InputRequired(), NumberRange(1, MAX_INT)])
    publish_at = DateTimeLocalField(
        "Publish at (your time zone; leave empty to publish now)",
        format=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"],
        validators=[Optional()],
    )


class RequestChangesForm(Form):
    note = TextAreaField(
        "What needs to change",
        validators=[
            DataRequired("Say what needs to change."),
            TextSafe(multiline=True, max_chars=MAX_NOTE_CHARS),
        ],
    )


class OverrideForm(Form):
    revision = IntegerField(widget=HiddenField.widget, validators=[InputRequired(), NumberRange(1, MAX_INT)])
    gate = SelectField(
        "Gate", choices=[SelectChoice("privacy", "Patient privacy"), SelectChoice("references", "References")]
    )
    justification = TextAreaField(
        "Justification, kept on the record",
        validators=[
            DataRequired("An override needs a justification on the record."),
            TextSafe(multiline=True, max_chars=MAX_NOTE_CHARS),
        ],
    )


class RetractForm(Form):
    reason = TextAreaField(
        "Reason, shown to readers",
        validators=[
            DataRequired("A retraction needs a reason readers will see."),
            TextSafe(multiline=True, max_chars=MAX_NOTE_CHARS),
        ],
    )


class InterestForm(Form):
    """One row of the disclosure table. A row with no entity is blank and ignored."""

    entity = StringField("Company or organisation", validators=[Length(max=200), TextSafe()])
    relationship = SelectField(
        "Relationship",
        choices=[SelectChoice("", "Choose")]
        + [SelectChoice(r.value, label) for r, label in RELATIONSHIP_LABELS.items()],
        validators=[Optional()],
    )
    paid = RadioField(
        "Paid",
        choices=[SelectChoice("yes", "Paid"), SelectChoice("no", "Unpaid")],
        default="yes",
        validators=[Optional()],
    )
    since = StringField(
        "Since (YYYY or YYYY-MM)",
        validators=[
            Optional(),
            Length(max=10),
            Regexp(r"^\d{4}(-\d{2}(-\d{2})?)?$", message="Write a year like 2024, or 2024-05."),
        ],
    )


class DisclosureForm(Form):
    no_conflicts = RadioField(
        "Your disclosure",
        choices=[
            SelectChoice("yes", "I have no relevant financial relationships"),
            SelectChoice("no", "I have the relationships listed below"),
        ],
        validators=[InputRequired("Choose one.")],
    )
    interests = FieldList(FormField(InterestForm), min_entries=INTEREST_ROWS, max_entries=50)
    statement = TextAreaField(
        "Statement (optional)", validators=[TextSafe(multiline=True, max_chars=MAX_NOTE_CHARS)]
    )

    def validate(self, extra_validators: dict[str, list[object]] | None = None) -> bool:
        """Besides each field: a named entity needs a relationship, and the choice must match the rows."""
        ok = super().validate(extra_validators)
        for entry in self.interests:
            row = entry.form
            if (row.entity.data or "").strip() and not row.relationship.data:
                row.relationship.errors = [*row.relationship.errors, "Choose the relationship."]
                ok = False
        filled = bool(self.filled_interests())
        if self.no_conflicts.data == "yes" and filled:
            self.no_conflicts.errors = [
                *self.no_conflicts.errors,
                "You chose “no relevant financial relationships” but listed some: "
                "clear the rows, or choose the other option.",
            ]
            ok = False
        elif self.no_conflicts.data == "no" and not filled:
            self.no_conflicts.errors = [
                *self.no_conflicts.errors,
                "List at least one relationship below, or choose "
                "“I have no relevant financial relationships”.",
            ]
            ok = False
        return ok

    def filled_interests(self) -> list[dict[str, object]]:
        """The rows with an entity, as record_disclosure expects them."""
        return [
            {
                "entity": row.entity.data,
                "relationship": row.relationship.data or None,
                "paid": row.paid.data != "no",
                "since": row.since.data or "",
            }
            for row in (entry.form for entry in self.interests)
            if (row.entity.data or "").strip()
        ]


class SettingsForm(Form):
    """Your own settings: for now, the time zone every staff page shows times in."""

    timezone = SelectField("Your time zone", validators=[Optional()])
