"""The external sites desk's forms: plain WTForms, CSRF checked by ``CSRFProtect`` before the view."""

from __future__ import annotations

from wtforms import Form, RadioField, SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length

from app.sites.models import Capacity, SiteKind, Verdict
from app.sites.services import CAPACITY_LABELS, MAX_NOTE
from app.web.forms import TextSafe

KIND_LABELS = {
    SiteKind.VIDEO: "Video",
    SiteKind.PHOTO: "Photo sharing",
    SiteKind.MAPS: "Maps",
    SiteKind.SOCIAL: "Social",
}


class ProposeSiteForm(Form):
    name = StringField("Site name", validators=[DataRequired(), Length(max=120), TextSafe()])
    kind = SelectField(
        "Kind of site", choices=[SelectChoice(k.value, label) for k, label in KIND_LABELS.items()]
    )
    hosts = TextAreaField(
        "Host names", validators=[DataRequired(), Length(max=4000), TextSafe(multiline=True, max_chars=4000)]
    )
    embed_template = StringField("Embed link template (optional)", validators=[Length(max=500), TextSafe()])
    note = TextAreaField(
        "Why the blog needs this site",
        validators=[DataRequired(), Length(max=MAX_NOTE), TextSafe(multiline=True, max_chars=MAX_NOTE)],
    )


class DecideForm(Form):
    capacity = RadioField(
        "Deciding for", choices=[SelectChoice(c.value, CAPACITY_LABELS[c]) for c in Capacity]
    )
    verdict = RadioField(
        "Decision",
        choices=[
            SelectChoice(Verdict.APPROVE.value, "Approve"),
            SelectChoice(Verdict.REVOKE.value, "Revoke (or refuse)"),
        ],
    )
    note = TextAreaField(
        "Note",
        validators=[DataRequired(), Length(max=MAX_NOTE), TextSafe(multiline=True, max_chars=MAX_NOTE)],
    )
