"""Form helpers shared by every HTML form: the same text rules as the JSON API, and form data only."""

from __future__ import annotations

from typing import Any

from flask import request
from flask_wtf import FlaskForm
from flask_wtf.form import SUBMIT_METHODS
from werkzeug.datastructures import CombinedMultiDict
from wtforms import ValidationError

from app.errors import InvalidInput
from app.text import clean_text


class TextSafe:
    """Refuse NUL bytes, lone surrogates and control characters, as the API does."""

    def __init__(self, multiline: bool = False, max_chars: int = 200_000) -> None:
        self.multiline = multiline
        self.max_chars = max_chars

    def __call__(self, form: Any, field: Any) -> None:
        if not field.data:
            return
        try:
            field.data = clean_text(
                field.data,
                field.label.text,
                max_chars=self.max_chars,
                required=False,
                multiline=self.multiline,
            )
        except InvalidInput as exc:
            raise ValidationError(exc.message) from None


class Form(FlaskForm):
    """The base of every HTML form: it reads the submitted form fields, never a JSON body.

    Without form data, Flask-WTF feeds a JSON body to the fields. A JSON list, number or string (sent
    with a valid X-CSRFToken header, or to a form without CSRF) then crashes WTForms, and a lone
    surrogate in it crashes the re-rendered page: 500s. Browsers post form data, so only that counts.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if not args and "formdata" not in kwargs and request.method in SUBMIT_METHODS:
            kwargs["formdata"] = CombinedMultiDict((request.files, request.form))
        super().__init__(*args, **kwargs)
