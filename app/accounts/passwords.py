"""What a password must be (NIST SP 800-63B, section 3.1.1.2): long enough, not known to attackers.

No composition rules ("one digit, one symbol") and no expiry: they make passwords worse, not better.
Instead a password is refused when it is short, blank, or predictable: on the list of common and
breached passwords that the ``zxcvbn`` package ships (30,000 of them, checked offline: nothing leaves
the machine), a trivial variation of one ("password1234", "Qwerty!!!!!!"), a repetition or a keyboard
or digit sequence, or made from the account's own e-mail address or name.

Lengths count Unicode code points after NFC normalisation, so "é" typed either way counts once, and
the stored hash is of the NFC form, so it verifies however the keyboard composes it.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache

from app.errors import InvalidInput
from app.text import has_lone_surrogate

MIN_CHARS = 12
MAX_CHARS = 1000
# Words shorter than this, from a name or an e-mail address, are not looked for inside a password:
# "Li" or "jo" occur in too many good passwords to mean anything.
MIN_PERSONAL_CHARS = 4

_SEPARATORS = re.compile(r"[\s._+\-@]+")
_SYMBOLS = re.compile(r"[\W_]+")
_AFFIXES = re.compile(r"^[\W\d_]*(.*?)[\W\d_]*$", re.DOTALL)
_SEQUENCES = (
    "0123456789012345678901234567890",
    "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz",
    "qwertyuiopasdfghjklzxcvbnmqwertyuiopasdfghjklzxcvbnm",
    "qwertzuiopasdfghjklyxcvbnm",
    "azertyuiopqsdfghjklmwxcvbn",
    "1qaz2wsx3edc4rfv5tgb6yhn7ujm8ik9ol0p",
)


def normalise(password: str) -> str:
    return unicodedata.normalize("NFC", password)


@cache
def _common() -> frozenset[str]:
    """The ``passwords`` frequency list shipped with zxcvbn (loaded on first use: it is a large module)."""
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(FREQUENCY_LISTS["passwords"])


def _is_repetition(text: str) -> bool:
    """ "aaaaaaaaaaaa", "abcabcabcabc": a short unit repeated."""
    return bool(text) and (text + text).find(text, 1) < len(text)


def _is_sequence(text: str) -> bool:
    if len(text) < 4:
        return False
    return any(text in seq or text in seq[::-1] for seq in _SEQUENCES)


def _personal_words(email: str, name: str) -> set[str]:
    local = email.partition("@")[0].casefold()
    words = {local, name.casefold(), _SEPARATORS.sub("", name.casefold())}
    words |= set(_SEPARATORS.split(local)) | set(_SEPARATORS.split(name.casefold()))
    return {w for w in words if len(w) >= MIN_PERSONAL_CHARS}


def problems(password: object, *, email: str = "", name: str = "") -> list[str]:
    """Every reason ``password`` is refused, in words the person choosing it can act on; [] if none."""
    if not isinstance(password, str):
        return ["The password must be text."]
    if has_lone_surrogate(password) or "\x00" in password:
        return ["The password contains characters that cannot be stored (a NUL or a lone surrogate)."]
    password = normalise(password)
    length = len(password)
    if length > MAX_CHARS:
        return [f"The password is too long: {length:,} characters, the limit is {MAX_CHARS:,}."]
    if not password.strip():
        return ["The password cannot be only spaces."]
    found = []
    if length < MIN_CHARS:
        found.append(f"The password needs at least {MIN_CHARS} characters; it has {length}.")
    folded = password.casefold()
    squeezed = _SEPARATORS.sub("", folded)
    core = _AFFIXES.sub(r"\1", squeezed)
    letters_digits = _SYMBOLS.sub("", squeezed)
    common = _common()
    if (
        folded in common
        or squeezed in common
        or (len(core) >= 4 and core in common)
        or _is_repetition(squeezed)
        or _is_sequence(squeezed)
        or _is_sequence(core)
        or (core and _is_repetition(core))
        or _is_repetition(letters_digits)
        or _is_sequence(letters_digits)
    ):
        found.append(
            "That password is common or easy to guess (it is on a list of breached passwords, or a simple "
            "variation, repetition or sequence). Choose another: a few unrelated words make a good one."
        )
    if any(word in folded or word in squeezed for word in _personal_words(email, name)):
        found.append("The password must not contain your name or the first part of your e-mail address.")
    return found


def check(password: object, *, email: str = "", name: str = "") -> str:
    """The NFC form of an acceptable password; InvalidInput (field ``password``) listing what is wrong."""
    found = problems(password, email=email, name=name)
    if found:
        raise InvalidInput(" ".join(found), field="password")
    assert isinstance(password, str)
    return normalise(password)
