"""Off-topic detection measured on a hand-labelled set, and the scorer's promises one by one.

The positive class is *off-topic*: precision says how many comments the scorer would flag for deletion
really are off-topic, recall how many off-topic comments it catches. Figures are reported per split of
tests/data/comments_labelled.json: "tune" posts chose the weights; "held_out" posts were scored blind
once, then looked at while fixing structural faults; "fresh" posts were written after all tuning and
never used to change anything, so they are the honest estimate. The floors sit just below what the
scorer achieves, so a change that makes it worse fails here.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.spam.relevance import THRESHOLD, Feedback, PostContext, Relevance, score, stem, terms

DATA = Path(__file__).parent / "data" / "comments_labelled.json"
OUTPUT = Path(__file__).parent.parent / "test-output" / "relevance.txt"

# (precision, recall) floors for off-topic detection.
FLOORS = {
    "all": (0.85, 0.85),
    "tune": (0.95, 0.95),
    "held_out": (0.80, 0.85),
    "fresh": (0.75, 0.75),
}


def _posts() -> list[dict]:
    return json.loads(DATA.read_text(encoding="utf-8"))["posts"]


def _context(post: dict) -> PostContext:
    return PostContext(post["title"], post["body"], post["references"], [], key=str(post["id"]))


def _post(post_id: int) -> PostContext:
    return _context(next(p for p in _posts() if p["id"] == post_id))


def _measure(posts: list[dict]) -> tuple[float, float, int, int]:
    tp = fp = fn = 0
    for post in posts:
        context = _context(post)
        for comment in post["comments"]:
            flagged = not score(comment["text"], context).on_topic
            off_topic = not comment["on_topic"]
            tp += flagged and off_topic
            fp += flagged and not off_topic
            fn += off_topic and not flagged
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    return precision, recall, sum(len(p["comments"]) for p in posts), tp + fn


def test_labelled_set_is_large_and_balanced_enough() -> None:
    posts = _posts()
    assert len(posts) >= 5
    for post in posts:
        words = len(post["body"].split())
        assert 150 <= words <= 400, (post["id"], words)
        share_on = sum(c["on_topic"] for c in post["comments"]) / len(post["comments"])
        assert len(post["comments"]) >= 20 and 0.5 <= share_on <= 0.7
    assert {p["split"] for p in posts} == {"tune", "held_out", "fresh"}


def test_off_topic_precision_and_recall_meet_their_floors() -> None:
    posts = _posts()
    splits = {"all": posts} | {
        name: [p for p in posts if p["split"] == name] for name in ("tune", "held_out", "fresh")
    }
    lines = [f"off-topic detection (positive class = off-topic), threshold {THRESHOLD}"]
    results = {}
    for name, subset in splits.items():
        precision, recall, n, positives = _measure(subset)
        results[name] = (precision, recall)
        ids = ",".join(str(p["id"]) for p in subset)
        lines.append(
            f"{name:9} posts {ids:16} comments {n:3} off-topic {positives:3}  "
            f"precision {precision:.3f}  recall {recall:.3f}"
        )
    report = "\n".join(lines)
    print("\n" + report)
    OUTPUT.parent.mkdir(exist_ok=True)
    OUTPUT.write_text(report + "\n", encoding="utf-8")
    for name, (precision, recall) in results.items():
        floor_p, floor_r = FLOORS[name]
        assert precision >= floor_p, f"{name} precision {precision:.3f} < {floor_p}"
        assert recall >= floor_r, f"{name} recall {recall:.3f} < {floor_r}"


@pytest.mark.parametrize(
    "comment",
    [
        "Great article!",
        "Thanks, this helped",
        "Very informative, thank you",
        "Where can I read more?",
        "So useful, bookmarking this.",
        "Really needed this today.",
    ],
)
@pytest.mark.parametrize("post_id", [1, 3, 5])
def test_short_generic_engagement_is_on_topic_on_any_post(comment: str, post_id: int) -> None:
    assert score(comment, _post(post_id)).on_topic


def test_generic_praise_does_not_carry_spam_through() -> None:
    comment = "Great post! Check out my site for the best online casino bonuses: www.lucky-casino.biz"
    result = score(comment, _post(1))
    assert not result.on_topic


@pytest.mark.parametrize(
    ("post_id", "comment"),
    [
        (1, "Does the jab hurt much?"),  # jab ~ shot/vaccine, hurt ~ sore
        (1, "I got immunised at the chemist yesterday."),
        (3, "Are renal calculi hereditary?"),  # renal ~ kidney, calculi ~ stone
        (2, "My cardiologist told me to cut down on salty snacks."),
        (2, "Is 135/85 too high?"),  # a reading is blood-pressure talk
        (1, "Is the vacine safe for kids?"),  # misspelt
    ],
)
def test_paraphrases_without_the_posts_words_are_on_topic(post_id: int, comment: str) -> None:
    result = score(comment, _post(post_id))
    assert result.on_topic, result


@pytest.mark.parametrize(
    ("post_id", "comment"),
    [
        (1, "What's the best pizza in town?"),
        (1, "How much water should I drink to avoid kidney stones?"),  # another post's topic
        (3, "Earn $500 a day from home with crypto, DM me on WhatsApp"),
        (2, "Vote them all out in November!"),
    ],
)
def test_off_topic_comments_are_flagged(post_id: int, comment: str) -> None:
    assert not score(comment, _post(post_id)).on_topic


def test_drivers_show_matched_post_words_for_on_topic_comments() -> None:
    result = score("Can I get the flu shot while pregnant?", _post(1))
    assert result.on_topic
    words = [label.split(" ")[0] for label, _ in result.drivers]
    assert {"flu", "shot", "pregnant"} <= set(words)
    assert all(weight > 0 for _, weight in result.drivers)
    assert result.drivers == sorted(result.drivers, key=lambda d: (-abs(d[1]), d[0]))


def test_drivers_show_missing_and_promotional_words_for_off_topic_comments() -> None:
    result = score("Cheap casino bonus at www.spin-palace.biz, and best pizza too", _post(1))
    assert not result.on_topic
    labels = [label for label, _ in result.drivers]
    assert "casino (promotional)" in labels
    assert "link to spin-palace.biz" in labels
    assert any(label.startswith("pizza") for label in labels)
    assert all(weight < 0 for _, weight in result.drivers)


def test_synonym_drivers_name_the_post_word_they_matched() -> None:
    result = score("Does the jab hurt?", _post(1))
    assert any(label.startswith("jab (\u2248 ") for label, _ in result.drivers)


def test_score_is_bounded_and_agrees_with_threshold() -> None:
    context = _post(2)
    for text in ["", "   ", "Thanks!", "casino " * 50, "blood pressure " * 50, "x" * 5000]:
        result = score(text, context)
        assert 0.0 <= result.score <= 1.0
        assert result.on_topic == (result.score >= THRESHOLD)


def test_scoring_is_deterministic() -> None:
    context = _post(3)
    comment = "My urologist told me to drink lemonade every day, now I understand why."
    results = {repr(score(comment, context)) for _ in range(5)}
    assert len(results) == 1


def test_approved_comments_extend_the_posts_vocabulary() -> None:
    post = next(p for p in _posts() if p["id"] == 1)
    comment = "Do they use a thin needle? I faint at the sight of needles."
    bare = score(comment, _context(post))
    context = PostContext(
        post["title"], post["body"], post["references"], ["The needle was tiny and the nurse was quick."]
    )
    assert score(comment, context).score > bare.score


def test_feedback_approvals_turn_a_borderline_comment_on_topic() -> None:
    context = _post(1)
    comment = "Do they use a thin needle? I faint at the sight of needles."
    assert not score(comment, context).on_topic
    feedback = Feedback()
    feedback.learn("Needles terrify me but the nurse was quick.", True, context)
    feedback.learn("The needle was tiny, I barely felt it.", True, context)
    result = score(comment, context, feedback)
    assert result.on_topic
    assert any("approved" in label for label, _ in result.drivers)


def test_feedback_off_topic_marks_turn_a_borderline_comment_off_topic() -> None:
    context = _post(1)
    comment = "Is elderberry syrup better than the vaccine?"
    assert score(comment, context).on_topic
    feedback = Feedback()
    for marked in [
        "Elderberry syrup works better than any vaccine, try it.",
        "Skip the shot, elderberry syrup and zinc are all you need.",
    ]:
        feedback.learn(marked, False, context)
    result = score(comment, context, feedback)
    assert not result.on_topic
    assert any("marked off-topic before" in label for label, _ in result.drivers)


def test_feedback_is_per_post_except_for_vocabulary_marked_off_topic_everywhere() -> None:
    flu, kidney = _post(1), _post(3)
    feedback = Feedback()
    feedback.learn("The needle was tiny, I barely felt it.", True, flu)
    assert feedback.post_weight(flu.ident, stem("needle")) == 1
    assert feedback.post_weight(kidney.ident, stem("needle")) == 0
    feedback.learn("Join my forex signals group today", False, flu)
    assert feedback.global_off_topic(stem("forex")) > 0
    # The post's own words are never learned: the post defines its topic.
    feedback.learn("The flu vaccine is a scam", False, flu)
    assert stem("vaccine") not in feedback.posts[flu.ident]


def test_feedback_round_trips_through_json() -> None:
    context = _post(2)
    feedback = Feedback()
    feedback.learn("My wrist cuff reads higher than the arm one.", True, context)
    feedback.learn("Cheap cuffs on my store, 50% off", False, context)
    data = json.loads(json.dumps(feedback.to_dict()))
    restored = Feedback.from_dict(data)
    assert restored == feedback
    assert json.dumps(restored.to_dict()) == json.dumps(feedback.to_dict())
    comment = "Are wrist cuffs accurate?"
    assert score(comment, context, restored) == score(comment, context, feedback)


def test_feedback_refuses_an_unknown_format() -> None:
    with pytest.raises(ValueError, match="version"):
        Feedback.from_dict({"version": 99, "posts": {}, "global": {}})


def test_terms_drop_stopwords_and_read_urls() -> None:
    found = {t.stem for t in terms("The https://www.cdc.gov/flu/prevent page, and my 120/80 reading")}
    assert {"cdc", "flu", "prevent", "bp"} <= found
    assert "the" not in found and "and" not in found


def test_stemmer_conflates_word_forms() -> None:
    assert len({stem(w) for w in ["vaccinated", "vaccination", "vaccines", "vaccine"]}) == 1
    assert stem("hypertension") == stem("hypertensive")
    assert stem("y" * 5000) == "y" * 5000  # no recursion on long blobs


def test_relevance_is_a_plain_value() -> None:
    result = score("Thanks!", _post(1))
    assert isinstance(result, Relevance)
    assert isinstance(result.drivers, list)


@settings(max_examples=200, deadline=None)
@given(
    st.text(max_size=300)
    | st.lists(
        st.sampled_from(
            [
                "https://",
                "http://[",
                "www.",
                ".com",
                "120/80",
                "$5",
                "casino",
                "flu",
                "jab",
                " ",
                "'",
                "\u2019s",
                "y",
                "yyyy",
                "-",
                ".",
                "/",
                "[",
                "]",
                "%zz",
                "\u0430",
                "\U0001d400",
            ]
        ),
        max_size=40,
    ).map("".join)
)
def test_any_text_scores_without_error(text: str) -> None:
    result = score(text, _post(2))
    assert 0.0 <= result.score <= 1.0
    feedback = Feedback()
    feedback.learn(text, False, _post(2))
    assert Feedback.from_dict(json.loads(json.dumps(feedback.to_dict()))) == feedback
