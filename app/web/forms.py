"""Form helpers shared by every HTML form: the same text rules as the JSON API."""

from __future__ import annotations

from typing import Any

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
            field.data = clean_text(field.data, field.label.text, max_chars=self.max_chars,
                                    required=False, multiline=self.multiline)
        except InvalidInput as exc:
            raise ValidationError(exc.message) from None
