"""E-mail addresses that readers give us (a comment's writer, a contact message's sender).

Checked by one rule wherever they arrive (the forms, the JSON API, tests): email-validator's syntax
rules for a single deliverable mailbox (no lists such as ``a@x.org,b@y.org``, no quoted local parts,
no display names, no IP-literal domains), with the domain in its ASCII (IDNA) form so our SMTP relay
can carry it. Stored lower-cased, so "did this address write before?" and "stop e-mailing this
address" compare like with like. DNS is not consulted: a reader's form must not wait on it, and
whether a mailbox exists is proved by the confirmation link, not by a lookup. No Flask here.
"""

from __future__ import annotations

import functools

from email_validator import EmailNotValidError, validate_email

from app.errors import InvalidInput
from app.text import clean_text

MAX_EMAIL_CHARS = 320


def clean_email(value: object, field: str) -> str:
    """The address, lower-cased; InvalidInput naming ``field`` (and what is wrong) when it is not one."""
    email = clean_text(value, field, max_chars=MAX_EMAIL_CHARS)
    checked = _checked(email)
    if isinstance(checked, EmailNotValidError):
        raise InvalidInput(
            f"{field} must be one e-mail address, like name@example.org: {checked}", field=field
        )
    return checked


@functools.lru_cache(maxsize=4096)
def _checked(email: str) -> str | EmailNotValidError:
    """The address as stored, or why it is none: a pure function of the text (no DNS), remembered for the
    addresses seen last (a reader comments again; a flood repeats itself), as email-validator's parse
    costs about as much as the rest of a comment's cleaning."""
    try:
        checked = validate_email(
            email,
            check_deliverability=False,
            allow_smtputf8=False,
            allow_quoted_local=False,
            allow_domain_literal=False,
            allow_display_name=False,
        )
    except EmailNotValidError as error:
        return error
    return checked.ascii_email.lower()
