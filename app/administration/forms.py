"""Forms of account administration (plain WTForms; CSRFProtect checks every POST's token)."""

from __future__ import annotations

from wtforms import (
    EmailField,
    Form,
    IntegerField,
    PasswordField,
    SelectChoice,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from app.accounts.models import ROLE_VALUES
from app.accounts.passwords import MAX_CHARS, MIN_CHARS
from app.accounts.services import DEFAULT_TOKEN_DAYS, MAX_TOKEN_DAYS, TOKEN_NAME_CHARS
from app.web.forms import TextSafe

ROLE_LABELS = {
    "author": "Author: writes posts and corrections",
    "editor": "Editor: approves and publishes",
    "moderator": "Moderator: triages comments",
    "compliance": "Compliance: reviews external sites for the Office for Compliance",
    "admin": "Admin: manages staff accounts",
}
PASSWORD_HINT = (
    f"At least {MIN_CHARS} characters; spaces and any symbols are welcome. Common passwords, and ones "
    "containing your name or e-mail address, are refused."
)


class RolesField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def _roles() -> RolesField:
    return RolesField(
        "Roles", choices=[SelectChoice(r, ROLE_LABELS[r]) for r in ROLE_VALUES], validate_choice=True
    )


class ProfileForm(Form):
    email = EmailField("E-mail", validators=[DataRequired(), Length(max=320), TextSafe()])
    name = StringField("Name", validators=[DataRequired(), Length(max=200), TextSafe()])
    title = StringField("Job title", validators=[Length(max=200), TextSafe()])
    department = StringField("Department", validators=[Length(max=200), TextSafe()])
    bio = TextAreaField("Short biography", validators=[Length(max=5000), TextSafe(multiline=True)])
    photo_alt = StringField("Photo description (alt text)", validators=[Length(max=300), TextSafe()])


class NewUserForm(ProfileForm):
    roles = _roles()


class RolesForm(Form):
    roles = _roles()


class TokenForm(Form):
    name = StringField("Token name", validators=[DataRequired(), Length(max=TOKEN_NAME_CHARS), TextSafe()])
    days = IntegerField(
        "Days until it expires",
        default=DEFAULT_TOKEN_DAYS,
        validators=[Optional(), NumberRange(min=1, max=MAX_TOKEN_DAYS)],
    )


class PasswordChangeForm(Form):
    current_password = PasswordField("Current password", validators=[DataRequired(), Length(max=MAX_CHARS)])
    password = PasswordField("New password", validators=[DataRequired(), Length(max=MAX_CHARS)])


class NewPasswordForm(Form):
    password = PasswordField("New password", validators=[DataRequired(), Length(max=MAX_CHARS)])


class ForgotForm(Form):
    email = EmailField("E-mail", validators=[DataRequired(), Length(max=320), TextSafe()])
