"""Does a commenter's display name pass itself off as a staff member or as the organisation?

The ethics code has staff "not attempt to conceal their identity"; the other side of that promise is
that nobody else may borrow it. A reader who signs "Dr Ada Lovelace", "Ada L0velace", "Аda Lovelace"
(Cyrillic А) or "MayoClinicOfficial" must not be shown as if staff or the clinic had spoken, so such
comments are held with a reason a moderator can read.

Names are compared as *skeletons* (the idea of Unicode TR39's confusable skeletons, cut down to what
names need): NFKC; Cyrillic and Greek homoglyphs mapped to Latin; accents stripped; casefolded; digits
and symbols that pass for letters mapped (0→o, 1/|/i→l, 3→e, 4/@→a, 5/$→s, 7→t); "rn"→"m", "vv"→"w";
doubled letters collapsed; titles and credentials (Dr, Prof, MD, RN...) dropped. Skeletons then match
exactly, as a run of whole words inside the display name, or within a small edit distance that grows
with the name's length. A first name alone ("Ada") never matches a full name: that would flag half the
readers of a large clinic's blog.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

MAX_NAME_CHARS = 200  # display names are short; longer input is cut so comparison stays cheap

TITLES = frozenset(
    """
dr doctor prof professor md rn np phd dds dmd dnp mbbs mbchb frcp frcs facp msc bsc mph bsn msn lpn aprn
crna dpt pharmd mr mrs ms mx sir dame nurse jr sr ii iii
""".split()
)
"""Honorifics and credentials: they say nothing about who someone is, only how they sign. Short ones
that are also surnames (Do, Ma, Pa) are left out: dropping them would shrink "Anh Do" to "Anh"."""

PROFESSIONAL_TITLES = frozenset({"dr", "doctor", "prof", "professor", "md", "rn", "np", "nurse", "phd"})
"""Titles that claim a clinical role: "Dr Lovelace" alone points at staff member Ada Lovelace."""

# Letters from other scripts that render like Latin ones, upper and lower case.
_HOMOGLYPHS = {
    # Cyrillic
    "а": "a",
    "в": "b",
    "е": "e",
    "ё": "e",
    "к": "k",
    "м": "m",
    "н": "h",
    "о": "o",
    "р": "p",
    "с": "c",
    "т": "t",
    "у": "y",
    "х": "x",
    "і": "i",
    "ї": "i",
    "ј": "j",
    "ѕ": "s",
    "ԁ": "d",
    "һ": "h",
    "ԛ": "q",
    "ԝ": "w",
    "ɡ": "g",
    "ӏ": "l",
    "А": "A",
    "В": "B",
    "Е": "E",
    "Ё": "E",
    "К": "K",
    "М": "M",
    "Н": "H",
    "О": "O",
    "Р": "P",
    "С": "C",
    "Т": "T",
    "У": "Y",
    "Х": "X",
    "І": "I",
    "Ї": "I",
    "Ј": "J",
    "Ѕ": "S",
    "Ԁ": "D",
    "Һ": "H",
    "Ԛ": "Q",
    "Ԝ": "W",
    "Ӏ": "I",
    # Greek
    "α": "a",
    "β": "b",
    "ε": "e",
    "η": "n",
    "ι": "i",
    "κ": "k",
    "ν": "v",
    "ο": "o",
    "ρ": "p",
    "τ": "t",
    "υ": "u",
    "χ": "x",
    "ϲ": "c",
    "ϳ": "j",
    "Α": "A",
    "Β": "B",
    "Ε": "E",
    "Ζ": "Z",
    "Η": "H",
    "Ι": "I",
    "Κ": "K",
    "Μ": "M",
    "Ν": "N",
    "Ο": "O",
    "Ρ": "P",
    "Τ": "T",
    "Υ": "Y",
    "Χ": "X",
    "Ϲ": "C",
    # Latin letters that do not decompose to a base letter
    "ı": "i",
    "ł": "l",
    "Ł": "L",
    "ø": "o",
    "Ø": "O",
    "đ": "d",
    "Đ": "D",
    "ħ": "h",
    "ŀ": "l",
    "ſ": "s",
    "æ": "ae",
    "Æ": "AE",
    "œ": "oe",
    "Œ": "OE",
    "ð": "d",
    "þ": "th",
}
_HOMOGLYPH_TABLE = str.maketrans(_HOMOGLYPHS)
# Digits and symbols that pass for letters inside a word ("L0velace", "C1inic", "M@yo").
_LEET = str.maketrans(
    {
        "0": "o",
        "1": "l",
        "|": "l",
        "!": "l",
        "3": "e",
        "4": "a",
        "@": "a",
        "5": "s",
        "$": "s",
        "7": "t",
        "8": "b",
    }
)
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")
_TOKEN = re.compile(r"[\w|@$!]+")


def _tokens(name: str) -> tuple[list[str], bool]:
    """Casefolded, accent-free word tokens of ``name`` with look-alikes mapped, and whether a
    professional title was among them (titles themselves are dropped)."""
    name = unicodedata.normalize("NFKC", name[:MAX_NAME_CHARS])
    name = "".join(ch for ch in name if unicodedata.category(ch) != "Cf")  # zero-width joiners and such
    name = _CAMEL.sub(" ", name.translate(_HOMOGLYPH_TABLE))
    name = unicodedata.normalize("NFKD", name)
    name = "".join(ch for ch in name if not unicodedata.combining(ch)).casefold()
    tokens: list[str] = []
    titled = False
    for raw in _TOKEN.findall(name):
        token = raw.replace("_", " ").strip()
        for part in token.split():
            if not any(ch.isalpha() for ch in part):
                continue  # "Ada Lovelace 2" is still Ada Lovelace; a trailing "!!" is punctuation
            part = part.strip("!") or part
            if part in TITLES:
                titled = titled or part in PROFESSIONAL_TITLES
                continue
            tokens.append(part)
    return tokens, titled


def skeleton(word: str) -> str:
    """The look-alike-proof form of one token: "CIinic", "C1inic" and "clinic" all give "cllnlc"."""
    word = word.translate(_LEET).replace("i", "l").replace("rn", "m").replace("vv", "w")
    return _collapse(re.sub(r"[^a-z]", "", word))


def _collapse(word: str) -> str:
    """Doubled letters once: "Lovelacce" and "Lovelace" look alike, and so do "Anna" and "Ana"."""
    return re.sub(r"(.)\1+", r"\1", word)


def _plain(name: str) -> str:
    """The name without look-alike mapping: only case, accents, spaces and punctuation removed."""
    folded = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", name[:MAX_NAME_CHARS]))
    return "".join(ch for ch in folded.casefold() if ch.isalnum() and not unicodedata.combining(ch))


def edit_distance(a: str, b: str, limit: int) -> int:
    """Levenshtein distance, or ``limit + 1`` as soon as it must exceed ``limit`` (names are short)."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        if min(current) > limit:
            return limit + 1
        previous = current
    return previous[-1]


def allowance(length: int) -> int:
    """Edits tolerated for a skeleton of ``length`` letters: none below 6, one below 12, then two.

    Five-letter names one edit apart are usually different people (Maria, Mario); longer ones are
    more often a slip or a disguise (Lovelace, Lovelase).
    """
    return 0 if length < 6 else 1 if length < 12 else 2


def _close(a: str, b: str, length: int) -> bool:
    limit = allowance(length)
    return edit_distance(a, b, limit) <= limit


def _resembles(display: list[str], titled: bool, target: list[str], lengths: list[int]) -> bool:
    """Whether display skeleton tokens pass for target skeleton tokens (see the module docstring).

    Near-spellings are judged word by word, and one word must match exactly: "Ada Lovelase" is one
    slip from "Ada Lovelace", but "Mark Jones" is a different person from "Mary Jones" although only
    one letter apart as a whole. Allowances go by the written length of each target word (``lengths``),
    not its skeleton, which is shorter ("Hopper" has six letters, its skeleton "hoper" five).
    """
    joined, wanted = _collapse("".join(display)), _collapse("".join(target))
    if not joined or not wanted:
        return False
    if joined == wanted:  # also "Ada Love Lace", "C l i n i c"
        return True
    # The whole target as a run of words: "Ada Lovelace (official)", "Mayo Clinic team".
    n = len(target)
    for start in range(len(display) - n + 1):
        window = display[start : start + n]
        if all(_close(d, t, k) for d, t, k in zip(window, target, lengths, strict=True)) and (
            n == 1 or any(d == t for d, t in zip(window, target, strict=True))
        ):
            return True
    # Words glued together without capitals: "adalovelase", "themayoclinic", "mayoclinicofficial".
    if len(display) == 1 and (
        _close(joined, wanted, sum(lengths))
        or len(wanted) >= 8
        and (joined.startswith(wanted) or joined.endswith(wanted))
    ):
        return True
    # A clinical title with the surname, perhaps with initials: "Dr Lovelace", "Dr A. Lovelace".
    if titled and len(target) >= 2 and len(target[-1]) >= 3:
        *initials, surname = display
        if (
            surname == target[-1]
            and len(initials) < len(target)
            and all(
                part == target[i] or (len(part) == 1 and target[i].startswith(part))
                for i, part in enumerate(initials)
            )
        ):
            return True
    return False


def is_impersonation(
    display_name: str, staff_names: Iterable[str], organisation_names: Iterable[str]
) -> str | None:
    """A reason why ``display_name`` looks like a staff member or the organisation, or None.

    Staff are checked first, in the order given, so the reason names the first person resembled.
    """
    tokens, titled = _tokens(display_name)
    display = [s for s in (skeleton(t) for t in tokens) if s]
    if not display:
        return None
    for kind, names in (("staff member", staff_names), ("organisation", organisation_names)):
        for name in names:
            words = [t for t in _tokens(name)[0] if skeleton(t)]
            target = [skeleton(t) for t in words]
            if not _resembles(display, titled and kind == "staff member", target, [len(t) for t in words]):
                continue
            # Say so when only look-alikes made it match, not a near-spelling.
            disguised = "".join(target) in "".join(display) and (
                _plain(" ".join(_tokens(name)[0])) not in _plain(display_name)
            )
            suffix = " (written with look-alike characters)" if disguised else ""
            if kind == "staff member":
                return f"looks like staff member {name}{suffix}"
            return f"uses the organisation's name {name}{suffix}"
    return None
