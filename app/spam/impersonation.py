"""Does a commenter's display name pass itself off as a staff member or as the organisation?

The ethics code has staff "not attempt to conceal their identity"; the other side of that promise is
that nobody else may borrow it. A reader who signs "Dr Ada Lovelace", "Ada L0velace", "Аda Lovelace"
(Cyrillic А) or "MayoClinicOfficial" must not be shown as if staff or the clinic had spoken, so such
comments are held with a reason a moderator can read.

Names are compared as *skeletons*: NFKC (fullwidth and styled letters); format characters (zero-width
joiners) and blank letters (Hangul fillers) removed; Unicode TR39's confusable skeleton (NFD, each
character to its class in ``confusables.txt``, NFD again), from the data the ``confusable-homoglyphs``
package ships, with Latin small capitals (ᴇ, ʟ) added as their letters; combining marks dropped;
casefolded, then mapped again; digits and symbols that pass for letters mapped (0→o, 1/|/i→l, 3→e, 4/@→a,
5/$→s, 7→t); "rn"→"m", "vv"→"w"; doubled letters collapsed; titles and credentials (Dr, Prof, MD, RN...)
dropped. A word that mixes Latin with Cyrillic or Greek ("Jоhn" with a Cyrillic о) is held even when it
resembles nobody: no language writes so, and it is the mark of a disguise; a name wholly in one script
("Мария Иванова", "李小龙") is an ordinary name.

Skeletons then match exactly, as a run of whole words inside the display name (or as the whole name
back to front: "Shah, Erin"), or within a small edit distance that grows with the name's length. A
first name alone ("Ada") never matches a full name: that would flag half the readers of a large
clinic's blog.
"""

from __future__ import annotations

import functools
import gc
import re
import unicodedata
from collections.abc import Iterable

from confusable_homoglyphs import categories

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

# Latin letters that neither decompose to a base letter nor count as confusable in TR39's data, but pass
# for one in a name ("Łovelace", "Hoppær").
_LATIN_EXTRAS = str.maketrans(
    {
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
)
# Letters that take no room: Hangul fillers, the Braille blank. (Format characters such as zero-width
# joiners are dropped by category; these are "letters" and would otherwise glue or split words.)
_INVISIBLE = dict.fromkeys(map(ord, "\u115f\u1160\u3164\uffa0\u2800\u17b4\u17b5"), None)
# Scripts that may share one word (TR39's "highly restrictive" level): Japanese and Chinese mix Han with
# their own scripts and with Latin; Korean mixes Hangul and Han.
_SCRIPT_MIXES = (
    frozenset({"LATIN", "HAN", "HIRAGANA", "KATAKANA"}),
    frozenset({"LATIN", "HAN", "BOPOMOFO"}),
    frozenset({"LATIN", "HAN", "HANGUL"}),
)
_NO_SCRIPT = frozenset({"COMMON", "INHERITED", "Unknown"})


@functools.cache
def _confusable_map() -> dict[str, str]:
    """The mapping of ``_built_confusable_map``, made in fresh memory (see ``_confusables_data``)."""
    import json

    # One string (one malloc'd block, outside Python's small-object arenas) while the parsed data is
    # freed: the arenas that held it are then wholly empty and go back to the system (about 7 MB).
    carried = json.dumps(_built_confusable_map())
    gc.collect()
    return json.loads(carried)


def _built_confusable_map() -> dict[str, str]:
    """Every character of Unicode's confusables data (TR39 ``confusables.txt``, as the
    ``confusable-homoglyphs`` package ships it) mapped to one representative of its class.

    The package keeps the data both ways (``а`` lists ``a``; ``a`` lists ``а``, ``α``, ``ａ`` ...), so the
    classes are the connected groups; each is represented by its hub, the member that lists the most
    others (TR39's prototype: ``a``, ``l`` for ``1 I | ǀ``). A character whose prototype is a sequence
    maps to the sequence (``m`` to ``rn``). Small capitals (``ᴇ``, ``ʟ``), which TR39 maps to Cherokee
    letters rather than to Latin, are added as their lower-case letters: they are how names are faked.
    """
    data = _confusables_data()
    parent: dict[str, str] = {}

    def find(ch: str) -> str:
        root = ch
        while parent.setdefault(root, root) != root:
            root = parent[root]
        while parent[ch] != root:
            parent[ch], ch = root, parent[ch]
        return root

    sequences: dict[str, str] = {}
    for key, entries in data.items():
        key = key.replace("\u200e", "")
        if len(key) != 1:
            continue
        for entry in entries:
            other = entry["c"].replace("\u200e", "")
            if len(other) == 1:
                parent[find(key)] = find(other)
            elif len(entries) == 1 and other and not key.isascii():  # not m to rn: skeleton() does that
                sequences[key] = other
    size = {ch: len(data.get(ch, ())) for ch in parent}
    hubs: dict[str, str] = {}
    for ch in sorted(parent):
        root = find(ch)
        best = hubs.get(root)
        if best is None or (size[ch], -ord(ch)) > (size[best], -ord(best)):
            hubs[root] = ch
    mapping = {ch: hubs[find(ch)] for ch in parent if hubs[find(ch)] != ch}
    mapping.update(sequences)
    # A letter stays a letter: "小" is not turned into the radical "⺌", which would drop out of the words.
    mapping = {ch: to for ch, to in mapping.items() if not ch.isalpha() or to.isalpha()}
    for start, stop in ((0x0250, 0x02B0), (0x1D00, 0x1DC0), (0xA720, 0xA800), (0x1DF00, 0x1E000)):
        for code in range(start, stop):
            name = unicodedata.name(chr(code), "")
            letter = name.removeprefix("LATIN LETTER SMALL CAPITAL ")
            if letter != name and letter.isalpha() and len(letter) <= 2:
                mapping[chr(code)] = letter.lower()
    return mapping


def _confusables_data() -> dict[str, list[dict[str, str]]]:
    """The package's ``confusables.json``, read here rather than through ``confusable_homoglyphs.
    confusables``, whose import keeps the parsed file (about 8 MB as Python objects) for the process's
    life: only the mapping built from it (about 1 MB) is kept."""
    from confusable_homoglyphs import utils

    return utils.load("confusables.json")


def confusable_skeleton(text: str) -> str:
    """TR39's skeleton, cased: NFD, each character to its confusable class's representative, NFD again;
    combining marks dropped on the way ("Ádá" and "Ada" share a skeleton, as do "Аda" with a Cyrillic
    А, "Ａda" and "ᴀda")."""
    mapping = _confusable_map()
    text = "".join(ch for ch in unicodedata.normalize("NFD", text) if not unicodedata.combining(ch))
    text = "".join(mapping.get(ch, ch) for ch in text)
    return "".join(ch for ch in unicodedata.normalize("NFD", text) if not unicodedata.combining(ch))


def mixed_scripts(text: str) -> list[str]:
    """The scripts mixed within one word of ``text``, if any word mixes them in a way no language writes
    (Latin with Cyrillic or Greek: "Erin Shаh" with a Cyrillic а); ``[]`` for single-script words,
    names in other scripts ("Мария Иванова", "李小龙"), and Japanese-style Han with kana."""
    for word in re.findall(r"\w+", text):
        scripts = {categories.alias(ch) for ch in word if ch.isalpha()} - _NO_SCRIPT
        if len(scripts) > 1 and not any(scripts <= allowed for allowed in _SCRIPT_MIXES):
            return sorted(scripts)
    return []


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
    name = _visible(name)
    name = _CAMEL.sub(" ", confusable_skeleton(name.translate(_LATIN_EXTRAS)))
    name = confusable_skeleton(name.casefold()).casefold()  # casing can make new look-alikes
    tokens: list[str] = []
    titled = False
    for raw in _TOKEN.findall(name):
        token = raw.replace("_", " ").strip()
        for part in token.split():
            if not any(ch.isalpha() for ch in part):
                continue  # "Ada Lovelace 2" is still Ada Lovelace; a trailing "!!" is punctuation
            part = part.strip("!") or part
            if part in TITLES or part.replace("l", "i") in TITLES:  # "III" became "lll"
                titled = titled or part in PROFESSIONAL_TITLES
                continue
            tokens.append(part)
    return tokens, titled


def _visible(name: str) -> str:
    """NFKC (fullwidth and styled letters to plain ones), without format characters (zero-width joiners,
    direction marks) or letters that take no room."""
    name = unicodedata.normalize("NFKC", name[:MAX_NAME_CHARS]).translate(_INVISIBLE)
    return "".join(ch for ch in name if unicodedata.category(ch) != "Cf")


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
    # The whole target as a run of words: "Ada Lovelace (official)", "Mayo Clinic team"; also back to
    # front ("Lovelace, Ada"), and in any order when every word is exact.
    n = len(target)
    backwards = n > 1 and len(display) == n  # "Shah, Erin" alone, not "Chen Wei Ming" for "Wei Chen"
    orders = [(target, lengths)] + ([(target[::-1], lengths[::-1])] if backwards else [])
    for start in range(len(display) - n + 1):
        window = display[start : start + n]
        for wanted_words, wanted_lengths in orders:
            if all(
                _close(d, t, k) for d, t, k in zip(window, wanted_words, wanted_lengths, strict=True)
            ) and (n == 1 or any(d == t for d, t in zip(window, wanted_words, strict=True))):
                return True
        if backwards and n > 2 and sorted(window) == sorted(target):
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
            words, target, plain = _target(name)
            if not _resembles(display, titled and kind == "staff member", target, [len(t) for t in words]):
                continue
            # Say so when only look-alikes made it match, not a near-spelling.
            disguised = "".join(sorted(target)) in "".join(sorted(display)) and not (
                "".join(plain) in _plain(display_name) or set(plain) <= set(_plain_words(display_name))
            )
            suffix = " (written with look-alike characters)" if disguised else ""
            if kind == "staff member":
                return f"looks like staff member {name}{suffix}"
            return f"uses the organisation's name {name}{suffix}"
    scripts = mixed_scripts(_visible(display_name))
    if scripts:
        return f"mixes {' and '.join(s.title() for s in scripts)} letters in one word (look-alike letters)"
    return None


def _plain_words(name: str) -> tuple[str, ...]:
    """The words of a name with only case, accents and titles removed: no look-alike mapping."""
    folded = unicodedata.normalize("NFKD", _visible(name)).casefold()
    words = re.findall(r"\w+", "".join(ch for ch in folded if not unicodedata.combining(ch)))
    return tuple(w for w in words if w not in TITLES)


@functools.lru_cache(maxsize=4096)
def _target(name: str) -> tuple[list[str], list[str], tuple[str, ...]]:
    """A staff or organisation name's words, their skeletons and its plain form (cached: the same few
    names are compared with every comment)."""
    words = [t for t in _tokens(name)[0] if skeleton(t)]
    return words, [skeleton(t) for t in words], _plain_words(name)
