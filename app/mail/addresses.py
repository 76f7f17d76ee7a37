"""E-mail addresses that readers give us (a comment's writer, a contact message's sender).

Checked by one rule wherever they arrive (the forms, the JSON API, tests) and stored lower-cased, so
"did this address write before?" and "stop e-mailing this address" compare like with like. No Flask here.
"""

from __future__ import annotations

import re

from app.errors import InvalidInput
from app.text import clean_text

MAX_EMAIL_CHARS = 320
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s.]+(\.[^@\s.]+)+$")


def clean_email(value: object, field: str) -> str:
    """The address, lower-cased; InvalidInput naming ``field`` when it is not one."""
    email = clean_text(value, field, max_chars=MAX_EMAIL_CHARS).lower()
    if not EMAIL.match(email):
        raise InvalidInput(f"{field} must be an e-mail address, like name@example.org.", field=field)
    return email
