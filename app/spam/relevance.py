"""Is a reader comment about the post it is left on? A pure, explainable off-topic scorer.

The ethics code promises to delete off-topic comments, so each comment is scored against the post's own
words (title, body, references, approved comments). Plain word overlap fails both ways on a clinic blog:
"Does the jab hurt?" shares no word with a post on influenza vaccination, while a kidney-stone question
under that post shares "prevent" and "doctor". So a comment word supports the post when it has the same
Porter stem as a post word, shares a concept in a small hand-written medical synonym map ("jab"/"shot",
"renal"/"kidney"), is a near-spelling by character trigrams ("vacine"), is half of a post compound
("burn"/"sunburn"), or was used by readers moderators approved (``Feedback``). It counts against when
the post lacks it: most for a medical topic the post lacks (another post's subject), extra for
promotional words and links to sites the post does not cite. Generic engagement ("Great article!",
"Where can I read more?") is on-topic as far as the comment consists of it.

The score is ``support / (support + against + prior)``: in [0, 1], length-neutral, and its parts are the
``drivers`` a moderator sees. It is deterministic and only suggests; a moderator decides.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any
from urllib.parse import SplitResult, urlsplit

THRESHOLD = 0.30
"""Scores below this are suggested as off-topic. Chosen on the tuning posts of the labelled set."""

PRIOR = 0.6  # evidence a comment needs before it can look on-topic at all
AGAINST = 0.5  # weight of one salient word the post lacks, relative to one matched word
ENGAGEMENT = 1.0  # support given by a comment made only of generic engagement ("thanks, great article")
WEAK = 0.35  # weight of a weak word (common English, or shared by every health post)
TOPICAL = 1.3  # weight of a word naming a medical topic
SYNONYM = 0.7  # match strength of a synonym or related term of a post word
MAX_DRIVERS = 8

# --------------------------------------------------------------------------------------- lexicons
# Kept as plain word strings so they read like the lists they are; stemmed once at import.

_STOPWORDS = set(
    """
a about above after again against all almost also although always am among an and another any anyone anything
are around as at away back be became because become been before being below between both but by can cannot
could did do does doing done down during each either else enough etc even ever every everyone everything few
first for from further get gets getting got gotten had has have having he her here hers herself him himself
his how however i if in into is it its itself just last least less let lets like likely made make makes many
may maybe me might mine more most much must my myself near need needs neither never new next no nor not
nothing now of off often ok okay on once one only or other others our ours ourselves out over own per perhaps
put quite rather really right same say says said see seem seems seen several shall she should since so some
someone something sometimes soon still such sure take than that the their theirs them themselves then there
these they thing things this those though through thus to too took toward try trying under until up upon us
use used using very via want wants was way ways we well went were what whatever when where whether which while
who whom whose why will with within without would yes yet you your yours yourself yourselves im ive id dont
doesnt didnt cant wont isnt arent wasnt youre theyre thats theres whats actually anyway basically youd youve
youll hed shed wed weve theyd theyve ill itll shouldnt wouldnt couldnt hasnt havent honestly literally
seriously simply probably definitely totally pretty lot lots kind sort bit go goes going come comes came know
knew think thought tell told ask asked give gave keep kept look looking find found feel felt mean means two
three four five ten hundred today yesterday tomorrow week weeks month months year years day days time times
ago everybody somebody hi hello hey dear please yeah oh lol
""".split()
)

# Words that say "I read this and engage with it" on any post: neutral, and together on-topic.
_ENGAGEMENT_WORDS = """
thank thanks thx ty great article post blog informative helpful help helped useful interesting interested love
loved awesome excellent nice good written clear clearly explained explanation share sharing shared read
reading info information learn learned learnt question questions advice tip tips appreciate appreciated
wonderful fantastic amazing insight insightful enjoyed enjoy agree agreed writeup piece bookmark bookmarked
timely important reminder needed sense valuable detail detailed source sources reference references link links
study studies research evidence follow update doc details point points explain answer answered simple summary
brilliant superb book books resource resources guide articles overview handy well more makes further
""".split()

# Weak words: health-blog words shared by almost every post, and everyday English that says little
# about a topic. Without a corpus to compute IDF from, this list stands in for it.
_WEAK_WORDS = """
health healthy doctor doctors patient patients clinic clinics medical care risk risks body people person
symptom symptoms treatment treat treated prevent prevention recommend recommended recommendation condition
conditions problem problems issue issues family friend friends mom dad husband wife experience normal test
tests visit appointment daily habit habits change changes better worse bad best worst start started stop
stopped long short high higher low increase decrease common serious safe safety sign signs cause causes effect
effects age life live living work home hour hours minute minutes night morning evening routine plan nurse
staff hospital check level levels amount result results reduce lower chance mg percent able accurate actual
add added already anybody area available avoid basic begin believe big bigger biggest bring build call called
case certain choose close completely consider considered continue cost couple course current decide difference
different double easy end entire especially exactly example expect extra fact fair far fast fine finally full
generally glad gone guess guy hand happen happened happy hard heard hear hold hope hoping huge idea instead
large late later left lie line little local lose lost main matter meant mind minor miss mostly move name note
number old open order part past pay place possible pull push quick quickly raise ready real reason recent
recently remember rest run runs small special stay step stuff suggest suppose talk terrible tough true turn
turned type understand usual usually various wait watch whole wish wonder worry wrong early yearly weekly free
stuck
""".split()

# Promotional and scam vocabulary, with how strongly each word alone suggests spam.
_SPAM_WORDS: dict[str, float] = {
    **dict.fromkeys(
        """casino casinos betting bet bets gambling poker slots jackpot crypto cryptocurrency
        bitcoin btc ethereum forex nft backlink backlinks seo viagra cialis whatsapp telegram onlyfans
        escort porn airdrop binance""".split(),
        1.5,
    ),
    **dict.fromkeys(
        """earn earning earnings profit profits invest investment investing income loan loans
        mortgage promo discount discounts coupon coupons cheap buy sale offer offers deal deals subscribe
        followers click trading trader wallet dm website rank ranking traffic guaranteed bonus
        cash money rich wealth signup register shop store order""".split(),
        0.8,
    ),
}

# Concept groups, separated by "|" or a line end: any two words of a group count as the same topic.
# Hand-written for a clinic blog.
# A group marked "!" names a topic (an organ, a disease, an intervention): when a comment uses it and the
# post does not, the comment is probably about another post, so it weighs double against.
_SYNONYM_GROUPS = [
    group.strip()
    for group in """
! heart cardiac cardiology cardiologist cardiovascular coronary cardio pulse palpitations arrhythmia
! bp hypertension hypertensive pressure systolic diastolic mmhg antihypertensive cuff
! flu influenza grippe
! vaccine vaccination vaccinate vaccinated shot jab immunization immunisation immunize inoculation booster
! kidney kidneys renal nephrology nephrologist | ! stone stones calculi calculus lithotripsy gravel
! urology urologist urinary urine pee urinate bladder | ! sugar glucose diabetes diabetic insulin a1c
! cancer tumor tumour oncology oncologist malignant chemo chemotherapy carcinoma
! melanoma mole moles skin dermatology dermatologist
! pregnancy pregnant prenatal antenatal expecting obstetric obstetrician obgyn midwife trimester fetus fetal
! sleep sleeping insomnia sleepless nap naps bedtime asleep melatonin drowsy
! snore snoring apnea apnoea cpap
! sun sunscreen sunburn sunburned spf uv tan tanning sunblock sunlight sunny rays
! lung lungs pulmonary respiratory asthma inhaler | ! cholesterol ldl hdl statin statins lipid lipids
! stroke strokes | ! smoking smoke cigarette cigarettes nicotine vape vaping tobacco
baby babies newborn infant | tired fatigue exhausted exhaustion sleepy | breathing breath breathe
stomach gut digestive gastro belly abdomen abdominal nausea
pain ache aches hurt hurts sore soreness painful cramp cramps agony | fever temperature feverish chills
cold cough coughing sneeze sneezing sniffles congestion
child children kid kids pediatric paediatric pediatrician toddler infant son daughter
elderly senior seniors older aging grandparent grandparents grandmother grandfather grandma grandpa
medicine medication medications drug drugs pill pills prescription tablet tablets meds pharmacy pharmacist
exercise exercising workout workouts walk walking running jogging gym fitness active activity
diet nutrition food foods eat eating meal meals | salt sodium salty
water hydrate hydration hydrated drink drinking fluid fluids thirst thirsty dehydrated dehydration
alcohol wine beer booze drink drinks drinking | weight obesity obese overweight bmi
vitamin vitamins supplement supplements folic folate iron | calcium oxalate citrate dairy milk cheese yogurt
coffee caffeine espresso tea | screen screens phone phones device devices
mental anxiety anxious depression stress stressed mood | allergy allergic allergies reaction reactions
side adverse reaction | immune immunity antibodies antibody
germ germs virus viral infection infections contagious
""".replace("\n", "|").split("|")
    if group.strip()
]

_PHRASES = {
    "blood pressure": "bp",
    "high blood": "bp",
    "side effect": "side",
    "heart attack": "heart",
    "kidney stone": "stone",
    "blood sugar": "sugar",
    "sleep apnea": "snore",
}

# Bare domains start only where a run of host characters starts, so a long "a-a-a-..." is scanned once.
_URL = re.compile(
    r"\bhttps?://[^\s<>\"']+|\bwww\.[^\s<>\"']+"
    r"|(?<![a-z0-9-])[a-z0-9-]+\.(?:com|net|org|biz|info|io|xyz|co|ru|top|club|online|site|shop|app|me)\b"
    r"(?:/[^\s<>\"']*)?",
    re.IGNORECASE,
)
_WORD = re.compile(r"[^\W\d_][\w']*")
_BP_READING = re.compile(r"\b(\d{2,3})/(\d{2,3})\b")
_MONEY = re.compile(r"[$€£]\s?\d|\d+\s?(?:usd|dollars|k/month|/day|per day|a day)\b", re.IGNORECASE)
_URL_NOISE = {
    "www",
    "com",
    "net",
    "org",
    "gov",
    "edu",
    "html",
    "htm",
    "php",
    "aspx",
    "pdf",
    "index",
    "http",
    "https",
    "co",
    "uk",
    "us",
    "io",
    "biz",
    "info",
    "amp",
    "en",
}

# ----------------------------------------------------------------------------------- stemming


def _shape(w: str) -> str:
    """Porter's consonant/vowel pattern, "c" or "v" per letter; a "y" after a consonant is a vowel."""
    out = ""
    for ch in w:
        out += "v" if ch in "aeiou" or (ch == "y" and out[-1:] == "c") else "c"
    return out


def _measure(stem: str) -> int:
    """Porter's m: the number of vowel-consonant sequences in ``stem``."""
    return len(re.findall("v+c+", _shape(stem)))


def _has_vowel(stem: str) -> bool:
    return "v" in _shape(stem)


def _ends_cvc(w: str) -> bool:
    return _shape(w).endswith("cvc") and w[-1] not in "wxy"


def _replace(w: str, rules: Iterable[tuple[str, str]], min_m: int) -> str:
    for suffix, repl in rules:
        if w.endswith(suffix):
            stem = w[: len(w) - len(suffix)]
            return stem + repl if _measure(stem) > min_m else w
    return w


def _pairs(spec: str) -> list[tuple[str, str]]:
    return [(suffix, repl) for suffix, _, repl in (rule.partition(":") for rule in spec.split())]


# Porter's steps 2-4 as "suffix:replacement", longest suffix first within a step.
_STEP2 = sorted(
    _pairs("""ational:ate tional:tion enci:ence anci:ance izer:ize abli:able alli:al entli:ent
    eli:e ousli:ous ization:ize ation:ate ator:ate alism:al iveness:ive fulness:ful ousness:ous aliti:al
    iviti:ive biliti:ble logi:log"""),
    key=lambda r: -len(r[0]),
)
_STEP3 = _pairs("icate:ic ative: alize:al iciti:ic ical:ic ful: ness:")
_STEP4 = sorted(
    "al ance ence er ic able ible ant ement ment ent ion ou ism ate iti ous ive ize".split(),
    key=len,
    reverse=True,
)


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """Porter (1980) stemmer: conflates "vaccinated", "vaccination" and "vaccines" to one term."""
    w = word.lower()
    if len(w) <= 3 or len(w) > 40:  # no English word is longer; a pasted blob is left alone
        return w
    # Step 1a-1c: plurals, -ed, -ing, -y.
    if w.endswith("sses") or w.endswith("ies"):
        w = w[:-2]
    elif w.endswith("s") and not w.endswith("ss"):
        w = w[:-1]
    if w.endswith("eed"):
        if _measure(w[:-3]) > 0:
            w = w[:-1]
    else:
        for suffix in ("ed", "ing"):
            if w.endswith(suffix) and _has_vowel(w[: -len(suffix)]):
                w = w[: -len(suffix)]
                if w.endswith(("at", "bl", "iz")):
                    w += "e"
                elif len(w) >= 2 and w[-1] == w[-2] and w[-1] not in "aeioulsz":
                    w = w[:-1]
                elif _measure(w) == 1 and _ends_cvc(w):
                    w += "e"
                break
    if w.endswith("y") and _has_vowel(w[:-1]):
        w = w[:-1] + "i"
    # Steps 2-4: derivational suffixes, longest first within each step.
    w = _replace(w, _STEP2, 0)
    w = _replace(w, _STEP3, 0)
    for suffix in _STEP4:
        if w.endswith(suffix):
            stem_ = w[: len(w) - len(suffix)]
            if _measure(stem_) > 1 and (suffix != "ion" or stem_.endswith(("s", "t"))):
                w = stem_
            break
    # Step 5: a final -e, and -ll.
    if w.endswith("e"):
        m = _measure(w[:-1])
        if m > 1 or (m == 1 and not _ends_cvc(w[:-1])):
            w = w[:-1]
    if _measure(w) > 1 and w.endswith("ll"):
        w = w[:-1]
    return w


STOPWORDS = frozenset(_STOPWORDS | {stem(w) for w in _STOPWORDS})
ENGAGEMENT_WORDS = frozenset(_ENGAGEMENT_WORDS)
# Stems are matched too ("bookmarking"), except those that collide with a stopword ("useful" -> "us").
ENGAGEMENT_TERMS = frozenset(stem(w) for w in _ENGAGEMENT_WORDS) - STOPWORDS
WEAK_TERMS = frozenset(stem(w) for w in _WEAK_WORDS)
SPAM_TERMS = {stem(w): weight for w, weight in _SPAM_WORDS.items()}


def _concept_tables() -> tuple[dict[str, frozenset[str]], dict[str, frozenset[str]], frozenset[str]]:
    """Concepts by word, concepts by stem, and the topical concepts, from the synonym groups.

    Concepts are looked up by the word itself first, by its stem only for forms the groups do not
    list: "immune" and "immunization" share a stem but not a topic.
    """
    by_word: dict[str, frozenset[str]] = {}
    by_stem: dict[str, frozenset[str]] = {}
    topical: set[str] = set()
    for line in _SYNONYM_GROUPS:
        words = line.split()
        if words[0] == "!":
            words = words[1:]
            topical.add(words[0])
        for w in words:
            by_word[w] = by_word.get(w, frozenset()) | {words[0]}
            by_stem[stem(w)] = by_stem.get(stem(w), frozenset()) | {words[0]}
    return by_word, by_stem, frozenset(topical)


WORD_CONCEPTS, STEM_CONCEPTS, TOPICAL_CONCEPTS = _concept_tables()
PHRASE_CONCEPTS = {" ".join(stem(w) for w in k.split()): v for k, v in _PHRASES.items()}

# ------------------------------------------------------------------------------ text to terms


@dataclass(frozen=True)
class Term:
    """One distinct comment or post term: its stem, the first surface word, and its concepts."""

    stem: str
    word: str
    concepts: frozenset[str] = frozenset()
    count: int = 1
    engagement: bool = False


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold().replace("\u2019", "'").replace("\u2018", "'")


def _url_words(url: str) -> list[str]:
    """Words of a URL's host and path: ``www.cdc.gov/flu/prevent`` gives cdc, flu, prevent."""
    parts = _split(url)
    host_words = re.split(r"[.\-]", parts.hostname or "")
    path_words = re.split(r"[^a-z]+", (parts.path + " " + parts.query).lower())
    return [w for w in host_words + path_words if len(w) > 1 and w not in _URL_NOISE]


def _split(url: str) -> SplitResult:
    try:
        return urlsplit(url if "//" in url else "http://" + url)
    except ValueError:  # "http://[oops": an unbalanced IPv6 bracket
        return urlsplit("")


def url_host(url: str) -> str:
    """The registrable-looking part of a URL's host, for comparing link targets."""
    labels = (_split(url).hostname or "").removeprefix("www.").split(".")
    keep = 3 if len(labels) >= 3 and len(labels[-1]) == 2 and len(labels[-2]) <= 3 else 2  # bbc.co.uk
    return ".".join(labels[-keep:])


def _reading(m: re.Match[str]) -> str:
    return " bp " if 80 <= int(m.group(1)) <= 250 and 40 <= int(m.group(2)) <= 150 else m.group(0)


def _words(text: str) -> tuple[list[str], list[str]]:
    """Split text into plain words and URLs; URL words are appended to the word list.

    A blood-pressure reading such as 135/85 becomes the word "bp": readers quote numbers, not terms.
    """
    text = _BP_READING.sub(_reading, _fold(text))
    urls = [m.group(0).rstrip(".,;:!?)]") for m in _URL.finditer(text)]
    words = [w.strip("'").removesuffix("'s").replace("'", "") for w in _WORD.findall(_URL.sub(" ", text))]
    for url in urls:
        words.extend(_url_words(url))
    return [w for w in words if w], urls


def terms(text: str) -> list[Term]:
    """Distinct content terms of ``text`` in first-seen order, with concepts from words and phrases."""
    words, _ = _words(text)
    stems = [stem(w) for w in words]
    extra: dict[str, set[str]] = {}
    for a, b in zip(stems, stems[1:], strict=False):
        concept = PHRASE_CONCEPTS.get(f"{a} {b}")
        if concept:
            extra.setdefault(a, set()).add(concept)
            extra.setdefault(b, set()).add(concept)
    counts: dict[str, int] = {}
    first: dict[str, str] = {}
    concepts: dict[str, frozenset[str]] = {}
    engagement: set[str] = set()
    for word, s in zip(words, stems, strict=True):
        if word in ENGAGEMENT_WORDS or s in ENGAGEMENT_TERMS:
            engagement.add(s)
        elif word in STOPWORDS or s in STOPWORDS or len(word) < 2:
            continue
        counts[s] = counts.get(s, 0) + 1
        first.setdefault(s, word)
        found = WORD_CONCEPTS.get(word, STEM_CONCEPTS.get(s, frozenset()))
        concepts[s] = concepts.get(s, frozenset()) | found | frozenset(extra.get(s, ()))
    return [Term(s, first[s], concepts[s], n, s in engagement) for s, n in counts.items()]


def _trigrams(word: str) -> frozenset[str]:
    padded = f"#{word}#"
    return frozenset(padded[i : i + 3] for i in range(len(padded) - 2))


# ------------------------------------------------------------------------------ the post's side


@dataclass(frozen=True)
class PostContext:
    """What a comment is judged against. ``key`` identifies the post in ``Feedback`` (default: title)."""

    title: str
    body_text: str
    references: list[str] = field(default_factory=list)
    approved_comments: list[str] = field(default_factory=list)
    key: str = ""

    @property
    def ident(self) -> str:
        return self.key or _fold(self.title).strip()


@dataclass(frozen=True)
class _Vocabulary:
    stems: dict[str, str]  # post stem -> surface word (title, body, references)
    counts: dict[str, int]  # post stem -> occurrences, a title occurrence counting three
    approved: frozenset[str]  # stems only seen in approved comments
    concepts: dict[str, str]  # concept -> a post word carrying it
    hosts: frozenset[str]  # link targets the post itself cites
    trigram_index: dict[str, tuple[str, ...]]  # trigram -> post words (len >= 5) containing it


@lru_cache(maxsize=128)
def _vocabulary(title: str, body: str, references: tuple[str, ...], approved: tuple[str, ...]) -> _Vocabulary:
    """The post's vocabulary, cached because a moderation queue scores many comments per post."""
    post_terms = terms(" ".join((title, title, title, body, *references)))
    stems = {t.stem: t.word for t in post_terms}
    counts = {t.stem: t.count for t in post_terms}
    concepts: dict[str, str] = {}
    for concept, word in ((c, t.word) for t in post_terms for c in sorted(t.concepts)):
        concepts.setdefault(concept, word)
    approved_stems = frozenset(t.stem for t in terms(" ".join(approved))) - stems.keys()
    hosts = {url_host(u) for u in _words(" ".join((body, *references)))[1]}
    index: dict[str, list[str]] = {}
    for t in post_terms:
        if len(t.word) >= 5:
            for g in _trigrams(t.word):
                index.setdefault(g, []).append(t.word)
    return _Vocabulary(
        stems, counts, approved_stems, concepts, frozenset(hosts), {g: tuple(ws) for g, ws in index.items()}
    )


def _near_spelling(word: str, vocab: _Vocabulary) -> tuple[str, float] | None:
    """The post word most similar to ``word`` by trigram Dice coefficient, if at least 0.7."""
    if len(word) < 5:
        return None
    grams = _trigrams(word)
    shared: dict[str, int] = {}
    for g in grams:
        for candidate in vocab.trigram_index.get(g, ()):
            shared[candidate] = shared.get(candidate, 0) + 1
    best: tuple[str, float] | None = None
    for candidate, n in sorted(shared.items()):
        dice = 2 * n / (len(grams) + len(_trigrams(candidate)))
        if dice >= 0.7 and (best is None or dice > best[1]):
            best = (candidate, dice)
    return best


# ------------------------------------------------------------------------------ learning


@dataclass
class Feedback:
    """What moderators taught: per-post and global term counts from approved and off-topic comments.

    ``posts[key][stem] = [on, off]`` counts comments on that post. ``global_terms[stem] = [on_posts, off]``
    counts the distinct posts where the term appeared in an approved comment (a word approved under
    many posts is generic engagement, a word approved under one is that post's paraphrase) and the
    off-topic comments anywhere that used it (spam vocabulary travels between posts).
    Terms of the post's own text are never learned (the post defines its topic), nor weak words.
    """

    posts: dict[str, dict[str, list[int]]] = field(default_factory=dict)
    global_terms: dict[str, list[int]] = field(default_factory=dict)

    def learn(self, comment: str, on_topic: bool, context: PostContext) -> None:
        """Record one moderator decision about ``comment`` on the post described by ``context``."""
        vocab = _vocab_of(context)
        table = self.posts.setdefault(context.ident, {})
        for t in terms(comment):
            if t.stem in vocab.stems or t.engagement or t.stem in WEAK_TERMS:
                continue
            counts = table.setdefault(t.stem, [0, 0])
            glob = self.global_terms.setdefault(t.stem, [0, 0])
            if on_topic:
                if counts[0] == 0:
                    glob[0] += 1
                counts[0] += 1
            else:
                counts[1] += 1
                glob[1] += 1

    def post_weight(self, key: str, term: str) -> int:
        """Net approvals of ``term`` on post ``key``: above 0 a readers' paraphrase, below 0 off-topic."""
        on, off = self.posts.get(key, {}).get(term, (0, 0))
        return on - off

    def global_off_topic(self, term: str) -> float:
        """Share in (0, 1) of the evidence that ``term`` marks off-topic comments anywhere, 0 if none."""
        on_posts, off = self.global_terms.get(term, (0, 0))
        return off / (off + 2 * on_posts + 1) if off else 0.0

    def is_generic(self, term: str) -> bool:
        return self.global_terms.get(term, (0, 0))[0] >= 3

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict with sorted keys, so equal feedback serialises identically."""
        return {
            "version": 1,
            "posts": {k: {t: list(c) for t, c in sorted(v.items())} for k, v in sorted(self.posts.items())},
            "global": {t: list(c) for t, c in sorted(self.global_terms.items())},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Feedback:
        if data.get("version") != 1:
            raise ValueError(f"unknown feedback version {data.get('version')!r}")

        def table(raw: dict[str, Any]) -> dict[str, list[int]]:
            return {str(t): [int(c[0]), int(c[1])] for t, c in raw.items()}

        return cls({str(k): table(v) for k, v in data["posts"].items()}, table(data["global"]))


def _vocab_of(context: PostContext) -> _Vocabulary:
    return _vocabulary(
        context.title, context.body_text, tuple(context.references), tuple(context.approved_comments)
    )


# ------------------------------------------------------------------------------ scoring


@dataclass(frozen=True)
class Relevance:
    """A suggested verdict and why: ``drivers`` are (word, signed weight), strongest first."""

    score: float
    on_topic: bool
    drivers: list[tuple[str, float]]


def score(
    comment: str, context: PostContext, feedback: Feedback | None = None, threshold: float = THRESHOLD
) -> Relevance:
    """Score ``comment`` against ``context``; below ``threshold`` it is suggested as off-topic."""
    vocab = _vocab_of(context)
    key = context.ident
    support = against = 0.0
    contributions: list[tuple[str, float]] = []
    engaged = salient_misses = 0
    ordinary: list[tuple[str, float]] = []
    for t in terms(comment):
        if t.engagement:
            engaged += 1
            continue
        weak = t.stem in WEAK_TERMS
        topical = bool(t.concepts & TOPICAL_CONCEPTS)
        weight = WEAK if weak else (TOPICAL if topical else 1.0)
        match, label = _match(t, vocab, key, feedback)
        spam = 0.0 if t.stem in vocab.stems else SPAM_TERMS.get(t.stem, 0.0)
        learned_off = 0.0
        if feedback is not None and match < 1.0 and not weak:
            net = feedback.post_weight(key, t.stem)
            learned_off = min(1.5, -0.5 * net) if net < 0 else 0.0
            learned_off += feedback.global_off_topic(t.stem)
            if match == 0.0 and feedback.is_generic(t.stem):
                engaged += 1
                continue
        # A topic the post lacks (another organ, disease or intervention) points at another post.
        # Everyday words the post lacks are buffered: together they count by a square root (below).
        miss = (1.0 - match) * weight
        plus = match * weight
        if topical and not weak and match == 0.0:
            minus = 2 * AGAINST * miss + spam + learned_off
        elif spam or learned_off:
            minus = AGAINST * miss + spam + learned_off
        else:
            minus = 0.0
            if miss > 0:
                ordinary.append((t.word, miss))
        support += plus
        against += minus
        salient_misses += not weak and match == 0.0
        if plus > 0:
            contributions.append((label, round(plus, 3)))
        if minus > 0:
            suffix = " (promotional)" if spam else " (marked off-topic before)" if learned_off else ""
            contributions.append((t.word + suffix, -round(minus, 3)))
    # Readers use plenty of ordinary words a post never needed ("window", "layer", "kitchen"); a
    # handful of them should not outweigh one clear reference to the post, yet many still add up.
    total = sum(m for _, m in ordinary)
    if total:
        penalty = AGAINST * math.sqrt(total)
        against += penalty
        contributions.extend((word, -round(penalty * m / total, 3)) for word, m in ordinary)
    for url in _words(comment)[1]:
        host = url_host(url)
        if host in vocab.hosts:
            support += 0.5
            contributions.append((f"link to {host} (cited by the post)", 0.5))
        else:
            against += 0.8
            contributions.append((f"link to {host or 'a malformed address'}", -0.8))
    if _MONEY.search(comment):
        against += 1.0
        contributions.append(("money amount", -1.0))
    if engaged:
        # Engagement speaks for the comment only as far as it is what the comment is made of:
        # "Great article!" is all engagement, "good plumber in the north end?" hardly any.
        bonus = ENGAGEMENT * engaged / (engaged + salient_misses)
        support += bonus
        contributions.append(("generic engagement", round(bonus, 3)))
    value = support / (support + against + PRIOR)
    on_topic = value >= threshold
    wanted = [c for c in contributions if (c[1] > 0) == on_topic]
    wanted.sort(key=lambda c: (-abs(c[1]), c[0]))
    return Relevance(round(value, 4), on_topic, wanted[:MAX_DRIVERS])


def _match(t: Term, vocab: _Vocabulary, key: str, feedback: Feedback | None) -> tuple[float, str]:
    """How strongly term ``t`` belongs to the post (0..1), and a label saying through what."""
    if t.stem in vocab.stems:
        # A word the post uses once is peripheral to it; one it repeats, or has in its title, is central.
        return min(1.0, 0.6 + 0.2 * (vocab.counts[t.stem] - 1)), t.word
    shared = sorted(t.concepts & vocab.concepts.keys())
    if shared:
        return SYNONYM, f"{t.word} (\u2248 {vocab.concepts[shared[0]]})"
    if feedback is not None and feedback.post_weight(key, t.stem) > 0:
        return 0.75, f"{t.word} (approved readers' word)"
    if t.stem in vocab.approved:
        return 0.7, f"{t.word} (in approved comments)"
    near = _near_spelling(t.word, vocab)
    if near is not None:
        return round(0.8 * near[1], 3), f"{t.word} (\u2248 {near[0]})"
    if len(t.word) >= 4:
        # Half of a compound the post uses: "burn" in "sunburn", "shot" in "flushot" (from a URL).
        for post_word in vocab.stems.values():
            if (
                post_word != t.word
                and 2 * len(t.word) >= len(post_word)
                and (post_word.startswith(t.word) or post_word.endswith(t.word))
            ):
                return 0.5, f"{t.word} (in {post_word})"
    return 0.0, t.word


def promotional_signals(comment: str, context: PostContext) -> list[tuple[str, float]]:
    """The lexicon's evidence that does not depend on meaning: promotional words the post lacks, links to
    sites the post does not cite, money amounts. Each is (label, weight <= 0); the meaning scorer
    (app.spam.meaning) adds them to its own drivers."""
    vocab = _vocab_of(context)
    found: list[tuple[str, float]] = []
    for t in terms(comment):
        weight = 0.0 if t.stem in vocab.stems else SPAM_TERMS.get(t.stem, 0.0)
        if weight:
            found.append((f"{t.word} (promotional)", -round(weight, 3)))
    for url in _words(comment)[1]:
        host = url_host(url)
        if host not in vocab.hosts:
            found.append((f"link to {host or 'a malformed address'}", -0.8))
    if _MONEY.search(comment):
        found.append(("money amount", -1.0))
    return found
